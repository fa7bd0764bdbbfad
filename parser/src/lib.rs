//! OData v4.01 URL parser. No model, database or HTTP knowledge: a request target in,
//! a syntax tree (`ast`) or a positioned `ParseError` out.

pub mod ast;
mod error;

pub use ast::*;
pub use error::{ErrorKind, ParseError};

/// Parses the resource path (the part after the service root, with or without a leading
/// `/`, percent-encoded) and the raw query string (without `?`).
pub fn parse(path: &str, query: Option<&str>) -> Result<ODataUrl, ParseError> {
    let _ = (path, query);
    Err(ParseError {
        kind: ErrorKind::NotImplemented,
        option: "path".into(),
        offset: 0,
        message: "parser not built yet".into(),
    })
}

/// Parses a request target such as `Contacts(1)/Leads?$top=5`.
pub fn parse_target(target: &str) -> Result<ODataUrl, ParseError> {
    match target.split_once('?') {
        Some((p, q)) => parse(p, Some(q)),
        None => parse(target, None),
    }
}
