//! `topsum`, `toppercent`, `bottomsum` and `bottompercent` (OData Data Aggregation), on
//! SQLite and (when configured) PostgreSQL: the fewest rows, highest (lowest) values
//! first, whose values reach the amount, over the entities before an aggregation or over
//! its result; `identity` leaves its input as it is. Each expectation is worked out here
//! from the workspace's own rows, in exact decimals.

mod common;

use common::{backends, dec, rows, spawn_seeded};
use rust_decimal::Decimal;
use serde_json::Value;
use std::cmp::Ordering;

const GROUPED: &str =
    "Leads?$apply=groupby((StatusId),aggregate(Value with sum as Total,$count as N))";

/// `(tie, value)` pairs in the cut's order: values highest first (lowest with `bottom`),
/// nulls last, equal values by `tie`.
fn ordered(
    mut items: Vec<(String, Option<Decimal>)>,
    bottom: bool,
) -> Vec<(String, Option<Decimal>)> {
    items.sort_by(|a, b| {
        let by_value = match (a.1, b.1) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) if bottom => x.cmp(&y),
            (Some(x), Some(y)) => y.cmp(&x),
        };
        by_value.then_with(|| a.0.cmp(&b.0))
    });
    items
}

/// The ties of the rows kept: each while the values before it add up to less than `amount`.
fn kept(items: &[(String, Option<Decimal>)], amount: Decimal) -> Vec<String> {
    let mut before = Decimal::ZERO;
    let mut out = Vec::new();
    for (tie, v) in items {
        if before >= amount {
            break;
        }
        out.push(tie.clone());
        before += v.unwrap_or_default();
    }
    out
}

fn total(items: &[(String, Option<Decimal>)]) -> Decimal {
    items.iter().filter_map(|i| i.1).sum()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[actix_web::test]
async fn the_result_keeps_the_fewest_groups_that_reach_the_amount() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let groups: Vec<(String, Option<Decimal>)> = rows(&app, GROUPED, &t)
                .await
                .iter()
                .map(|g| {
                    (
                        g["StatusId"].as_str().unwrap_or_default().to_owned(),
                        dec(&g["Total"]),
                    )
                })
                .collect();
            assert!(groups.len() >= 6, "{b:?} {ws}: {groups:?}");
            let all = total(&groups);
            let got = |rows: Vec<Value>| {
                sorted(
                    rows.iter()
                        .map(|r| r["StatusId"].as_str().unwrap_or_default().to_owned())
                        .collect(),
                )
            };
            for (name, bottom, percent) in [
                ("topsum", false, false),
                ("bottomsum", true, false),
                ("toppercent", false, true),
                ("bottompercent", true, true),
            ] {
                let order = ordered(groups.clone(), bottom);
                let amounts: Vec<Decimal> = if percent {
                    vec![
                        Decimal::from(0),
                        Decimal::from(50),
                        Decimal::new(805, 1),
                        Decimal::from(100),
                    ]
                } else {
                    // Exactly the first three groups' total: those three and no fourth.
                    let three: Decimal = order.iter().take(3).filter_map(|g| g.1).sum();
                    vec![
                        Decimal::ZERO,
                        three,
                        all / Decimal::from(3),
                        all * Decimal::from(2),
                    ]
                };
                for amount in amounts {
                    let target = if percent {
                        all * amount / Decimal::ONE_HUNDRED
                    } else {
                        amount
                    };
                    let want = sorted(kept(&order, target));
                    let url = format!("{GROUPED}/{name}({amount},Total)");
                    assert_eq!(got(rows(&app, &url, &t).await), want, "{b:?} {ws} {url}");
                }
            }
            // The first groups' total is reached by exactly three of them.
            let order = ordered(groups.clone(), false);
            let three: Decimal = order.iter().take(3).filter_map(|g| g.1).sum();
            let url = format!("{GROUPED}/topsum({three},Total)&$count=true");
            let r = app.get(&url, &t).await;
            assert_eq!(r.json()["@odata.count"], 3, "{b:?} {ws}: {}", r.text);
            // The kept rows come highest first; skip and top count in that order.
            let url = format!("{GROUPED}/topsum({all},Total)/skip(1)/top(2)");
            let two: Vec<String> = rows(&app, &url, &t)
                .await
                .iter()
                .map(|r| r["StatusId"].as_str().unwrap_or_default().to_owned())
                .collect();
            let want: Vec<String> = kept(&order, all).into_iter().skip(1).take(2).collect();
            assert_eq!(two, want, "{b:?} {ws}");
            // A filter after the cut filters the rows it kept.
            let url = format!("{GROUPED}/toppercent(100,Total)/filter(N gt 1000000)");
            assert!(rows(&app, &url, &t).await.is_empty(), "{b:?} {ws}");
        }
    }
}

#[actix_web::test]
async fn the_entities_before_an_aggregation_are_cut_by_their_values() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let leads: Vec<(String, Option<Decimal>)> =
                rows(&app, "Leads?$select=LeadId,Value", &t)
                    .await
                    .iter()
                    .map(|l| {
                        (
                            format!("{:012}", l["LeadId"].as_i64().unwrap_or_default()),
                            dec(&l["Value"]),
                        )
                    })
                    .collect();
            let all = total(&leads);
            for (name, bottom) in [("topsum", false), ("bottomsum", true)] {
                let order = ordered(leads.clone(), bottom);
                // Exactly the first five leads' values: five leads, decimals added exactly.
                let five: Decimal = order.iter().take(5).filter_map(|l| l.1).sum();
                for amount in [five, all / Decimal::from(4), all + Decimal::ONE] {
                    let want = kept(&order, amount);
                    let sum: Decimal = order.iter().take(want.len()).filter_map(|l| l.1).sum();
                    let url = format!("Leads?$apply={name}({amount},Value)/aggregate($count as N,Value with sum as S)");
                    let r = app.get(&url, &t).await;
                    assert_eq!(r.status, 200, "{url}: {}", r.text);
                    let row = &r.values()[0];
                    assert_eq!(
                        row["N"].as_u64(),
                        Some(want.len() as u64),
                        "{b:?} {ws} {url}"
                    );
                    assert_eq!(dec(&row["S"]).unwrap_or_default(), sum, "{b:?} {ws} {url}");
                }
                assert_eq!(
                    kept(&order, five).len(),
                    5,
                    "the amount is reached by five leads"
                );
                // Each exact total of the first k leads is reached by k of them: decimals
                // added as doubles would fall short of some and keep one lead more.
                let mut prefix = Decimal::ZERO;
                for (k, (_, v)) in order.iter().enumerate().take(30) {
                    prefix += v.unwrap_or_default();
                    let url = format!("Leads?$apply={name}({prefix},Value)/aggregate($count as N)");
                    let n = app.get(&url, &t).await.values()[0]["N"].as_u64();
                    let want = kept(&order, prefix).len() as u64;
                    assert_eq!(n, Some(want), "{b:?} {ws} {url} (lead {k})");
                }
            }
            // Above the total every lead is kept: the workspace's own, no more.
            let url = format!(
                "Leads?$apply=topsum({},Value)/aggregate($count as N)",
                all + Decimal::ONE
            );
            let n = app.get(&url, &t).await.values()[0]["N"].as_i64();
            assert_eq!(n, Some(app.db.count("", "leads", ws)), "{b:?} {ws}");
            // toppercent over the entities, grouped afterwards: the groups of the leads kept.
            let order = ordered(leads.clone(), false);
            let want = kept(&order, all * Decimal::from(60) / Decimal::ONE_HUNDRED).len() as u64;
            let url =
                "Leads?$apply=toppercent(60,Value)/groupby((StatusId),aggregate($count as N))";
            let n: u64 = rows(&app, url, &t)
                .await
                .iter()
                .filter_map(|r| r["N"].as_u64())
                .sum();
            assert_eq!(n, want, "{b:?} {ws}");
            // Then top: the first of the kept ones.
            let url = "Leads?$apply=topsum(1000000000,Value)/top(7)/aggregate($count as N)";
            let n = app.get(url, &t).await.values()[0]["N"].as_u64();
            assert_eq!(
                n,
                Some(7.min(kept(&order, Decimal::from(1_000_000_000)).len() as u64)),
                "{b:?} {ws}"
            );
        }
    }
}

#[actix_web::test]
async fn identity_changes_nothing_and_bad_amounts_are_named() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        let plain = app
            .get("Leads?$apply=aggregate($count as N)", &t)
            .await
            .values();
        let same = app
            .get("Leads?$apply=identity/aggregate($count as N)/identity", &t)
            .await
            .values();
        assert_eq!(plain, same, "{b:?}");
        let ids = |r: Vec<Value>| r.iter().map(|l| l["LeadId"].clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(app
                .get("Leads?$apply=identity&$select=LeadId&$top=5", &t)
                .await
                .values()),
            ids(app.get("Leads?$select=LeadId&$top=5", &t).await.values()),
            "{b:?}"
        );
        for (q, status, says) in [
            (
                "topsum(-1,Value)/aggregate($count as N)",
                400,
                "not negative",
            ),
            (
                "toppercent(100.5,Value)/aggregate($count as N)",
                400,
                "between 0 and 100",
            ),
            ("topsum('x',Value)/aggregate($count as N)", 400, "a number"),
            (
                "topsum(5,Description)/aggregate($count as N)",
                400,
                "adds up numbers",
            ),
            ("topsum(5,Nothing)/aggregate($count as N)", 400, "Nothing"),
            (
                "orderby(Value)/topsum(5,Value)/aggregate($count as N)",
                501,
                "starts a run",
            ),
            (
                "topsum(Guttometer,Value)/aggregate($count as N)",
                501,
                "number literal",
            ),
            ("topsum(5)", 400, "`,`"),
        ] {
            let r = app
                .refuses(&format!("Leads?$apply={q}"), &t, status, says)
                .await;
            assert_eq!(r.json()["error"]["target"], "$apply", "{b:?} {q}");
        }
    }
}

/// A ranking alone keeps entities (as rows of their properties): the leads that make
/// half the pipeline; `$filter`, `$orderby`, `$select` and `$count` apply after it.
#[actix_web::test]
async fn a_ranking_alone_keeps_the_entities_whose_values_reach_the_amount() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let leads = rows(&app, "Leads?$select=LeadId,Value,StatusId", &t).await;
            let items: Vec<(String, Option<Decimal>)> = leads
                .iter()
                .map(|l| {
                    (
                        format!("{:010}", l["LeadId"].as_i64().unwrap_or_default()),
                        dec(&l["Value"]),
                    )
                })
                .collect();
            let order = ordered(items.clone(), false);
            let half = total(&items) / Decimal::TWO;
            let want = sorted(kept(&order, half));
            let url = "Leads?$apply=toppercent(50,Value)&$select=LeadId,Value&$count=true";
            let r = app.get(url, &t).await;
            assert_eq!(r.status, 200, "{b:?}: {}", r.text);
            assert_eq!(r.json()["@odata.count"], want.len(), "{b:?} {ws}");
            let got = rows(&app, url, &t).await;
            let ids = sorted(
                got.iter()
                    .map(|l| format!("{:010}", l["LeadId"].as_i64().unwrap_or_default()))
                    .collect(),
            );
            assert_eq!(ids, want, "{b:?} {ws}");
            assert!(
                got.iter()
                    .all(|l| l.as_object().map(|o| o.len()) == Some(2)),
                "{b:?}"
            );
            // Then $filter over the kept ones, and every property without $select.
            let won: Vec<String> = leads
                .iter()
                .filter(|l| l["StatusId"] == "WON")
                .map(|l| format!("{:010}", l["LeadId"].as_i64().unwrap_or_default()))
                .filter(|id| want.contains(id))
                .collect();
            let got = rows(
                &app,
                "Leads?$apply=toppercent(50,Value)&$filter=StatusId eq 'WON'",
                &t,
            )
            .await;
            assert_eq!(got.len(), won.len(), "{b:?} {ws}");
            for l in &got {
                let lead = app.get(&format!("Leads({})", l["LeadId"]), &t).await.json();
                for (name, value) in l.as_object().into_iter().flatten() {
                    assert_eq!(value, &lead[name], "{b:?} {ws} {name}");
                }
            }
            // bottomsum, counted.
            let low = kept(&ordered(items.clone(), true), Decimal::from(20_000));
            let r = app
                .get("Leads/$count?$apply=bottomsum(20000,Value)", &t)
                .await;
            assert_eq!(r.text, low.len().to_string(), "{b:?} {ws}");
        }
    }
}

#[actix_web::test]
async fn entities_a_ranking_keeps_are_entities_of_the_set() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let leads = rows(&app, "Leads?$select=LeadId,Value,ContactId,StatusId", &t).await;
            let item = |l: &Value| {
                let id = l["LeadId"].as_i64().unwrap_or_default();
                (format!("{id:010}"), dec(&l["Value"]))
            };
            let items: Vec<(String, Option<Decimal>)> = leads.iter().map(item).collect();
            let amount = total(&items) * Decimal::new(3, 1);
            let order = ordered(items.clone(), false);
            let want = kept(&order, amount);

            // In the ranking's order without $orderby, paged by keyset with no row lost
            // or repeated; each an entity of Leads, with its id and an expanded contact.
            let url = format!("Leads?$apply=topsum({amount},Value)&$select=LeadId,Value&$expand=Contact($select=ContactId)");
            let prefer = [
                ("Prefer", "odata.maxpagesize=7"),
                ("Accept", "application/json;odata.metadata=full"),
            ];
            let got = common::rows_with(&app, &url, &t, &prefer).await;
            let ids: Vec<String> = got.iter().map(|l| item(l).0).collect();
            assert_eq!(ids, want, "{b:?} {ws}");
            for l in &got {
                let id = l["LeadId"].as_i64().unwrap_or_default();
                let odata_id = l["@odata.id"].as_str().unwrap_or_default();
                assert!(
                    odata_id.ends_with(&format!("Leads({id})")),
                    "{b:?} {ws}: {l}"
                );
                let lead = leads
                    .iter()
                    .find(|x| x["LeadId"] == l["LeadId"])
                    .unwrap_or_else(|| panic!("{l}"));
                match lead["ContactId"].as_i64() {
                    Some(c) => assert_eq!(l["Contact"]["ContactId"], c, "{b:?} {ws}: {l}"),
                    None => assert_eq!(l["Contact"], Value::Null, "{b:?} {ws}: {l}"),
                }
            }
            let r = app.get(&url, &t).await;
            let ctx = r.json()["@odata.context"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(
                ctx.ends_with("#Leads(LeadId,Value,Contact(ContactId))"),
                "{b:?} {ws}: {ctx}"
            );

            // Filters before the ranking narrow what is ranked; after it, what is kept.
            let won: Vec<(String, Option<Decimal>)> = leads
                .iter()
                .filter(|l| l["StatusId"] == "WON")
                .map(item)
                .collect();
            let half = total(&won) / Decimal::TWO;
            let want_won = sorted(kept(&ordered(won.clone(), true), half));
            let got = rows(
                &app,
                "Leads?$apply=filter(StatusId eq 'WON')/bottompercent(50,Value)&$select=LeadId",
                &t,
            )
            .await;
            assert_eq!(
                sorted(got.iter().map(|l| item(l).0).collect()),
                want_won,
                "{b:?} {ws}"
            );
            let after = rows(&app, &format!("Leads?$apply=topsum({amount},Value)/filter(StatusId eq 'WON')&$select=LeadId&$count=true"), &t).await;
            let want_after: Vec<String> = want
                .iter()
                .filter(|id| won.iter().any(|w| &w.0 == *id))
                .cloned()
                .collect();
            assert_eq!(
                after.iter().map(|l| item(l).0).collect::<Vec<_>>(),
                want_after,
                "{b:?} {ws}"
            );

            // Along a path: the ranking over one contact's leads only.
            let contact = leads
                .iter()
                .filter_map(|l| l["ContactId"].as_i64())
                .max_by_key(|c| leads.iter().filter(|l| l["ContactId"] == *c).count())
                .unwrap_or_else(|| panic!("{b:?} {ws}: no contact with leads"));
            let own: Vec<(String, Option<Decimal>)> = leads
                .iter()
                .filter(|l| l["ContactId"] == contact)
                .map(item)
                .collect();
            let want_own = sorted(kept(
                &ordered(own.clone(), false),
                total(&own) / Decimal::TWO,
            ));
            let got = rows(
                &app,
                &format!("Contacts({contact})/Leads?$apply=toppercent(50,Value)&$select=LeadId"),
                &t,
            )
            .await;
            assert_eq!(
                sorted(got.iter().map(|l| item(l).0).collect()),
                want_own,
                "{b:?} {ws}"
            );
            let r = app
                .get(
                    &format!("Contacts({contact})/Leads/$count?$apply=toppercent(50,Value)"),
                    &t,
                )
                .await;
            assert_eq!(r.text, want_own.len().to_string(), "{b:?} {ws}");
        }
    }
}
