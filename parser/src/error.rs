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

/// Internal nom error: where parsing stopped (the remaining input, so offsets come from
/// length differences) and a message. Messages are `Cow` so backtracking stays allocation-free.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PErr<'a> {
    pub at: &'a str,
    pub kind: ErrorKind,
    pub msg: std::borrow::Cow<'static, str>,
}

impl<'a> nom::error::ParseError<&'a str> for PErr<'a> {
    fn from_error_kind(input: &'a str, _: nom::error::ErrorKind) -> Self {
        PErr {
            at: input,
            kind: ErrorKind::Syntax,
            msg: std::borrow::Cow::Borrowed("unexpected input"),
        }
    }
    fn append(_: &'a str, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
    fn or(self, other: Self) -> Self {
        // Keep whichever alternative got further: it is the more specific complaint.
        if other.at.len() <= self.at.len() {
            other
        } else {
            self
        }
    }
}

pub(crate) type Res<'a, T> = nom::IResult<&'a str, T, PErr<'a>>;

/// A recoverable failure (alternatives may still match).
pub(crate) fn backtrack<'a, T>(at: &'a str, msg: &'static str) -> Res<'a, T> {
    Err(nom::Err::Error(PErr {
        at,
        kind: ErrorKind::Syntax,
        msg: std::borrow::Cow::Borrowed(msg),
    }))
}

/// A committed failure with a message for the user.
pub(crate) fn fail<'a, T>(
    at: &'a str,
    msg: impl Into<std::borrow::Cow<'static, str>>,
) -> Res<'a, T> {
    Err(nom::Err::Failure(PErr {
        at,
        kind: ErrorKind::Syntax,
        msg: msg.into(),
    }))
}

pub(crate) fn too_deep<'a, T>(at: &'a str, what: &'static str) -> Res<'a, T> {
    Err(nom::Err::Failure(PErr {
        at,
        kind: ErrorKind::TooDeep,
        msg: std::borrow::Cow::Borrowed(what),
    }))
}

/// Describes the token at `at` for messages: "`eq`", "`)`" or "end of input".
pub(crate) fn found(at: &str) -> String {
    let t = at.trim_start_matches([' ', '\t', '\r', '\n']);
    let mut end = 0;
    for (i, c) in t.char_indices() {
        if c.is_alphanumeric() || c == '_' || c == '.' || c == '$' {
            end = i + c.len_utf8();
            if end > 40 {
                break;
            }
        } else {
            if i == 0 {
                end = c.len_utf8();
            }
            break;
        }
    }
    match t.get(..end) {
        Some("") | None => "end of input".to_string(),
        Some(tok) => format!("`{tok}`"),
    }
}

/// Turns any remaining recoverable error into a committed one with a message.
pub(crate) fn commit<'a, T>(r: Res<'a, T>, msg: impl FnOnce(&'a str) -> String) -> Res<'a, T> {
    match r {
        Err(nom::Err::Error(e)) => {
            let m = msg(e.at);
            Err(nom::Err::Failure(PErr {
                at: e.at,
                kind: e.kind,
                msg: m.into(),
            }))
        }
        other => other,
    }
}
