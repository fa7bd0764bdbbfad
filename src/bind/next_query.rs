//! An expanded collection's options as the query of a request for the collection alone
//! (`Contacts(1)/Leads?...`), which a page of it links to when more rows follow.

use odata_parser::{Expr, QueryOptions};
use std::sync::Arc;

/// The query, and whether it names `$it`: inside `$expand` that is the request's
/// resource, which in a request for the collection alone would be each related entity,
/// so the link names that resource by its URL instead (`with_it_as`).
#[derive(Debug, Clone)]
pub struct NextQuery {
    pub text: Arc<str>,
    pub names_it: bool,
}

/// `options` written as a query: `$levels` (at most 1 here) has no meaning there, and
/// the request's parameter aliases come along.
pub fn next_query(options: &QueryOptions, aliases: &[(String, Expr)]) -> NextQuery {
    let mut o = options.clone();
    o.levels = None;
    for (name, value) in aliases {
        if !o.aliases.iter().any(|(n, _)| n == name) {
            o.aliases.push((name.clone(), value.clone()));
        }
    }
    let text = o.to_string();
    let names_it = !with_it_as(&text, "").1;
    NextQuery {
        text: text.into(),
        names_it,
    }
}

/// `query` with each `$it` outside its string literals replaced by `$root/<url>`, the
/// URL of the entity `$it` named; and whether the query was left as it was.
pub fn with_it_as(query: &str, url: &str) -> (String, bool) {
    let mut out = String::with_capacity(query.len() + url.len());
    let mut unchanged = true;
    // Inside '...' (a quote written twice stays inside) or a JSON "..." with escapes.
    let (mut single, mut double, mut escaped) = (false, false, false);
    let bytes = query.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if double {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                double = false;
            }
        } else if single {
            single = c != b'\'';
        } else if c == b'\'' {
            single = true;
        } else if c == b'"' {
            double = true;
        } else if query[i..].starts_with("$it") && !name_char(bytes.get(i + 3)) {
            out.push_str("$root/");
            out.push_str(url);
            unchanged = false;
            i += 3;
            continue;
        }
        // Whole characters: `i` only ever stops at ASCII bytes outside multi-byte ones.
        let len = query[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&query[i..i + len]);
        i += len;
    }
    (out, unchanged)
}

fn name_char(b: Option<&u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_outside_literals_becomes_the_resources_url() {
        let (q, unchanged) = with_it_as(
            "$filter=Created ge $it/Created and Description ne '$it/x''s $it'&$orderby=$it/Surname",
            "Contacts(5)",
        );
        assert!(!unchanged);
        assert_eq!(
            q,
            "$filter=Created ge $root/Contacts(5)/Created and Description ne '$it/x''s $it'&$orderby=$root/Contacts(5)/Surname"
        );
    }

    #[test]
    fn a_query_without_it_stays() {
        for q in [
            "$select=LeadId",
            "$filter=Description eq '$it'",
            "$filter=x eq {\"a\":\"$it\\\"\"}",
        ] {
            assert_eq!(with_it_as(q, "Contacts(5)"), (q.to_owned(), true));
        }
    }
}
