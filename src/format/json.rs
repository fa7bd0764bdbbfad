//! OData JSON responses. Row objects arrive from the database already serialized;
//! this module wraps them with the control information (`@odata.context`, count,
//! `@odata.nextLink`) without re-parsing them.

use crate::bind::{Aggregation, Concatenation, Layout, Read, Shape};
use crate::model::MODEL;

/// Metadata level requested with `odata.metadata=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataLevel {
    None,
    #[default]
    Minimal,
    Full,
}

impl MetadataLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            MetadataLevel::None => "none",
            MetadataLevel::Minimal => "minimal",
            MetadataLevel::Full => "full",
        }
    }
}

/// `$metadata#Contacts(Title,Leads(Description))` — the fragment after the service root.
pub fn context_fragment(read: &Read) -> String {
    let mut s = format!("$metadata#{}", read.context_path);
    if let Some(list) = select_list(&read.shape) {
        // A single entity's `/$entity` suffix follows the select list.
        if let Some(base) = s.strip_suffix("/$entity") {
            s = format!("{base}({list})/$entity");
        } else {
            s.push('(');
            s.push_str(&list);
            s.push(')');
        }
    }
    s
}

/// `$metadata#Leads(StatusId,Status(Description),Total)`: the groups, nested by their
/// navigation, then the aggregates; after `concat(...)`, every member any of its
/// sequences' rows has, each once, in the order they first appear.
pub fn aggregate_context_fragment(result: &Concatenation) -> String {
    fn merge(into: &mut Vec<(String, Layout)>, members: Vec<(String, Layout)>) {
        for (name, m) in members {
            match (into.iter_mut().find(|(n, _)| *n == name), m) {
                (Some((_, Layout::Object(have, _))), Layout::Object(inner, _)) => {
                    merge(have, inner)
                }
                (Some(_), _) => {}
                (None, m) => into.push((name, m)),
            }
        }
    }
    let mut members = Vec::new();
    for ag in &result.branches {
        merge(&mut members, ag.layout());
    }
    let path = result
        .branches
        .first()
        .map_or("", |ag| ag.read().context_path.as_str());
    format!("$metadata#{path}({})", layout_list(&members))
}

/// The members of an aggregated result's rows, as a context URL's select list.
fn result_list(ag: &Aggregation) -> String {
    layout_list(&ag.layout())
}

fn layout_list(members: &[(String, Layout)]) -> String {
    let items: Vec<String> = members
        .iter()
        .map(|(name, m)| match m {
            Layout::Column(_) => name.clone(),
            Layout::Object(inner, _) => format!("{name}({})", layout_list(inner)),
        })
        .collect();
    items.join(",")
}

/// The select list of a 4.0 response (Protocol §10.9): an expanded navigation property
/// appears with its own list only when that expansion has a nested `$select` or
/// `$expand`, bare when it is also selected, and not at all otherwise; expanded
/// references and counts never appear. A list of `*` alone says nothing and is left out.
fn select_list(shape: &Shape) -> Option<String> {
    let mut items: Vec<String> = match &shape.select {
        Some(list) => list
            .iter()
            .map(|p| p.name.to_owned())
            .chain(
                shape
                    .compute
                    .iter()
                    .filter(|c| c.selected)
                    .map(|c| c.name.clone()),
            )
            .collect(),
        None => vec!["*".into()],
    };
    let nested = |s: &Shape| s.select.is_some() || !s.expand.is_empty();
    // A selected navigation property is named bare, unless its expansion lists more.
    items.extend(
        shape
            .select_navs
            .iter()
            .filter(|n| {
                !shape
                    .expand
                    .iter()
                    .any(|e| e.nav.name == **n && !e.is_ref && !e.is_count && nested(&e.shape))
            })
            .map(|n| (*n).to_owned()),
    );
    for e in &shape.expand {
        if let Some(ag) = &e.apply {
            items.push(format!("{}({})", e.nav.name, result_list(ag)));
        } else if !e.is_ref && !e.is_count && nested(&e.shape) {
            let inner = select_list(&e.shape).unwrap_or_else(|| "*".into());
            items.push(format!("{}({inner})", e.nav.name));
        }
    }
    (items != ["*"]).then(|| items.join(","))
}

/// PostgreSQL's `json_build_object` writes `{"a" : 1, "b" : 2}`; this removes the
/// whitespace between tokens, so that its documents read as SQLite's and as the rows
/// `format::row` writes.
pub fn compact(json: &mut String) {
    let (mut in_string, mut escaped) = (false, false);
    json.retain(|c| {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            true
        } else if c == '"' {
            in_string = true;
            true
        } else {
            !matches!(c, ' ' | '\t' | '\n' | '\r')
        }
    });
}

/// Appends `s` as a JSON string.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

pub struct CollectionDoc<'a> {
    pub context: Option<String>,
    pub count: Option<i64>,
    /// `IEEE754Compatible=true`: the count, an Edm.Int64, as a string.
    pub ieee754: bool,
    pub rows: &'a [String],
    pub next_link: Option<String>,
}

impl CollectionDoc<'_> {
    pub fn render(&self) -> Vec<u8> {
        let size: usize = self.rows.iter().map(|r| r.len() + 1).sum::<usize>() + 256;
        let mut out = Vec::with_capacity(size);
        out.push(b'{');
        if let Some(c) = &self.context {
            out.extend_from_slice(b"\"@odata.context\":");
            push_json_str(&mut out, c);
            out.push(b',');
        }
        if let Some(n) = self.count {
            let count = if self.ieee754 {
                format!("\"@odata.count\":\"{n}\",")
            } else {
                format!("\"@odata.count\":{n},")
            };
            out.extend_from_slice(count.as_bytes());
        }
        out.extend_from_slice(b"\"value\":[");
        for (i, r) in self.rows.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(r.as_bytes());
        }
        out.push(b']');
        if let Some(n) = &self.next_link {
            out.extend_from_slice(b",\"@odata.nextLink\":");
            push_json_str(&mut out, n);
        }
        out.push(b'}');
        out
    }
}

/// A single entity: the row object with `@odata.context` put first.
pub fn entity_doc(context: Option<&str>, row: &str) -> Vec<u8> {
    let Some(c) = context else {
        return row.as_bytes().to_vec();
    };
    let body = row.trim_start().strip_prefix('{').unwrap_or(row);
    let mut out = Vec::with_capacity(body.len() + c.len() + 24);
    out.extend_from_slice(b"{\"@odata.context\":");
    push_json_str(&mut out, c);
    if !body.trim_start().starts_with('}') {
        out.push(b',');
    }
    out.extend_from_slice(body.as_bytes());
    out
}

/// `{"@odata.context":..., "value": <json value>}` for a single property; `ty`, its
/// `@odata.type` in full metadata, names the type of the property the request targets.
pub fn property_doc(context: Option<&str>, ty: Option<&str>, value: &serde_json::Value) -> Vec<u8> {
    let mut m = serde_json::Map::new();
    if let Some(c) = context {
        m.insert("@odata.context".into(), c.into());
    }
    if let Some(t) = ty {
        m.insert("@odata.type".into(), t.into());
    }
    m.insert("value".into(), value.clone());
    serde_json::Value::Object(m).to_string().into_bytes()
}

/// The service document listing every entity set.
pub fn service_document(root: &str, level: MetadataLevel) -> Vec<u8> {
    let sets: Vec<serde_json::Value> = MODEL
        .types
        .iter()
        .map(|t| serde_json::json!({"name": t.set, "kind": "EntitySet", "url": t.set}))
        .collect();
    let mut m = serde_json::Map::new();
    if level != MetadataLevel::None {
        m.insert("@odata.context".into(), format!("{root}$metadata").into());
    }
    m.insert("value".into(), sets.into());
    serde_json::Value::Object(m).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::compact;

    #[test]
    fn compacting_keeps_every_string_as_it_is() {
        let mut j =
            r#"{"a" : 1, "b\" : c" : "x , y", "n" : [1, {"k" : null}], "e" : "\\"}"#.to_owned();
        compact(&mut j);
        assert_eq!(
            j,
            r#"{"a":1,"b\" : c":"x , y","n":[1,{"k":null}],"e":"\\"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["b\" : c"], "x , y");
        assert_eq!(v["e"], "\\");
    }
}
