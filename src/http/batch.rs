//! `$batch`: several requests in one body, in OData 4.01's JSON format or 4.0's
//! multipart format. Each request runs through the same pipeline as it would alone, in
//! order, with the batch's token and workspace; the batch counts once against the rate
//! limit. The service is read-only, so a request that writes (alone or in a change set)
//! gets the same 501 it would get on its own.

use super::auth::Pending;
use super::dbcall::Lease;
use super::error::ApiError;
use super::handlers::respond;
use super::negotiate::error_is_xml;
use super::request::{Incoming, MAX_URI};
use super::AppState;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use futures_util::FutureExt;
use serde_json::{json, Map, Value};
use std::cell::RefCell;

/// Largest batch body read; a batch of reads is small.
pub const MAX_BODY: usize = 1 << 20;
/// Most requests one batch may hold.
pub const MAX_REQUESTS: usize = 100;

/// Why a batch could not be read as a whole (one of its requests failing is not this:
/// that request gets its own error response inside the batch).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("the batch body is larger than {0} bytes")]
    TooLarge(usize),
    #[error(
        "a batch is sent as application/json or as multipart/mixed with a boundary, not `{0}`"
    )]
    MediaType(String),
    #[error("a batch may hold at most {0} requests")]
    TooMany(usize),
    #[error("malformed batch: {0}")]
    Malformed(String),
}

enum Format {
    Json,
    Multipart(String),
}

impl Format {
    fn of(content_type: &str) -> Result<Format, BatchError> {
        let bad = || BatchError::MediaType(content_type.to_owned());
        let mime: mime::Mime = content_type.parse().map_err(|_| bad())?;
        match (mime.type_(), mime.subtype()) {
            (mime::APPLICATION, mime::JSON) => Ok(Format::Json),
            (mime::MULTIPART, sub) if sub == "mixed" => mime
                .get_param(mime::BOUNDARY)
                .map(|b| Format::Multipart(b.as_str().to_owned()))
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

/// One request of the batch.
#[derive(Default)]
struct Item {
    /// The JSON format's `id`, or a multipart part's `Content-ID`.
    id: Option<String>,
    method: Method,
    url: String,
    headers: HeaderMap,
    /// A multipart change set: writes only, answered as a whole.
    changeset: bool,
    /// JSON format: the requests and atomicity groups this one runs after, only if
    /// they succeeded.
    depends_on: Vec<String>,
    /// JSON format: its atomicity group, which fails as a whole.
    group: Option<String>,
    /// JSON format: whether it carries an `if` condition, which this service does
    /// not evaluate.
    conditional: bool,
}

/// One response of the batch.
struct Answer {
    id: Option<String>,
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: Bytes,
}

/// Answers a `POST $batch`.
pub async fn run(
    req: &Incoming<'_>,
    payload: web::Payload,
    state: &web::Data<AppState>,
    ws: i64,
    lease: &RefCell<Option<Lease>>,
    pending: Option<&Pending>,
) -> Result<HttpResponse, ApiError> {
    let format = Format::of(req.header("content-type").unwrap_or(""))?;
    let body = read_body(payload).await?;
    let items = match &format {
        Format::Json => json_items(&body)?,
        Format::Multipart(boundary) => multipart_items(&body, boundary)?,
    };
    if items.len() > MAX_REQUESTS {
        return Err(BatchError::TooMany(MAX_REQUESTS).into());
    }
    // 4.01 allows `continue-on-error=true|false`; the bare name means true.
    let continue_on_error = req
        .preference("continue-on-error")
        .filter(|(_, value)| !value.is_some_and(|v| v.eq_ignore_ascii_case("false")));
    let mut answers = Vec::with_capacity(items.len());
    // Requests and atomicity groups that did not succeed, for those depending on them.
    let mut failed = std::collections::HashSet::new();
    for item in &items {
        let a = match unmet_dependency(item, &failed) {
            Some(e) => answer_of(item, e.response(false)).await,
            None => answer(item, &req.root, state, ws, lease, pending).await,
        };
        // A 304 (`If-None-Match` on `$metadata`) is no failure.
        let error = a.status.is_client_error() || a.status.is_server_error();
        if error {
            failed.extend(item.id.iter().chain(&item.group).cloned());
        }
        answers.push(a);
        // A multipart batch stops at its first error unless asked to go on (Protocol
        // 4.01 §11.7.7.3); a JSON batch runs every request its dependencies allow.
        if error && continue_on_error.is_none() && matches!(format, Format::Multipart(_)) {
            break;
        }
    }
    let mut resp = match format {
        Format::Json => json_response(answers),
        Format::Multipart(_) => multipart_response(answers),
    };
    if let Some((name, _)) = continue_on_error {
        if let Ok(v) = HeaderValue::from_str(name) {
            resp.headers_mut()
                .insert(HeaderName::from_static("preference-applied"), v);
        }
    }
    Ok(resp)
}

/// Why `item` is not run: a request or atomicity group it depends on failed, or it has
/// an `if` condition, which this service does not evaluate (both 424, JSON Format 4.01
/// §19.1).
fn unmet_dependency(item: &Item, failed: &std::collections::HashSet<String>) -> Option<ApiError> {
    if item.conditional {
        return Some(ApiError::FailedDependency(
            "`if` conditions on batch requests are not supported".into(),
        ));
    }
    let d = item.depends_on.iter().find(|d| failed.contains(*d))?;
    Some(ApiError::FailedDependency(format!(
        "not run: `{d}`, which this request depends on, did not succeed"
    )))
}

async fn read_body(mut payload: web::Payload) -> Result<Bytes, ApiError> {
    let mut body = bytes::BytesMut::new();
    use super::request::{next_chunk, BodyError};
    while let Some(chunk) = next_chunk(&mut payload).await.map_err(|e| match e {
        BodyError::Broken(_) => ApiError::from(BatchError::Malformed(e.to_string())),
        BodyError::Stalled => e.into(),
    })? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(BatchError::TooLarge(MAX_BODY).into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Runs one request through the pipeline (a nested `$batch` is refused there).
async fn answer(
    item: &Item,
    root: &str,
    state: &web::Data<AppState>,
    ws: i64,
    lease: &RefCell<Option<Lease>>,
    pending: Option<&Pending>,
) -> Answer {
    let resp = if item.changeset && matches!(item.method, Method::GET | Method::HEAD) {
        // Reads belong outside change sets (OData 4.01 Part 1, 11.7.3).
        ApiError::BadRequest("a change set holds writes only; send a GET outside it".into())
            .response(false)
    } else if item.changeset {
        ApiError::NotImplemented("a change set holds writes, and this service is read-only".into())
            .response(false)
    } else {
        let (path, query) = split_url(&item.url);
        let inc = Incoming {
            method: item.method.clone(),
            path: &path,
            query,
            headers: &item.headers,
            root: root.to_owned(),
        };
        let xml = error_is_xml(query, inc.header("accept"));
        if inc.too_long() {
            ApiError::UriTooLong(MAX_URI).response(xml)
        } else {
            // Boxed: `respond` may lead here again, and a recursive future needs a fixed size.
            match respond(&inc, state, ws, lease, pending, None)
                .boxed_local()
                .await
            {
                Ok(r) => r,
                Err(e) => e.response(xml),
            }
        }
    };
    answer_of(item, resp).await
}

/// `resp`, the response to `item`, as a part of the batch's response.
async fn answer_of(item: &Item, resp: HttpResponse) -> Answer {
    let status = resp.status();
    let headers = resp
        .headers()
        .iter()
        .filter(|(name, _)| *name != CONTENT_LENGTH)
        .filter_map(|(name, v)| Some((name.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let body = if item.method == Method::HEAD {
        Bytes::new()
    } else {
        actix_web::body::to_bytes(resp.into_body())
            .await
            .unwrap_or_default()
    };
    Answer {
        id: item.id.clone(),
        status,
        headers,
        body,
    }
}

/// A request URL in a batch as path and query: relative to the service root
/// (`Contacts(1)`), an absolute path (`/Contacts(1)`) or an absolute URL.
fn split_url(url: &str) -> (String, Option<&str>) {
    let (target, query) = match url.split_once('?') {
        Some((t, q)) => (t, Some(q)),
        None => (url, None),
    };
    let target = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => target,
    };
    let path = if target.starts_with('/') {
        target.to_owned()
    } else {
        format!("/{target}")
    };
    (path, query)
}

fn headers_of<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<HeaderMap, BatchError> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let bad = || BatchError::Malformed(format!("invalid header `{name}`"));
        map.append(
            HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?,
            HeaderValue::from_str(value.trim()).map_err(|_| bad())?,
        );
    }
    Ok(map)
}

fn method_of(m: &str) -> Result<Method, BatchError> {
    Method::from_bytes(m.to_ascii_uppercase().as_bytes())
        .map_err(|_| BatchError::Malformed(format!("invalid method `{m}`")))
}

/// `{"requests": [{"id", "method", "url", "headers"?, "body"?, ...}]}`.
fn json_items(body: &[u8]) -> Result<Vec<Item>, BatchError> {
    #[derive(serde::Deserialize)]
    struct Request {
        id: String,
        method: String,
        url: String,
        #[serde(default)]
        headers: Map<String, Value>,
        #[serde(default, rename = "dependsOn")]
        depends_on: Vec<String>,
        #[serde(default, rename = "atomicityGroup")]
        atomicity_group: Option<String>,
        #[serde(default, rename = "if")]
        condition: Option<Value>,
    }
    #[derive(serde::Deserialize)]
    struct Batch {
        requests: Vec<Request>,
    }
    let batch: Batch = serde_json::from_slice(body)
        .map_err(|e| BatchError::Malformed(format!("JSON batch body: {e}")))?;
    let mut ids = std::collections::HashSet::new();
    let mut groups = std::collections::HashSet::new();
    batch
        .requests
        .into_iter()
        .map(|r| {
            // A request may depend only on requests (or atomicity groups) before it
            // (JSON Format 4.01, 19.1): anything else is an order no one can follow.
            if let Some(d) = r
                .depends_on
                .iter()
                .find(|d| !ids.contains(*d) && !groups.contains(*d))
            {
                return Err(BatchError::Malformed(format!(
                    "request `{}` depends on `{d}`, which is no request or atomicity group before it",
                    r.id
                )));
            }
            if !ids.insert(r.id.clone()) {
                return Err(BatchError::Malformed(format!(
                    "request id `{}` is used twice",
                    r.id
                )));
            }
            if let Some(g) = &r.atomicity_group {
                groups.insert(g.clone());
            }
            let headers = headers_of(
                r.headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or(""))),
            )?;
            Ok(Item {
                id: Some(r.id),
                method: method_of(&r.method)?,
                url: r.url,
                headers,
                changeset: false,
                depends_on: r.depends_on,
                group: r.atomicity_group,
                conditional: r.condition.is_some(),
            })
        })
        .collect()
}

/// The parts between `--boundary` delimiter lines (RFC 2046), preamble and epilogue left out.
fn parts<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<&'a [u8]>, BatchError> {
    let delim = format!("--{boundary}");
    let d = delim.as_bytes();
    // Delimiters start a line; the line break before one belongs to it.
    let mut starts = Vec::new();
    let mut i = 0;
    while let Some(off) = find(&body[i..], d) {
        let at = i + off;
        if at == 0 || body[at - 1] == b'\n' {
            starts.push(at);
        }
        i = at + d.len();
    }
    let mut out = Vec::new();
    for (n, &at) in starts.iter().enumerate() {
        let after = &body[at + d.len()..];
        if after.starts_with(b"--") {
            return Ok(out);
        }
        let Some(eol) = find(after, b"\n") else { break };
        let content_start = at + d.len() + eol + 1;
        let Some(&next) = starts.get(n + 1) else {
            break;
        };
        let mut end = next;
        if end > content_start && body[end - 1] == b'\n' {
            end -= 1;
            if end > content_start && body[end - 1] == b'\r' {
                end -= 1;
            }
        }
        out.push(&body[content_start..end.max(content_start)]);
    }
    Err(BatchError::Malformed(format!(
        "the body does not end with `{delim}--`"
    )))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A part's (or an embedded request's) header block and what follows it.
fn split_head(part: &[u8]) -> (&[u8], &[u8]) {
    for sep in [&b"\r\n\r\n"[..], b"\n\n"] {
        if let Some(i) = find(part, sep) {
            return (&part[..i], &part[i + sep.len()..]);
        }
    }
    (part, &[])
}

/// A header block (a part's, or its request's after the request line) as headers.
fn header_block(head: &[u8]) -> Result<HeaderMap, BatchError> {
    let mut block = head.to_vec();
    block.extend_from_slice(b"\r\n\r\n");
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let headers = match httparse::parse_headers(&block, &mut slots) {
        Ok(httparse::Status::Complete((_, parsed))) => parsed,
        Ok(httparse::Status::Partial) => &[][..],
        Err(e) => return Err(BatchError::Malformed(format!("a part's headers: {e}"))),
    };
    headers_of(
        headers
            .iter()
            .map(|h| (h.name, std::str::from_utf8(h.value).unwrap_or(""))),
    )
}

fn multipart_items(body: &[u8], boundary: &str) -> Result<Vec<Item>, BatchError> {
    parts(body, boundary)?
        .into_iter()
        .map(|part| {
            let (head, content) = split_head(part);
            let headers = header_block(head)?;
            let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            let id = get("content-id").map(str::to_owned);
            let ctype = get("content-type").unwrap_or("").to_ascii_lowercase();
            if ctype.starts_with("multipart/mixed") {
                // Answered as a whole; a read inside makes it the client's error (see
                // `answer`), which its method says.
                let reads = match get("content-type").map(Format::of) {
                    Some(Ok(Format::Multipart(inner))) => parts(content, &inner)
                        .unwrap_or_default()
                        .into_iter()
                        .any(|p| {
                            let (_, request) = split_head(p);
                            matches!(embedded_request(request), Ok((m, _, _)) if m == Method::GET || m == Method::HEAD)
                        }),
                    _ => false,
                };
                return Ok(Item {
                    id,
                    method: if reads { Method::GET } else { Method::POST },
                    url: String::new(),
                    headers: HeaderMap::new(),
                    changeset: true,
                    ..Item::default()
                });
            }
            if !ctype.starts_with("application/http") {
                return Err(BatchError::Malformed(format!(
                    "a batch part is application/http or a multipart/mixed change set, not `{ctype}`"
                )));
            }
            let (method, url, headers) = embedded_request(content)?;
            Ok(Item {
                id,
                method,
                url,
                headers,
                ..Item::default()
            })
        })
        .collect()
}

/// The request in an `application/http` part: `METHOD URL HTTP/1.1`, headers, and a body
/// that a read does not need. Clients write the URL as they would in their own code,
/// so spaces in it (`$orderby=LeadId desc`) are taken as part of it.
fn embedded_request(content: &[u8]) -> Result<(Method, String, HeaderMap), BatchError> {
    let incomplete = || BatchError::Malformed("a part's request line is incomplete".into());
    let eol = find(content, b"\n").unwrap_or(content.len());
    let line = std::str::from_utf8(&content[..eol])
        .map_err(|_| BatchError::Malformed("a part's request line is not UTF-8".into()))?
        .trim();
    let (method, rest) = line.split_once(' ').ok_or_else(incomplete)?;
    let (url, version) = rest.rsplit_once(' ').ok_or_else(incomplete)?;
    if !version.starts_with("HTTP/") || url.trim().is_empty() {
        return Err(incomplete());
    }
    let url = url.trim().replace(' ', "%20");
    let head = split_head(content.get(eol + 1..).unwrap_or_default()).0;
    Ok((method_of(method)?, url, header_block(head)?))
}

fn json_response(answers: Vec<Answer>) -> HttpResponse {
    let responses: Vec<Value> = answers
        .into_iter()
        .map(|a| {
            let mut r = Map::new();
            if let Some(id) = a.id {
                r.insert("id".into(), Value::String(id));
            }
            r.insert("status".into(), json!(a.status.as_u16()));
            let is_json = a
                .headers
                .iter()
                .any(|(k, v)| k == "content-type" && v.starts_with("application/json"));
            let headers: Map<String, Value> = a
                .headers
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            r.insert("headers".into(), Value::Object(headers));
            if !a.body.is_empty() {
                let body = is_json
                    .then(|| serde_json::from_slice::<Value>(&a.body).ok())
                    .flatten()
                    .unwrap_or_else(|| {
                        Value::String(String::from_utf8_lossy(&a.body).into_owned())
                    });
                r.insert("body".into(), body);
            }
            Value::Object(r)
        })
        .collect();
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(json!({ "responses": responses }).to_string())
}

fn multipart_response(answers: Vec<Answer>) -> HttpResponse {
    let boundary = format!("batchresponse_{:032x}", rand::random::<u128>());
    let mut out = Vec::new();
    for a in answers {
        out.extend_from_slice(format!("--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n").as_bytes());
        if let Some(id) = &a.id {
            out.extend_from_slice(format!("Content-ID: {id}\r\n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "\r\nHTTP/1.1 {} {}\r\n",
                a.status.as_u16(),
                a.status.canonical_reason().unwrap_or("")
            )
            .as_bytes(),
        );
        for (k, v) in &a.headers {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", a.body.len()).as_bytes());
        out.extend_from_slice(&a.body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    HttpResponse::Ok()
        .insert_header((
            CONTENT_TYPE,
            format!("multipart/mixed; boundary={boundary}"),
        ))
        .body(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_every_form_resolve_against_the_service_root() {
        assert_eq!(split_url("Contacts(1)"), ("/Contacts(1)".into(), None));
        assert_eq!(
            split_url("/Contacts?$top=1"),
            ("/Contacts".into(), Some("$top=1"))
        );
        assert_eq!(
            split_url("https://crm.example/Leads(5)/Status?$select=Code"),
            ("/Leads(5)/Status".into(), Some("$select=Code"))
        );
        assert_eq!(split_url("http://host"), ("/".into(), None));
    }

    #[test]
    fn multipart_parts_split_at_delimiter_lines_only() -> Result<(), BatchError> {
        let body =
            b"preamble\r\n--b\r\nA: 1\r\n\r\none --b inside\r\n--b\nB: 2\n\ntwo\n--b--\r\nepilogue";
        let p = parts(body, "b")?;
        assert_eq!(
            p,
            vec![&b"A: 1\r\n\r\none --b inside"[..], &b"B: 2\n\ntwo"[..]]
        );
        assert!(
            parts(b"--b\r\nA: 1\r\n\r\nx\r\n", "b").is_err(),
            "no closing delimiter"
        );
        Ok(())
    }

    #[test]
    fn embedded_requests_keep_spaces_in_their_url() -> Result<(), BatchError> {
        let (m, url, h) = embedded_request(
            b"GET Leads?$orderby=LeadId desc&$top=2 HTTP/1.1\r\nAccept: application/json\r\n\r\n",
        )?;
        assert_eq!(
            (m, url.as_str()),
            (Method::GET, "Leads?$orderby=LeadId%20desc&$top=2")
        );
        assert_eq!(
            h.get("accept").map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
        let (_, url, h) = embedded_request(b"get /Contacts(1) HTTP/1.1\n\n")?;
        assert_eq!((url.as_str(), h.len()), ("/Contacts(1)", 0));
        assert!(
            embedded_request(b"GET Contacts(1)\r\n\r\n").is_err(),
            "no version"
        );
        assert!(embedded_request(b"").is_err());
        Ok(())
    }

    #[test]
    fn batch_media_types() {
        assert!(matches!(Format::of("application/json"), Ok(Format::Json)));
        assert!(matches!(
            Format::of("multipart/mixed; boundary=\"batch_1\""),
            Ok(Format::Multipart(b)) if b == "batch_1"
        ));
        assert!(Format::of("multipart/mixed").is_err());
        assert!(Format::of("text/plain").is_err());
        assert!(Format::of("").is_err());
    }
}
