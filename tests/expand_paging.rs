//! Server-driven paging of expanded collections, on SQLite and (when configured)
//! PostgreSQL: a collection longer than the page size ends with `Nav@odata.nextLink`,
//! and following those links gives exactly the collection a read without paging gives.

mod common;

use common::{backends, spawn_seeded, spawn_with, TestApp, TestDb};
use serde_json::Value;

/// Expand queries whose collections are longer than the pages below for some rows.
const QUERIES: &[&str] = &[
    "Contacts?$select=ContactId&$expand=Leads($select=LeadId,Value;$orderby=Value desc)&$filter=Leads/$count ge 4&$top=8",
    "Contacts?$select=ContactId&$expand=Leads($select=LeadId;$filter=Guttometer ge 20;$count=true)&$filter=Leads/$count($filter=Guttometer ge 20) ge 4&$top=30",
    "Contacts?$select=ContactId&$expand=Leads($select=LeadId,Created;$orderby=Created;$skip=1;$top=4)&$filter=Leads/$count ge 5&$top=8",
    "Contacts?$select=ContactId&$expand=Leads($select=LeadId,Description;$orderby=Description,Value desc;$expand=Status($select=Code))&$top=40",
    "Contacts?$select=ContactId&$expand=Leads/$ref&$filter=Leads/$count ge 4&$top=8",
    "LeadStatus?$select=Code&$expand=Leads($select=LeadId;$orderby=Guttometer desc;$top=7)",
    "Divisions?$select=DivisionId&$expand=Contacts($select=ContactId;$expand=Leads($select=LeadId))&$filter=Contacts/$count ge 4&$top=5",
    "Contacts?$expand=Leads($filter=Value gt @v;$select=LeadId,Value)&@v=1000&$select=ContactId&$filter=Leads/$count($filter=Value gt 1000) ge 4&$top=8",
    // Page ends among nulls, through a navigation, on a computed value, with $search.
    "Contacts?$select=ContactId&$expand=Leads($select=LeadId,CloseDate;$orderby=CloseDate)&$filter=Leads/$count ge 4&$top=6",
    "Contacts?$select=ContactId&$expand=Leads($select=LeadId,CloseDate;$orderby=CloseDate desc)&$filter=Leads/$count ge 4&$top=6",
    "Contacts?$select=ContactId&$expand=Leads($select=LeadId;$orderby=Status/Description desc,Guttometer)&$filter=Leads/$count ge 4&$top=6",
    "Contacts?$select=ContactId&$expand=Leads($compute=Value mul Guttometer div 100 as Expected;$select=LeadId,Expected;$orderby=Expected)&$filter=Leads/$count ge 4&$top=6",
    "Divisions?$select=DivisionId&$expand=Leads($search=app OR users;$select=LeadId)&$filter=Leads/$count ge 4&$top=4",
    // `$it` is the request's resource, at any depth: the link names it by its URL.
    "Contacts?$select=ContactId&$expand=Leads($filter=Created ge $it/Created and Description ne '$it';$select=LeadId)&$filter=Leads/$count ge 4&$top=5",
    "Divisions?$select=DivisionId&$expand=Contacts($select=ContactId;$filter=Leads/$count ge 1;$expand=Leads($select=LeadId;$filter=DivisionId eq $it/DivisionId;$orderby=$it/DivisionId,Value))&$filter=Contacts/$count ge 4&$top=3",
    // {many}: a contact with at least four leads.
    "Contacts({many})?$select=ContactId&$expand=Leads($select=LeadId)",
];

async fn get(app: &TestApp, url: &str, token: &str, page: Option<usize>) -> Value {
    let prefer = page.map(|n| format!("odata.maxpagesize={n}"));
    let headers: Vec<(&str, &str)> = prefer.iter().map(|p| ("Prefer", p.as_str())).collect();
    let r = app.get_with(url, token, &headers).await;
    assert_eq!(r.status, 200, "{url}: {}", r.text);
    if page.is_some() && url.contains("$expand") {
        assert_eq!(
            r.header("preference-applied"),
            Some(format!("odata.maxpagesize={}", page.unwrap_or(0)).as_str()),
            "{url}"
        );
    }
    r.json()
}

/// The rows of a response: its `value`, or the entity itself.
fn rows(doc: &Value) -> Vec<Value> {
    match doc.get("value") {
        Some(Value::Array(v)) => v.clone(),
        _ => vec![doc.clone()],
    }
}

/// Follows every `Nav@odata.nextLink` in `v` (at any depth) with pages of `page`,
/// appending what they give to the array before it. Returns the links followed.
fn complete<'a>(
    app: &'a TestApp,
    token: &'a str,
    v: &'a mut Value,
    page: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = usize> + 'a>> {
    Box::pin(async move {
        let mut followed = 0;
        match v {
            Value::Array(items) => {
                for item in items {
                    followed += complete(app, token, item, page).await;
                }
            }
            Value::Object(obj) => {
                let keys: Vec<String> = obj.keys().cloned().collect();
                for k in &keys {
                    if !k.contains('@') {
                        if let Some(child) = obj.get_mut(k) {
                            followed += complete(app, token, child, page).await;
                        }
                    }
                }
                for k in keys {
                    let Some(nav) = k.strip_suffix("@odata.nextLink") else {
                        continue;
                    };
                    assert!(!nav.is_empty(), "a top-level nextLink inside a row: {k}");
                    let mut next = obj.remove(&k).and_then(|l| l.as_str().map(str::to_owned));
                    let mut more = Vec::new();
                    while let Some(url) = next {
                        let mut doc = get(app, &url, token, Some(page)).await;
                        let items = doc["value"].as_array().cloned().unwrap_or_default();
                        assert!(items.len() <= page, "{url}: {} rows", items.len());
                        assert!(!items.is_empty(), "{url}: a next page with no rows");
                        followed += 1 + complete(app, token, &mut doc["value"], page).await;
                        more.extend(doc["value"].as_array().cloned().unwrap_or_default());
                        next = doc["@odata.nextLink"].as_str().map(str::to_owned);
                    }
                    match obj.get_mut(nav) {
                        Some(Value::Array(items)) => items.extend(more),
                        other => panic!("{k} without its collection: {other:?}"),
                    }
                }
            }
            _ => {}
        }
        followed
    })
}

/// Every row of a read, following the top-level nextLinks too.
async fn all_rows(app: &TestApp, url: &str, token: &str, page: Option<usize>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(url.to_owned());
    while let Some(u) = next {
        let doc = get(app, &u, token, page).await;
        out.extend(rows(&doc));
        next = doc["@odata.nextLink"].as_str().map(str::to_owned);
    }
    out
}

/// The largest expanded collection anywhere in `v`, and whether one has a nextLink.
fn longest(v: &Value) -> (usize, bool) {
    match v {
        Value::Array(items) => items
            .iter()
            .map(longest)
            .fold((0, false), |a, b| (a.0.max(b.0), a.1 || b.1)),
        Value::Object(obj) => obj.iter().fold((0, false), |acc, (k, child)| {
            let here = match child {
                Value::Array(items) if !k.contains('@') => items.len(),
                _ => 0,
            };
            let (inner, linked) = longest(child);
            (
                acc.0.max(here).max(inner),
                acc.1 || linked || k.ends_with("@odata.nextLink"),
            )
        }),
        _ => (0, false),
    }
}

#[actix_web::test]
async fn expanded_collections_page_and_their_links_give_the_rest() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        let many = get(
            &app,
            "Contacts?$filter=Leads/$count ge 4&$top=1&$select=ContactId",
            &t,
            None,
        )
        .await;
        let many = many["value"][0]["ContactId"].to_string();
        for page in [2, 3] {
            for q in QUERIES {
                let q = &q.replace("{many}", &many);
                let whole = all_rows(&app, q, &t, None).await;
                let (longest_whole, linked) = longest(&Value::Array(whole.clone()));
                assert!(!linked, "{q}: a nextLink without a page size");
                assert!(
                    longest_whole > page,
                    "{q}: no collection longer than {page}"
                );
                let mut paged = all_rows(&app, q, &t, Some(page)).await;
                let (longest_paged, linked) = longest(&Value::Array(paged.clone()));
                assert!(linked, "{b:?} {q}: no collection paged at {page}");
                assert!(
                    longest_paged <= page,
                    "{b:?} {q}: {longest_paged} rows on a page"
                );
                let mut paged_value = Value::Array(std::mem::take(&mut paged));
                let followed = complete(&app, &t, &mut paged_value, page).await;
                assert!(followed > 0, "{q}");
                assert_eq!(paged_value, Value::Array(whole), "{b:?} page {page}: {q}");
            }
        }
        // In full metadata and with IEEE754Compatible, the same.
        let q = QUERIES[0];
        for format in [
            "application/json;odata.metadata=full",
            "application/json;IEEE754Compatible=true",
        ] {
            let url = format!("{q}&$format={format}");
            let whole = all_rows(&app, &url, &t, None).await;
            let mut paged = Value::Array(all_rows(&app, &url, &t, Some(2)).await);
            assert!(longest(&paged).1, "{url}");
            complete(&app, &t, &mut paged, 2).await;
            assert_eq!(paged, Value::Array(whole), "{b:?}: {url}");
        }
    }
}

/// The next page of an expanded collection is the related entities of one entity:
/// the link names it, and is bound to the workspace like any `$skiptoken`.
#[actix_web::test]
async fn an_expanded_collections_link_reads_that_collection_in_its_workspace_only() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let (t, other) = (app.db.token("alpha"), app.db.token("beta"));
        let doc = get(
            &app,
            "Contacts?$select=ContactId&$expand=Leads($select=LeadId;$orderby=LeadId)&$filter=Leads/$count ge 2&$top=1",
            &t,
            Some(1),
        )
        .await;
        let row = &doc["value"][0];
        let id = row["ContactId"].as_i64().unwrap();
        let link = row["Leads@odata.nextLink"].as_str().unwrap();
        assert!(
            link.starts_with(&format!(
                "{}/Contacts({id})/Leads?$select=LeadId&$orderby=LeadId&$skiptoken=",
                app.base
            )),
            "{link}"
        );
        let first = row["Leads"][0]["LeadId"].as_i64().unwrap();
        let next = get(&app, link, &t, Some(1)).await;
        let second = next["value"][0]["LeadId"].as_i64().unwrap();
        assert!(second > first, "{first} then {second}");
        // Replayed with another workspace's token: refused, nothing of the rows.
        let replay = app.get(link, &other).await;
        assert_eq!(replay.status, 400, "{}", replay.text);
        assert!(!replay.text.contains("LeadId"), "{}", replay.text);
        // Nor do the other workspace's expanded pages name this one's entities.
        let theirs = all_rows(
            &app,
            "Contacts?$select=ContactId&$expand=Leads($select=LeadId)",
            &other,
            Some(1),
        )
        .await;
        let mut theirs = Value::Array(theirs);
        complete(&app, &other, &mut theirs, 1).await;
        let mut seen: Vec<i64> = theirs
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["Leads"].as_array().cloned().unwrap_or_default())
            .map(|l| l["LeadId"].as_i64().unwrap())
            .collect();
        let n = seen.len();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), n, "{b:?}: a lead twice");
        let expected = app.db.count(" AND contact_id IS NOT NULL", "leads", "beta");
        assert_eq!(n as i64, expected, "{b:?}");
        let whole = all_rows(
            &app,
            "Contacts?$select=ContactId&$expand=Leads($select=LeadId)",
            &other,
            None,
        )
        .await;
        assert_eq!(theirs, Value::Array(whole), "{b:?}");
    }
}

/// Without a preference the server's own page size applies to expanded collections
/// too, so no response holds more than a page of any collection.
#[actix_web::test]
async fn the_servers_page_size_bounds_expanded_collections() {
    for b in backends() {
        let db = TestDb::new(b);
        db.seed("alpha", 60, 3);
        let t = db.token("alpha");
        let app = spawn_with(db, |c| c.max_page_size = 2).await;
        let q = "Contacts?$select=ContactId&$expand=Leads($select=LeadId)";
        let r = app.get(q, &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header("preference-applied"), None);
        let mut all = Value::Array(all_rows(&app, q, &t, None).await);
        let (most, linked) = longest(&all);
        assert!(most <= 2 && linked, "{b:?}: {most}");
        complete(&app, &t, &mut all, 2).await;
        let leads: usize = all
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["Leads"].as_array().map_or(0, Vec::len))
            .sum();
        let expected = app
            .db
            .count(" AND contact_id IS NOT NULL", "leads", "alpha");
        assert_eq!(leads as i64, expected, "{b:?}");
    }
}

/// Inside `$expand`, `$it` is the request's resource: a request for the collection
/// alone would read it as another entity, so the link names the resource by its URL.
#[actix_web::test]
async fn a_link_names_the_resource_it_stood_for() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        let q = "Contacts?$select=ContactId&$expand=Leads($filter=Created ge $it/Created;$select=LeadId)&$filter=Leads/$count ge 4&$top=1";
        let doc = get(&app, q, &t, Some(1)).await;
        let row = &doc["value"][0];
        let id = row["ContactId"].as_i64().unwrap();
        let link = row["Leads@odata.nextLink"].as_str().unwrap();
        let expected = format!(
            "{}/Contacts({id})/Leads?$select=LeadId&$filter=Created%20ge%20$root/Contacts({id})/Created&$skiptoken=",
            app.base
        );
        assert!(link.starts_with(&expected), "{b:?}: {link}");
        assert_eq!(
            get(&app, link, &t, Some(1)).await["value"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
    }
}

/// Atom writes the link as the inline feed's `next` link.
#[actix_web::test]
async fn atom_inline_feeds_link_their_next_page() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        let r = app
            .get_with(
                "Contacts?$select=ContactId&$expand=Leads($select=LeadId)&$filter=Leads/$count ge 2&$top=1&$format=atom",
                &t,
                &[("Prefer", "odata.maxpagesize=1")],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let inline = r.text.split("<m:inline>").nth(1).unwrap_or_default();
        let feed = inline.split("</feed>").next().unwrap_or_default();
        assert_eq!(feed.matches("<entry").count(), 1, "{}", r.text);
        assert!(feed.contains("<link rel=\"next\" href=\""), "{}", r.text);
        assert!(
            feed.contains("/Leads?$select=LeadId&amp;$format=atom&amp;$skiptoken="),
            "{}",
            r.text
        );
    }
}

/// A string key with characters a URL must encode (within `Code`'s six characters): the
/// link names its entity encoded, and the token it carries is accepted when a client
/// sends the link back.
#[actix_web::test]
async fn a_link_names_a_string_key_url_encoded() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        let code = "H ü's";
        for sql in [
            "UPDATE lead_statuses SET code = 'H ü''s' WHERE code = 'HOLD'",
            "UPDATE leads SET status_id = 'H ü''s' WHERE status_id = 'HOLD'",
        ] {
            diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut app.db.conn()).unwrap();
        }
        let q = "LeadStatus?$select=Code&$expand=Leads($select=LeadId;$filter=Description ne 'a b')&$filter=startswith(Code,'H ')";
        let doc = get(&app, q, &t, Some(1)).await;
        let row = &doc["value"][0];
        assert_eq!(row["Code"], code, "{b:?}: {doc}");
        let link = row["Leads@odata.nextLink"].as_str().unwrap();
        assert!(
            link.contains("/LeadStatus('H%20%C3%BC''s')/Leads?$select=LeadId&$filter=Description%20ne%20'a%20b'&$skiptoken="),
            "{b:?}: {link}"
        );
        let whole = all_rows(&app, q, &t, None).await;
        let mut paged = Value::Array(all_rows(&app, q, &t, Some(1)).await);
        assert!(complete(&app, &t, &mut paged, 1).await > 0);
        assert_eq!(paged, Value::Array(whole), "{b:?}");
    }
}
