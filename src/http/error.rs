//! Every stage's error mapped to an HTTP status and an OData error body, in one place.

use super::batch::BatchError;
use super::request::BodyError;
use super::request_head::HeadError;
use crate::bind::{BindError, BindErrorKind};
use crate::db::DbError;
use crate::plan::SkipTokenError;
use crate::ratelimit::Decision;
use crate::throttle::{now_ms, Throttle};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use odata_parser::{ErrorKind, ParseError};
use serde_json::json;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    SkipToken(#[from] SkipTokenError),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("rate limit exceeded: retry in {} seconds", (.0).retry_after_secs())]
    RateLimited(Decision),
    #[error("the rate limiter is unavailable; retry in {} seconds", .0.as_secs().max(1))]
    LimiterUnavailable(Duration),
    /// `target`: where the missing thing was named (`path`, `$id`).
    #[error("{message}")]
    NotFound {
        message: String,
        target: &'static str,
    },
    /// `target`: what asked for the format (`Accept`, `$format`).
    #[error("{message}")]
    NotAcceptable {
        message: String,
        target: &'static str,
    },
    #[error("{method} is not allowed on this resource")]
    MethodNotAllowed { method: String, allow: &'static str },
    /// A method this service does not implement (RFC 9110 §9.1: 501).
    #[error("{0}")]
    MethodNotImplemented(String),
    #[error("the request URL is longer than {0} bytes")]
    UriTooLong(usize),
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    BadRequest(String),
    /// A batch request not run because one it depends on failed (JSON Format 4.01 §19.1).
    #[error("{0}")]
    FailedDependency(String),
    /// A request header that cannot be honoured (a 400 naming it).
    #[error("{message}")]
    BadHeader { name: &'static str, message: String },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Head(#[from] HeadError),
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the request could not be completed")]
    Blocking,
    #[error(transparent)]
    PageMarker(#[from] crate::format::next_links::MarkerError),
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::Parse(e) if e.kind == ErrorKind::NotImplemented => "NotImplemented",
            ApiError::Parse(_) => "SyntaxError",
            ApiError::Bind(e) => match e.kind {
                BindErrorKind::Invalid => "InvalidQuery",
                BindErrorKind::NotFound => "NotFound",
                BindErrorKind::NotImplemented => "NotImplemented",
                BindErrorKind::OutOfRange => "ValueOutOfRange",
            },
            ApiError::SkipToken(_) => "InvalidSkipToken",
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::RateLimited(_) => "RateLimitExceeded",
            ApiError::LimiterUnavailable(_) => "ServiceUnavailable",
            ApiError::NotFound { .. } => "NotFound",
            ApiError::NotAcceptable { .. } => "NotAcceptable",
            ApiError::MethodNotAllowed { .. } => "MethodNotAllowed",
            ApiError::UriTooLong(_) => "UriTooLong",
            ApiError::NotImplemented(_) | ApiError::MethodNotImplemented(_) => "NotImplemented",
            ApiError::BadRequest(_) | ApiError::BadHeader { .. } => "BadRequest",
            ApiError::FailedDependency(_) => "FailedDependency",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::PayloadTooLarge(_) => "PayloadTooLarge",
            ApiError::Batch(BatchError::TooLarge(_)) => "PayloadTooLarge",
            ApiError::Batch(BatchError::MediaType(_)) => "UnsupportedMediaType",
            ApiError::Batch(_) => "BadRequest",
            ApiError::Head(HeadError::RequestLineTooLong) => "UriTooLong",
            ApiError::Head(HeadError::TooLarge | HeadError::TooManyFields) => {
                "RequestHeaderFieldsTooLarge"
            }
            ApiError::Head(HeadError::Timeout) => "RequestTimeout",
            ApiError::Head(_) => "BadRequest",
            ApiError::Body(BodyError::Stalled) => "RequestTimeout",
            ApiError::Body(BodyError::Broken(_)) => "BadRequest",
            ApiError::Db(DbError::Unavailable(_)) => "ServiceUnavailable",
            ApiError::Db(e) if is_connection_error(e) => "ServiceUnavailable",
            ApiError::Db(e) if data_exception(e).is_some() => "ValueOutOfRange",
            ApiError::Db(e) if too_large(e) => "ResponseTooLarge",
            ApiError::Db(DbError::TooExpensive | DbError::CrossJoinTooLarge) => "QueryTooExpensive",
            ApiError::Db(_) | ApiError::Blocking | ApiError::PageMarker(_) => "InternalError",
        }
    }

    fn target(&self) -> Option<String> {
        match self {
            ApiError::Parse(e) => Some(e.option.clone()),
            ApiError::Bind(e) => Some(e.option.clone()),
            ApiError::SkipToken(_) => Some("$skiptoken".into()),
            ApiError::Batch(_) | ApiError::FailedDependency(_) => Some("$batch".into()),
            ApiError::Head(HeadError::RequestLineTooLong) | ApiError::UriTooLong(_) => {
                Some("URL".into())
            }
            ApiError::Head(HeadError::TooLarge | HeadError::TooManyFields) => {
                Some("headers".into())
            }
            ApiError::Head(e) => e.field().map(str::to_owned),
            ApiError::BadHeader { name: target, .. }
            | ApiError::NotFound { target, .. }
            | ApiError::NotAcceptable { target, .. } => Some((*target).into()),
            ApiError::Unauthorized(_) => Some("Authorization".into()),
            ApiError::MethodNotAllowed { .. } | ApiError::MethodNotImplemented(_) => {
                Some("method".into())
            }
            _ => None,
        }
    }

    fn details(&self) -> serde_json::Value {
        match self {
            ApiError::Parse(e) => {
                json!([{"code": "Position", "target": e.option, "message": format!("position {}", e.offset)}])
            }
            ApiError::Bind(e) => match e.pos {
                Some(p) => {
                    json!([{"code": "Position", "target": e.option, "message": format!("position {p}")}])
                }
                None => json!([]),
            },
            _ => json!([]),
        }
    }

    /// The message shown to the client; internal failures are not described.
    fn public_message(&self) -> String {
        match self {
            ApiError::Db(e) if self.status_code() == StatusCode::SERVICE_UNAVAILABLE => {
                if let Some(suppressed) = UNAVAILABLE_LOG.due(now_ms()) {
                    tracing::warn!(error = %e, suppressed, "database unavailable");
                }
                "the database is unavailable; retry shortly".into()
            }
            ApiError::Db(DbError::TooExpensive) => format!(
                "the collections expanded inside collections grow past what one response \
                 may build ({} s, {} MiB): page the inner expands with $top, or expand \
                 fewer levels",
                crate::db::deadline::LIMIT.as_secs(),
                crate::db::deadline::BYTES >> 20
            ),
            ApiError::Db(DbError::CrossJoinTooLarge) => format!(
                "the cross join passed its time limit ({} s): join the sets in $filter \
                 (`Contacts/ContactId eq Leads/ContactId`) or narrow them",
                crate::db::deadline::LIMIT.as_secs()
            ),
            ApiError::Db(e) if too_large(e) => {
                "one entity of this response, with what it expands, \
                 is larger than the database returns in one value: page the expanded \
                 collections with $top and $skip inside $expand"
                    .into()
            }
            ApiError::Db(e) => match data_exception(e) {
                Some(m) if m.contains(crate::db::DIVISION_BY_ZERO) => format!(
                    "division by zero: a div or mod in the query has a right operand of 0 \
                     (only a Double divided by zero, or divby, gives INF, -INF or NaN): {m}"
                ),
                Some(m) => {
                    format!("a value computed by the query is out of range for the database: {m}")
                }
                None => {
                    tracing::error!(error = %e, "database error");
                    "internal error".into()
                }
            },
            other => other.to_string(),
        }
    }
}

/// An outage fails every request: its warning is logged once per [`Throttle::EVERY`],
/// with how many were left out, not once per request.
static UNAVAILABLE_LOG: Throttle = Throttle::new();

/// PostgreSQL rejects arithmetic that overflows its types (SQLSTATE class 22, "data
/// exception"), e.g. `Guttometer add 9223372036854775807`: the client's values did
/// that, so it is a 400. Diesel reports no SQLSTATE, so the message identifies it.
fn data_exception(e: &DbError) -> Option<&str> {
    let m = e.database_message()?;
    [
        "out of range",
        "overflow",
        "division by zero",
        "invalid input syntax",
        "cannot take logarithm",
        // A matchesPattern pattern that PostgreSQL's regular expressions do not accept.
        "invalid regular expression",
    ]
    .iter()
    .any(|p| m.contains(p))
    .then_some(m)
}

/// A value (an entity's JSON with its expanded collections) larger than the database
/// builds: SQLite is built with a 64 MiB limit for that (`.cargo/config.toml`),
/// PostgreSQL stops at 1 GB. The request asked for it; narrower expands get the data.
fn too_large(e: &DbError) -> bool {
    e.database_message().is_some_and(|m| {
        [
            "string or blob too big",
            "exceeds the maximum",
            "out of memory",
        ]
        .iter()
        .any(|p| m.contains(p))
    })
}

fn is_connection_error(e: &DbError) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        DbError::Unavailable(_) => true,
        DbError::Query(Error::DatabaseError(kind, info)) => {
            matches!(
                kind,
                DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection
            ) || info.message().contains("database is locked")
                || info.message().contains("terminating connection")
                || info.message().contains("lock timeout")
        }
        DbError::Query(Error::BrokenTransactionManager) => true,
        _ => false,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Parse(e) if e.kind == ErrorKind::NotImplemented => {
                StatusCode::NOT_IMPLEMENTED
            }
            ApiError::Parse(_)
            | ApiError::SkipToken(_)
            | ApiError::BadRequest(_)
            | ApiError::BadHeader { .. } => StatusCode::BAD_REQUEST,
            ApiError::Bind(e) => match e.kind {
                BindErrorKind::Invalid | BindErrorKind::OutOfRange => StatusCode::BAD_REQUEST,
                BindErrorKind::NotFound => StatusCode::NOT_FOUND,
                BindErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            },
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::LimiterUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::NotAcceptable { .. } => StatusCode::NOT_ACCEPTABLE,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::NotImplemented(_) | ApiError::MethodNotImplemented(_) => {
                StatusCode::NOT_IMPLEMENTED
            }
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::FailedDependency(_) => StatusCode::FAILED_DEPENDENCY,
            ApiError::Batch(BatchError::TooLarge(_)) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Batch(BatchError::MediaType(_)) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Batch(_) => StatusCode::BAD_REQUEST,
            ApiError::Head(HeadError::RequestLineTooLong) => StatusCode::URI_TOO_LONG,
            ApiError::Head(HeadError::TooLarge | HeadError::TooManyFields) => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            ApiError::Head(HeadError::Timeout) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Head(_) => StatusCode::BAD_REQUEST,
            ApiError::Body(BodyError::Stalled) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Body(BodyError::Broken(_)) => StatusCode::BAD_REQUEST,
            ApiError::Db(e) if is_connection_error(e) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Db(DbError::TooExpensive | DbError::CrossJoinTooLarge) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Db(e) if data_exception(e).is_some() || too_large(e) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Db(_) | ApiError::Blocking | ApiError::PageMarker(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.response(false)
    }
}

impl ApiError {
    /// The error response, with an OData JSON body or, when XML was negotiated, `<m:error>`.
    pub fn response(&self, xml: bool) -> HttpResponse {
        let status = self.status_code();
        let mut body = json!({"error": {"code": self.code(), "message": self.public_message(), "details": self.details()}});
        if let Some(t) = self.target() {
            body["error"]["target"] = t.into();
        }
        let mut resp = HttpResponse::build(status);
        let xml_body = xml.then(|| xml_error_body(&body["error"])).flatten();
        if xml_body.is_some() {
            resp.content_type(crate::format::atom::XML_CONTENT_TYPE);
        } else {
            resp.content_type("application/json;odata.metadata=minimal;charset=utf-8");
        }
        match self {
            ApiError::Unauthorized(_) => {
                resp.append_header((header::WWW_AUTHENTICATE, "Bearer realm=\"crm-odata\""));
                resp.append_header((header::WWW_AUTHENTICATE, "Basic realm=\"crm-odata\""));
            }
            ApiError::RateLimited(d) => {
                resp.insert_header((header::RETRY_AFTER, d.retry_after_secs().to_string()));
            }
            ApiError::LimiterUnavailable(d) => {
                resp.insert_header((header::RETRY_AFTER, d.as_secs().max(1).to_string()));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                resp.insert_header((header::ALLOW, *allow));
            }
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                resp.insert_header((header::RETRY_AFTER, "5"));
            }
            _ => {}
        }
        match xml_body {
            Some(x) => resp.body(x),
            None => resp.body(body.to_string()),
        }
    }
}

/// The same error object as `<m:error>`; `None` falls back to the JSON body.
fn xml_error_body(e: &serde_json::Value) -> Option<Vec<u8>> {
    use crate::format::atom::{error_document, ErrorDetail};
    let s = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let details: Vec<(String, String, Option<String>)> = e["details"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                s(d, "code").unwrap_or_default(),
                s(d, "message").unwrap_or_default(),
                s(d, "target"),
            )
        })
        .collect();
    let details: Vec<ErrorDetail> = details
        .iter()
        .map(|(code, message, target)| ErrorDetail {
            code,
            message,
            target: target.as_deref(),
        })
        .collect();
    error_document(
        &s(e, "code")?,
        &s(e, "message")?,
        s(e, "target").as_deref(),
        &details,
    )
    .ok()
}
