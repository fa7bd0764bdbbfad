//! `POST .../$query` (OData 4.01 URL Conventions, "Passing Query Options in the Request
//! Body"): the query options in a `text/plain` body, percent-encoded as in a URL,
//! for clients whose proxies cut long URLs. The request is answered as the GET of the
//! path without `/$query`, with the URL's options and the body's together.

use super::error::ApiError;
use super::request::{trim_encoded_whitespace, Incoming, MAX_URI};
use actix_web::http::Method;
use actix_web::web;
use odata_parser::{PathSegment, ResourcePath};

/// For `POST path/$query`: `path`, and the URL's and the body's options as one query
/// string, which the request is then served as (a GET). `None` for any other request.
pub async fn as_get(
    req: &Incoming<'_>,
    payload: &mut Option<web::Payload>,
) -> Option<Result<(String, String), ApiError>> {
    if req.method != Method::POST {
        return None;
    }
    let path = trim_encoded_whitespace(req.path);
    let url = odata_parser::parse(path, None).ok()?;
    let ResourcePath::Segments(segments) = &url.path else {
        return None;
    };
    if segments.last() != Some(&PathSegment::Query) {
        return None;
    }
    let body = payload.take()?;
    // The parser found `$query` as the last segment.
    let before = path.rsplit_once('/').map_or(path, |(before, _)| before);
    Some(
        options(req.header("content-type"), req.query, body)
            .await
            .map(|options| (before.to_owned(), options)),
    )
}

/// The options of the URL (`query`) and of the body, as one query string.
async fn options(
    content_type: Option<&str>,
    query: Option<&str>,
    mut payload: web::Payload,
) -> Result<String, ApiError> {
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    if !media.eq_ignore_ascii_case("text/plain") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "the query options of `$query` are sent as text/plain, not `{media}`"
        )));
    }
    let limit = MAX_URI.saturating_sub(query.map_or(0, str::len));
    let mut body = Vec::new();
    while let Some(chunk) = super::request::next_chunk(&mut payload).await? {
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "the query options of the URL and the body pass {MAX_URI} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body)
        .map_err(|_| ApiError::BadRequest("the query options are not UTF-8 text".into()))?;
    // Line breaks and spaces around the options are the body's, not the query's.
    let text = text.trim().trim_start_matches('?');
    Ok(match query.filter(|q| !q.is_empty()) {
        Some(q) if !text.is_empty() => format!("{q}&{text}"),
        Some(q) => q.to_owned(),
        None => text.to_owned(),
    })
}
