//! `groupby((paths),T)` with transformations `T` applied to each group (OData Data
//! Aggregation 3.2.3.1): filters, then a ranking per group (`topcount`, `bottomcount`,
//! `orderby`/`skip`/`top`, `topsum`, `toppercent`), then an aggregate per group, or the
//! entities each group keeps. On SQLite and (when configured) PostgreSQL; every
//! expectation is worked out here, in exact decimals, from the workspace's own leads.

mod common;

use common::{backends, dec, rows, spawn_seeded, TestApp};
use rust_decimal::Decimal;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
struct Lead {
    id: i64,
    value: Option<Decimal>,
    guttometer: Option<i64>,
}

/// The workspace's leads by the text of `key`'s value.
async fn leads_by(app: &TestApp, token: &str, key: &str) -> BTreeMap<String, Vec<Lead>> {
    let url = format!("Leads?$select=LeadId,{key},Value,Guttometer");
    let mut out: BTreeMap<String, Vec<Lead>> = BTreeMap::new();
    for l in rows(app, &url, token).await {
        out.entry(l[key].to_string()).or_default().push(Lead {
            id: l["LeadId"].as_i64().unwrap_or_default(),
            value: dec(&l["Value"]),
            guttometer: l["Guttometer"].as_i64(),
        });
    }
    out
}

/// `leads` highest value first (lowest with `bottom`), nulls last, ties by key.
fn ranked(mut leads: Vec<Lead>, bottom: bool) -> Vec<Lead> {
    leads.sort_by(|a, b| {
        let by_value = match (a.value, b.value) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) if bottom => x.cmp(&y),
            (Some(x), Some(y)) => y.cmp(&x),
        };
        by_value.then(a.id.cmp(&b.id))
    });
    leads
}

fn sum(leads: &[Lead]) -> Option<Decimal> {
    let values: Vec<Decimal> = leads.iter().filter_map(|l| l.value).collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// The leads kept while those before add up to less than `amount`.
fn kept(leads: &[Lead], amount: Decimal) -> Vec<Lead> {
    let mut before = Decimal::ZERO;
    let mut out = Vec::new();
    for l in leads {
        if before >= amount {
            break;
        }
        out.push(l.clone());
        before += l.value.unwrap_or_default();
    }
    out
}

/// The result rows by the text of `key`'s value.
fn by(rows: Vec<Value>, key: &str) -> BTreeMap<String, Value> {
    rows.into_iter().map(|r| (r[key].to_string(), r)).collect()
}

#[actix_web::test]
async fn a_ranking_per_group_keeps_each_groups_own_rows() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let per_contact = leads_by(&app, &t, "ContactId").await;
            assert!(per_contact.len() > 10, "{b:?} {ws}");
            let url = "Leads?$apply=groupby((ContactId),topcount(2,Value)/aggregate(Value with sum as Top2,$count as N))";
            let got = by(rows(&app, url, &t).await, "ContactId");
            assert_eq!(got.len(), per_contact.len(), "{b:?} {ws}");
            for (contact, leads) in &per_contact {
                let top = &ranked(leads.clone(), false)[..leads.len().min(2)];
                let g = &got[contact];
                assert_eq!(dec(&g["Top2"]), sum(top), "{b:?} {ws} {contact}: {g}");
                assert_eq!(g["N"].as_u64(), Some(top.len() as u64), "{b:?} {ws}: {g}");
            }
            // Filters first, then the lowest three per status.
            let per_status = leads_by(&app, &t, "StatusId").await;
            let url = "Leads?$apply=groupby((StatusId),filter(Guttometer ge 50)/bottomcount(3,Value)/aggregate(Value with max as M,$count as N))";
            let got = by(rows(&app, url, &t).await, "StatusId");
            for (status, leads) in &per_status {
                let kept: Vec<Lead> = leads
                    .iter()
                    .filter(|l| l.guttometer >= Some(50))
                    .cloned()
                    .collect();
                let Some(g) = got.get(status) else {
                    assert!(kept.is_empty(), "{b:?} {ws}: no group {status}");
                    continue;
                };
                let low = &ranked(kept.clone(), true)[..kept.len().min(3)];
                let max = low.iter().filter_map(|l| l.value).max();
                assert_eq!(dec(&g["M"]), max, "{b:?} {ws} {status}: {g}");
                assert_eq!(g["N"].as_u64(), Some(low.len() as u64), "{b:?} {ws}: {g}");
            }
            // orderby/skip/top per group, and a filter over the groups' rows after.
            let url = "Leads?$apply=groupby((StatusId),orderby(Value desc)/skip(1)/top(2)/aggregate(Value with sum as S))/filter(S gt 1000)";
            let got = by(rows(&app, url, &t).await, "StatusId");
            let mut want = 0;
            for (status, leads) in &per_status {
                let r = ranked(leads.clone(), false);
                let second_third = &r[r.len().min(1)..r.len().min(3)];
                match sum(second_third).filter(|s| *s > Decimal::from(1000)) {
                    Some(s) => {
                        want += 1;
                        assert_eq!(dec(&got[status]["S"]), Some(s), "{b:?} {ws} {status}");
                    }
                    None => assert!(!got.contains_key(status), "{b:?} {ws} {status}"),
                }
            }
            assert_eq!(got.len(), want, "{b:?} {ws}");
        }
    }
}

#[actix_web::test]
async fn topsum_and_toppercent_cut_each_group_on_its_own() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let per_status = leads_by(&app, &t, "StatusId").await;
            let amount = Decimal::from(150_000);
            let url = "Leads?$apply=groupby((StatusId),topsum(150000,Value)/aggregate($count as N,Value with sum as S))";
            let got = by(rows(&app, url, &t).await, "StatusId");
            for (status, leads) in &per_status {
                let k = kept(&ranked(leads.clone(), false), amount);
                let g = &got[status];
                assert_eq!(
                    g["N"].as_u64(),
                    Some(k.len() as u64),
                    "{b:?} {ws} {status}: {g}"
                );
                assert_eq!(dec(&g["S"]), sum(&k), "{b:?} {ws} {status}: {g}");
            }
            let url =
                "Leads?$apply=groupby((StatusId),bottompercent(30,Value)/aggregate($count as N))";
            let got = by(rows(&app, url, &t).await, "StatusId");
            for (status, leads) in &per_status {
                let total = sum(leads).unwrap_or_default();
                let share = total * Decimal::from(30) / Decimal::from(100);
                let k = kept(&ranked(leads.clone(), true), share);
                let g = &got[status];
                assert_eq!(
                    g["N"].as_u64(),
                    Some(k.len() as u64),
                    "{b:?} {ws} {status}: {g}"
                );
            }
        }
    }
}

#[actix_web::test]
async fn without_an_aggregate_each_group_keeps_its_entities() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let per_contact = leads_by(&app, &t, "ContactId").await;
            let url = "Leads?$apply=groupby((ContactId),topcount(1,Value))";
            let got = rows(&app, url, &t).await;
            assert_eq!(got.len(), per_contact.len(), "{b:?} {ws}");
            for g in &got {
                let contact = g["ContactId"].to_string();
                let best = &ranked(per_contact[&contact].clone(), false)[0];
                // The lead itself, with its other properties.
                assert_eq!(g["LeadId"].as_i64(), Some(best.id), "{b:?} {ws}: {g}");
                assert_eq!(dec(&g["Value"]), best.value, "{b:?} {ws}: {g}");
                assert!(
                    g["Description"].is_string() || g["Description"].is_null(),
                    "{g}"
                );
                let lead = app.get(&format!("Leads({})", best.id), &t).await.json();
                for (name, value) in g.as_object().into_iter().flatten() {
                    assert_eq!(value, &lead[name], "{b:?} {ws} {name}: {g} vs {lead}");
                }
            }
            // $select and $orderby over them.
            let url = "Leads?$apply=groupby((ContactId),topcount(1,Value))&$select=ContactId,LeadId&$orderby=LeadId desc&$top=3";
            let got = app.get(url, &t).await.values();
            assert_eq!(got.len(), 3.min(per_contact.len()), "{b:?} {ws}");
            for g in &got {
                let keys: Vec<&String> = g
                    .as_object()
                    .map(|o| o.keys().collect())
                    .unwrap_or_default();
                assert_eq!(keys, ["ContactId", "LeadId"], "{b:?} {ws}: {g}");
            }
        }
    }
}

#[actix_web::test]
async fn a_rollup_ranks_within_each_of_its_groupings() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let per_status = leads_by(&app, &t, "StatusId").await;
            let url = "Leads?$apply=groupby((rollup($all,StatusId,DivisionId)),topcount(1,Value)/aggregate(Value with max as M,$count as N))";
            let got = rows(&app, url, &t).await;
            let all: Vec<Lead> = per_status.values().flatten().cloned().collect();
            let grand: Vec<&Value> = got.iter().filter(|g| g.get("StatusId").is_none()).collect();
            assert_eq!(grand.len(), 1, "{b:?} {ws}: {got:?}");
            assert_eq!(
                dec(&grand[0]["M"]),
                ranked(all, false)[0].value,
                "{b:?} {ws}"
            );
            assert_eq!(grand[0]["N"], 1, "{b:?} {ws}");
            for g in got
                .iter()
                .filter(|g| g.get("StatusId").is_some() && g.get("DivisionId").is_none())
            {
                let leads = &per_status[&g["StatusId"].to_string()];
                assert_eq!(
                    dec(&g["M"]),
                    ranked(leads.clone(), false)[0].value,
                    "{b:?} {ws}: {g}"
                );
            }
        }
    }
}

#[actix_web::test]
async fn sequences_per_group_it_cannot_take_are_501() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        for q in [
            "top(10)/groupby((StatusId),topcount(1,Value)/aggregate($count as N))",
            "groupby((StatusId),groupby((DivisionId),topcount(1,Value)))",
            "groupby((rollup(StatusId,SizeId)),groupby((DivisionId),aggregate($count as N))/aggregate(N with max as M))",
            "groupby((StatusId),topsum(10,Value)/top(1)/aggregate($count as N))",
            "groupby((StatusId),topcount(1,Value)/filter(Value gt 0))",
            "groupby((StatusId),aggregate($count as N)/top(1))",
            "groupby((StatusId),aggregate($count as N))/groupby((N),topcount(1,N))",
        ] {
            let r = app
                .refuses(&format!("Leads?$apply={q}"), &t, 501, "not supported")
                .await;
            assert_eq!(r.json()["error"]["target"], "$apply", "{b:?} {q}");
        }
        app.refuses(
            "Leads?$apply=groupby((StatusId),topcount(1,Nope)/aggregate($count as N))",
            &t,
            400,
            "Nope",
        )
        .await;
    }
}

/// A groupby within each group: its rows carry both groups' paths, so it groups by both.
#[actix_web::test]
async fn a_groupby_within_each_group_groups_by_both() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let sorted = |mut r: Vec<Value>| {
                r.sort_by_key(|v| v.to_string());
                r
            };
            for (nested, flat) in [
                (
                    "groupby((StatusId),groupby((DivisionId),aggregate($count as N)))",
                    "groupby((StatusId,DivisionId),aggregate($count as N))",
                ),
                (
                    "groupby((StatusId),filter(Guttometer gt 20)/groupby((DivisionId),aggregate(Value with sum as S))/filter(S gt 0)/aggregate(S with max as M))",
                    "filter(Guttometer gt 20)/groupby((StatusId,DivisionId),aggregate(Value with sum as S))/filter(S gt 0)/groupby((StatusId),aggregate(S with max as M))",
                ),
                (
                    "groupby((Status/Description),groupby((rollup($all,DivisionId,SizeId)),aggregate($count as N)))",
                    "groupby((Status/Description,rollup($all,DivisionId,SizeId)),aggregate($count as N))",
                ),
            ] {
                let got = sorted(rows(&app, &format!("Leads?$apply={nested}"), &t).await);
                let want = sorted(rows(&app, &format!("Leads?$apply={flat}"), &t).await);
                assert!(want.len() > 2, "{b:?} {ws} {flat}: {want:?}");
                assert_eq!(got, want, "{b:?} {ws} {nested}");
            }
        }
    }
}
