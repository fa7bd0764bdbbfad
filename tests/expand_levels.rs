//! `$levels` in `$expand` on SQLite and (when configured) PostgreSQL: `*($levels=n)`
//! expands every navigation property and theirs, `n` levels down, exactly as the
//! expansion written out; a named property's `$levels` ends where the model has no
//! recursion; limits answer 400/501 naming themselves; and every entity any level
//! reaches is the caller's workspace's.

mod common;

use common::{backends, rows, spawn_seeded, TestApp};
use crm_odata::model::MODEL;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

async fn doc(app: &TestApp, url: &str, token: &str) -> Value {
    let r = app.get(url, token).await;
    assert_eq!(r.status, 200, "{url}: {}", r.text);
    r.json()
}

/// `*($levels=levels)` from `entity` written out: every navigation property of the
/// model, each with the same `levels - 1` down.
fn written_out(entity: &str, levels: u32) -> String {
    if levels == 0 {
        return String::new();
    }
    let e = MODEL.entity_type(entity).expect("entity type");
    let items: Vec<String> = e
        .navigation
        .iter()
        .map(|n| match written_out(n.target, levels - 1) {
            inner if inner.is_empty() => n.name.to_owned(),
            inner => format!("{}($expand={inner})", n.name),
        })
        .collect();
    items.join(",")
}

/// `a` and `b` without their `@odata.context` (which names how each was asked).
fn same_rows(a: &Value, b: &Value, what: &str) {
    assert_eq!(a["value"], b["value"], "{what}");
    assert!(!a["value"].as_array().expect("value").is_empty(), "{what}");
}

#[actix_web::test]
async fn star_levels_expand_what_the_written_out_expansion_does() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let token = app.db.token("alpha");
        let cases = [
            (
                "Contacts?$top=3&$select=ContactId&$expand=*($levels=2)".to_owned(),
                format!(
                    "Contacts?$top=3&$select=ContactId&$expand={}",
                    written_out("Contact", 2)
                ),
            ),
            (
                "Leads?$top=2&$orderby=LeadId desc&$expand=*($levels=2)".to_owned(),
                format!(
                    "Leads?$top=2&$orderby=LeadId desc&$expand={}",
                    written_out("Lead", 2)
                ),
            ),
            (
                "Companies?$top=2&$expand=*($levels=3)".to_owned(),
                format!("Companies?$top=2&$expand={}", written_out("Company", 3)),
            ),
            (
                "Contacts?$top=2&$select=ContactId&$expand=Division($expand=*($levels=2))"
                    .to_owned(),
                format!(
                    "Contacts?$top=2&$select=ContactId&$expand=Division($expand={})",
                    written_out("Division", 2)
                ),
            ),
            // `*($levels=1)` is `*`.
            (
                "Divisions?$top=2&$expand=*($levels=1)".to_owned(),
                "Divisions?$top=2&$expand=*".to_owned(),
            ),
        ];
        for (levels, written) in &cases {
            let a = doc(&app, levels, &token).await;
            let w = doc(&app, written, &token).await;
            same_rows(&a, &w, &format!("{b:?}: {levels} against {written}"));
            assert_eq!(a["@odata.context"], w["@odata.context"], "{b:?}: {levels}");
        }
        // Three levels from a contact reach its division's contacts' leads.
        let a = doc(
            &app,
            "Contacts?$top=1&$filter=Leads/any()&$expand=*($levels=3)",
            &token,
        )
        .await;
        let division_contacts = a["value"][0]["Division"]["Contacts"]
            .as_array()
            .expect("the division's contacts");
        assert!(!division_contacts.is_empty(), "{b:?}");
        assert!(
            division_contacts.iter().all(|c| c["Leads"].is_array()),
            "{b:?}: {a}"
        );
        assert!(
            division_contacts.iter().all(|c| c["Division"].is_object()
                && c["Division"].get("Company").is_none()
                && c["Division"].get("Contacts").is_none()),
            "{b:?}: level 3 is expanded, level 4 not: {a}"
        );
    }
}

#[actix_web::test]
async fn a_named_property_s_levels_end_where_the_model_does_not_recurse() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let token = app.db.token("alpha");
        let plain = doc(
            &app,
            "Contacts?$top=5&$select=ContactId&$expand=Leads($select=LeadId)",
            &token,
        )
        .await;
        for levels in ["2", "7", "max"] {
            let url = format!(
                "Contacts?$top=5&$select=ContactId&$expand=Leads($levels={levels};$select=LeadId)"
            );
            let d = doc(&app, &url, &token).await;
            same_rows(&d, &plain, &format!("{b:?}: {url}"));
        }
    }
}

#[actix_web::test]
async fn levels_past_the_limits_are_refused_and_the_limit_is_the_advertised_one() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let token = app.db.token("alpha");
        let metadata = app.get("$metadata?$format=json", &token).await.json();
        let max_levels = metadata["Prospect.Crm"]["CrmContainer"]["Contacts"]
            ["@Capabilities.ExpandRestrictions"]["MaxLevels"]
            .as_u64()
            .expect("MaxLevels") as usize;
        // Division, Contacts, Division, ... one statement a level, each level one row.
        let chain = |levels: usize| {
            let name = |i: usize| {
                if i.is_multiple_of(2) {
                    "Division"
                } else {
                    "Contacts"
                }
            };
            let mut s = match levels % 2 {
                1 => "Division".to_owned(),
                _ => "Contacts($top=1)".to_owned(),
            };
            for i in (0..levels - 1).rev() {
                let top = if i % 2 == 1 { "$top=1;" } else { "" };
                s = format!("{}({top}$expand={s})", name(i));
            }
            format!("Contacts?$top=1&$select=ContactId&$expand={s}")
        };
        let deepest = doc(&app, &chain(max_levels), &token).await;
        let mut v = &deepest["value"][0];
        for level in 0..max_levels {
            v = if level % 2 == 0 {
                &v["Division"]
            } else {
                &v["Contacts"][0]
            };
            assert!(v.is_object(), "{b:?}: level {} missing", level + 1);
        }
        app.refuses_each(
            &[
                (
                    &chain(max_levels + 1),
                    400,
                    &format!("at most {max_levels}"),
                ),
                (
                    "Contacts?$top=1&$expand=*($levels=max)",
                    501,
                    "give a number of levels",
                ),
                ("Contacts?$top=1&$expand=*($levels=9)", 400, "more than 64"),
                ("Contacts?$top=1&$expand=*($levels=0)", 400, "at least 1"),
                ("Contacts?$top=1&$expand=*($levels=2),Leads", 400, "twice"),
            ],
            &token,
        )
        .await;
    }
}

/// Every `(key property, value)` of every object in `v`, at any depth.
fn keys_in(v: &Value, out: &mut BTreeMap<&'static str, BTreeSet<i64>>) {
    const KEYS: [&str; 4] = ["ContactId", "LeadId", "DivisionId", "CompanyId"];
    match v {
        Value::Array(items) => items.iter().for_each(|i| keys_in(i, out)),
        Value::Object(o) => {
            for k in KEYS {
                if let Some(id) = o.get(k).and_then(Value::as_i64) {
                    out.entry(k).or_default().insert(id);
                }
            }
            o.values().for_each(|i| keys_in(i, out));
        }
        _ => {}
    }
}

#[actix_web::test]
async fn every_level_of_a_star_expansion_stays_in_the_workspace() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for (own, other) in [("alpha", "beta"), ("beta", "alpha")] {
            let token = app.db.token(own);
            let mut owned = BTreeMap::new();
            for set in ["Contacts", "Leads", "Divisions", "Companies"] {
                keys_in(&Value::Array(rows(&app, set, &token).await), &mut owned);
            }
            let other_emails: Vec<String> = rows(
                &app,
                "Contacts?$select=Email&$filter=Email ne null",
                &app.db.token(other),
            )
            .await
            .iter()
            .filter_map(|c| c["Email"].as_str().map(str::to_owned))
            .collect();
            assert!(!other_emails.is_empty(), "{b:?}");
            for url in [
                "Contacts?$top=20&$expand=*($levels=3)",
                "Companies?$top=5&$expand=*($levels=3)",
                "Leads?$top=20&$expand=*($levels=2)",
                "LeadStatus?$expand=*($levels=2)",
                "Contacts?$top=5&$expand=Leads($levels=max;$expand=*($levels=2))",
            ] {
                let d = doc(&app, url, &token).await;
                let mut seen = BTreeMap::new();
                keys_in(&d, &mut seen);
                for (key, ids) in &seen {
                    let foreign: Vec<_> = ids.difference(&owned[key]).collect();
                    assert!(foreign.is_empty(), "{b:?} {own}: {url}: {key} {foreign:?}");
                }
                let text = d.to_string();
                assert!(
                    other_emails.iter().all(|e| !text.contains(e.as_str())),
                    "{b:?} {own}: {url} shows {other}'s contacts"
                );
            }
        }
    }
}

#[actix_web::test]
async fn a_page_of_an_expanded_collection_links_to_the_rest_with_its_levels() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let token = app.db.token("alpha");
        let r = app
            .get_with(
                "Divisions?$top=20&$select=DivisionId&$expand=*($levels=2)",
                &token,
                &[("Prefer", "odata.maxpagesize=2")],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let d = r.json();
        let division = d["value"]
            .as_array()
            .expect("value")
            .iter()
            .find(|v| v["Contacts@odata.nextLink"].is_string())
            .unwrap_or_else(|| panic!("{b:?}: no division with over 2 contacts: {d}"));
        let next = division["Contacts@odata.nextLink"].as_str().expect("link");
        assert!(next.contains("$expand=*"), "{b:?}: {next}");
        let rest = rows(&app, next, &token).await;
        assert!(!rest.is_empty(), "{b:?}");
        assert!(
            rest.iter()
                .all(|c| c["Leads"].is_array() && c["Division"].is_object()),
            "{b:?}: the rest is expanded one level, as the first page: {rest:?}"
        );
        // Replayed with the other workspace's token, the link reveals nothing.
        let other = app.get(next, &app.db.token("beta")).await;
        assert!(
            other.status == 404 || other.status == 400 || other.values().is_empty(),
            "{b:?}: {}",
            other.text
        );
    }
}
