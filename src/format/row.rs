//! An entity's JSON object, with its single-valued expands, from the values as
//! PostgreSQL writes them as text (see `Compiler::select_values`): the same values
//! `json_build_object` gives.

use crate::bind::Prop;
use crate::model::EdmType;

/// What a row's values are, in order.
#[derive(Debug)]
pub enum Field {
    /// One property's value.
    Prop(Prop),
    /// A single-valued expand: `true` or `false` (whether a row joined), then its fields.
    Object {
        name: &'static str,
        fields: Vec<Field>,
    },
}

/// `{"Name":value,...}` for `fields` and their `values` (text, `None` for NULL), in
/// order. `ieee754`: Int64 and Decimal as strings (`IEEE754Compatible=true`).
pub fn object(fields: &[Field], values: &[Option<String>], ieee754: bool) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(32 * values.len());
    write_object(&mut out, fields, &mut values.iter(), ieee754);
    // Only str and ASCII were written, so this is UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

type Values<'a> = std::slice::Iter<'a, Option<String>>;

fn write_object(out: &mut Vec<u8>, fields: &[Field], values: &mut Values<'_>, ieee754: bool) {
    out.push(b'{');
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match f {
            Field::Prop(p) => {
                push_string(out, p.name);
                out.push(b':');
                write_value(out, p, values.next().and_then(Option::as_deref), ieee754);
            }
            Field::Object { name, fields } => {
                push_string(out, name);
                out.push(b':');
                if values.next().and_then(Option::as_deref) == Some("true") {
                    write_object(out, fields, values, ieee754);
                } else {
                    skip(fields, values);
                    out.extend_from_slice(b"null");
                }
            }
        }
    }
    out.push(b'}');
}

/// Passes over the values of an expand that joined no row.
fn skip(fields: &[Field], values: &mut Values<'_>) {
    for f in fields {
        values.next();
        if let Field::Object { fields, .. } = f {
            skip(fields, values);
        }
    }
}

fn write_value(out: &mut Vec<u8>, p: Prop, value: Option<&str>, ieee754: bool) {
    let Some(text) = value else {
        out.extend_from_slice(b"null");
        return;
    };
    match p.ty {
        EdmType::Int64 | EdmType::Decimal(..) if ieee754 => push_string(out, text),
        EdmType::Boolean
        | EdmType::Byte
        | EdmType::Int32
        | EdmType::Int64
        | EdmType::Decimal(..)
        | EdmType::Double
            if is_json_number(text) || text == "true" || text == "false" =>
        {
            out.extend_from_slice(text.as_bytes())
        }
        // NaN and infinities, which JSON has no number for, as json_build_object writes
        // them: strings.
        _ => push_string(out, text),
    }
}

fn push_string(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Whether PostgreSQL's text for a number is also a JSON number.
fn is_json_number(text: &str) -> bool {
    let t = text.strip_prefix('-').unwrap_or(text);
    let (int, rest) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    if int.is_empty() || (int.len() > 1 && int.starts_with('0')) {
        return false;
    }
    let (frac_ok, rest) = match rest.strip_prefix('.') {
        Some(r) => {
            let n = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            (n > 0, &r[n..])
        }
        None => (true, rest),
    };
    let exp_ok = match rest.strip_prefix(['e', 'E']) {
        Some(r) => {
            let r = r.strip_prefix(['+', '-']).unwrap_or(r);
            !r.is_empty() && r.chars().all(|c| c.is_ascii_digit())
        }
        None => rest.is_empty(),
    };
    frac_ok && exp_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MODEL;

    #[test]
    fn numbers_are_recognised_as_json_does() {
        for yes in ["0", "-1", "12.50", "5073.920000", "1e+20", "-2.5E-3", "807"] {
            assert!(is_json_number(yes), "{yes}");
        }
        for no in [
            "NaN",
            "Infinity",
            "-Infinity",
            "",
            "-",
            "01",
            "1.",
            ".5",
            "1e",
            "t",
        ] {
            assert!(!is_json_number(no), "{no}");
        }
    }

    #[test]
    fn writes_each_type_as_json_build_object_does() {
        let contact = MODEL.entity_set("Contacts").expect("Contacts");
        let props: Vec<Prop> = ["ContactId", "Forename", "Title", "Created"]
            .iter()
            .map(|n| contact.property(n).expect(n))
            .collect();
        let values = [
            Some("7".to_owned()),
            Some("O'Brien \"Q\" \\ \n\u{1} é".to_owned()),
            None,
            Some("2025-08-17T08:40:07Z".to_owned()),
        ];
        let fields: Vec<Field> = props.into_iter().map(Field::Prop).collect();
        let text = object(&fields, &values, false);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["ContactId"], 7);
        assert_eq!(v["Forename"], "O'Brien \"Q\" \\ \n\u{1} é");
        assert!(v["Title"].is_null());
        assert_eq!(v["Created"], "2025-08-17T08:40:07Z");
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["ContactId", "Forename", "Title", "Created"]);
    }

    #[test]
    fn an_expand_that_joined_no_row_is_null_and_its_values_are_passed_over() {
        let lead = MODEL.entity_set("Leads").expect("Leads");
        let contact = MODEL.entity_set("Contacts").expect("Contacts");
        let f = |e: &'static crate::model::EntityType, n: &str| Field::Prop(e.property(n).unwrap());
        let fields = vec![
            f(lead, "LeadId"),
            Field::Object {
                name: "Contact",
                fields: vec![
                    f(contact, "Forename"),
                    Field::Object {
                        name: "Division",
                        fields: vec![f(contact, "Surname")],
                    },
                ],
            },
            f(lead, "Value"),
        ];
        let some = |s: &str| Some(s.to_owned());
        let absent = [
            some("1"),
            some("false"),
            None,
            some("false"),
            None,
            some("2.50"),
        ];
        let v: serde_json::Value = serde_json::from_str(&object(&fields, &absent, false)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"LeadId": 1, "Contact": null, "Value": 2.5})
        );
        let present = [
            some("1"),
            some("true"),
            some("Ann"),
            some("false"),
            None,
            some("2.50"),
        ];
        let v: serde_json::Value = serde_json::from_str(&object(&fields, &present, true)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"LeadId": 1, "Contact": {"Forename": "Ann", "Division": null}, "Value": "2.50"})
        );
    }
}
