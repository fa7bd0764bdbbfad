//! `$these/aggregate(...)` and `$these/$count` (OData Data Aggregation's
//! `currCollectionExpr`): an aggregate of the collection an option applies to, in
//! `$compute` (the collection as addressed), `$filter` (after `$search`) and `$orderby`
//! (after `$filter` too), at the top level, under a navigation path, in `/$count` and
//! inside a collection `$expand` (each instance's related entities), and in a `compute`
//! or first filter over an aggregated result (its rows); with `from`, per group first, on
//! SQLite and (when configured) PostgreSQL. Both workspaces hold the same keys with different data, so
//! an aggregate that reached into the other one would not match what each workspace's
//! own rows add up to.

mod common;

use common::{backends, dec, rows, spawn_seeded, TestApp};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;

/// A lead: id, contact, value, Guttometer, status.
type Lead = (i64, Option<i64>, Option<Decimal>, Option<i64>, String);

/// Every lead of the workspace.
async fn leads(app: &TestApp, t: &str) -> Vec<Lead> {
    rows(
        app,
        "Leads?$select=LeadId,ContactId,Value,Guttometer,StatusId",
        t,
    )
    .await
    .iter()
    .map(|r| {
        (
            r["LeadId"].as_i64().unwrap_or_else(|| panic!("{r}")),
            r["ContactId"].as_i64(),
            dec(&r["Value"]),
            r["Guttometer"].as_i64(),
            r["StatusId"].as_str().unwrap_or_default().to_owned(),
        )
    })
    .collect()
}

/// The sum of the values of `leads` per status (statuses with no value left out).
fn sums_by_status<'a>(leads: impl Iterator<Item = &'a Lead>) -> BTreeMap<String, Decimal> {
    let mut out = BTreeMap::new();
    for l in leads {
        if let Some(v) = l.2 {
            *out.entry(l.4.clone()).or_insert(Decimal::ZERO) += v;
        }
    }
    out
}

fn ids(rows: &[Value], key: &str) -> Vec<i64> {
    let mut v: Vec<i64> = rows
        .iter()
        .map(|r| r[key].as_i64().unwrap_or_else(|| panic!("{r}")))
        .collect();
    v.sort();
    v
}

fn average(values: impl Iterator<Item = Decimal>) -> Decimal {
    let v: Vec<Decimal> = values.collect();
    assert!(!v.is_empty());
    v.iter().sum::<Decimal>() / Decimal::from(v.len())
}

#[actix_web::test]
async fn shares_of_the_whole_and_rows_above_its_average() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let all = leads(&app, &t).await;
            let total: Decimal = all.iter().filter_map(|l| l.2).sum();
            assert!(total > Decimal::ZERO, "{b:?} {ws}");

            // $compute: every lead's share of the workspace's total, and their number.
            let got = rows(
                &app,
                "Leads?$compute=Value div $these/aggregate(Value with sum) as Share,\
                 $these/$count as N,$these/aggregate(Value with sum) as Total\
                 &$select=LeadId,Value,Share,N,Total",
                &t,
            )
            .await;
            assert_eq!(got.len(), all.len(), "{b:?} {ws}");
            for r in &got {
                assert_eq!(r["N"].as_i64(), Some(all.len() as i64), "{b:?} {ws}: {r}");
                assert_eq!(dec(&r["Total"]), Some(total), "{b:?} {ws}: {r}");
                match dec(&r["Value"]) {
                    None => assert_eq!(r["Share"], Value::Null, "{b:?} {ws}: {r}"),
                    Some(v) => {
                        let share = dec(&r["Share"]).unwrap_or_else(|| panic!("{r}"));
                        let want = v / total;
                        assert!(
                            (share - want).abs() < Decimal::new(1, 12),
                            "{b:?} {ws}: {r} vs {want}"
                        );
                    }
                }
            }

            // $filter: the leads above the average value (leads without one have none).
            let avg = average(all.iter().filter_map(|l| l.2));
            let above: Vec<i64> = all
                .iter()
                .filter(|l| l.2.is_some_and(|v| v > avg))
                .map(|l| l.0)
                .collect();
            assert!(!above.is_empty() && above.len() < all.len(), "{b:?} {ws}");
            let url = "Leads?$filter=Value gt $these/aggregate(Value with average)&$select=LeadId&$count=true";
            let r = app.get(url, &t).await;
            assert_eq!(r.status, 200, "{b:?} {ws}: {}", r.text);
            assert_eq!(
                r.json()["@odata.count"].as_i64(),
                Some(above.len() as i64),
                "{b:?} {ws}"
            );
            assert_eq!(
                ids(&rows(&app, url, &t).await, "LeadId"),
                above,
                "{b:?} {ws}"
            );
            let r = app
                .get(
                    "Leads/$count?$filter=Value gt $these/aggregate(Value with average)",
                    &t,
                )
                .await;
            assert_eq!(r.status, 200, "{b:?} {ws}: {}", r.text);
            assert_eq!(r.text.trim(), above.len().to_string(), "{b:?} {ws}");

            // A value naming only `$it` is still aggregated over the collection's rows:
            // the highest value among all leads' copies of the lead's own value is it.
            let got = rows(
                &app,
                "Leads?$compute=$these/aggregate($it/Value with max) as Own&$select=LeadId,Value,Own",
                &t,
            )
            .await;
            for r in &got {
                assert_eq!(dec(&r["Own"]), dec(&r["Value"]), "{b:?} {ws}: {r}");
            }
        }
    }
}

#[actix_web::test]
async fn each_option_sees_the_collection_as_evaluated_by_then() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let all = leads(&app, &t).await;

            // $filter's collection is the one $search left: the first contact found.
            let found = ids(
                &rows(&app, "Contacts?$search=Smith&$select=ContactId", &t).await,
                "ContactId",
            );
            assert!(found.len() > 1, "{b:?} {ws}: {found:?}");
            let got = rows(
                &app,
                "Contacts?$search=Smith&$filter=ContactId eq $these/aggregate(ContactId with min)\
                 &$compute=$these/$count as Everyone&$select=ContactId,Everyone",
                &t,
            )
            .await;
            assert_eq!(ids(&got, "ContactId"), vec![found[0]], "{b:?} {ws}");
            // ... while $compute's is every contact, before $search and $filter.
            let contacts = rows(&app, "Contacts?$select=ContactId", &t).await.len() as i64;
            assert_eq!(got[0]["Everyone"].as_i64(), Some(contacts), "{b:?} {ws}");

            // $orderby's collection is the filtered one: leads at or above the average
            // Guttometer of those at 50 or more come first (against the average of all
            // leads, every one of them would).
            let kept: Vec<(i64, i64)> = all
                .iter()
                .filter_map(|l| l.3.filter(|g| *g >= 50).map(|g| (l.0, g)))
                .collect();
            let avg = average(kept.iter().map(|(_, g)| Decimal::from(*g)));
            let overall = average(all.iter().filter_map(|l| l.3).map(Decimal::from));
            assert!(
                overall < Decimal::from(50) && avg > Decimal::from(50),
                "{overall} {avg}"
            );
            let mut want = kept.clone();
            want.sort_by_key(|(id, g)| (Decimal::from(*g) < avg, *id));
            let want: Vec<i64> = want.into_iter().map(|(id, _)| id).collect();
            let got: Vec<i64> = rows(
                &app,
                "Leads?$filter=Guttometer ge 50\
                 &$orderby=case(Guttometer ge $these/aggregate(Guttometer with average):0,true:1),LeadId\
                 &$select=LeadId",
                &t,
            )
            .await
            .iter()
            .map(|r| r["LeadId"].as_i64().unwrap_or_else(|| panic!("{r}")))
            .collect();
            assert_eq!(got, want, "{b:?} {ws}: average {avg}");
        }
    }
}

#[actix_web::test]
async fn under_a_path_and_inside_an_expand_it_is_the_related_entities() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let all = leads(&app, &t).await;
            let mut by_contact: BTreeMap<i64, Vec<(i64, Option<Decimal>)>> = BTreeMap::new();
            for l in &all {
                if let Some(c) = l.1 {
                    by_contact.entry(c).or_default().push((l.0, l.2));
                }
            }
            let (&busy, its) = by_contact
                .iter()
                .max_by_key(|(_, v)| v.len())
                .unwrap_or_else(|| panic!("{b:?} {ws}: no leads"));
            let sum: Decimal = its.iter().filter_map(|l| l.1).sum();
            let url = format!(
                "Contacts({busy})/Leads?$compute=$these/$count as N,\
                 $these/aggregate(Value with sum) as S&$select=LeadId,N,S"
            );
            let got = rows(&app, &url, &t).await;
            assert_eq!(got.len(), its.len(), "{b:?} {ws}");
            for r in &got {
                assert_eq!(r["N"].as_i64(), Some(its.len() as i64), "{b:?} {ws}: {r}");
                assert_eq!(dec(&r["S"]), Some(sum), "{b:?} {ws}: {r}");
            }

            // Each contact's own most valuable leads, and how many leads it has.
            let got = rows(
                &app,
                "Contacts?$select=ContactId&$expand=Leads($filter=Value eq \
                 $these/aggregate(Value with max);$compute=$these/$count as N;\
                 $select=LeadId,N;$count=true)",
                &t,
            )
            .await;
            let mut seen = 0;
            for c in &got {
                let id = c["ContactId"].as_i64().unwrap_or_else(|| panic!("{c}"));
                let mine = by_contact.get(&id).cloned().unwrap_or_default();
                let max = mine.iter().filter_map(|l| l.1).max();
                let mut want: Vec<i64> = mine
                    .iter()
                    .filter(|l| max.is_some() && l.1 == max)
                    .map(|l| l.0)
                    .collect();
                want.sort();
                let leads = c["Leads"].as_array().unwrap_or_else(|| panic!("{c}"));
                assert_eq!(ids(leads, "LeadId"), want, "{b:?} {ws}: {c}");
                assert_eq!(
                    c["Leads@odata.count"].as_i64(),
                    Some(want.len() as i64),
                    "{c}"
                );
                for l in leads {
                    assert_eq!(l["N"].as_i64(), Some(mine.len() as i64), "{b:?} {ws}: {c}");
                }
                seen += want.len();
            }
            assert!(seen > 0, "{b:?} {ws}");
        }
    }
}

#[actix_web::test]
async fn where_it_has_no_collection_to_name_it_is_refused() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        let cases: &[(&str, u16, &str)] = &[
            ("Leads?$filter=$these/Value gt 1", 400, "$these"),
            ("Leads?$filter=$these gt 1", 400, "$these"),
            ("Leads?$filter=$these/$count($filter=Value gt 1) gt 1", 400, "$these"),
            // A single entity expanded, a groupby's transformations per group, a filter
            // after another, a step of $apply after a filter: valid, not supported.
            ("Contacts?$expand=Division($filter=$these/$count gt 0)", 501, "$these"),
            (
                "Leads?$apply=filter(Value gt 1)&$filter=Value gt $these/aggregate(Value with average)",
                501,
                "$these",
            ),
            (
                "Leads?$apply=compute(Value mul 2 as V)/filter(V gt 1)&$compute=$these/$count as N",
                501,
                "$these",
            ),
            (
                "Contacts/$filter(Surname eq 'Smith')?$compute=$these/$count as N",
                501,
                "$these",
            ),
            (
                "Contacts/$filter(Surname eq 'Smith')/$count?$filter=ContactId lt $these/aggregate(ContactId with max)",
                501,
                "$these",
            ),
            (
                "Leads?$apply=groupby((StatusId),compute($these/$count as N))",
                501,
                "$these",
            ),
            (
                "Leads?$apply=groupby((StatusId),aggregate(Value with sum as T))/filter(T gt 1)/filter(T gt $these/aggregate(T with average))",
                501,
                "$these",
            ),
            (
                "Leads?$apply=groupby((StatusId),aggregate(Value with sum as T))/filter(T gt 1)&$filter=T gt $these/aggregate(T with average)",
                501,
                "$these",
            ),
            (
                "Leads?$apply=filter(Value gt 1)/compute($these/$count as N)",
                501,
                "$these",
            ),
            (
                "Leads?$apply=filter(Value gt 1)/filter(Value gt $these/aggregate(Value with average))",
                501,
                "$these",
            ),
            (
                "Leads?$filter=Value gt $these/aggregate(Value with sum from Status/Description with max)",
                501,
                "from",
            ),
        ];
        app.refuses_each(cases, &t).await;
        // A compute step first in $apply sees the collection as $compute does.
        let r = app
            .get(
                "Leads?$apply=compute($these/$count as N)&$select=N&$top=1",
                &t,
            )
            .await;
        assert_eq!(r.status, 200, "{b:?}: {}", r.text);
        let n = rows(&app, "Leads?$select=LeadId", &t).await.len() as i64;
        assert_eq!(r.values()[0]["N"].as_i64(), Some(n), "{b:?}: {}", r.text);
    }
}

#[actix_web::test]
async fn a_compute_over_an_aggregated_result_sees_its_rows() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let all = leads(&app, &t).await;
            let total: Decimal = all.iter().filter_map(|l| l.2).sum();

            // Each status's share of the pipeline, and how many statuses there are.
            let url = "Leads?$apply=groupby((StatusId),aggregate(Value with sum as Total))\
                       /compute(Total div $these/aggregate(Total with sum) as Share,$these/$count as N)";
            let got = rows(&app, url, &t).await;
            assert!(got.len() > 3, "{b:?} {ws}: {got:?}");
            let totals: Vec<Decimal> = got.iter().filter_map(|r| dec(&r["Total"])).collect();
            assert_eq!(totals.iter().copied().sum::<Decimal>(), total, "{b:?} {ws}");
            let mut shares = Decimal::ZERO;
            for r in &got {
                assert_eq!(r["N"].as_i64(), Some(got.len() as i64), "{b:?} {ws}: {r}");
                let (t_, s) = (dec(&r["Total"]), dec(&r["Share"]));
                let want = t_.map(|v| v / total);
                assert!(
                    s.zip(want)
                        .is_some_and(|(s, w)| (s - w).abs() < Decimal::new(1, 12)),
                    "{b:?} {ws}: {r} vs {want:?}"
                );
                shares += s.unwrap_or_default();
            }
            assert!(
                (shares - Decimal::ONE).abs() < Decimal::new(1, 10),
                "{b:?} {ws}: {shares}"
            );

            // After a filter, the rows it kept; `$compute` after `$apply` alike.
            let mut sorted = totals.clone();
            sorted.sort();
            let limit = sorted[sorted.len() / 2];
            let kept: Decimal = totals.iter().filter(|v| **v > limit).sum();
            let n = totals.iter().filter(|v| **v > limit).count() as i64;
            for url in [
                format!(
                    "Leads?$apply=groupby((StatusId),aggregate(Value with sum as Total))\
                     /filter(Total gt {limit})/compute($these/aggregate(Total with sum) as S,$these/$count as N)"
                ),
                format!(
                    "Leads?$apply=groupby((StatusId),aggregate(Value with sum as Total))\
                     /filter(Total gt {limit})&$compute=$these/aggregate(Total with sum) as S,$these/$count as N"
                ),
            ] {
                let got = rows(&app, &url, &t).await;
                assert_eq!(got.len() as i64, n, "{b:?} {ws}: {url}");
                for r in &got {
                    assert_eq!(dec(&r["S"]), Some(kept), "{b:?} {ws}: {url}: {r}");
                    assert_eq!(r["N"].as_i64(), Some(n), "{b:?} {ws}: {url}: {r}");
                }
            }

            // A filter over the result: the statuses above the average status, as a step,
            // as `$filter`, and after a window (over the rows it kept).
            let status_totals: Vec<(String, Decimal)> = got
                .iter()
                .filter_map(|r| Some((r["StatusId"].as_str()?.to_owned(), dec(&r["Total"])?)))
                .collect();
            let mean = average(status_totals.iter().map(|(_, v)| *v));
            let mut above: Vec<String> = status_totals
                .iter()
                .filter(|(_, v)| *v > mean)
                .map(|(s, _)| s.clone())
                .collect();
            above.sort();
            assert!(
                !above.is_empty() && above.len() < status_totals.len(),
                "{b:?} {ws}"
            );
            let statuses = |rows: &[Value]| {
                let mut v: Vec<String> = rows
                    .iter()
                    .map(|r| r["StatusId"].as_str().unwrap_or_default().to_owned())
                    .collect();
                v.sort();
                v
            };
            for url in [
                "Leads?$apply=groupby((StatusId),aggregate(Value with sum as Total))\
                 /filter(Total gt $these/aggregate(Total with average))",
                "Leads?$apply=groupby((StatusId),aggregate(Value with sum as Total))\
                 &$filter=Total gt $these/aggregate(Total with average)",
            ] {
                assert_eq!(
                    statuses(&rows(&app, url, &t).await),
                    above,
                    "{b:?} {ws}: {url}"
                );
            }
            let mut by_total = status_totals.clone();
            by_total.sort_by_key(|t| std::cmp::Reverse(t.1));
            let mut below_top: Vec<String> =
                by_total[1..4].iter().map(|(s, _)| s.clone()).collect();
            below_top.sort();
            let url = "Leads?$apply=groupby((StatusId),aggregate(Value with sum as Total))\
                       /orderby(Total desc)/top(4)/filter(Total lt $these/aggregate(Total with max))";
            assert_eq!(
                statuses(&rows(&app, url, &t).await),
                below_top,
                "{b:?} {ws}"
            );

            // `$orderby` over the result: the statuses at or above the average one first.
            let mut want: Vec<(bool, String)> = status_totals
                .iter()
                .map(|(st, v)| (*v < mean, st.clone()))
                .collect();
            want.sort();
            let want: Vec<String> = want.into_iter().map(|(_, st)| st).collect();
            let url = "Leads?$apply=groupby((StatusId),aggregate(Value with sum as Total))\
                       &$orderby=case(Total ge $these/aggregate(Total with average):0,true:1),StatusId";
            let got: Vec<String> = rows(&app, url, &t)
                .await
                .iter()
                .map(|r| r["StatusId"].as_str().unwrap_or_default().to_owned())
                .collect();
            assert_eq!(got, want, "{b:?} {ws}: average {mean}");

            // Inside an expand: each contact's statuses' shares of its own leads' value.
            let got = rows(
                &app,
                "Contacts?$select=ContactId&$expand=Leads($apply=groupby((StatusId),\
                 aggregate(Value with sum as T))/compute(T div $these/aggregate(T with sum) as Share))",
                &t,
            )
            .await;
            let mut valued = 0;
            for c in &got {
                let groups = c["Leads"].as_array().unwrap_or_else(|| panic!("{c}"));
                let shares: Vec<Decimal> = groups.iter().filter_map(|g| dec(&g["Share"])).collect();
                if !shares.is_empty() {
                    valued += 1;
                    let sum: Decimal = shares.iter().sum();
                    assert!(
                        (sum - Decimal::ONE).abs() < Decimal::new(1, 10),
                        "{b:?} {ws}: {c}"
                    );
                }
            }
            assert!(valued > 10, "{b:?} {ws}: {valued}");
        }
    }
}

#[actix_web::test]
async fn from_aggregates_per_group_then_over_the_groups() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let all = leads(&app, &t).await;

            // The average and the largest status total of the workspace.
            let sums = sums_by_status(all.iter());
            let avg = average(sums.values().copied());
            let max = sums.values().max().copied();
            let got = app
                .get(
                    "Leads?$compute=$these/aggregate(Value with sum from StatusId with average) as A,\
                     $these/aggregate(Value with sum from StatusId with max) as M,\
                     $these/aggregate($count from StatusId with max) as C&$select=A,M,C&$top=1",
                    &t,
                )
                .await;
            assert_eq!(got.status, 200, "{b:?} {ws}: {}", got.text);
            let row = &got.values()[0];
            let a = dec(&row["A"]).unwrap_or_else(|| panic!("{row}"));
            assert!(
                (a - avg).abs() < Decimal::new(1, 6),
                "{b:?} {ws}: {row} vs {avg}"
            );
            assert_eq!(dec(&row["M"]), max, "{b:?} {ws}: {row}");
            let mut per_status: BTreeMap<&str, i64> = BTreeMap::new();
            for l in &all {
                *per_status.entry(l.4.as_str()).or_default() += 1;
            }
            assert_eq!(
                row["C"].as_i64(),
                per_status.values().max().copied(),
                "{b:?} {ws}: {row}"
            );

            // Each contact's largest status total among its own leads.
            let got = rows(
                &app,
                "Contacts?$compute=Leads/aggregate(Value with sum from StatusId with max) as M\
                 &$select=ContactId,M",
                &t,
            )
            .await;
            let mut checked = 0;
            for r in &got {
                let id = r["ContactId"].as_i64().unwrap_or_else(|| panic!("{r}"));
                let mine = sums_by_status(all.iter().filter(|l| l.1 == Some(id)));
                let want = mine.values().max().copied();
                assert_eq!(dec(&r["M"]), want, "{b:?} {ws}: {r}");
                checked += usize::from(mine.len() > 1);
            }
            assert!(
                checked > 0,
                "{b:?} {ws}: no contact with leads in two statuses"
            );
        }
    }
}
