//! `$expand=Nav($apply=...)` (OData Data Aggregation: `$apply` as an expand option): per
//! instance, the result of `GET Set(key)/Nav?$apply=...`, with the expand's `$filter`,
//! `$orderby`, `$top`, `$skip`, `$select` and `$count` over it, on SQLite and (when configured)
//! PostgreSQL. Both workspaces hold the same keys, so a reach into the other one would
//! change the figures compared here with each workspace's own leads.

mod common;

use common::{backends, dec, rows, rows_with, spawn_seeded, TestApp};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;

/// Per contact: (status, value) of each of its leads.
async fn leads_of_contacts(
    app: &TestApp,
    token: &str,
) -> BTreeMap<i64, Vec<(String, Option<Decimal>)>> {
    let contacts = rows(
        app,
        "Contacts?$select=ContactId&$expand=Leads($select=StatusId,Value)",
        token,
    )
    .await;
    contacts
        .iter()
        .map(|c| {
            let id = c["ContactId"].as_i64().unwrap_or_else(|| panic!("{c}"));
            let leads = c["Leads"].as_array().unwrap_or_else(|| panic!("{c}"));
            let leads = leads
                .iter()
                .map(|l| {
                    (
                        l["StatusId"].as_str().unwrap_or_default().to_owned(),
                        dec(&l["Value"]),
                    )
                })
                .collect();
            (id, leads)
        })
        .collect()
}

fn sum(values: impl Iterator<Item = Option<Decimal>>) -> Option<Decimal> {
    values
        .flatten()
        .fold(None, |t, v| Some(t.unwrap_or_default() + v))
}

#[actix_web::test]
async fn each_instance_carries_the_aggregate_of_its_related_entities() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let want = leads_of_contacts(&app, &t).await;
            let url = "Contacts?$select=ContactId&$expand=Leads($apply=aggregate(Value with sum as Total,$count as N))";
            let got = rows_with(&app, url, &t, &[("Prefer", "odata.maxpagesize=40")]).await;
            assert_eq!(got.len(), want.len(), "{b:?} {ws}");
            for c in &got {
                let id = c["ContactId"].as_i64().unwrap_or_else(|| panic!("{c}"));
                let leads = &want[&id];
                // One result row per contact, also over no leads (a count of 0, no sum).
                let [row] = c["Leads"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{c}"))
                    .as_slice()
                else {
                    panic!("{b:?} {ws}: one row: {c}");
                };
                assert_eq!(
                    row["N"].as_u64(),
                    Some(leads.len() as u64),
                    "{b:?} {ws}: {c}"
                );
                assert_eq!(
                    dec(&row["Total"]),
                    sum(leads.iter().map(|l| l.1)),
                    "{b:?} {ws}: {c}"
                );
            }
            assert!(
                got.iter().any(|c| c["Leads"][0]["N"] == 0)
                    && got.iter().any(|c| c["Leads"][0]["N"].as_u64() > Some(1)),
                "{b:?} {ws}"
            );
        }
    }
}

#[actix_web::test]
async fn grouped_results_take_the_expands_other_options() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let want = leads_of_contacts(&app, &t).await;
            // Each contact's two statuses with the largest totals (nulls last, then by status).
            let url = "Contacts?$select=ContactId&$expand=Leads($apply=groupby((StatusId),aggregate(Value with sum as Total));$filter=Total ne null;$orderby=Total desc;$top=2;$count=true)";
            let got = rows(&app, url, &t).await;
            assert_eq!(got.len(), want.len(), "{b:?} {ws}");
            let mut seen_two = false;
            for c in &got {
                let id = c["ContactId"].as_i64().unwrap_or_else(|| panic!("{c}"));
                let mut totals: BTreeMap<&str, Option<Decimal>> = BTreeMap::new();
                for (s, v) in &want[&id] {
                    let e = totals.entry(s.as_str()).or_default();
                    if let Some(v) = v {
                        *e = Some(e.unwrap_or_default() + v);
                    }
                }
                let mut expect: Vec<(&str, Decimal)> = totals
                    .into_iter()
                    .filter_map(|(s, t)| Some((s, t?)))
                    .collect();
                expect.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                // The count is of the rows the filter keeps, before $top.
                let n = c["Leads@odata.count"].as_u64();
                assert_eq!(n, Some(expect.len() as u64), "{b:?} {ws}: {c}");
                expect.truncate(2);
                let rows = c["Leads"].as_array().unwrap_or_else(|| panic!("{c}"));
                let got: Vec<(&str, Decimal)> = rows
                    .iter()
                    .map(|r| {
                        let s = r["StatusId"].as_str().unwrap_or_else(|| panic!("{r}"));
                        (s, dec(&r["Total"]).unwrap_or_else(|| panic!("{r}")))
                    })
                    .collect();
                assert_eq!(got, expect, "{b:?} {ws}: contact {id}");
                seen_two |= got.len() == 2;
            }
            assert!(seen_two, "{b:?} {ws}");

            // $select over the result, $skip, and the context URL naming the result's members.
            let url = "Contacts?$select=ContactId&$expand=Leads($apply=groupby((StatusId),aggregate($count as N));$orderby=StatusId;$skip=1;$select=N)&$top=30";
            let r = app.get(url, &t).await;
            assert_eq!(r.status, 200, "{b:?} {ws}: {}", r.text);
            let doc = r.json();
            let ctx = doc["@odata.context"].as_str().unwrap_or_default();
            odata_parser::check_context_url(ctx).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert!(
                ctx.ends_with("#Contacts(ContactId,Leads(N))"),
                "{b:?} {ws}: {ctx}"
            );
            for c in doc["value"].as_array().into_iter().flatten() {
                let id = c["ContactId"].as_i64().unwrap_or_default();
                let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
                for (s, _) in &want[&id] {
                    *by_status.entry(s.as_str()).or_default() += 1;
                }
                let expect: Vec<Value> = by_status
                    .values()
                    .skip(1)
                    .map(|n| serde_json::json!({ "N": n }))
                    .collect();
                assert_eq!(c["Leads"], Value::Array(expect), "{b:?} {ws}: {c}");
            }
        }
    }
}

#[actix_web::test]
async fn an_expanded_result_is_what_the_navigation_path_would_give() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let apply = "$apply=filter(Value gt 0)/groupby((StatusId),aggregate(Value with sum as T,$count as N))";
            let contacts = rows(&app, "Contacts?$select=ContactId&$top=40", &t).await;
            let mut nonempty = 0;
            for c in &contacts {
                let id = c["ContactId"].as_i64().unwrap_or_else(|| panic!("{c}"));
                let r = app
                    .get(
                        &format!("Contacts({id})?$select=ContactId&$expand=Leads({apply})"),
                        &t,
                    )
                    .await;
                assert_eq!(r.status, 200, "{b:?} {ws}: {}", r.text);
                let expanded = r.json()["Leads"].clone();
                let direct = rows(&app, &format!("Contacts({id})/Leads?{apply}"), &t).await;
                assert_eq!(
                    expanded,
                    Value::Array(direct.clone()),
                    "{b:?} {ws}: contact {id}"
                );
                nonempty += usize::from(!direct.is_empty());
            }
            assert!(nonempty > 5, "{b:?} {ws}: {nonempty}");
        }
    }
}

#[actix_web::test]
async fn inside_other_expands_and_in_full_metadata() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let want = leads_of_contacts(&app, &t).await;
            let url = "Divisions?$select=DivisionId&$expand=Contacts($select=ContactId;$expand=Leads($apply=aggregate($count as N)))";
            let got = rows(&app, url, &t).await;
            let mut contacts = 0;
            for d in &got {
                for c in d["Contacts"].as_array().unwrap_or_else(|| panic!("{d}")) {
                    let id = c["ContactId"].as_i64().unwrap_or_else(|| panic!("{c}"));
                    let n = want[&id].len() as u64;
                    assert_eq!(
                        c["Leads"],
                        serde_json::json!([{ "N": n }]),
                        "{b:?} {ws}: {c}"
                    );
                    contacts += 1;
                }
            }
            assert!(contacts > 20, "{b:?} {ws}");

            // Full metadata: the rows are transient (a null id) and typed; with
            // IEEE754Compatible the count is a string.
            let r = app
                .get_with(
                    "Contacts?$select=ContactId&$expand=Leads($apply=aggregate(Value with sum as Total,$count as N))&$top=3",
                    &t,
                    &[("Accept", "application/json;odata.metadata=full;IEEE754Compatible=true")],
                )
                .await;
            assert_eq!(r.status, 200, "{b:?} {ws}: {}", r.text);
            for c in r.values() {
                let row = &c["Leads"][0];
                assert_eq!(row["@odata.id"], Value::Null, "{b:?} {ws}: {c}");
                assert!(
                    row.as_object().is_some_and(|o| o.contains_key("@odata.id")),
                    "{c}"
                );
                assert_eq!(row["N@odata.type"], "#Int64", "{b:?} {ws}: {c}");
                assert!(row["N"].is_string(), "{b:?} {ws}: {c}");
                assert!(
                    c["Leads@odata.navigationLink"].is_string(),
                    "{b:?} {ws}: {c}"
                );
            }
        }
    }
}

#[actix_web::test]
async fn what_an_expand_cannot_apply_is_refused() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        let bad: &[(&str, u16, &str)] = &[
            (
                "Contacts?$expand=Leads($apply=filter(Value gt 0))",
                501,
                "groupby or aggregate",
            ),
            (
                "Contacts?$expand=Leads($apply=aggregate($count as N);$expand=Status)",
                501,
                "$expand",
            ),
            (
                "Leads?$expand=Contact($apply=aggregate($count as N))",
                400,
                "collection",
            ),
            (
                "Contacts?$expand=Leads/$ref($apply=aggregate($count as N))",
                400,
                "$ref",
            ),
            (
                "Contacts?$expand=Leads($apply=aggregate(Nope with sum as T))",
                400,
                "`Nope`",
            ),
            (
                "Contacts?$expand=Leads($apply=aggregate($count as N);$orderby=Value)",
                400,
                "Value",
            ),
            (
                "Contacts?$select=Surname($apply=aggregate($count as N))",
                501,
                "$select",
            ),
            (
                "Contacts?$expand=Leads($apply=aggregate($count as N))&$format=atom",
                406,
                "JSON",
            ),
        ];
        for (url, status, says) in bad {
            let r = app.refuses(url, &t, *status, says).await;
            if url.ends_with("atom") {
                // Asked for Atom: the error comes as Atom's XML.
                assert!(
                    r.text.contains("<m:code>NotAcceptable</m:code>"),
                    "{}",
                    r.text
                );
                continue;
            }
            let e = &r.json()["error"];
            assert!(
                e["code"].is_string() && e["message"].is_string(),
                "{url}: {}",
                r.text
            );
        }
    }
}
