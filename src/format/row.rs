//! An entity's JSON object, with its single-valued expands, from the values as
//! PostgreSQL writes them as text (see `Compiler::select_values`): the same values
//! `json_build_object` gives.

use crate::bind::Prop;
use crate::model::EdmType;
use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::sql_types::{Array, Nullable, Text};

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
    /// A collection-valued expand: a JSON array holding an array of values (strings or
    /// null, laid out as `fields`) per related entity.
    Collection {
        name: &'static str,
        fields: Vec<Field>,
    },
}

/// A collection-valued expand whose values were not the JSON the compiler asked for.
#[derive(Debug, thiserror::Error)]
#[error("the values of expanded {name} are not an array of arrays: {reason}")]
pub struct RowError {
    name: &'static str,
    reason: String,
}

/// A `text[]` value as PostgreSQL sends it (binary array format), kept as received so
/// that its values are written out in place: a `String` per value cost an allocation
/// and a UTF-8 check each, a third of the server's time on a page of joined contacts.
#[derive(diesel::deserialize::FromSqlRow)]
pub struct TextArray {
    bytes: Vec<u8>,
    /// Where the first element's length is.
    first: usize,
}

impl FromSql<Array<Nullable<Text>>, Pg> for TextArray {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        TextArray::parse(value.as_bytes().to_vec())
    }
}

impl TextArray {
    /// Checks the array's layout once, so that reading its values cannot run off the end.
    fn parse(bytes: Vec<u8>) -> deserialize::Result<Self> {
        let int = |at: usize| be_i32(&bytes, at);
        // ndim, has-null flag, element type; then (length, lower bound) per dimension.
        let first = match int(0) {
            Some(0) => bytes.len(),
            Some(1) => 20,
            _ => return Err("a text array of one dimension was expected".into()),
        };
        let expected = if first == 20 {
            int(12).unwrap_or(-1)
        } else {
            0
        };
        let (mut n, mut at) = (0, first);
        while at < bytes.len() {
            let len = int(at).ok_or("a text array element was cut short")?;
            at += 4 + usize::try_from(len).unwrap_or(0);
            n += 1;
        }
        if at != bytes.len() || i64::from(expected) != n {
            return Err("a text array did not hold what its header says".into());
        }
        Ok(TextArray { bytes, first })
    }

    /// The array's size as received: with [`names_len`], enough room for its object.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The values in order, `None` for NULL.
    pub fn values(&self) -> impl Iterator<Item = Option<&[u8]>> {
        let mut at = self.first;
        std::iter::from_fn(move || {
            let len = be_i32(&self.bytes, at)?;
            at += 4;
            let Ok(len) = usize::try_from(len) else {
                return Some(None);
            };
            let value = self.bytes.get(at..at + len);
            at += len;
            Some(value)
        })
    }
}

fn be_i32(bytes: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// What an object of `fields` adds to its values' text: each name with its quotes, colon
/// and comma, and the braces. A row's array carries four bytes of length before each
/// value, which covers the quotes a value gets, so the array's size plus this is the
/// object's size unless characters need escaping.
pub fn names_len(fields: &[Field]) -> usize {
    2 + fields
        .iter()
        .map(|f| match f {
            Field::Prop(p) => p.name.len() + 4,
            Field::Object { name, fields } => name.len() + 4 + names_len(fields),
            Field::Collection { name, .. } => name.len() + 6,
        })
        .sum::<usize>()
}

/// `{"Name":value,...}` for `fields` and their `values` (text, `None` for NULL), in
/// order. `ieee754`: Int64 and Decimal as strings (`IEEE754Compatible=true`).
/// `capacity`: the expected size (see [`names_len`]), so the text is not moved as it grows.
pub fn object<'a>(
    fields: &[Field],
    values: impl IntoIterator<Item = Option<&'a [u8]>>,
    ieee754: bool,
    capacity: usize,
) -> Result<String, RowError> {
    let mut out: Vec<u8> = Vec::with_capacity(capacity);
    write_object(&mut out, fields, &mut values.into_iter(), ieee754)?;
    // Values are copied as received; PostgreSQL sends UTF-8, checked here once.
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// The values, one at a time (a trait object: a collection's rows are read from their
/// own arrays, with the same code).
type Values<'v, 'a> = &'v mut dyn Iterator<Item = Option<&'a [u8]>>;

fn write_object(
    out: &mut Vec<u8>,
    fields: &[Field],
    values: Values<'_, '_>,
    ieee754: bool,
) -> Result<(), RowError> {
    out.push(b'{');
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match f {
            Field::Prop(p) => {
                push_key(out, p.name);
                write_value(out, p, values.next().flatten(), ieee754);
            }
            Field::Object { name, fields } => {
                push_key(out, name);
                if values.next().flatten() == Some(b"true") {
                    write_object(out, fields, values, ieee754)?;
                } else {
                    skip(fields, values);
                    out.extend_from_slice(b"null");
                }
            }
            Field::Collection { name, fields } => {
                push_key(out, name);
                let array = values.next().flatten().unwrap_or(b"[]");
                let error = |e: serde_json::Error| RowError {
                    name,
                    reason: e.to_string(),
                };
                // A page cut short ends in a marker object (see `format::next_links`),
                // written as it is; only then are the rows read the slower way.
                let rows: Vec<Item> = match serde_json::from_slice::<Vec<Vec<Option<Cell>>>>(array)
                {
                    Ok(rows) => rows.into_iter().map(Item::Row).collect(),
                    Err(_) => serde_json::from_slice(array).map_err(error)?,
                };
                out.push(b'[');
                for (j, row) in rows.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    match row {
                        Item::Row(row) => {
                            let mut row_values =
                                row.iter().map(|v| v.as_ref().map(|c| c.0.as_bytes()));
                            write_object(out, fields, &mut row_values, ieee754)?;
                        }
                        Item::PageEnd(marker) => {
                            // Writing JSON into a Vec cannot fail.
                            let _ = serde_json::to_writer(&mut *out, marker);
                        }
                    }
                }
                out.push(b']');
            }
        }
    }
    out.push(b'}');
    Ok(())
}

/// One value of a collection's row as PostgreSQL's `to_json` wrote it: borrowed from the
/// text when it holds no escape (most do), decoded into its own string otherwise. A
/// string per value was a fifth of the server's time on a page of contacts with their
/// leads.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct Cell<'a>(#[serde(borrow)] std::borrow::Cow<'a, str>);

/// An item of a collection's array: a row's values, or the marker of a page's end.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Item<'a> {
    Row(#[serde(borrow)] Vec<Option<Cell<'a>>>),
    PageEnd(serde_json::Map<String, serde_json::Value>),
}

/// `"Name":` for a name of the model: an identifier, which JSON never escapes.
fn push_key(out: &mut Vec<u8>, name: &str) {
    debug_assert!(!needs_escape(name.as_bytes()));
    out.reserve(name.len() + 3);
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Passes over the values of an expand that joined no row.
fn skip(fields: &[Field], values: Values<'_, '_>) {
    for f in fields {
        values.next();
        if let Field::Object { fields, .. } = f {
            skip(fields, values);
        }
    }
}

fn write_value(out: &mut Vec<u8>, p: Prop, value: Option<&[u8]>, ieee754: bool) {
    let Some(text) = value else {
        out.extend_from_slice(b"null");
        return;
    };
    let text = match p.ty {
        EdmType::Decimal(..) => trim_decimal(text),
        _ => text,
    };
    match p.ty {
        EdmType::DateTimeOffset => push_timestamp(out, text),
        EdmType::Int64 | EdmType::Decimal(..) if ieee754 => push_string(out, text),
        EdmType::Boolean
        | EdmType::Byte
        | EdmType::Int32
        | EdmType::Int64
        | EdmType::Decimal(..)
        | EdmType::Double
            if is_json_number(text) || text == b"true" || text == b"false" =>
        {
            out.extend_from_slice(text)
        }
        // NaN and infinities, which JSON has no number for: strings, as OData's JSON
        // format writes them.
        EdmType::Decimal(..) | EdmType::Double => push_string(
            out,
            match text {
                b"Infinity" => b"INF",
                b"-Infinity" => b"-INF",
                other => other,
            },
        ),
        _ => push_string(out, text),
    }
}

/// A `numeric` as PostgreSQL writes it with its column's scale (`4339.350000`), without
/// the zeros that scale adds: the number SQLite writes for the same value (`4339.35`).
fn trim_decimal(text: &[u8]) -> &[u8] {
    if !text.contains(&b'.') || text.iter().any(|c| matches!(c, b'e' | b'E')) {
        return text;
    }
    let digits = text.len() - text.iter().rev().take_while(|c| **c == b'0').count();
    let text = &text[..digits];
    text.strip_suffix(b".").unwrap_or(text)
}

/// PostgreSQL's text for a `timestamptz` as the JSON string the JSON form writes with
/// `to_char`: `"YYYY-MM-DDTHH:MM:SSZ"` in UTC, fractional seconds dropped.
fn push_timestamp(out: &mut Vec<u8>, text: &[u8]) {
    // The session's time zone is UTC, so this is the form PostgreSQL sends.
    let utc_seconds = text.len() >= 22
        && text.ends_with(b"+00")
        && text[..19].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
        && (text.len() == 22 || text[19] == b'.');
    if utc_seconds {
        out.push(b'"');
        out.extend_from_slice(&text[..10]);
        out.push(b'T');
        out.extend_from_slice(&text[11..19]);
        out.extend_from_slice(b"Z\"");
        return;
    }
    // Any other offset (a session set otherwise): converted; what does not parse is
    // passed on as it is rather than lost.
    let parsed = std::str::from_utf8(text)
        .ok()
        .and_then(|t| chrono::DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%#z").ok());
    match parsed {
        Some(t) => {
            let utc = t.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ");
            push_string(out, utc.to_string().as_bytes());
        }
        None => push_string(out, text),
    }
}

/// A JSON string, escaped as `json_build_object` and serde_json escape it: quote,
/// backslash and control characters; everything else (UTF-8 included) as it is.
fn push_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    // Most values need no escaping: tested in whole words (the last one overlapping,
    // a short value padded with spaces) and copied at once.
    if !needs_escape(s) {
        out.extend_from_slice(s);
        out.push(b'"');
        return;
    }
    let mut run = 0;
    let mut i = 0;
    while i < s.len() {
        // Eight bytes at a time while none of them needs escaping (most text).
        if let Some(word) = s.get(i..i + 8) {
            let mut w = [0; 8];
            w.copy_from_slice(word);
            if !any_to_escape(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        }
        let b = s[i];
        i += 1;
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s[run..i - 1]);
        run = i;
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
    }
    out.extend_from_slice(&s[run..]);
    out.push(b'"');
}

fn needs_escape(s: &[u8]) -> bool {
    let word = |w: &[u8]| {
        let mut b = [b' '; 8];
        b[..w.len()].copy_from_slice(w);
        any_to_escape(u64::from_le_bytes(b))
    };
    if s.len() < 8 {
        return word(s);
    }
    s.chunks_exact(8).any(word) || word(&s[s.len() - 8..])
}

/// Whether any of the eight bytes is a quote, a backslash or a control character
/// (the zero-byte test of "Bit Twiddling Hacks", exact for "any").
fn any_to_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (control | zero_in(w ^ (ONES * u64::from(b'"'))) | zero_in(w ^ (ONES * u64::from(b'\\')))) != 0
}

/// Whether PostgreSQL's text for a number is also a JSON number.
fn is_json_number(text: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(text) else {
        return false;
    };
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
    use crate::model::{EntityType, MODEL};

    type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

    /// The object `object` writes for these values, parsed back.
    fn written(
        fields: &[Field],
        values: &[Option<&str>],
        ieee754: bool,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let text = object(
            fields,
            values.iter().map(|v| v.map(str::as_bytes)),
            ieee754,
            0,
        )?;
        Ok(serde_json::from_str(&text)?)
    }

    #[test]
    fn decimals_lose_only_the_zeros_their_scale_adds() {
        for (text, want) in [
            ("4339.350000", "4339.35"),
            ("100.000000", "100"),
            ("0.000000", "0"),
            ("-0.500000", "-0.5"),
            ("1200", "1200"),
            ("1000", "1000"),
            ("1.5e+20", "1.5e+20"),
            ("NaN", "NaN"),
        ] {
            assert_eq!(trim_decimal(text.as_bytes()), want.as_bytes(), "{text}");
        }
    }

    fn prop(entity: &'static EntityType, name: &str) -> Result<Field, String> {
        entity
            .property(name)
            .map(Field::Prop)
            .ok_or(format!("{}.{name}", entity.name))
    }

    fn set(name: &str) -> Result<&'static EntityType, String> {
        MODEL.entity_set(name).ok_or(name.to_owned())
    }

    #[test]
    fn text_arrays_are_read_as_postgresql_sends_them_and_malformed_ones_refused() -> TestResult {
        let header = |n: i32| {
            let mut b = Vec::new();
            for v in [1, 1, 25, n, 1] {
                b.extend_from_slice(&i32::to_be_bytes(v));
            }
            b
        };
        let mut ok = header(3);
        for v in [Some("a\"b"), None, Some("")] {
            match v {
                Some(t) => {
                    ok.extend_from_slice(&(t.len() as i32).to_be_bytes());
                    ok.extend_from_slice(t.as_bytes());
                }
                None => ok.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        let array = TextArray::parse(ok.clone())?;
        let values: Vec<Option<&[u8]>> = array.values().collect();
        assert_eq!(values, [Some(&b"a\"b"[..]), None, Some(&b""[..])]);
        let empty = TextArray::parse(vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25])?;
        assert_eq!(empty.values().count(), 0);
        // Cut short, too long, a count that disagrees, two dimensions, nothing at all.
        assert!(TextArray::parse(ok[..ok.len() - 1].to_vec()).is_err());
        assert!(TextArray::parse([ok.clone(), vec![0]].concat()).is_err());
        assert!(TextArray::parse([header(4), ok[20..].to_vec()].concat()).is_err());
        let mut two = ok.clone();
        two[3] = 2;
        assert!(TextArray::parse(two).is_err());
        assert!(TextArray::parse(Vec::new()).is_err());
        let mut huge = header(1);
        huge.extend_from_slice(&i32::MAX.to_be_bytes());
        assert!(TextArray::parse(huge).is_err());
        Ok(())
    }

    #[test]
    fn timestamps_are_written_as_to_char_writes_them() -> TestResult {
        for (pg, json) in [
            ("2024-03-05 10:11:12+00", "2024-03-05T10:11:12Z"),
            ("2024-03-05 10:11:12.987654+00", "2024-03-05T10:11:12Z"),
            ("2024-03-05 23:30:00-02", "2024-03-06T01:30:00Z"),
            ("2024-03-05 10:11:12+05:30", "2024-03-05T04:41:12Z"),
            ("not a time", "not a time"),
        ] {
            let mut out = Vec::new();
            push_timestamp(&mut out, pg.as_bytes());
            assert_eq!(String::from_utf8(out)?, format!("\"{json}\""), "{pg}");
        }
        Ok(())
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() -> TestResult {
        for s in [
            "",
            "plain",
            "O'Brien \"Q\" \\ \n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f} é 😀 </script>",
        ] {
            let mut out = Vec::new();
            push_string(&mut out, s.as_bytes());
            assert_eq!(String::from_utf8(out)?, serde_json::to_string(s)?);
        }
        // Every ASCII character at every place of texts shorter and longer than the
        // eight bytes tested at once, and next to others.
        for c in (0u8..0x80).map(char::from) {
            for len in 1..=20 {
                for at in 0..len {
                    let mut s: String = "abcdefghijklmnopqrst"[..len].into();
                    s.replace_range(at..=at, &c.to_string());
                    let mut out = Vec::new();
                    push_string(&mut out, s.as_bytes());
                    assert_eq!(String::from_utf8(out)?, serde_json::to_string(&s)?, "{s:?}");
                }
            }
        }
        Ok(())
    }

    #[test]
    fn numbers_are_recognised_as_json_does() {
        for yes in ["0", "-1", "12.50", "5073.920000", "1e+20", "-2.5E-3", "807"] {
            assert!(is_json_number(yes.as_bytes()), "{yes}");
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
            assert!(!is_json_number(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn writes_each_type_as_json_build_object_does() -> TestResult {
        let contact = set("Contacts")?;
        let fields = ["ContactId", "Forename", "Title", "Created"]
            .iter()
            .map(|n| prop(contact, n))
            .collect::<Result<Vec<Field>, _>>()?;
        let values = [
            Some("7"),
            Some("O'Brien \"Q\" \\ \n\u{1} é"),
            None,
            Some("2025-08-17T08:40:07Z"),
        ];
        let v = written(&fields, &values, false)?;
        assert_eq!(v["ContactId"], 7);
        assert_eq!(v["Forename"], "O'Brien \"Q\" \\ \n\u{1} é");
        assert!(v["Title"].is_null());
        assert_eq!(v["Created"], "2025-08-17T08:40:07Z");
        let keys: Vec<&String> = v.as_object().ok_or("an object")?.keys().collect();
        assert_eq!(keys, ["ContactId", "Forename", "Title", "Created"]);
        Ok(())
    }

    #[test]
    fn a_collections_values_are_read_escaped_or_not() -> TestResult {
        let (contact, lead) = (set("Contacts")?, set("Leads")?);
        let fields = vec![
            prop(contact, "ContactId")?,
            Field::Collection {
                name: "Leads",
                fields: vec![prop(lead, "LeadId")?, prop(lead, "Description")?],
            },
        ];
        // As `to_json` writes them: a plain value, one with escapes, a NULL.
        let array = r#"[["7","plain"],["8","say \"hi\"\n\u00e9"],["9",null]]"#;
        assert_eq!(
            written(&fields, &[Some("1"), Some(array)], false)?,
            serde_json::json!({"ContactId": 1, "Leads": [
                {"LeadId": 7, "Description": "plain"},
                {"LeadId": 8, "Description": "say \"hi\"\né"},
                {"LeadId": 9, "Description": null},
            ]})
        );
        assert!(written(&fields, &[Some("1"), Some("[[1]]")], false).is_err());
        // Read in place unless decoding changed it.
        let cells: Vec<Vec<Option<Cell>>> = serde_json::from_str(array)?;
        assert!(matches!(
            cells[0][1],
            Some(Cell(std::borrow::Cow::Borrowed("plain")))
        ));
        assert!(matches!(
            cells[1][1],
            Some(Cell(std::borrow::Cow::Owned(_)))
        ));
        Ok(())
    }

    #[test]
    fn an_expand_that_joined_no_row_is_null_and_its_values_are_passed_over() -> TestResult {
        let (lead, contact) = (set("Leads")?, set("Contacts")?);
        let fields = vec![
            prop(lead, "LeadId")?,
            Field::Object {
                name: "Contact",
                fields: vec![
                    prop(contact, "Forename")?,
                    Field::Object {
                        name: "Division",
                        fields: vec![prop(contact, "Surname")?],
                    },
                ],
            },
            prop(lead, "Value")?,
        ];
        let absent = [
            Some("1"),
            Some("false"),
            None,
            Some("false"),
            None,
            Some("2.50"),
        ];
        assert_eq!(
            written(&fields, &absent, false)?,
            serde_json::json!({"LeadId": 1, "Contact": null, "Value": 2.5})
        );
        let present = [
            Some("1"),
            Some("true"),
            Some("Ann"),
            Some("false"),
            None,
            Some("2.50"),
        ];
        assert_eq!(
            written(&fields, &present, true)?,
            serde_json::json!({"LeadId": 1, "Contact": {"Forename": "Ann", "Division": null}, "Value": "2.5"})
        );
        Ok(())
    }
}
