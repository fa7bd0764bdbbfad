//! SQL stage: turns a plan into Diesel query fragments, per dialect.

mod aggregate;
mod cast;
mod compiler;
mod crossjoin;
mod cut;
mod expand;
mod expr;
mod fragment;
mod functions;
mod navigation;
mod objects;
mod order;
mod search;
mod these;
mod trigram;
pub mod trigram_stats;

pub use compiler::{Compiler, Output};
pub use expand::{ExpandPage, PAGE_MARKER};
pub use expr::escape_like;
pub use fragment::{Bind, Sql};
