//! An entity's JSON object from its property values as PostgreSQL writes them as text
//! (see `Compiler::select_values`), with the same values `json_build_object` gives.

use crate::bind::Prop;
use crate::model::EdmType;

/// `{"Name":value,...}` for `props` and their `values` (text, `None` for NULL), in order.
/// `ieee754`: Int64 and Decimal as strings (`IEEE754Compatible=true`).
pub fn object(props: &[Prop], values: &[Option<String>], ieee754: bool) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(32 * props.len());
    out.push(b'{');
    for (i, (p, v)) in props.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_string(&mut out, p.name);
        out.push(b':');
        match v {
            None => out.extend_from_slice(b"null"),
            Some(text) => match p.ty {
                EdmType::Int64 | EdmType::Decimal(..) if ieee754 => push_string(&mut out, text),
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
                // NaN and infinities, which JSON has no number for, as json_build_object
                // writes them: strings.
                _ => push_string(&mut out, text),
            },
        }
    }
    out.push(b'}');
    // Only str and ASCII were written, so this is UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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
        let text = object(&props, &values, false);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["ContactId"], 7);
        assert_eq!(v["Forename"], "O'Brien \"Q\" \\ \n\u{1} é");
        assert!(v["Title"].is_null());
        assert_eq!(v["Created"], "2025-08-17T08:40:07Z");
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["ContactId", "Forename", "Title", "Created"]);
    }
}
