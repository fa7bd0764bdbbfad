//! `$all` on SQLite and (when configured) PostgreSQL: every entity of the workspace, set
//! after set in the container's order, each with its type and id; `$search`, `$filter`,
//! `$select`, `$top`, `$skip`, `$count` and server-driven paging over them together;
//! `$all/Type` as that type's entity set; what it does not take is 501, what is
//! malformed 400; and each workspace reads its own entities only.

mod common;

use common::{backends, rows, rows_with, spawn_seeded, TestApp};
use crm_odata::model::{EntityType, MODEL};
use serde_json::Value;

/// `Set(key)` of `row`, an entity of `t` as its entity set gives it.
fn id_of(t: &EntityType, row: &Value) -> String {
    let key = &row[t.key[0]];
    match key {
        Value::String(s) => format!("{}('{}')", t.set, s.replace('\'', "''")),
        other => format!("{}({other})", t.set),
    }
}

/// `row` without its control information (`@odata.*`).
fn bare(row: &Value) -> Value {
    let mut row = row.clone();
    if let Some(o) = row.as_object_mut() {
        o.retain(|k, _| !k.starts_with('@'));
    }
    row
}

/// Each entity set's rows for `query` (`?...` or empty), in the container's order, with
/// the type and id each should carry in `$all`.
async fn per_set(app: &TestApp, query: &str, token: &str) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for t in &MODEL.types {
        for row in rows(app, &format!("{}{query}", t.set), token).await {
            let ty = format!("#{}", MODEL.qualified(t.name));
            out.push((ty, format!("{}/{}", app.base, id_of(t, &row)), row));
        }
    }
    out
}

/// `(type, id, row without control information)` of each row of `$all`.
fn identified(rows: &[Value]) -> Vec<(String, String, Value)> {
    rows.iter()
        .map(|r| {
            let s = |k: &str| {
                r[k].as_str()
                    .unwrap_or_else(|| panic!("{k}: {r}"))
                    .to_owned()
            };
            (s("@odata.type"), s("@odata.id"), bare(r))
        })
        .collect()
}

#[actix_web::test]
async fn every_entity_of_the_workspace_one_set_after_the_other() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let token = app.db.token(ws);
            let expected = per_set(&app, "", &token).await;
            let got = rows(&app, "$all", &token).await;
            assert_eq!(identified(&got), expected, "{b:?} {ws}");
            // Every row of every table of this workspace, and none of another's.
            let mut in_db = 0;
            for t in &MODEL.types {
                let n = app.db.count("", t.table, ws);
                let ty = format!("#{}", MODEL.qualified(t.name));
                let served = got
                    .iter()
                    .filter(|r| r["@odata.type"] == ty.as_str())
                    .count();
                assert_eq!(served as i64, n, "{b:?} {ws}: {}", t.set);
                in_db += n;
            }
            assert_eq!(got.len() as i64, in_db, "{b:?} {ws}");
            // Pages that end inside a set, and one that ends exactly where a set does.
            let first_set = rows(&app, MODEL.types[0].set, &token).await.len();
            for size in [97, first_set] {
                let prefer = format!("odata.maxpagesize={size}");
                let r = app.get_with("$all", &token, &[("Prefer", &prefer)]).await;
                assert_eq!(r.status, 200, "{b:?} {ws}: {}", r.text);
                assert_eq!(r.values().len(), size, "{b:?} {ws}: page of {size}");
                assert_eq!(r.header("preference-applied"), Some(prefer.as_str()));
                let paged = rows_with(&app, "$all", &token, &[("Prefer", &prefer)]).await;
                assert_eq!(paged, got, "{b:?} {ws}: in pages of {size}");
            }
            let doc = app.get("$all?$top=1", &token).await.json();
            assert_eq!(
                doc["@odata.context"],
                format!("{}/$metadata#Collection(Edm.EntityType)", app.base),
                "{b:?} {ws}"
            );
        }
    }
}

#[actix_web::test]
async fn search_filter_and_select_apply_to_every_type() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let token = app.db.token(ws);
            // `$search` finds in each set what it finds there alone.
            for terms in ["Smith", "Ltd", "\"Smith\" OR Won"] {
                let q = format!("?$search={terms}");
                let got = rows(&app, &format!("$all{q}"), &token).await;
                assert_eq!(
                    identified(&got),
                    per_set(&app, &q, &token).await,
                    "{b:?} {ws}: {q}"
                );
                assert!(!got.is_empty(), "{b:?} {ws}: {q} finds something");
            }
            // A property a type lacks is null there: `StatusFlag eq 'D'` holds for no
            // lookup, `Outcome eq 1` for the won status only.
            let got = rows(
                &app,
                "$all?$filter=StatusFlag eq 'D' or Outcome eq 1",
                &token,
            )
            .await;
            let mut expected = Vec::new();
            for t in &MODEL.types {
                let filter = match (t.property("StatusFlag"), t.property("Outcome")) {
                    (Some(_), _) => "StatusFlag eq 'D'",
                    (None, Some(_)) => "Outcome eq 1",
                    (None, None) => continue,
                };
                expected.extend(rows(&app, &format!("{}?$filter={filter}", t.set), &token).await);
            }
            assert_eq!(
                got.iter().map(bare).collect::<Vec<_>>(),
                expected,
                "{b:?} {ws}"
            );
            assert!(
                got.iter().any(|r| r["Outcome"] == 1),
                "{b:?} {ws}: the won status"
            );
            assert!(
                got.iter().any(|r| r["StatusFlag"] == "D"),
                "{b:?} {ws}: soft-deleted"
            );
            // `eq null` holds where the property is absent.
            let n = rows(
                &app,
                "$all?$filter=Surname eq null and isof(Prospect.Crm.User)",
                &token,
            )
            .await
            .len();
            assert_eq!(n as i64, app.db.count("", "crm_users", ws), "{b:?} {ws}");
            // A lambda over a collection a type lacks holds nowhere there.
            let got = rows(&app, "$all?$filter=Leads/any(l:l/Value gt 0)", &token).await;
            let mut expected = 0;
            for t in MODEL.types.iter().filter(|t| t.nav("Leads").is_some()) {
                let url = format!("{}/$count?$filter=Leads/any(l:l/Value gt 0)", t.set);
                expected += app
                    .get(&url, &token)
                    .await
                    .text
                    .parse::<usize>()
                    .expect("count");
            }
            assert_eq!(got.len(), expected, "{b:?} {ws}");
            // `$select` keeps what each type has of the names; the others carry only
            // their type and id.
            let got = rows(&app, "$all?$select=Surname,Name", &token).await;
            for (row, (ty, id, _)) in got.iter().zip(per_set(&app, "", &token).await) {
                let o = row.as_object().expect("object");
                let mut names: Vec<&str> = o.keys().map(String::as_str).collect();
                names.sort_unstable();
                let want: &[&str] = match ty.rsplit('.').next() {
                    Some("Contact") => &["@odata.id", "@odata.type", "Surname"],
                    Some("Company" | "Division") => &["@odata.id", "@odata.type", "Name"],
                    _ => &["@odata.id", "@odata.type"],
                };
                assert_eq!(names, want, "{b:?} {ws}: {row}");
                assert_eq!(
                    (row["@odata.type"].as_str(), row["@odata.id"].as_str()),
                    (Some(&*ty), Some(&*id))
                );
            }
        }
    }
}

#[actix_web::test]
async fn top_skip_and_count_take_the_entities_together() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let token = app.db.token(ws);
            let all = rows(&app, "$all", &token).await;
            let n = all.len();
            let first_set = app.db.count("", MODEL.types[0].table, ws) as usize;
            for (skip, top) in [
                (0, 5),
                (first_set - 2, 7),
                (first_set, 300),
                (150, 300),
                (n - 3, 10),
                (n + 5, 2),
            ] {
                let url = format!("$all?$count=true&$skip={skip}&$top={top}");
                for size in [1000, 70] {
                    let prefer = format!("odata.maxpagesize={size}");
                    let r = app.get_with(&url, &token, &[("Prefer", &prefer)]).await;
                    assert_eq!(r.status, 200, "{b:?} {ws}: {url}: {}", r.text);
                    assert_eq!(r.json()["@odata.count"], n, "{b:?} {ws}: {url}");
                    let got = rows_with(&app, &url, &token, &[("Prefer", &prefer)]).await;
                    let want = all
                        .get(skip.min(n)..(skip + top).min(n))
                        .unwrap_or_default();
                    assert_eq!(got, want, "{b:?} {ws}: {url} in pages of {size}");
                }
            }
            // A page ending with a set and a `$top` ending with it: no link to an empty page.
            let url = format!("$all?$top={first_set}");
            let doc = app.get(&url, &token).await.json();
            assert!(doc.get("@odata.nextLink").is_none(), "{b:?} {ws}: {doc}");
        }
    }
}

#[actix_web::test]
async fn a_type_segment_reads_that_types_entity_set() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let token = app.db.token("alpha");
        let q = "?$filter=startswith(Surname,'S')&$orderby=Surname desc&$select=Surname,Email&$expand=Leads($select=Value)&$count=true";
        let want = app.get(&format!("Contacts{q}"), &token).await.json();
        for ty in ["Prospect.Crm.Contact", "Contact", "prospect.crm.CONTACT"] {
            let got = app.get(&format!("$all/{ty}{q}"), &token).await.json();
            assert_eq!(got["value"], want["value"], "{b:?}: {ty}");
            assert_eq!(got["@odata.count"], want["@odata.count"], "{b:?}: {ty}");
            assert_eq!(got["@odata.context"], want["@odata.context"], "{b:?}: {ty}");
        }
        let paged = rows_with(
            &app,
            "$all/Prospect.Crm.Lead?$top=25",
            &token,
            &[("Prefer", "odata.maxpagesize=10")],
        )
        .await;
        assert_eq!(paged, rows(&app, "Leads?$top=25", &token).await, "{b:?}");
    }
}

#[actix_web::test]
async fn what_all_does_not_take_is_refused() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let token = app.db.token("alpha");
        app.refuses_each(
            &[
                ("$all?$orderby=Surname", 501, "$all/Prospect.Crm.Contact"),
                ("$all?$expand=Leads", 501, "$expand"),
                ("$all?$compute=1 add 1 as Two", 501, "$compute"),
                ("$all?$apply=aggregate($count as N)", 501, "$apply"),
                ("$all?$filter=Nonesuch eq 1", 400, "Nonesuch"),
                ("$all?$select=Surname,Nonesuch", 400, "Nonesuch"),
                ("$all/Prospect.Crm.Nonesuch", 404, "Nonesuch"),
                ("$all/Other.Contact", 404, "Other.Contact"),
                ("$all/Prospect.Crm.Contact/Leads", 400, "$all"),
                ("$all?$skiptoken=bm9uc2Vuc2U", 400, "skiptoken"),
            ],
            &token,
        )
        .await;
        app.refuses("$all?$format=atom", &token, 406, "JSON only")
            .await;
        // A Boolean property a type lacks is a Boolean null there.
        let got = rows(
            &app,
            "$all?$filter=IsDistributor or not IsDistributor",
            &token,
        )
        .await;
        let divisions = app.db.count("", "divisions", "alpha");
        assert_eq!(got.len() as i64, divisions, "{b:?}");
        // Without a token, nothing.
        assert_eq!(app.get("$all", "").await.status, 401, "{b:?}");
    }
}

#[actix_web::test]
async fn metadata_levels_and_workspaces() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let alpha = app.db.token("alpha");
        let beta = app.db.token("beta");
        let none = app
            .get_with(
                "$all?$top=3",
                &alpha,
                &[("Accept", "application/json;odata.metadata=none")],
            )
            .await
            .json();
        assert!(none.get("@odata.context").is_none(), "{b:?}: {none}");
        for row in none["value"].as_array().expect("rows") {
            assert!(
                row.as_object()
                    .expect("row")
                    .keys()
                    .all(|k| !k.starts_with('@')),
                "{b:?}: {row}"
            );
        }
        let full = app
            .get(
                "$all?$top=3&$format=application/json;odata.metadata=full",
                &alpha,
            )
            .await
            .json();
        for row in full["value"].as_array().expect("rows") {
            let id = row["@odata.id"].as_str().expect("id");
            let edit = row["@odata.editLink"].as_str().expect("editLink");
            assert!(
                id.ends_with(edit) && row["@odata.type"].is_string(),
                "{b:?}: {row}"
            );
        }
        // A nextLink of one workspace's `$all` tells another workspace nothing.
        let page = app
            .get_with("$all", &alpha, &[("Prefer", "odata.maxpagesize=50")])
            .await
            .json();
        let next = page["@odata.nextLink"]
            .as_str()
            .expect("nextLink")
            .to_owned();
        let r = app.get(&next, &beta).await;
        assert_eq!(r.status, 400, "{b:?}: {}", r.text);
        assert!(!r.text.contains("\"value\""), "{b:?}: {}", r.text);
        // Searching every type finds only the caller's own entities: each is the
        // entity its id names, read with the caller's token.
        let found = rows(&app, "$all?$search=Smith&$top=40", &beta).await;
        assert!(!found.is_empty(), "{b:?}");
        for row in &found {
            let id = row["@odata.id"].as_str().expect("id");
            let own = app.get(id, &beta).await;
            assert_eq!(own.status, 200, "{b:?}: {id}: {}", own.text);
            assert_eq!(bare(&own.json()), bare(row), "{b:?}: {id}");
        }
    }
}
