use thiserror::Error;

/// What went wrong, so the server can pick the status code (400 vs 501).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed input: 400.
    Syntax,
    /// Valid OData we do not support yet (e.g. `$apply`): 501.
    NotImplemented,
    /// Nesting deeper than the parser allows: 400.
    TooDeep,
}

/// A parse failure with the byte offset into the original (percent-encoded) query string
/// (or the path, when `option` is `"path"`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{option}` at position {offset}: {message}")]
pub struct ParseError {
    pub kind: ErrorKind,
    /// `"path"`, or the query option as written, e.g. `"$filter"`.
    pub option: String,
    pub offset: usize,
    /// E.g. "expected a value after `eq`".
    pub message: String,
}
