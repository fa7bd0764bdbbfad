//! CSDL XML 4.0 rendering. Plain string building: it cannot fail, so the static
//! document needs no error path; every attribute value and text node is escaped.

use super::{
    container_annotations, entity_set_annotations, property_annotations, target_set, Annotation,
    Value, VOCABULARIES,
};
use crate::model::{EdmType, EntityType, Model, NavProperty, Property};
use quick_xml::escape::escape;

const EDMX_NS: &str = "http://docs.oasis-open.org/odata/ns/edmx";
const EDM_NS: &str = "http://docs.oasis-open.org/odata/ns/edm";
const NO_ATTRS: &[(&str, &str)] = &[];

/// The `$metadata` document as CSDL XML (`Version="4.0"`).
pub fn metadata_xml(model: &Model) -> String {
    let mut x = Xml::default();
    x.out
        .push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.open("edmx:Edmx", &[("Version", "4.0"), ("xmlns:edmx", EDMX_NS)]);
    for v in VOCABULARIES {
        x.open("edmx:Reference", &[("Uri", v.xml_uri)]);
        x.empty(
            "edmx:Include",
            &[("Namespace", v.namespace), ("Alias", v.alias)],
        );
        x.close("edmx:Reference");
    }
    x.open("edmx:DataServices", NO_ATTRS);
    x.open(
        "Schema",
        &[("Namespace", model.namespace), ("xmlns", EDM_NS)],
    );
    for t in &model.types {
        entity_type(&mut x, model, t);
    }
    entity_container(&mut x, model);
    x.close("Schema");
    x.close("edmx:DataServices");
    x.close("edmx:Edmx");
    x.out
}

fn entity_type(x: &mut Xml, model: &Model, t: &EntityType) {
    x.open("EntityType", &[("Name", t.name)]);
    x.open("Key", NO_ATTRS);
    for k in t.key {
        x.empty("PropertyRef", &[("Name", *k)]);
    }
    x.close("Key");
    for p in &t.properties {
        property(x, p);
    }
    for n in &t.navigation {
        navigation(x, model, n);
    }
    x.close("EntityType");
}

fn property(x: &mut Xml, p: &Property) {
    let mut attrs = vec![
        ("Name", p.name.to_string()),
        ("Type", p.ty.name().to_string()),
    ];
    // XML default is Nullable="true", so only the exception is written.
    if !p.nullable {
        attrs.push(("Nullable", "false".to_string()));
    }
    if let Some(len) = p.max_length {
        attrs.push(("MaxLength", len.to_string()));
    }
    if let EdmType::Decimal(precision, scale) = p.ty {
        attrs.push(("Precision", precision.to_string()));
        attrs.push(("Scale", scale.to_string()));
    }
    let annotations = property_annotations(p);
    if annotations.is_empty() {
        x.empty("Property", &attrs);
    } else {
        x.open("Property", &attrs);
        for a in &annotations {
            annotation(x, a);
        }
        x.close("Property");
    }
}

fn navigation(x: &mut Xml, model: &Model, n: &NavProperty) {
    let target = model.qualified(n.target);
    let ty = if n.many {
        format!("Collection({target})")
    } else {
        target
    };
    let mut attrs = vec![("Name", n.name.to_string()), ("Type", ty)];
    if !n.many && !n.nullable {
        attrs.push(("Nullable", "false".to_string()));
    }
    if let Some(partner) = n.partner {
        attrs.push(("Partner", partner.to_string()));
    }
    // Constraints belong to the dependent (single-valued) side; the collection side is
    // described by its partner's constraint.
    if n.many || n.join.is_empty() {
        x.empty("NavigationProperty", &attrs);
        return;
    }
    x.open("NavigationProperty", &attrs);
    for (dependent, principal) in n.join {
        x.empty(
            "ReferentialConstraint",
            &[("Property", *dependent), ("ReferencedProperty", *principal)],
        );
    }
    x.close("NavigationProperty");
}

fn entity_container(x: &mut Xml, model: &Model) {
    x.open("EntityContainer", &[("Name", model.container)]);
    // The XSD wants container annotations before the first entity set.
    for a in &container_annotations() {
        annotation(x, a);
    }
    for t in &model.types {
        let ty = model.qualified(t.name);
        x.open("EntitySet", &[("Name", t.set), ("EntityType", ty.as_str())]);
        for n in &t.navigation {
            if let Some(set) = target_set(model, n.target) {
                x.empty(
                    "NavigationPropertyBinding",
                    &[("Path", n.name), ("Target", set)],
                );
            }
        }
        for a in &entity_set_annotations(t) {
            annotation(x, a);
        }
        x.close("EntitySet");
    }
    x.close("EntityContainer");
}

fn annotation(x: &mut Xml, a: &Annotation) {
    valued(x, "Annotation", ("Term", a.term), &a.value);
}

/// `<Annotation Term=..>` or `<PropertyValue Property=..>`: constants go in an attribute,
/// collections and records in child elements.
fn valued(x: &mut Xml, element: &str, name: (&str, &str), v: &Value) {
    let inline = match v {
        Value::Bool(b) => Some(("Bool", b.to_string())),
        Value::Int(i) => Some(("Int", i.to_string())),
        Value::Enum(ty, member) => Some(("EnumMember", format!("{ty}/{member}"))),
        Value::Strings(_) | Value::Record(_) => None,
    };
    if let Some((attr, value)) = inline {
        x.empty(element, &[name, (attr, value.as_str())]);
        return;
    }
    x.open(element, &[name]);
    match v {
        Value::Strings(items) => {
            x.open("Collection", NO_ATTRS);
            for s in *items {
                x.text_element("String", s);
            }
            x.close("Collection");
        }
        Value::Record(props) => {
            x.open("Record", NO_ATTRS);
            for (prop, value) in props {
                valued(x, "PropertyValue", ("Property", prop), value);
            }
            x.close("Record");
        }
        Value::Bool(_) | Value::Int(_) | Value::Enum(..) => {}
    }
    x.close(element);
}

/// Minimal indenting writer.
#[derive(Default)]
struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    fn start_tag<V: AsRef<str>>(&mut self, name: &str, attrs: &[(&str, V)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            self.out.push_str(&escape(v.as_ref()));
            self.out.push('"');
        }
    }

    fn open<V: AsRef<str>>(&mut self, name: &str, attrs: &[(&str, V)]) {
        self.start_tag(name, attrs);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    fn empty<V: AsRef<str>>(&mut self, name: &str, attrs: &[(&str, V)]) {
        self.start_tag(name, attrs);
        self.out.push_str("/>\n");
    }

    fn text_element(&mut self, name: &str, text: &str) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self.out.push_str(&escape(text));
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }
}
