//! CSDL JSON 4.01 rendering. Note the JSON defaults differ from XML: an absent
//! `$Nullable` means *not* nullable, and an absent `$Type` means `Edm.String`.

use super::{
    container_annotations, entity_set_annotations, property_annotations, target_set, Annotation,
    Value, VOCABULARIES,
};
use crate::model::{EdmType, EntityType, Model, NavProperty, Property};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Value as Json};

/// The `$metadata` document as CSDL JSON (`$Version` 4.01).
///
/// A `serde_json::Value` object sorts its members; [`metadata_json_text`] keeps the
/// document order (`$Version` first, properties in model order) for serving.
pub fn metadata_json(model: &Model) -> Json {
    document(model).into_value()
}

/// [`metadata_json`] serialized compactly in document order.
pub fn metadata_json_text(model: &Model) -> String {
    let doc = document(model);
    // Only string keys and JSON values, so serialization cannot fail; fall back to the
    // sorted form rather than panic should that ever change.
    serde_json::to_string(&doc).unwrap_or_else(|_| doc.into_value().to_string())
}

fn document(model: &Model) -> Obj {
    let mut references = Obj::default();
    for v in VOCABULARIES {
        references.put(
            v.json_uri,
            json!({ "$Include": [{ "$Namespace": v.namespace, "$Alias": v.alias }] }),
        );
    }
    let mut schema = Obj::default();
    for t in &model.types {
        schema.put(t.name, entity_type(model, t));
    }
    schema.put(model.container, entity_container(model));

    let mut doc = Obj::default();
    doc.put("$Version", json!("4.01"));
    doc.put("$EntityContainer", json!(model.qualified(model.container)));
    doc.put("$Reference", references);
    doc.put(model.namespace, schema);
    doc
}

fn entity_type(model: &Model, t: &EntityType) -> Obj {
    let mut o = Obj::default();
    o.put("$Kind", json!("EntityType"));
    o.put("$Key", json!(t.key));
    for p in &t.properties {
        o.put(p.name, property(p));
    }
    for n in &t.navigation {
        o.put(n.name, navigation(model, n));
    }
    o
}

fn property(p: &Property) -> Obj {
    let mut o = Obj::default();
    if p.ty != EdmType::String {
        o.put("$Type", json!(p.ty.name()));
    }
    if p.nullable {
        o.put("$Nullable", json!(true));
    }
    if let Some(len) = p.max_length {
        o.put("$MaxLength", json!(len));
    }
    if let EdmType::Decimal(precision, scale) = p.ty {
        o.put("$Precision", json!(precision));
        o.put("$Scale", json!(scale));
    }
    annotate(&mut o, &property_annotations(p));
    o
}

fn navigation(model: &Model, n: &NavProperty) -> Obj {
    let mut o = Obj::default();
    o.put("$Kind", json!("NavigationProperty"));
    o.put("$Type", json!(model.qualified(n.target)));
    if n.many {
        o.put("$Collection", json!(true));
    } else if n.nullable {
        o.put("$Nullable", json!(true));
    }
    if let Some(partner) = n.partner {
        o.put("$Partner", json!(partner));
    }
    // Dependent (single-valued) side only, as in the XML document.
    if !n.many && !n.join.is_empty() {
        let mut constraint = Obj::default();
        for (dependent, principal) in n.join {
            constraint.put(*dependent, json!(principal));
        }
        o.put("$ReferentialConstraint", constraint);
    }
    o
}

fn entity_container(model: &Model) -> Obj {
    let mut o = Obj::default();
    o.put("$Kind", json!("EntityContainer"));
    annotate(&mut o, &container_annotations());
    for t in &model.types {
        let mut set = Obj::default();
        set.put("$Collection", json!(true));
        set.put("$Type", json!(model.qualified(t.name)));
        let mut bindings = Obj::default();
        for n in &t.navigation {
            if let Some(target) = target_set(model, n.target) {
                bindings.put(n.name, json!(target));
            }
        }
        if !bindings.0.is_empty() {
            set.put("$NavigationPropertyBinding", bindings);
        }
        annotate(&mut set, &entity_set_annotations(t));
        o.put(t.set, set);
    }
    o
}

fn annotate(o: &mut Obj, annotations: &[Annotation]) {
    for a in annotations {
        o.put(format!("@{}", a.term), value(&a.value));
    }
}

fn value(v: &Value) -> Node {
    match v {
        Value::Bool(b) => json!(b).into(),
        Value::Int(i) => json!(i).into(),
        // JSON CSDL writes enumeration values as the bare member name.
        Value::Enum(_, member) => json!(member).into(),
        Value::Strings(items) => json!(items).into(),
        Value::Record(props) => {
            let mut o = Obj::default();
            for (name, v) in props {
                o.put(*name, value(v));
            }
            o.into()
        }
    }
}

/// JSON object that keeps insertion order. (`serde_json::Map` sorts unless the crate-wide
/// `preserve_order` feature is on, which would change every other map in the server.)
#[derive(Default)]
struct Obj(Vec<(String, Node)>);

enum Node {
    Leaf(Json),
    Obj(Obj),
}

impl Obj {
    fn put(&mut self, key: impl Into<String>, value: impl Into<Node>) {
        self.0.push((key.into(), value.into()));
    }

    fn into_value(self) -> Json {
        Json::Object(
            self.0
                .into_iter()
                .map(|(k, v)| (k, v.into_value()))
                .collect(),
        )
    }
}

impl Node {
    fn into_value(self) -> Json {
        match self {
            Node::Leaf(v) => v,
            Node::Obj(o) => o.into_value(),
        }
    }
}

impl From<Json> for Node {
    fn from(v: Json) -> Self {
        Node::Leaf(v)
    }
}

impl From<Obj> for Node {
    fn from(o: Obj) -> Self {
        Node::Obj(o)
    }
}

impl Serialize for Obj {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Leaf(v) => v.serialize(s),
            Node::Obj(o) => o.serialize(s),
        }
    }
}
