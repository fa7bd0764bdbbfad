use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindErrorKind {
    /// Unknown names, wrong types, invalid values: 400.
    Invalid,
    /// An entity set or key that does not exist: 404.
    NotFound,
    /// Valid OData we do not serve: 501.
    NotImplemented,
    /// A value OData's operations refuse, such as a zero divisor: 400 `ValueOutOfRange`,
    /// as when the database finds one in the data.
    OutOfRange,
}

/// A name or type the model rejects, with where it was written.
#[derive(Debug, Clone, thiserror::Error)]
pub struct BindError {
    pub kind: BindErrorKind,
    /// `path` or the query option, e.g. `$filter`.
    pub option: String,
    pub pos: Option<usize>,
    pub message: String,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(f, "`{}` at position {}: {}", self.option, p, self.message),
            None => write!(f, "`{}`: {}", self.option, self.message),
        }
    }
}

impl BindError {
    pub fn invalid(option: &str, pos: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            kind: BindErrorKind::Invalid,
            option: option.into(),
            pos,
            message: message.into(),
        }
    }

    pub fn not_found(option: &str, pos: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            kind: BindErrorKind::NotFound,
            option: option.into(),
            pos,
            message: message.into(),
        }
    }

    pub fn out_of_range(option: &str, pos: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            kind: BindErrorKind::OutOfRange,
            option: option.into(),
            pos,
            message: message.into(),
        }
    }

    pub fn unsupported(option: &str, pos: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            kind: BindErrorKind::NotImplemented,
            option: option.into(),
            pos,
            message: message.into(),
        }
    }
}
