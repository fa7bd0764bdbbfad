//! CSDL JSON 4.01 rendering. Note the JSON defaults differ from XML: an absent
//! `$Nullable` means *not* nullable, and an absent `$Type` means `Edm.String`.

use super::{
    container_annotations, entity_set_annotations, property_annotations, target_set, Annotation,
    Value, VOCABULARIES,
};
use crate::model::{EdmType, EntityType, Model, NavProperty, Property};
use serde_json::{json, Map, Value as Json};

/// The `$metadata` document as CSDL JSON (`$Version` 4.01).
pub fn metadata_json(model: &Model) -> Json {
    let mut references = Map::new();
    for v in VOCABULARIES {
        references.insert(
            v.json_uri.to_string(),
            json!({ "$Include": [{ "$Namespace": v.namespace, "$Alias": v.alias }] }),
        );
    }
    let mut schema = Map::new();
    for t in &model.types {
        schema.insert(t.name.to_string(), entity_type(model, t));
    }
    schema.insert(model.container.to_string(), entity_container(model));

    let mut doc = Map::new();
    doc.insert("$Version".into(), json!("4.01"));
    doc.insert(
        "$EntityContainer".into(),
        json!(model.qualified(model.container)),
    );
    doc.insert("$Reference".into(), Json::Object(references));
    doc.insert(model.namespace.to_string(), Json::Object(schema));
    Json::Object(doc)
}

fn entity_type(model: &Model, t: &EntityType) -> Json {
    let mut o = Map::new();
    o.insert("$Kind".into(), json!("EntityType"));
    o.insert("$Key".into(), json!(t.key));
    for p in &t.properties {
        o.insert(p.name.to_string(), property(p));
    }
    for n in &t.navigation {
        o.insert(n.name.to_string(), navigation(model, n));
    }
    Json::Object(o)
}

fn property(p: &Property) -> Json {
    let mut o = Map::new();
    if p.ty != EdmType::String {
        o.insert("$Type".into(), json!(p.ty.name()));
    }
    if p.nullable {
        o.insert("$Nullable".into(), json!(true));
    }
    if let Some(len) = p.max_length {
        o.insert("$MaxLength".into(), json!(len));
    }
    if let EdmType::Decimal(precision, scale) = p.ty {
        o.insert("$Precision".into(), json!(precision));
        o.insert("$Scale".into(), json!(scale));
    }
    annotate(&mut o, &property_annotations(p));
    Json::Object(o)
}

fn navigation(model: &Model, n: &NavProperty) -> Json {
    let mut o = Map::new();
    o.insert("$Kind".into(), json!("NavigationProperty"));
    o.insert("$Type".into(), json!(model.qualified(n.target)));
    if n.many {
        o.insert("$Collection".into(), json!(true));
    } else if n.nullable {
        o.insert("$Nullable".into(), json!(true));
    }
    if let Some(partner) = n.partner {
        o.insert("$Partner".into(), json!(partner));
    }
    // Dependent (single-valued) side only, as in the XML document.
    if !n.many && !n.join.is_empty() {
        let constraint: Map<String, Json> = n
            .join
            .iter()
            .map(|(dependent, principal)| (dependent.to_string(), json!(principal)))
            .collect();
        o.insert("$ReferentialConstraint".into(), Json::Object(constraint));
    }
    Json::Object(o)
}

fn entity_container(model: &Model) -> Json {
    let mut o = Map::new();
    o.insert("$Kind".into(), json!("EntityContainer"));
    annotate(&mut o, &container_annotations());
    for t in &model.types {
        let mut set = Map::new();
        set.insert("$Collection".into(), json!(true));
        set.insert("$Type".into(), json!(model.qualified(t.name)));
        let bindings: Map<String, Json> = t
            .navigation
            .iter()
            .filter_map(|n| Some((n.name.to_string(), json!(target_set(model, n.target)?))))
            .collect();
        if !bindings.is_empty() {
            set.insert("$NavigationPropertyBinding".into(), Json::Object(bindings));
        }
        annotate(&mut set, &entity_set_annotations(t));
        o.insert(t.set.to_string(), Json::Object(set));
    }
    Json::Object(o)
}

fn annotate(o: &mut Map<String, Json>, annotations: &[Annotation]) {
    for a in annotations {
        o.insert(format!("@{}", a.term), value(&a.value));
    }
}

fn value(v: &Value) -> Json {
    match v {
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        // JSON CSDL writes enumeration values as the bare member name.
        Value::Enum(_, member) => json!(member),
        Value::Strings(items) => json!(items),
        Value::Record(props) => Json::Object(
            props
                .iter()
                .map(|(name, v)| (name.to_string(), value(v)))
                .collect(),
        ),
    }
}
