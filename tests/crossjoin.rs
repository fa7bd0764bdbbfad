//! `$crossjoin` on SQLite and (when configured) PostgreSQL: a row per combination of the
//! sets' entities, joined and ordered by `$filter` and `$orderby` over the sets'
//! properties, each set a navigation link or, expanded, the entity; `$top`, `$skip`,
//! `$count` and paging; what it does not take is refused; and each workspace combines
//! its own entities only.

mod common;

use common::{backends, rows, rows_with, spawn_seeded, TestApp};
use serde_json::Value;

const JOINED: &str = "$crossjoin(Contacts,Leads)?$filter=Contacts/ContactId eq Leads/ContactId";

/// `(Contacts link, Leads link)` of each row.
fn links(rows: &[Value]) -> Vec<(String, String)> {
    rows.iter()
        .map(|r| {
            let l = |k: &str| {
                r[k].as_str()
                    .unwrap_or_else(|| panic!("{k}: {r}"))
                    .to_owned()
            };
            (
                l("Contacts@odata.navigationLink"),
                l("Leads@odata.navigationLink"),
            )
        })
        .collect()
}

/// The leads with a contact, as `(Contacts(c), Leads(l))` ordered by contact, then lead.
async fn leads_with_contacts(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let leads = rows(
        app,
        "Leads?$filter=ContactId ne null&$select=LeadId,ContactId",
        token,
    )
    .await;
    let mut pairs: Vec<(i64, i64)> = leads
        .iter()
        .map(|l| {
            (
                l["ContactId"].as_i64().expect("ContactId"),
                l["LeadId"].as_i64().expect("LeadId"),
            )
        })
        .collect();
    pairs.sort_unstable();
    pairs
        .into_iter()
        .map(|(c, l)| (format!("Contacts({c})"), format!("Leads({l})")))
        .collect()
}

#[actix_web::test]
async fn a_join_in_filter_pairs_what_the_navigation_relates() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let token = app.db.token(ws);
            let want = leads_with_contacts(&app, &token).await;
            assert!(!want.is_empty(), "{b:?} {ws}");
            let got = rows(&app, JOINED, &token).await;
            assert_eq!(links(&got), want, "{b:?} {ws}");
            let paged =
                rows_with(&app, JOINED, &token, &[("Prefer", "odata.maxpagesize=37")]).await;
            assert_eq!(paged, got, "{b:?} {ws}: in pages of 37");
            let doc = app
                .get(&format!("{JOINED}&$count=true&$skip=5&$top=10"), &token)
                .await
                .json();
            assert_eq!(doc["@odata.count"], want.len(), "{b:?} {ws}");
            assert_eq!(
                doc["@odata.context"],
                format!("{}/$metadata#Collection(Edm.ComplexType)", app.base)
            );
            assert_eq!(
                links(doc["value"].as_array().expect("rows")),
                want[5..15],
                "{b:?} {ws}"
            );
            // Each link is the caller's own entity, related as the filter says.
            for (contact, lead) in want.iter().take(5) {
                let l = app
                    .get(&format!("{lead}?$select=ContactId"), &token)
                    .await
                    .json();
                assert_eq!(
                    format!("Contacts({})", l["ContactId"]),
                    *contact,
                    "{b:?} {ws}"
                );
                assert_eq!(
                    app.get(contact, &token).await.status,
                    200,
                    "{b:?} {ws}: {contact}"
                );
            }
        }
    }
}

#[actix_web::test]
async fn expanded_sets_are_their_entities_in_the_requested_order() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let token = app.db.token(ws);
            let url = format!(
                "{JOINED} and Leads/Value gt 1000&$orderby=Leads/Value desc,leads/LeadId\
                 &$expand=Contacts($select=Surname,Email),Leads($select=LeadId,Value;$expand=Status($select=Description))&$top=30"
            );
            let got = rows_with(&app, &url, &token, &[("Prefer", "odata.maxpagesize=7")]).await;
            let want = rows(
                &app,
                "Leads?$filter=ContactId ne null and Value gt 1000&$orderby=Value desc,LeadId\
                 &$select=LeadId,Value&$expand=Status($select=Description),Contact($select=Surname,Email)&$top=30",
                &token,
            )
            .await;
            assert_eq!(got.len(), want.len(), "{b:?} {ws}");
            assert!(!got.is_empty(), "{b:?} {ws}");
            for (row, lead) in got.iter().zip(&want) {
                assert_eq!(row["Contacts"], lead["Contact"], "{b:?} {ws}");
                let mut l = lead.clone();
                l.as_object_mut().expect("lead").remove("Contact");
                assert_eq!(row["Leads"], l, "{b:?} {ws}");
                assert!(
                    row.get("Contacts@odata.navigationLink").is_none(),
                    "{b:?} {ws}: {row}"
                );
            }
        }
    }
}

#[actix_web::test]
async fn unrelated_sets_give_every_combination() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        for ws in ["alpha", "beta"] {
            let token = app.db.token(ws);
            let (statuses, sizes) = (
                app.db.count("", "lead_statuses", ws),
                app.db.count("", "lead_sizes", ws),
            );
            let all = rows(&app, "$crossjoin(LeadStatus,LeadSizes)?$expand=*", &token).await;
            assert_eq!(all.len() as i64, statuses * sizes, "{b:?} {ws}");
            let first = &all[0];
            assert!(
                first["LeadStatus"]["Code"].is_string() && first["LeadSizes"]["Code"].is_string(),
                "{first}"
            );
            // Ordered by the first set's key, then the second's.
            let codes: Vec<(String, String)> = all
                .iter()
                .map(|r| {
                    (
                        r["LeadStatus"]["Code"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        r["LeadSizes"]["Code"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
                .collect();
            let mut sorted = codes.clone();
            sorted.sort();
            assert_eq!(codes, sorted, "{b:?} {ws}");
            let dead = app.db.count(" AND dead_flag = 1", "lead_statuses", ws);
            let doc = app
                .get("$crossjoin(LeadStatus,LeadSizes)?$filter=LeadStatus/DeadFlag eq 1&$count=true&$top=0", &token)
                .await
                .json();
            assert_eq!(doc["@odata.count"], dead * sizes, "{b:?} {ws}");
            // Three sets: each lead with its contact and the contact's division.
            let url = "$crossjoin(Leads,Contacts,Divisions)?$filter=Contacts/ContactId eq Leads/ContactId and Divisions/DivisionId eq Contacts/DivisionId&$count=true&$top=3";
            let doc = app.get(url, &token).await.json();
            let want = app
                .get("Leads/$count?$filter=Contact/Division ne null", &token)
                .await
                .text;
            assert_eq!(doc["@odata.count"].to_string(), want, "{b:?} {ws}: {doc}");
        }
    }
}

#[actix_web::test]
async fn what_crossjoin_does_not_take_is_refused() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let token = app.db.token("alpha");
        app.refuses_each(
            &[
                ("$crossjoin(Contacts,Nonesuch)", 404, "Nonesuch"),
                ("$crossjoin(Contacts,contacts)", 400, "twice"),
                (
                    "$crossjoin(Contacts,Leads,Divisions,Companies,Users)",
                    400,
                    "at most 4",
                ),
                (
                    "$crossjoin(Contacts,Leads)?$filter=Surname eq 'x'",
                    400,
                    "Surname",
                ),
                (
                    "$crossjoin(Contacts,Leads)?$orderby=Nonesuch/Value",
                    400,
                    "Nonesuch",
                ),
                (
                    "$crossjoin(Contacts,Leads)?$filter=Leads/Nonesuch eq 1",
                    400,
                    "Nonesuch",
                ),
                (
                    "$crossjoin(Contacts,Leads)?$expand=Divisions",
                    400,
                    "Divisions",
                ),
                (
                    "$crossjoin(Contacts,Leads)?$expand=Contacts($top=1)",
                    400,
                    "$top",
                ),
                (
                    "$crossjoin(Contacts,Leads)?$select=Contacts",
                    501,
                    "$select",
                ),
                ("$crossjoin(Contacts,Leads)?$search=Smith", 501, "$search"),
                ("$crossjoin(Contacts,Leads)/$count", 400, "$crossjoin"),
                (
                    "$crossjoin(Contacts,Leads)?$skiptoken=bm9uc2Vuc2U",
                    400,
                    "skiptoken",
                ),
            ],
            &token,
        )
        .await;
        app.refuses(
            "$crossjoin(Contacts,Leads)?$format=atom",
            &token,
            406,
            "JSON only",
        )
        .await;
        assert_eq!(
            app.get("$crossjoin(Contacts,Leads)", "").await.status,
            401,
            "{b:?}"
        );
    }
}

#[actix_web::test]
async fn each_workspace_combines_its_own_entities() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let alpha = app.db.token("alpha");
        let beta = app.db.token("beta");
        // Counted in the database, per workspace: leads with a contact.
        for (ws, token) in [("alpha", &alpha), ("beta", &beta)] {
            let doc = app
                .get(&format!("{JOINED}&$count=true&$top=0"), token)
                .await
                .json();
            let n = app.db.count(" AND contact_id IS NOT NULL", "leads", ws);
            assert_eq!(doc["@odata.count"], n, "{b:?} {ws}");
            let emails: Vec<Value> = rows(
                &app,
                &format!("{JOINED}&$expand=Contacts($select=Email)"),
                token,
            )
            .await
            .into_iter()
            .map(|r| r["Contacts"]["Email"].clone())
            .collect();
            let own: std::collections::BTreeSet<String> =
                rows(&app, "Contacts?$select=Email", token)
                    .await
                    .into_iter()
                    .filter_map(|c| c["Email"].as_str().map(str::to_owned))
                    .collect();
            for e in emails.iter().filter_map(Value::as_str) {
                assert!(
                    own.contains(e),
                    "{b:?} {ws}: {e} is not one of its contacts'"
                );
            }
        }
        let page = app
            .get_with(JOINED, &alpha, &[("Prefer", "odata.maxpagesize=10")])
            .await
            .json();
        let next = page["@odata.nextLink"]
            .as_str()
            .expect("nextLink")
            .to_owned();
        let r = app.get(&next, &beta).await;
        assert_eq!(r.status, 400, "{b:?}: {}", r.text);
        assert!(!r.text.contains("\"value\""), "{b:?}: {}", r.text);
    }
}
