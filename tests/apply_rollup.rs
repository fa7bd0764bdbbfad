//! `groupby` with `rollup` (OData Data Aggregation 3.2.3.2): one grouping by every
//! level of each hierarchy, then by one level fewer down to the first (to none with
//! `$all`), each grouping's rows without the levels it leaves out. On SQLite and (when
//! configured) PostgreSQL; each expectation is worked out from plain groupbys read with
//! the same token.

mod common;

use common::{backends, rows, spawn_seeded};
use serde_json::Value;
use std::collections::BTreeMap;

/// Rows by their text, to compare as multisets.
fn counted(rows: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in rows {
        *out.entry(r.to_string()).or_default() += 1;
    }
    out
}

fn union(parts: &[&[Value]]) -> BTreeMap<String, usize> {
    let all: Vec<Value> = parts.iter().flat_map(|p| p.iter().cloned()).collect();
    counted(&all)
}

const AGG: &str = "aggregate(Value with sum as Total,$count as N)";

#[actix_web::test]
async fn a_rollup_adds_the_subtotals_of_each_coarser_level() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let fine = rows(
                &app,
                &format!("Leads?$apply=groupby((DivisionId,StatusId),{AGG})"),
                &t,
            )
            .await;
            let by_division = rows(
                &app,
                &format!("Leads?$apply=groupby((DivisionId),{AGG})"),
                &t,
            )
            .await;
            let total = rows(&app, &format!("Leads?$apply={AGG}"), &t).await;
            assert!(by_division.len() > 2, "{b:?} {ws}: {by_division:?}");
            let url = format!("Leads?$apply=groupby((rollup(DivisionId,StatusId)),{AGG})");
            let got = rows(&app, &url, &t).await;
            // The subtotals have no StatusId at all: absent, not null.
            assert_eq!(counted(&got), union(&[&fine, &by_division]), "{b:?} {ws}");
            // `$all` adds the grand total, without either.
            let url = format!("Leads?$apply=groupby((rollup($all,DivisionId,StatusId)),{AGG})");
            let got = rows(&app, &url, &t).await;
            assert_eq!(
                counted(&got),
                union(&[&fine, &by_division, &total]),
                "{b:?} {ws}"
            );
            let grand: Vec<&Value> = got
                .iter()
                .filter(|r| r.get("DivisionId").is_none())
                .collect();
            assert_eq!(grand.len(), 1, "{b:?} {ws}: {grand:?}");
            assert_eq!(
                grand[0]["N"].as_i64(),
                Some(app.db.count("", "leads", ws)),
                "{b:?} {ws}"
            );
            // The context names every property a row may have.
            let r = app.get(&url, &t).await;
            let context = r.json()["@odata.context"].as_str().unwrap_or("").to_owned();
            assert!(
                context.ends_with("$metadata#Leads(DivisionId,StatusId,Total,N)"),
                "{b:?}: {context}"
            );
        }
    }
}

#[actix_web::test]
async fn rollups_combine_with_groups_navigation_and_each_other() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let g = |paths: &str| format!("Leads?$apply=groupby(({paths}),aggregate($count as N))");
            let parts = [
                rows(&app, &g("Status/Description,SizeId,TypeId,PipelineId"), &t).await,
                rows(&app, &g("Status/Description,TypeId,PipelineId"), &t).await,
                rows(&app, &g("Status/Description,SizeId,TypeId"), &t).await,
                rows(&app, &g("Status/Description,TypeId"), &t).await,
                rows(&app, &g("Status/Description,SizeId"), &t).await,
                rows(&app, &g("Status/Description"), &t).await,
            ];
            let url = g("rollup(Status/Description,SizeId),rollup($all,TypeId,PipelineId)");
            let got = rows(&app, &url, &t).await;
            let want: Vec<&[Value]> = parts.iter().map(Vec::as_slice).collect();
            assert_eq!(counted(&got), union(&want), "{b:?} {ws}");
            assert!(
                got.iter().all(|r| r["Status"]["Description"].is_string()),
                "{b:?}"
            );
            // A path aggregate counts each entity once per group of each grouping.
            let url = "Contacts?$apply=groupby((rollup($all,DivisionId,Surname)),aggregate(Leads with countdistinct as L))";
            let got = rows(&app, url, &t).await;
            let by_division = rows(
                &app,
                "Contacts?$apply=groupby((DivisionId),aggregate(Leads with countdistinct as L))",
                &t,
            )
            .await;
            let fine = rows(&app, "Contacts?$apply=groupby((DivisionId,Surname),aggregate(Leads with countdistinct as L))", &t).await;
            let all = rows(
                &app,
                "Contacts?$apply=aggregate(Leads with countdistinct as L)",
                &t,
            )
            .await;
            assert_eq!(
                counted(&got),
                union(&[&fine, &by_division, &all]),
                "{b:?} {ws}"
            );
        }
    }
}

#[actix_web::test]
async fn a_rolled_up_result_filters_orders_counts_and_pages() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let base = format!("Leads?$apply=groupby((rollup($all,DivisionId,StatusId)),{AGG})");
            let all = rows(&app, &base, &t).await;
            // Pages of 7 keep every row once, in the same order.
            let r = app
                .get_with(&base, &t, &[("prefer", "odata.maxpagesize=7")])
                .await;
            assert_eq!(r.status, 200, "{b:?}: {}", r.text);
            let mut paged = r.values();
            let mut next = r.json()["@odata.nextLink"].as_str().map(str::to_owned);
            while let Some(u) = next {
                let r = app.get(&u, &t).await;
                paged.extend(r.values());
                next = r.json()["@odata.nextLink"].as_str().map(str::to_owned);
            }
            assert_eq!(paged, all, "{b:?} {ws}");
            // A filter after the grouping, $orderby and $count over it.
            let url = format!("{base}/filter(N gt 3)&$orderby=N desc&$count=true");
            let r = app.get(&url, &t).await;
            assert_eq!(r.status, 200, "{b:?}: {}", r.text);
            let got = r.values();
            let want = all.iter().filter(|r| r["N"].as_u64() > Some(3)).count();
            assert_eq!(got.len(), want, "{b:?} {ws}");
            assert_eq!(r.json()["@odata.count"], want, "{b:?} {ws}");
            let ns: Vec<u64> = got.iter().filter_map(|r| r["N"].as_u64()).collect();
            assert!(ns.windows(2).all(|w| w[0] >= w[1]), "{b:?}: {ns:?}");
            // The grand total is the largest; topcount takes it.
            let url = format!("{base}/topcount(1,N)");
            let top = rows(&app, &url, &t).await;
            assert_eq!(top.len(), 1, "{b:?}");
            assert!(top[0].get("DivisionId").is_none(), "{b:?}: {top:?}");
            // A second level over the rolled-up rows: absent values group as null.
            let url = format!("{base}/groupby((DivisionId),aggregate(N with sum as S))");
            let got = rows(&app, &url, &t).await;
            let nulls = got.iter().find(|r| r["DivisionId"].is_null());
            assert_eq!(
                nulls.and_then(|r| r["S"].as_i64()),
                Some(app.db.count("", "leads", ws)),
                "{b:?} {ws}: {got:?}"
            );
        }
    }
}

#[actix_web::test]
async fn rollups_it_cannot_make_are_refused() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        let many = ["rollup(SizeId,TypeId)"; 7].join(",");
        for (url, status, says) in [
            (
                "Leads?$apply=groupby((rollup(Nope,StatusId)))".to_owned(),
                400,
                "`Nope` is not a property of Lead",
            ),
            (
                "Leads?$apply=groupby((rollup(StatusId)))".to_owned(),
                400,
                "at least two properties",
            ),
            (format!("Leads?$apply=groupby(({many}))"), 501, "groupings"),
            // 6 groupings over 6 over 6: each level's groupings read all the levels before.
            (
                format!(
                    "Leads?$apply=groupby(({r}),aggregate($count as N))/groupby(({r}),aggregate(N with sum as M))/groupby(({r}),aggregate(M with sum as S))",
                    r = "rollup($all,SizeId,TypeId),rollup(PipelineId,SourceId)"
                ),
                501,
                "at most 64 in all",
            ),
        ] {
            app.refuses(&url, &t, status, says).await;
        }
    }
}
