//! A `groupby` or `aggregate` after another (OData Data Aggregation 3.1.3, 3.1.4): it
//! groups the result before it, with the filters and windows between them applied
//! first. On SQLite and (when configured) PostgreSQL, each expectation is worked out here
//! from the first grouping's own rows, read with the same token.

mod common;

use common::{backends, dec, rows, spawn_seeded, TestApp};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;

/// The one row of an `aggregate(...)` result.
async fn one(app: &TestApp, url: &str, token: &str) -> Value {
    let got = rows(app, url, token).await;
    assert_eq!(got.len(), 1, "{url}: {got:?}");
    got[0].clone()
}

const PER_CONTACT: &str = "Leads?$apply=groupby((ContactId),aggregate(Value with sum as V))";

#[actix_web::test]
async fn aggregate_after_groupby_aggregates_the_groups() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let groups = rows(&app, PER_CONTACT, &t).await;
            assert!(groups.len() > 10, "{b:?} {ws}: {groups:?}");
            let values: Vec<Decimal> = groups.iter().filter_map(|g| dec(&g["V"])).collect();
            let total: Decimal = values.iter().sum();
            let max = values.iter().max().copied();
            let url = format!(
                "{PER_CONTACT}/aggregate(V with sum as S,V with max as M,$count as N,V with average as A)"
            );
            let got = one(&app, &url, &t).await;
            assert_eq!(dec(&got["S"]), Some(total), "{b:?} {ws}: {got}");
            assert_eq!(dec(&got["M"]), max, "{b:?} {ws}: {got}");
            assert_eq!(got["N"], groups.len(), "{b:?} {ws}: {got}");
            let average = total / Decimal::from(values.len());
            let off = (dec(&got["A"]).unwrap_or_default() - average).abs();
            assert!(off < Decimal::new(1, 4), "{b:?} {ws}: {got} vs {average}");
            // The groups are the workspace's own: one per contact with leads, and the
            // counts of the leads add up to the workspace's leads.
            let url = "Leads?$apply=groupby((ContactId),aggregate($count as N))/aggregate(N with sum as All)";
            let got = one(&app, url, &t).await;
            assert_eq!(
                got["All"].as_i64(),
                Some(app.db.count("", "leads", ws)),
                "{b:?} {ws}: {got}"
            );
            // groupby without aggregate, then counted: the distinct values.
            let url = "Leads?$apply=groupby((StatusId))/aggregate($count as N)";
            let statuses = rows(&app, "Leads?$apply=groupby((StatusId))", &t).await;
            assert_eq!(one(&app, url, &t).await["N"], statuses.len(), "{b:?} {ws}");
        }
    }
}

#[actix_web::test]
async fn groupby_after_groupby_regroups_by_the_columns_before() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let inner = "Leads?$apply=groupby((Status/Description,DivisionId),aggregate($count as N,Value with sum as V))";
            let mut want: BTreeMap<String, (u64, Decimal, u64)> = BTreeMap::new();
            for r in rows(&app, inner, &t).await {
                let status = r["Status"]["Description"].as_str().unwrap_or("").to_owned();
                let e = want.entry(status).or_default();
                e.0 = e.0.max(r["N"].as_u64().unwrap_or_default());
                e.1 += dec(&r["V"]).unwrap_or_default();
                e.2 += 1;
            }
            assert!(want.len() > 2, "{b:?} {ws}: {want:?}");
            let url = format!(
                "{inner}/groupby((Status/Description),aggregate(N with max as Most,V with sum as Total,$count as Divisions))"
            );
            let got = rows(&app, &url, &t).await;
            assert_eq!(got.len(), want.len(), "{b:?} {ws}: {got:?}");
            for g in &got {
                // Grouped by a path, nested under its navigation as before.
                let status = g["Status"]["Description"].as_str().unwrap_or("");
                let (most, total, divisions) = want[status];
                assert_eq!(g["Most"].as_u64(), Some(most), "{b:?} {ws}: {g}");
                assert_eq!(dec(&g["Total"]), Some(total), "{b:?} {ws}: {g}");
                assert_eq!(g["Divisions"].as_u64(), Some(divisions), "{b:?} {ws}: {g}");
                assert_eq!(g.as_object().map(|o| o.len()), Some(4), "{b:?} {ws}: {g}");
            }
            // A third level over the second.
            let url = format!(
                "{inner}/groupby((Status/Description),aggregate(N with max as Most))/aggregate(Most with sum as S)"
            );
            let sum: u64 = want.values().map(|w| w.0).sum();
            assert_eq!(
                one(&app, &url, &t).await["S"].as_u64(),
                Some(sum),
                "{b:?} {ws}"
            );
            // The context names the last result's columns.
            let r = app.get(&url, &t).await;
            let context = r.json()["@odata.context"].as_str().unwrap_or("").to_owned();
            assert!(context.ends_with("$metadata#Leads(S)"), "{b:?}: {context}");
        }
    }
}

#[actix_web::test]
async fn filters_and_windows_between_levels_apply_first() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            // The contacts' totals (and that of the leads without a contact).
            let mut values: Vec<Decimal> = rows(&app, PER_CONTACT, &t)
                .await
                .iter()
                .filter_map(|g| dec(&g["V"]))
                .collect();
            values.sort_by(|a, b| b.cmp(a));
            let mid = values[values.len() / 2];
            let above = values.iter().filter(|&&v| v > mid).count();
            let url = format!("{PER_CONTACT}/filter(V gt {mid})/aggregate($count as N)");
            assert_eq!(one(&app, &url, &t).await["N"], above, "{b:?} {ws}");
            let top: Decimal = values.iter().take(5).sum();
            let url = format!("{PER_CONTACT}/topcount(5,V)/aggregate(V with sum as Top)");
            assert_eq!(
                dec(&one(&app, &url, &t).await["Top"]),
                Some(top),
                "{b:?} {ws}"
            );
            // $filter, $orderby and $count apply to the last result.
            let url = "Leads?$apply=groupby((StatusId,DivisionId),aggregate($count as N))/groupby((StatusId),aggregate(N with sum as Leads))&$filter=Leads gt 1&$orderby=Leads desc,StatusId&$count=true";
            let r = app.get(url, &t).await;
            assert_eq!(r.status, 200, "{b:?} {url}: {}", r.text);
            let got = r.values();
            assert_eq!(r.json()["@odata.count"], got.len(), "{b:?}: {}", r.text);
            let counts: Vec<u64> = got.iter().filter_map(|g| g["Leads"].as_u64()).collect();
            assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{b:?}: {counts:?}");
            assert!(counts.iter().all(|&n| n > 1), "{b:?}: {counts:?}");
            let plain = rows(
                &app,
                "Leads?$apply=groupby((StatusId),aggregate($count as Leads))",
                &t,
            )
            .await;
            let want = plain
                .iter()
                .filter(|p| p["Leads"].as_u64() > Some(1))
                .count();
            assert_eq!(got.len(), want, "{b:?} {ws}");
            // And /$count counts it.
            let r = app
                .get(
                    "Leads/$count?$apply=groupby((StatusId,DivisionId))/groupby((StatusId))",
                    &t,
                )
                .await;
            assert_eq!(r.text, plain.len().to_string(), "{b:?} {ws}");
        }
    }
}

#[actix_web::test]
async fn names_the_result_before_does_not_have_are_400() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        for (url, status, says) in [
            (
                &format!("{PER_CONTACT}/groupby((StatusId))") as &str,
                400,
                "`StatusId` is not a property of the aggregated result; it has ContactId, V",
            ),
            (
                &format!("{PER_CONTACT}/aggregate(Value with sum as S)"),
                400,
                "`Value` is not a property of the aggregated result",
            ),
            (
                &format!("{PER_CONTACT}/aggregate(V with sum as V)"),
                400,
                "`V` names another property",
            ),
            (
                &format!("{PER_CONTACT}/aggregate(V with sum as ContactId)"),
                400,
                "`ContactId` names another property",
            ),
            (
                "Leads?$apply=groupby((Status/Code))/aggregate(Status/DeadFlag with sum as D)",
                400,
                "`Status/DeadFlag` is not a property of the aggregated result",
            ),
            (
                &format!("{PER_CONTACT}/compute(V add 1 as V)"),
                400,
                "`V` names another property",
            ),
            (
                &format!("{PER_CONTACT}/compute(Value add 1 as W)"),
                400,
                "`Value` is not a property of the aggregated result",
            ),
            (
                &format!("{PER_CONTACT}/concat(identity,identity)/filter(V gt 1)"),
                501,
                "after `concat`",
            ),
        ] {
            let r = app.refuses(url, &t, status, says).await;
            assert_eq!(r.json()["error"]["target"], "$apply", "{b:?} {url}");
        }
    }
}

const PER_STATUS: &str =
    "Leads?$apply=groupby((StatusId),aggregate(Value with sum as V,$count as N))";

#[actix_web::test]
async fn compute_after_an_aggregation_adds_a_value_to_each_row() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let groups = rows(&app, PER_STATUS, &t).await;
            let n = |g: &Value| g["N"].as_u64().unwrap_or_default();
            assert!(groups.len() > 3, "{b:?} {ws}: {groups:?}");
            // A later item names an earlier one; a filter after names both.
            let url = format!(
                "{PER_STATUS}/compute(N mul 2 as Twice,Twice add 1 as More)/filter(Twice gt 2)"
            );
            let got = rows(&app, &url, &t).await;
            assert_eq!(
                got.len(),
                groups.iter().filter(|g| n(g) > 1).count(),
                "{b:?} {ws}: {got:?}"
            );
            for g in &got {
                assert_eq!(g["Twice"].as_u64(), Some(2 * n(g)), "{b:?} {ws}: {g}");
                assert_eq!(g["More"].as_u64(), Some(2 * n(g) + 1), "{b:?} {ws}: {g}");
                assert!(g["V"].is_number() || g["V"].is_null(), "{b:?}: {g}");
            }
            // A window over a computed value.
            let mut counts: Vec<u64> = groups.iter().map(n).collect();
            counts.sort_unstable_by(|a, b| b.cmp(a));
            let url = format!("{PER_STATUS}/compute(N mul 2 as Twice)/topcount(2,Twice)");
            let mut top: Vec<u64> = rows(&app, &url, &t)
                .await
                .iter()
                .filter_map(|g| g["Twice"].as_u64())
                .collect();
            top.sort_unstable_by(|a, b| b.cmp(a));
            assert_eq!(top, vec![2 * counts[0], 2 * counts[1]], "{b:?} {ws}");
            // $compute over the result, with $filter, $orderby and $select naming it.
            let url = format!("{PER_STATUS}&$compute=N add 1 as M&$filter=M gt 2&$orderby=M desc,StatusId&$select=StatusId,M");
            let got = rows(&app, &url, &t).await;
            let want: Vec<u64> = counts.iter().map(|c| c + 1).filter(|&m| m > 2).collect();
            let ms: Vec<u64> = got.iter().filter_map(|g| g["M"].as_u64()).collect();
            assert_eq!(ms, want, "{b:?} {ws}: {got:?}");
            for g in &got {
                let keys: Vec<&String> = g
                    .as_object()
                    .map(|o| o.keys().collect())
                    .unwrap_or_default();
                assert_eq!(keys, ["StatusId", "M"], "{b:?} {ws}: {g}");
            }
            // Grouped by a path, the row keeps its nesting; then grouped by the value.
            let url = "Leads?$apply=groupby((Status/Description,DivisionId),aggregate($count as N))/compute(N gt 1 as Many)/groupby((Many),aggregate($count as C))";
            let inner = rows(
                &app,
                "Leads?$apply=groupby((Status/Description,DivisionId),aggregate($count as N))",
                &t,
            )
            .await;
            let many = inner.iter().filter(|g| n(g) > 1).count() as u64;
            for g in rows(&app, url, &t).await {
                let want = if g["Many"] == true {
                    many
                } else {
                    inner.len() as u64 - many
                };
                assert_eq!(g["C"].as_u64(), Some(want), "{b:?} {ws}: {g}");
            }
            let url =
                "Leads?$apply=groupby((Status/Description),aggregate($count as N))/compute(N as K)";
            for g in rows(&app, url, &t).await {
                assert!(g["Status"]["Description"].is_string(), "{b:?} {ws}: {g}");
                assert_eq!(g["K"], g["N"], "{b:?} {ws}: {g}");
            }
        }
    }
}

/// `A with m from p with g as D` is `groupby((p),aggregate(A with m as T))/aggregate(T
/// with g as D)` (Data Aggregation 3.2.1.4), within the groupby it stands in.
#[actix_web::test]
async fn from_aggregates_per_group_then_over_the_groups() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let short = one(
                &app,
                "Leads?$apply=aggregate(Value with sum from ContactId with average as A)",
                &t,
            )
            .await;
            let long = one(
                &app,
                &format!("{PER_CONTACT}/aggregate(V with average as A)"),
                &t,
            )
            .await;
            assert_eq!(short, long, "{b:?} {ws}");
            assert!(short["A"].is_number(), "{b:?} {ws}: {short}");
            // Two from clauses inside a groupby: the innermost grouping first.
            let short = "Leads?$apply=groupby((StatusId),aggregate($count from ContactId,DivisionId with max from DivisionId with sum as S))";
            let long = "Leads?$apply=groupby((StatusId,DivisionId,ContactId),aggregate($count as C))/groupby((StatusId,DivisionId),aggregate(C with max as M))/groupby((StatusId),aggregate(M with sum as S))";
            let (mut short, mut long) = (rows(&app, short, &t).await, rows(&app, long, &t).await);
            short.sort_by_key(|r| r["StatusId"].to_string());
            long.sort_by_key(|r| r["StatusId"].to_string());
            assert_eq!(short, long, "{b:?} {ws}");
            assert!(short.len() > 2, "{b:?} {ws}: {short:?}");
        }
        let t = app.db.token("alpha");
        app.refuses(
            "Leads?$apply=aggregate(Value with sum from ContactId with average as A,$count as N)",
            &t,
            501,
            "beside other aggregates",
        )
        .await;
        app.refuses(
            "Leads?$apply=aggregate(Value with sum from Nope with average as A)",
            &t,
            400,
            "`Nope` is not a property of Lead",
        )
        .await;
        app.refuses(
            "Leads?$apply=aggregate(Value with sum from ContactId as A)",
            &t,
            400,
            "with",
        )
        .await;
    }
}

/// Every level is a query over the one before: a sequence with more levels than the
/// service takes is refused as such, never a database error or a crash.
#[actix_web::test]
async fn too_many_levels_are_501() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        let chain = |n: usize| {
            let mut q = format!("{PER_CONTACT}/compute(V as A0)");
            for i in 1..n {
                q.push_str(&format!("/compute(A{} as A{i})", i - 1));
            }
            q
        };
        let r = app.get(&chain(30), &t).await;
        assert_eq!(r.status, 200, "{b:?}: {}", r.text);
        let last = rows(&app, &chain(30), &t).await;
        assert!(last.iter().all(|r| r["A29"] == r["V"]), "{b:?}: {last:?}");
        for n in [32, 600] {
            app.refuses(&chain(n), &t, 501, "more than the 31 taken")
                .await;
        }
    }
}
