//! OData request/response header values (OData Protocol §8): `Prefer` preferences and
//! the syntax of the other OData headers. Offsets are into the header value.

use crate::error::{ErrorKind, ParseError};

/// One preference of a `Prefer` header, e.g. `odata.maxpagesize=50` or
/// `odata.callback;url="..."`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preference {
    /// Lower-cased, without the optional `odata.` prefix: `maxpagesize`, `return`, ...
    pub name: String,
    /// The value after `=`, unquoted.
    pub value: Option<String>,
    /// Parameters after `;`, e.g. `("url", Some("http://..."))`.
    pub params: Vec<(String, Option<String>)>,
}

fn err(offset: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        kind: ErrorKind::Syntax,
        option: "header".into(),
        offset,
        message: message.into(),
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn ows(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

/// `token` or `"quoted string"`; returns (rest, value).
fn word(s: &str) -> Option<(&str, String)> {
    if let Some(body) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((k, c)) = chars.next() {
            match c {
                '"' => return Some((&body[k + 1..], out)),
                '\\' => out.push(chars.next()?.1),
                _ => out.push(c),
            }
        }
        return None;
    }
    let n = s.find(|c: char| !is_tchar(c)).unwrap_or(s.len());
    (n > 0).then(|| (&s[n..], s[..n].to_string()))
}

/// `name [ BWS = BWS value ]`
fn pair(s: &str) -> Option<(&str, String, Option<String>)> {
    let n = s
        .find(|c: char| !is_tchar(c) || c == '=')
        .unwrap_or(s.len());
    if n == 0 {
        return None;
    }
    let name = s[..n].to_string();
    let rest = &s[n..];
    match ows(rest).strip_prefix('=') {
        Some(v) => {
            let (rest, value) = word(ows(v))?;
            Some((rest, name, Some(value)))
        }
        None => Some((rest, name, None)),
    }
}

/// Parses the value of a `Prefer` header (comma-separated preferences) and checks the
/// values of the preferences OData defines.
pub fn parse_prefer(value: &str) -> Result<Vec<Preference>, ParseError> {
    let mut out = Vec::new();
    let mut s = ows(value);
    loop {
        let at = value.len() - s.len();
        let (rest, raw_name, v) = pair(s).ok_or_else(|| err(at, "expected a preference name"))?;
        let lower = raw_name.to_ascii_lowercase();
        let name = lower.strip_prefix("odata.").unwrap_or(&lower).to_string();
        let mut params = Vec::new();
        let mut r = rest;
        while let Some(p) = ows(r).strip_prefix(';') {
            let p = ows(p);
            let (rest, k, v) =
                pair(p).ok_or_else(|| err(value.len() - p.len(), "expected a parameter"))?;
            params.push((k.to_ascii_lowercase(), v));
            r = rest;
        }
        check_preference(&name, v.as_deref(), &params).map_err(|m| err(at, m))?;
        out.push(Preference {
            name,
            value: v,
            params,
        });
        let t = ows(r);
        match t.strip_prefix(',') {
            Some(more) => s = ows(more),
            None if t.is_empty() => return Ok(out),
            None => {
                return Err(err(
                    value.len() - t.len(),
                    "expected `,` between preferences",
                ))
            }
        }
    }
}

fn check_preference(
    name: &str,
    value: Option<&str>,
    params: &[(String, Option<String>)],
) -> Result<(), String> {
    let bad = |what: &str| Err(format!("`{name}` {what}"));
    match (name, value) {
        ("allow-entityreferences" | "respond-async" | "track-changes", Some(_)) => {
            bad("takes no value")
        }
        ("callback", _) => match params.iter().find(|(k, _)| k == "url") {
            Some((_, Some(u))) if u.contains(':') => Ok(()),
            _ => bad("needs `;url=\"...\"`"),
        },
        ("continue-on-error", Some(v)) if v != "true" && v != "false" => {
            bad("is `true` or `false`")
        }
        ("include-annotations", Some(v)) => {
            if v.split(',').all(annotation_filter) {
                Ok(())
            } else {
                bad("expects e.g. `\"*\"`, `\"-Ns.*\"` or `\"Ns.Term#qualifier\"`")
            }
        }
        ("include-annotations" | "maxpagesize" | "omit-values" | "return" | "wait", None) => {
            bad("needs a value")
        }
        ("maxpagesize", Some(v))
            if v.starts_with('0') || !v.bytes().all(|b| b.is_ascii_digit()) || v.is_empty() =>
        {
            bad("must be a positive integer")
        }
        ("omit-values", Some(v)) if v != "nulls" && v != "defaults" => {
            bad("is `nulls` or `defaults`")
        }
        ("return", Some(v)) if v != "representation" && v != "minimal" => {
            bad("is `representation` or `minimal`")
        }
        ("wait", Some(v)) if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) => {
            bad("is a number of seconds")
        }
        _ => Ok(()),
    }
}

/// `[-] ( * / Ns.* / Ns.Term ) [#qualifier]`
fn annotation_filter(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (body, qualifier) = match s.split_once('#') {
        Some((b, q)) => (b, Some(q)),
        None => (s, None),
    };
    if let Some(q) = qualifier {
        if !matches!(crate::lex::identifier(q), Ok(("", _))) {
            return false;
        }
    }
    if body == "*" {
        return true;
    }
    let body = body.strip_suffix(".*").map_or(body, |ns| ns);
    let star = s.contains(".*");
    match crate::lex::qualified(body) {
        Ok(("", q)) => star || q.contains('.'),
        _ => false,
    }
}

/// Checks a whole OData header line `Name: value` for the headers OData defines
/// (`OData-Version`, `OData-MaxVersion`, `Prefer`, `OData-Isolation`, `OData-EntityId`,
/// `OData-Error`, `Content-ID`, `AsyncResult`).
pub fn check_header(line: &str) -> Result<(), ParseError> {
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| err(0, "expected `Name: value`"))?;
    let v = ows(value);
    let at = line.len() - v.len();
    let ok = match name.to_ascii_lowercase().as_str() {
        "odata-version" => {
            matches!(v, "4.0" | "4.01")
                || (v.len() == 4
                    && v.starts_with("4.0")
                    && v.ends_with(|c: char| c.is_ascii_digit() && c != '0'))
        }
        "odata-maxversion" => {
            matches!(v.split_once('.'), Some((a, b)) if !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()))
        }
        "prefer" => {
            return parse_prefer(v)
                .map(|_| ())
                .map_err(|e| err(at + e.offset, e.message))
        }
        "odata-isolation" | "isolation" => v.eq_ignore_ascii_case("snapshot"),
        "odata-entityid" => v.contains(':') && !v.contains(char::is_whitespace),
        "odata-error" => v.starts_with("{\"code\":"),
        "content-id" => is_request_id(v),
        "asyncresult" => v.len() == 3 && v.bytes().all(|b| b.is_ascii_digit()),
        _ => return Err(err(0, format!("unknown OData header `{name}`"))),
    };
    if ok {
        Ok(())
    } else {
        Err(err(at, format!("invalid value for `{name}`")))
    }
}

/// `request-id = 1*unreserved` (batch request ids, `Content-ID`).
pub fn is_request_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer() {
        let p = parse_prefer("odata.allow-entityreferences,odata.maxpagesize=20").unwrap();
        assert_eq!(p[1].name, "maxpagesize");
        assert_eq!(p[1].value.as_deref(), Some("20"));
        let p = parse_prefer("odata.callback;url=\"http://x/y\"").unwrap();
        assert_eq!(p[0].params, vec![("url".into(), Some("http://x/y".into()))]);
        assert!(parse_prefer("wait = 0").is_ok());
        assert!(parse_prefer("maxpagesize=0").is_err());
        assert!(parse_prefer("odata.include-annotations=\"Namespace\"").is_err());
        assert!(parse_prefer("odata.include-annotations=\"-Ns.*#q\"").is_ok());
    }

    #[test]
    fn headers() {
        assert!(check_header("odata-maxversion: 4.01").is_ok());
        assert!(check_header("OData-Version: 5").is_err());
        assert!(check_header("AsyncResult: 200").is_ok());
    }
}
