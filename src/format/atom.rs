//! OData Atom Format 4.0: feeds, entries, the AtomPub service document, single
//! property values and `<m:error>` bodies, written with quick-xml.
//!
//! Rows arrive as the same JSON objects the JSON format sends, produced with full
//! metadata (`@odata.id`, `@odata.editLink`, `@odata.type`, `Nav@odata.navigationLink`)
//! so every entry has its identity and links even when `$select` drops the key. Property
//! types come from the model: row keys are model property names, navigation names hold
//! nested objects (single-valued) or arrays (collections), `Nav@odata.count` are counts.

use crate::model::{EdmType, EntityType, MODEL};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::{Map, Value};
use std::io;

pub const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
pub const APP_NS: &str = "http://www.w3.org/2007/app";
pub const METADATA_NS: &str = "http://docs.oasis-open.org/odata/ns/metadata";
pub const DATA_NS: &str = "http://docs.oasis-open.org/odata/ns/data";
pub const SCHEME_NS: &str = "http://docs.oasis-open.org/odata/ns/scheme";
pub const RELATED_NS: &str = "http://docs.oasis-open.org/odata/ns/related/";

pub const FEED_CONTENT_TYPE: &str = "application/atom+xml;type=feed;charset=utf-8";
pub const ENTRY_CONTENT_TYPE: &str = "application/atom+xml;type=entry;charset=utf-8";
pub const SERVICE_CONTENT_TYPE: &str = "application/atomsvc+xml;charset=utf-8";
pub const XML_CONTENT_TYPE: &str = "application/xml;charset=utf-8";

type W = Writer<Vec<u8>>;

/// A top-level feed (entity collection).
pub struct Feed<'a> {
    /// Service root, ending in `/`; the document's `xml:base`.
    pub root: &'a str,
    pub entity: &'static EntityType,
    /// Absolute context URL (`{root}$metadata#Contacts(...)`).
    pub context: &'a str,
    /// Absolute URL of the collection, without query options.
    pub id: &'a str,
    /// The request as a URL relative to the root (query included, credentials stripped).
    pub self_link: &'a str,
    pub count: Option<i64>,
    pub rows: &'a [String],
    pub next_link: Option<&'a str>,
    /// The rows are entity references (`.../$ref`): `<m:ref>` elements, not entries.
    pub refs: bool,
}

fn invalid(e: serde_json::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn parse_row(row: &str) -> io::Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(row).map_err(invalid)? {
        Value::Object(m) => Ok(m),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "row is not a JSON object",
        )),
    }
}

/// XML 1.0 cannot carry most control characters, even escaped; stored text may.
fn xml_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let ok = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    if s.chars().all(ok) {
        s.into()
    } else {
        s.chars()
            .map(|c| if ok(c) { c } else { '\u{FFFD}' })
            .collect::<String>()
            .into()
    }
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn writer() -> io::Result<W> {
    let mut w = Writer::new(Vec::with_capacity(4096));
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    Ok(w)
}

fn start(w: &mut W, el: BytesStart) -> io::Result<()> {
    w.write_event(Event::Start(el))
}

fn end(w: &mut W, name: &str) -> io::Result<()> {
    w.write_event(Event::End(BytesEnd::new(name)))
}

fn text_el(w: &mut W, name: &str, text: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(&xml_safe(text)))?;
    Ok(())
}

fn empty(w: &mut W, el: BytesStart) -> io::Result<()> {
    w.write_event(Event::Empty(el))
}

/// The namespaces and context of a top-level `<feed>` or `<entry>`.
fn root_element<'a>(name: &'a str, root: &str, context: &str) -> BytesStart<'a> {
    BytesStart::new(name).with_attributes([
        ("xmlns", ATOM_NS),
        ("xmlns:m", METADATA_NS),
        ("xmlns:d", DATA_NS),
        ("xml:base", root),
        ("m:context", context),
    ])
}

/// `<feed>` for an entity collection.
pub fn feed(f: &Feed) -> io::Result<Vec<u8>> {
    let mut w = writer()?;
    start(&mut w, root_element("feed", f.root, f.context))?;
    text_el(&mut w, "id", f.id)?;
    w.create_element("title")
        .with_attribute(("type", "text"))
        .write_text_content(BytesText::new(f.entity.set))?;
    text_el(&mut w, "updated", &now())?;
    author(&mut w)?;
    empty(
        &mut w,
        BytesStart::new("link").with_attributes([
            ("rel", "self"),
            ("title", f.entity.set),
            ("href", f.self_link),
        ]),
    )?;
    if let Some(n) = f.count {
        text_el(&mut w, "m:count", &n.to_string())?;
    }
    for row in f.rows {
        let row = parse_row(row)?;
        if f.refs {
            reference(&mut w, &row, None)?;
        } else {
            entry(&mut w, f.root, f.entity, &row, None)?;
        }
    }
    if let Some(next) = f.next_link {
        empty(
            &mut w,
            BytesStart::new("link").with_attributes([("rel", "next"), ("href", next)]),
        )?;
    }
    end(&mut w, "feed")?;
    Ok(w.into_inner())
}

/// `<entry>` for a single entity.
pub fn entry_document(
    root: &str,
    entity: &'static EntityType,
    context: &str,
    row: &str,
) -> io::Result<Vec<u8>> {
    let mut w = writer()?;
    entry(&mut w, root, entity, &parse_row(row)?, Some(context))?;
    Ok(w.into_inner())
}

/// `<m:ref>` for a single entity reference (`Contacts(1)/$ref`).
pub fn reference_document(root: &str, context: &str, row: &str) -> io::Result<Vec<u8>> {
    let mut w = writer()?;
    reference(&mut w, &parse_row(row)?, Some((root, context)))?;
    Ok(w.into_inner())
}

/// `<m:ref id="..."/>` of a reference row; as a document of its own with its namespace,
/// base and context.
fn reference(w: &mut W, row: &Map<String, Value>, top: Option<(&str, &str)>) -> io::Result<()> {
    let id = str_of(row, "@odata.id").unwrap_or_default();
    let mut el = BytesStart::new("m:ref");
    if let Some((root, context)) = top {
        el.extend_attributes([
            ("xmlns:m", METADATA_NS),
            ("xml:base", root),
            ("m:context", context),
        ]);
    }
    empty(w, el.with_attributes([("id", id)]))
}

fn author(w: &mut W) -> io::Result<()> {
    start(w, BytesStart::new("author"))?;
    empty(w, BytesStart::new("name"))?;
    end(w, "author")
}

fn str_of<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

/// One entry; `context` is set only for a top-level entry document.
fn entry(
    w: &mut W,
    root: &str,
    entity: &'static EntityType,
    obj: &Map<String, Value>,
    context: Option<&str>,
) -> io::Result<()> {
    match context {
        Some(c) => start(w, root_element("entry", root, c))?,
        None => start(w, BytesStart::new("entry"))?,
    }
    if let Some(id) = str_of(obj, "@odata.id") {
        text_el(w, "id", id)?;
    }
    let term = format!("#{}", MODEL.qualified(entity.name));
    empty(
        w,
        BytesStart::new("category")
            .with_attributes([("term", term.as_str()), ("scheme", SCHEME_NS)]),
    )?;
    if let Some(edit) = str_of(obj, "@odata.editLink") {
        empty(
            w,
            BytesStart::new("link").with_attributes([
                ("rel", "edit"),
                ("title", entity.name),
                ("href", edit),
            ]),
        )?;
    }
    for nav in &entity.navigation {
        let href = str_of(obj, &format!("{}@odata.navigationLink", nav.name));
        // `$expand=Nav/$count` carries only the count: an inline feed with no entries.
        let count_only = Value::Array(Vec::new());
        let inline = obj.get(nav.name).or_else(|| {
            obj.get(&format!("{}@odata.count", nav.name))
                .map(|_| &count_only)
        });
        if href.is_none() && inline.is_none() {
            continue;
        }
        let rel = format!("{RELATED_NS}{}", nav.name);
        let ty = if nav.many {
            "application/atom+xml;type=feed"
        } else {
            "application/atom+xml;type=entry"
        };
        let mut link = BytesStart::new("link").with_attributes([
            ("rel", rel.as_str()),
            ("type", ty),
            ("title", nav.name),
        ]);
        if let Some(h) = href {
            link.push_attribute(("href", h));
        }
        let Some(inline) = inline else {
            empty(w, link)?;
            continue;
        };
        let target = MODEL.entity_type(nav.target).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "navigation target not in the model",
            )
        })?;
        start(w, link)?;
        match inline {
            Value::Null => empty(w, BytesStart::new("m:inline"))?,
            Value::Array(items) => {
                start(w, BytesStart::new("m:inline"))?;
                start(w, BytesStart::new("feed"))?;
                if let Some(h) = href {
                    text_el(w, "id", &format!("{root}{h}"))?;
                }
                w.create_element("title")
                    .with_attribute(("type", "text"))
                    .write_text_content(BytesText::new(nav.name))?;
                text_el(w, "updated", &now())?;
                author(w)?;
                if let Some(n) = obj.get(&format!("{}@odata.count", nav.name)) {
                    text_el(w, "m:count", &n.to_string())?;
                }
                for item in items {
                    nested(w, root, target, item)?;
                }
                if let Some(next) = str_of(obj, &format!("{}@odata.nextLink", nav.name)) {
                    empty(
                        w,
                        BytesStart::new("link").with_attributes([("rel", "next"), ("href", next)]),
                    )?;
                }
                end(w, "feed")?;
                end(w, "m:inline")?;
            }
            item => {
                start(w, BytesStart::new("m:inline"))?;
                nested(w, root, target, item)?;
                end(w, "m:inline")?;
            }
        }
        end(w, "link")?;
    }
    empty(w, BytesStart::new("title"))?;
    let updated = str_of(obj, "LastUpdated").map_or_else(now, str::to_owned);
    text_el(w, "updated", &updated)?;
    author(w)?;
    start(
        w,
        BytesStart::new("content").with_attributes([("type", "application/xml")]),
    )?;
    start(w, BytesStart::new("m:properties"))?;
    for (key, value) in obj {
        if key.contains('@') || entity.nav(key).is_some() {
            continue;
        }
        property(
            w,
            &format!("d:{key}"),
            entity.property(key).map(|p| p.ty),
            value,
        )?;
    }
    end(w, "m:properties")?;
    end(w, "content")?;
    end(w, "entry")
}

/// An expanded entity: a full entry, or `<m:ref>` for `$expand=Nav/$ref`.
fn nested(w: &mut W, root: &str, target: &'static EntityType, item: &Value) -> io::Result<()> {
    let Value::Object(o) = item else {
        return Ok(());
    };
    if !o.contains_key("@odata.type") {
        if let Some(id) = str_of(o, "@odata.id") {
            return empty(w, BytesStart::new("m:ref").with_attributes([("id", id)]));
        }
    }
    entry(w, root, target, o, None)
}

/// `m:type` for non-string primitives; strings carry none.
fn type_attr(ty: Option<EdmType>, value: &Value) -> Option<&'static str> {
    match ty {
        Some(EdmType::String) => None,
        Some(t) => Some(t.name()),
        None => match value {
            Value::Bool(_) => Some("Edm.Boolean"),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some("Edm.Int64"),
            Value::Number(_) => Some("Edm.Double"),
            _ => None,
        },
    }
}

fn property(w: &mut W, name: &str, ty: Option<EdmType>, value: &Value) -> io::Result<()> {
    let mut el = BytesStart::new(name);
    if let Some(t) = type_attr(ty, value) {
        el.push_attribute(("m:type", t));
    }
    let text = match value {
        Value::Null => {
            el.push_attribute(("m:null", "true"));
            return empty(w, el);
        }
        Value::String(s) => s.clone(),
        // Booleans stored as 0/1 still read as true/false.
        Value::Number(n) if ty == Some(EdmType::Boolean) => {
            (n.as_f64().unwrap_or(0.0) != 0.0).to_string()
        }
        other => other.to_string(),
    };
    start(w, el)?;
    w.write_event(Event::Text(BytesText::new(&xml_safe(&text))))?;
    end(w, name)
}

/// `<m:value>` for a single property (`Contacts(1)/Surname` with XML requested).
pub fn property_document(context: &str, ty: EdmType, value: &Value) -> io::Result<Vec<u8>> {
    let mut w = writer()?;
    let mut el = BytesStart::new("m:value")
        .with_attributes([("xmlns:m", METADATA_NS), ("m:context", context)]);
    if let Some(t) = type_attr(Some(ty), value) {
        el.push_attribute(("m:type", t));
    }
    let text = match value {
        Value::Null => {
            el.push_attribute(("m:null", "true"));
            empty(&mut w, el)?;
            return Ok(w.into_inner());
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    start(&mut w, el)?;
    w.write_event(Event::Text(BytesText::new(&xml_safe(&text))))?;
    end(&mut w, "m:value")?;
    Ok(w.into_inner())
}

/// The AtomPub service document listing every entity set.
pub fn service_document(root: &str) -> io::Result<Vec<u8>> {
    let mut w = writer()?;
    let context = format!("{root}$metadata");
    start(
        &mut w,
        BytesStart::new("service").with_attributes([
            ("xmlns", APP_NS),
            ("xmlns:atom", ATOM_NS),
            ("xmlns:m", METADATA_NS),
            ("xml:base", root),
            ("m:context", context.as_str()),
        ]),
    )?;
    start(&mut w, BytesStart::new("workspace"))?;
    w.create_element("atom:title")
        .with_attribute(("type", "text"))
        .write_text_content(BytesText::new(MODEL.container))?;
    for t in &MODEL.types {
        start(
            &mut w,
            BytesStart::new("collection").with_attributes([("href", t.set)]),
        )?;
        w.create_element("atom:title")
            .with_attribute(("type", "text"))
            .write_text_content(BytesText::new(t.set))?;
        end(&mut w, "collection")?;
    }
    end(&mut w, "workspace")?;
    end(&mut w, "service")?;
    Ok(w.into_inner())
}

/// One `<m:detail>` of an error.
pub struct ErrorDetail<'a> {
    pub code: &'a str,
    pub message: &'a str,
    pub target: Option<&'a str>,
}

/// `<m:error>`: the XML body of an error response when XML was negotiated.
pub fn error_document(
    code: &str,
    message: &str,
    target: Option<&str>,
    details: &[ErrorDetail],
) -> io::Result<Vec<u8>> {
    let mut w = writer()?;
    start(
        &mut w,
        BytesStart::new("m:error").with_attributes([("xmlns:m", METADATA_NS)]),
    )?;
    text_el(&mut w, "m:code", code)?;
    text_el(&mut w, "m:message", message)?;
    if let Some(t) = target {
        text_el(&mut w, "m:target", t)?;
    }
    if !details.is_empty() {
        start(&mut w, BytesStart::new("m:details"))?;
        for d in details {
            start(&mut w, BytesStart::new("m:detail"))?;
            text_el(&mut w, "m:code", d.code)?;
            text_el(&mut w, "m:message", d.message)?;
            if let Some(t) = d.target {
                text_el(&mut w, "m:target", t)?;
            }
            end(&mut w, "m:detail")?;
        }
        end(&mut w, "m:details")?;
    }
    end(&mut w, "m:error")?;
    Ok(w.into_inner())
}
