//! Serialize stage: JSON, Atom and CSDL documents.

pub mod atom;
pub mod csdl;
pub mod json;
pub mod row;
