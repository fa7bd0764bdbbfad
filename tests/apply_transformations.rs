//! `$apply` transformations beyond filter, compute, groupby and aggregate (OData Data
//! Aggregation §3.3), on SQLite and (when configured) PostgreSQL: `orderby`, `skip` and
//! `top` keep the rows the same ordering, skipping and limiting of the whole result
//! would, after a `groupby` or `aggregate` or over the entities before it; `search` keeps
//! the entities `$search` finds.

mod common;

use common::{backends, spawn_seeded, TestApp};
use serde_json::Value;

const GROUPED: &str =
    "Leads?$apply=groupby((StatusId),aggregate(Value with sum as Total,$count as N))";

async fn rows(app: &TestApp, url: &str, token: &str) -> Vec<Value> {
    common::rows_with(app, url, token, &[("Prefer", "odata.maxpagesize=2")]).await
}

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// The whole grouped result, ordered by `key` (descending with `desc`), ties by StatusId.
fn sorted(mut all: Vec<Value>, key: &str, desc: bool) -> Vec<Value> {
    all.sort_by(|a, b| {
        let o = num(a, key).total_cmp(&num(b, key));
        let o = if desc { o.reverse() } else { o };
        o.then_with(|| a["StatusId"].as_str().cmp(&b["StatusId"].as_str()))
    });
    all
}

#[actix_web::test]
async fn orderby_skip_and_top_keep_the_rows_of_the_ordered_result() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            // Each workspace's window is over its own groups only.
            let t = app.db.token(ws);
            let all = rows(&app, GROUPED, &t).await;
            assert!(all.len() >= 6, "{b:?} {ws}: {all:?}");
            let by_total = sorted(all.clone(), "Total", true);

            let top3 = rows(&app, &format!("{GROUPED}/orderby(Total desc)/top(3)"), &t).await;
            assert_eq!(top3, by_total[..3].to_vec(), "{b:?} {ws}");

            let r = app
                .get(
                    &format!("{GROUPED}/orderby(Total desc)/skip(1)/top(2)&$count=true"),
                    &t,
                )
                .await;
            assert_eq!(r.json()["@odata.count"], 2, "{}", r.text);
            assert_eq!(r.values(), by_total[1..3].to_vec(), "{b:?} {ws}");

            // Filters before the window choose among the groups, after it among the rows kept.
            let kept: Vec<Value> = sorted(all.clone(), "N", false)
                .into_iter()
                .filter(|v| num(v, "N") > 3.0)
                .take(4)
                .filter(|v| num(v, "Total") > 0.0 && v["StatusId"] != "WON")
                .collect();
            let url = format!(
                "{GROUPED}/filter(N gt 3)/orderby(N,StatusId)/top(4)/filter(Total gt 0)&$filter=StatusId ne 'WON'"
            );
            assert_eq!(rows(&app, &url, &t).await, kept, "{b:?} {ws}: {url}");

            // An orderby after top orders the rows top kept; $orderby and $top then apply.
            let mut reordered = by_total[..4].to_vec();
            reordered.sort_by(|a, b| a["StatusId"].as_str().cmp(&b["StatusId"].as_str()));
            let url = format!("{GROUPED}/orderby(Total desc)/top(4)/orderby(StatusId)");
            assert_eq!(rows(&app, &url, &t).await, reordered, "{b:?} {ws}");
            let url =
                format!("{GROUPED}/orderby(Total desc)/top(4)&$orderby=N desc,StatusId&$top=2");
            let expected = sorted(by_total[..4].to_vec(), "N", true)[..2].to_vec();
            assert_eq!(rows(&app, &url, &t).await, expected, "{b:?} {ws}");

            // skip then top, and top then skip, as the specification reads them.
            let url = format!("{GROUPED}/orderby(Total desc)/top(5)/skip(3)");
            assert_eq!(
                rows(&app, &url, &t).await,
                by_total[3..5].to_vec(),
                "{b:?} {ws}"
            );
            let url = format!("{GROUPED}/orderby(Total desc)/skip(3)/top(1)");
            assert_eq!(
                rows(&app, &url, &t).await,
                by_total[3..4].to_vec(),
                "{b:?} {ws}"
            );
        }
    }
}

#[actix_web::test]
async fn windows_it_does_not_take_are_501_and_bad_ones_400() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        for (url, status) in [
            (
                "Leads?$apply=top(5)/filter(Value gt 0)/groupby((StatusId))",
                501,
            ),
            ("Leads?$apply=orderby(Value desc)/top(5)&$top=2", 501),
            ("Leads?$apply=top(5)/orderby(Value)", 501),
            (
                &format!("{GROUPED}/top(5)/filter(N gt 1)/top(2)") as &str,
                501,
            ),
            (&format!("{GROUPED}/top(5)/orderby(N)/top(2)"), 501),
            (&format!("{GROUPED}/top(-1)"), 400),
            (&format!("{GROUPED}/orderby(Nope)"), 400),
            (&format!("{GROUPED}/skip(x)"), 400),
        ] {
            let r = app.get(url, &t).await;
            assert_eq!(r.status, status, "{b:?} {url}: {}", r.text);
            assert_eq!(r.json()["error"]["target"], "$apply", "{url}: {}", r.text);
        }
    }
}

#[actix_web::test]
async fn search_keeps_the_entities_search_finds() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let count = |q: String| {
                let app = &app;
                let t = t.clone();
                async move {
                    let r = app.get(&q, &t).await;
                    assert_eq!(r.status, 200, "{q}: {}", r.text);
                    r.text
                        .parse::<i64>()
                        .unwrap_or_else(|_| panic!("{q}: {}", r.text))
                }
            };
            for terms in ["Smith", "Smith OR Jones", "\"Ltd\" NOT Smith"] {
                let expected = count(format!("Contacts/$count?$search={terms}")).await;
                let r = app
                    .get(
                        &format!("Contacts?$apply=search({terms})/aggregate($count as N)"),
                        &t,
                    )
                    .await;
                assert_eq!(r.status, 200, "{b:?} {terms}: {}", r.text);
                assert_eq!(
                    r.values()[0]["N"].as_i64(),
                    Some(expected),
                    "{b:?} {ws} {terms}"
                );
                // Grouped, the groups add up to the same.
                let groups = rows(
                    &app,
                    &format!(
                        "Contacts?$apply=search({terms})/groupby((Surname),aggregate($count as N))"
                    ),
                    &t,
                )
                .await;
                let sum: f64 = groups.iter().map(|g| num(g, "N")).sum();
                assert_eq!(sum as i64, expected, "{b:?} {ws} {terms}");
            }
            // Without an aggregation the entities themselves, with `$search` and `$filter` too.
            let expected =
                count("Contacts/$count?$search=Smith&$filter=ContactId gt 10".into()).await;
            let r = app
                .get("Contacts?$apply=search(Smith)/filter(ContactId gt 10)&$search=Smith OR Jones&$count=true&$select=Surname", &t)
                .await;
            assert_eq!(
                r.json()["@odata.count"].as_i64(),
                Some(expected),
                "{b:?} {ws}: {}",
                r.text
            );
            assert!(
                r.values().iter().all(|v| v["Surname"] == "Smith"),
                "{}",
                r.text
            );
        }
        let t = app.db.token("alpha");
        for (url, status) in [
            ("Contacts?$apply=aggregate($count as N)/search(Smith)", 501),
            ("Contacts?$apply=search()/aggregate($count as N)", 400),
            ("Contacts?$apply=search(Smith", 400),
        ] {
            let r = app.get(url, &t).await;
            assert_eq!(r.status, status, "{b:?} {url}: {}", r.text);
        }
    }
}

#[actix_web::test]
async fn orderby_skip_and_top_over_the_entities_choose_what_is_aggregated() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            // The same rows as $filter, $orderby, $skip and $top choose (key last on ties).
            let chosen = rows(
                &app,
                "Leads?$filter=Guttometer ge 30&$orderby=Value desc,LeadId&$skip=2&$top=5&$select=LeadId,Value,StatusId",
                &t,
            )
            .await;
            assert_eq!(chosen.len(), 5, "{b:?} {ws}");
            let url = "Leads?$apply=filter(Guttometer ge 30)/orderby(Value desc)/skip(2)/top(5)&$select=LeadId,Value,StatusId";
            assert_eq!(rows(&app, url, &t).await, chosen, "{b:?} {ws}: {url}");
            // Aggregated: the sum and the groups of exactly those rows.
            let sum: f64 = chosen.iter().map(|v| num(v, "Value")).sum();
            let r = app
                .get("Leads?$apply=filter(Guttometer ge 30)/orderby(Value desc)/skip(2)/top(5)/aggregate(Value with sum as S,$count as N)", &t)
                .await;
            assert_eq!(r.status, 200, "{b:?}: {}", r.text);
            let v = &r.values()[0];
            assert_eq!(v["N"], 5, "{b:?} {ws}: {v}");
            assert!(
                (num(v, "S") - sum).abs() < 0.005,
                "{b:?} {ws}: {v} against {sum}"
            );
            let groups = rows(
                &app,
                "Leads?$apply=filter(Guttometer ge 30)/orderby(Value desc)/skip(2)/top(5)/groupby((StatusId),aggregate($count as N))",
                &t,
            )
            .await;
            let mut counted: Vec<(String, i64)> = groups
                .iter()
                .map(|g| {
                    (
                        g["StatusId"].as_str().unwrap_or("").to_owned(),
                        g["N"].as_i64().unwrap_or(0),
                    )
                })
                .collect();
            counted.sort();
            let mut expected: Vec<(String, i64)> = Vec::new();
            for v in &chosen {
                let s = v["StatusId"].as_str().unwrap_or("").to_owned();
                match expected.iter_mut().find(|(k, _)| *k == s) {
                    Some((_, n)) => *n += 1,
                    None => expected.push((s, 1)),
                }
            }
            expected.sort();
            assert_eq!(counted, expected, "{b:?} {ws}");
            // A computed value may order them.
            let r = app
                .get("Leads?$apply=compute(Value mul 2 as D)/orderby(D desc)/top(1)/aggregate(D with max as M)", &t)
                .await;
            let top = rows(&app, "Leads?$orderby=Value desc&$top=1&$select=Value", &t).await;
            assert!(
                (num(&r.values()[0], "M") - 2.0 * num(&top[0], "Value")).abs() < 0.005,
                "{b:?}: {}",
                r.text
            );
        }
    }
}

/// `topcount(n,e)` and `bottomcount(n,e)`: the `n` rows with the highest and lowest `e`,
/// over the entities or over the aggregated result.
#[actix_web::test]
async fn topcount_and_bottomcount_rank_rows() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        let all = rows(&app, GROUPED, &t).await;
        let url = format!("{GROUPED}/topcount(3,Total)");
        assert_eq!(
            rows(&app, &url, &t).await,
            sorted(all.clone(), "Total", true)[..3].to_vec(),
            "{b:?}"
        );
        let url = format!("{GROUPED}/bottomcount(2,N)");
        assert_eq!(
            rows(&app, &url, &t).await,
            sorted(all, "N", false)[..2].to_vec(),
            "{b:?}"
        );
        let top = rows(
            &app,
            "Leads?$orderby=Value desc,LeadId&$top=4&$select=LeadId",
            &t,
        )
        .await;
        assert_eq!(
            rows(&app, "Leads?$apply=topcount(4,Value)&$select=LeadId", &t).await,
            top,
            "{b:?}"
        );
        let r = app
            .get(
                "Leads?$apply=bottomcount(3,Value)/aggregate($count as N)",
                &t,
            )
            .await;
        assert_eq!(r.values()[0]["N"], 3, "{b:?}: {}", r.text);
    }
}

/// `compute` without groupby or aggregate extends each entity, as `$compute` does (Data
/// Aggregation 3.3): the steps read the same as the options.
#[actix_web::test]
async fn compute_alone_extends_the_entities() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let options = "$select=LeadId,Twice&$orderby=Twice desc,LeadId&$top=5";
            let by_apply = app
                .get(&format!("Leads?$apply=compute(Value mul 2 as Twice)/filter(Twice gt 1000)&{options}"), &t)
                .await;
            let by_compute = app
                .get(
                    &format!("Leads?$compute=Value mul 2 as Twice&$filter=Twice gt 1000&{options}"),
                    &t,
                )
                .await;
            assert_eq!(by_apply.status, 200, "{b:?}: {}", by_apply.text);
            assert_eq!(by_apply.values(), by_compute.values(), "{b:?} {ws}");
            assert_eq!(by_apply.values().len(), 5, "{b:?} {ws}");
            // A window after it; every entity keeps its own properties.
            let got = app
                .get(
                    "Leads?$apply=compute(Value mul 2 as Twice)/orderby(LeadId)/top(3)",
                    &t,
                )
                .await
                .values();
            assert_eq!(got.len(), 3, "{b:?} {ws}");
            for l in &got {
                let (v, twice) = (common::dec(&l["Value"]), common::dec(&l["Twice"]));
                assert_eq!(
                    v.map(|v| v * rust_decimal::Decimal::TWO),
                    twice,
                    "{b:?} {ws}: {l}"
                );
            }
            // Counted within the workspace.
            let r = app
                .get(
                    "Leads/$count?$apply=compute(Value mul 2 as T)/filter(T gt 0)",
                    &t,
                )
                .await;
            assert_eq!(
                r.text,
                app.db.count(" AND value > 0", "leads", ws).to_string(),
                "{b:?} {ws}"
            );
        }
    }
}
