//! Responders for reads: entity collections and single entities, properties, `/$count`.

use super::auth::{require_live, Pending};
use super::dbcall;
use super::error::ApiError;
use super::negotiate::{self, data_format, text_allowed, DataFormat, JsonFormat};
use super::not_found;
use super::request::{query_without_skiptoken, Incoming};
use super::AppState;
use crate::bind::next_query::with_it_as;
use crate::bind::{AllEntities, Concatenation, CrossJoin, Prop, Read};
use crate::exec;
use crate::format::atom;
use crate::format::json::{
    aggregate_context_fragment, context_fragment, entity_doc, property_doc, CollectionDoc,
    MetadataLevel,
};
use crate::format::next_links::{self, MarkerError, PageEnd};
use crate::plan::{
    fingerprint, is_quick, plan_read, skiptoken, value_from_json, SkipToken, TokenCheck,
};
use crate::sql::{ExpandPage, Output};
use actix_web::http::header;
use actix_web::HttpResponse;
use odata_parser::QueryOptions;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use std::cell::RefCell;

/// What every responder needs to know about the request.
pub struct Ctx<'a> {
    pub req: &'a Incoming<'a>,
    pub state: &'a AppState,
    pub workspace: i64,
    /// `$format`, already stripped of the API key parameter.
    pub format: Option<&'a str>,
    pub accept: Option<&'a str>,
    /// The raw query string without the API key parameter.
    pub query: &'a str,
    /// The connection the token was checked on, if the reads may continue on it.
    pub lease: &'a RefCell<Option<dbcall::Lease>>,
    /// A known token not yet checked for this request: every database call checks it.
    pub pending: Option<&'a Pending>,
}

impl Ctx<'_> {
    /// Runs `f` on a connection; with a pending token, checks it there too.
    async fn db<T, F>(&self, short: bool, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        self.db_guarded(short, |_| true, move |c, _| f(c)).await
    }

    /// Runs a read whose statement checks a pending token itself: `f` gets the token's
    /// hash to compile into its `WHERE`. Rows prove the token live; when there are none
    /// (`is_empty`), the token is checked on its own before the empty answer is given.
    async fn db_guarded<T, F>(
        &self,
        short: bool,
        is_empty: fn(&T) -> bool,
        f: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConnection, Option<&str>) -> Result<T, ApiError>
            + Send
            + 'static,
    {
        let guard = self.pending.map(|p| p.hash.clone());
        let ws = self.workspace;
        let r = dbcall::run_leased(self.lease, &self.state.db, short, move |c| {
            let out = f(c, guard.as_deref())?;
            if let Some(hash) = &guard {
                if is_empty(&out) {
                    require_live(c, hash, ws)?;
                }
            }
            Ok(out)
        })
        .await;
        if let (Ok(_), Some(p)) = (&r, self.pending) {
            p.mark_checked();
        }
        r
    }
}

pub fn json_response(f: JsonFormat, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok().content_type(f.content_type()).body(body)
}

/// An Atom/XML body; a row that fails to convert is an internal error, logged here.
pub fn xml_response(
    content_type: &str,
    body: std::io::Result<Vec<u8>>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map_err(|e| {
        tracing::error!(error = %e, "cannot write Atom/XML response");
        ApiError::Blocking
    })?;
    Ok(HttpResponse::Ok().content_type(content_type).body(body))
}

fn text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain;charset=utf-8")
        .body(body)
}

pub async fn count(cx: &Ctx<'_>, read: Read) -> Result<HttpResponse, ApiError> {
    text_allowed(cx.format, cx.accept)?;
    let (ws, dialect) = (cx.workspace, cx.state.db.dialect);
    let parent = read.parent();
    let n = cx
        .db(false, move |c| Ok(exec::count(c, dialect, ws, &read)?))
        .await?;
    if n == 0 {
        if let Some(e) = missing_parent(cx, parent).await? {
            return Err(e);
        }
    }
    Ok(text(n.to_string()))
}

/// `/$count` of an aggregated result, as text.
pub async fn aggregated_count(
    cx: &Ctx<'_>,
    result: Concatenation,
) -> Result<HttpResponse, ApiError> {
    text_allowed(cx.format, cx.accept)?;
    let (ws, dialect) = (cx.workspace, cx.state.db.dialect);
    if let Some(e) = missing_parent(cx, result.parent()).await? {
        return Err(e);
    }
    let n = cx
        .db(false, move |c| {
            Ok(exec::aggregate_count(c, dialect, ws, &result)?)
        })
        .await?;
    Ok(text(n.to_string()))
}

/// The 404 naming the entity a read navigates from, if that does not exist (`None` when
/// it does, or the read navigates from none). Asked only once a read found nothing, to
/// tell "nothing related" from "no such entity".
async fn missing_parent(cx: &Ctx<'_>, parent: Option<Read>) -> Result<Option<ApiError>, ApiError> {
    let Some(parent) = parent else {
        return Ok(None);
    };
    let missing = not_found::missing(cx.req, &parent);
    let (ws, dialect) = (cx.workspace, cx.state.db.dialect);
    let n = cx
        .db(true, move |c| Ok(exec::count(c, dialect, ws, &parent)?))
        .await?;
    Ok((n == 0).then_some(missing))
}

pub async fn property(
    cx: &Ctx<'_>,
    mut read: Read,
    prop: Prop,
    raw: bool,
) -> Result<HttpResponse, ApiError> {
    let f = if raw {
        text_allowed(cx.format, cx.accept)?;
        DataFormat::Json(JsonFormat {
            level: MetadataLevel::Minimal,
            ieee754: false,
            streaming: true,
        })
    } else {
        data_format(cx.format, cx.accept)?
    };
    let root = cx.req.root.as_str();
    // The context names the entity the property belongs to by its canonical URL
    // (Protocol §10.14), which after a navigation only the row knows: full metadata's
    // `@odata.editLink`.
    let with_context = !raw && !matches!(f, DataFormat::Json(j) if j.level == MetadataLevel::None);
    let output = Output {
        ieee754: matches!(f, DataFormat::Json(j) if j.ieee754),
        full: with_context.then(|| root.to_owned()),
        refs: false,
        page_size: None,
        identify: None,
    };
    let read_context = std::mem::take(&mut read.context_path);
    let (ws, dialect) = (cx.workspace, cx.state.db.dialect);
    read.shape = Default::default();
    read.shape.select = Some(vec![prop]);
    // The read comes back when nothing was found, for the 404 to name what is missing.
    let row = cx
        .db(true, move |c| {
            let plan = plan_read(&read, 1, None)?;
            let row = exec::read_single(c, dialect, ws, None, &plan, output)?;
            Ok(row.map(|(row, _)| row).ok_or(read))
        })
        .await?;
    let row = match row {
        Ok(row) => row,
        // Through a single-valued navigation: its source may exist and relate to nothing.
        Err(read) if read.key.is_none() && !read.path.is_empty() => {
            return Err(match missing_parent(cx, read.parent()).await? {
                Some(e) => e,
                None => not_found::unrelated(cx.req, &read),
            });
        }
        Err(read) => return Err(not_found::missing(cx.req, &read)),
    };
    let doc: serde_json::Value = serde_json::from_str(&row).map_err(|_| ApiError::Blocking)?;
    let value = doc
        .get(prop.name)
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    let context = match doc.get("@odata.editLink").and_then(|l| l.as_str()) {
        Some(entity) => format!("{root}$metadata#{entity}/{}", prop.name),
        None => format!("{root}$metadata#{}", read_context),
    };
    if raw {
        return Ok(match value {
            serde_json::Value::Null => HttpResponse::NoContent().finish(),
            serde_json::Value::String(s) => text(s),
            other => text(other.to_string()),
        });
    }
    if value.is_null() {
        return Ok(HttpResponse::NoContent().finish());
    }
    match f {
        DataFormat::Json(f) => {
            let ctx = (f.level != MetadataLevel::None).then_some(context);
            let full = f.level == MetadataLevel::Full;
            let ty = crate::format::odata_type(crate::bind::Ty::of(prop)).filter(|_| full);
            Ok(json_response(f, property_doc(ctx.as_deref(), ty, &value)))
        }
        DataFormat::Atom => xml_response(
            atom::XML_CONTENT_TYPE,
            atom::property_document(&context, prop.ty, &value),
        ),
    }
}

/// Whether an expand at any depth of `shape` has an `$apply` (rows that are no entities).
/// The 406 for a resource written as JSON only, naming where the format was asked for.
fn json_only(cx: &Ctx<'_>, message: &str) -> ApiError {
    ApiError::NotAcceptable {
        message: message.into(),
        target: if cx.format.is_some() {
            negotiate::FORMAT
        } else {
            negotiate::ACCEPT
        },
    }
}

fn expands_aggregates(shape: &crate::bind::Shape) -> bool {
    let nested = |e: &crate::bind::Expand| e.apply.is_some() || expands_aggregates(&e.shape);
    shape.expand.iter().any(nested)
}

/// The entities `read` addresses, or with `refs` their references (`.../$ref`).
pub async fn entities(
    cx: &Ctx<'_>,
    read: Read,
    f: DataFormat,
    options: &QueryOptions,
    refs: bool,
) -> Result<HttpResponse, ApiError> {
    if matches!(f, DataFormat::Atom) && expands_aggregates(&read.shape) {
        return Err(json_only(
            cx,
            "an expand with $apply is written as JSON only",
        ));
    }
    let root = cx.req.root.as_str();
    // Atom needs every entry's id and links, which full metadata puts in each row.
    let level = match f {
        DataFormat::Json(j) => j.level,
        DataFormat::Atom => MetadataLevel::Full,
    };
    let context =
        (level != MetadataLevel::None).then(|| format!("{root}{}", context_fragment(&read)));
    // A reference is its `@odata.id` at every metadata level.
    let output = Output {
        ieee754: matches!(f, DataFormat::Json(j) if j.ieee754),
        full: (level == MetadataLevel::Full && !refs).then(|| root.to_owned()),
        refs,
        page_size: Some(Paging::size_of(cx)),
        identify: None,
    };
    let entity = read.entity;
    let (ws, dialect) = (cx.workspace, cx.state.db.dialect);
    if read.single {
        // A single-valued navigation (no key of its own) with nothing related is no
        // content, once its source entity is known to exist.
        let navigated = read.key.is_none().then(|| read.parent()).flatten();
        // A key lookup (plus any expands) is bounded by the key index. The read comes
        // back when nothing was found, for the 404 to name what is missing.
        let row = cx
            .db_guarded(
                read.shape.expand.is_empty(),
                Result::is_err,
                move |c, guard| {
                    let plan = plan_read(&read, 1, None)?;
                    Ok(exec::read_single(c, dialect, ws, guard, &plan, output)?.ok_or(read))
                },
            )
            .await?;
        let (row, pages) = match row {
            Ok(found) => found,
            Err(_) if navigated.is_some() => {
                return match missing_parent(cx, navigated).await? {
                    None => Ok(HttpResponse::NoContent().finish()),
                    Some(e) => Err(e),
                };
            }
            Err(read) => return Err(not_found::missing(cx.req, &read)),
        };
        let mut rows = [row];
        link_expanded_pages(cx, &pages, &mut rows)?;
        let [row] = rows;
        let mut resp = match f {
            DataFormat::Json(f) => json_response(f, entity_doc(context.as_deref(), &row)),
            DataFormat::Atom if refs => xml_response(
                atom::XML_CONTENT_TYPE,
                atom::reference_document(root, context.as_deref().unwrap_or(root), &row),
            )?,
            DataFormat::Atom => xml_response(
                atom::ENTRY_CONTENT_TYPE,
                atom::entry_document(root, entity, context.as_deref().unwrap_or(root), &row),
            )?,
        };
        // The page size applies to the entity's expanded collections.
        if !pages.is_empty() {
            Paging::of(cx).applied(&mut resp);
        }
        return Ok(resp);
    }
    let paging = Paging::of(cx);
    let page_size = paging.size;
    let token_text = options.skiptoken.clone();
    let with_count = read.shape.count;
    let fp_for_plan = paging.fingerprint.clone();
    // Small, index-bounded pages run like a read by key (see `plan::is_quick`).
    let quick = is_quick(&read, page_size, dialect);
    let parent = read.parent();
    let (rows, served) = cx
        .db_guarded(
            quick,
            |(rows, _): &(exec::Rows, u64)| rows.rows.is_empty(),
            move |c, guard| {
                let check = token_text.as_deref().map(|t| TokenCheck {
                    text: t,
                    workspace: ws,
                    fingerprint: &fp_for_plan,
                });
                let plan = plan_read(&read, page_size, check)?;
                let rows = exec::read_page(c, dialect, ws, guard, &plan, output, with_count)?;
                Ok((rows, plan.page.served))
            },
        )
        .await?;
    if rows.rows.is_empty() && options.skiptoken.is_none() {
        if let Some(e) = missing_parent(cx, parent).await? {
            return Err(e);
        }
    }
    let mut rows = rows;
    link_expanded_pages(cx, &rows.expand_pages, &mut rows.rows)?;
    let next_link = rows
        .next_after
        .map(|after| paging.next_link(ws, after, served.saturating_add(rows.rows.len() as u64)));
    let mut resp = match f {
        DataFormat::Json(f) => json_response(
            f,
            CollectionDoc {
                context,
                count: rows.count,
                ieee754: f.ieee754,
                rows: &rows.rows,
                next_link,
            }
            .render(),
        ),
        DataFormat::Atom => {
            let (path, rest) = (&paging.path, &paging.rest);
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
                    refs,
                }),
            )?
        }
    };
    paging.applied(&mut resp);
    Ok(resp)
}

/// An aggregated result (`$apply` with groupby or aggregate): JSON rows, paged by an
/// offset the `$skiptoken` carries (bound to the workspace and query like any other).
pub async fn aggregated(
    cx: &Ctx<'_>,
    result: Concatenation,
    f: DataFormat,
    options: &QueryOptions,
) -> Result<HttpResponse, ApiError> {
    let DataFormat::Json(f) = f else {
        return Err(json_only(
            cx,
            "an aggregated result is written as JSON only",
        ));
    };
    let root = cx.req.root.as_str();
    let context = (f.level != MetadataLevel::None)
        .then(|| format!("{root}{}", aggregate_context_fragment(&result)));
    let output = Output {
        ieee754: f.ieee754,
        full: (f.level == MetadataLevel::Full).then(|| root.to_owned()),
        refs: false,
        page_size: None,
        identify: None,
    };
    let page = OffsetPage::of(cx, options, result.top, result.skip)?;
    // Aggregating what an entity that does not exist navigates to is 404, as reading it is.
    if let Some(e) = missing_parent(cx, result.parent()).await? {
        return Err(e);
    }
    let (ws, dialect) = (cx.workspace, cx.state.db.dialect);
    page.answer(cx, f, context, move |c, guard, offset, size| {
        exec::read_aggregate(c, dialect, ws, guard, &result, output, offset, size)
    })
    .await
}

/// A page of rows that continue by offset: where it starts, how many it holds, and its
/// response with the link to the next.
struct OffsetPage {
    paging: Paging,
    served: u64,
    remaining: Option<u64>,
    offset: u64,
    size: u64,
}

impl OffsetPage {
    fn of(
        cx: &Ctx<'_>,
        options: &QueryOptions,
        top: Option<u64>,
        skip: Option<u64>,
    ) -> Result<OffsetPage, ApiError> {
        let paging = Paging::of(cx);
        let served = match options.skiptoken.as_deref() {
            Some(t) => SkipToken::decode(t, cx.workspace, &paging.fingerprint, &[])?.served,
            None => 0,
        };
        let remaining = top.map(|t| t.saturating_sub(served));
        let size = remaining.map_or(paging.size, |r| r.min(paging.size));
        Ok(OffsetPage {
            offset: skip.unwrap_or(0).saturating_add(served),
            paging,
            served,
            remaining,
            size,
        })
    }

    /// The page `read` gives (its rows from an offset, at most a size; whether more
    /// follow; the rows in all when asked), with the link to the next.
    async fn answer<F>(
        self,
        cx: &Ctx<'_>,
        f: JsonFormat,
        context: Option<String>,
        read: F,
    ) -> Result<HttpResponse, ApiError>
    where
        F: FnOnce(
                &mut crate::db::DbConnection,
                Option<&str>,
                u64,
                u64,
            ) -> Result<(Vec<String>, bool, Option<i64>), crate::db::DbError>
            + Send
            + 'static,
    {
        let (offset, size) = (self.offset, self.size);
        let (rows, more, count) = cx
            .db_guarded(
                false,
                |(rows, _, _): &(Vec<String>, bool, Option<i64>)| rows.is_empty(),
                move |c, guard| Ok(read(c, guard, offset, size)?),
            )
            .await?;
        Ok(self.response(cx, f, context, rows, more, count))
    }

    fn response(
        &self,
        cx: &Ctx<'_>,
        f: JsonFormat,
        context: Option<String>,
        rows: Vec<String>,
        more: bool,
        count: Option<i64>,
    ) -> HttpResponse {
        let more = more && self.remaining.is_none_or(|r| r > self.size);
        let next_link = more.then(|| {
            let served = self.served.saturating_add(rows.len() as u64);
            self.paging.next_link(cx.workspace, Vec::new(), served)
        });
        let mut resp = json_response(
            f,
            CollectionDoc {
                context,
                count,
                ieee754: f.ieee754,
                rows: &rows,
                next_link,
            }
            .render(),
        );
        self.paging.applied(&mut resp);
        resp
    }
}

/// `$crossjoin(...)`: a row per combination of the sets' entities, each set a navigation
/// link or, expanded, the entity; paged by an offset the `$skiptoken` carries, as an
/// aggregated result is.
pub async fn crossjoined(
    cx: &Ctx<'_>,
    cj: CrossJoin,
    f: DataFormat,
    options: &QueryOptions,
) -> Result<HttpResponse, ApiError> {
    let DataFormat::Json(f) = f else {
        return Err(json_only(cx, "a cross join is written as JSON only"));
    };
    let root = cx.req.root.as_str();
    let context = (f.level != MetadataLevel::None)
        .then(|| format!("{root}$metadata#Collection(Edm.ComplexType)"));
    let output = Output {
        ieee754: f.ieee754,
        full: (f.level == MetadataLevel::Full).then(|| root.to_owned()),
        refs: false,
        page_size: None,
        identify: None,
    };
    let page = OffsetPage::of(cx, options, cj.top, cj.skip)?;
    let (ws, dialect) = (cx.workspace, cx.state.db.dialect);
    page.answer(cx, f, context, move |c, guard, offset, size| {
        exec::read_crossjoin(c, dialect, ws, guard, &cj, output, offset, size)
    })
    .await
}

/// `$all`: the entities of every entity set, one set after the other, each with its
/// `@odata.type` and `@odata.id` (the context URL names no set). The `$skiptoken` holds
/// the set the next page starts in and the key values it continues after.
pub async fn all_entities(
    cx: &Ctx<'_>,
    all: AllEntities,
    f: DataFormat,
    options: &QueryOptions,
) -> Result<HttpResponse, ApiError> {
    let DataFormat::Json(f) = f else {
        return Err(json_only(
            cx,
            "the entities of every type are written as JSON only",
        ));
    };
    let root = cx.req.root.as_str();
    let described = f.level != MetadataLevel::None;
    let context = described.then(|| format!("{root}$metadata#Collection(Edm.EntityType)"));
    let full = f.level == MetadataLevel::Full;
    let output = Output {
        ieee754: f.ieee754,
        full: full.then(|| root.to_owned()),
        refs: false,
        page_size: None,
        identify: (described && !full).then(|| root.to_owned()),
    };
    let paging = Paging::of(cx);
    let ws = cx.workspace;
    let (start, served) = match options.skiptoken.as_deref() {
        Some(t) => {
            let (start, token) = skiptoken::decode_union(t, ws, &paging.fingerprint, &all.reads)?;
            (start, token.served)
        }
        None => ((0, None), 0),
    };
    let remaining = all.top.map(|t| t.saturating_sub(served));
    let size = remaining.map_or(paging.size, |r| r.min(paging.size));
    let more_allowed = remaining.is_none_or(|r| r > size);
    // After the first page the token, not `$skip`, says where to continue.
    let offset = if served == 0 && options.skiptoken.is_none() {
        all.skip.unwrap_or(0)
    } else {
        0
    };
    let dialect = cx.state.db.dialect;
    let with_count = all.count;
    let page = cx
        .db_guarded(
            false,
            |page: &exec::UnionPage| page.rows.is_empty(),
            move |c, guard| {
                Ok(exec::read_union_page(
                    c,
                    dialect,
                    ws,
                    guard,
                    &all.reads,
                    start,
                    offset,
                    (size, more_allowed),
                    output,
                    with_count,
                )?)
            },
        )
        .await?;
    let next_link = page.next.filter(|_| more_allowed).map(|(set, after)| {
        let mut keys = vec![crate::bind::Value::Int(set as i64)];
        keys.extend(after.unwrap_or_default());
        paging.next_link(ws, keys, served.saturating_add(page.rows.len() as u64))
    });
    let mut resp = json_response(
        f,
        CollectionDoc {
            context,
            count: page.count,
            ieee754: f.ieee754,
            rows: &page.rows,
            next_link,
        }
        .render(),
    );
    paging.applied(&mut resp);
    Ok(resp)
}

/// Server-driven paging of a collection: the page size (the client's preference within
/// the server's maximum) and the request a next page repeats, without its `$skiptoken`.
struct Paging {
    root: String,
    server_max: u64,
    /// The page size the client asked for, and the preference's name as it was sent.
    preferred: Option<(u64, String)>,
    size: u64,
    path: String,
    rest: String,
    /// Binds a `$skiptoken` to this query.
    fingerprint: String,
}

impl Paging {
    /// Rows per page: the client's preference within the server's maximum.
    fn size_of(cx: &Ctx<'_>) -> u64 {
        let server_max = u64::from(cx.state.max_page_size.max(1));
        cx.req
            .preferred_page_size()
            .map_or(server_max, |(p, _)| p.min(server_max))
    }

    fn of(cx: &Ctx<'_>) -> Paging {
        let server_max = u64::from(cx.state.max_page_size.max(1));
        let preferred = cx
            .req
            .preferred_page_size()
            .map(|(n, name)| (n, name.to_owned()));
        let path = cx.req.path.to_owned();
        let rest = query_without_skiptoken(cx.query);
        Paging {
            root: cx.req.root.clone(),
            server_max,
            size: Self::size_of(cx),
            preferred,
            fingerprint: fingerprint(&path, &rest),
            path,
            rest,
        }
    }

    /// The request's own URL with a `$skiptoken` for the page after `served` rows.
    fn next_link(&self, workspace: i64, after: Vec<crate::bind::Value>, served: u64) -> String {
        let token = SkipToken {
            workspace,
            query: self.fingerprint.clone(),
            after,
            served,
        };
        link(&self.root, &self.path, &self.rest, &token)
    }

    /// `Preference-Applied: odata.maxpagesize=N` when the client asked for a page size.
    fn applied(&self, resp: &mut HttpResponse) {
        if let Some((p, name)) = &self.preferred {
            if let Ok(v) =
                header::HeaderValue::from_str(&format!("{name}={}", (*p).min(self.server_max)))
            {
                resp.headers_mut()
                    .insert(header::HeaderName::from_static("preference-applied"), v);
            }
        }
    }
}

/// `root` + `path` (from `/`) + `?query` with `token` as its `$skiptoken`.
fn link(root: &str, path: &str, query: &str, token: &SkipToken) -> String {
    let sep = if query.is_empty() { "" } else { "&" };
    format!(
        "{}{path}?{query}{sep}$skiptoken={}",
        root.trim_end_matches('/'),
        token.encode()
    )
}

/// Replaces the page-end markers of expanded collections in `rows` by their
/// `Nav@odata.nextLink`s: a request for the collection itself (`Contacts(1)/Leads`) with
/// the expand's options and a `$skiptoken` for the rows after the page, bound to the
/// workspace like any other.
fn link_expanded_pages(
    cx: &Ctx<'_>,
    pages: &[ExpandPage],
    rows: &mut [String],
) -> Result<(), ApiError> {
    if pages.is_empty() {
        return Ok(());
    }
    for row in rows {
        next_links::link_pages(row, |end: PageEnd| {
            let page = pages
                .get(end.page)
                .ok_or_else(|| MarkerError(format!("no expand numbered {}", end.page)))?;
            let after = end
                .after
                .iter()
                .zip(&page.keys)
                .map(|(v, ty)| value_from_json(v, *ty))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| MarkerError(format!("order values: {e}")))?;
            let path = format!(
                "/{}/{}{}",
                utf8_percent_encode(&end.parent, URL_TEXT),
                page.nav,
                if page.is_ref { "/$ref" } else { "" }
            );
            let query = match (&end.it, page.query.names_it) {
                (Some(it), true) => {
                    let url = utf8_percent_encode(it, KEY_TEXT).to_string();
                    with_it_as(&page.query.text, &url).0
                }
                (None, true) => return Err(MarkerError("no URL for $it".into()).into()),
                _ => page.query.text.to_string(),
            };
            let mut query = utf8_percent_encode(&query, URL_TEXT).to_string();
            // The next page comes in the format this one was asked for.
            if let Some(format) = cx.format {
                if !query.is_empty() {
                    query.push('&');
                }
                query.push_str("$format=");
                query.extend(utf8_percent_encode(format, FORMAT_TEXT));
            }
            let token = SkipToken {
                workspace: cx.workspace,
                query: fingerprint(&path, &query),
                after,
                served: page.served,
            };
            Ok::<_, ApiError>((page.nav, link(&cx.req.root, &path, &query, &token)))
        })?;
    }
    Ok(())
}

/// What a URL may not hold as it is, beyond what the parser's printing already encodes
/// (`%`, `&`, `#`): a client would encode it before sending, and the `$skiptoken`
/// would no longer match the query it was made for.
const URL_TEXT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

/// An entity's URL inside a query: also without what ends an option or a path segment
/// there, as the parser's printing writes string literals.
const KEY_TEXT: &AsciiSet = &URL_TEXT.add(b'%').add(b'&').add(b'#').add(b'/').add(b'?');

/// A `$format` value as a query holds it: also without `%`, `&`, `#` and `+`.
const FORMAT_TEXT: &AsciiSet = &URL_TEXT.add(b'%').add(b'&').add(b'#').add(b'+');
