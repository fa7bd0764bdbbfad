//! `concat(...)` in `$apply` on SQLite and (when configured) PostgreSQL: its rows are
//! each sequence's rows, as the sequence asked alone gives them, one after the other;
//! `$top`, `$skip`, `$count`, `/$count` and server-driven paging count them together;
//! what it does not take is 501 and what is malformed 400; and each workspace
//! concatenates its own rows only.

mod common;

use common::{backends, rows, rows_with, spawn_seeded, TestApp};
use serde_json::Value;

/// `(transformations before concat, its sequences)`, over `Leads` unless a path is given.
const CASES: &[(&str, &str, &[&str])] = &[
    (
        "Leads",
        "",
        &[
            "groupby((Status/Code),aggregate(Value with sum as Total))",
            "aggregate(Value with sum as Total)",
        ],
    ),
    (
        "Leads",
        "filter(Guttometer ge 50)/",
        &[
            "groupby((StatusId),aggregate($count as N))",
            "aggregate($count as N)",
            "groupby((StatusId),topcount(1,Value)/aggregate(Value with sum as Best))",
        ],
    ),
    (
        "Leads",
        "compute(year(Created) as Year)/",
        &[
            "groupby((Year),aggregate(Value with average as A))/orderby(A desc)/top(3)",
            "groupby((rollup(Year,StatusId)),aggregate($count as N))",
        ],
    ),
    (
        "Contacts",
        "",
        &[
            "groupby((Division/Company/Name),aggregate($count as N))/filter(N ge 2)",
            "aggregate(Leads/$count with sum as L)",
        ],
    ),
    (
        "Contacts(1)/Leads",
        "",
        &["groupby((StatusId))", "aggregate(Value with max as M)"],
    ),
];

fn concat_url(path: &str, before: &str, sequences: &[&str]) -> String {
    format!("{path}?$apply={before}concat({})", sequences.join(","))
}

async fn values(app: &TestApp, url: &str, token: &str) -> Vec<Value> {
    let r = app.get(url, token).await;
    assert_eq!(r.status, 200, "{url}: {}", r.text);
    r.values()
}

#[actix_web::test]
async fn concat_gives_each_sequence_s_rows_one_after_the_other() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let token = app.db.token(ws);
            for (path, before, sequences) in CASES {
                let url = concat_url(path, before, sequences);
                let mut expected = Vec::new();
                for s in *sequences {
                    let alone = format!("{path}?$apply={before}{s}");
                    expected.extend(values(&app, &alone, &token).await);
                }
                assert!(!expected.is_empty(), "{b:?} {ws}: {url}");
                let got = values(&app, &url, &token).await;
                assert_eq!(got, expected, "{b:?} {ws}: {url}");
                // Together: $count, /$count, $top and $skip, and pages of 2.
                let counted = app.get(&format!("{url}&$count=true"), &token).await.json();
                assert_eq!(
                    counted["@odata.count"].as_u64(),
                    Some(expected.len() as u64),
                    "{b:?} {ws}: {url}"
                );
                let count_path = url.replacen('?', "/$count?", 1);
                let n = app.get(&count_path, &token).await;
                assert_eq!(n.status, 200, "{count_path}: {}", n.text);
                assert_eq!(
                    n.text,
                    expected.len().to_string(),
                    "{b:?} {ws}: {count_path}"
                );
                let (skip, top) = (1, expected.len().saturating_sub(2).max(1));
                let window = values(&app, &format!("{url}&$skip={skip}&$top={top}"), &token).await;
                let want: Vec<Value> = expected.iter().skip(skip).take(top).cloned().collect();
                assert_eq!(window, want, "{b:?} {ws}: {url} skip {skip} top {top}");
                let paged =
                    rows_with(&app, &url, &token, &[("Prefer", "odata.maxpagesize=2")]).await;
                assert_eq!(paged, expected, "{b:?} {ws}: {url} in pages of 2");
                let paged_window = rows_with(
                    &app,
                    &format!("{url}&$skip={skip}&$top={top}"),
                    &token,
                    &[("Prefer", "odata.maxpagesize=1")],
                )
                .await;
                assert_eq!(
                    paged_window, want,
                    "{b:?} {ws}: {url} skip/top in pages of 1"
                );
            }
        }
    }
}

/// `(transformations before concat, its sequences, which of them keep entities)`.
const ENTITY_CASES: &[(&str, &[&str], &[bool])] = &[
    (
        "",
        &["topcount(3,Value)", "aggregate(Value with sum as Total)"],
        &[true, false],
    ),
    (
        "filter(Guttometer eq 100)/",
        &["identity", "aggregate($count as N)"],
        &[true, false],
    ),
    (
        "",
        &[
            "topsum(500000,Value)",
            "bottomcount(2,Value)",
            "groupby((StatusId),aggregate($count as N))",
        ],
        &[true, true, false],
    ),
    (
        "search(Cyber)/",
        &["orderby(Value)/skip(1)/top(2)", "aggregate($count as N)"],
        &[true, false],
    ),
];

/// `(LeadId, Value)` of each row, in their order.
fn leads(rows: &[Value]) -> Vec<(i64, Option<rust_decimal::Decimal>)> {
    rows.iter()
        .map(|r| {
            (
                r["LeadId"].as_i64().expect("LeadId"),
                common::dec(&r["Value"]),
            )
        })
        .collect()
}

#[actix_web::test]
async fn a_sequence_that_keeps_entities_gives_them_as_rows() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let token = app.db.token(ws);
            for (before, sequences, keeps) in ENTITY_CASES {
                let url = concat_url("Leads", before, sequences);
                let got = rows(&app, &url, &token).await;
                let mut at = 0;
                for (s, keeps) in sequences.iter().zip(keeps.iter()) {
                    // Alone, a sequence that keeps entities reads as any entity set.
                    let alone = rows(&app, &format!("Leads?$apply={before}{s}"), &token).await;
                    let part = got.get(at..at + alone.len()).unwrap_or_else(|| {
                        panic!(
                            "{b:?} {ws}: {url}: {} rows, {s} alone {}",
                            got.len(),
                            alone.len()
                        )
                    });
                    if *keeps {
                        // The same entities, in the order the ranking chose them.
                        assert_eq!(leads(part), leads(&alone), "{b:?} {ws}: {url}: {s}");
                        // Every property of the entity, as the entity set gives them.
                        for row in part {
                            let id = row["LeadId"].as_i64().expect("LeadId");
                            let entity = app.get(&format!("Leads({id})"), &token).await.json();
                            for (k, v) in entity.as_object().expect("entity") {
                                if !k.starts_with('@') && k != "Value" && k != "WeightedValue" {
                                    assert_eq!(&row[k], v, "{b:?} {ws}: {url}: {k} of {id}");
                                }
                            }
                        }
                    } else {
                        assert_eq!(part, alone.as_slice(), "{b:?} {ws}: {url}: {s}");
                    }
                    at += alone.len();
                }
                assert_eq!(at, got.len(), "{b:?} {ws}: {url}");
                let paged =
                    rows_with(&app, &url, &token, &[("Prefer", "odata.maxpagesize=2")]).await;
                assert_eq!(paged, got, "{b:?} {ws}: {url} in pages of 2");
                let n = app.get(&url.replacen('?', "/$count?", 1), &token).await;
                assert_eq!(n.text, got.len().to_string(), "{b:?} {ws}: {url}");
            }
        }
    }
}

/// `row` with only the members `paths` name (`Status/Code` keeps `Code` of `Status`).
fn project(row: &Value, paths: &[&[&str]]) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in row.as_object().expect("row") {
        let under: Vec<&[&str]> = paths
            .iter()
            .filter(|p| p.first() == Some(&k.as_str()))
            .map(|p| &p[1..])
            .collect();
        if under.iter().any(|rest| rest.is_empty()) {
            out.insert(k.clone(), v.clone());
        } else if !under.is_empty() && v.is_object() {
            out.insert(k.clone(), project(v, &under));
        }
    }
    Value::Object(out)
}

#[actix_web::test]
async fn select_keeps_the_members_each_sequence_has() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let token = app.db.token(ws);
            for (url, select, paths) in [
                (
                    "Leads?$apply=concat(groupby((Status/Code,Status/Description),aggregate(Value with sum as Total)),aggregate(Value with sum as Total))",
                    "Status/Code,Total",
                    &[&["Status", "Code"][..], &["Total"]][..],
                ),
                (
                    "Leads?$apply=concat(topcount(2,Value),groupby((StatusId),aggregate($count as N)))",
                    "LeadId,Value,N",
                    &[&["LeadId"][..], &["Value"], &["N"]],
                ),
            ] {
                let all = rows(&app, url, &token).await;
                let want: Vec<Value> = all.iter().map(|r| project(r, paths)).collect();
                let selected = format!("{url}&$select={select}");
                let got = rows(&app, &selected, &token).await;
                assert_eq!(got, want, "{b:?} {ws}: {selected}");
                let context = app.get(&selected, &token).await.json()["@odata.context"]
                    .as_str()
                    .expect("context")
                    .to_owned();
                assert!(context.contains("$metadata#Leads("), "{context}");
            }
        }
    }
}

#[actix_web::test]
async fn filter_keeps_the_rows_it_holds_for_and_an_absent_member_is_null() {
    type Holds = fn(&Value) -> bool;
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let token = app.db.token(ws);
            let cases: [(&str, &str, Holds); 4] = [
                (
                    "Leads?$apply=concat(groupby((StatusId),aggregate($count as N)),aggregate(Value with sum as Total))",
                    "N gt 10 or Total gt 0",
                    |r| {
                        r.get("N").and_then(Value::as_i64).is_some_and(|n| n > 10)
                            || common::dec(&r["Total"]).is_some_and(|t| t > 0.into())
                    },
                ),
                (
                    "Leads?$apply=concat(groupby((StatusId),aggregate($count as N)),aggregate(Value with sum as Total))",
                    "N eq null",
                    |r| r.get("N").is_none_or(Value::is_null),
                ),
                (
                    "Leads?$apply=concat(groupby((Status/Code),aggregate($count as N)),aggregate($count as N))",
                    "startswith(Status/Code,'N') or Status/Code eq null",
                    |r| match r.get("Status") {
                        None => true,
                        Some(s) => s["Code"].as_str().is_none_or(|c| c.starts_with('N')),
                    },
                ),
                (
                    "Leads?$apply=concat(topcount(5,Value),aggregate(Value with sum as Total))",
                    "Guttometer ge 50",
                    |r| r.get("Guttometer").and_then(Value::as_i64).is_some_and(|g| g >= 50),
                ),
            ];
            for (url, filter, holds) in cases {
                let all = rows(&app, url, &token).await;
                let want: Vec<Value> = all.into_iter().filter(holds).collect();
                let filtered = format!("{url}&$filter={filter}");
                let got = rows(&app, &filtered, &token).await;
                assert_eq!(got, want, "{b:?} {ws}: {filtered}");
                let n = app
                    .get(&format!("{filtered}&$count=true&$top=0"), &token)
                    .await;
                assert_eq!(
                    n.json()["@odata.count"].as_u64(),
                    Some(want.len() as u64),
                    "{b:?} {ws}: {filtered}"
                );
            }
        }
    }
}

#[actix_web::test]
async fn compute_adds_its_value_to_every_row_null_where_a_member_is_absent() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let token = app.db.token(ws);
            let url = "Leads?$apply=concat(groupby((StatusId),aggregate($count as N)),topcount(2,Value),aggregate(Value with sum as Total))";
            let all = rows(&app, url, &token).await;
            let want: Vec<Value> = all
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    let n2 = r.get("N").and_then(Value::as_i64).map(|n| n * 2);
                    r["N2"] = n2.map_or(Value::Null, Value::from);
                    r
                })
                .collect();
            let computed = format!("{url}&$compute=N mul 2 as N2");
            let got = rows(&app, &computed, &token).await;
            assert_eq!(got, want, "{b:?} {ws}: {computed}");
            // `$filter` names what `$compute` adds.
            let filtered = format!("{computed}&$filter=N2 gt 40 or Total ne null");
            let got = rows(&app, &filtered, &token).await;
            let want: Vec<Value> = want
                .into_iter()
                .filter(|r| r["N2"].as_i64().is_some_and(|n| n > 40) || r.get("Total").is_some())
                .collect();
            assert_eq!(got, want, "{b:?} {ws}: {filtered}");
        }
        app.refuses(
            "Leads?$apply=concat(aggregate($count as N),aggregate($count as M))&$compute=Nope add 1 as X",
            &app.db.token("alpha"),
            400,
            "`Nope` is a member of no sequence",
        )
        .await;
    }
}

#[actix_web::test]
async fn the_context_names_every_member_of_every_sequence_once() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let token = app.db.token("alpha");
        let r = app
            .get(
                "Leads?$apply=concat(groupby((Status/Description)),groupby((Status/Code),aggregate($count as N)),aggregate(Value with average as A))",
                &token,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let context = r.json()["@odata.context"]
            .as_str()
            .expect("context")
            .to_owned();
        assert!(
            context.ends_with("$metadata#Leads(Status(Description,Code),N,A)"),
            "{b:?}: {context}"
        );
    }
}

#[actix_web::test]
async fn what_concat_does_not_take_is_501_and_malformed_concat_400() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let token = app.db.token("alpha");
        let two = "concat(aggregate($count as N),aggregate(Value with sum as N))";
        let cases: Vec<(String, u16, &str)> = vec![
            (
                format!("Leads?$apply={two}/filter(N gt 1)"),
                501,
                "after `concat`",
            ),
            (format!("Leads?$apply={two}&$orderby=N"), 501, "$orderby"),
            (
                format!("Leads?$apply={two}&$filter=Nope gt 1"),
                400,
                "`Nope` is a member of no sequence",
            ),
            (
                format!("Leads?$apply={two}&$filter=$these/$count gt 1"),
                501,
                "$these",
            ),
            (
                format!("Leads?$apply={two}&$select=Nope"),
                400,
                "`Nope` is a member of no sequence",
            ),
            (
                format!("Leads?$apply=groupby((StatusId),{two})"),
                501,
                "inside groupby",
            ),
            (
                format!("Leads?$apply=concat(aggregate($count as N),{two})"),
                501,
                "inside a sequence",
            ),
            (
                format!("Contacts?$expand=Leads($apply={two})"),
                501,
                "expanded collection",
            ),
            (
                "Leads?$apply=concat(aggregate($count as N))".into(),
                400,
                "two or more sequences",
            ),
            ("Leads?$apply=concat()".into(), 400, "$apply"),
            (
                "Leads?$apply=concat(aggregate($count as N),aggregate(Nope with sum as X))".into(),
                400,
                "Nope",
            ),
        ];
        let cases: Vec<(&str, u16, &str)> =
            cases.iter().map(|(u, s, m)| (u.as_str(), *s, *m)).collect();
        app.refuses_each(&cases, &token).await;
    }
}

#[actix_web::test]
async fn each_workspace_concatenates_its_own_rows() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let url = "Leads?$apply=concat(groupby((StatusId),aggregate($count as N)),aggregate($count as N))";
        for ws in ["alpha", "beta"] {
            let token = app.db.token(ws);
            let got = rows(&app, url, &token).await;
            let total = got.last().expect("the total row")["N"].as_i64();
            assert_eq!(total, Some(app.db.count("", "leads", ws)), "{b:?} {ws}");
            let per_status: i64 = got[..got.len() - 1]
                .iter()
                .map(|r| r["N"].as_i64().expect("N"))
                .sum();
            assert_eq!(per_status, app.db.count("", "leads", ws), "{b:?} {ws}");
        }
        // Alpha's contact is no entity to navigate from for beta; alpha's nextLink is
        // no page for beta.
        let alpha = app.db.token("alpha");
        let beta = app.db.token("beta");
        // (Keys count per workspace: alpha has 200 contacts, beta 60.)
        let from_150 =
            "Contacts(150)/Leads?$apply=concat(groupby((StatusId)),aggregate($count as N))";
        assert_eq!(app.get(from_150, &alpha).await.status, 200, "{b:?}");
        assert_eq!(app.get(from_150, &beta).await.status, 404, "{b:?}");
        let count_150 = from_150.replacen('?', "/$count?", 1);
        assert_eq!(app.get(&count_150, &beta).await.status, 404, "{b:?}");
        let first = app
            .get_with(url, &alpha, &[("Prefer", "odata.maxpagesize=3")])
            .await;
        let link = first.json()["@odata.nextLink"]
            .as_str()
            .expect("a next page")
            .to_owned();
        let replay = app.get(&link, &beta).await;
        assert_eq!(replay.status, 400, "{b:?}: {}", replay.text);
    }
}
