//! Serialize stage: JSON, Atom and CSDL documents.

pub mod csdl;
pub mod json;
