//! The OData endpoint: authenticate, limit, parse, bind, plan, execute, serialize.

use super::auth::{authenticate, strip_param};
use super::error::ApiError;
use super::limit;
use super::negotiate::{
    data_format, error_is_xml, metadata_format, text_allowed, DataFormat, JsonFormat,
    MetadataFormat,
};
use super::AppState;
use crate::bind::{self, Read, Target};
use crate::exec;
use crate::format::atom;
use crate::format::csdl::{METADATA_JSON, METADATA_XML};
use crate::format::json::{
    context_fragment, entity_doc, property_doc, service_document, CollectionDoc, MetadataLevel,
};
use crate::plan::{fingerprint, plan_read, SkipToken, TokenCheck};
use crate::sql::Output;
use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use odata_parser::QueryOptions;

/// Longest request target we parse (path and query).
pub const MAX_URI: usize = 16 * 1024;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

pub async fn odata(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let uri_len = req.uri().path().len() + req.uri().query().map_or(0, str::len);
    if uri_len > MAX_URI {
        return ApiError::UriTooLong(MAX_URI).response(false);
    }
    let xml = error_is_xml(req.uri().query(), header_str(&req, "accept"));
    let principal = match authenticate(&req, &state.db, state.api_key_param.as_deref()).await {
        Ok(p) => p,
        Err(e) => return e.response(xml),
    };
    let ws = i64::from(principal.workspace_id);
    let decision = match limit::admit(&state.limiter, ws).await {
        Ok(d) => d,
        Err(e) => {
            let mut resp = e.response(xml);
            if let ApiError::RateLimited(d) = &e {
                limit::add_headers(&mut resp, d);
            }
            return resp;
        }
    };
    let mut resp = match serve(&req, &state, ws).await {
        Ok(r) => r,
        Err(e) => e.response(xml),
    };
    limit::add_headers(&mut resp, &decision);
    resp
}

/// Scheme, host and base path: absolute URLs in responses start with this.
fn service_root(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}/", info.scheme(), info.host())
}

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `Prefer: odata.maxpagesize=N`, if present and sensible.
fn preferred_page_size(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim().eq_ignore_ascii_case("odata.maxpagesize"))
                .then(|| v.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
                .filter(|n| *n > 0)
        })
}

/// The raw query without `$skiptoken`, for next links and the token fingerprint.
fn query_without_skiptoken(query: &str) -> String {
    query
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            let n = decoded.trim().trim_start_matches('$');
            !p.is_empty() && !n.eq_ignore_ascii_case("skiptoken")
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn serve(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    ws: i64,
) -> Result<HttpResponse, ApiError> {
    if let Some(max) = header_str(req, "odata-maxversion") {
        if max.trim().parse::<f32>().is_ok_and(|v| v < 4.0) {
            return Err(ApiError::BadRequest(format!(
                "OData-MaxVersion {max} is below 4.0, the only version this service speaks"
            )));
        }
    }
    let path = trim_encoded_whitespace(req.uri().path());
    // Without the API-key parameter, so the token is in no URL we write nor the fingerprint.
    let stripped = req
        .uri()
        .query()
        .map(|q| strip_param(q, state.api_key_param.as_deref()));
    let query = stripped.as_deref();
    let url = odata_parser::parse(path, query)?;
    let target = bind::bind(&url)?;
    let method = req.method();
    let readable = method == Method::GET || method == Method::HEAD;
    let accept = header_str(req, "accept");
    let format = url.options.format.as_deref();
    let root = service_root(req);
    match target {
        Target::ServiceDocument | Target::Metadata if !readable => {
            Err(ApiError::MethodNotAllowed {
                method: method.to_string(),
                allow: "GET, HEAD",
            })
        }
        Target::Batch => Err(ApiError::NotImplemented(
            "$batch is not supported yet".into(),
        )),
        _ if !readable => Err(ApiError::NotImplemented(format!(
            "{method} (writes) is not supported yet; this service is read-only"
        ))),
        Target::ServiceDocument => match data_format(format, accept)? {
            DataFormat::Json(f) => Ok(json_response(f, service_document(&root, f.level))),
            DataFormat::Atom => {
                xml_response(atom::SERVICE_CONTENT_TYPE, atom::service_document(&root))
            }
        },
        Target::Metadata => Ok(match metadata_format(format, accept)? {
            MetadataFormat::Xml => HttpResponse::Ok()
                .content_type("application/xml;charset=utf-8")
                .body(METADATA_XML.as_str()),
            MetadataFormat::Json => HttpResponse::Ok()
                .content_type("application/json;charset=utf-8")
                .body(METADATA_JSON.as_str()),
        }),
        Target::Count(read) => {
            text_allowed(format, accept)?;
            let db = state.db.clone();
            let n = web::block(move || exec::count(&db, ws, &read))
                .await
                .map_err(|_| ApiError::Blocking)??;
            Ok(HttpResponse::Ok()
                .content_type("text/plain;charset=utf-8")
                .body(n.to_string()))
        }
        Target::Property { read, prop, raw } => {
            if raw {
                text_allowed(format, accept)?;
            }
            let f = if raw {
                DataFormat::Json(JsonFormat {
                    level: MetadataLevel::Minimal,
                    ieee754: false,
                })
            } else {
                data_format(format, accept)?
            };
            let context = format!("{root}$metadata#{}", read.context_path);
            let (db, name, ty) = (state.db.clone(), prop.name, prop.ty);
            let output = Output {
                ieee754: matches!(f, DataFormat::Json(j) if j.ieee754),
                full: None,
            };
            let row = web::block(move || {
                let mut read = read;
                read.shape = Default::default();
                read.shape.select = Some(vec![prop]);
                let plan = plan_read(&read, 1, None).map_err(ApiError::from)?;
                exec::read_single(&db, ws, &plan, output).map_err(ApiError::from)
            })
            .await
            .map_err(|_| ApiError::Blocking)??;
            let row = row.ok_or_else(|| ApiError::NotFound("no entity with that key".into()))?;
            let doc: serde_json::Value =
                serde_json::from_str(&row).map_err(|_| ApiError::Blocking)?;
            let value = doc.get(name).cloned().unwrap_or(serde_json::Value::Null);
            if raw {
                return Ok(match value {
                    serde_json::Value::Null => HttpResponse::NoContent().finish(),
                    serde_json::Value::String(s) => HttpResponse::Ok()
                        .content_type("text/plain;charset=utf-8")
                        .body(s),
                    other => HttpResponse::Ok()
                        .content_type("text/plain;charset=utf-8")
                        .body(other.to_string()),
                });
            }
            if value.is_null() {
                return Ok(HttpResponse::NoContent().finish());
            }
            let f = match f {
                DataFormat::Json(f) => f,
                DataFormat::Atom => {
                    return xml_response(
                        atom::XML_CONTENT_TYPE,
                        atom::property_document(&context, ty, &value),
                    )
                }
            };
            let ctx = (f.level != MetadataLevel::None).then_some(context);
            Ok(json_response(f, property_doc(ctx.as_deref(), &value)))
        }
        Target::Entities(read) => {
            let f = data_format(format, accept)?;
            entities(
                req,
                state,
                ws,
                read,
                f,
                &root,
                &url.options,
                query.unwrap_or(""),
            )
            .await
        }
    }
}

/// Drops percent-encoded whitespace after the resource path: the CRM guide prints its
/// long example with a line break before `?`, and people paste it like that.
fn trim_encoded_whitespace(mut path: &str) -> &str {
    loop {
        let trimmed = ["%0A", "%0a", "%0D", "%0d", "%20", "%09"].iter().find_map(|w| path.strip_suffix(w));
        match trimmed {
            Some(t) => path = t,
            None => return path,
        }
    }
}

fn json_response(f: JsonFormat, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok().content_type(f.content_type()).body(body)
}

/// An Atom/XML body; a row that fails to convert is an internal error, logged here.
fn xml_response(content_type: &str, body: std::io::Result<Vec<u8>>) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|e| {
        tracing::error!(error = %e, "cannot write Atom/XML response");
        ApiError::Blocking
    })?;
    Ok(HttpResponse::Ok().content_type(content_type).body(body))
}

async fn entities(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    ws: i64,
    read: Read,
    f: DataFormat,
    root: &str,
    options: &QueryOptions,
    raw_query: &str,
) -> Result<HttpResponse, ApiError> {
    // Atom needs every entry's id and links, which full metadata puts in each row.
    let level = match f {
        DataFormat::Json(j) => j.level,
        DataFormat::Atom => MetadataLevel::Full,
    };
    let context =
        (level != MetadataLevel::None).then(|| format!("{root}{}", context_fragment(&read)));
    let output = Output {
        ieee754: matches!(f, DataFormat::Json(j) if j.ieee754),
        full: (level == MetadataLevel::Full).then(|| root.to_owned()),
    };
    let entity = read.entity;
    let db = state.db.clone();
    if read.single {
        let row = web::block(move || {
            let plan = plan_read(&read, 1, None).map_err(ApiError::from)?;
            exec::read_single(&db, ws, &plan, output).map_err(ApiError::from)
        })
        .await
        .map_err(|_| ApiError::Blocking)??;
        let row =
            row.ok_or_else(|| ApiError::NotFound("no entity found at this address".into()))?;
        return match f {
            DataFormat::Json(f) => Ok(json_response(f, entity_doc(context.as_deref(), &row))),
            DataFormat::Atom => xml_response(
                atom::ENTRY_CONTENT_TYPE,
                atom::entry_document(root, entity, context.as_deref().unwrap_or(root), &row),
            ),
        };
    }
    let server_max = u64::from(state.max_page_size.max(1));
    let preferred = preferred_page_size(req);
    let page_size = preferred.map_or(server_max, |p| p.min(server_max));
    let rest = query_without_skiptoken(raw_query);
    let fp = fingerprint(req.uri().path(), &rest);
    let token_text = options.skiptoken.clone();
    let with_count = read.shape.count;
    let path = req.uri().path().to_owned();
    let (rows, served) = web::block(move || {
        let check = token_text.as_deref().map(|t| TokenCheck {
            text: t,
            workspace: ws,
            fingerprint: &fp,
        });
        let plan = plan_read(&read, page_size, check)?;
        let served = plan.page.served;
        let rows = exec::read_page(&db, ws, &plan, output, with_count)?;
        Ok::<_, ApiError>((rows, (served, fp)))
    })
    .await
    .map_err(|_| ApiError::Blocking)??;
    let (served, fp) = served;
    let next_link = rows.next_after.map(|after| {
        let token = SkipToken {
            workspace: ws,
            query: fp,
            after,
            served: served + rows.rows.len() as u64,
        }
        .encode();
        let sep = if rest.is_empty() { "" } else { "&" };
        format!(
            "{}{}?{rest}{sep}$skiptoken={token}",
            root.trim_end_matches('/'),
            path
        )
    });
    let mut resp = match f {
        DataFormat::Json(f) => json_response(
            f,
            CollectionDoc {
                context,
                count: rows.count,
                rows: &rows.rows,
                next_link,
            }
            .render(),
        ),
        DataFormat::Atom => {
            let sep = if rest.is_empty() { "" } else { "?" };
            let self_link = format!("{}{sep}{rest}", path.trim_start_matches('/'));
            let id = format!("{}{}", root.trim_end_matches('/'), path);
            xml_response(
                atom::FEED_CONTENT_TYPE,
                atom::feed(&atom::Feed {
                    root,
                    entity,
                    context: context.as_deref().unwrap_or(root),
                    id: &id,
                    self_link: &self_link,
                    count: rows.count,
                    rows: &rows.rows,
                    next_link: next_link.as_deref(),
                }),
            )?
        }
    };
    if let Some(p) = preferred {
        if let Ok(v) =
            header::HeaderValue::from_str(&format!("odata.maxpagesize={}", p.min(server_max)))
        {
            resp.headers_mut()
                .insert(header::HeaderName::from_static("preference-applied"), v);
        }
    }
    Ok(resp)
}
