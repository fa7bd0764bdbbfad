//! Power Query (Excel "From OData feed", Power BI Desktop) compatibility: its request
//! sequence replayed with its headers and credentials, and the opt-in "Web API" key
//! parameter. On SQLite and (when configured) PostgreSQL.

mod common;

use base64::Engine;
use common::{backends, spawn_with, Reply, TestApp, TestDb};
use serde_json::Value;
use std::collections::HashSet;

const POWER_QUERY_ACCEPT: &str = "application/json;odata.metadata=minimal;q=1.0,application/json;odata=minimalmetadata;q=0.9,application/atomsvc+xml;q=0.8,application/atom+xml;q=0.8,application/xml;q=0.7,text/plain;q=0.7";

/// The headers Power Query's OData connector sends on every request.
fn pq_headers(auth: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "User-Agent",
            "Microsoft.Data.Mashup (https://go.microsoft.com/fwlink/?LinkID=304225)".into(),
        ),
        ("OData-MaxVersion", "4.0".into()),
        ("MaxDataServiceVersion", "3.0".into()),
        ("Accept", POWER_QUERY_ACCEPT.into()),
        ("Authorization", auth.to_owned()),
    ]
}

/// Basic authentication as the credential dialog sends it: any user, the token as password.
fn basic(token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("excel:{token}"))
    )
}

async fn pq_get(app: &TestApp, url: &str, auth: &str) -> Reply {
    let h = pq_headers(auth);
    let refs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app.get_with(url, "", &refs).await;
    assert_eq!(
        r.headers.get_all("odata-version").iter().count(),
        1,
        "one OData-Version header on {url}"
    );
    assert_eq!(r.header("odata-version"), Some("4.0"));
    r
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±hh:mm)`: Power Query's DateTimeOffset parser needs the offset.
fn has_offset(s: &str) -> bool {
    let b = s.as_bytes();
    let date_time = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':';
    let offset = s.ends_with('Z') || {
        let t = &s[s.len().saturating_sub(6)..];
        (t.starts_with('+') || t.starts_with('-')) && t.as_bytes().get(3) == Some(&b':')
    };
    date_time && offset
}

fn check_dates(entity: &str, row: &Value) {
    let t = crm_odata::model::MODEL.entity_set(entity).unwrap();
    for p in t
        .properties
        .iter()
        .filter(|p| p.ty == crm_odata::model::EdmType::DateTimeOffset)
    {
        match &row[p.name] {
            Value::Null => {}
            Value::String(s) => assert!(has_offset(s), "{entity}.{}: {s}", p.name),
            other => panic!("{entity}.{}: {other}", p.name),
        }
    }
}

/// A full refresh: every page through `@odata.nextLink`; returns the key values.
async fn refresh(app: &TestApp, auth: &str, entity: &str, key: &str, page: usize) -> Vec<Value> {
    let mut url = entity.to_owned();
    let mut keys = Vec::new();
    let context = format!("{}/$metadata#{entity}", app.base);
    loop {
        let r = pq_get(app, &url, auth).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("application/json;odata.metadata=minimal"));
        let doc = r.json();
        assert_eq!(doc["@odata.context"], context.as_str());
        let rows = doc["value"].as_array().unwrap();
        assert!(rows.len() <= page);
        for row in rows {
            check_dates(entity, row);
            keys.push(row[key].clone());
        }
        match doc.get("@odata.nextLink").and_then(Value::as_str) {
            Some(next) => {
                assert_eq!(rows.len(), page, "only the last page is short");
                assert!(
                    next.starts_with(&format!("{}/{entity}?", app.base)),
                    "absolute nextLink: {next}"
                );
                url = next.to_owned();
            }
            None => break,
        }
    }
    keys
}

#[actix_web::test]
async fn power_query_request_sequence() {
    for b in backends() {
        let db = TestDb::new(b);
        db.seed("alpha", 180, 7);
        db.seed("beta", 40, 8);
        let app = spawn_with(db, |c| c.max_page_size = 50).await;
        let auth = basic(&app.db.token("alpha"));

        // Navigator: service root, then $metadata (CSDL XML despite JSON being preferred).
        let root = pq_get(&app, "", &auth).await;
        assert_eq!(root.status, 200, "{}", root.text);
        assert_eq!(
            root.json()["@odata.context"],
            format!("{}/$metadata", app.base)
        );
        let sets: Vec<String> = root
            .values()
            .iter()
            .map(|v| v["url"].as_str().unwrap().to_owned())
            .collect();
        assert!(sets.contains(&"Contacts".to_owned()) && sets.contains(&"Leads".to_owned()));
        let meta = pq_get(&app, "$metadata", &auth).await;
        assert_eq!(meta.status, 200);
        assert!(meta
            .header("content-type")
            .unwrap()
            .starts_with("application/xml"));
        assert!(
            meta.text.contains("<edmx:Edmx") && meta.text.contains("EntitySet Name=\"Contacts\"")
        );

        for (entity, key, table) in [
            ("Contacts", "ContactId", "contacts"),
            ("Leads", "LeadId", "leads"),
        ] {
            let total = app.db.count("", table, "alpha");
            assert!(total > 50, "more than one page of {entity}");
            // Preview: $top=1000, paged by the server at 50.
            let preview = pq_get(&app, &format!("{entity}?$top=1000"), &auth).await;
            assert_eq!(preview.status, 200, "{}", preview.text);
            let doc = preview.json();
            assert_eq!(doc["value"].as_array().unwrap().len(), 50);
            let next = doc["@odata.nextLink"]
                .as_str()
                .expect("preview has a next page");
            assert!(next.starts_with(&app.base));
            // Full refresh following every nextLink.
            let keys = refresh(&app, &auth, entity, key, 50).await;
            let distinct: HashSet<String> = keys.iter().map(Value::to_string).collect();
            assert_eq!(distinct.len(), keys.len(), "no duplicates across pages");
            assert_eq!(keys.len() as i64, total, "rows add up");
            // Row count, as Power Query asks for it.
            let count = pq_get(&app, &format!("{entity}/$count"), &auth).await;
            assert_eq!(count.status, 200);
            assert!(count
                .header("content-type")
                .unwrap()
                .starts_with("text/plain"));
            assert_eq!(count.text, total.to_string());
        }
        // A group-by as $apply (which $metadata offers with Aggregation.ApplySupported),
        // with Power Query's headers: the groups' counts add up to the rows, the sums to
        // their values.
        assert!(meta.text.contains("Aggregation.ApplySupported"));
        let grouped = pq_get(
            &app,
            "Leads?$apply=groupby((StatusId),aggregate(Value%20with%20sum%20as%20Total,$count%20as%20Count))",
            &auth,
        )
        .await;
        assert_eq!(grouped.status, 200, "{}", grouped.text);
        let groups = grouped.json()["value"].as_array().unwrap().clone();
        let rows: i64 = groups.iter().map(|g| g["Count"].as_i64().unwrap()).sum();
        assert_eq!(rows, app.db.count("", "leads", "alpha"));
        let all = pq_get(
            &app,
            "Leads?$apply=aggregate(Value%20with%20sum%20as%20Total)",
            &auth,
        )
        .await;
        let total = all.json()["value"][0]["Total"].as_f64().unwrap();
        let summed: f64 = groups
            .iter()
            .map(|g| g["Total"].as_f64().unwrap_or(0.0))
            .sum();
        assert!(
            (total - summed).abs() < 1e-6 * total.abs().max(1.0),
            "{total} {summed}"
        );
        // The same with a bearer token (OData.Feed with an Authorization header).
        let bearer = format!("Bearer {}", app.db.token("alpha"));
        let keys = refresh(&app, &bearer, "Contacts", "ContactId", 50).await;
        assert_eq!(keys.len() as i64, app.db.count("", "contacts", "alpha"));
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[actix_web::test]
async fn web_api_key_parameter_is_opt_in_and_never_written_back() {
    for b in backends() {
        let db = TestDb::new(b);
        db.seed("alpha", 120, 5);
        db.seed("beta", 30, 6);
        let app = spawn_with(db, |c| {
            c.max_page_size = 50;
            c.api_key_param = Some("key".into());
        })
        .await;
        let token = app.db.token("alpha");
        let key = format!("key={}", encode(&token));
        let r = app.get(&format!("Contacts?{key}"), "").await;
        assert_eq!(r.status, 200, "{}", r.text);
        let doc = r.json();
        assert_eq!(
            doc["@odata.context"],
            format!("{}/$metadata#Contacts", app.base)
        );
        let next = doc["@odata.nextLink"].as_str().unwrap().to_owned();
        assert!(!next.contains(&token) && !next.contains("key="), "{next}");
        // Power Query appends the key to every URL it requests, next links included.
        let mut seen: Vec<Value> = doc["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["ContactId"].clone())
            .collect();
        let mut url = next;
        loop {
            let r = app.get(&format!("{url}&{key}"), "").await;
            assert_eq!(r.status, 200, "{}", r.text);
            let d = r.json();
            seen.extend(
                d["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["ContactId"].clone()),
            );
            match d["@odata.nextLink"].as_str() {
                Some(n) => {
                    assert!(!n.contains(&token) && !n.contains("key="), "{n}");
                    url = n.to_owned();
                }
                None => break,
            }
        }
        assert_eq!(
            seen.len() as i64,
            app.db.count("", "contacts", "alpha"),
            "alpha's workspace"
        );
        // The next link also works with a header instead: the fingerprint has no token in it.
        let with_header = app
            .get(doc["@odata.nextLink"].as_str().unwrap(), &token)
            .await;
        assert_eq!(with_header.status, 200, "{}", with_header.text);
        // Atom links and the self link carry no token either.
        let atom = app
            .get(&format!("Contacts?$format=atom&{key}&$top=60"), "")
            .await;
        assert_eq!(atom.status, 200, "{}", atom.text);
        assert!(!atom.text.contains(&token) && !atom.text.contains("key="));
        assert!(atom.text.contains("rel=\"next\""));
        // Same token checks: a wrong or revoked-looking key is 401, as is no credential.
        assert_eq!(app.get("Contacts?key=nope", "").await.status, 401);
        assert_eq!(app.get("Contacts", "").await.status, 401);
        // Other workspace's token sees only that workspace.
        let beta = app
            .get(
                &format!("Contacts/$count?key={}", encode(&app.db.token("beta"))),
                "",
            )
            .await;
        assert_eq!(beta.text, app.db.count("", "contacts", "beta").to_string());
        // A header still works alone; with the parameter too, neither is guessed at.
        let header = app.get("Contacts/$count", &token).await;
        assert_eq!(header.status, 200, "{}", header.text);
        for key in ["key=nope", &key] {
            let both = app.get(&format!("Contacts/$count?{key}"), &token).await;
            assert_eq!(both.status, 400, "{}", both.text);
            let e = &both.json()["error"];
            assert_eq!(e["target"], "Authorization", "{}", both.text);
            assert!(
                e["message"].as_str().unwrap().contains("`key`"),
                "{}",
                both.text
            );
        }

        // Off by default: the parameter is ignored and the request is unauthenticated.
        let db = TestDb::new(b);
        db.seed("alpha", 10, 5);
        let off = spawn_with(db, |_| {}).await;
        let t = off.db.token("alpha");
        let r = off.get(&format!("Contacts?key={}", encode(&t)), "").await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert!(r.header("www-authenticate").is_some());
    }
}
