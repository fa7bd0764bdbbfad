//! `Nav/aggregate(value with method)` in expressions (OData Data Aggregation's
//! `collectionPathExpr`): a contact's leads' total in `$filter`, `$orderby` (paged by
//! keyset) and `$compute`, inside lambdas and `$expand`, and in `$apply` before an
//! aggregation, on SQLite and (when configured) PostgreSQL. Both workspaces hold the same
//! keys, so a reach into the other one would change the figures compared here with what
//! each workspace's own leads add up to.

mod common;

use common::{backends, dec, rows, rows_with, spawn_seeded, TestApp};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;

/// What each contact's leads make: total value (None without any valued lead), number
/// of leads, highest Guttometer, the Guttometer values.
#[derive(Debug, Default, Clone)]
struct Leads {
    total: Option<Decimal>,
    n: i64,
    max_gutto: Option<i64>,
    guttos: Vec<i64>,
}

async fn leads_by_contact(app: &TestApp, token: &str) -> BTreeMap<i64, Leads> {
    let contacts = rows(
        app,
        "Contacts?$select=ContactId&$expand=Leads($select=Value,Guttometer)",
        token,
    )
    .await;
    let mut out = BTreeMap::new();
    for c in contacts {
        let id = c["ContactId"].as_i64().unwrap_or_else(|| panic!("{c}"));
        let mut l = Leads::default();
        for lead in c["Leads"].as_array().unwrap_or_else(|| panic!("{c}")) {
            l.n += 1;
            if let Some(v) = dec(&lead["Value"]) {
                l.total = Some(l.total.unwrap_or_default() + v);
            }
            if let Some(g) = lead["Guttometer"].as_i64() {
                l.guttos.push(g);
                l.max_gutto = Some(l.max_gutto.map_or(g, |m: i64| m.max(g)));
            }
        }
        out.insert(id, l);
    }
    out
}

fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter()
        .map(|r| r["ContactId"].as_i64().unwrap_or_else(|| panic!("{r}")))
        .collect()
}

/// A threshold between the contacts' totals: about half of those with leads lie above.
fn median_total(want: &BTreeMap<i64, Leads>) -> Decimal {
    let mut totals: Vec<Decimal> = want.values().filter_map(|l| l.total).collect();
    totals.sort();
    assert!(totals.len() > 20, "{totals:?}");
    totals[totals.len() / 2]
}

#[actix_web::test]
async fn a_contacts_leads_total_filters_and_computes() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let want = leads_by_contact(&app, &t).await;
            let limit = median_total(&want);

            let url = format!(
                "Contacts?$filter=Leads/aggregate(Value with sum) gt {limit}&$select=ContactId"
            );
            let mut got = ids(&rows(&app, &url, &t).await);
            got.sort();
            let above: Vec<i64> = want
                .iter()
                .filter(|(_, l)| l.total.is_some_and(|v| v > limit))
                .map(|(id, _)| *id)
                .collect();
            assert!(!above.is_empty(), "{b:?} {ws}");
            assert_eq!(got, above, "{b:?} {ws}: {url}");

            // Negated, a contact without leads has no total, so it is not above either.
            let url = format!(
                "Contacts?$filter=not (Leads/aggregate(Value with sum) gt {limit})&$select=ContactId"
            );
            let got = rows(&app, &url, &t).await;
            assert_eq!(got.len(), want.len() - above.len(), "{b:?} {ws}: {url}");

            let url = "Contacts?$compute=Leads/aggregate(Value with sum) as Total,\
                Leads/aggregate($count) as N,Leads/aggregate(Guttometer with max) as G,\
                Leads/aggregate(Guttometer with average) as A,\
                Leads/aggregate(StatusId with countdistinct) as S\
                &$select=ContactId,Total,N,G,A,S";
            let got = rows(&app, url, &t).await;
            assert_eq!(got.len(), want.len(), "{b:?} {ws}");
            for r in &got {
                let id = r["ContactId"].as_i64().unwrap_or_else(|| panic!("{r}"));
                let l = &want[&id];
                assert_eq!(dec(&r["Total"]), l.total, "{b:?} {ws}: {r}");
                assert_eq!(r["N"].as_i64(), Some(l.n), "{b:?} {ws}: {r}");
                assert_eq!(r["G"].as_i64(), l.max_gutto, "{b:?} {ws}: {r}");
                match l.guttos.len() {
                    0 => assert_eq!(r["A"], Value::Null, "{b:?} {ws}: {r}"),
                    n => {
                        let avg = l.guttos.iter().sum::<i64>() as f64 / n as f64;
                        let got = dec(&r["A"]).unwrap_or_else(|| panic!("{r}"));
                        let got: f64 = got.to_string().parse().unwrap_or(f64::NAN);
                        assert!((got - avg).abs() < 1e-6, "{b:?} {ws}: {r} vs {avg}");
                    }
                }
                let s = r["S"].as_i64().unwrap_or_else(|| panic!("{r}"));
                assert!(s <= l.n && (s > 0) == (l.n > 0), "{b:?} {ws}: {r}");
            }
            // A value naming only `$it` is still aggregated over the related rows.
            let got = rows(
                &app,
                "Contacts?$compute=Leads/aggregate($it/ContactId with sum) as S&$select=ContactId,S",
                &t,
            )
            .await;
            for r in &got {
                let id = r["ContactId"].as_i64().unwrap_or_else(|| panic!("{r}"));
                let want = (want[&id].n > 0).then_some(id * want[&id].n);
                assert_eq!(r["S"].as_i64(), want, "{b:?} {ws}: {r}");
            }
            // The computed total names its type in full metadata.
            let r = app
                .get_with(
                    "Contacts?$compute=Leads/aggregate(Value with sum) as Total,Leads/aggregate($count) as N&$select=Total,N&$top=1",
                    &t,
                    &[("Accept", "application/json;odata.metadata=full")],
                )
                .await;
            assert_eq!(r.status, 200, "{b:?} {ws}: {}", r.text);
            let row = &r.values()[0];
            assert_eq!(row["Total@odata.type"], "#Decimal", "{b:?} {ws}: {row}");
            assert_eq!(row["N@odata.type"], "#Int64", "{b:?} {ws}: {row}");
        }
    }
}

#[actix_web::test]
async fn ordering_by_a_collections_aggregate_pages_without_loss() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let want = leads_by_contact(&app, &t).await;
            // Totals descending, no total (null, the lowest value) last, then by key.
            let mut order: Vec<(i64, Option<Decimal>)> =
                want.iter().map(|(id, l)| (*id, l.total)).collect();
            order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let url = "Contacts?$orderby=Leads/aggregate(Value with sum) desc&$select=ContactId";
            let got = rows_with(&app, url, &t, &[("Prefer", "odata.maxpagesize=7")]).await;
            let order: Vec<i64> = order.into_iter().map(|(id, _)| id).collect();
            assert_eq!(ids(&got), order, "{b:?} {ws}");

            // The number of leads ascending, with $top and $skip.
            let url = "Contacts?$orderby=Leads/aggregate($count),ContactId&$select=ContactId&$skip=3&$top=20";
            let got = ids(&rows(&app, url, &t).await);
            let mut by_n: Vec<(i64, i64)> = want.iter().map(|(id, l)| (l.n, *id)).collect();
            by_n.sort();
            let expect: Vec<i64> = by_n.iter().skip(3).take(20).map(|(_, id)| *id).collect();
            assert_eq!(got, expect, "{b:?} {ws}");
        }
    }
}

#[actix_web::test]
async fn inside_lambdas_expands_and_apply() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let want = leads_by_contact(&app, &t).await;
            let limit = median_total(&want);

            // A contact's leads worth more than the contact's average lead ($it is the contact).
            let url = "Contacts?$select=ContactId&$expand=Leads($select=LeadId,Value;$filter=Value gt $it/Leads/aggregate(Value with average))";
            let got = rows(&app, url, &t).await;
            assert_eq!(got.len(), want.len(), "{b:?} {ws}");
            let all = rows(
                &app,
                "Contacts?$select=ContactId&$expand=Leads($select=LeadId,Value)",
                &t,
            )
            .await;
            let all: BTreeMap<i64, &Value> = all
                .iter()
                .map(|c| (c["ContactId"].as_i64().unwrap_or_default(), c))
                .collect();
            let mut kept = 0;
            for c in &got {
                let id = c["ContactId"].as_i64().unwrap_or_else(|| panic!("{c}"));
                let values: Vec<Decimal> = all[&id]["Leads"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| dec(&l["Value"]))
                    .collect();
                let expect: Vec<i64> = all[&id]["Leads"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|l| {
                        dec(&l["Value"]).is_some_and(|v| {
                            v * Decimal::from(values.len()) > values.iter().sum::<Decimal>()
                        })
                    })
                    .filter_map(|l| l["LeadId"].as_i64())
                    .collect();
                let mut got: Vec<i64> = c["Leads"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{c}"))
                    .iter()
                    .filter_map(|l| l["LeadId"].as_i64())
                    .collect();
                got.sort();
                let mut expect = expect;
                expect.sort();
                assert_eq!(got, expect, "{b:?} {ws}: contact {id}");
                kept += got.len();
            }
            assert!(kept > 10, "{b:?} {ws}: {kept}");

            // `$it` inside the aggregate names the instance it names outside: contacts
            // whose leads' total exceeds their own ContactId times 1000 (a value per contact).
            let url = "Contacts?$filter=Leads/aggregate(Value sub $it/ContactId mul 1000 with sum) gt 0&$select=ContactId";
            let mut got = ids(&rows(&app, url, &t).await);
            got.sort();
            let valued = |id: i64| {
                let leads = all[&id]["Leads"].as_array().into_iter().flatten();
                leads.filter(|l| !l["Value"].is_null()).count() as i64
            };
            let expect: Vec<i64> = want
                .iter()
                .filter(|(id, l)| {
                    let subtracted = Decimal::from(**id * 1000 * valued(**id));
                    l.total.is_some_and(|v| v - subtracted > Decimal::ZERO)
                })
                .map(|(id, _)| *id)
                .collect();
            assert!(
                !expect.is_empty() && expect.len() < want.len(),
                "{b:?} {ws}"
            );
            assert_eq!(got, expect, "{b:?} {ws}");

            // Divisions with a contact above the limit, through a lambda.
            let url = format!(
                "Divisions?$filter=Contacts/any(c:c/Leads/aggregate(Value with sum) gt {limit})&$select=DivisionId&$expand=Contacts($select=ContactId)"
            );
            let got = rows(&app, &url, &t).await;
            assert!(!got.is_empty(), "{b:?} {ws}");
            let divisions = rows(
                &app,
                "Divisions?$select=DivisionId&$expand=Contacts($select=ContactId)",
                &t,
            )
            .await;
            let expect: Vec<i64> = divisions
                .iter()
                .filter(|d| {
                    d["Contacts"].as_array().into_iter().flatten().any(|c| {
                        let id = c["ContactId"].as_i64().unwrap_or_default();
                        want.get(&id)
                            .and_then(|l| l.total)
                            .is_some_and(|v| v > limit)
                    })
                })
                .filter_map(|d| d["DivisionId"].as_i64())
                .collect();
            let mut got: Vec<i64> = got
                .iter()
                .filter_map(|d| d["DivisionId"].as_i64())
                .collect();
            got.sort();
            let mut expect = expect;
            expect.sort();
            assert_eq!(got, expect, "{b:?} {ws}");

            // In $apply, before the aggregation it feeds.
            let url = format!(
                "Contacts?$apply=filter(Leads/aggregate(Value with sum) gt {limit})/aggregate($count as N)"
            );
            let r = app.get(&url, &t).await;
            assert_eq!(r.status, 200, "{b:?} {ws}: {}", r.text);
            let above = want
                .values()
                .filter(|l| l.total.is_some_and(|v| v > limit))
                .count();
            assert_eq!(
                r.values()[0]["N"].as_u64(),
                Some(above as u64),
                "{b:?} {ws}"
            );
        }
    }
}

#[actix_web::test]
async fn what_cannot_be_aggregated_is_refused() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        let bad: &[(&str, u16, &str)] = &[
            (
                "Contacts?$filter=Division/aggregate(DivisionId with sum) gt 1",
                400,
                "collection-valued navigation",
            ),
            (
                "Contacts?$filter=Leads/aggregate(Description with sum) gt 1",
                400,
                "sum and average need numbers",
            ),
            (
                "Contacts?$filter=Leads/aggregate(Value with sum) eq 'x'",
                400,
                "$filter",
            ),
            ("Contacts?$filter=Leads/aggregate(Value with) gt 1", 400, "method"),
            ("Contacts?$filter=Leads/aggregate(Value with sum gt 1", 400, "`)`"),
            (
                "Contacts?$filter=Leads/aggregate(Nope with sum) gt 1",
                400,
                "`Nope`",
            ),
            (
                "Contacts?$filter=Leads/aggregate(Value with sum from Status/Description with max) gt 1",
                501,
                "from",
            ),
            (
                "Contacts?$filter=Leads/aggregate(Status/DeadFlag with sum) gt 1",
                501,
                "through navigation",
            ),
            (
                "Contacts?$apply=groupby((DivisionId),aggregate($count as N))/filter(Leads/aggregate(Value with sum) gt 1)",
                400,
                "aggregated result",
            ),
            (
                "Contacts?$orderby=$root/Contacts(1)/Leads/aggregate(Value with sum)",
                501,
                "$root",
            ),
            (
                "Contacts?$expand=Division($filter=$these/$count gt 0)",
                501,
                "$these",
            ),
            ("Leads?$filter=$these eq 1", 400, "$these"),
        ];
        app.refuses_each(bad, &t).await;
    }
}
