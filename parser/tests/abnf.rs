//! Runs the OASIS ABNF test cases (odata-abnf-testcases.json and the temporal ones) against
//! the parser's entry points. Positive cases must parse, negative cases (`FailAt`) must fail.
//! Cases we deliberately do not support are listed in `data/abnf-excluded.txt` as
//! `Name<TAB>Input (JSON string)<TAB>reason`.

use odata_parser::*;
use serde_json::Value;

/// Service roots used by the absolute URLs in the test cases.
const ROOTS: &[&str] = &["MyService/", "service/", "OData/OData.svc/", "serviceRoot/"];

fn opts(input: &str) -> Result<QueryOptions, String> {
    parse_query_options(input).map_err(|e| e.to_string())
}

fn expr(input: &str) -> Result<Expr, String> {
    parse_expr(input).map_err(|e| e.to_string())
}

fn literal(input: &str) -> Result<Literal, String> {
    match expr(input)? {
        Expr::Literal(l, _) => Ok(l),
        other => Err(format!("not a literal: {other:?}")),
    }
}

/// Exactly one system option (or custom option) was given.
fn single_option(q: &QueryOptions) -> bool {
    let n = [
        q.select.is_some(),
        q.expand.is_some(),
        q.filter.is_some(),
        q.orderby.is_some(),
        q.top.is_some(),
        q.skip.is_some(),
        q.count.is_some(),
        q.search.is_some(),
        q.compute.is_some(),
        q.skiptoken.is_some(),
        q.format.is_some(),
        q.id.is_some(),
        q.index.is_some(),
        q.schemaversion.is_some(),
        q.deltatoken.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count()
        + q.custom.len()
        + q.aliases.len()
        + q.temporal.len();
    n == 1
}

fn want(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("not a {what}"))
    }
}

/// Payload values (request bodies) are never percent-encoded.
fn payload(input: &str) -> Result<Literal, String> {
    if input.contains('%') {
        return Err("percent-encoding in a payload value".into());
    }
    literal(input)
}

fn absolute(input: &str) -> Result<(), String> {
    let (scheme, rest) = input.split_once("://").ok_or("missing `://`")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    {
        return Err("bad scheme".into());
    }
    let path = rest.find('/').map_or("", |k| &rest[k + 1..]);
    let path = ROOTS
        .iter()
        .find_map(|r| path.strip_prefix(r))
        .unwrap_or(path);
    relative(path)
}

fn relative(input: &str) -> Result<(), String> {
    if input.starts_with("$metadata#") {
        return check_context_url(input).map_err(|e| e.to_string());
    }
    parse_target(input).map(|_| ()).map_err(|e| e.to_string())
}

fn check(rule: &str, input: &str) -> Result<(), String> {
    match rule {
        "odataUri" => absolute(input),
        "odataRelativeUri" => relative(input),
        "resourcePath" => parse(input, None).map(|_| ()).map_err(|e| e.to_string()),
        "queryOptions" => opts(input).map(|_| ()),
        "filter" | "expand" | "select" | "orderby" | "orderBy" | "search" | "compute"
        | "skiptoken" | "deltatoken" | "systemQueryOption" => {
            let q = opts(input)?;
            want(
                single_option(&q) && q.custom.is_empty(),
                "single system query option",
            )
        }
        "customQueryOption" => {
            let q = opts(input)?;
            want(
                single_option(&q) && q.custom.len() == 1,
                "custom query option",
            )
        }
        "commonExpr" | "boolCommonExpr" | "boolcommonExpr" | "notExpr" | "isofExpr" => {
            expr(input).map(|_| ())
        }
        "firstMemberExpr" | "propertyPathExpr" => {
            want(matches!(expr(input)?, Expr::Member(_)), "member path")
        }
        "anyExpr" => expr(&format!("X/{input}")).map(|_| ()),
        "entitySetName" | "odataIdentifier" => {
            match parse(input, None).map_err(|e| e.to_string())?.path {
                ResourcePath::Segments(s) => want(
                    matches!(s.as_slice(), [PathSegment::Name { name, key: None, .. }] if !name.contains('.')),
                    "identifier",
                ),
                _ => Err("not an identifier".into()),
            }
        }
        "functionParameter" => parse(&format!("F({input})"), None)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        "primitiveLiteral" => literal(input).map(|_| ()),
        "null" => want(literal(input)? == Literal::Null, "null"),
        "boolean" => want(matches!(literal(input)?, Literal::Bool(_)), "boolean"),
        "stringLiteral" => want(matches!(literal(input)?, Literal::String(_)), "string"),
        "stringInUrl" => want(
            matches!(expr(&format!("[{input}]"))?, Expr::List(v) if matches!(v.as_slice(), [Expr::Literal(Literal::String(_), _)])),
            "JSON string",
        ),
        "binaryLiteral" => want(matches!(literal(input)?, Literal::Binary(_)), "binary"),
        "durationLiteral" => want(
            matches!(literal(input)?, Literal::Duration(_) | Literal::String(_)),
            "duration",
        ),
        "enumLiteral" => want(
            matches!(literal(input)?, Literal::Enum { .. } | Literal::String(_)),
            "enum",
        ),
        "guid" => want(matches!(literal(input)?, Literal::Guid(_)), "guid"),
        "date" => want(matches!(literal(input)?, Literal::Date(_)), "date"),
        "dateTimeOffsetLiteral" | "dateTimeOffsetValueInUrl" => want(
            matches!(literal(input)?, Literal::DateTimeOffset(_)),
            "date-time",
        ),
        "timeOfDayLiteral" => want(matches!(literal(input)?, Literal::TimeOfDay(_)), "time"),
        "decimalLiteral" | "doubleLiteral" | "singleLiteral" => want(
            matches!(
                literal(input)?,
                Literal::Int(_) | Literal::Decimal(_) | Literal::Double(_)
            ),
            "number",
        ),
        "sbyteLiteral" | "int16Literal" | "int32Literal" | "int64Literal" => {
            want(matches!(literal(input)?, Literal::Int(_)), "integer")
        }
        r if r.starts_with("geography") => want(
            matches!(literal(input)?, Literal::Geography(_)),
            "geography",
        ),
        r if r.starts_with("geometry") => {
            want(matches!(literal(input)?, Literal::Geometry(_)), "geometry")
        }
        // Payload (body) values: same lexical forms, never percent-encoded.
        "booleanValue" => want(input == "true" || input == "false", "lower-case boolean"),
        "dateValue" => want(matches!(payload(input)?, Literal::Date(_)), "date"),
        "dateTimeOffsetValue" => want(
            matches!(payload(input)?, Literal::DateTimeOffset(_)),
            "date-time",
        ),
        "timeOfDayValue" => want(matches!(payload(input)?, Literal::TimeOfDay(_)), "time"),
        "durationValue" => want(matches!(payload(input)?, Literal::Duration(_)), "duration"),
        "decimalValue" | "doubleValue" | "singleValue" => want(
            matches!(
                payload(input)?,
                Literal::Int(_) | Literal::Decimal(_) | Literal::Double(_)
            ),
            "number",
        ),
        "byteValue" | "sbyteValue" | "int16Value" | "int32Value" | "int64Value" => {
            want(matches!(payload(input)?, Literal::Int(_)), "integer")
        }
        "enumValue" => {
            if input.contains('%') {
                return Err("percent-encoding in a payload value".into());
            }
            want(
                matches!(literal(&format!("T.E'{input}'"))?, Literal::Enum { .. }),
                "enum",
            )
        }
        "primitiveValue" => {
            if input.contains('%') {
                return Err("percent-encoding in a payload value".into());
            }
            let ok = matches!(expr(input), Ok(Expr::Literal(..)))
                || matches!(expr(input), Ok(Expr::Member(m)) if m.segments.len() == 1)
                || literal(&format!("geography'{input}'")).is_ok()
                || literal(&format!("binary'{input}'")).is_ok();
            want(ok, "primitive value")
        }
        "searchExpr" => {
            let q = opts(&format!("$search={input}"))?;
            want(q.search.is_some(), "search expression")
        }
        // Other layers of the protocol that the server shares with the parser crate.
        "context" => check_context_url(input).map_err(|e| e.to_string()),
        "header" => headers::check_header(input).map_err(|e| e.to_string()),
        "prefer" => headers::check_header(input).map_err(|e| e.to_string()),
        "preference" | "includeAnnotationsPreference" | "maxpagesizePreference" => {
            let p = headers::parse_prefer(input).map_err(|e| e.to_string())?;
            want(p.len() == 1, "single preference")
        }
        "request-id" => want(headers::is_request_id(input), "request id"),
        other => Err(format!("no entry point for rule `{other}`")),
    }
}

fn cases(file: &str) -> Vec<Value> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["TestCases"].as_array().cloned().unwrap_or_default()
}

fn excluded() -> Vec<(String, String)> {
    let path = format!(
        "{}/tests/data/abnf-excluded.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("//"))
        .map(|l| {
            let mut parts = l.split('\t');
            let name = parts.next().unwrap_or_default().to_string();
            let input: String = serde_json::from_str(parts.next().unwrap_or("\"\"")).unwrap();
            assert!(
                parts.next().is_some_and(|r| !r.trim().is_empty()),
                "exclusion without a reason: {l}"
            );
            (name, input)
        })
        .collect()
}

#[test]
fn abnf_conformance() {
    let excluded = excluded();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut used = vec![false; excluded.len()];
    let mut report = Vec::new();
    for file in ["odata-abnf-testcases.json", "odata-temporal-testcases.json"] {
        for case in cases(file) {
            let name = case["Name"].as_str().unwrap_or_default();
            let rule = case["Rule"].as_str().unwrap_or_default();
            let input = case["Input"].as_str().unwrap_or_default();
            let negative = case.get("FailAt").is_some();
            if let Some(k) = excluded.iter().position(|(n, i)| n == name && i == input) {
                used[k] = true;
                skipped += 1;
                continue;
            }
            // A hostile-input guard too: nothing may panic.
            let result = std::panic::catch_unwind(|| check(rule, input))
                .unwrap_or_else(|_| Err("PANIC".into()));
            match (negative, result) {
                (false, Ok(())) | (true, Err(_)) => passed += 1,
                (false, Err(e)) => {
                    failed += 1;
                    report.push(format!("FAIL  {rule} {name}: {input:?} should parse: {e}"));
                }
                (true, Ok(())) => {
                    failed += 1;
                    report.push(format!(
                        "FAIL  {rule} {name}: {input:?} should fail at {}",
                        case["FailAt"]
                    ));
                }
            }
        }
    }
    for line in &report {
        println!("{line}");
    }
    for ((name, input), u) in excluded.iter().zip(&used) {
        if !u {
            println!("stale exclusion: {name} {input:?}");
        }
    }
    println!("{passed} passed, {failed} failed, {skipped} excluded");
    let total = passed + failed + skipped;
    assert!(
        skipped * 20 < total,
        "too many exclusions: {skipped} of {total}"
    );
    assert_eq!(failed, 0, "ABNF test cases failed");
}
