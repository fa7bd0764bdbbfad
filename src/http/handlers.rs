//! The OData endpoint: authenticate, limit, parse, bind, plan, execute, serialize.

use super::auth::{authenticate, require_live, strip_param, Pending};
use super::batch;
use super::dbcall;
use super::dbcall::Lease;
use super::entity_id;
use super::error::ApiError;
use super::limit;
use super::negotiate::{data_format, error_is_xml, metadata_format, DataFormat, MetadataFormat};
use super::query_body;
use super::read::{self, json_response, xml_response, Ctx};
use super::request::{trim_encoded_whitespace, Incoming, MAX_URI};
use super::AppState;
use crate::bind::{self, Target};
use crate::format::atom;
use crate::format::csdl::{METADATA_JSON, METADATA_JSON_ETAG, METADATA_XML, METADATA_XML_ETAG};
use crate::format::json::service_document;
use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use odata_parser::{PathSegment, ResourcePath};
use std::cell::RefCell;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Another method on `/healthz` or `/metrics`: 405, as the OData resources answer it.
pub async fn get_or_head_only(req: HttpRequest) -> HttpResponse {
    ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        allow: "GET, HEAD",
    }
    .response(false)
}

pub async fn odata(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    // What the pipeline reads of the request, read once.
    let get;
    let mut incoming = Incoming::of(&req);
    if incoming.too_long() {
        return ApiError::UriTooLong(MAX_URI).response(false);
    }
    let xml = error_is_xml(incoming.query, incoming.header("accept"));
    // Only a `$batch` and a `$query` read the body.
    let mut payload = Some(payload);
    // `POST path/$query` is served as the GET it stands for, the whole way.
    if let Some(rewritten) = query_body::as_get(&incoming, &mut payload).await {
        get = match rewritten {
            Ok(g) => g,
            Err(e) => return e.response(xml),
        };
        incoming = Incoming {
            method: Method::GET,
            path: &get.0,
            query: Some(&get.1),
            ..incoming
        };
    }
    if let Some(resp) = serve_known_token(&req, &incoming, &state, xml).await {
        return resp;
    }
    let (principal, lease) = match authenticate(
        &req,
        &state.db,
        state.api_key_param.as_deref(),
        &state.known_tokens,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return e.response(xml),
    };
    let lease = RefCell::new(lease);
    let ws = i64::from(principal.workspace_id);
    // A read has no effects, so with room in the window its work overlaps the shared
    // limiter's round trip; the response still waits for, and obeys, the decision.
    let reads = matches!(incoming.method, Method::GET | Method::HEAD);
    let (decision, served) = if reads && state.limiter.can_overlap(ws) {
        let (d, s) = tokio::join!(
            limit::admit(&state.limiter, ws),
            serve(&incoming, &state, ws, &lease, None, payload.take())
        );
        (d, Some(s))
    } else {
        if state.limiter.is_shared() {
            // A database connection is not held while Redis decides.
            drop(lease.borrow_mut().take());
        }
        (limit::admit(&state.limiter, ws).await, None)
    };
    let decision = match decision {
        Ok(d) => d,
        Err(e) => return limit::refusal(&e, xml),
    };
    let served = match served {
        Some(s) => s,
        None => serve(&incoming, &state, ws, &lease, None, payload.take()).await,
    };
    let mut resp = match served {
        Ok(r) => r,
        Err(e) => e.response(xml),
    };
    limit::add_headers(&mut resp, &decision);
    resp
}

/// A read presenting a token this instance has accepted before is served without a
/// token lookup of its own: the read checks the token in its own statement (or, for
/// other targets, on the connection it runs on). On PostgreSQL that saves a round trip;
/// on SQLite a statement, and the transaction the lookup and the read shared (a read by
/// key: 118,000 → 106,000 instructions, +7% requests/s). `None` when the request must
/// take the usual way. The outcomes stay those of the usual way: a token that fails gets
/// 401 whatever else was wrong, and only a request whose token held is counted by the
/// limiter: asked during the read (with room in the window), its admission is taken
/// back when the token fails, and otherwise it is asked after the read.
async fn serve_known_token(
    req: &HttpRequest,
    incoming: &Incoming<'_>,
    state: &web::Data<AppState>,
    xml: bool,
) -> Option<HttpResponse> {
    let known = &state.known_tokens;
    if !matches!(incoming.method, Method::GET | Method::HEAD) {
        return None;
    }
    let (pending, ws) = Pending::of(req, state.api_key_param.as_deref(), known)?;
    let no_lease = RefCell::new(None);
    // A token that fails is forgotten; no failure before the token held is counted.
    let refuse = |e: ApiError| {
        if matches!(e, ApiError::Unauthorized(_)) {
            known.forget(&pending.hash);
        }
        Some(e.response(xml))
    };
    // With room in the window the shared limiter's round trip overlaps the read, as on
    // the usual way; an admission for a token that then fails is taken back.
    let (overlapped, served) = if state.limiter.can_overlap(ws) {
        let (d, s) = tokio::join!(
            state.limiter.check_with_receipt(ws),
            serve(incoming, state, ws, &no_lease, Some(&pending), None)
        );
        (Some(d), s)
    } else {
        (
            None,
            serve(incoming, state, ws, &no_lease, Some(&pending), None).await,
        )
    };
    let served = match served {
        Err(e @ ApiError::Unauthorized(_)) => {
            if let Some(Ok((_, _, receipt))) = overlapped {
                state.limiter.refund(ws, receipt).await;
            }
            return refuse(e);
        }
        other => other,
    };
    if !pending.is_checked() {
        // Nothing the request ran read the database ($metadata, a 400): check now.
        let hash = pending.hash.clone();
        if let Err(e) = dbcall::run(&state.db, true, move |c| require_live(c, &hash, ws)).await {
            if let Some(Ok((_, _, receipt))) = overlapped {
                state.limiter.refund(ws, receipt).await;
            }
            return refuse(e);
        }
    }
    let decision = match overlapped {
        Some(checked) => limit::decided(checked.map(|(d, _, _)| d)),
        None => limit::admit(&state.limiter, ws).await,
    };
    let decision = match decision {
        Ok(d) => d,
        Err(e) => return Some(limit::refusal(&e, xml)),
    };
    let mut resp = served.unwrap_or_else(|e| e.response(xml));
    limit::add_headers(&mut resp, &decision);
    Some(resp)
}

/// Serves the request; its leased connection goes back to the pool as soon as the reads
/// are done (an overlapped limiter decision may still be on its way).
async fn serve(
    req: &Incoming<'_>,
    state: &web::Data<AppState>,
    ws: i64,
    lease: &RefCell<Option<Lease>>,
    pending: Option<&Pending>,
    body: Option<web::Payload>,
) -> Result<HttpResponse, ApiError> {
    let served = respond(req, state, ws, lease, pending, body).await;
    drop(lease.borrow_mut().take());
    served
}

/// `body` is the request's payload, which only a `$batch` reads; `None` for the requests
/// inside a batch.
pub(super) async fn respond(
    req: &Incoming<'_>,
    state: &web::Data<AppState>,
    ws: i64,
    lease: &RefCell<Option<Lease>>,
    pending: Option<&Pending>,
    body: Option<web::Payload>,
) -> Result<HttpResponse, ApiError> {
    req.check_versions()?;
    let path = trim_encoded_whitespace(req.path);
    // Without the API-key parameter, so the token is in no URL we write nor the fingerprint.
    let stripped = req
        .query
        .map(|q| strip_param(q, state.api_key_param.as_deref()));
    let query = stripped.as_deref();
    let url = entity_id::resolve(odata_parser::parse(path, query)?, &req.root)?;
    if let ResourcePath::Segments(segments) = &url.path {
        // A top-level `POST .../$query` was served as its GET before it got here.
        if segments.last() == Some(&PathSegment::Query) {
            return Err(match req.method {
                Method::POST => ApiError::BadRequest(
                    "a $query request cannot be sent inside a $batch; send its GET".into(),
                ),
                _ => ApiError::MethodNotAllowed {
                    method: req.method.to_string(),
                    allow: "POST",
                },
            });
        }
    }
    let target = bind::bind(&url)?;
    let method = &req.method;
    let readable = method == Method::GET || method == Method::HEAD;
    let accept = req.header("accept");
    let format = url.options.format.as_deref();
    let root = req.root.as_str();
    let cx = Ctx {
        req,
        state,
        workspace: ws,
        format,
        accept,
        query: query.unwrap_or(""),
        lease,
        pending,
    };
    match target {
        Target::ServiceDocument | Target::Metadata if !readable => {
            Err(ApiError::MethodNotAllowed {
                method: method.to_string(),
                allow: "GET, HEAD",
            })
        }
        Target::Batch if method != Method::POST => Err(ApiError::MethodNotAllowed {
            method: method.to_string(),
            allow: "POST",
        }),
        Target::Batch => match body {
            Some(body) => batch::run(req, body, state, ws, lease, pending).await,
            None => Err(ApiError::BadRequest(
                "a $batch cannot be sent inside another $batch".into(),
            )),
        },
        _ if !readable => Err(ApiError::MethodNotImplemented(
            if matches!(
                *method,
                Method::POST | Method::PUT | Method::PATCH | Method::DELETE
            ) {
                format!("{method} (writes) is not supported yet; this service is read-only")
            } else {
                // RFC 9110 §9.1: an unrecognized method is a 501.
                format!("{method} is not a method this service implements; it reads with GET")
            },
        )),
        Target::ServiceDocument => match data_format(format, accept)? {
            DataFormat::Json(f) => Ok(json_response(f, service_document(root, f.level))),
            DataFormat::Atom => {
                xml_response(atom::SERVICE_CONTENT_TYPE, atom::service_document(root))
            }
        },
        Target::Metadata => {
            let (body, content_type, tag) = match metadata_format(format, accept)? {
                MetadataFormat::Xml => (
                    METADATA_XML.as_str(),
                    "application/xml;charset=utf-8",
                    METADATA_XML_ETAG.as_str(),
                ),
                MetadataFormat::Json => (
                    METADATA_JSON.as_str(),
                    "application/json;charset=utf-8",
                    METADATA_JSON_ETAG.as_str(),
                ),
            };
            // Clients that read `$metadata` on every refresh (Power Query) revalidate it.
            Ok(if none_match(req.header("if-none-match"), tag) {
                HttpResponse::NotModified()
                    .insert_header((header::ETAG, tag))
                    .finish()
            } else {
                HttpResponse::Ok()
                    .content_type(content_type)
                    .insert_header((header::ETAG, tag))
                    .body(body)
            })
        }
        Target::Count(read) => read::count(&cx, read).await,
        Target::Property { read, prop, raw } => read::property(&cx, read, prop, raw).await,
        Target::Entities(read) => {
            let f = data_format(format, accept)?;
            read::entities(&cx, read, f, &url.options, false).await
        }
        Target::References(read) => {
            let f = data_format(format, accept)?;
            read::entities(&cx, read, f, &url.options, true).await
        }
        Target::AggregatedCount(ag) => read::aggregated_count(&cx, ag.into()).await,
        Target::ConcatenatedCount(cc) => read::aggregated_count(&cx, cc).await,
        Target::Aggregated(ag) => {
            let f = data_format(format, accept)?;
            read::aggregated(&cx, ag.into(), f, &url.options).await
        }
        Target::Concatenated(cc) => {
            let f = data_format(format, accept)?;
            read::aggregated(&cx, cc, f, &url.options).await
        }
        Target::CrossJoin(cj) => {
            let f = data_format(format, accept)?;
            read::crossjoined(&cx, cj, f, &url.options).await
        }
        Target::All(all) => {
            let f = data_format(format, accept)?;
            read::all_entities(&cx, all, f, &url.options).await
        }
    }
}

/// Whether `If-None-Match` names `tag` (or is `*`), compared weakly as RFC 9110 says.
fn none_match(if_none_match: Option<&str>, tag: &str) -> bool {
    if_none_match.is_some_and(|list| {
        list.split(',').map(str::trim).any(|t| {
            t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag.strip_prefix("W/").unwrap_or(tag)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::none_match;

    #[test]
    fn if_none_match_compares_weakly() {
        let tag = "\"abc\"";
        for (header, matched) in [
            (None, false),
            (Some("\"abc\""), true),
            (Some("W/\"abc\""), true),
            (Some("\"x\", \"abc\""), true),
            (Some("*"), true),
            (Some("\"abd\""), false),
            (Some("abc"), false),
        ] {
            assert_eq!(none_match(header, tag), matched, "{header:?}");
        }
    }
}
