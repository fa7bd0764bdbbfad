//! SQL stage: turns a plan into Diesel query fragments, per dialect.

mod fragment;

pub use fragment::{Bind, Sql};
