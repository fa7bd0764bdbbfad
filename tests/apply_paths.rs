//! `$apply` aggregates of a path through navigation properties (OData Data Aggregation
//! 3.2.1.1), on SQLite and (when configured) PostgreSQL: `Leads/Value with sum` adds the
//! value of each distinct lead the input contacts reach, `Status/DeadFlag with sum` each
//! distinct status the input leads reach once, while an expression (`Status/DeadFlag add 0`)
//! is evaluated per input entity. Both workspaces hold the same keys, so a reach into the
//! other one would change every figure.

mod common;

use common::{backends, rows, spawn_seeded, TestApp};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

async fn count(app: &TestApp, url: &str, token: &str) -> u64 {
    let r = app.get(url, token).await;
    assert_eq!(r.status, 200, "{url}: {}", r.text);
    r.json()["@odata.count"]
        .as_u64()
        .unwrap_or_else(|| panic!("{url}: {}", r.text))
}

#[actix_web::test]
async fn a_collection_path_aggregates_each_related_entity_once_per_group() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            // What each division's contacts' leads add up to, from the leads themselves.
            let leads = rows(
                &app,
                "Leads?$select=LeadId,Value,Created&$expand=Contact($select=DivisionId)",
                &t,
            )
            .await;
            let mut want: BTreeMap<i64, (f64, u64, String)> = BTreeMap::new();
            for l in &leads {
                if let Some(d) = l["Contact"]["DivisionId"].as_i64() {
                    let e = want.entry(d).or_default();
                    e.0 += num(&l["Value"]);
                    e.1 += 1;
                    let created = l["Created"].as_str().unwrap_or_default();
                    if created > e.2.as_str() {
                        e.2 = created.to_owned();
                    }
                }
            }
            assert!(want.len() > 3, "{b:?} {ws}: {want:?}");
            let got = rows(
                &app,
                "Contacts?$apply=groupby((DivisionId),aggregate(Leads/Value with sum as Total,Leads with countdistinct as N,$count as Contacts,Leads/Created with max as Last))",
                &t,
            )
            .await;
            for g in &got {
                let d = g["DivisionId"].as_i64().unwrap_or_else(|| panic!("{g}"));
                match want.get(&d) {
                    Some((total, n, last)) => {
                        assert_eq!(g["Last"].as_str(), Some(last.as_str()), "{b:?} {ws}: {g}");
                        assert!(
                            (num(&g["Total"]) - total).abs() < 0.01,
                            "{b:?} {ws}: {g} vs {total}"
                        );
                        assert_eq!(g["N"], *n, "{b:?} {ws}: {g}");
                    }
                    // A division whose contacts have no leads: nothing to add.
                    None => {
                        assert_eq!(g["Total"], Value::Null, "{b:?} {ws}: {g}");
                        assert_eq!(g["N"], 0, "{b:?} {ws}: {g}");
                        assert_eq!(g["Last"], Value::Null, "{b:?} {ws}: {g}");
                    }
                }
            }
            let with_leads = got.iter().filter(|g| g["N"] != 0).count();
            assert_eq!(with_leads, want.len(), "{b:?} {ws}");

            // Over the whole set: every lead with a contact, once.
            let r = app
                .get(
                    "Contacts?$apply=aggregate(Leads with countdistinct as N,Leads/Value with max as Top)",
                    &t,
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            let v = r.values();
            assert_eq!(v.len(), 1, "{b:?} {ws}: {}", r.text);
            let with_contact = leads.iter().filter(|l| l["Contact"].is_object()).count();
            assert_eq!(v[0]["N"], with_contact, "{b:?} {ws}");
            let top = leads
                .iter()
                .filter(|l| l["Contact"].is_object())
                .map(|l| num(&l["Value"]))
                .fold(f64::MIN, f64::max);
            assert!(
                (num(&v[0]["Top"]) - top).abs() < 1e-6,
                "{b:?} {ws}: {}",
                r.text
            );
        }
    }
}

#[actix_web::test]
async fn a_single_valued_path_counts_each_reached_entity_once_an_expression_each_input() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let url = "Leads?$apply=aggregate(Status/DeadFlag with sum as Dead,Status/DeadFlag add 0 with sum as DeadLeads,Status with countdistinct as Statuses,$count as N)";
            let r = app.get(url, &t).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let v = &r.values()[0];
            // Dead statuses some lead has, each once; leads with a dead status, each once.
            let dead = count(
                &app,
                "LeadStatus?$filter=DeadFlag eq 1 and Leads/any()&$count=true&$top=0",
                &t,
            )
            .await;
            let statuses = count(
                &app,
                "LeadStatus?$filter=Leads/any()&$count=true&$top=0",
                &t,
            )
            .await;
            let dead_leads = count(
                &app,
                "Leads?$filter=Status/DeadFlag eq 1&$count=true&$top=0",
                &t,
            )
            .await;
            assert!(
                dead_leads > dead,
                "{b:?} {ws}: the seed has several leads per dead status"
            );
            assert_eq!(v["Dead"], dead, "{b:?} {ws}: {}", r.text);
            assert_eq!(v["Statuses"], statuses, "{b:?} {ws}: {}", r.text);
            assert_eq!(v["DeadLeads"], dead_leads, "{b:?} {ws}: {}", r.text);

            // Per group: the group's own statuses.
            let got = rows(
                &app,
                "Leads?$apply=groupby((Contact/Surname),aggregate(Status with countdistinct as S,Status/Code with max as Last))&$filter=Contact/Surname ne null",
                &t,
            )
            .await;
            let leads = rows(
                &app,
                "Leads?$select=StatusId&$expand=Contact($select=Surname)&$filter=Contact/Surname ne null",
                &t,
            )
            .await;
            let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for l in &leads {
                let s = l["Contact"]["Surname"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let code = l["StatusId"].as_str().unwrap_or_default().to_owned();
                want.entry(s).or_default().insert(code);
            }
            assert_eq!(got.len(), want.len(), "{b:?} {ws}");
            for g in &got {
                let s = g["Contact"]["Surname"].as_str().unwrap_or_default();
                let codes = &want[s];
                assert_eq!(g["S"], codes.len(), "{b:?} {ws}: {g}");
                assert_eq!(
                    g["Last"].as_str(),
                    codes.iter().next_back().map(String::as_str),
                    "{b:?} {ws}: {g}"
                );
            }
        }
    }
}

#[actix_web::test]
async fn paths_that_cannot_be_aggregated_are_400() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        for (url, says) in [
            (
                "Leads?$apply=aggregate(Status with sum as S)",
                "countdistinct",
            ),
            (
                "Contacts?$apply=aggregate(Leads/Nope with max as M)",
                "`Nope` is not a property of Lead",
            ),
            (
                "Contacts?$apply=aggregate(Leads/Description with average as A)",
                "need numbers",
            ),
        ] {
            app.refuses(url, &t, 400, says).await;
        }
    }
}

/// `groupby((Status))`: the related entity as a whole, expanded by default (Data
/// Aggregation 3.2.3.1), each group's object as the entity reads; no related entity is
/// null.
#[actix_web::test]
async fn grouping_by_a_navigation_groups_by_the_related_entity() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let t = app.db.token(ws);
            let count_by = |url: &'static str, key: &'static str| {
                let (app, t) = (&app, t.clone());
                async move {
                    let r = app.get(url, &t).await;
                    assert_eq!(r.status, 200, "{url}: {}", r.text);
                    r.values()
                        .iter()
                        .map(|g| (g[key].to_string(), g["N"].as_u64().unwrap_or_default()))
                        .collect::<BTreeMap<String, u64>>()
                }
            };
            let by_id = count_by(
                "Leads?$apply=groupby((StatusId),aggregate($count as N))",
                "StatusId",
            )
            .await;
            let r = app
                .get("Leads?$apply=groupby((Status),aggregate($count as N))", &t)
                .await;
            assert_eq!(r.status, 200, "{b:?}: {}", r.text);
            let context = r.json()["@odata.context"].as_str().unwrap_or("").to_owned();
            assert!(
                context.contains("#Leads(Status(Code,Description,Sequence,")
                    && context.ends_with(",LastUpdatedByUserId),N)"),
                "{b:?}: {context}"
            );
            let groups = r.values();
            assert_eq!(groups.len(), by_id.len(), "{b:?} {ws}");
            for g in &groups {
                let status = &g["Status"];
                let code = status["Code"].as_str().unwrap_or_default();
                assert_eq!(
                    Some(&g["N"].as_u64().unwrap_or_default()),
                    by_id.get(&format!("\"{code}\"")),
                    "{b:?} {ws}: {g}"
                );
                let entity = app.get(&format!("LeadStatus('{code}')"), &t).await.json();
                for (name, value) in status.as_object().into_iter().flatten() {
                    assert_eq!(value, &entity[name], "{b:?} {ws} {name}: {g} vs {entity}");
                }
            }
            // Leads without a contact: one group whose Contact is null.
            let by_contact = count_by(
                "Leads?$apply=groupby((ContactId),aggregate($count as N))",
                "ContactId",
            )
            .await;
            let r = app
                .get("Leads?$apply=groupby((Contact),aggregate($count as N))", &t)
                .await;
            assert_eq!(r.status, 200, "{b:?}: {}", r.text);
            let groups = r.values();
            assert_eq!(groups.len(), by_contact.len(), "{b:?} {ws}");
            let none: Vec<&Value> = groups.iter().filter(|g| g["Contact"].is_null()).collect();
            assert_eq!(none.len(), 1, "{b:?} {ws}");
            assert_eq!(
                none[0]["N"].as_u64(),
                by_contact.get("null").copied(),
                "{b:?} {ws}"
            );
            let some = groups.iter().find(|g| !g["Contact"].is_null());
            let contact = &some.expect("a lead with a contact")["Contact"];
            let id = contact["ContactId"].as_i64().unwrap_or_default();
            let entity = app.get(&format!("Contacts({id})"), &t).await.json();
            for (name, value) in contact.as_object().into_iter().flatten() {
                assert_eq!(value, &entity[name], "{b:?} {ws} {name}");
            }
            // A later level groups by it again; a rollup leaves it out.
            let url = "Leads?$apply=groupby((Status,DivisionId),aggregate($count as N))/groupby((Status),aggregate(N with sum as S))";
            let r = app.get(url, &t).await;
            assert_eq!(r.status, 200, "{b:?}: {}", r.text);
            for g in r.values() {
                let code = g["Status"]["Code"].to_string();
                assert_eq!(
                    g["S"].as_u64().as_ref(),
                    by_id.get(&code),
                    "{b:?} {ws}: {g}"
                );
            }
            let url =
                "Leads?$apply=groupby((rollup($all,Status,DivisionId)),aggregate($count as N))";
            let r = app.get(url, &t).await;
            assert_eq!(r.status, 200, "{b:?}: {}", r.text);
            let grand: Vec<Value> = r
                .values()
                .into_iter()
                .filter(|g| g.get("Status").is_none())
                .collect();
            assert_eq!(grand.len(), 1, "{b:?} {ws}: {grand:?}");
            assert_eq!(
                grand[0]["N"].as_i64(),
                Some(app.db.count("", "leads", ws)),
                "{b:?} {ws}"
            );
        }
    }
}
