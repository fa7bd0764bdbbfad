//! Atom/XML output (OData Atom Format 4.0) and content negotiation, black-box, on SQLite
//! and (when configured) PostgreSQL. Every document is parsed with quick-xml's namespace
//! reader into a small tree, so element and attribute namespaces are checked, not strings.

mod common;

use common::{backends, spawn_seeded, spawn_with, TestApp, TestDb};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use serde_json::Value;
use std::collections::HashSet;

const ATOM: &str = "http://www.w3.org/2005/Atom";
const APP: &str = "http://www.w3.org/2007/app";
const M: &str = "http://docs.oasis-open.org/odata/ns/metadata";
const D: &str = "http://docs.oasis-open.org/odata/ns/data";
const XML: &str = "http://www.w3.org/XML/1998/namespace";
const RELATED: &str = "http://docs.oasis-open.org/odata/ns/related/";
const POWER_QUERY: &str = "application/json;odata.metadata=minimal;q=1.0,application/json;odata=minimalmetadata;q=0.9,application/atomsvc+xml;q=0.8,application/atom+xml;q=0.8,application/xml;q=0.7,text/plain;q=0.7";

/// An element with its namespace resolved; attributes as (namespace, local name, value).
#[derive(Debug, Clone)]
struct El {
    ns: String,
    name: String,
    attrs: Vec<(String, String, String)>,
    children: Vec<El>,
    text: String,
}

impl El {
    fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }
    fn attr(&self, ns: &str, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, l, _)| n == ns && l == name)
            .map(|(_, _, v)| v.as_str())
    }
    fn all(&self, ns: &str, name: &str) -> Vec<&El> {
        self.children.iter().filter(|c| c.is(ns, name)).collect()
    }
    fn one(&self, ns: &str, name: &str) -> &El {
        let v = self.all(ns, name);
        assert_eq!(
            v.len(),
            1,
            "expected one {{{ns}}}{name} in <{}>: {self:#?}",
            self.name
        );
        v[0]
    }
    fn link(&self, rel: &str) -> Option<&El> {
        self.all(ATOM, "link")
            .into_iter()
            .find(|l| l.attr("", "rel") == Some(rel))
    }
}

fn ns_of(r: ResolveResult) -> String {
    match r {
        ResolveResult::Bound(ns) => String::from_utf8(ns.0.to_vec()).unwrap(),
        ResolveResult::Unbound => String::new(),
        ResolveResult::Unknown(p) => panic!("undeclared prefix {}", String::from_utf8_lossy(&p)),
    }
}

/// Parses the whole document; panics on malformed XML or undeclared prefixes.
fn parse(xml: &str) -> El {
    let mut r = NsReader::from_str(xml);
    let mut stack: Vec<El> = Vec::new();
    let mut root = None;
    loop {
        let (ns, ev) = r
            .read_resolved_event()
            .unwrap_or_else(|e| panic!("bad XML ({e}): {xml}"));
        let ns = match &ev {
            Event::Start(_) | Event::Empty(_) => ns_of(ns),
            _ => String::new(),
        };
        match ev {
            Event::Start(e) => {
                stack.push(element(&r, ns, &e));
            }
            Event::Empty(e) => {
                let el = element(&r, ns, &e);
                match stack.last_mut() {
                    Some(p) => p.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().expect("balanced");
                match stack.last_mut() {
                    Some(p) => p.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml_content().unwrap());
                }
            }
            Event::GeneralRef(g) => {
                let s = match &*g.decode().unwrap() {
                    "amp" => "&".to_owned(),
                    "lt" => "<".to_owned(),
                    "gt" => ">".to_owned(),
                    "quot" => "\"".to_owned(),
                    "apos" => "'".to_owned(),
                    _ => g.resolve_char_ref().unwrap().expect("char ref").to_string(),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty());
    root.expect("a root element")
}

fn element(r: &NsReader<&[u8]>, ns: String, e: &quick_xml::events::BytesStart) -> El {
    let name = String::from_utf8(e.local_name().as_ref().to_vec()).unwrap();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.unwrap();
        let key = a.key.as_ref();
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            continue;
        }
        let (ans, local) = if key.starts_with(b"xml:") {
            (
                XML.to_owned(),
                String::from_utf8(key[4..].to_vec()).unwrap(),
            )
        } else {
            let (rr, local) = r.resolve_attribute(a.key);
            (
                ns_of(rr),
                String::from_utf8(local.as_ref().to_vec()).unwrap(),
            )
        };
        attrs.push((ans, local, a.unescape_value().unwrap().into_owned()));
    }
    El {
        ns,
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
    }
}

/// Text form of a JSON scalar as Atom writes it.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks one `<entry>` against the JSON object for the same entity.
fn check_entry(app: &TestApp, entry: &El, json: &Value, set: &str, ty: &str) {
    assert!(entry.is(ATOM, "entry"));
    let id = &entry.one(ATOM, "id").text;
    assert!(id.starts_with(&format!("{}/{set}(", app.base)), "{id}");
    let cat = entry.one(ATOM, "category");
    assert_eq!(
        cat.attr("", "term"),
        Some(format!("#{}", crm_odata::model::MODEL.qualified(ty)).as_str())
    );
    assert_eq!(
        cat.attr("", "scheme"),
        Some("http://docs.oasis-open.org/odata/ns/scheme")
    );
    let edit = entry.link("edit").expect("edit link");
    assert_eq!(
        format!("{}/{}", app.base, edit.attr("", "href").unwrap()),
        *id
    );
    entry.one(ATOM, "title");
    assert!(entry.one(ATOM, "updated").text.ends_with('Z'));
    entry.one(ATOM, "author").one(ATOM, "name");
    let content = entry.one(ATOM, "content");
    assert_eq!(content.attr("", "type"), Some("application/xml"));
    let props = content.one(M, "properties");
    let obj = json.as_object().unwrap();
    let scalars: Vec<(&String, &Value)> = obj
        .iter()
        .filter(|(k, _)| !k.contains('@') && !is_nav(ty, k))
        .collect();
    let names: Vec<&str> = props.children.iter().map(|c| c.name.as_str()).collect();
    let json_names: Vec<&str> = scalars.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, json_names, "properties in JSON order");
    for (k, v) in scalars {
        let el = props.one(D, k);
        if v.is_null() {
            assert_eq!(el.attr(M, "null"), Some("true"), "{k}");
            assert!(el.text.is_empty());
        } else {
            assert_eq!(el.attr(M, "null"), None);
            assert_eq!(el.text, scalar(v), "{k}");
        }
        match v {
            Value::String(_) if k.ends_with("Created") || k == "Created" || k == "LastUpdated" => {
                assert_eq!(el.attr(M, "type"), Some("Edm.DateTimeOffset"), "{k}")
            }
            Value::Number(_) => {
                let t = el
                    .attr(M, "type")
                    .unwrap_or_else(|| panic!("{k} needs m:type"));
                assert!(
                    [
                        "Edm.Int32",
                        "Edm.Byte",
                        "Edm.Decimal",
                        "Edm.Int64",
                        "Edm.Double"
                    ]
                    .contains(&t),
                    "{k}: {t}"
                )
            }
            Value::Bool(_) => assert_eq!(el.attr(M, "type"), Some("Edm.Boolean")),
            _ => {}
        }
    }
    // Every navigation property has a related link to its own address.
    for l in entry
        .all(ATOM, "link")
        .into_iter()
        .filter(|l| l.attr("", "rel").unwrap().starts_with(RELATED))
    {
        let nav = l.attr("", "rel").unwrap().trim_start_matches(RELATED);
        assert_eq!(l.attr("", "title"), Some(nav));
        assert_eq!(
            l.attr("", "href").unwrap(),
            format!("{}/{nav}", edit.attr("", "href").unwrap())
        );
        assert!(l
            .attr("", "type")
            .unwrap()
            .starts_with("application/atom+xml;type="));
    }
}

fn is_nav(ty: &str, name: &str) -> bool {
    crm_odata::model::MODEL
        .entity_type(ty)
        .and_then(|t| t.nav(name))
        .is_some()
}

async fn each_backend<F, Fut>(f: F)
where
    F: Fn(TestApp, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        f(app, t).await;
    }
}

#[actix_web::test]
async fn feed_matches_json_for_a_collection() {
    each_backend(|app, t| async move {
        let q = "Contacts?$top=5&$count=true&$orderby=ContactId";
        let json = app.get(q, &t).await;
        assert_eq!(json.status, 200, "{}", json.text);
        let r = app.get(&format!("{q}&$format=atom"), &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header("content-type"), Some("application/atom+xml;type=feed;charset=utf-8"));
        assert_eq!(r.headers.get_all("odata-version").iter().count(), 1);
        let feed = parse(&r.text);
        assert!(feed.is(ATOM, "feed"), "{feed:?}");
        assert_eq!(feed.attr(XML, "base"), Some(format!("{}/", app.base).as_str()));
        assert_eq!(feed.attr(M, "context"), Some(format!("{}/$metadata#Contacts", app.base).as_str()));
        assert_eq!(feed.one(ATOM, "id").text, format!("{}/Contacts", app.base));
        assert_eq!(feed.one(ATOM, "title").text, "Contacts");
        assert!(feed.one(ATOM, "updated").text.ends_with('Z'));
        let count: i64 = feed.one(M, "count").text.parse().unwrap();
        assert_eq!(count, app.db.count("", "contacts", "alpha"));
        assert_eq!(count, json.json()["@odata.count"].as_i64().unwrap());
        assert!(feed.link("self").unwrap().attr("", "href").unwrap().starts_with("Contacts?"));
        assert!(feed.link("next").is_none());
        let entries = feed.all(ATOM, "entry");
        let rows = json.values();
        assert_eq!(entries.len(), 5);
        for (e, row) in entries.iter().zip(&rows) {
            check_entry(&app, e, row, "Contacts", "Contact");
            assert_eq!(e.one(ATOM, "id").text, format!("{}/Contacts({})", app.base, row["ContactId"]));
            for nav in ["Division", "Address", "Leads"] {
                let l = e.link(&format!("{RELATED}{nav}")).unwrap_or_else(|| panic!("{nav} link"));
                assert!(l.children.is_empty(), "not expanded: no m:inline");
            }
            let div = e.one(ATOM, "content").one(M, "properties").one(D, "DivisionId");
            assert_eq!(div.attr(M, "type"), Some("Edm.Int32"));
            assert_eq!(e.one(ATOM, "content").one(M, "properties").one(D, "Surname").attr(M, "type"), None);
        }
        // Null values: a property that is null in some rows is m:null there.
        let nulls = app.get("Contacts?$filter=PreferredName eq null&$top=1&$select=ContactId,PreferredName&$format=xml", &t).await;
        let e = parse(&nulls.text);
        let entry = e.one(ATOM, "entry");
        let p = entry.one(ATOM, "content").one(M, "properties").one(D, "PreferredName");
        assert_eq!(p.attr(M, "null"), Some("true"));
        // $select without the key still yields ids and edit links.
        let sel = parse(&app.get("Contacts?$select=Surname&$top=2&$format=atom", &t).await.text);
        assert_eq!(sel.attr(M, "context"), Some(format!("{}/$metadata#Contacts(Surname)", app.base).as_str()));
        for e in sel.all(ATOM, "entry") {
            assert!(e.one(ATOM, "id").text.starts_with(&format!("{}/Contacts(", app.base)));
            assert_eq!(e.one(ATOM, "content").one(M, "properties").children.len(), 1);
        }
    })
    .await;
}

#[actix_web::test]
async fn single_entities_expansions_and_values() {
    each_backend(|app, t| async move {
        let json = app.get("Contacts(1)", &t).await.json();
        let r = app.get_with("Contacts(1)", &t, &[("Accept", "application/atom+xml")]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header("content-type"), Some("application/atom+xml;type=entry;charset=utf-8"));
        let entry = parse(&r.text);
        assert_eq!(entry.attr(M, "context"), Some(format!("{}/$metadata#Contacts/$entity", app.base).as_str()));
        assert_eq!(entry.attr(XML, "base"), Some(format!("{}/", app.base).as_str()));
        let mut plain = json.clone();
        plain.as_object_mut().unwrap().shift_remove("@odata.context");
        check_entry(&app, &entry, &plain, "Contacts", "Contact");

        // Expanded collection with a count, and a single-valued expansion.
        let q = "Contacts?$top=20&$orderby=ContactId&$select=Surname&$expand=Leads($select=LeadId,Value,Created;$count=true),Division($select=Name;$expand=Company($select=Name))";
        let rows = app.get(q, &t).await.values();
        let feed = parse(&app.get(&format!("{q}&$format=atom"), &t).await.text);
        let entries = feed.all(ATOM, "entry");
        assert_eq!(entries.len(), rows.len());
        let mut saw_leads = 0;
        for (e, row) in entries.iter().zip(&rows) {
            check_entry(&app, e, row, "Contacts", "Contact");
            let leads = e.link(&format!("{RELATED}Leads")).unwrap();
            assert_eq!(leads.attr("", "type"), Some("application/atom+xml;type=feed"));
            let inline = leads.one(M, "inline").one(ATOM, "feed");
            assert_eq!(inline.one(M, "count").text, row["Leads@odata.count"].to_string());
            let lead_rows = row["Leads"].as_array().unwrap();
            let lead_entries = inline.all(ATOM, "entry");
            assert_eq!(lead_entries.len(), lead_rows.len());
            for (le, lr) in lead_entries.iter().zip(lead_rows) {
                check_entry(&app, le, lr, "Leads", "Lead");
                let v = le.one(ATOM, "content").one(M, "properties").one(D, "Value");
                if !lr["Value"].is_null() {
                    assert_eq!(v.attr(M, "type"), Some("Edm.Decimal"));
                }
                saw_leads += 1;
            }
            let div = e.link(&format!("{RELATED}Division")).unwrap();
            assert_eq!(div.attr("", "type"), Some("application/atom+xml;type=entry"));
            let de = div.one(M, "inline").one(ATOM, "entry");
            check_entry(&app, de, &row["Division"], "Divisions", "Division");
            let company = de.link(&format!("{RELATED}Company")).unwrap().one(M, "inline").one(ATOM, "entry");
            assert_eq!(company.one(ATOM, "content").one(M, "properties").one(D, "Name").text, row["Division"]["Company"]["Name"].as_str().unwrap());
            // Not expanded: plain link without m:inline.
            assert!(e.link(&format!("{RELATED}Address")).unwrap().children.is_empty());
        }
        assert!(saw_leads > 0, "seed data should give some contacts leads");

        // Single-valued navigation that is null: empty m:inline.
        let lead = app.get("Leads?$filter=StatusId eq null&$top=1&$select=LeadId&$expand=Status", &t).await.values();
        if let Some(l) = lead.first() {
            let f = parse(&app.get("Leads?$filter=StatusId eq null&$top=1&$select=LeadId&$expand=Status&$format=atom", &t).await.text);
            let link = f.one(ATOM, "entry").link(&format!("{RELATED}Status")).unwrap().clone();
            let inline = link.one(M, "inline");
            assert!(inline.children.is_empty(), "{l}");
        }

        // Expanded references.
        let refs = parse(&app.get("Contacts(1)?$select=ContactId&$expand=Leads/$ref&$format=atom", &t).await.text);
        let json_refs = app.get("Contacts(1)?$select=ContactId&$expand=Leads/$ref", &t).await.json();
        let inline = refs.link(&format!("{RELATED}Leads")).unwrap().one(M, "inline").one(ATOM, "feed").clone();
        let ids: Vec<&str> = inline.all(M, "ref").iter().map(|r| r.attr("", "id").unwrap()).collect();
        let want: Vec<String> = json_refs["Leads"].as_array().unwrap().iter().map(|r| r["@odata.id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids, want);

        // A single property as <m:value>.
        let v = app.get("Contacts(1)/Surname?$format=xml", &t).await;
        assert_eq!(v.status, 200, "{}", v.text);
        assert!(v.header("content-type").unwrap().starts_with("application/xml"));
        let el = parse(&v.text);
        assert!(el.is(M, "value"));
        assert_eq!(el.text, json["Surname"].as_str().unwrap());
        let json_prop = app.get("Contacts(1)/Surname", &t).await.json();
        assert_eq!(el.attr(M, "context"), json_prop["@odata.context"].as_str());
        let id = parse(&app.get("Contacts(1)/DivisionId?$format=xml", &t).await.text);
        assert_eq!(id.attr(M, "type"), Some("Edm.Int32"));
        assert_eq!(id.text, json["DivisionId"].to_string());
    })
    .await;
}

#[actix_web::test]
async fn service_document_errors_and_negotiation() {
    each_backend(|app, t| async move {
        for h in [
            "application/atomsvc+xml",
            "application/xml",
            "application/atom+xml",
        ] {
            let r = app.get_with("", &t, &[("Accept", h)]).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(
                r.header("content-type"),
                Some("application/atomsvc+xml;charset=utf-8")
            );
            let svc = parse(&r.text);
            assert!(svc.is(APP, "service"));
            assert_eq!(
                svc.attr(XML, "base"),
                Some(format!("{}/", app.base).as_str())
            );
            assert_eq!(
                svc.attr(M, "context"),
                Some(format!("{}/$metadata", app.base).as_str())
            );
            let ws = svc.one(APP, "workspace");
            ws.one(ATOM, "title");
            let sets: Vec<(&str, &str)> = ws
                .all(APP, "collection")
                .iter()
                .map(|c| {
                    (
                        c.attr("", "href").unwrap(),
                        c.one(ATOM, "title").text.as_str(),
                    )
                })
                .collect();
            let json_sets: Vec<String> = app
                .get("", &t)
                .await
                .values()
                .iter()
                .map(|v| v["url"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(
                sets.iter().map(|(h, _)| h.to_string()).collect::<Vec<_>>(),
                json_sets
            );
            assert!(sets.iter().all(|(h, t)| h == t));
        }
        // Power Query's list prefers JSON; $format beats Accept both ways.
        let pq = app
            .get_with("Contacts?$top=1", &t, &[("Accept", POWER_QUERY)])
            .await;
        assert!(pq
            .header("content-type")
            .unwrap()
            .starts_with("application/json;odata.metadata=minimal"));
        let j = app
            .get_with(
                "Contacts?$top=1&$format=json",
                &t,
                &[("Accept", "application/atom+xml")],
            )
            .await;
        assert!(j
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
        let a = app
            .get_with(
                "Contacts?$top=1&$format=atom",
                &t,
                &[("Accept", "application/json")],
            )
            .await;
        assert!(a
            .header("content-type")
            .unwrap()
            .starts_with("application/atom+xml"));
        let x = app
            .get_with(
                "Contacts?$top=1",
                &t,
                &[("Accept", "application/json;q=0.5, application/xml")],
            )
            .await;
        assert!(x
            .header("content-type")
            .unwrap()
            .starts_with("application/atom+xml"));
        // $metadata stays CSDL XML for XML-ish lists, $count stays text.
        let m = app
            .get_with("$metadata", &t, &[("Accept", POWER_QUERY)])
            .await;
        assert!(m
            .header("content-type")
            .unwrap()
            .starts_with("application/xml"));
        let c = app
            .get_with("Contacts/$count", &t, &[("Accept", POWER_QUERY)])
            .await;
        assert!(c.header("content-type").unwrap().starts_with("text/plain"));
        assert_eq!(c.text, app.db.count("", "contacts", "alpha").to_string());
        // What we cannot produce is 406.
        assert_eq!(app.get("Contacts?$format=csv", &t).await.status, 406);
        assert_eq!(
            app.get_with("Contacts", &t, &[("Accept", "image/png")])
                .await
                .status,
            406
        );
        assert_eq!(
            app.get_with("Contacts/$count", &t, &[("Accept", "application/xml")])
                .await
                .status,
            406
        );

        // Errors are <m:error> when XML was negotiated, JSON otherwise.
        let bad = app
            .get("Contacts?$filter=Surname eq&$format=atom", &t)
            .await;
        assert_eq!(bad.status, 400);
        assert_eq!(
            bad.header("content-type"),
            Some("application/xml;charset=utf-8")
        );
        let e = parse(&bad.text);
        assert!(e.is(M, "error"));
        assert_eq!(e.one(M, "code").text, "SyntaxError");
        assert!(!e.one(M, "message").text.is_empty());
        assert_eq!(e.one(M, "target").text, "$filter");
        let detail = e.one(M, "details").one(M, "detail");
        assert_eq!(detail.one(M, "code").text, "Position");
        let json_bad = app.get("Contacts?$filter=Surname eq", &t).await.json();
        assert_eq!(
            e.one(M, "message").text,
            json_bad["error"]["message"].as_str().unwrap()
        );
        let unauth = app
            .get_with("Contacts", "", &[("Accept", "application/xml")])
            .await;
        assert_eq!(unauth.status, 401);
        assert!(parse(&unauth.text).is(M, "error"));
        let missing = app
            .get_with(
                "Contacts(999999)",
                &t,
                &[("Accept", "application/atom+xml")],
            )
            .await;
        assert_eq!(missing.status, 404);
        assert_eq!(parse(&missing.text).one(M, "code").text, "NotFound");
        assert!(app.get("Contacts(999999)", &t).await.json()["error"].is_object());
    })
    .await;
}

#[actix_web::test]
async fn atom_paging_follows_next_links() {
    for b in backends() {
        let db = TestDb::new(b);
        db.seed("alpha", 120, 3);
        let app = spawn_with(db, |c| c.max_page_size = 50).await;
        let t = app.db.token("alpha");
        let total = app.db.count("", "contacts", "alpha");
        let mut url = "Contacts?$select=ContactId&$format=atom".to_owned();
        let mut seen = HashSet::new();
        let mut pages = 0;
        loop {
            let r = app.get(&url, &t).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let feed = parse(&r.text);
            pages += 1;
            for e in feed.all(ATOM, "entry") {
                assert!(
                    seen.insert(e.one(ATOM, "id").text.clone()),
                    "duplicate entry"
                );
            }
            match feed.link("next") {
                Some(n) => {
                    let href = n.attr("", "href").unwrap().to_owned();
                    assert!(
                        href.starts_with(&format!("{}/Contacts?", app.base)),
                        "{href}"
                    );
                    assert!(href.contains("$format=atom") && href.contains("$skiptoken="));
                    url = href;
                }
                None => break,
            }
        }
        assert_eq!(seen.len() as i64, total);
        assert_eq!(pages, (total as usize).div_ceil(50));
    }
}

#[actix_web::test]
async fn expanded_counts_are_written_inline() {
    each_backend(|app, t| async move {
        let json = app.get("Contacts(1)/Leads/$count", &t).await.text;
        let r = app
            .get(
                "Contacts(1)?$format=atom&$select=ContactId&$expand=Leads/$count",
                &t,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let entry = parse(&r.text);
        let link = entry
            .children
            .iter()
            .find(|c| c.is(ATOM, "link") && c.attr("", "rel") == Some(&format!("{RELATED}Leads")))
            .expect("Leads link");
        let inline = link
            .children
            .iter()
            .find(|c| c.is(M, "inline"))
            .expect("m:inline");
        let feed = inline
            .children
            .iter()
            .find(|c| c.is(ATOM, "feed"))
            .expect("feed");
        let count = feed
            .children
            .iter()
            .find(|c| c.is(M, "count"))
            .expect("m:count");
        assert_eq!(count.text, json);
        assert!(!feed.children.iter().any(|c| c.is(ATOM, "entry")));
    })
    .await;
}
