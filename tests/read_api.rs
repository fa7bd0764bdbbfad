//! Black-box read tests, run on SQLite and (when configured) PostgreSQL.

mod common;

use common::{backends, spawn_seeded, spawn_with, Backend, Reply, TestApp, TestDb};
use crm_odata::db::Dialect;
use diesel::RunQueryDsl;
use serde_json::Value;
use std::collections::HashSet;

async fn each_backend<F, Fut>(f: F)
where
    F: Fn(TestApp, String, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for b in backends() {
        let app = spawn_seeded(b).await;
        let (alpha, beta) = (app.db.token("alpha"), app.db.token("beta"));
        f(app, alpha, beta).await;
    }
}

#[actix_web::test]
async fn service_document_metadata_and_headers() {
    each_backend(|app, t, _| async move {
        let r = app.get("/", &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let names: Vec<String> = r
            .values()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect();
        assert!(names.contains(&"LeadStatus".to_owned()) && names.contains(&"Contacts".to_owned()));
        assert_eq!(
            r.json()["@odata.context"],
            format!("{}/$metadata", app.base)
        );
        assert_eq!(r.headers.get_all("odata-version").iter().count(), 1);
        assert_eq!(r.header("odata-version"), Some("4.0"));
        let m = app.get("$metadata", &t).await;
        assert_eq!(m.status, 200);
        assert!(m
            .header("content-type")
            .unwrap()
            .starts_with("application/xml"));
        assert!(m.text.contains("EntitySet Name=\"LeadStatus\""));
        // Absolute URLs name the service as the client addressed it: its Host, or what
        // a proxy in front says in Forwarded / X-Forwarded-*.
        for (headers, root) in [
            (
                vec![("Host", "crm.example:8443")],
                "http://crm.example:8443/",
            ),
            (
                vec![
                    ("X-Forwarded-Proto", "https"),
                    ("X-Forwarded-Host", "odata.crm.example"),
                ],
                "https://odata.crm.example/",
            ),
            (
                vec![("Forwarded", "proto=https;host=eu.crm.example")],
                "https://eu.crm.example/",
            ),
        ] {
            let r = app
                .get_with("Contacts(1)?$select=Surname", &t, &headers)
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(
                r.json()["@odata.context"],
                format!("{root}$metadata#Contacts(Surname)/$entity")
            );
        }
    })
    .await;
}

#[actix_web::test]
async fn by_key_navigation_properties_and_case_insensitive_names() {
    each_backend(|app, t, _| async move {
        let r = app.get("Contacts(1)", &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let c = r.json();
        assert_eq!(c["ContactId"], 1);
        assert_eq!(
            c["@odata.context"],
            format!("{}/$metadata#Contacts/$entity", app.base)
        );
        let lower = app.get("contacts(ContactId=1)?$SELECT=surname", &t).await;
        assert_eq!(lower.status, 200, "{}", lower.text);
        assert_eq!(lower.json()["Surname"], c["Surname"]);
        assert!(lower.json().get("Forename").is_none());
        assert_eq!(app.get("Contacts(999999)", &t).await.status, 404);
        let won = app.get("LeadStatus('WON')", &t).await;
        assert_eq!(won.status, 200, "{}", won.text);
        assert_eq!(won.json()["Outcome"], 1);
        // Navigation from one contact equals the filtered set.
        let nav = app.get("Contacts(1)/Leads?$select=LeadId", &t).await;
        let filtered = app
            .get("Leads?$filter=ContactId eq 1&$select=LeadId", &t)
            .await;
        assert_eq!(nav.status, 200, "{}", nav.text);
        assert_eq!(nav.values(), filtered.values());
        let lead = app
            .get(
                "Leads?$top=1&$filter=StatusId ne null&$select=LeadId,StatusId",
                &t,
            )
            .await
            .values()[0]
            .clone();
        let status = app
            .get(&format!("Leads({})/Status", lead["LeadId"]), &t)
            .await;
        assert_eq!(status.status, 200, "{}", status.text);
        assert_eq!(status.json()["Code"], lead["StatusId"]);
        let prop = app.get("Contacts(1)/Surname", &t).await;
        assert_eq!(prop.json()["value"], c["Surname"]);
        let raw = app.get("Contacts(1)/Surname/$value", &t).await;
        assert_eq!(raw.text, c["Surname"].as_str().unwrap());
        assert!(raw
            .header("content-type")
            .unwrap()
            .starts_with("text/plain"));
        let count = app.get("Contacts/$count", &t).await;
        assert_eq!(
            count.text,
            app.db.count("", "contacts", "alpha").to_string()
        );
    })
    .await;
}

#[actix_web::test]
async fn seed_guide_queries_work_unchanged() {
    each_backend(|app, t, _| async move {
        let long = "Contacts?$select=Title,Forename,Surname,Email,StatusFlag&$filter=contains(email,'@prospectsoft.com') and StatusFlag eq 'A'&$expand=Leads($select=Description,Created,StatusFlag;$filter=StatusFlag eq 'A' and Status/DeadFlag eq 0;$expand=Status($select=Description))";
        let r = app.get(long, &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let rows = r.values();
        let expected = app.db.count(" AND email LIKE '%@prospectsoft.com%' AND status_flag = 'A'", "contacts", "alpha");
        assert_eq!(rows.len() as i64, expected);
        assert!(expected > 0, "seed data should contain prospectsoft contacts");
        for row in &rows {
            assert!(row["Email"].as_str().unwrap().contains("@prospectsoft.com"));
            for lead in row["Leads"].as_array().unwrap() {
                assert_eq!(lead["StatusFlag"], "A");
                assert!(lead["Status"].is_object() || lead["Status"].is_null());
                assert!(lead.get("LeadId").is_none());
            }
        }
        // The same query as the guide prints it, over several lines.
        let formatted = "Contacts\n?$select=Title,Forename,Surname,Email,StatusFlag\n&$filter=contains(email,'@prospectsoft.com') and StatusFlag eq 'A'\n&$expand=Leads(\n$select=Description,Created,StatusFlag;\n$filter=StatusFlag eq 'A' and Status/DeadFlag eq 0;\n$expand=Status(\n$select=Description\n)\n)";
        let encoded = formatted.replace('\n', "%0A");
        let r2 = app.get(&encoded, &t).await;
        assert_eq!(r2.status, 200, "{}", r2.text);
        assert_eq!(r2.values(), rows);
        for q in [
            "Contacts(1)?$select=ContactId,Forename,Surname&$top=50",
            "Contacts?$select=ContactId,Forename,Surname&$top=50",
            "Contacts?$select=Surname",
            "Contacts?$select=Surname&$expand=Division",
            "Contacts?$select=Surname&$expand=Division($select=Name)",
            "Contacts?$expand=Division($select=Name;$expand=Company)",
            "Contacts?$filter=Forename eq 'Johnson'",
            "Contacts?$filter=contains(Email, '@prospectsoft.com')&$orderby=created",
            "Contacts?$top=50&$skip=1",
            "Contacts/?$select=Surname&$top=2",
            "Contacts?$filter=not contains(Email,'@prospectsoft.com') and not startswith(Surname,'S') and not endswith(Surname,'s')",
            "Leads?$filter=Status/DeadFlag eq 0 and Guttometer ge 50&$expand=Status($select=Description)",
            "Contacts?$filter=contains(Division/Name,'Ltd')",
        ] {
            let r = app.get(q, &t).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
        }
        let top = app.get("Contacts?$top=50&$skip=1&$select=ContactId", &t).await.values();
        assert_eq!(top.len(), 50);
        assert_eq!(top[0]["ContactId"], 2);
    })
    .await;
}

#[actix_web::test]
async fn filters_follow_odata_semantics() {
    each_backend(|app, t, _| async move {
        let n = |r: common::Reply| r.values().len() as i64;
        let db = &app.db;
        assert_eq!(n(app.get("Contacts?$filter=Email eq null&$select=ContactId", &t).await), db.count(" AND email IS NULL", "contacts", "alpha"));
        assert_eq!(n(app.get("Contacts?$filter=Email ne null&$select=ContactId", &t).await), db.count(" AND email IS NOT NULL", "contacts", "alpha"));
        // not(x gt 50) includes rows where x is null: comparisons with null are false.
        let leads_total = db.count("", "leads", "alpha");
        let gt = n(app.get("Leads?$filter=Guttometer gt 50&$select=LeadId&$top=100000", &t).await);
        let not_gt = n(app.get("Leads?$filter=not (Guttometer gt 50)&$select=LeadId&$top=100000", &t).await);
        assert_eq!(gt + not_gt, leads_total.min(1000).max(gt + not_gt));
        let c_gt = app.get("Leads/$count?$filter=Guttometer gt 50", &t).await.text.parse::<i64>().unwrap();
        let c_not = app.get("Leads/$count?$filter=not (Guttometer gt 50)", &t).await.text.parse::<i64>().unwrap();
        assert_eq!(c_gt + c_not, leads_total);
        // Counts whether or not an index holds the filtered columns (SQLite is steered to
        // one pass over the rows when none does): the database's own answer.
        let count = |q: String| {
            let app = &app;
            let t = &t;
            async move {
                let r = app.get(&q, t).await;
                assert_eq!(r.status, 200, "{q}: {}", r.text);
                r.text.parse::<i64>().unwrap()
            }
        };
        for (filter, sql) in [
            ("StatusFlag eq 'D'", " AND status_flag = 'D'"),
            ("contains(Email,'@prospectsoft.com')", " AND email LIKE '%@prospectsoft.com%'"),
            ("contains(Email,'@prospectsoft.com') and StatusFlag eq 'A'", " AND email LIKE '%@prospectsoft.com%' AND status_flag = 'A'"),
            ("startswith(Surname,'S') and StatusFlag eq 'A'", " AND surname LIKE 'S%' AND status_flag = 'A'"),
            ("Created ge 2024-01-01T00:00:00Z", " AND created >= '2024-01-01'"),
        ] {
            assert_eq!(count(format!("Contacts/$count?$filter={filter}")).await, db.count(sql, "contacts", "alpha"), "{filter}");
        }
        // The same with a column that is often null, and through functions and navigation.
        let total_contacts = db.count("", "contacts", "alpha");
        for (p, neg) in [
            ("ContactId gt 5", "not (ContactId gt 5)"),
            ("Contact/Surname eq 'Smith'", "not (Contact/Surname eq 'Smith')"),
            ("ContactId in (1,2,3)", "not (ContactId in (1,2,3))"),
        ] {
            let a = app.get(&format!("Leads/$count?$filter={p}"), &t).await.text.parse::<i64>().unwrap();
            let b = app.get(&format!("Leads/$count?$filter={neg}"), &t).await.text.parse::<i64>().unwrap();
            assert_eq!(a + b, leads_total, "{p} / {neg}");
        }
        let a = app.get("Contacts/$count?$filter=contains(Email,'@prospectsoft.com')", &t).await.text.parse::<i64>().unwrap();
        let b = app.get("Contacts/$count?$filter=not contains(Email,'@prospectsoft.com')", &t).await.text.parse::<i64>().unwrap();
        // contains() of a null email is null, and so is its negation (Part 2 §5.1.1.4).
        let with_email = db.count(" AND email IS NOT NULL", "contacts", "alpha");
        assert!(with_email < total_contacts, "some contacts have no email");
        assert_eq!(a + b, with_email, "not contains() leaves out contacts without email");
        let c_ne = app.get("Leads/$count?$filter=ContactId ne 1", &t).await.text.parse::<i64>().unwrap();
        let c_eq = app.get("Leads/$count?$filter=ContactId eq 1", &t).await.text.parse::<i64>().unwrap();
        assert_eq!(c_ne + c_eq, leads_total, "ne must include null ContactId");
        // Case-sensitive comparisons and escaped wildcards, the same on both backends.
        let sm = app.get("Contacts?$filter=startswith(Surname,'Sm')&$select=Surname", &t).await.values();
        assert!(!sm.is_empty());
        assert!(sm.iter().all(|v| v["Surname"].as_str().unwrap().starts_with("Sm")));
        assert_eq!(n(app.get("Contacts?$filter=startswith(Surname,'sm')&$select=Surname", &t).await), 0);
        // A prefix is the range [prefix, successor): the same rows as comparing the first
        // characters, with or without `not`, and '' matches every non-null value.
        let with_surname = db.count(" AND surname IS NOT NULL", "contacts", "alpha");
        for (prefix, sql) in [("Sm", " AND substr(surname, 1, 2) = 'Sm'"), ("S", " AND substr(surname, 1, 1) = 'S'"), ("", " AND surname IS NOT NULL")] {
            let yes = count(format!("Contacts/$count?$filter=startswith(Surname,'{prefix}')")).await;
            let no = count(format!("Contacts/$count?$filter=not startswith(Surname,'{prefix}')")).await;
            assert_eq!(yes, db.count(sql, "contacts", "alpha"), "{prefix:?}");
            assert_eq!(yes + no, with_surname, "{prefix:?}");
        }
        assert_eq!(count("Contacts/$count?$filter=startswith(Surname,'Sm\u{10FFFF}')".to_owned()).await, 0);
        assert_eq!(n(app.get("Contacts?$filter=contains(Surname,'%25')&$select=Surname", &t).await), 0);
        assert_eq!(n(app.get("Contacts?$filter=startswith(Surname,'_')&$select=Surname", &t).await), 0);
        assert_eq!(n(app.get("Contacts?$filter=tolower(Surname) eq 'smith'&$select=Surname", &t).await), n(app.get("Contacts?$filter=Surname eq 'Smith'&$select=Surname", &t).await));
        // in, arithmetic, functions, lambdas.
        let inn = n(app.get("Leads?$filter=StatusId in ('WON','LOST')&$select=LeadId&$top=100000", &t).await);
        assert_eq!(inn, db.count(" AND status_id IN ('WON','LOST')", "leads", "alpha").min(1000));
        // The list as an alias's value, in 4.01's array form.
        let aliased = app.get("Leads?$filter=StatusId in @codes&@codes=['WON','LOST']&$select=LeadId&$top=100000", &t).await;
        assert_eq!(aliased.status, 200, "{}", aliased.text);
        assert_eq!(n(aliased), inn);
        assert_eq!(app.get("Leads?$filter=Guttometer add 10 gt 100 and length(Description) gt 0 and year(Created) ge 2020&$top=5", &t).await.status, 200);
        let any = app.get("Contacts/$count?$filter=Leads/any(l: l/StatusFlag eq 'A')", &t).await.text.parse::<i64>().unwrap();
        assert_eq!(any, db.count(" AND contact_id IN (SELECT contact_id FROM leads l WHERE l.workspace_id = contacts.workspace_id AND l.status_flag = 'A')", "contacts", "alpha"));
        let all = app.get("Contacts/$count?$filter=Leads/all(l: l/Guttometer ge 0)", &t).await.text.parse::<i64>().unwrap();
        assert_eq!(all, db.count("", "contacts", "alpha"));
        let ordered = app.get("Contacts?$filter=startswith(Surname,'S')&$orderby=Created desc&$top=100&$select=Created", &t).await.values();
        let dates: Vec<&str> = ordered.iter().map(|v| v["Created"].as_str().unwrap()).collect();
        assert!(dates.windows(2).all(|w| w[0] >= w[1]), "ordered desc");
        assert!(dates.iter().all(|d| d.ends_with('Z')));
        let since = app.get("Contacts/$count?$filter=Created ge 2024-01-01T00:00:00Z", &t).await;
        assert_eq!(since.status, 200, "{}", since.text);
        let search = app.get("Contacts?$search=smith&$select=Surname,Forename,Email,JobTitle", &t).await.values();
        assert!(search.iter().all(|v| v.to_string().to_lowercase().contains("smith")));
    })
    .await;
}

/// Remainders keep their fraction and the dividend's sign, rounding functions of whole
/// numbers are the numbers, and a function of null is null: the rows each filter finds
/// are the rows Rust finds in the same data, on both databases.
/// A `$filter` on Leads and the leads it must select, judged from their JSON.
type LeadCase = (String, Box<dyn Fn(&Value) -> bool>);

/// Runs each case's filter and checks it selects exactly the leads the case keeps.
async fn assert_lead_filters(app: &TestApp, t: &str, leads: &[Value], cases: &[LeadCase]) {
    for (filter, keep) in cases {
        let r = app
            .get(
                &format!("Leads?$filter={filter}&$select=LeadId&$orderby=LeadId&$top=100000"),
                t,
            )
            .await;
        assert_eq!(r.status, 200, "{filter}: {}", r.text);
        let got: Vec<i64> = r
            .values()
            .iter()
            .filter_map(|v| v["LeadId"].as_i64())
            .collect();
        let want: Vec<i64> = leads
            .iter()
            .filter(|l| keep(l))
            .filter_map(|l| l["LeadId"].as_i64())
            .collect();
        assert_eq!(got, want, "{:?}: {filter}", app.backend);
    }
}

#[actix_web::test]
async fn arithmetic_rounding_and_functions_of_null_agree_with_the_data() {
    each_backend(|app, t, _| async move {
        let leads = app
            .get("Leads?$select=LeadId,Value,Guttometer&$top=100000", &t)
            .await
            .values();
        assert!(leads.len() > 100);
        let num = |l: &Value, k: &str| l[k].as_f64();
        let cases: Vec<LeadCase> = vec![
            (
                "Guttometer mod 2.5 eq 1.5".into(),
                Box::new(move |l| num(l, "Guttometer").is_some_and(|g| g % 2.5 == 1.5)),
            ),
            (
                "Value mod 1000 lt 250.5".into(),
                Box::new(move |l| num(l, "Value").is_some_and(|v| v % 1000.0 < 250.5)),
            ),
            (
                "ceiling(Guttometer) mod 7 eq 3".into(),
                Box::new(move |l| num(l, "Guttometer").is_some_and(|g| g.ceil() % 7.0 == 3.0)),
            ),
            (
                "floor(Value) mod 3 eq 1".into(),
                Box::new(move |l| num(l, "Value").is_some_and(|v| v.floor() % 3.0 == 1.0)),
            ),
            (
                "round(Guttometer) eq Guttometer".into(),
                Box::new(move |l| num(l, "Guttometer").is_some()),
            ),
            (
                "5.5 mod 2 eq 1.5 and -5.5 mod 2 eq -1.5 and 7 mod -3 eq 1".into(),
                Box::new(|_| true),
            ),
            (
                "minute(null) lt 5 or year(null) eq 2020 or fractionalseconds(null) eq 0".into(),
                Box::new(|_| false),
            ),
            (
                "round(null) eq null and length(null) eq null and concat(null,'a') eq null".into(),
                Box::new(|_| true),
            ),
            // An instant moved by a fraction of a second keeps whole seconds on both.
            (
                "Created eq null or (fractionalseconds(Created add duration'PT0.5S') eq 0 \
                 and Created add duration'PT1.5S' eq Created add duration'PT1S')"
                    .into(),
                Box::new(|_| true),
            ),
            // A start or length below zero is zero, a start past the end gives ''.
            (
                "substring('abc',1,-1) eq '' and substring('abc',-3,2) eq 'ab' \
                 and substring('abc',2147483647) eq '' and substring('abc',1,2147483647) eq 'bc' \
                 and substring('abc',-9) eq 'abc'"
                    .into(),
                Box::new(|_| true),
            ),
            // Integer products past 2^31, in 64 bits on both databases.
            (
                "Guttometer mul Guttometer mul Guttometer mul Guttometer mul Guttometer gt 1000000000"
                    .into(),
                Box::new(move |l| num(l, "Guttometer").is_some_and(|g| g.powi(5) > 1e9)),
            ),
            (
                "LeadId mul LeadId mul LeadId mul LeadId gt 4294967296".into(),
                Box::new(move |l| num(l, "LeadId").is_some_and(|i| i.powi(4) > 4294967296.0)),
            ),
        ];
        assert_lead_filters(&app, &t, &leads, &cases).await;
        for (filter, keep) in [&cases[0], &cases[2]] {
            assert!(leads.iter().any(keep), "{filter} selects nothing");
        }
    })
    .await;
}

/// Edm.Decimal arithmetic is exact on both databases (SQLite computes it with
/// `db::decimal`'s functions): no binary rounding (`0.1 add 0.2` is 0.3), no integer
/// division of a whole decimal (SQLite stores 3802.0 as 3802), remainders with their
/// fraction and the dividend's sign, INF or -INF for `divby` zero; integer arithmetic
/// stays integer arithmetic.
#[actix_web::test]
async fn decimal_arithmetic_is_exact() {
    each_backend(|app, t, _| async move {
        for (id, value) in [(1, "4339.35"), (2, "3802.0"), (3, "-5.5"), (4, "0.1"), (5, "0.2")] {
            diesel::sql_query(format!(
                "UPDATE leads SET value = {value}, guttometer = 48 WHERE lead_id = {id} \
                 AND workspace_id = (SELECT id FROM workspaces WHERE name = 'alpha')"
            ))
            .execute(&mut app.db.conn())
            .unwrap();
        }
        let r = app
            .get(
                "Leads?$filter=LeadId le 3&$orderby=LeadId&$compute=Value div 1000 as Q,\
                 Value divby 1000 as R,Value mul Guttometer div 100 as P,Value mod 1000 as M,\
                 Value mod -2 as N,Value sub 339.35 as S,0.1 add 0.2 as A,\
                 Value divby 0 as X,Guttometer div 5 as I\
                 &$select=LeadId,Q,R,P,M,N,S,A,X,I",
                &t,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let rows = r.values();
        // Numbers as floats: SQLite writes a whole decimal as an integer (802),
        // PostgreSQL as 802.000000.
        let column = |k: &str| -> Vec<Option<f64>> { rows.iter().map(|row| row[k].as_f64()).collect() };
        let numbers = |v: &[f64]| -> Vec<Option<f64>> { v.iter().copied().map(Some).collect() };
        let b = app.backend;
        assert_eq!(column("LeadId"), numbers(&[1.0, 2.0, 3.0]), "{b:?}");
        assert_eq!(column("Q"), numbers(&[4.33935, 3.802, -0.0055]), "{b:?} div");
        assert_eq!(column("R"), numbers(&[4.33935, 3.802, -0.0055]), "{b:?} divby");
        assert_eq!(column("P"), numbers(&[2082.888, 1824.96, -2.64]), "{b:?} mul div");
        assert_eq!(column("M"), numbers(&[339.35, 802.0, -5.5]), "{b:?} mod");
        assert_eq!(column("N"), numbers(&[1.35, 0.0, -1.5]), "{b:?} mod negative");
        assert_eq!(column("S"), numbers(&[4000.0, 3462.65, -344.85]), "{b:?} sub");
        assert_eq!(column("A"), numbers(&[0.3; 3]), "{b:?} add");
        let x: Vec<&Value> = rows.iter().map(|row| &row["X"]).collect();
        assert_eq!(x, ["INF", "INF", "-INF"], "{b:?} divby 0");
        // Integers still divide as integers.
        assert_eq!(column("I"), numbers(&[9.0; 3]), "{b:?}");
        // The same values in filters: exactly the leads whose decimals they hold.
        let ids = |filter: &'static str| {
            let (app, t) = (&app, &t);
            async move {
                let r = app
                    .get(&format!("Leads?$filter=LeadId le 5 and ({filter})&$select=LeadId&$orderby=LeadId"), t)
                    .await;
                assert_eq!(r.status, 200, "{filter}: {}", r.text);
                r.values().iter().map(|v| v["LeadId"].as_i64().unwrap()).collect::<Vec<_>>()
            }
        };
        for (filter, want) in [
            ("Value sub 339.35 eq 4000", vec![1]),
            ("Value div 1000 eq 3.802", vec![2]),
            ("Value mul Guttometer div 100 eq 1824.96", vec![2]),
            ("Value mod 1000 eq 339.35 or Value mod 0.1 eq 0.05", vec![1]),
            ("Value mod 2 eq -1.5 and Value mod -2 eq -1.5", vec![3]),
            ("Value add Value add Value eq 0.3 or Value mul 3 eq 0.6", vec![4, 5]),
            ("10.3 mod 3.1 eq 1.0 and -10.3 mod 3.1 eq -1.0 and 0.1 add 0.2 eq 0.3", vec![1, 2, 3, 4, 5]),
            ("Value divby 0 eq INF and 1.5E0 div 0 eq INF", vec![1, 2, 4, 5]),
            ("7 div 2 eq 3 and -7 mod 3 eq -1 and 7 divby 2 eq 3.5", vec![1, 2, 3, 4, 5]),
        ] {
            assert_eq!(ids(filter).await, want, "{b:?}: {filter}");
        }
        // Sums and averages of decimals, likewise.
        let r = app
            .get(
                "Leads?$apply=filter(LeadId ge 4 and LeadId le 5)/aggregate(Value with sum as T,Value with average as V)",
                &t,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let row = &r.values()[0];
        assert_eq!((row["T"].as_f64(), row["V"].as_f64()), (Some(0.3), Some(0.15)), "{b:?} {row}");
        let r = app.get("Leads?$apply=aggregate(Value with sum as T)", &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let total = r.values()[0]["T"].as_f64().unwrap().to_string();
        assert!(total.split('.').nth(1).is_none_or(|f| f.len() <= 6), "{b:?} {total}");
    })
    .await;
}

/// `tolower` and `toupper` map every letter, not only ASCII ones, the same on both
/// databases.
#[actix_web::test]
async fn tolower_and_toupper_map_letters_beyond_ascii() {
    each_backend(|app, t, _| async move {
        let b = app.backend;
        let count = |filter: &'static str| {
            let (app, t) = (&app, &t);
            async move {
                let r = app.get(&format!("Leads/$count?$filter=LeadId le 3 and ({filter})"), t).await;
                assert_eq!(r.status, 200, "{filter}: {}", r.text);
                r.text.parse::<i64>().unwrap()
            }
        };
        for (filter, want) in [
            ("tolower('Ü') eq 'ü' and toupper('ü') eq 'Ü'", 3),
            ("tolower('ÜBER Ça ПРИВЕТ Ωμέγα') eq 'über ça привет ωμέγα'", 3),
            ("toupper('über ça привет ωμέγα') eq 'ÜBER ÇA ПРИВЕТ ΩΜΈΓΑ'", 3),
            ("tolower('Ü') eq 'Ü' or toupper('ü') eq 'ü'", 0),
            ("tolower(null) eq null and toupper(null) eq null", 3),
        ] {
            assert_eq!(count(filter).await, want, "{b:?}: {filter}");
        }
        let r = app
            .get("Leads?$filter=LeadId eq 1&$compute=tolower('ÄÖÜ É') as L,toupper('äöü é') as U&$select=L,U", &t)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let row = &r.values()[0];
        assert_eq!((row["L"].as_str(), row["U"].as_str()), (Some("äöü é"), Some("ÄÖÜ É")), "{b:?}");
    })
    .await;
}

/// Durations (URL conventions 5.1.1.2): an instant or date moved by one, the duration
/// between two instants or dates, durations scaled, compared, negated, ordered by and
/// returned; the leads each filter finds are the leads Rust finds in the same data.
#[actix_web::test]
async fn durations_move_instants_and_measure_the_time_between_them() {
    each_backend(|app, t, beta| async move {
        let all = "Leads?$select=LeadId,Created,CloseDate,EstimatedClose&$top=100000";
        let leads = app.get(all, &t).await.values();
        assert!(leads.len() > 100);
        let at = |l: &Value, k: &str| {
            l[k].as_str()
                .map(|s| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp())
        };
        let open = move |l: &Value| Some(at(l, "CloseDate")? - at(l, "Created")?);
        let day = 86_400;
        let cutoff = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .timestamp();
        let cases: Vec<LeadCase> = vec![
            (
                "CloseDate sub Created gt duration'P100D'".into(),
                Box::new(move |l| open(l).is_some_and(|s| s > 100 * day)),
            ),
            (
                "-(CloseDate sub Created) lt -P100D".into(),
                Box::new(move |l| open(l).is_some_and(|s| s > 100 * day)),
            ),
            (
                "(CloseDate sub Created) div 2 ge duration'P50DT0.5S'".into(),
                Box::new(move |l| open(l).is_some_and(|s| s as f64 / 2.0 >= (50 * day) as f64 + 0.5)),
            ),
            (
                "CloseDate sub Created add duration'P1D' le duration'P31D'".into(),
                Box::new(move |l| open(l).is_some_and(|s| s + day <= 31 * day)),
            ),
            (
                "Created add duration'P30DT12H' lt 2024-01-01T00:00:00Z".into(),
                Box::new(move |l| at(l, "Created").is_some_and(|c| c + 30 * day + 12 * 3600 < cutoff)),
            ),
            (
                "duration'-PT1H' add EstimatedClose ge Created".into(),
                Box::new(move |l| {
                    matches!((at(l, "EstimatedClose"), at(l, "Created")), (Some(e), Some(c)) if e - 3600 >= c)
                }),
            ),
            (
                "totalseconds(EstimatedClose sub Created) gt 8640000".into(),
                Box::new(move |l| {
                    matches!((at(l, "EstimatedClose"), at(l, "Created")), (Some(e), Some(c)) if e - c > 8_640_000)
                }),
            ),
            (
                "date(CloseDate) sub date(Created) ge duration'P7D'".into(),
                Box::new(move |l| open(l).is_some_and(|_| {
                    let d = |k: &str| chrono::NaiveDate::parse_from_str(&l[k].as_str().unwrap()[..10], "%Y-%m-%d").unwrap();
                    (d("CloseDate") - d("Created")).num_days() >= 7
                })),
            ),
            (
                "date(Created) add duration'P1D' eq date(Created add duration'PT24H')".into(),
                Box::new(move |l| at(l, "Created").is_some()),
            ),
            ("CloseDate sub Created eq null".into(), Box::new(move |l| open(l).is_none())),
        ];
        assert_lead_filters(&app, &t, &leads, &cases).await;
        assert!(leads.iter().any(&cases[0].1) && !leads.iter().all(&cases[0].1));

        // Returned: a duration as ISO 8601 seconds, an instant moved as an instant.
        let r = app
            .get(
                "Leads?$filter=CloseDate ne null&$compute=CloseDate sub Created as Open,\
                 Created sub duration'PT1H30M' as Earlier,cast(duration'P1DT0.5S',Edm.String) as Text\
                 &$select=LeadId,Created,CloseDate,Open,Earlier,Text&$top=100000",
                &t,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let rows = r.values();
        assert!(!rows.is_empty());
        for l in &rows {
            let s = open(l).unwrap();
            let want = if s < 0 { format!("-PT{}S", -s) } else { format!("PT{s}S") };
            assert_eq!(l["Open"].as_str(), Some(want.as_str()), "{l}");
            let earlier = chrono::DateTime::from_timestamp(at(l, "Created").unwrap() - 5400, 0).unwrap();
            assert_eq!(l["Earlier"].as_str(), Some(earlier.format("%Y-%m-%dT%H:%M:%SZ").to_string().as_str()), "{l}");
            assert_eq!(l["Text"], "PT86400.5S");
        }

        // Ordered by a duration, page after page.
        let mut want: Vec<(i64, i64)> = leads
            .iter()
            .filter_map(|l| Some((open(l)?, l["LeadId"].as_i64()?)))
            .collect();
        want.sort_by_key(|(s, id)| (-s, *id));
        let mut seen = Vec::new();
        let mut next = Some(
            "Leads?$filter=CloseDate ne null&$orderby=CloseDate sub Created desc,LeadId&$select=LeadId".to_owned(),
        );
        while let Some(url) = next.take() {
            let r = app.get_with(&url, &t, &[("Prefer", "odata.maxpagesize=40")]).await;
            assert_eq!(r.status, 200, "{}", r.text);
            seen.extend(r.values().iter().map(|v| v["LeadId"].as_i64().unwrap()));
            next = r.json()["@odata.nextLink"].as_str().map(str::to_owned);
        }
        assert_eq!(seen, want.iter().map(|(_, id)| *id).collect::<Vec<_>>());

        // Another workspace's token finds its own leads only.
        let theirs = app.get(all, &beta).await.values();
        let mut want: Vec<i64> = theirs
            .iter()
            .filter(|l| open(l).is_some_and(|s| s > 100 * day))
            .filter_map(|l| l["LeadId"].as_i64())
            .collect();
        want.sort();
        let got: Vec<i64> = app
            .get("Leads?$filter=CloseDate sub Created gt duration'P100D'&$select=LeadId&$orderby=LeadId&$top=100000", &beta)
            .await
            .values()
            .iter()
            .filter_map(|v| v["LeadId"].as_i64())
            .collect();
        assert_eq!(got, want);

        // What OData does not define, or a duration no date survives, is a 400 naming it.
        for (filter, names) in [
            ("Created add Guttometer gt now()", "Edm.DateTimeOffset add Edm.Int32"),
            ("duration'P1D' gt 5", "cannot compare Edm.Duration with Edm.Int64"),
            ("Created sub 2024-01-01 gt duration'P1D'", "Edm.DateTimeOffset sub Edm.Date"),
            ("totalseconds(Guttometer) gt 1", "must be a Duration"),
            ("Created add duration'P99999999D' gt now()", "P99999999D"),
        ] {
            let r = app.get(&format!("Leads?$filter={filter}"), &t).await;
            assert_eq!(r.status, 400, "{filter}: {}", r.text);
            assert!(r.json()["error"]["message"].as_str().unwrap().contains(names), "{}", r.text);
        }
        // A literal's error points at the literal, past the property before it.
        let at = |filter: &'static str| {
            let app = &app;
            let t = &t;
            async move {
                let r = app.get(&format!("Leads?$filter={filter}"), t).await;
                r.json()["error"]["details"][0]["message"].as_str().unwrap().to_owned()
            }
        };
        let (property, literal) = (
            at("Created add Guttometer gt now()").await,
            at("Created add duration'P99999999D' gt now()").await,
        );
        let n = |m: &str| m.trim_start_matches("position ").parse::<usize>().unwrap();
        assert!(n(&literal) > n(&property) + "Created add".len(), "{property} / {literal}");
    })
    .await;
}

/// `case(condition:result, ...)`: the first result whose condition is true, else null;
/// numbers promoted to one type; in `$filter`, `$orderby` and `$compute`.
#[actix_web::test]
async fn case_takes_the_first_true_condition() {
    each_backend(|app, t, _| async move {
        let leads = app
            .get("Leads?$select=LeadId,Value,Guttometer&$top=100000", &t)
            .await
            .values();
        let band = |l: &Value| -> Option<f64> {
            let g = l["Guttometer"].as_i64()?;
            Some(if g >= 80 {
                3.0
            } else if g >= 50 {
                2.5
            } else if g >= 20 {
                1.0
            } else {
                return None;
            })
        };
        let r = app
            .get(
                "Leads?$compute=case(Guttometer ge 80:3,Guttometer ge 50:2.5,Guttometer ge 20:1) as Band\
                 &$select=LeadId,Band&$top=100000",
                &t,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let got = r.values();
        assert_eq!(got.len(), leads.len());
        for (g, l) in got.iter().zip(&leads) {
            assert_eq!(g["Band"].as_f64(), band(l), "{g} {l}");
        }
        let cases: Vec<LeadCase> = vec![
            (
                "case(Guttometer ge 50:true,true:false)".into(),
                Box::new(|l| l["Guttometer"].as_i64().is_some_and(|g| g >= 50)),
            ),
            (
                "case(Guttometer lt 20:'low',Guttometer lt 60:'mid') eq 'mid'".into(),
                Box::new(|l| l["Guttometer"].as_i64().is_some_and(|g| (20..60).contains(&g))),
            ),
            (
                "case(Guttometer gt 1000:1) eq null".into(),
                Box::new(|_| true),
            ),
        ];
        assert_lead_filters(&app, &t, &leads, &cases).await;
        // Ordered by a case: the hot leads first.
        let r = app
            .get("Leads?$orderby=case(Guttometer ge 90:0,true:1),LeadId&$select=LeadId,Guttometer&$top=5", &t)
            .await;
        assert!(r.values().iter().all(|l| l["Guttometer"].as_i64().is_some_and(|g| g >= 90)), "{}", r.text);
        for bad in ["case(Guttometer ge 50:1,true:'x') eq 1", "case(Description:1) eq 1"] {
            let r = app.get(&format!("Leads?$filter={bad}"), &t).await;
            assert_eq!(r.status, 400, "{bad}: {}", r.text);
        }
    })
    .await;
}

/// `cast` and `isof` by OData's assignment rules, the same on both databases: numbers
/// round half away from zero and must fit the target type, strings convert only when
/// they hold a literal of it, and a cast that fails is null.
#[actix_web::test]
async fn cast_and_isof_follow_the_assignment_rules() {
    each_backend(|app, t, beta| async move {
        let leads = app
            .get("Leads?$select=LeadId,Value,Guttometer&$top=100000", &t)
            .await
            .values();
        assert!(leads.len() > 100);
        // OData's round: half away from zero, as Rust's f64::round.
        let rounded = |l: &Value| l["Value"].as_f64().map(f64::round);
        let text = |l: &Value| l["Value"].as_f64().map(|v| v.to_string());
        let sample = leads
            .iter()
            .find_map(|l| text(l).filter(|s| s.contains('.')))
            .unwrap();
        let prefix = sample[..2].to_owned();
        let cases: Vec<LeadCase> = vec![
            (
                "cast(Value,Edm.Int32) ge 5000".into(),
                Box::new(move |l| rounded(l).is_some_and(|v| v >= 5000.0)),
            ),
            (
                "cast(Value,Edm.Int16) eq null".into(),
                Box::new(move |l| rounded(l).is_none_or(|v| v.abs() > 32767.0)),
            ),
            (
                "isof(Value,Edm.Int16)".into(),
                Box::new(move |l| rounded(l).is_some_and(|v| v.abs() <= 32767.0)),
            ),
            (
                "isof(Value,Edm.Decimal) and not isof(Value,Edm.Date)".into(),
                Box::new(|l| !l["Value"].is_null()),
            ),
            (
                format!("cast(Value,Edm.String) eq '{sample}'"),
                Box::new({
                    let sample = sample.clone();
                    move |l| text(l).as_deref() == Some(sample.as_str())
                }),
            ),
            (
                format!("startswith(cast(Value,Edm.String),'{prefix}')"),
                Box::new(move |l| text(l).is_some_and(|s| s.starts_with(&prefix))),
            ),
            (
                "startswith(cast(LeadId,Edm.String),'12')".into(),
                Box::new(|l| l["LeadId"].to_string().starts_with("12")),
            ),
            (
                "cast(Guttometer,Edm.Byte) eq Guttometer".into(),
                Box::new(|l| l["Guttometer"].is_number()),
            ),
            (
                "cast('+42',Edm.Int32) eq 42 and cast('4x',Edm.Int32) eq null \
                 and cast('1e500',Edm.Double) eq null and cast('0.5',Edm.Decimal) eq 0.5 \
                 and cast('TRUE',Edm.Boolean) and cast('yes',Edm.Boolean) eq null \
                 and cast(2.5,Edm.Int32) eq 3 and cast(-2.5,Edm.Int32) eq -3 \
                 and cast(300,Edm.Byte) eq null and cast(-129,Edm.SByte) eq null \
                 and cast(1 eq 1,Edm.String) eq 'true' and cast(null,Edm.Int32) eq null \
                 and cast(Created,Edm.Date) eq null and not isof(null,Edm.String) \
                 and cast('2024-03-05T10:11:12+01:00',Edm.DateTimeOffset) eq 2024-03-05T09:11:12Z \
                 and cast('2024-03-05T10:11',Edm.DateTimeOffset) eq 2024-03-05T10:11:00Z \
                 and cast('2024-02-30T00:00:00Z',Edm.DateTimeOffset) eq null \
                 and cast('2024-03-05 10:11:12',Edm.DateTimeOffset) eq null \
                 and cast('2024-03-05',Edm.Date) eq 2024-03-05 and cast('2024-02-30',Edm.Date) eq null \
                 and cast('2024-03-05',Edm.DateTimeOffset) eq 2024-03-05T00:00:00Z \
                 and cast('2024-02-30',Edm.DateTimeOffset) eq null \
                 and cast('0000-01-01',Edm.DateTimeOffset) eq null and cast('0000-01-01',Edm.Date) eq null \
                 and round(cast(2.5,Edm.Double)) eq 3 and round(-0.5e0) eq -1 and round(cast(1.4,Edm.Double)) eq 1 \
                 and floor(1e19) eq 1e19 and ceiling(-1e19) eq -1e19 and floor(-2.5e0) eq -3 and ceiling(2.5e0) eq 3 \
                 and cast(cast(19,Edm.Double),Edm.String) eq '19' and cast(2.5e0,Edm.String) eq '2.5' \
                 and cast(cast(Created,Edm.String),Edm.DateTimeOffset) eq Created \
                 and cast('10:30:15.7',Edm.TimeOfDay) eq 10:30:15 and cast('07:05',Edm.TimeOfDay) eq 07:05:00 \
                 and cast('24:00',Edm.TimeOfDay) eq null and cast('10:30 pm',Edm.TimeOfDay) eq null \
                 and cast(cast(time(Created),Edm.String),Edm.TimeOfDay) eq time(Created)"
                    .into(),
                Box::new(|_| true),
            ),
            (
                "isof(Prospect.Crm.Lead) and not isof(Prospect.Crm.Contact) and not isof(Edm.String)"
                    .into(),
                Box::new(|_| true),
            ),
        ];
        assert_lead_filters(&app, &t, &leads, &cases).await;
        for (filter, keep) in &cases[..3] {
            assert!(leads.iter().any(keep), "{filter} selects nothing");
        }
        // Ordered by a cast, page by page: every lead once, in the cast's order.
        let mut seen = Vec::new();
        let mut next = Some("Leads?$orderby=cast(Value,Edm.Int32) desc,LeadId&$select=LeadId,Value".to_owned());
        while let Some(url) = next.take() {
            let r = app.get_with(&url, &t, &[("Prefer", "odata.maxpagesize=400")]).await;
            assert_eq!(r.status, 200, "{}", r.text);
            seen.extend(r.values());
            next = r.json()["@odata.nextLink"].as_str().map(str::to_owned);
        }
        // OData sorts null as the smallest value: last when descending.
        let mut want = leads.clone();
        want.sort_by_key(|l| {
            let r = rounded(l);
            (r.is_none(), r.map(|v| -v as i64), l["LeadId"].as_i64())
        });
        let order = |v: &[Value]| v.iter().map(|l| l["LeadId"].as_i64()).collect::<Vec<_>>();
        assert_eq!(order(&seen), order(&want), "{:?}: order by cast", app.backend);
        // What is not supported, or not a type, says so.
        for (filter, status) in [
            ("cast(Created,Edm.Guid) eq null", 501),
            ("cast(Surname,Edm.Duration) eq null", 501),
            ("cast(Value,Edm.Nothing) eq null", 400),
            ("isof(Prospect.Crm.Nothing)", 400),
            ("cast(Edm.String) eq null", 400),
        ] {
            let r = app.get(&format!("Contacts?$filter={filter}"), &t).await;
            assert_eq!(r.status, status, "{filter}: {}", r.text);
            assert!(r.json()["error"]["message"].as_str().unwrap().contains("position"));
        }
        // Another workspace's rows stay out of reach through a cast as through any filter.
        let theirs = app
            .get("Leads?$filter=isof(LeadId,Edm.Int64) and cast(LeadId,Edm.Int32) gt 0&$select=LeadId&$top=100000", &beta)
            .await
            .values();
        assert_eq!(theirs.len() as i64, app.db.count("", "leads", "beta"));
    })
    .await;
}

/// `$root/Set(key)/...` in an expression is a value of one entity of the caller's
/// workspace: another workspace's entity is no entity at all.
#[actix_web::test]
async fn root_names_one_entity_of_the_callers_workspace() {
    each_backend(|app, alpha, beta| async move {
        let contacts = app
            .get("Contacts?$select=ContactId,Surname&$expand=Leads($select=LeadId)&$top=100000", &alpha)
            .await
            .values();
        let one = &contacts[41];
        let (id, surname) = (one["ContactId"].as_i64().unwrap(), one["Surname"].as_str().unwrap());
        let ids = |r: common::Reply| -> Vec<i64> {
            assert_eq!(r.status, 200, "{}", r.text);
            r.values().iter().filter_map(|v| v["ContactId"].as_i64()).collect()
        };
        let namesakes: Vec<i64> = contacts
            .iter()
            .filter(|c| c["Surname"] == surname)
            .filter_map(|c| c["ContactId"].as_i64())
            .collect();
        let by_root = |f: String| {
            let app = &app;
            let alpha = alpha.clone();
            async move {
                app.get(&format!("Contacts?$filter={f}&$select=ContactId&$orderby=ContactId&$top=100000"), &alpha)
                    .await
            }
        };
        assert_eq!(ids(by_root(format!("Surname eq $root/Contacts({id})/Surname")).await), namesakes);
        // Through navigation and $count, and with the key in a parameter alias.
        let leads = one["Leads"].as_array().unwrap().len();
        let more: Vec<i64> = contacts
            .iter()
            .filter(|c| c["Leads"].as_array().unwrap().len() > leads)
            .filter_map(|c| c["ContactId"].as_i64())
            .collect();
        assert_eq!(
            ids(by_root(format!("Leads/$count gt $root/Contacts(@k)/Leads/$count&@k={id}")).await),
            more
        );
        let r = app
            .get(&format!("Contacts?$filter=DivisionId eq $root/Contacts({id})/Division/DivisionId&$select=DivisionId"), &alpha)
            .await;
        let division = one_division(&app, &alpha, id).await;
        assert!(!r.values().is_empty());
        assert!(r.values().iter().all(|c| c["DivisionId"] == division));
        // No such entity: its values are null.
        assert!(ids(by_root("Surname eq $root/Contacts(99999999)/Surname".into()).await).is_empty());
        // Another workspace's entity is no entity: alpha's contact 150 through beta's token.
        assert!(ids(by_root("$root/Contacts(150)/ContactId eq 150".into()).await).len() == contacts.len());
        let theirs = app
            .get("Contacts/$count?$filter=$root/Contacts(150)/ContactId ne null or $root/Contacts(150)/Leads/$count gt 0", &beta)
            .await;
        assert_eq!((theirs.status, theirs.text.as_str()), (200, "0"));
        for (filter, status) in [
            ("Surname eq $root/Contacts/Surname", 400),
            ("Surname eq $root/Nothing(1)/Surname", 400),
            ("Surname eq $root/Contacts(1)/Division", 400),
            ("Surname eq $root/Contacts(@a)/Surname&@a=$root/Contacts(@a)/ContactId", 400),
            ("$root/Contacts(1)/Leads/any(l:l/LeadId gt 0)", 501),
        ] {
            let r = app.get(&format!("Contacts?$filter={filter}"), &alpha).await;
            assert_eq!(r.status, status, "{filter}: {}", r.text);
        }
    })
    .await;
}

async fn one_division(app: &TestApp, token: &str, contact: i64) -> Value {
    app.get(&format!("Contacts({contact})?$select=DivisionId"), token)
        .await
        .json()["DivisionId"]
        .clone()
}

/// `$compute` adds properties to each entity: returned when `$select` names them (or
/// there is no `$select`), usable by name in `$filter` and `$orderby`, inside `$expand`
/// too, the same on both databases.
#[actix_web::test]
async fn compute_adds_properties_usable_in_select_filter_and_orderby() {
    each_backend(|app, t, beta| async move {
        let r = app
            .get(
                "Leads?$compute=Guttometer mul 2 as Double,Guttometer gt 50 as Hot,\
                 concat(Description,'!') as Shout&$select=LeadId,Guttometer,Description,Double,Hot,Shout&$top=100000",
                &t,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.json()["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#Leads(LeadId,Guttometer,Description,Double,Hot,Shout)"));
        let leads = r.values();
        assert!(leads.len() > 100);
        for l in &leads {
            let g = l["Guttometer"].as_i64();
            assert_eq!(l["Double"].as_i64(), g.map(|g| g * 2), "{l}");
            assert_eq!(l["Hot"].as_bool(), Some(g.is_some_and(|g| g > 50)), "{l}");
            assert_eq!(
                l["Shout"].as_str().map(str::to_owned),
                l["Description"].as_str().map(|d| format!("{d}!")),
                "{l}"
            );
        }
        // Without $select the computed values come with every property; a $select that
        // leaves them out leaves them out.
        let all = app.get("Leads(1)?$compute=LeadId add 1 as Next", &t).await.json();
        assert_eq!((all["Next"].as_i64(), all["Description"].is_string()), (Some(2), true));
        let none = app.get("Leads(1)?$compute=LeadId add 1 as Next&$select=LeadId", &t).await.json();
        assert!(none.get("Next").is_none(), "{none}");
        // By name in $filter and $orderby, page after page.
        let mut want: Vec<(i64, i64)> = leads
            .iter()
            .filter_map(|l| Some((l["Guttometer"].as_i64()? % 7, l["LeadId"].as_i64()?)))
            .filter(|(m, _)| *m >= 3)
            .collect();
        want.sort_by_key(|(m, id)| (-m, *id));
        let mut seen = Vec::new();
        let mut next = Some(
            "Leads?$compute=Guttometer mod 7 as M&$filter=M ge 3&$orderby=M desc,LeadId&$select=LeadId,M".to_owned(),
        );
        while let Some(url) = next.take() {
            let r = app.get_with(&url, &t, &[("Prefer", "odata.maxpagesize=50")]).await;
            assert_eq!(r.status, 200, "{}", r.text);
            seen.extend(r.values().iter().map(|v| (v["M"].as_i64().unwrap(), v["LeadId"].as_i64().unwrap())));
            next = r.json()["@odata.nextLink"].as_str().map(str::to_owned);
        }
        assert!(want.len() > 50);
        assert_eq!(seen, want, "{:?}", app.backend);
        // Inside $expand, with its own names.
        let contacts = app
            .get(
                "Contacts?$select=ContactId&$top=30&$expand=Leads($compute=Guttometer add 1 as G1;$select=LeadId,Guttometer,G1)",
                &t,
            )
            .await
            .values();
        let expanded: Vec<&Value> = contacts.iter().flat_map(|c| c["Leads"].as_array().unwrap()).collect();
        assert!(!expanded.is_empty());
        for l in expanded {
            assert_eq!(l["G1"].as_i64(), l["Guttometer"].as_i64().map(|g| g + 1), "{l}");
        }
        // Types in full metadata; IEEE754Compatible numbers as strings.
        let full = app
            .get_with(
                "Leads(1)?$compute=LeadId mul 2 as Twice,Value mul 2 as V2&$select=LeadId,Value,Twice,V2",
                &t,
                &[("Accept", "application/json;odata.metadata=full;IEEE754Compatible=true")],
            )
            .await
            .json();
        assert_eq!(full["Twice@odata.type"], "#Int64");
        assert_eq!(full["V2@odata.type"], "#Decimal");
        assert!(full["Twice"].is_string() && full["V2"].is_string(), "{full}");
        let value: f64 = full["Value"].as_str().unwrap().parse().unwrap();
        let v2: f64 = full["V2"].as_str().unwrap().parse().unwrap();
        assert!((v2 - 2.0 * value).abs() < 1e-6);
        for (q, status) in [
            ("$compute=Guttometer as LeadId", 400),
            ("$compute=Guttometer as X,Value as X", 400),
            ("$compute=Nothing as X", 400),
            ("$compute=Guttometer as X&$filter=Y eq 1", 400),
        ] {
            let r = app.get(&format!("Leads?{q}"), &t).await;
            assert_eq!(r.status, status, "{q}: {}", r.text);
        }
        // Another workspace's token computes over its own rows only.
        let theirs = app
            .get("Leads?$compute=LeadId mul 1 as Same&$filter=Same eq LeadId&$select=Same&$top=100000", &beta)
            .await
            .values();
        assert_eq!(theirs.len() as i64, app.db.count("", "leads", "beta"));
    })
    .await;
}

/// `$apply` groups and aggregates as the data says, on both databases: sums, counts,
/// minimum, maximum, average and distinct counts per group, groups through navigation,
/// filters before and after, then `$filter`, `$orderby`, `$top`, `$count` and paging
/// over the result; within the caller's workspace only.
#[actix_web::test]
async fn apply_groups_and_aggregates_as_the_data_says() {
    use std::collections::{BTreeMap, BTreeSet};
    each_backend(|app, t, beta| async move {
        let leads = app
            .get(
                "Leads?$select=LeadId,StatusId,Value,Guttometer&$expand=Status($select=Description)&$top=100000",
                &t,
            )
            .await
            .values();
        assert!(leads.len() > 100);
        // An alias may not take a declared property's (or navigation's) name.
        for clash in ["aggregate(Value with sum as LeadId)", "aggregate(Value with sum as status)"] {
            let r = app.get(&format!("Leads?$apply={clash}"), &t).await;
            assert_eq!(r.status, 400, "{clash}: {}", r.text);
            assert!(r.text.contains("names another property"), "{}", r.text);
        }
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0);
        let get = |q: &str| {
            let app = &app;
            let t = t.clone();
            let q = q.to_owned();
            async move {
                let r = app.get(&format!("Leads?$apply={q}"), &t).await;
                assert_eq!(r.status, 200, "{q}: {}", r.text);
                r
            }
        };
        // Per status: the sum of the values and the number of leads.
        let mut by_status: BTreeMap<String, (f64, i64)> = BTreeMap::new();
        for l in &leads {
            let e = by_status.entry(l["StatusId"].as_str().unwrap().to_owned()).or_default();
            e.0 += l["Value"].as_f64().unwrap_or(0.0);
            e.1 += 1;
        }
        let r = get("groupby((StatusId),aggregate(Value with sum as Total,$count as N))").await;
        assert!(r.json()["@odata.context"].as_str().unwrap().ends_with("$metadata#Leads(StatusId,Total,N)"));
        let rows = r.values();
        assert_eq!(rows.len(), by_status.len());
        for (row, (status, (total, n))) in rows.iter().zip(&by_status) {
            assert_eq!(row["StatusId"], status.as_str());
            assert_eq!(row["N"].as_i64(), Some(*n));
            assert!(close(row["Total"].as_f64().unwrap(), *total), "{row} {total}");
        }
        // Through navigation: nested as the path.
        let pairs: BTreeSet<(String, String)> = leads
            .iter()
            .map(|l| {
                (
                    l["Status"]["Description"].as_str().unwrap().to_owned(),
                    l["StatusId"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let got: BTreeSet<(String, String)> = get("groupby((Status/Description,StatusId))")
            .await
            .values()
            .iter()
            .map(|r| {
                (
                    r["Status"]["Description"].as_str().unwrap().to_owned(),
                    r["StatusId"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(got, pairs);
        // The whole set in one row.
        let values: Vec<f64> = leads.iter().filter_map(|l| l["Value"].as_f64()).collect();
        let gutto: Vec<i64> = leads.iter().filter_map(|l| l["Guttometer"].as_i64()).collect();
        let all = get(
            "aggregate(Value with min as Lo,Value with max as Hi,Guttometer with average as Avg,\
             Guttometer with countdistinct as D,$count as N)",
        )
        .await
        .values();
        let [row] = all.as_slice() else { panic!("{all:?}") };
        assert!(close(row["Lo"].as_f64().unwrap(), values.iter().cloned().fold(f64::MAX, f64::min)));
        assert!(close(row["Hi"].as_f64().unwrap(), values.iter().cloned().fold(f64::MIN, f64::max)));
        let avg = gutto.iter().sum::<i64>() as f64 / gutto.len() as f64;
        assert!(close(row["Avg"].as_f64().unwrap(), avg), "{row} {avg}");
        assert_eq!(row["D"].as_i64(), Some(gutto.iter().collect::<BTreeSet<_>>().len() as i64));
        assert_eq!(row["N"].as_i64(), Some(leads.len() as i64));
        // Filters before and after, then the options over the result.
        let mut hot: BTreeMap<String, i64> = BTreeMap::new();
        for l in leads.iter().filter(|l| l["Guttometer"].as_i64().is_some_and(|g| g >= 50)) {
            *hot.entry(l["StatusId"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        let mut want: Vec<(i64, String)> = hot.into_iter().filter(|(_, n)| *n > 10).map(|(s, n)| (n, s)).collect();
        want.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let r = app
            .get(
                "Leads?$apply=filter(Guttometer ge 50)/groupby((StatusId),aggregate($count as N))/filter(N gt 10)\
                 &$orderby=N desc,StatusId&$top=2&$count=true",
                &t,
            )
            .await;
        assert_eq!(r.json()["@odata.count"].as_i64(), Some(want.len() as i64), "{}", r.text);
        let got: Vec<(i64, String)> = r
            .values()
            .iter()
            .map(|v| (v["N"].as_i64().unwrap(), v["StatusId"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(got, want.into_iter().take(2).collect::<Vec<_>>());
        // Only filters: the entities, as $filter gives them.
        let a = app.get("Leads?$apply=filter(Guttometer ge 90)&$select=LeadId&$top=100000", &t).await;
        let b = app.get("Leads?$filter=Guttometer ge 90&$select=LeadId&$top=100000", &t).await;
        assert_eq!(a.values(), b.values());
        assert!(!a.values().is_empty());
        // Paged by nextLink: every surname once.
        let surnames: BTreeSet<String> = app
            .get("Contacts?$select=Surname&$top=100000", &t)
            .await
            .values()
            .iter()
            .filter_map(|c| c["Surname"].as_str().map(str::to_owned))
            .collect();
        let mut seen = Vec::new();
        let mut next = Some("Contacts?$apply=groupby((Surname))".to_owned());
        let mut pages = 0;
        while let Some(url) = next.take() {
            let r = app.get_with(&url, &t, &[("Prefer", "odata.maxpagesize=5")]).await;
            assert_eq!(r.status, 200, "{}", r.text);
            seen.extend(r.values().iter().filter_map(|v| v["Surname"].as_str().map(str::to_owned)));
            next = r.json()["@odata.nextLink"].as_str().map(str::to_owned);
            pages += 1;
        }
        assert!(pages > 2);
        assert_eq!(seen.len(), surnames.len());
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), surnames);
        // compute() names values the later steps group and aggregate by: leads per year.
        let created = app.get("Leads?$select=Created&$top=100000", &t).await.values();
        let mut per_year: BTreeMap<i64, i64> = BTreeMap::new();
        for l in &created {
            let year: i64 = l["Created"].as_str().unwrap()[..4].parse().unwrap();
            *per_year.entry(year).or_default() += 1;
        }
        let got: BTreeMap<i64, i64> = get("compute(year(Created) as Y)/groupby((Y),aggregate($count as N))")
            .await
            .values()
            .iter()
            .map(|r| (r["Y"].as_i64().unwrap(), r["N"].as_i64().unwrap()))
            .collect();
        assert_eq!(got, per_year);
        let hot = get("compute(Guttometer ge 50 as Hot)/filter(Hot)/aggregate($count as N)").await;
        let want = leads.iter().filter(|l| l["Guttometer"].as_i64().is_some_and(|g| g >= 50)).count();
        assert_eq!(hot.values()[0]["N"].as_u64(), Some(want as u64));
        // `/$count` counts the result's rows (after its filters), as text.
        let n = app.get("Leads/$count?$apply=groupby((StatusId))", &t).await;
        assert_eq!((n.status, n.text.clone()), (200, by_status.len().to_string()));
        let hot_groups = app
            .get("Leads/$count?$apply=groupby((StatusId),aggregate($count as N))&$filter=N gt 1000000", &t)
            .await;
        assert_eq!(hot_groups.text, "0");
        let filtered = app.get("Leads/$count?$apply=filter(Guttometer ge 90)", &t).await;
        let plain = app.get("Leads/$count?$filter=Guttometer ge 90", &t).await;
        assert_eq!((filtered.status, &filtered.text), (200, &plain.text));
        // Paths that share navigation share one object, however deep.
        let deep = get("groupby((Contact/Division/Name,Contact/Division/DivisionId,Contact/Surname))&$top=1").await;
        assert!(
            deep.json()["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("#Leads(Contact(Division(Name,DivisionId),Surname))"),
            "{}",
            deep.text
        );
        let row = &deep.values()[0];
        assert_eq!(row["Contact"].as_object().unwrap().len(), 2, "{row}");
        assert_eq!(row["Contact"]["Division"].as_object().unwrap().len(), 2, "{row}");
        // $select picks from the result: a navigation group whole, an aggregate.
        let r = get("groupby((Status/Description,StatusId),aggregate($count as N))&$select=Status,N").await;
        assert!(r.json()["@odata.context"].as_str().unwrap().ends_with("#Leads(Status(Description),N)"), "{}", r.text);
        let rows = r.values();
        assert_eq!(rows.len(), pairs.len());
        for row in &rows {
            let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["Status", "N"], "{row}");
            assert!(row["Status"]["Description"].is_string());
        }
        // What a navigation reaches, and from an entity that does not exist.
        let contact = app.get("Contacts?$select=ContactId&$expand=Leads($select=LeadId)&$top=1&$filter=Leads/any()", &t).await.values()[0].clone();
        let id = contact["ContactId"].as_i64().unwrap();
        let r = app.get(&format!("Contacts({id})/Leads?$apply=aggregate($count as N)"), &t).await;
        assert_eq!(r.values()[0]["N"].as_u64(), Some(contact["Leads"].as_array().unwrap().len() as u64));
        assert_eq!(app.get("Contacts(99999999)/Leads?$apply=aggregate($count as N)", &t).await.status, 404);
        for (q, status) in [
            ("groupby((Nothing))", 400),
            ("aggregate(Description with sum as S)", 400),
            ("groupby((StatusId),aggregate($count as StatusId))", 400),
            ("groupby((Leads/LeadId))", 400),
            ("groupby((StatusId))&$filter=Nothing eq 1", 400),
            ("topsum(2,Value)", 200),
            ("compute(Value mul 2 as V)", 200),
            ("top(2)/compute(Value mul 2 as V)", 501),
            ("compute(Value as LeadId)/aggregate($count as N)", 400),
            ("groupby((StatusId))&$select=Nothing", 400),
            ("groupby((StatusId))&$expand=Status", 501),
            ("groupby((StatusId))&$format=atom", 406),
        ] {
            let r = app.get(&format!("Leads?$apply={q}"), &t).await;
            assert_eq!(r.status, status, "{q}: {}", r.text);
        }
        // Another workspace aggregates its own rows only, and alpha's contact is no
        // entity to navigate from; alpha's nextLink is no page for beta.
        let theirs = app.get("Leads?$apply=aggregate($count as N)", &beta).await.values();
        assert_eq!(theirs[0]["N"].as_i64(), Some(app.db.count("", "leads", "beta")));
        // Alpha's contact 150 is not beta's (as in `workspaces_never_see_each_other`).
        let from_150 = "Contacts(150)/Leads?$apply=aggregate($count as N)";
        assert_eq!(app.get(from_150, &t).await.status, 200);
        assert_eq!(app.get(from_150, &beta).await.status, 404);
        let counted = app.get("Contacts(150)/Leads/$count?$apply=groupby((StatusId))", &beta).await;
        assert_eq!(counted.status, 404);
        let theirs_n = app.get("Leads/$count?$apply=groupby((LeadId))", &beta).await;
        assert_eq!(theirs_n.text, app.db.count("", "leads", "beta").to_string());
        let first = app.get_with("Contacts?$apply=groupby((Surname))", &t, &[("Prefer", "odata.maxpagesize=5")]).await;
        let link = first.json()["@odata.nextLink"].as_str().unwrap().to_owned();
        let replay = app.get(&link, &beta).await;
        assert_eq!(replay.status, 400, "{}", replay.text);
    })
    .await;
}

/// `matchesPattern` with a regular expression finds the rows the expression matches,
/// on both databases; a pattern that is not one is the client's error.
#[actix_web::test]
async fn matches_pattern_finds_the_rows_its_regular_expression_matches() {
    each_backend(|app, t, _| async move {
        let contacts = app
            .get("Contacts?$select=ContactId,Surname,Email&$top=100000", &t)
            .await
            .values();
        for (prop, pattern) in [
            ("Surname", "^Sm"),
            ("Surname", "th$"),
            ("Surname", "^[A-C].*s$"),
            ("Email", "\\.co\\.uk$"),
            ("Email", "^[a-z]+\\.[a-z]+@"),
            ("Surname", "x{2,}|zz"),
            // The `regex` crate's syntax, which PostgreSQL's own engine reads otherwise
            // or not at all: the same rows on both databases.
            ("Surname", "(?i)^SM"),
            ("Surname", "^\\p{Lu}\\p{Ll}+$"),
            ("Email", "\\d"),
            ("Email", "\\bco\\b"),
            ("Email", "^\\w+\\.\\w+@"),
            ("Surname", "^[[:alpha:]]{5}$"),
            ("Surname", "(?i:O)n"),
        ] {
            let re = regex::Regex::new(pattern).unwrap();
            let expected: Vec<i64> = contacts
                .iter()
                .filter(|c| c[prop].as_str().is_some_and(|v| re.is_match(v)))
                .filter_map(|c| c["ContactId"].as_i64())
                .collect();
            let quoted = pattern.replace('\'', "''");
            let r = app
                .get(&format!("Contacts?$select=ContactId&$orderby=ContactId&$top=100000&$filter=matchesPattern({prop},'{}')", percent_encoding::utf8_percent_encode(&quoted, percent_encoding::NON_ALPHANUMERIC)), &t)
                .await;
            assert_eq!(r.status, 200, "{pattern}: {}", r.text);
            let got: Vec<i64> = r.values().iter().filter_map(|c| c["ContactId"].as_i64()).collect();
            assert_eq!(got, expected, "{:?}: {pattern}", app.backend);
            if pattern == "^Sm" {
                assert!(!got.is_empty());
            }
        }
        let bad = app.get("Contacts?$filter=matchesPattern(Surname,'(')", &t).await;
        assert_eq!(bad.status, 400, "{}", bad.text);
        assert!(bad.json()["error"]["message"].as_str().unwrap().contains("regular expression"));
        // What one engine cannot read is refused on both.
        let count = app.get("Contacts?$filter=matchesPattern(Surname,'a{300}')", &t).await;
        assert_eq!(count.status, 400, "{}", count.text);
        assert!(count.text.contains("above 255"), "{}", count.text);
        let column = app.get("Contacts?$filter=matchesPattern(Surname,Forename)", &t).await;
        assert_eq!(column.status, 501, "{}", column.text);
    })
    .await;
}

#[actix_web::test]
async fn expand_count_and_ieee754() {
    each_backend(|app, t, _| async move {
        let r = app.get("Contacts?$top=5&$count=true&$expand=Leads($count=true;$top=1;$orderby=Value desc;$select=LeadId,Value)&$select=ContactId", &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let j = r.json();
        assert_eq!(j["@odata.count"].as_i64().unwrap(), app.db.count("", "contacts", "alpha"));
        for c in j["value"].as_array().unwrap() {
            let leads = c["Leads"].as_array().unwrap();
            assert!(leads.len() <= 1);
            let total = app.get(&format!("Contacts({})/Leads/$count", c["ContactId"]), &t).await.text;
            assert_eq!(c["Leads@odata.count"].to_string(), total);
        }
        let ieee = app.get_with("Leads?$top=1&$filter=Value ne null&$select=Value", &t, &[("Accept", "application/json;IEEE754Compatible=true")]).await;
        assert!(ieee.values()[0]["Value"].is_string(), "{}", ieee.text);
        assert!(ieee.header("content-type").unwrap().contains("IEEE754Compatible=true"));
        // An integer cast to Edm.Int64 is one.
        let wide = app.get_with("Contacts?$top=1&$select=ContactId,Y&$compute=cast(ContactId,Edm.Int64) as Y", &t, &[("Accept", "application/json;IEEE754Compatible=true")]).await;
        let v = &wide.values()[0];
        assert_eq!(v["Y"], v["ContactId"].to_string(), "{}", wide.text);
        // Counts are Edm.Int64 too: strings, at the top and inside $expand.
        let counted = app.get_with("Contacts?$top=2&$count=true&$select=ContactId&$expand=Leads($count=true;$select=LeadId)", &t, &[("Accept", "application/json;IEEE754Compatible=true")]).await;
        let j = counted.json();
        assert_eq!(j["@odata.count"], app.db.count("", "contacts", "alpha").to_string(), "{}", counted.text);
        for c in j["value"].as_array().unwrap() {
            let n = c["Leads@odata.count"].as_str().unwrap_or_else(|| panic!("{c}"));
            assert_eq!(n.parse::<usize>().unwrap(), c["Leads"].as_array().unwrap().len());
        }
        let full = app.get("Contacts(1)?$format=application/json;odata.metadata=full", &t).await;
        assert_eq!(full.json()["@odata.id"], format!("{}/Contacts(1)", app.base));
        let none = app.get("Contacts?$top=1&$format=application/json;odata.metadata=none", &t).await;
        assert!(none.json().get("@odata.context").is_none());
    })
    .await;
}

/// Single-valued navigation expands to the caller's own related row as an object, to
/// `null` when there is none (or it fails the expand's `$filter`), at any depth, and never
/// repeats or drops a row of the collection.
#[actix_web::test]
async fn single_valued_expand_is_the_related_object_or_null() {
    each_backend(|app, _, beta| async move {
        let contacts = app.db.count("", "contacts", "beta");
        for q in [
            "Contacts?$select=ContactId,DivisionId&$expand=Division($select=DivisionId,Name,CompanyId;$expand=Company($select=CompanyId,Name))",
            // Ordered by a non-key property: the page is chosen first, then joined.
            "Contacts?$select=ContactId,DivisionId&$orderby=Surname desc&$expand=Division($select=DivisionId,Name,CompanyId;$expand=Company($select=CompanyId,Name))",
        ] {
            let rows = app.get(q, &beta).await.values();
            assert_eq!(rows.len() as i64, contacts, "{q}");
            let ids: HashSet<String> = rows.iter().map(|r| r["ContactId"].to_string()).collect();
            assert_eq!(ids.len(), rows.len(), "{q}: a contact repeated");
            for r in rows.iter().take(15) {
                let d = &r["Division"];
                assert!(d.is_object(), "{q}: {r}");
                assert_eq!(d["DivisionId"], r["DivisionId"]);
                // The same values the caller reads directly: beta's division, not alpha's.
                let direct = app.get(&format!("Divisions({})?$select=Name,CompanyId", d["DivisionId"]), &beta).await.json();
                assert_eq!(d["Name"], direct["Name"], "{q}");
                assert_eq!(d["Company"]["CompanyId"], direct["CompanyId"], "{q}: {d}");
                let company = app.get(&format!("Companies({})?$select=Name", direct["CompanyId"]), &beta).await.json();
                assert_eq!(d["Company"]["Name"], company["Name"]);
            }
        }
        // No related row: null, and the row itself is still there.
        let orphans = app.db.count(" AND contact_id IS NULL", "leads", "beta");
        assert!(orphans > 0, "seed data should have leads without a contact");
        let leads = app.get("Leads?$filter=ContactId eq null&$select=LeadId&$expand=Contact($select=ContactId)&$top=1000", &beta).await.values();
        assert_eq!(leads.len() as i64, orphans);
        assert!(leads.iter().all(|l| l.get("Contact") == Some(&Value::Null)), "{leads:?}");
        // A `$filter` on a single-valued expand that the related row fails: null.
        let r = app.get("Contacts?$top=5&$select=ContactId&$expand=Division($filter=DivisionId eq -1)", &beta).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.values().iter().all(|c| c["Division"].is_null()), "{}", r.text);
        let r = app.get("Contacts?$top=5&$select=ContactId,DivisionId&$expand=Division($filter=DivisionId gt 0;$select=DivisionId)", &beta).await.values();
        assert!(r.iter().all(|c| c["Division"]["DivisionId"] == c["DivisionId"]));
        // Inside a collection-valued expand.
        let rows = app.get("Contacts?$top=20&$select=ContactId&$expand=Leads($select=LeadId,StatusId;$expand=Status($select=Code,Description))", &beta).await.values();
        let mut seen = 0;
        for c in &rows {
            for l in c["Leads"].as_array().unwrap() {
                match l["StatusId"].as_str() {
                    Some(code) => assert_eq!(l["Status"]["Code"], code, "{l}"),
                    None => assert!(l["Status"].is_null(), "{l}"),
                }
                seen += 1;
            }
        }
        assert!(seen > 0);
    })
    .await;
}

/// `$this` names the instance being filtered, ordered or computed on; `$it` names the
/// request's resource, so inside `$expand` it is the outer entity (OData 4.01 URL
/// Conventions, `$it`): `Contacts?$expand=Leads($filter=Created gt $it/Created)`.
#[actix_web::test]
async fn this_names_the_instance_and_it_the_resource_also_inside_expand() {
    each_backend(|app, t, beta| async move {
        let pairs = [
            (
                "Contacts?$top=30&$select=ContactId&$expand=Leads($filter=$this/Value gt 1000;$orderby=$this/Value desc;$select=LeadId,Value)",
                "Contacts?$top=30&$select=ContactId&$expand=Leads($filter=Value gt 1000;$orderby=Value desc;$select=LeadId,Value)",
            ),
            (
                "Contacts?$select=ContactId&$filter=$this/Surname eq 'Smith'&$orderby=$this/Created",
                "Contacts?$select=ContactId&$filter=Surname eq 'Smith'&$orderby=Created",
            ),
            (
                "Contacts?$select=ContactId&$filter=$it/Surname eq 'Smith'",
                "Contacts?$select=ContactId&$filter=Surname eq 'Smith'",
            ),
        ];
        for (this, plain) in pairs {
            let (a, b) = (app.get(this, &t).await, app.get(plain, &t).await);
            assert_eq!(a.status, 200, "{this}: {}", a.text);
            assert!(!a.values().is_empty(), "{this} finds nothing");
            assert_eq!(a.values(), b.values(), "{this}");
        }
        // Inside $expand, `$it` is the contact: each contact's leads, kept against the
        // contact's own values, checked against the unfiltered expand.
        let all = app
            .get("Contacts?$top=200&$select=ContactId,StatusFlag,Created,Surname&$expand=Leads($select=LeadId,Created,Value,StatusFlag)", &t)
            .await
            .values();
        let leads = |c: &Value| c["Leads"].as_array().cloned().unwrap_or_default();
        let ids = |v: Vec<Value>| v.iter().map(|l| l["LeadId"].as_i64().unwrap()).collect::<Vec<_>>();
        type Keep = fn(&Value, &Value) -> bool;
        let cases: [(&str, Keep); 4] = [
            ("$filter=$it/StatusFlag eq 'A'", |c, _| c["StatusFlag"] == "A"),
            // Both have StatusFlag and Created: `$it` must not read the lead's.
            ("$filter=Created gt $it/Created and StatusFlag ne $it/StatusFlag", |c, l| {
                l["Created"].as_str() > c["Created"].as_str() && l["StatusFlag"] != c["StatusFlag"]
            }),
            ("$filter=$it/Leads/$count gt 1 and Value ge 0", |c, l| {
                c["Leads"].as_array().unwrap().len() > 1 && l["Value"].as_f64().is_some_and(|v| v >= 0.0)
            }),
            ("$filter=$it/Leads/any(o: o/Value gt $this/Value)", |c, l| {
                let v = l["Value"].as_f64();
                c["Leads"].as_array().unwrap().iter().any(|o| o["Value"].as_f64().zip(v).is_some_and(|(o, v)| o > v))
            }),
        ];
        for (opts, keep) in cases {
            let url = format!("Contacts?$top=200&$select=ContactId&$expand=Leads($select=LeadId;{opts})");
            let r = app.get(&url, &t).await;
            assert_eq!(r.status, 200, "{url}: {}", r.text);
            let got = r.values();
            assert_eq!(got.len(), all.len());
            let mut kept = 0;
            for (g, c) in got.iter().zip(&all) {
                assert_eq!(g["ContactId"], c["ContactId"]);
                let want: Vec<Value> = leads(c).into_iter().filter(|l| keep(c, l)).collect();
                kept += want.len();
                assert_eq!(ids(leads(g)), ids(want), "{url}: contact {}", c["ContactId"]);
            }
            assert!(kept > 0, "{url} keeps nothing");
        }
        // Two levels down `$it` is still the contact; computed and ordered by it too.
        let r = app
            .get("Contacts?$top=50&$select=ContactId,Surname&$expand=Leads($select=LeadId,S;$compute=$it/Surname as S;$orderby=$it/Surname,LeadId;$expand=Status($select=Code;$filter=$it/StatusFlag eq 'A'))", &t)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let flags: std::collections::HashMap<i64, Value> =
            all.iter().map(|c| (c["ContactId"].as_i64().unwrap(), c["StatusFlag"].clone())).collect();
        let mut statuses = 0;
        for c in r.values() {
            for l in leads(&c) {
                assert_eq!(l["S"], c["Surname"]);
                if flags[&c["ContactId"].as_i64().unwrap()] != "A" {
                    assert!(l["Status"].is_null(), "{l}");
                } else {
                    statuses += usize::from(!l["Status"].is_null());
                }
            }
        }
        assert!(statuses > 0);
        // A single-valued expand: the lead's contact only when the lead's own value is high.
        let r = app.get("Leads?$top=300&$select=LeadId,Value,ContactId&$expand=Contact($select=ContactId;$filter=$it/Value gt 1000)", &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        for l in r.values() {
            let high = l["Value"].as_f64().is_some_and(|v| v > 1000.0);
            assert_eq!(!l["Contact"].is_null(), high && !l["ContactId"].is_null(), "{l}");
        }
        // `$it` reads the caller's own resource: another workspace's request sees its own.
        let theirs = app.get("Contacts?$select=ContactId&$expand=Leads($select=ContactId;$filter=$it/ContactId eq ContactId)", &beta).await.values();
        assert_eq!(theirs.len() as i64, app.db.count("", "contacts", "beta"));
        for c in theirs {
            for l in leads(&c) {
                assert_eq!(l["ContactId"], c["ContactId"]);
            }
        }
    })
    .await;
}

/// `Nav eq null` / `ne null` with a single-valued navigation property: whether the
/// related entity exists in the caller's workspace, as the expand of it says (a contact
/// of the same number in another workspace is no contact).
#[actix_web::test]
async fn a_single_valued_navigation_compares_with_null() {
    each_backend(|app, t, beta| async move {
        // Alpha's contacts 1-3 go; beta keeps contacts of those numbers.
        diesel::sql_query(
            "DELETE FROM contacts WHERE contact_id <= 3 \
             AND workspace_id = (SELECT id FROM workspaces WHERE name = 'alpha')",
        )
        .execute(&mut app.db.conn())
        .unwrap();
        assert!(app.db.count(" AND contact_id <= 3", "contacts", "beta") == 3);
        let dangling = app.db.count(" AND contact_id <= 3", "leads", "alpha");
        assert!(dangling > 0);
        let ids = |rows: Vec<Value>| -> Vec<i64> {
            rows.iter().map(|r| r["LeadId"].as_i64().unwrap()).collect()
        };
        for token in [&t, &beta] {
            let all = app
                .get("Leads?$select=LeadId&$expand=Contact($select=ContactId)&$orderby=LeadId&$top=100000", token)
                .await
                .values();
            let (none, some): (Vec<Value>, Vec<Value>) =
                all.into_iter().partition(|l| l["Contact"].is_null());
            assert!(!none.is_empty() && !some.is_empty());
            for (filter, want) in [
                ("Contact eq null", &none),
                ("null eq Contact", &none),
                ("not (Contact ne null)", &none),
                ("Contact ne null", &some),
                ("Contact/Division ne null and Contact ne null", &some),
            ] {
                let r = app
                    .get(&format!("Leads?$filter={filter}&$select=LeadId&$orderby=LeadId&$top=100000"), token)
                    .await;
                assert_eq!(r.status, 200, "{filter}: {}", r.text);
                assert_eq!(ids(r.values()), ids(want.clone()), "{filter}");
            }
        }
        let no_contact = app.db.count(" AND contact_id IS NULL", "leads", "alpha");
        let r = app.get("Leads?$filter=Contact eq null&$count=true&$top=0", &t).await;
        assert_eq!(r.json()["@odata.count"].as_i64(), Some(no_contact + dangling));
        // Inside a lambda and an expand, over the lambda's or expand's own entity.
        let r = app
            .get("Contacts?$filter=Leads/any(l:l/Contact eq null)&$count=true&$top=0", &t)
            .await;
        assert_eq!(r.json()["@odata.count"].as_i64(), Some(0), "{}", r.text);
        let r = app
            .get("Divisions?$expand=Leads($filter=Contact eq null;$select=LeadId)&$select=DivisionId&$top=100000", &t)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let inner: usize = r.values().iter().map(|d| d["Leads"].as_array().unwrap().len()).sum();
        assert_eq!(inner as i64, no_contact + dangling);
        // Anything but null, or a collection, is named.
        for (filter, says) in [
            ("Contact eq 5", "compare it with null"),
            ("Contact gt null", "compare it with null"),
        ] {
            app.refuses(&format!("Leads?$filter={filter}"), &t, 400, says)
                .await;
        }
        let r = app.get("Contacts?$filter=Leads eq null", &t).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains("`Leads` is a collection"), "{}", r.text);
    })
    .await;
}

#[actix_web::test]
async fn a_path_through_an_expanded_navigation_finds_what_it_finds_without_the_expand() {
    each_backend(|app, t, beta| async move {
        // Leads without a status: `Status/DeadFlag ne 1` holds for them (null ne 1).
        diesel::sql_query("UPDATE leads SET status_id = NULL WHERE lead_id % 4 = 0")
            .execute(&mut app.db.conn())
            .unwrap();
        let no_status = app.db.count(" AND status_id IS NULL", "leads", "alpha");
        assert!(no_status > 0);
        let ids = |rows: Vec<Value>| -> Vec<i64> { rows.iter().map(|r| r["LeadId"].as_i64().unwrap()).collect() };
        for filter in ["Status/DeadFlag eq 0", "Status/DeadFlag ne 1", "not (Status/DeadFlag eq 1)", "Status/DeadFlag eq null", "Status/Description gt 'M' or Guttometer gt 90"] {
            let plain = app.get(&format!("Leads?$filter={filter}&$select=LeadId&$orderby=Status/Description,LeadId&$top=5000"), &t).await;
            assert_eq!(plain.status, 200, "{filter}: {}", plain.text);
            let expanded = app.get(&format!("Leads?$filter={filter}&$select=LeadId&$orderby=Status/Description,LeadId&$top=5000&$expand=Status($select=Description)"), &t).await;
            assert_eq!(expanded.status, 200, "{filter}: {}", expanded.text);
            assert_eq!(ids(plain.values()), ids(expanded.values()), "{filter}");
            // Inside a collection-valued expand, where the filter reads the joined row.
            let inner = |expand: &str| format!("Contacts?$select=ContactId&$top=300&$expand=Leads($select=LeadId;$filter={filter};$orderby=Status/Description desc,LeadId{expand})");
            let plain = app.get(&inner(""), &t).await.values();
            let expanded = app.get(&inner(";$expand=Status"), &t).await.values();
            let nested = |rows: &[Value]| -> Vec<Vec<i64>> { rows.iter().map(|c| ids(c["Leads"].as_array().unwrap().clone())).collect() };
            assert_eq!(nested(&plain), nested(&expanded), "{filter}");
            assert!(nested(&plain).iter().any(|l| !l.is_empty()), "{filter}");
        }
        // A filter on the expand itself may drop the joined row; the path still finds it.
        let r = app.get("Contacts?$select=ContactId&$top=5000&$expand=Leads($select=LeadId;$filter=Status/DeadFlag eq 0;$expand=Status($filter=DeadFlag eq 1))", &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let leads: Vec<Value> = r.values().iter().flat_map(|c| c["Leads"].as_array().unwrap().clone()).collect();
        assert_eq!(leads.len() as i64, app.db.count(" AND contact_id IS NOT NULL AND status_id IN (SELECT code FROM lead_statuses s WHERE s.workspace_id = leads.workspace_id AND s.dead_flag = 0)", "leads", "alpha"));
        assert!(leads.iter().all(|l| l["Status"].is_null()), "{leads:?}");
        // The joined row is the caller's: with alpha's dead flags flipped, beta still
        // filters by its own statuses.
        diesel::sql_query("UPDATE lead_statuses SET dead_flag = 1 - dead_flag WHERE workspace_id = (SELECT id FROM workspaces WHERE name = 'alpha')")
            .execute(&mut app.db.conn())
            .unwrap();
        for (q, sql) in [
            ("Leads?$filter=Status/DeadFlag eq 1&$select=LeadId&$top=5000&$expand=Status", "leads.status_id IN (SELECT code FROM lead_statuses s WHERE s.workspace_id = leads.workspace_id AND s.dead_flag = 1)"),
            ("Contacts?$select=ContactId&$top=5000&$expand=Leads($select=LeadId;$filter=Status/DeadFlag eq 1;$expand=Status)", "leads.contact_id IS NOT NULL AND leads.status_id IN (SELECT code FROM lead_statuses s WHERE s.workspace_id = leads.workspace_id AND s.dead_flag = 1)"),
        ] {
            for ws in ["alpha", "beta"] {
                let token = if ws == "alpha" { &t } else { &beta };
                let rows = app.get(q, token).await.values();
                let found = if q.starts_with("Leads") { rows.len() } else { rows.iter().map(|c| c["Leads"].as_array().unwrap().len()).sum() };
                assert_eq!(found as i64, app.db.count(&format!(" AND {sql}"), "leads", ws), "{ws}: {q}");
            }
        }
    })
    .await;
}

#[actix_web::test]
async fn server_paging_with_keyset_skiptoken() {
    for b in backends() {
        let db = TestDb::new(b);
        db.seed("alpha", 200, 1);
        db.seed("beta", 30, 2);
        let app = spawn_with(db, |c| c.max_page_size = 50).await;
        let (t, other) = (app.db.token("alpha"), app.db.token("beta"));
        // $top=120 with pages of 50 gives 50 + 50 + 20.
        let mut url = "Contacts?$top=120&$select=ContactId,Surname&$orderby=Surname".to_owned();
        let mut sizes = Vec::new();
        let mut seen = HashSet::new();
        let mut last_link = None;
        loop {
            let r = app.get(&url, &t).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let j = r.json();
            for v in j["value"].as_array().unwrap() {
                assert!(
                    seen.insert(v["ContactId"].as_i64().unwrap()),
                    "row repeated across pages"
                );
            }
            sizes.push(j["value"].as_array().unwrap().len());
            match j.get("@odata.nextLink").and_then(Value::as_str) {
                Some(next) => {
                    assert!(
                        next.starts_with(&app.base)
                            && next.contains("$top=120")
                            && next.contains("$orderby=Surname")
                    );
                    url = next.to_owned();
                    last_link = Some(next.to_owned());
                }
                None => break,
            }
        }
        assert_eq!(sizes, vec![50, 50, 20]);
        // A full export sees every row exactly once, also while rows are inserted.
        let mut url = "Contacts?$select=ContactId".to_owned();
        let mut all = HashSet::new();
        let mut pages = 0;
        while let Some(r) = Some(app.get(&url, &t).await) {
            for v in r.values() {
                assert!(all.insert(v["ContactId"].as_i64().unwrap()));
            }
            pages += 1;
            if pages == 2 {
                app.db.seed("alpha", 5, 9);
            }
            match r.json().get("@odata.nextLink").and_then(Value::as_str) {
                Some(n) => url = n.to_owned(),
                None => break,
            }
        }
        assert_eq!(all.len() as i64, app.db.count("", "contacts", "alpha"));
        // Pages of rows with single-valued expands (keys chosen first, then joined),
        // in key order and in another order: every row once, each with its division.
        for order in ["", "&$orderby=Created desc"] {
            let mut url = format!("Contacts?$select=ContactId,DivisionId&$expand=Division($select=DivisionId;$expand=Company($select=CompanyId)){order}");
            let mut ids = HashSet::new();
            loop {
                let r = app.get(&url, &t).await;
                assert_eq!(r.status, 200, "{}", r.text);
                for v in r.values() {
                    assert!(
                        ids.insert(v["ContactId"].as_i64().unwrap()),
                        "{url}: row repeated"
                    );
                    assert_eq!(v["Division"]["DivisionId"], v["DivisionId"], "{v}");
                    assert!(v["Division"]["Company"]["CompanyId"].is_i64(), "{v}");
                }
                match r.json().get("@odata.nextLink").and_then(Value::as_str) {
                    Some(n) => url = n.to_owned(),
                    None => break,
                }
            }
            assert_eq!(
                ids.len() as i64,
                app.db.count("", "contacts", "alpha"),
                "{order}"
            );
        }
        // Prefer: odata.maxpagesize is honoured and acknowledged.
        let p = app
            .get_with(
                "Contacts?$select=ContactId",
                &t,
                &[("Prefer", "odata.maxpagesize=7")],
            )
            .await;
        assert_eq!(p.values().len(), 7);
        assert_eq!(p.header("preference-applied"), Some("odata.maxpagesize=7"));
        // A next link replayed with another workspace's token reveals nothing.
        let replay = app.get(&last_link.unwrap(), &other).await;
        assert_eq!(replay.status, 400, "{}", replay.text);
        assert!(!replay.text.contains("ContactId"));
        let garbage = app.get("Contacts?$skiptoken=not-a-token", &t).await;
        assert_eq!(garbage.status, 400);
    }
}

/// `Nav/$count($filter=...)` and `Nav/$filter(...)/$count` (4.01) count the related
/// entities the condition holds for, in `$filter` and `$orderby`, on both databases, and
/// only the caller's own.
#[actix_web::test]
async fn filtered_counts_count_the_related_entities_the_condition_holds_for() {
    each_backend(|app, alpha, beta| async move {
        for t in [&alpha, &beta] {
            let contacts = app
                .get("Contacts?$select=ContactId&$expand=Leads($select=Value)&$top=100000&$orderby=ContactId", t)
                .await
                .values();
            let big = |c: &Value| {
                c["Leads"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|l| l["Value"].as_f64().is_some_and(|v| v > 50000.0))
                    .count()
            };
            let want: Vec<i64> = contacts
                .iter()
                .filter(|c| big(c) >= 1)
                .map(|c| c["ContactId"].as_i64().unwrap())
                .collect();
            assert!(!want.is_empty() && want.len() < contacts.len());
            let ids = |r: Reply| -> Vec<i64> {
                assert_eq!(r.status, 200, "{}", r.text);
                r.values().iter().map(|c| c["ContactId"].as_i64().unwrap()).collect()
            };
            for filter in [
                "Leads/$count($filter=Value gt 50000) ge 1",
                "Leads/$filter(Value gt 50000)/$count ge 1",
                "not (Leads/$count($filter=Value gt 50000) eq 0)",
            ] {
                let r = app
                    .get(&format!("Contacts?$select=ContactId&$top=100000&$orderby=ContactId&$filter={filter}"), t)
                    .await;
                assert_eq!(ids(r), want, "{filter}");
            }
            let most = contacts.iter().map(big).max().unwrap();
            let r = app
                .get("Contacts?$select=ContactId&$top=1&$orderby=Leads/$count($filter=Value gt 50000) desc,ContactId", t)
                .await;
            let first = ids(r)[0];
            let c = contacts.iter().find(|c| c["ContactId"] == first).unwrap();
            assert_eq!(big(c), most);
        }
        let search = app.get("Contacts?$filter=Leads/$count($search=x) gt 0", &alpha).await;
        assert_eq!(search.status, 501, "{}", search.text);
    })
    .await;
}

/// Values a database would fail on or write as no JSON parser reads them: infinities
/// are OData's strings, in JSON and Atom; a double cast to a string, the negation of a
/// function of null and NaN where an integer goes are answered, never a 500.
#[actix_web::test]
async fn special_numbers_and_edge_values_are_answered() {
    each_backend(|app, t, _| async move {
        let r = app
            .get("Leads?$top=1&$select=LeadId,A,B&$compute=INF as A,-INF as B", &t)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let v = &r.values()[0];
        assert_eq!((v["A"].as_str(), v["B"].as_str()), (Some("INF"), Some("-INF")), "{v}");
        // A decimal is finite: neither converts.
        let r = app
            .get("Leads?$top=1&$select=LeadId,A,B&$compute=cast(INF,Edm.Decimal) as A,cast(NaN,Edm.Decimal) as B", &t)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let v = &r.values()[0];
        assert!(v["A"].is_null() && v["B"].is_null(), "{v}");
        let atom = app
            .get("Leads?$top=1&$select=LeadId,A&$compute=INF as A&$format=atom", &t)
            .await;
        assert_eq!(atom.status, 200, "{}", atom.text);
        assert!(atom.text.contains(">INF<"), "{}", atom.text);
        let cast = app
            .get("Leads?$top=1&$select=LeadId,X&$compute=cast(totalseconds(duration'PT1S'),Edm.String) as X", &t)
            .await;
        assert_eq!(cast.status, 200, "{}", cast.text);
        let x = cast.values()[0]["X"].as_str().unwrap().parse::<f64>().unwrap();
        assert_eq!(x, 1.0);
        let all = app.db.count("", "contacts", "alpha");
        for filter in [
            "-(length(null)) eq null",
            "-(year(null)) eq null and -Surname eq null or true",
            "substring(Surname,ContactId mod NaN) eq '' or true",
            "substring(Surname,1,cast(INF,Edm.Decimal)) eq Surname or true",
        ] {
            let r = app.get(&format!("Contacts?$filter={filter}&$count=true&$top=0"), &t).await;
            if filter.contains("-Surname") {
                assert_eq!(r.status, 400, "{filter}: {}", r.text);
                continue;
            }
            assert_eq!(r.status, 200, "{filter}: {}", r.text);
            assert_eq!(r.json()["@odata.count"], all, "{filter}");
        }
    })
    .await;
}

/// Pages ordered by computed keys with many ties (fractions no float holds exactly,
/// decimal products): following nextLink gives every lead once and ends, on both
/// databases. The skiptoken must carry the last key exactly, or the next page starts
/// inside its tie group again (a loop) or past part of it (lost rows).
#[actix_web::test]
async fn paging_by_computed_keys_gives_every_row_once() {
    for b in backends() {
        let db = TestDb::new(b);
        db.seed("alpha", 200, 1);
        // Some thousand requests: past the default workspace limit.
        let app = spawn_with(db, |c| c.rate_limit = "100000/600s".parse().expect("limit")).await;
        let t = app.db.token("alpha");
        let all = app.db.count("", "leads", "alpha");
        assert!(all > 100, "{all}");
        for order in [
            "Guttometer divby 3",
            "Guttometer div 7 desc",
            "Value mul Guttometer desc",
            "Value sub 0.1",
            "Value div 3",
            // Doubles: 100 × 1.1 is 110.00000000000001, which 16 digits would round.
            "cast(Guttometer,Edm.Double) mul 1.1",
            "cast(Guttometer,Edm.Double) mul 0.7 desc",
            "cast(Value,Edm.Double) mul 1.1",
        ] {
            let mut url = format!("Leads?$select=LeadId&$orderby={order}");
            let mut ids = HashSet::new();
            let mut pages = 0;
            loop {
                let r = app
                    .get_with(&url, &t, &[("Prefer", "odata.maxpagesize=3")])
                    .await;
                assert_eq!(r.status, 200, "{order}: {}", r.text);
                for v in r.values() {
                    let id = v["LeadId"].as_i64().unwrap();
                    assert!(ids.insert(id), "{order}: lead {id} repeated");
                }
                pages += 1;
                assert!(pages <= all, "{order}: more pages than leads");
                match r.json().get("@odata.nextLink").and_then(Value::as_str) {
                    Some(n) => url = n.to_owned(),
                    None => break,
                }
            }
            assert_eq!(ids.len() as i64, all, "{order}: leads lost");
        }
        // One row a page, all with the one key 110.00000000000001: every page starts
        // inside the tie group.
        let tied = app.db.count(" AND guttometer = 100", "leads", "alpha");
        assert!(tied >= 2, "{tied}");
        for desc in ["", " desc"] {
            let mut url = format!("Leads?$select=LeadId&$filter=Guttometer eq 100&$orderby=cast(Guttometer,Edm.Double) mul 1.1{desc}");
            let mut ids = HashSet::new();
            for _ in 0..=tied {
                let r = app
                    .get_with(&url, &t, &[("Prefer", "odata.maxpagesize=1")])
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
                for v in r.values() {
                    assert!(ids.insert(v["LeadId"].as_i64().unwrap()), "{url}: repeated");
                }
                match r.json().get("@odata.nextLink").and_then(Value::as_str) {
                    Some(n) => url = n.to_owned(),
                    None => break,
                }
            }
            assert_eq!(ids.len() as i64, tied, "{desc}");
        }
    }
}

#[actix_web::test]
async fn errors_are_odata_error_bodies() {
    each_backend(|app, t, _| async move {
        let e = app.get("Contacts?$filter=Surname eq", &t).await;
        assert_eq!(e.status, 400, "{}", e.text);
        let body = e.json();
        assert_eq!(body["error"]["target"], "$filter");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("position"),
            "{}",
            e.text
        );
        let unknown = app.get("Contacts?$filter=Nope eq 1", &t).await;
        assert_eq!(unknown.status, 400);
        assert!(unknown.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Nope"));
        let types = app.get("Contacts?$filter=Surname eq 5", &t).await;
        assert_eq!(types.status, 400, "{}", types.text);
        assert_eq!(app.get("Nothing", &t).await.status, 404);
        assert_eq!(
            app.get("Contacts?$apply=concat(identity,identity)/top(1)", &t)
                .await
                .status,
            501
        );
        assert_eq!(app.get("Contacts?$format=csv", &t).await.status, 406);
        assert_eq!(
            app.get_with("Contacts", &t, &[("Accept", "image/png")])
                .await
                .status,
            406
        );
        let long = format!("Contacts?$filter={}", "Surname eq 'x' or ".repeat(2000));
        assert_eq!(app.get(&long, &t).await.status, 414);
        let post = app
            .client
            .post(format!("{}/$metadata", app.base))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(post.status().as_u16(), 405);
        // A write is not offered yet; a method HTTP does not define is not one either.
        for (method, says) in [("PATCH", "(writes)"), ("FOO", "not a method this service")] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let r = app
                .client
                .request(method.clone(), format!("{}/Contacts(1)", app.base))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 501, "{method}");
            let body: serde_json::Value = r.json().await.unwrap();
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(says), "{method}: {message}");
        }
        let none = app.get("Contacts", "").await;
        assert_eq!(none.status, 401);
        assert!(none
            .headers
            .get_all("www-authenticate")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("Bearer")));
        assert_eq!(none.json()["error"]["code"], "Unauthorized");
        assert_eq!(
            app.get("Contacts", "crm_not_a_real_token").await.status,
            401
        );
        // Values that overflow the database's types are the client's doing: never a 500.
        for f in [
            "Guttometer add 9223372036854775807 gt 0",
            "Guttometer sub -9223372036854775808 gt 0",
            "Value mul 1e308 gt 0",
            "Guttometer mul 99999999999 gt 0",
            "Guttometer div 0 eq 1",
            "Value divby 0 gt 1",
            "Value eq 99999999999999999999999999999999999999",
            "Surname eq 'a%00b'",
            "contains(Surname,'%00')",
        ] {
            let r = app.get(&format!("Leads?$top=1&$filter={f}"), &t).await;
            assert!(
                r.status == 200 || r.status == 400,
                "{f}: {} {}",
                r.status,
                r.text
            );
            if r.status == 400 {
                assert!(r.json()["error"]["message"].is_string(), "{f}");
            }
        }
        let deep = format!(
            "Contacts?$filter={}Surname eq 'x'{}",
            "(".repeat(500),
            ")".repeat(500)
        );
        assert_eq!(app.get(&deep, &t).await.status, 400);
        for bad in [
            "Contacts(",
            "Contacts('x')",
            "Contacts?$top=-1",
            "Contacts?$top=abc",
            "Contacts?$orderby=",
            "Contacts?$expand=Nope",
            "Contacts?$select=Leads/Nope",
            "Contacts?$filter=Leads/any(l: l/Nope eq 1)",
            "Contacts(1)/Nope",
            "Contacts/Surname",
        ] {
            let r = app.get(bad, &t).await;
            assert!(
                (400..500).contains(&r.status),
                "{bad}: {} {}",
                r.status,
                r.text
            );
            assert!(r.json()["error"]["message"].is_string());
        }
    })
    .await;
}

/// Media types' type, subtype and parameter names are case-insensitive (RFC 9110 §8.3.1),
/// in `Accept` and in `$format`.
#[actix_web::test]
async fn media_types_are_matched_whatever_their_case() {
    let app = spawn_seeded(Backend::Sqlite).await;
    let t = app.db.token("alpha");
    for (path, accept, content_type) in [
        ("Contacts?$top=1", "Application/JSON", "application/json"),
        (
            "Contacts?$top=1",
            "APPLICATION/JSON;ODATA.METADATA=none",
            "application/json;odata.metadata=none",
        ),
        (
            "Contacts?$top=1",
            "Application/Atom+XML",
            "application/atom+xml",
        ),
        (
            "Contacts?$top=1&$format=APPLICATION/JSON",
            "",
            "application/json",
        ),
        (
            "Contacts?$top=1&$format=Application/Atom%2BXml",
            "",
            "application/atom+xml",
        ),
        ("Contacts/$count", "TEXT/PLAIN", "text/plain"),
        // A type refused by name (q=0) stays refused under a wildcard.
        (
            "Contacts?$top=1",
            "application/json;q=0, */*",
            "application/atom+xml",
        ),
        ("$metadata", "Application/Xml", "application/xml"),
    ] {
        let headers: &[(&str, &str)] = if accept.is_empty() {
            &[]
        } else {
            &[("Accept", accept)]
        };
        let r = app.get_with(path, &t, headers).await;
        assert_eq!(r.status, 200, "{path} {accept}: {}", r.text);
        let got = r.header("content-type").unwrap_or_default();
        assert!(got.starts_with(content_type), "{path} {accept}: {got}");
    }
}

#[actix_web::test]
async fn revoked_token_fails_on_its_next_request() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let mut conn = app.db.conn();
        let (id, token) = crm_odata::auth::create_token(
            &mut conn,
            app.db.dialect,
            "alpha",
            Some("ann@example.com"),
            None,
            Some("x"),
        )
        .unwrap();
        assert_eq!(app.get("Contacts(1)", &token).await.status, 200);
        crm_odata::auth::revoke_token(&mut conn, app.db.dialect, id).unwrap();
        let r = app.get("Contacts(1)", &token).await;
        assert_eq!(r.status, 401);
        assert!(r.header("www-authenticate").is_some());
        // Basic auth with the token as the password works like Bearer.
        let other = app.db.token("alpha");
        let basic = app
            .client
            .get(format!("{}/Contacts(1)", app.base))
            .basic_auth("anyone", Some(&other))
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status().as_u16(), 200);
        let _ = Backend::Sqlite;
    }
}

/// On PostgreSQL a read with a token the server accepted before checks the token on its
/// way (often inside its own statement) instead of first. Whatever kind of request comes
/// next, a token revoked in between gets 401: where the statement finds rows, where it
/// finds none, and where nothing reads the database. Such requests are not counted.
#[actix_web::test]
async fn a_revoked_token_fails_on_every_kind_of_request() {
    for b in backends() {
        let app = spawn_seeded(b).await;
        let mut conn = app.db.conn();
        let watcher = app.db.token("alpha");
        let remaining = |r: &common::Reply| -> i64 {
            r.header("x-ratelimit-remaining")
                .and_then(|v| v.parse().ok())
                .expect("remaining")
        };
        let before = remaining(&app.get("Contacts(1)", &watcher).await);
        let kinds = [
            "Contacts(1)",
            "Contacts(999999)",
            "Contacts?$top=2",
            "Contacts?$filter=Surname eq 'Nobody at all'",
            "Contacts?$top=1&$count=true",
            "Contacts(1)?$expand=Leads($select=LeadId)",
            "Contacts(1)/Leads",
            "Contacts/$count",
            "Contacts(1)/Surname",
            "Contacts(1)/Surname/$value",
            "$metadata",
            "",
            "Contacts?$filter=Surname eq",
            "NoSuchSet",
        ];
        for kind in kinds {
            let (id, token) = crm_odata::auth::create_token(
                &mut conn,
                app.db.dialect,
                "alpha",
                None,
                None,
                Some(kind),
            )
            .unwrap();
            let first = app.get(kind, &token).await;
            assert_ne!(first.status, 401, "{b:?} {kind}: {}", first.text);
            assert!(first.header("x-ratelimit-remaining").is_some(), "{kind}");
            crm_odata::auth::revoke_token(&mut conn, app.db.dialect, id).unwrap();
            let r = app.get(kind, &token).await;
            assert_eq!(r.status, 401, "{b:?} {kind}: {}", r.text);
            assert!(r.header("www-authenticate").is_some(), "{kind}");
            assert!(r.header("x-ratelimit-remaining").is_none(), "{kind}");
            assert!(r.json()["error"]["message"].is_string(), "{kind}");
        }
        // Each first request counted; none of the refused ones did.
        let after = remaining(&app.get("Contacts(1)", &watcher).await);
        assert_eq!(before - after, kinds.len() as i64 + 1, "{b:?}");
    }
}

/// Numbers, and decimal strings (`IEEE754Compatible=true`), as floats: the databases
/// write a decimal with different trailing zeros (SQLite `5073.92`, PostgreSQL's numeric
/// `5073.920000`), both exact.
fn decimals_as_numbers(v: Value) -> Value {
    match v {
        Value::String(s)
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
                && s.parse::<f64>().is_ok() =>
        {
            serde_json::json!(s.parse::<f64>().unwrap())
        }
        // SQLite keeps a whole decimal as an integer (807), PostgreSQL as 807.000000.
        Value::Number(n) => serde_json::json!(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.into_iter().map(decimals_as_numbers).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, decimals_as_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The JSON of a row is built three ways: by SQLite (`json_object`), by PostgreSQL
/// (`json_build_object`, for expands and full metadata) and, for PostgreSQL's flat reads,
/// from the values as text (`format::row`). The same data must give the same documents
/// through every shape: all properties, `$select`, single- and collection-valued
/// `$expand` (nested, paged, counted, `$ref`, `/$count`), full metadata, IEEE754
/// strings, every property type, NULLs, and strings that need escaping.
#[actix_web::test]
async fn both_databases_answer_with_the_same_json() {
    if backends().len() < 2 {
        return;
    }
    let tricky = "O'Brien \"Q\" back\\slash tab\t nl\n ctl\u{1} é 日本 😀 </script>";
    let urls = [
        "Contacts(1)",
        "Contacts(7)?$select=Forename,Email,Created",
        "Contacts?$top=20&$expand=Division($select=Name;$expand=Company),Leads($top=2;$orderby=Value desc;$count=true)",
        "Contacts?$top=8&$expand=Leads($select=LeadId,Value;$expand=Status)",
        "Leads?$top=15&$expand=Status($select=Description),Contact($select=Forename,Email)",
        "Contacts?$top=5&$expand=Leads/$ref",
        "Contacts?$top=5&$expand=Leads/$count",
        "Companies?$top=3&$expand=Divisions($expand=Contacts($top=1;$select=Surname))",
        "Contacts?$filter=ContactId le 3&$select=Forename",
        "LeadStatus",
        "Divisions?$top=6",
        "Leads?$top=6&$select=LeadId,Value,WeightedValue,Guttometer,CloseDate",
        "Leads?$top=6",
        "Leads?$top=6&$select=LeadId,Value,WeightedValue,Guttometer,CloseDate",
        "Divisions?$top=6&$select=Name,IsDistributor",
        "Divisions(1)",
        "Divisions?$top=3",
        "Leads?$top=40&$expand=Status($select=Description),Contact($select=Forename,Email)",
        "Leads?$top=40&$expand=Status($select=Description),Contact($select=Forename,Email)",
        "Contacts?$top=20&$expand=Division($select=Name;$expand=Company)",
        "Leads?$top=40&$expand=Contact($expand=Division($select=Name;$expand=Company($select=Name)))",
        "Contacts?$top=20&$expand=Division($select=Name;$expand=Company)",
        // Collection-valued expands (PostgreSQL returns them as arrays of values too):
        // the tricky text inside one, the seeds' long expand, paged collections three
        // deep, a collection inside a joined expand that may be absent, empty ones.
        "Contacts?$top=3&$expand=Leads",
        "Divisions?$filter=Contacts/any(c: c/ContactId eq 1)&$expand=Contacts($select=ContactId,Forename,Title;$orderby=ContactId)",
        "Contacts?$select=Title,Forename,Surname,Email,StatusFlag&$filter=contains(Email,'@prospectsoft.com') and StatusFlag eq 'A'&$expand=Leads($select=Description,Created,StatusFlag;$filter=StatusFlag eq 'A' and Status/DeadFlag eq 0;$expand=Status($select=Description))",
        "Companies?$top=2",
        "Companies?$top=3&$expand=Divisions($orderby=Name desc;$skip=1;$top=2;$expand=Contacts($top=2;$skip=1;$select=Surname,Created;$expand=Leads($select=LeadId,Value,WeightedValue)))",
        "Leads?$top=40&$expand=Contact($select=Forename;$expand=Leads($select=LeadId;$orderby=LeadId desc))",
        "LeadStatus",
        "Contacts?$top=4&$select=ContactId&$expand=Leads($filter=LeadId eq -1)",
    ];
    let mut answers: Vec<Vec<Value>> = Vec::new();
    for b in backends() {
        let app = spawn_seeded(b).await;
        let t = app.db.token("alpha");
        let mut conn = app.db.conn();
        let sql = match app.db.dialect {
            Dialect::Sqlite => {
                "UPDATE contacts SET forename = ?, title = NULL WHERE contact_id = 1"
            }
            Dialect::Postgres => {
                "UPDATE contacts SET forename = $1, title = NULL WHERE contact_id = 1"
            }
        };
        diesel::sql_query(sql)
            .bind::<diesel::sql_types::Text, _>(tricky)
            .execute(&mut conn)
            .unwrap();
        let mut docs: Vec<Value> = Vec::new();
        for (i, url) in urls.iter().enumerate() {
            let headers: &[(&str, &str)] = match i % 3 {
                0 => &[],
                1 => &[("accept", "application/json;odata.metadata=full")],
                _ => &[("accept", "application/json;IEEE754Compatible=true")],
            };
            let r = app.get_with(url, &t, headers).await;
            assert_eq!(r.status, 200, "{b:?} {url}: {}", r.text);
            let text = r.text.replace(&app.base, "BASE");
            docs.push(decimals_as_numbers(serde_json::from_str(&text).unwrap()));
        }
        assert_eq!(docs[0]["Forename"], tricky, "{b:?}");
        assert!(docs[0]["Title"].is_null(), "{b:?}");
        answers.push(docs);
    }
    // The lead expands above include leads without a contact.
    let leads = answers[0][18]["value"].as_array().unwrap();
    assert!(leads.iter().any(|l| l["Contact"].is_null()), "{leads:?}");
    assert!(leads.iter().any(|l| l["Contact"]["Forename"].is_string()));
    let leads = answers[0][27]["value"].as_array().unwrap();
    assert!(leads.iter().any(|l| l["Contact"].is_null()), "{leads:?}");
    assert!(leads
        .iter()
        .any(|l| !l["Contact"]["Leads"].as_array().unwrap().is_empty()));
    let divisions = answers[0][23]["value"].as_array().unwrap();
    assert_eq!(divisions[0]["Contacts"][0]["Forename"], tricky);
    assert!(answers[0][24]["value"].as_array().unwrap().len() > 1);
    let empty = answers[0][29]["value"].as_array().unwrap();
    assert!(empty.len() == 4 && empty.iter().all(|c| c["Leads"] == serde_json::json!([])));
    for (i, url) in urls.iter().enumerate() {
        if answers[0][i] != answers[1][i] {
            let dir = std::env::temp_dir();
            for (k, a) in answers.iter().enumerate() {
                let text = serde_json::to_string_pretty(&a[i]).unwrap();
                std::fs::write(dir.join(format!("same-json-{i}-{k}.json")), text).unwrap();
            }
            panic!("{url}: the documents differ (written to same-json-{i}-*.json in {dir:?})");
        }
    }
}

/// Navigation from an entity that does not exist is 404; from one that exists, nothing
/// related is an empty collection (count 0), or 204 for a single-valued navigation.
#[actix_web::test]
async fn navigation_tells_nothing_related_from_no_such_entity() {
    each_backend(|app, t, _| async move {
        let orphan = app
            .get("Leads?$filter=ContactId eq null&$select=LeadId&$top=1", &t)
            .await
            .values();
        let lead = orphan[0]["LeadId"]
            .as_i64()
            .expect("a lead without a contact");
        let r = app.get(&format!("Leads({lead})/Contact"), &t).await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert!(r.text.is_empty());
        let missing = app.get("Leads(999999)/Contact", &t).await;
        assert_eq!(missing.status, 404, "{}", missing.text);
        assert!(missing.json()["error"]["message"].is_string());
        // A contact with no leads matching the filter: an empty page, count 0.
        let r = app
            .get("Contacts(1)/Leads?$filter=LeadId eq -1&$count=true", &t)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["@odata.count"], 0);
        assert_eq!(r.values().len(), 0);
        assert_eq!(
            app.get("Contacts(1)/Leads/$count?$filter=LeadId eq -1", &t)
                .await
                .text,
            "0"
        );
        for url in [
            "Contacts(999999)/Leads",
            "Contacts(999999)/Leads/$count",
            "Contacts(999999)/Leads?$top=0",
            "Leads(999999)/Contact/Leads",
        ] {
            let r = app.get(url, &t).await;
            assert_eq!(r.status, 404, "{url}: {}", r.text);
            assert!(r.json()["error"]["message"].is_string(), "{url}");
        }
        // A keyed entity through navigation that is not related is 404, as before.
        assert_eq!(app.get("Contacts(1)/Leads(999999)", &t).await.status, 404);
    })
    .await;
}

/// `OData-Version` must be one this service speaks, and `OData-MaxVersion` a version not
/// below 4.0; either that is no version at all is a 400 naming the header.
#[actix_web::test]
async fn requests_in_versions_not_spoken_are_refused() {
    let app = spawn_seeded(Backend::Sqlite).await;
    let t = app.db.token("alpha");
    for (name, value, status) in [
        ("OData-Version", "4.0", 200),
        ("OData-Version", "4.01", 200),
        ("OData-Version", "5.0", 400),
        ("OData-Version", "4.1", 400),
        ("OData-Version", "3.0", 400),
        ("OData-Version", "x", 400),
        ("OData-MaxVersion", "4.0", 200),
        ("OData-MaxVersion", "4.01", 200),
        ("OData-MaxVersion", "5.0", 200),
        ("OData-MaxVersion", "3.0", 400),
        ("OData-MaxVersion", "abc", 400),
    ] {
        let r = app.get_with("Contacts?$top=1", &t, &[(name, value)]).await;
        assert_eq!(r.status, status, "{name}: {value}: {}", r.text);
        if status == 400 {
            assert_eq!(r.json()["error"]["target"], name, "{name}: {value}");
        }
    }
    // Inside a $batch, each request's own headers count.
    let body = serde_json::json!({"requests": [
        {"id": "1", "method": "GET", "url": "Contacts?$top=1", "headers": {"OData-Version": "5.0"}},
        {"id": "2", "method": "GET", "url": "Contacts?$top=1", "headers": {"OData-Version": "4.01"}},
    ]});
    let r = Reply::read(
        app.client
            .post(format!("{}/$batch", app.base))
            .bearer_auth(&t)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["responses"][0]["status"], 400, "{}", r.text);
    assert_eq!(r.json()["responses"][1]["status"], 200, "{}", r.text);
}

/// A key outside its type's range is no value of that type: a 400 naming the key
/// property, however far outside it is.
#[actix_web::test]
async fn a_key_outside_its_types_range_is_a_400() {
    let app = spawn_seeded(Backend::Sqlite).await;
    let t = app.db.token("alpha");
    for key in ["2147483648", "-2147483649", "99999999999999999999"] {
        for url in [
            format!("Contacts({key})"),
            format!("Contacts/{key}"),
            format!("Contacts(1)/Leads({key})"),
        ] {
            let r = app.get(&url, &t).await;
            assert_eq!(r.status, 400, "{url}: {}", r.text);
            let e = &r.json()["error"];
            assert_eq!(e["target"], "path", "{url}");
            let message = e["message"].as_str().unwrap_or_default();
            assert!(message.contains("must be Edm.Int32"), "{url}: {message}");
            assert!(message.contains("Id of"), "{url}: {message}");
        }
    }
    assert_eq!(app.get("Contacts(2147483647)", &t).await.status, 404);
}

/// A 404 says which entity is missing, by set and key, and where it was named.
#[actix_web::test]
async fn a_missing_entity_is_named_by_its_key() {
    each_backend(|app, t, _| async move {
        for (url, message, target) in [
            (
                "Contacts(999999)",
                "no Contact with ContactId 999999",
                "path",
            ),
            (
                "Contacts(999999)/Surname",
                "no Contact with ContactId 999999",
                "path",
            ),
            (
                "Contacts(999999)/Leads",
                "no Contact with ContactId 999999",
                "path",
            ),
            (
                "Contacts(999999)/Leads/$count",
                "no Contact with ContactId 999999",
                "path",
            ),
            (
                "Leads(999999)/Contact",
                "no Lead with LeadId 999999",
                "path",
            ),
            (
                "Leads(999999)/Contact/Leads",
                "no Lead with LeadId 999999",
                "path",
            ),
            (
                "LeadStatus('NOPE')",
                "no LeadStatus with Code 'NOPE'",
                "path",
            ),
            (
                "Contacts(1)/Leads(999999)",
                "no Lead with LeadId 999999 among the Leads of the Contact with ContactId 1",
                "path",
            ),
            (
                "$entity?$id=Contacts(999999)",
                "no Contact with ContactId 999999",
                "$id",
            ),
        ] {
            let r = app.get(url, &t).await;
            assert_eq!(r.status, 404, "{url}: {}", r.text);
            let e = &r.json()["error"];
            assert_eq!(e["code"], "NotFound", "{url}");
            assert_eq!(e["message"], message, "{url}");
            assert_eq!(e["target"], target, "{url}");
        }
    })
    .await;
}

/// Errors about the request rather than its query options still name what they are
/// about: the credentials, the method, the format asked for, the URL.
#[actix_web::test]
async fn errors_name_their_target() {
    let app = spawn_seeded(Backend::Sqlite).await;
    let t = app.db.token("alpha");
    let target = |r: &Reply| r.json()["error"]["target"].as_str().map(str::to_owned);
    let r = app.get("Contacts", "").await;
    assert_eq!(
        (r.status, target(&r).as_deref()),
        (401, Some("Authorization"))
    );
    let r = app.get("Contacts", "crm_not_a_real_token").await;
    assert_eq!(
        (r.status, target(&r).as_deref()),
        (401, Some("Authorization"))
    );
    let r = app.get("Contacts?$format=csv", &t).await;
    assert_eq!((r.status, target(&r).as_deref()), (406, Some("$format")));
    let r = app
        .get_with("Contacts", &t, &[("Accept", "image/png")])
        .await;
    assert_eq!((r.status, target(&r).as_deref()), (406, Some("Accept")));
    let r = app
        .get_with("Contacts/$count", &t, &[("Accept", "image/png")])
        .await;
    assert_eq!((r.status, target(&r).as_deref()), (406, Some("Accept")));
    let long = format!("Contacts?$filter={}", "Surname eq 'x' or ".repeat(2000));
    let r = app.get(&long, &t).await;
    assert_eq!((r.status, target(&r).as_deref()), (414, Some("URL")));
    for (method, status) in [("POST", 405), ("PATCH", 501), ("FOO", 501)] {
        let path = if method == "POST" {
            "$metadata"
        } else {
            "Contacts(1)"
        };
        let r = app
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}/{path}", app.base),
            )
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        let r = Reply::read(r).await;
        assert_eq!(
            (r.status, target(&r).as_deref()),
            (status, Some("method")),
            "{method}"
        );
    }
}

/// `.../$ref` names the entities a path addresses by their `@odata.id`, with the
/// options that choose them ($filter, $search, $orderby, $top, $skip, $count, paging),
/// in the caller's workspace only.
#[actix_web::test]
async fn references_name_the_entities_a_path_addresses() {
    each_backend(|app, t, beta| async move {
        let ids = |v: &[Value]| -> Vec<String> {
            v.iter()
                .map(|r| {
                    assert_eq!(r.as_object().map(|o| o.len()), Some(1), "{r}");
                    r["@odata.id"].as_str().unwrap().to_owned()
                })
                .collect()
        };
        let some = app
            .get(
                "Leads?$top=1&$select=ContactId&$filter=ContactId ne null",
                &t,
            )
            .await
            .values();
        let contact = some[0]["ContactId"].as_i64().unwrap();
        let leads = app
            .get(&format!("Contacts({contact})/Leads?$select=LeadId"), &t)
            .await
            .values();
        assert!(!leads.is_empty());
        let want: Vec<String> = leads
            .iter()
            .map(|l| format!("Leads({})", l["LeadId"]))
            .collect();
        let r = app
            .get(&format!("Contacts({contact})/Leads/$ref"), &t)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let ctx = r.json()["@odata.context"].as_str().unwrap().to_owned();
        assert_eq!(ctx, format!("{}/$metadata#Collection($ref)", app.base));
        odata_parser::check_context_url(&ctx).unwrap();
        assert_eq!(ids(&r.values()), want);
        // One entity, by key and through single-valued navigation (a string key quoted).
        let one = app.get("Contacts(1)/$ref", &t).await.json();
        assert_eq!(one["@odata.id"], "Contacts(1)");
        assert_eq!(
            one["@odata.context"],
            format!("{}/$metadata#$ref", app.base)
        );
        odata_parser::check_context_url(one["@odata.context"].as_str().unwrap()).unwrap();
        let lead = app
            .get(
                "Leads?$top=1&$select=LeadId,StatusId&$filter=StatusId ne null",
                &t,
            )
            .await
            .values()[0]
            .clone();
        let status = app
            .get(&format!("Leads({})/Status/$ref", lead["LeadId"]), &t)
            .await
            .json();
        assert_eq!(
            status["@odata.id"],
            format!("LeadStatus('{}')", lead["StatusId"].as_str().unwrap())
        );
        // The options that choose entities apply; the count is the filter's.
        let q = "$filter=startswith(Surname,'S')&$orderby=Surname desc,ContactId&$skip=2&$top=5";
        let full = app
            .get(&format!("Contacts?{q}&$select=ContactId&$count=true"), &t)
            .await
            .json();
        let r = app
            .get(&format!("Contacts/$ref?{q}&$count=true"), &t)
            .await
            .json();
        assert_eq!(r["@odata.count"], full["@odata.count"]);
        let by_value: Vec<String> = full["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| format!("Contacts({})", c["ContactId"]))
            .collect();
        assert_eq!(ids(r["value"].as_array().unwrap()), by_value);
        let searched = app
            .get("Contacts/$ref?$search=smith", &t)
            .await
            .values()
            .len();
        assert_eq!(
            searched,
            app.get("Contacts?$search=smith&$select=ContactId", &t)
                .await
                .values()
                .len()
        );
        // Paged by nextLink: every lead once, in key order.
        let mut seen = Vec::new();
        let mut next = Some("Leads/$ref".to_owned());
        while let Some(url) = next.take() {
            let r = app
                .get_with(&url, &t, &[("Prefer", "odata.maxpagesize=150")])
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            seen.extend(ids(&r.values()));
            next = r.json()["@odata.nextLink"].as_str().map(str::to_owned);
        }
        let all = app
            .get("Leads?$select=LeadId&$top=100000", &t)
            .await
            .values();
        assert!(all.len() > 150);
        assert_eq!(
            seen,
            all.iter()
                .map(|l| format!("Leads({})", l["LeadId"]))
                .collect::<Vec<_>>()
        );
        // Without metadata, no context; a reference is its id at every level.
        let none = app
            .get(
                "Contacts(1)/$ref?$format=application/json;odata.metadata=none",
                &t,
            )
            .await
            .json();
        assert_eq!(none, serde_json::json!({"@odata.id": "Contacts(1)"}));
        let full = app
            .get(
                "Contacts(1)/$ref?$format=application/json;odata.metadata=full",
                &t,
            )
            .await
            .json();
        assert_eq!(full["@odata.id"], "Contacts(1)");
        assert!(full.get("@odata.type").is_none() && full.get("Surname").is_none());
        // What does not apply to references, or is no such entity, says so.
        for (url, status) in [
            ("Contacts/$ref?$select=Surname", 400),
            ("Contacts/$ref?$expand=Leads", 400),
            ("Contacts/$ref?$compute=1 as One", 400),
            ("Contacts(1)/$ref/$count", 400),
            ("Contacts(999999)/$ref", 404),
            ("Contacts(999999)/Leads/$ref", 404),
        ] {
            let r = app.get(url, &t).await;
            assert_eq!(r.status, status, "{url}: {}", r.text);
            assert!(r.json()["error"]["message"].is_string(), "{url}");
        }
        // In Atom, `<m:ref id="..."/>`: alone, or one per entity in a feed.
        let one = app.get("Contacts(1)/$ref?$format=atom", &t).await;
        assert_eq!(one.status, 200, "{}", one.text);
        assert!(
            one.text.contains(r#"id="Contacts(1)""#) && one.text.contains("#$ref"),
            "{}",
            one.text
        );
        let feed = app
            .get(&format!("Contacts({contact})/Leads/$ref?$format=atom"), &t)
            .await;
        assert_eq!(feed.status, 200, "{}", feed.text);
        assert_eq!(
            feed.text.matches("<m:ref ").count(),
            want.len(),
            "{}",
            feed.text
        );
        assert!(!feed.text.contains("<entry"));
        let orphan = app
            .get("Leads?$filter=ContactId eq null&$select=LeadId&$top=1", &t)
            .await
            .values();
        let r = app
            .get(&format!("Leads({})/Contact/$ref", orphan[0]["LeadId"]), &t)
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        // Another workspace's entities are no such entities; its own count is its own.
        assert_eq!(app.get("Contacts(150)/$ref", &beta).await.status, 404);
        assert_eq!(app.get("Contacts(150)/Leads/$ref", &beta).await.status, 404);
        let theirs = app
            .get("Contacts/$ref?$count=true&$top=0", &beta)
            .await
            .json();
        assert_eq!(theirs["@odata.count"], app.db.count("", "contacts", "beta"));
        let page = app
            .get_with("Contacts/$ref", &t, &[("Prefer", "odata.maxpagesize=5")])
            .await
            .json();
        let link = page["@odata.nextLink"].as_str().unwrap().to_owned();
        let replay = app.get(&link, &beta).await;
        assert_eq!(replay.status, 400, "{}", replay.text);
        assert!(!replay.text.contains("Contacts("));
    })
    .await;
}

/// `POST .../$query` (4.01): the query options in a text/plain body, answered as the
/// GET with the URL's and the body's options; its nextLink is that GET's.
#[actix_web::test]
async fn query_options_in_the_body_of_a_post_to_query() {
    each_backend(|app, t, beta| async move {
        let post = |path: &str, token: &str, ctype: &str, body: String| {
            let mut req = app
                .client
                .post(format!("{}/{}", app.base, path))
                .header("Content-Type", ctype)
                .body(body);
            if !token.is_empty() {
                req = req.bearer_auth(token);
            }
            async move { Reply::read(req.send().await.expect("request")).await }
        };
        let opts = "$filter=startswith(Surname,'Sm')&$select=ContactId,Surname&$orderby=ContactId desc&$count=true";
        let want = app.get(&format!("Contacts?{opts}"), &t).await.json();
        let r = post("Contacts/$query", &t, "text/plain", opts.replace(' ', "%20")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json(), want);
        // URL and body options together; the body may end in a line break.
        let r = post("Contacts/$query?$top=3", &t, "text/plain; charset=utf-8", "$select=ContactId&$orderby=ContactId%20desc\r\n".into()).await;
        assert_eq!(r.values(), app.get("Contacts?$top=3&$select=ContactId&$orderby=ContactId desc", &t).await.values());
        // A list longer than many proxies pass in a URL (8 KB), in the body.
        let ids: Vec<String> = (1..=2200).map(|i| i.to_string()).collect();
        let body = format!("$select=ContactId&$filter=ContactId%20in%20({})", ids.join(","));
        assert!(body.len() > 8192);
        let r = post("Contacts/$query", &t, "text/plain", body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let n = app.db.count("", "contacts", "alpha").min(2200);
        assert_eq!(r.values().len() as i64, n);
        // Paged: the nextLink is the GET, and the pages add up.
        let mut seen = 0;
        let mut r = app_post_paged(&app, &t).await;
        loop {
            assert_eq!(r.status, 200, "{}", r.text);
            seen += r.values().len();
            let Some(next) = r.json()["@odata.nextLink"].as_str().map(str::to_owned) else { break };
            assert!(!next.contains("$query"), "{next}");
            r = app.get(&next, &t).await;
        }
        assert_eq!(seen as i64, app.db.count("", "contacts", "alpha"));
        // Errors say what was wrong.
        for (path, ctype, body, status) in [
            ("Contacts/$query", "application/json", "{}".to_owned(), 415),
            ("Contacts/$query", "text/plain", format!("$filter=ContactId%20in%20({})", "1,".repeat(9000)), 413),
            ("Contacts/$query", "text/plain", "$filter=Nope%20eq%201".to_owned(), 400),
            ("Nothing/$query", "text/plain", String::new(), 404),
        ] {
            let r = post(path, &t, ctype, body).await;
            assert_eq!(r.status, status, "{path} {ctype}: {}", r.text);
            assert!(r.json()["error"]["message"].is_string(), "{}", r.text);
        }
        assert_eq!(app.get("Contacts/$query", &t).await.status, 405);
        assert_eq!(post("Contacts/$query", "", "text/plain", "$top=1".into()).await.status, 401);
        // Another workspace's token reads its own workspace only.
        assert_eq!(post("Contacts(150)/$query", &beta, "text/plain", String::new()).await.status, 404);
        let theirs = post("Contacts/$query", &beta, "text/plain", "$count=true&$top=0".into()).await.json();
        assert_eq!(theirs["@odata.count"], app.db.count("", "contacts", "beta"));
    })
    .await;
}

/// The first page of all contacts through `$query`, 70 to a page.
async fn app_post_paged(app: &TestApp, token: &str) -> Reply {
    let req = app
        .client
        .post(format!("{}/Contacts/$query", app.base))
        .bearer_auth(token)
        .header("Content-Type", "text/plain")
        .header("Prefer", "odata.maxpagesize=70")
        .body("$select=ContactId");
    Reply::read(req.send().await.expect("request")).await
}

#[actix_web::test]
async fn workspaces_never_see_each_other() {
    each_backend(|app, alpha, beta| async move {
        // beta has 60 contacts; alpha's contact 150 must not be reachable with beta's token.
        assert_eq!(app.get("Contacts(150)", &alpha).await.status, 200);
        assert_eq!(app.get("Contacts(150)", &beta).await.status, 404);
        // Through navigation too: for beta, alpha's contact does not exist.
        assert_eq!(app.get("Contacts(150)/Leads", &beta).await.status, 404);
        assert_eq!(
            app.get("Contacts(150)/Leads/$count", &beta).await.status,
            404
        );
        assert_eq!(app.get("Contacts(150)/Division", &beta).await.status, 404);
        assert_eq!(app.get("Contacts(150)/Surname", &beta).await.status, 404);
        let bc = app.get("Contacts/$count", &beta).await.text;
        assert_eq!(bc, app.db.count("", "contacts", "beta").to_string());
        let f = app
            .get("Contacts?$filter=ContactId gt 60&$select=ContactId", &beta)
            .await
            .values();
        assert!(f.is_empty());
        let c = app.get("Contacts?$count=true&$top=0", &beta).await.json();
        assert_eq!(c["@odata.count"].to_string(), bc);
        // Expanded rows belong to the caller's workspace too: every expanded lead's
        // contact is one of beta's.
        let e = app
            .get(
                "Contacts?$expand=Leads($select=LeadId,ContactId)&$select=ContactId",
                &beta,
            )
            .await
            .values();
        let beta_leads = app.db.count("", "leads", "beta");
        let expanded: usize = e.iter().map(|c| c["Leads"].as_array().unwrap().len()).sum();
        assert!(expanded as i64 <= beta_leads);
        for c in &e {
            for l in c["Leads"].as_array().unwrap() {
                assert_eq!(l["ContactId"], c["ContactId"]);
            }
        }
        let lambda = app
            .get("Contacts/$count?$filter=Leads/any(l: l/LeadId gt 0)", &beta)
            .await
            .text
            .parse::<i64>()
            .unwrap();
        assert!(lambda <= app.db.count("", "contacts", "beta"));
        let search_alpha = app
            .get("Contacts/$count?$search=a", &alpha)
            .await
            .text
            .parse::<i64>()
            .unwrap();
        let search_beta = app
            .get("Contacts/$count?$search=a", &beta)
            .await
            .text
            .parse::<i64>()
            .unwrap();
        assert!(search_beta <= app.db.count("", "contacts", "beta") && search_alpha > search_beta);
        let nav = app
            .get(
                "Contacts?$filter=Division/DivisionId gt 0&$select=ContactId",
                &beta,
            )
            .await
            .values();
        assert_eq!(nav.len() as i64, app.db.count("", "contacts", "beta"));
    })
    .await;
}

#[actix_web::test]
async fn context_urls_match_the_abnf_context_rule() {
    // The checker is validated against the OASIS `context` test cases in parser/tests/abnf.rs.
    each_backend(|app, t, _| async move {
        for q in [
            "",
            "Contacts",
            "Contacts(1)",
            "Contacts?$select=Surname,Forename",
            "Contacts(1)?$select=Surname",
            "Contacts?$expand=Leads",
            "Contacts?$select=Surname&$expand=Division($select=Name;$expand=Company)",
            "Contacts?$expand=Leads($select=Description;$expand=Status($select=Description))",
            "Contacts?$expand=Leads/$ref",
            "Contacts(1)/Leads",
            "Leads(1)/Status",
            "Contacts(1)/Surname",
            "LeadStatus('WON')",
            "Contacts?$select=Surname,Leads",
            "Contacts(1)?$select=Leads,Division&$expand=Leads($select=LeadId)",
        ] {
            let r = app.get(q, &t).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            let ctx = r.json()["@odata.context"]
                .as_str()
                .unwrap_or_else(|| panic!("{q}: no context"))
                .to_owned();
            assert!(ctx.starts_with(&format!("{}/$metadata", app.base)), "{ctx}");
            if q.is_empty() {
                // The service document's context is `$metadata` itself.
                assert!(ctx.ends_with("/$metadata"));
                continue;
            }
            odata_parser::check_context_url(&ctx).unwrap_or_else(|e| panic!("{q}: {ctx}: {e}"));
        }
    })
    .await;
}

/// Every response is compact JSON, whichever way the backend built it (PostgreSQL's
/// `json_build_object` writes `"a" : 1, "b" : 2`).
#[actix_web::test]
async fn json_has_no_whitespace_between_tokens_on_any_backend() {
    each_backend(|app, t, _| async move {
        for q in [
            "Leads?$top=3&$select=Value,Guttometer&$format=application/json;odata.metadata=full",
            "Contacts?$top=2&$select=ContactId&$expand=Leads($select=Value;$count=true)",
            "Leads?$apply=groupby((StatusId),aggregate(Value with sum as V,$count as N))",
            "Contacts?$top=2&$expand=Leads/$ref&$select=ContactId",
            "Leads?$top=2&$compute=CloseDate sub Created as Open&$select=Open&$expand=Status",
        ] {
            let r = app.get(q, &t).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            assert!(
                !r.text.contains("\" : ") && !r.text.contains(", \""),
                "{q}: {}",
                r.text
            );
            assert!(
                !r.text.contains(": ") && !r.text.contains("} ,"),
                "{q}: {}",
                r.text
            );
        }
    })
    .await;
}

/// The same data read from SQLite and from PostgreSQL gives the same bytes: numbers,
/// instants, durations, nesting and spacing alike.
#[actix_web::test]
async fn both_databases_write_the_same_documents() {
    let apps = {
        let mut v = Vec::new();
        for b in backends() {
            v.push(spawn_seeded(b).await);
        }
        v
    };
    let [sqlite, pg] = apps.as_slice() else {
        return; // PostgreSQL not configured: nothing to compare with.
    };
    let (ts, tp) = (sqlite.db.token("alpha"), pg.db.token("alpha"));
    for (q, headers) in [
        ("Leads?$top=40&$select=LeadId,Value,WeightedValue,Guttometer,Created,CloseDate", vec![]),
        ("Leads?$top=10&$select=LeadId,Value,WeightedValue", vec![("Accept", "application/json;IEEE754Compatible=true")]),
        ("Leads?$top=5&$select=Value&$expand=Status&$format=application/json;odata.metadata=full", vec![]),
        ("Contacts?$top=5&$select=ContactId&$expand=Leads($select=Value,Created;$count=true)", vec![]),
        // (An average of integers differs in its last digits: PostgreSQL's is a numeric
        // of 16 or more, SQLite's a double's 15.)
        ("Leads?$apply=groupby((StatusId),aggregate(Value with sum as V,Value with max as M,$count as N))", vec![]),
        ("Leads?$top=10&$filter=CloseDate ne null&$compute=CloseDate sub Created as Open,Value mul 2 as Twice&$select=Open,Twice", vec![]),
    ] {
        let a = sqlite.get_with(q, &ts, &headers).await;
        let b = pg.get_with(q, &tp, &headers).await;
        assert_eq!((a.status, b.status), (200, 200), "{q}: {} / {}", a.text, b.text);
        assert_eq!(a.text.replace(&sqlite.base, "BASE"), b.text.replace(&pg.base, "BASE"), "{q}");
    }
}

/// `$entity?$id=...` is the entity its id names, with `$select`/`$expand` after a type
/// cast, in the caller's workspace only; an id of another service, of no single entity
/// or of another type is refused with what was wrong.
#[actix_web::test]
async fn an_entity_id_resolves_to_the_entity_in_the_callers_workspace() {
    each_backend(|app, t, beta| async move {
        let own = app.get("Contacts(7)", &t).await.json();
        for id in ["Contacts(7)", "/Contacts(7)"] {
            let r = app.get(&format!("$entity?$id={id}"), &t).await;
            assert_eq!(r.status, 200, "{id}: {}", r.text);
            assert_eq!(r.json(), own, "{id}");
        }
        let absolute = format!("$entity?$id={}/Contacts(7)", app.base);
        assert_eq!(app.get(&absolute, &t).await.json(), own);
        let r = app
            .get("$entity/Prospect.Crm.Contact?$id=Contacts(7)&$select=Surname&$expand=Division($select=Name)", &t)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let doc = r.json();
        assert!(doc["@odata.context"].as_str().unwrap().ends_with("#Contacts(Surname,Division(Name))/$entity"), "{doc}");
        assert_eq!(doc["Surname"], own["Surname"]);
        assert!(doc["Division"]["Name"].is_string() && doc.get("Email").is_none(), "{doc}");
        // The same id read with another workspace's token is that workspace's entity;
        // an id only the other workspace has is not found.
        let theirs = app.get("Contacts(7)", &beta).await.json();
        assert_eq!(app.get("$entity?$id=Contacts(7)", &beta).await.json(), theirs);
        assert_ne!(theirs["Email"], own["Email"]);
        let only_alpha = app.db.count(" AND contact_id = 150", "contacts", "alpha");
        assert_eq!((only_alpha, app.db.count(" AND contact_id = 150", "contacts", "beta")), (1, 0));
        assert_eq!(app.get("$entity?$id=Contacts(150)", &t).await.status, 200);
        assert_eq!(app.get("$entity?$id=Contacts(150)", &beta).await.status, 404);
        for (url, status, says) in [
            ("$entity?$id=http://elsewhere.example/Contacts(7)", 404, "not the id of an entity of this service"),
            ("$entity?$id=Contacts", 400, "must be the id of one entity"),
            ("$entity?$id=Contacts(7)/Leads", 400, "must be the id of one entity"),
            ("$entity/Prospect.Crm.Lead?$id=Contacts(7)", 404, "is a Prospect.Crm.Contact"),
            ("$entity?$id=Contacts(7)&$select=Surname", 400, "need a type cast"),
            ("$entity", 400, "$id"),
            ("$crossjoin(Contacts,Leads)/$count", 400, "nothing may follow `$crossjoin(...)`"),
        ] {
            app.refuses(url, &t, status, says).await;
        }
    })
    .await;
}

/// `/$filter(...)` path segments (4.01) narrow the collection the options then apply
/// to: the same rows as `$filter`, counted, paged, aggregated, in the caller's workspace.
#[actix_web::test]
async fn filter_segments_narrow_the_collection() {
    each_backend(|app, t, beta| async move {
        let ids = |r: Reply| -> Vec<i64> {
            assert_eq!(r.status, 200, "{}", r.text);
            r.values().iter().map(|v| v["ContactId"].as_i64().unwrap()).collect()
        };
        for f in ["Surname eq 'Smith'", "startswith(Surname,'S') and Leads/any()", "Division/Employees gt 50"] {
            let by_option = ids(app.get(&format!("Contacts?$filter={f}&$select=ContactId&$orderby=ContactId&$top=100000"), &t).await);
            let by_segment = ids(app.get(&format!("Contacts/$filter({f})?$select=ContactId&$orderby=ContactId&$top=100000"), &t).await);
            assert!(!by_option.is_empty(), "{f}");
            assert_eq!(by_segment, by_option, "{f}");
            let count = app.get(&format!("Contacts/$filter({f})/$count"), &t).await;
            assert_eq!(count.text, by_option.len().to_string(), "{f}");
        }
        // Segments and the option together are all of them.
        let both = ids(app.get("Contacts/$filter(startswith(Surname,'S'))/$filter(Leads/any())?$filter=ContactId gt 20&$select=ContactId&$orderby=ContactId&$top=100000", &t).await);
        let all = ids(app.get("Contacts?$filter=startswith(Surname,'S') and Leads/any() and ContactId gt 20&$select=ContactId&$orderby=ContactId&$top=100000", &t).await);
        assert_eq!(both, all);
        // Paged through nextLink, nothing lost or repeated.
        let mut seen = Vec::new();
        let mut next = Some("Contacts/$filter(startswith(Surname,'S'))?$select=ContactId".to_owned());
        while let Some(url) = next.take() {
            let r = app.get_with(&url, &t, &[("Prefer", "odata.maxpagesize=7")]).await;
            next = r.json()["@odata.nextLink"].as_str().map(str::to_owned);
            seen.extend(ids(r));
        }
        let want = ids(app.get("Contacts?$filter=startswith(Surname,'S')&$select=ContactId&$orderby=ContactId&$top=100000", &t).await);
        assert!(want.len() > 7);
        assert_eq!(seen, want);
        // Before $apply, which then starts from the narrowed collection.
        let r = app.get("Contacts/$filter(startswith(Surname,'S'))?$apply=aggregate($count as N)", &t).await;
        assert_eq!(r.values()[0]["N"].as_i64(), Some(want.len() as i64), "{}", r.text);
        // Another workspace's token counts its own rows.
        let theirs = app.get("Contacts/$filter(startswith(Surname,'S'))/$count", &beta).await;
        let in_beta = app.db.count_with_text(" AND substr(surname, 1, 1) = ", "S", "", "contacts", "beta");
        assert_eq!(theirs.text, in_beta.to_string());
        for (url, status) in [("Contacts(1)/$filter(true)", 400), ("Contacts/$filter(true)/Leads", 501), ("Contacts/$filter(Nope eq 1)", 400)] {
            assert_eq!(app.get(url, &t).await.status, status, "{url}");
        }
    })
    .await;
}

/// Key-as-segment (URL conventions 4.3.6, advertised in `$metadata`): `Contacts/7` is
/// `Contacts(7)`, `LeadStatus/WON` is `LeadStatus('WON')`, further segments alike; in the
/// caller's workspace only.
#[actix_web::test]
async fn a_key_may_be_a_path_segment() {
    each_backend(|app, t, beta| async move {
        for (segment, parens) in [
            ("Contacts/7", "Contacts(7)"),
            (
                "Contacts/7?$select=Surname&$expand=Division($select=Name)",
                "Contacts(7)?$select=Surname&$expand=Division($select=Name)",
            ),
            ("LeadStatus/WON", "LeadStatus('WON')"),
            (
                "Contacts/7/Leads?$orderby=LeadId",
                "Contacts(7)/Leads?$orderby=LeadId",
            ),
            (
                "LeadStatus/WON/Leads?$top=3&$orderby=LeadId&$select=LeadId",
                "LeadStatus('WON')/Leads?$top=3&$orderby=LeadId&$select=LeadId",
            ),
        ] {
            let (a, b) = (app.get(segment, &t).await, app.get(parens, &t).await);
            assert_eq!((a.status, b.status), (200, 200), "{segment}: {}", a.text);
            assert_eq!(a.json(), b.json(), "{segment}");
        }
        let lead = app
            .get("Contacts(7)/Leads?$top=1&$select=LeadId", &t)
            .await
            .values()[0]["LeadId"]
            .clone();
        let r = app
            .get(&format!("Contacts/7/Leads/{lead}?$select=LeadId"), &t)
            .await;
        assert_eq!(r.json()["LeadId"], lead, "{}", r.text);
        assert_eq!(
            app.get("Contacts/7/Surname/$value", &t).await.text,
            app.get("Contacts(7)/Surname/$value", &t).await.text
        );
        assert_eq!(
            app.get("Contacts/7/Leads/$count", &t).await.text,
            app.get("Contacts(7)/Leads/$count", &t).await.text
        );
        // Another workspace's token: its own contact 7, and no contact 150.
        assert_eq!(
            app.get("Contacts/7", &beta).await.json(),
            app.get("Contacts(7)", &beta).await.json()
        );
        assert_eq!(app.get("Contacts/150", &t).await.status, 200);
        assert_eq!(app.get("Contacts/150", &beta).await.status, 404);
        let r = app.get("Contacts/x", &t).await;
        assert_eq!(r.status, 404, "{}", r.text);
        assert!(
            r.text.contains("`x` is neither a key of Contacts"),
            "{}",
            r.text
        );
        let r = app.get("Contacts/Leads", &t).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(
            r.text.contains("`Contacts(1)/Leads` or `Contacts/1/Leads`"),
            "{}",
            r.text
        );
        assert!(app
            .get("$metadata", &t)
            .await
            .text
            .contains("Capabilities.KeyAsSegmentSupported"));
    })
    .await;
}

/// `$metadata` carries a strong ETag per representation; `If-None-Match` with it (weakly
/// compared, in a list, or `*`) is a 304 without a body.
#[actix_web::test]
async fn metadata_is_revalidated_with_its_etag() {
    each_backend(|app, t, _| async move {
        let xml = app.get("$metadata", &t).await;
        let json = app.get("$metadata?$format=json", &t).await;
        let (x, j) = (
            xml.header("etag").unwrap().to_owned(),
            json.header("etag").unwrap().to_owned(),
        );
        assert!(x.starts_with('"') && x.ends_with('"') && x != j, "{x} {j}");
        for (url, tag, value) in [
            ("$metadata", &x, x.clone()),
            ("$metadata", &x, format!("W/{x}")),
            ("$metadata", &x, format!("\"other\", {x}")),
            ("$metadata", &x, "*".to_owned()),
            ("$metadata?$format=json", &j, j.clone()),
        ] {
            let r = app
                .get_with(url, &t, &[("If-None-Match", value.as_str())])
                .await;
            assert_eq!(r.status, 304, "{url} {value}");
            assert!(r.text.is_empty());
            assert_eq!(r.header("etag"), Some(tag.as_str()));
        }
        // Another representation's tag, or a stale one, gets the document.
        let r = app
            .get_with(
                "$metadata?$format=json",
                &t,
                &[("If-None-Match", x.as_str())],
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.text, json.text);
        let r = app
            .get_with("$metadata", &t, &[("If-None-Match", "\"stale\"")])
            .await;
        assert_eq!((r.status, r.text.len()), (200, xml.text.len()));
    })
    .await;
}

/// A navigation property in `$select` is named by the context URL, once, and its link
/// written in full metadata; `$select` through a navigation is refused with the way to
/// say it.
#[actix_web::test]
async fn a_selected_navigation_property_is_named_by_the_context() {
    each_backend(|app, t, _| async move {
        let r = app.get("Contacts(1)?$select=Surname,Leads", &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let doc = r.json();
        assert!(
            doc["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("#Contacts(Surname,Leads)/$entity"),
            "{doc}"
        );
        assert!(
            doc.get("Leads").is_none() && doc["Surname"].is_string(),
            "{doc}"
        );
        let full = app
            .get(
                "Contacts(1)?$select=Surname,Leads&$format=application/json;odata.metadata=full",
                &t,
            )
            .await
            .json();
        assert_eq!(
            full["Leads@odata.navigationLink"], "Contacts(1)/Leads",
            "{full}"
        );
        let both = app
            .get(
                "Contacts?$select=Leads&$expand=Leads($select=LeadId)&$top=1",
                &t,
            )
            .await
            .json();
        assert!(
            both["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("#Contacts(Leads(LeadId))"),
            "{both}"
        );
        let r = app.get("Contacts?$select=Division/Name", &t).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(
            r.text.contains("$expand=Division($select=...)"),
            "{}",
            r.text
        );
        // Likewise an expand path through navigation (OData lets one pass only
        // through complex properties): the error gives the nested form.
        let r = app
            .get("Contacts?$expand=Division/Company/AccountManager", &t)
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(
            r.text
                .contains("$expand=Division($expand=Company($expand=AccountManager))"),
            "{}",
            r.text
        );
        assert_eq!(r.json()["error"]["target"], "$expand", "{}", r.text);
        let nested = app
            .get(
                "Contacts?$expand=Division($expand=Company)&$top=1&$select=ContactId",
                &t,
            )
            .await;
        assert_eq!(nested.status, 200, "{}", nested.text);
    })
    .await;
}

/// The model's index declarations (which the compiler trusts when it decides whether an
/// index can answer a `$count` filter alone) are the indexes the migrations create.
#[test]
fn declared_indexes_match_the_migrations() {
    use diesel::sql_types::Text;
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Col {
        #[diesel(sql_type = Text)]
        idx: String,
        #[diesel(sql_type = Text)]
        col: String,
    }
    let db = TestDb::new(Backend::Sqlite);
    let mut conn = db.conn();
    for e in &crm_odata::model::MODEL.types {
        let rows: Vec<Col> = diesel::sql_query(
            "SELECT il.name AS idx, ii.name AS col FROM pragma_index_list(?) il, \
             pragma_index_info(il.name) ii WHERE il.origin = 'c' ORDER BY il.name, ii.seqno",
        )
        .bind::<Text, _>(e.table)
        .load(&mut conn)
        .expect("index list");
        let mut found: Vec<(String, Vec<&str>)> = Vec::new();
        for r in &rows {
            if r.col == "workspace_id" {
                continue;
            }
            let prop = e
                .properties
                .iter()
                .find(|p| p.column == r.col)
                .unwrap_or_else(|| panic!("{}: index column {} is no property", e.table, r.col));
            match found.last_mut() {
                Some((name, cols)) if *name == r.idx => cols.push(prop.name),
                _ => found.push((r.idx.clone(), vec![prop.name])),
            }
        }
        let mut actual: Vec<Vec<&str>> = found.into_iter().map(|(_, c)| c).collect();
        let mut declared: Vec<Vec<&str>> = e.indexes.iter().map(|ix| ix.to_vec()).collect();
        actual.sort();
        declared.sort();
        assert_eq!(actual, declared, "indexes of {}", e.table);
        // Each declared trigram index exists, case-sensitive, with the triggers that keep
        // it in step with the table.
        for (prop, fts) in e.trigram {
            let column = e.property(prop).expect("trigram property").column;
            let rows: Vec<Col> = diesel::sql_query(
                "SELECT type AS idx, sql AS col FROM sqlite_master WHERE name = ?1 \
                 OR (type = 'trigger' AND tbl_name = ?2 AND name LIKE ?1 || '%') ORDER BY name",
            )
            .bind::<Text, _>(fts)
            .bind::<Text, _>(e.table)
            .load(&mut conn)
            .expect("schema");
            assert_eq!(rows.len(), 4, "{fts}: table and three triggers");
            let table = rows.iter().find(|r| r.idx == "table").expect("fts table");
            assert!(
                table.col.contains("fts5") && table.col.contains("trigram case_sensitive 1"),
                "{}",
                table.col
            );
            assert!(table.col.contains(column), "{}", table.col);
        }
    }
}

/// The bundled SQLite is built with the planner stability guarantee, so statements with
/// bound `LIMIT`s stay prepared (see `.cargo/config.toml`), and without STAT4.
#[test]
fn sqlite_is_built_for_reusable_statements() {
    use diesel::sql_types::Text;
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Opt {
        #[diesel(sql_type = Text)]
        compile_options: String,
    }
    let db = TestDb::new(Backend::Sqlite);
    let opts: Vec<String> = diesel::sql_query("SELECT compile_options FROM pragma_compile_options")
        .load::<Opt>(&mut db.conn())
        .expect("compile options")
        .into_iter()
        .map(|o| o.compile_options)
        .collect();
    assert!(opts.iter().any(|o| o == "ENABLE_QPSG"), "{opts:?}");
    assert!(
        !opts.iter().any(|o| o.starts_with("ENABLE_STAT4")),
        "{opts:?}"
    );
}

#[actix_web::test]
async fn contains_finds_exactly_the_rows_it_should_whatever_serves_it() {
    use diesel::connection::SimpleConnection;
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    each_backend(|app, alpha, beta| async move {
        let count = |filter: String, token: String| {
            let app = &app;
            async move {
                let q = format!("Contacts/$count?$filter={}", utf8_percent_encode(&filter, NON_ALPHANUMERIC));
                let r = app.get(&q, &token).await;
                assert_eq!(r.status, 200, "{filter}: {}", r.text);
                r.text.parse::<i64>().unwrap()
            }
        };
        let ids = |filter: String, token: String| {
            let app = &app;
            async move {
                let q = format!(
                    "Contacts?$select=ContactId&$top=100000&$filter={}",
                    utf8_percent_encode(&filter, NON_ALPHANUMERIC)
                );
                let mut v: Vec<i64> = app.get(&q, &token).await.values().iter().map(|c| c["ContactId"].as_i64().unwrap()).collect();
                v.sort_unstable();
                v
            }
        };
        // On SQLite a required contains(Email, ...) of three or more characters is served by
        // a trigram index; inside `or` it is not. Both must give the database's exact answer,
        // case-sensitive, with quotes and wildcards taken literally.
        for value in ["@prospectsoft.com", "smith.", "Smith", "ith", "co", "a\"b", "%", "_", "o'n", "é.", ".com"] {
            let literal = value.replace('\'', "''");
            let direct = format!("contains(Email,'{literal}')");
            let widened = format!("contains(Email,'{literal}') or ContactId eq -1");
            let n = count(direct.clone(), alpha.clone()).await;
            let position = if app.db.url.starts_with("postgres") { " AND strpos(email, " } else { " AND instr(email, " };
            let expected = app.db.count_with_text(position, value, ") > 0", "contacts", "alpha");
            assert_eq!(n, expected, "{value:?}");
            // The first lookups of a value ask for the trigrams that tile it while the
            // server counts them, a few per read; later ones ask for the two rarest only.
            for _ in 0..4 {
                assert_eq!(count(direct.clone(), alpha.clone()).await, n, "{value:?} again");
            }
            assert_eq!(count(widened.clone(), alpha.clone()).await, n, "{value:?}");
            assert_eq!(ids(direct.clone(), alpha.clone()).await, ids(widened, alpha.clone()).await, "{value:?}");
            let and_flag = count(format!("{direct} and StatusFlag eq 'A'"), alpha.clone()).await;
            assert!(and_flag <= n);
        }
        assert!(count("contains(Email,'@prospectsoft.com')".into(), alpha.clone()).await > 0);
        // The index follows every change of an email, and stays within the workspace.
        let mut conn = app.db.conn();
        let set = |ws: &str, id: i64, email: &str| {
            format!(
                "UPDATE contacts SET email = {email} WHERE contact_id = {id} AND workspace_id = (SELECT id FROM workspaces WHERE name = '{ws}');"
            )
        };
        conn.batch_execute(&set("alpha", 7, "'zq.one@trigram.example'")).unwrap();
        conn.batch_execute(&set("beta", 8, "'zq.one@trigram.example'")).unwrap();
        assert_eq!(ids("contains(Email,'@trigram.example')".into(), alpha.clone()).await, vec![7]);
        assert_eq!(ids("contains(Email,'@trigram.example')".into(), beta.clone()).await, vec![8]);
        conn.batch_execute(&set("alpha", 7, "'zq.two@elsewhere.example'")).unwrap();
        assert!(ids("contains(Email,'@trigram.example')".into(), alpha.clone()).await.is_empty());
        assert_eq!(ids("contains(Email,'zq.two@else')".into(), alpha.clone()).await, vec![7]);
        conn.batch_execute(&set("alpha", 7, "NULL")).unwrap();
        assert!(ids("contains(Email,'zq.two@else')".into(), alpha.clone()).await.is_empty());
        assert_eq!(ids("contains(Email,'zq.one@trigram') and StatusFlag ne 'X'".into(), beta.clone()).await, vec![8]);
    })
    .await;
}

/// Every request checks its token by its hash: the unique index on the hash serves that
/// lookup on both databases, however many tokens there are (on PostgreSQL a char(n)
/// column compared with a text value could not use it, and each check read every token).
#[test]
fn the_token_check_is_served_by_the_hash_index() {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        pg: String,
    }
    #[derive(diesel::QueryableByName)]
    struct SqliteLine {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    for backend in backends() {
        let db = TestDb::new(backend);
        db.seed("w", 5, 1);
        let mut conn = db.conn();
        let hash = crm_odata::auth::hash_token("not a token");
        let mut q = crm_odata::sql::Sql::<diesel::sql_types::Text>::new();
        let pg = db.dialect == crm_odata::db::Dialect::Postgres;
        q.sql(if pg {
            "EXPLAIN SELECT "
        } else {
            "EXPLAIN QUERY PLAN SELECT "
        });
        crm_odata::auth::live_token(&mut q, &hash, 1);
        let plan: Vec<String> = if pg {
            // With a handful of tokens a scan is cheapest; what matters is that the index can serve.
            diesel::sql_query("SET enable_seqscan = off")
                .execute(&mut conn)
                .unwrap();
            let lines: Vec<Line> = q
                .returning::<diesel::sql_types::Untyped>()
                .load(&mut conn)
                .unwrap();
            lines.into_iter().map(|l| l.pg).collect()
        } else {
            let lines: Vec<SqliteLine> = q
                .returning::<diesel::sql_types::Untyped>()
                .load(&mut conn)
                .unwrap();
            lines.into_iter().map(|l| l.detail).collect()
        };
        let plan = plan.join("\n");
        assert!(plan.contains("token_hash"), "{backend:?}: {plan}");
        assert!(
            !plan.contains("Seq Scan") && !plan.contains("SCAN lt"),
            "{backend:?}: {plan}"
        );
    }
}

/// On PostgreSQL a trigram lookup is planned with its value every time: kept prepared, the
/// statement would turn generic after five executions and scan the table in key order.
/// Other statements stay prepared, and a page's plan is reused rather than made anew.
#[test]
fn trigram_lookups_are_planned_for_their_values_and_pages_reuse_theirs() {
    use crm_odata::bind::{bind, Target};
    use crm_odata::sql::Output;
    use diesel::RunQueryDsl;
    for backend in backends() {
        let db = TestDb::new(backend);
        db.seed("w", 60, 3);
        let mut conn = db.conn();
        let ws = crm_odata::auth::find_workspace(&mut conn, "w")
            .unwrap()
            .unwrap();
        let mut run = |target: &str| -> usize {
            let url = odata_parser::parse_target(target).unwrap();
            let Target::Entities(read) = bind(&url).unwrap() else {
                panic!("{target}")
            };
            let plan = crm_odata::plan::plan_read(&read, 1000, None).unwrap();
            let mut n = 0;
            for _ in 0..7 {
                n = crm_odata::exec::read_page(
                    &mut conn,
                    db.dialect,
                    ws.into(),
                    None,
                    &plan,
                    Output::default(),
                    false,
                )
                .unwrap()
                .rows
                .len();
            }
            n
        };
        let found = run("Contacts?$filter=contains(Email,'.com')");
        assert_eq!(
            found as i64,
            db.count(" AND email LIKE '%.com%'", "contacts", "w")
        );
        assert!(found > 0);
        run("Contacts?$filter=Surname eq 'Smith'");
        assert_eq!(
            run("Contacts?$top=50&$expand=Division($expand=Company)"),
            50
        );
        assert_eq!(run("Contacts?$top=7&$expand=Leads($select=LeadId)"), 7);
        if db.dialect == crm_odata::db::Dialect::Postgres {
            #[derive(diesel::QueryableByName)]
            struct Prepared {
                #[diesel(sql_type = diesel::sql_types::Text)]
                statement: String,
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                generic_plans: i64,
            }
            let kept: Vec<Prepared> =
                diesel::sql_query("SELECT statement, generic_plans FROM pg_prepared_statements")
                    .load::<Prepared>(&mut conn)
                    .unwrap();
            let texts: Vec<&str> = kept.iter().map(|p| p.statement.as_str()).collect();
            assert!(
                texts.iter().any(|s| s.contains("\"surname\" = $")),
                "{texts:?}"
            );
            assert!(!texts.iter().any(|s| s.contains(" LIKE ")), "{texts:?}");
            // A page's row limit is a planning constant, so after its first executions
            // PostgreSQL reuses one plan for it instead of planning it every time.
            let page = kept
                .iter()
                .find(|p| p.statement.contains("LIMIT 51"))
                .unwrap_or_else(|| panic!("{texts:?}"));
            assert!(page.generic_plans > 0, "{}", page.statement);
            // Single-valued expands come back as values, not as JSON built per row.
            assert!(
                page.statement.contains("ARRAY[") && page.statement.contains("LEFT JOIN"),
                "{}",
                page.statement
            );
            // So do collection-valued ones.
            assert!(
                texts
                    .iter()
                    .any(|s| s.contains("json_agg(s.j)") && s.contains("to_json(ARRAY[")),
                "{texts:?}"
            );
        }
    }
}

/// A request's token check and reads share one SQLite transaction on one connection; the
/// connection goes back to the pool with that transaction ended, whatever the request did.
/// Every pooled connection then sees a change made after it was last used.
#[actix_web::test]
async fn every_pooled_connection_sees_changes_made_after_its_last_request() {
    use diesel::connection::SimpleConnection;
    use futures_util::future::join_all;
    each_backend(|app, t, _| async move {
        let paths = [
            "Contacts(5)",
            "Contacts?$filter=ContactId eq 5&$expand=Leads",
            "Contacts(5)/Surname",
            "Contacts(999999)",
            "Contacts?$filter=nonsense eq 1",
            "Contacts/$count",
            "$metadata",
        ];
        for round in 0..3 {
            // Use many connections, ending requests every way: found, not found, bad request.
            let replies = join_all((0..40).map(|i| app.get(paths[i % paths.len()], &t))).await;
            assert!(replies.iter().all(|r| r.status < 500), "no request may fail with 5xx");
            let name = format!("Changed{round}");
            app.db
                .conn()
                .batch_execute(&format!(
                    "UPDATE contacts SET surname = '{name}' WHERE contact_id = 5 AND workspace_id = (SELECT id FROM workspaces WHERE name = 'alpha')"
                ))
                .unwrap();
            let seen = join_all((0..24).map(|i| {
                let path = if i % 2 == 0 {
                    "Contacts(5)?$select=Surname"
                } else {
                    "Contacts?$filter=ContactId eq 5&$select=Surname"
                };
                app.get(path, &t)
            }))
            .await;
            for r in &seen {
                let j = r.json();
                let surname = j.get("value").map_or(&j["Surname"], |v| &v[0]["Surname"]);
                assert_eq!(surname, &Value::from(name.clone()), "{}", r.text);
            }
        }
    })
    .await;
}

/// A client may reuse its connection after a pause (HTTP libraries keep idle connections
/// for a minute or more): the server must not have closed it after a few seconds.
#[actix_web::test]
async fn an_idle_connection_is_still_open_after_a_pause() {
    use std::io::{Read, Write};
    let app = spawn_seeded(Backend::Sqlite).await;
    let token = app.db.token("alpha");
    let addr = app.base.trim_start_matches("http://").to_owned();
    let outcome = actix_web::rt::task::spawn_blocking(move || -> std::io::Result<Vec<String>> {
        let mut conn = std::net::TcpStream::connect(&addr)?;
        conn.set_read_timeout(Some(std::time::Duration::from_secs(20)))?;
        let mut heads = Vec::new();
        for pause in [0, 7] {
            std::thread::sleep(std::time::Duration::from_secs(pause));
            write!(
                conn,
                "GET /Contacts/$count HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
            )?;
            // The answer is small: read until its body (a count) has arrived.
            let mut got = Vec::new();
            let mut buf = [0; 4096];
            loop {
                let n = conn.read(&mut buf)?;
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if n == 0 || text.split_once("\r\n\r\n").is_some_and(|(_, body)| !body.is_empty()) {
                    break;
                }
            }
            heads.push(String::from_utf8_lossy(&got).lines().next().unwrap_or("").to_owned());
        }
        Ok(heads)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(outcome, ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]);
}

/// A page whose rows would pass the page budget ends early with a nextLink; following
/// the links gives every row once, in order, and no page holds much more than the budget.
/// Here each lead carries its pipeline with all of that pipeline's leads.
#[actix_web::test]
async fn a_page_of_large_expanded_rows_ends_early_and_continues_by_nextlink() {
    each_backend(|app, t, _| async move {
        let all: Vec<i64> = app
            .get("Leads?$select=LeadId&$top=100000", &t)
            .await
            .values()
            .iter()
            .filter_map(|v| v["LeadId"].as_i64())
            .collect();
        let full = [("accept", "application/json;odata.metadata=full")];
        let mut url =
            "Leads?$select=LeadId&$expand=Pipeline($select=Code;$expand=Leads)".to_owned();
        let (mut seen, mut pages) = (Vec::new(), 0);
        loop {
            let r = app.get_with(&url, &t, &full).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let doc = r.json();
            let rows = doc["value"].as_array().unwrap();
            let largest = rows.iter().map(|v| v.to_string().len()).max().unwrap_or(0);
            assert!(
                r.text.len() <= crm_odata::exec::PAGE_BUDGET + 2 * largest + 4096,
                "{}",
                r.text.len()
            );
            seen.extend(rows.iter().filter_map(|v| v["LeadId"].as_i64()));
            pages += 1;
            match doc["@odata.nextLink"].as_str() {
                Some(next) => url = next.to_owned(),
                None => break,
            }
        }
        assert_eq!(seen, all);
        assert!(
            pages > 1,
            "{:?}: the rows fit one page; the test needs larger ones",
            app.backend
        );
    })
    .await;
}

/// Collections expanded inside collections multiply (every pipeline's leads, each with
/// every lead of its pipeline, and again): past what one response may build, SQLite's
/// statement is cut short (PostgreSQL's by a statement timeout or its own size limit)
/// and the client told to page the inner expands; paged, the same shape is answered.
#[actix_web::test]
async fn expands_that_multiply_past_the_limits_are_refused_and_the_server_carries_on() {
    each_backend(|app, t, _| async move {
    // Three levels of leads: about 7 million lead objects per pipeline, past either
    // database's limits on any host (two levels, 54 MB for the first pipeline, fit in
    // PostgreSQL's 10 s on a fast one).
    let bomb = "LeadPipelines?$expand=Leads($expand=Pipeline($expand=Leads($expand=Pipeline($expand=Leads($expand=Pipeline($expand=Leads))))))";
    let r = app.get(bomb, &t).await;
    assert_eq!(r.status, 400, "{}", &r.text[..r.text.len().min(300)]);
    let code = r.json()["error"]["code"].as_str().unwrap().to_owned();
    assert!(
        ["QueryTooExpensive", "ResponseTooLarge"].contains(&code.as_str()),
        "{code}"
    );
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("$top"));
    let paged = "LeadPipelines?$expand=Leads($top=2;$expand=Pipeline($expand=Leads($top=2;$expand=Pipeline($expand=Leads($top=2)))))";
    let r = app.get(paged, &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let first = &r.values()[0]["Leads"][0]["Pipeline"]["Leads"][0]["Pipeline"]["Leads"];
    assert_eq!(first.as_array().map(Vec::len), Some(2), "{first}");
    assert_eq!(app.get("Contacts(1)?$expand=Leads", &t).await.status, 200);
    })
    .await;
}

/// `$orderby` keys given again are dropped (the first decides); past 32 different keys the
/// request is refused, on both databases, instead of failing in the database.
#[actix_web::test]
async fn repeated_and_excessive_orderby_keys() {
    each_backend(|app, t, _| async move {
        let repeated = ["Surname", "Forename", "Created", "Email"]
            .repeat(50)
            .join(",");
        let r = app
            .get(
                &format!("Contacts?$top=5&$select=ContactId&$orderby={repeated}"),
                &t,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let once = app
            .get(
                "Contacts?$top=5&$select=ContactId&$orderby=Surname,Forename,Created,Email",
                &t,
            )
            .await;
        assert_eq!(r.values(), once.values());
        let many: Vec<String> = (1..=33).map(|i| format!("Guttometer add {i}")).collect();
        let r = app
            .get(&format!("Leads?$top=5&$orderby={}", many.join(",")), &t)
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("32"));
        let r = app
            .get(
                &format!("Leads?$top=5&$orderby={}", many[..32].join(",")),
                &t,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    })
    .await;
}

/// A whole set paged through with its single-valued expands (as a report's refresh reads
/// it): every row once, in key order, each with its own related rows, from the caller's
/// workspace only; the other workspace's token gets nothing from the nextLink.
#[actix_web::test]
async fn a_set_paged_with_single_valued_expands_comes_whole() {
    each_backend(|app, t, beta| async move {
        let want: Vec<i64> = app
            .get("Contacts?$select=ContactId&$top=100000", &t)
            .await
            .values()
            .iter()
            .filter_map(|c| c["ContactId"].as_i64())
            .collect();
        assert!(want.len() > 74, "{}", want.len());
        let divisions: std::collections::HashMap<i64, Value> = app
            .get("Divisions?$select=DivisionId,Name,CompanyId&$top=100000", &t)
            .await
            .values()
            .into_iter()
            .filter_map(|d| Some((d["DivisionId"].as_i64()?, d)))
            .collect();
        let mut seen = Vec::new();
        let mut first_link = None;
        let mut next = Some(
            "Contacts?$select=ContactId,DivisionId&$expand=Division($select=Name;$expand=Company($select=CompanyId))"
                .to_owned(),
        );
        while let Some(url) = next.take() {
            let r = app
                .get_with(&url, &t, &[("Prefer", "odata.maxpagesize=37")])
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            for c in r.values() {
                let id = c["ContactId"].as_i64().unwrap();
                seen.push(id);
                match c["DivisionId"].as_i64() {
                    Some(d) => {
                        let mine = &divisions[&d];
                        assert_eq!(c["Division"]["Name"], mine["Name"], "{c}");
                        assert_eq!(
                            c["Division"]["Company"]["CompanyId"], mine["CompanyId"],
                            "{c}"
                        );
                    }
                    None => assert!(c["Division"].is_null(), "{c}"),
                }
            }
            next = r.json()["@odata.nextLink"].as_str().map(str::to_owned);
            first_link = first_link.or(next.clone());
        }
        assert_eq!(seen, want);
        let replay = app.get(&first_link.unwrap(), &beta).await;
        assert_eq!(replay.status, 400, "{}", replay.text);
    })
    .await;
}

/// A property's context names its entity by canonical URL (Protocol §10.14), also after
/// a navigation, whose target's key only the row knows.
#[actix_web::test]
async fn property_context_names_the_entity_it_belongs_to() {
    each_backend(|app, t, _| async move {
        let ctx = |r: &Reply| {
            r.json()["@odata.context"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        let r = app.get("Contacts(1)/Surname", &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            ctx(&r),
            format!("{}/$metadata#Contacts(1)/Surname", app.base)
        );
        let division = app.get("Contacts(1)?$select=DivisionId", &t).await.json()["DivisionId"]
            .as_i64()
            .unwrap();
        let r = app.get("Contacts(1)/Division/Name", &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            ctx(&r),
            format!("{}/$metadata#Divisions({division})/Name", app.base)
        );
        let r = app.get("LeadStatus('WON')/Description", &t).await;
        assert_eq!(
            ctx(&r),
            format!("{}/$metadata#LeadStatus('WON')/Description", app.base)
        );
        // Full metadata and Atom name the same entity; no metadata has no context.
        let full = app
            .get(
                "Contacts(1)/Division/Name?$format=application/json;odata.metadata=full",
                &t,
            )
            .await;
        assert_eq!(
            ctx(&full),
            format!("{}/$metadata#Divisions({division})/Name", app.base)
        );
        let none = app
            .get(
                "Contacts(1)/Surname?$format=application/json;odata.metadata=none",
                &t,
            )
            .await;
        assert_eq!(none.json().get("@odata.context"), None, "{}", none.text);
        assert_eq!(none.json()["value"], r_value(&app, &t).await);
        let raw = app.get("Contacts(1)/Surname/$value", &t).await;
        assert_eq!(Value::String(raw.text.clone()), r_value(&app, &t).await);
    })
    .await;
}

async fn r_value(app: &TestApp, t: &str) -> Value {
    app.get("Contacts(1)?$select=Surname", t).await.json()["Surname"].clone()
}

/// A property through a single-valued navigation that relates to nothing is a 404 that
/// says so, not one that blames its existing source.
#[actix_web::test]
async fn a_property_of_a_null_navigation_is_a_404_naming_the_navigation() {
    each_backend(|app, t, beta| async move {
        let without = app
            .get(
                "Contacts?$filter=AddressId eq null&$select=ContactId&$top=1",
                &t,
            )
            .await
            .values()[0]["ContactId"]
            .as_i64()
            .unwrap();
        let r = app
            .get(&format!("Contacts({without})/Address/Town"), &t)
            .await;
        assert_eq!(r.status, 404, "{}", r.text);
        let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
        assert_eq!(
            message,
            format!("the Address of the Contact with ContactId {without} is null")
        );
        // Through two navigations, and from an entity that does not exist.
        let lead = app
            .get(
                "Leads?$filter=Contact/AddressId eq null&$select=LeadId&$top=1",
                &t,
            )
            .await
            .values()[0]["LeadId"]
            .as_i64()
            .unwrap();
        let r = app
            .get(&format!("Leads({lead})/Contact/Address/Town"), &t)
            .await;
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(
            r.json()["error"]["message"],
            "the Address of the Contact this path navigates to is null"
        );
        let r = app.get("Contacts(99999999)/Address/Town", &t).await;
        assert_eq!(
            r.json()["error"]["message"],
            "no Contact with ContactId 99999999"
        );
        // Another workspace's contact is missing, whatever its address.
        let alpha_only = app
            .get(
                "Contacts?$orderby=ContactId desc&$select=ContactId&$top=1",
                &t,
            )
            .await
            .values()[0]["ContactId"]
            .as_i64()
            .unwrap();
        assert!(
            app.get(&format!("Contacts({alpha_only})"), &beta)
                .await
                .status
                == 404
        );
        let r = app
            .get(&format!("Contacts({alpha_only})/Address/Town"), &beta)
            .await;
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(
            r.json()["error"]["message"],
            format!("no Contact with ContactId {alpha_only}").as_str()
        );
    })
    .await;
}

/// Responses are OData 4.0, so their select lists follow 4.0's rule (Protocol §10.9):
/// an expansion without nested `$select`/`$expand` is left out unless selected, and
/// expanded references are never named.
#[actix_web::test]
async fn context_select_lists_follow_the_4_0_rules() {
    each_backend(|app, t, _| async move {
        for (q, fragment) in [
            ("Contacts?$expand=Leads&$top=1", "Contacts"),
            ("Contacts(1)?$expand=Leads,Division", "Contacts/$entity"),
            (
                "Contacts?$select=ContactId&$expand=Leads/$ref&$top=1",
                "Contacts(ContactId)",
            ),
            ("Contacts?$expand=Leads/$ref&$top=1", "Contacts"),
            (
                "Contacts?$select=ContactId&$expand=Leads/$count&$top=1",
                "Contacts(ContactId)",
            ),
            (
                "Contacts?$select=Surname&$expand=Division($select=Name;$expand=Company)&$top=1",
                "Contacts(Surname,Division(Name))",
            ),
            (
                "Contacts?$select=ContactId,Leads&$expand=Leads&$top=1",
                "Contacts(ContactId,Leads)",
            ),
            (
                "Contacts?$expand=Division($expand=Company)&$top=1",
                "Contacts(*,Division(*))",
            ),
            (
                "Contacts(1)?$select=Leads,Division&$expand=Leads($select=LeadId)",
                "Contacts(Division,Leads(LeadId))/$entity",
            ),
        ] {
            let r = app.get(q, &t).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            assert_eq!(
                r.json()["@odata.context"],
                format!("{}/$metadata#{fragment}", app.base).as_str(),
                "{q}"
            );
        }
    })
    .await;
}

/// OData 4.01 makes the `odata.` prefix of preferences optional (Protocol §8.2.8).
#[actix_web::test]
async fn preferences_are_honoured_with_or_without_the_odata_prefix() {
    each_backend(|app, t, _| async move {
        for name in ["maxpagesize", "odata.maxpagesize", "ODATA.MaxPageSize"] {
            let r = app
                .get_with(
                    "Contacts?$select=ContactId",
                    &t,
                    &[("Prefer", &format!("{name}=2"))],
                )
                .await;
            assert_eq!(r.values().len(), 2, "{name}: {}", r.text);
            assert!(r.json()["@odata.nextLink"].is_string(), "{name}");
            assert_eq!(
                r.header("preference-applied"),
                Some(format!("{name}=2").as_str())
            );
        }
    })
    .await;
}

/// System query options a read has no use for are refused, not silently ignored.
#[actix_web::test]
async fn options_a_read_cannot_honour_are_refused() {
    each_backend(|app, t, _| async move {
        for (q, status, target) in [
            ("Contacts?$schemaversion=1&$top=1", 404, "$schemaversion"),
            ("Contacts?$deltatoken=abc&$top=1", 501, "$deltatoken"),
            ("Contacts?$index=1&$top=1", 400, "$index"),
            ("Contacts?$id=Contacts(1)", 400, "$id"),
            ("$metadata?$schemaversion=2", 404, "$schemaversion"),
        ] {
            let r = app.get(q, &t).await;
            assert_eq!(r.status, status, "{q}: {}", r.text);
            assert_eq!(r.json()["error"]["target"], target, "{q}");
        }
        let r = app.get("Contacts?$schemaversion=*&$top=1", &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app.get("$entity?$id=Contacts(1)", &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
    })
    .await;
}

/// `odata.streaming=false` is answered as asked; the default stays `true`.
#[actix_web::test]
async fn the_content_type_repeats_the_streaming_the_client_asked_for() {
    each_backend(|app, t, _| async move {
        let r = app
            .get_with(
                "Contacts(1)",
                &t,
                &[("Accept", "application/json;odata.streaming=false")],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let ct = r.header("content-type").unwrap_or_default().to_owned();
        assert!(ct.contains("odata.streaming=false"), "{ct}");
        let r = app.get("Contacts(1)", &t).await;
        let ct = r.header("content-type").unwrap_or_default().to_owned();
        assert!(ct.contains("odata.streaming=true"), "{ct}");
    })
    .await;
}

/// OData's null logic (Part 2 §5.1.1.3-4): a comparison with null is false, also under
/// `not`; a function of null is null and `not null` is null, so neither side of
/// `startswith(x,'a') or not startswith(x,'a')` holds for a null `x`; `all` holds only
/// where its condition is true for every member, however it is negated or nested.
#[actix_web::test]
async fn null_logic_follows_odata_under_negation_and_lambdas() {
    each_backend(|app, t, beta| async move {
        let count = |q: String, token: String| {
            let app = &app;
            async move {
                let r = app.get(&q, &token).await;
                assert_eq!(r.status, 200, "{q}: {}", r.text);
                r.text.parse::<i64>().unwrap_or_else(|_| panic!("{q}: {}", r.text))
            }
        };
        let c = |f: &str| count(format!("Contacts/$count?$filter={f}"), t.clone());
        let l = |f: &str| count(format!("Leads/$count?$filter={f}"), t.clone());
        let contacts = count("Contacts/$count".into(), t.clone()).await;
        let leads = count("Leads/$count".into(), t.clone()).await;

        // `all` under `not`: the contacts with a lead whose CloseDate is null or early.
        let cond = "l/CloseDate gt 2000-01-01T00:00:00Z";
        let all = c(&format!("Leads/all(l:{cond})")).await;
        let not_all = c(&format!("not Leads/all(l:{cond})")).await;
        let refuted = c("Leads/any(l:l/CloseDate eq null or l/CloseDate le 2000-01-01T00:00:00Z)").await;
        assert!(refuted > 0 && refuted < contacts, "{refuted} of {contacts}");
        assert_eq!(not_all, refuted);
        assert_eq!(all + not_all, contacts);
        assert_eq!(c(&format!("not (not (not Leads/all(l:{cond})))")).await, refuted);
        // Nested: every division's contacts all have a PreferredName after 'A'.
        let companies = |f: &str| count(format!("Companies/$count?$filter={f}"), t.clone());
        let nested = companies("Divisions/all(d:d/Contacts/all(c:c/PreferredName gt 'A'))").await;
        let spelled = companies(
            "not Divisions/any(d:d/Contacts/any(c:c/PreferredName eq null or c/PreferredName le 'A'))",
        )
        .await;
        assert_eq!(nested, spelled);
        assert_eq!(
            companies("not Divisions/any(d:d/Contacts/all(c:c/PreferredName gt 'A'))").await
                + companies("Divisions/any(d:d/Contacts/all(c:c/PreferredName gt 'A'))").await,
            count("Companies/$count".into(), t.clone()).await
        );

        // A function of null is null, and so is its negation.
        let with_summary = l("SituationSummary ne null").await;
        assert!(with_summary < leads, "some leads have no summary");
        let starts = l("startswith(SituationSummary,'A')").await;
        assert_eq!(l("not startswith(SituationSummary,'A')").await, with_summary - starts);
        assert_eq!(
            l("startswith(SituationSummary,'A') or not startswith(SituationSummary,'A')").await,
            with_summary
        );
        assert_eq!(l("not contains(CreatedByUserId,null)").await, 0);
        assert_eq!(
            c("Leads/any(l:not contains(l/SituationSummary,'a'))").await,
            c("Leads/any(l:l/SituationSummary ne null and not contains(l/SituationSummary,'a'))").await
        );
        // ... while a comparison with null is false, so its negation holds.
        assert_eq!(l("not (SituationSummary eq 'x')").await, leads);
        assert_eq!(l("not (Guttometer gt 1000)").await, leads);
        // A null Boolean property is neither true nor false.
        let divisions = |f: &str| count(format!("Divisions/$count?$filter={f}"), t.clone());
        assert_eq!(divisions("not IsDistributor").await, divisions("IsDistributor eq false").await);

        // The other workspace counts only its own rows through the same conditions.
        let beta_contacts = count("Contacts/$count".into(), beta.clone()).await;
        let beta_not_all =
            count(format!("Contacts/$count?$filter=not Leads/all(l:{cond})"), beta.clone()).await;
        assert!(beta_not_all <= beta_contacts);
        assert_eq!(beta_contacts, app.db.count("", "contacts", "beta"));
    })
    .await;
}

/// The `@odata.type` full metadata gives a property of the model: every type whose JSON
/// value does not show it (JSON Format 4.01 §4.5.3), i.e. all but strings, Booleans and
/// doubles.
fn full_type(ty: crm_odata::model::EdmType) -> Option<&'static str> {
    use crm_odata::model::EdmType::*;
    match ty {
        String | Boolean | Double => None,
        Byte => Some("#Byte"),
        Int32 => Some("#Int32"),
        Int64 => Some("#Int64"),
        Decimal(..) => Some("#Decimal"),
        DateTimeOffset => Some("#DateTimeOffset"),
    }
}

/// Checks an entity written with full metadata, and the entities it expands: its type,
/// id and edit link; every property's type where its value does not show it; both links
/// of every navigation, grouped right before the navigation's value where it is expanded.
fn assert_full_entity(type_name: &str, obj: &Value) {
    let entity = crm_odata::model::MODEL.entity_type(type_name).unwrap();
    let o = obj.as_object().unwrap_or_else(|| panic!("{obj}"));
    if !o.contains_key("@odata.type") {
        // An entity reference (`$expand=Nav/$ref`): its id alone.
        assert_eq!(o.keys().collect::<Vec<_>>(), ["@odata.id"], "{obj}");
        return;
    }
    assert_eq!(
        o["@odata.type"],
        format!("#Prospect.Crm.{type_name}"),
        "{obj}"
    );
    let edit = o["@odata.editLink"]
        .as_str()
        .unwrap_or_else(|| panic!("{obj}"));
    assert!(
        o["@odata.id"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{edit}")),
        "{obj}"
    );
    for p in &entity.properties {
        if !o.contains_key(p.name) {
            continue;
        }
        let annotation = o.get(&format!("{}@odata.type", p.name));
        assert_eq!(
            annotation.and_then(Value::as_str),
            full_type(p.ty),
            "{}.{}: {obj}",
            type_name,
            p.name
        );
    }
    let keys: Vec<&String> = o.keys().collect();
    for nav in &entity.navigation {
        let assoc = format!("{}@odata.associationLink", nav.name);
        let link = format!("{}@odata.navigationLink", nav.name);
        assert_eq!(o[&assoc], format!("{edit}/{}/$ref", nav.name), "{obj}");
        assert_eq!(o[&link], format!("{edit}/{}", nav.name), "{obj}");
        let at = |k: &str| keys.iter().position(|x| *x == k).unwrap();
        assert_eq!(at(&assoc) + 1, at(&link), "{obj}");
        let Some(value) = o.get(nav.name) else {
            continue;
        };
        // The expanded value follows its control information (a count between them).
        let count = format!("{}@odata.count", nav.name);
        let gap = usize::from(o.contains_key(&count));
        assert_eq!(at(&link) + 1 + gap, at(nav.name), "{obj}");
        match value {
            Value::Array(items) => items.iter().for_each(|v| assert_full_entity(nav.target, v)),
            Value::Null => {}
            v => assert_full_entity(nav.target, v),
        }
    }
}

/// Whether any member of `v`, at any depth, is control information other than the
/// context, count and next link, or an entity reference's id (which minimal metadata has).
fn has_full_control_information(v: &Value) -> bool {
    match v {
        Value::Object(o) if o.len() == 1 && o.contains_key("@odata.id") => false,
        Value::Object(o) => o.iter().any(|(k, v)| {
            (k.contains('@')
                && !k.ends_with("@odata.context")
                && !k.ends_with("@odata.count")
                && !k.ends_with("@odata.nextLink"))
                || has_full_control_information(v)
        }),
        Value::Array(items) => items.iter().any(has_full_control_information),
        _ => false,
    }
}

/// `odata.metadata=full` carries all control information (JSON Format 4.01 §3.1.2): the
/// types of properties, computed and aggregated values that JSON does not show (Int32,
/// Decimal, DateTimeOffset, ...), and each navigation's association and navigation links,
/// on entities expanded at any depth too; minimal and none metadata carry none of it.
#[actix_web::test]
async fn full_metadata_carries_every_type_and_link() {
    each_backend(|app, t, _| async move {
        let full = [("Accept", "application/json;odata.metadata=full")];
        let r = app.get_with("Leads(1)", &t, &full).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let lead = r.json();
        assert_full_entity("Lead", &lead);
        assert_eq!(lead["Guttometer@odata.type"], "#Int32", "{lead}");
        assert_eq!(lead["Created@odata.type"], "#DateTimeOffset", "{lead}");
        assert_eq!(lead["Value@odata.type"], "#Decimal", "{lead}");
        assert_eq!(lead["LeadId@odata.type"], "#Int32", "{lead}");
        assert!(lead.get("Description@odata.type").is_none(), "{lead}");
        assert_eq!(lead["Status@odata.associationLink"], "Leads(1)/Status/$ref");
        assert_eq!(lead["Status@odata.navigationLink"], "Leads(1)/Status");
        // Expanded entities, single-valued and collections, at any depth; with $select.
        for q in [
            "Leads(1)?$expand=Status,Contact($expand=Division($expand=Company))",
            "Contacts(1)?$expand=Leads($expand=Status,Division;$count=true)",
            "Contacts?$top=3&$select=Surname,Created&$expand=Leads($select=Value,Guttometer;$expand=Pipeline($expand=Leads($top=2)))",
            "Divisions?$top=2&$expand=Contacts($top=2;$expand=Leads/$ref),Leads/$count",
        ] {
            let r = app.get_with(q, &t, &full).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            let doc = r.json();
            let set = q.split(['(', '?']).next().unwrap();
            let ty = crm_odata::model::MODEL.entity_set(set).unwrap().name;
            match doc.get("value") {
                Some(Value::Array(rows)) => {
                    assert!(!rows.is_empty(), "{q}");
                    rows.iter().for_each(|v| assert_full_entity(ty, v));
                }
                _ => assert_full_entity(ty, &doc),
            }
            let minimal = app.get(q, &t).await;
            assert_eq!(minimal.status, 200, "{q}: {}", minimal.text);
            assert!(!has_full_control_information(&minimal.json()), "{q}: {}", minimal.text);
        }
        let expanded = app
            .get_with("Leads(1)?$expand=Contact($select=Forename,Created)", &t, &full)
            .await
            .json();
        if let Some(c) = expanded["Contact"].as_object() {
            assert_eq!(c["Created@odata.type"], "#DateTimeOffset", "{expanded}");
            assert!(c.get("Forename@odata.type").is_none(), "{expanded}");
        }
        // Every entity set, every property: within what one object may hold.
        for ty in &crm_odata::model::MODEL.types {
            let r = app.get_with(&format!("{}?$top=2", ty.set), &t, &full).await;
            assert_eq!(r.status, 200, "{}: {}", ty.set, r.text);
            for v in r.values() {
                assert_full_entity(ty.name, &v);
            }
        }
        // A single property: the type of the property the request targets.
        for (q, ty) in [
            ("Leads(1)/Value", Some("#Decimal")),
            ("Leads(1)/Guttometer", Some("#Int32")),
            ("Leads(1)/Created", Some("#DateTimeOffset")),
            ("Leads(1)/LeadId", Some("#Int32")),
            ("Leads(1)/StatusId", None),
        ] {
            let r = app.get_with(q, &t, &full).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            let doc = r.json();
            assert_eq!(doc.get("@odata.type").and_then(Value::as_str), ty, "{q}: {doc}");
            assert!(!doc["value"].is_null(), "{q}: {doc}");
            let minimal = app.get(q, &t).await.json();
            assert!(minimal.get("@odata.type").is_none(), "{q}: {minimal}");
            assert_eq!(minimal["value"], doc["value"], "{q}");
        }
        // Computed values, at the top and inside an expand.
        let q = "Leads?$top=3&$compute=Guttometer mul 2 as G2,Value mul 2 as V2,Created add duration'P1D' as Later,Description as D&$select=G2,V2,Later,D&$expand=Status($compute=Sequence add 1 as Next)";
        let r = app.get_with(q, &t, &full).await;
        assert_eq!(r.status, 200, "{}", r.text);
        for v in r.values() {
            assert_eq!(v["G2@odata.type"], "#Int64", "{v}");
            assert_eq!(v["V2@odata.type"], "#Decimal", "{v}");
            assert_eq!(v["Later@odata.type"], "#DateTimeOffset", "{v}");
            assert!(v.get("D@odata.type").is_none(), "{v}");
            if let Some(s) = v["Status"].as_object() {
                assert_eq!(s["Next@odata.type"], "#Int64", "{v}");
            }
        }
        let minimal = app.get(q, &t).await;
        assert_eq!(minimal.status, 200, "{}", minimal.text);
        assert!(!has_full_control_information(&minimal.json()), "{}", minimal.text);
        // Aggregated values.
        let q = "Leads?$apply=groupby((StatusId,Status/Sequence),aggregate(Value with sum as Total,Guttometer with max as Top,$count as N))";
        let r = app.get_with(q, &t, &full).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let rows = r.values();
        assert!(!rows.is_empty());
        for v in &rows {
            assert_eq!(v["Total@odata.type"], "#Decimal", "{v}");
            assert_eq!(v["Top@odata.type"], "#Int32", "{v}");
            assert_eq!(v["N@odata.type"], "#Int64", "{v}");
            assert!(v.get("StatusId@odata.type").is_none(), "{v}");
            // Grouped rows, and the related entities grouped within them, are transient.
            assert_eq!(v.get("@odata.id"), Some(&Value::Null), "{v}");
            if let Some(s) = v["Status"].as_object() {
                assert_eq!(s["Sequence@odata.type"], "#Int32", "{v}");
                assert_eq!(s.get("@odata.id"), Some(&Value::Null), "{v}");
            }
        }
        for level in ["minimal", "none"] {
            let r = app
                .get_with(q, &t, &[("Accept", &format!("application/json;odata.metadata={level}"))])
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert!(!has_full_control_information(&r.json()), "{level}: {}", r.text);
        }
    })
    .await;
}

/// Integer arithmetic beyond 64 bits is the client's error on both databases: 400
/// `ValueOutOfRange` naming what was out of range, in `$filter`, `$compute`, `$orderby`
/// and `$apply` alike (SQLite would otherwise carry on in floating point).
#[actix_web::test]
async fn integer_overflow_is_value_out_of_range_on_both_databases() {
    each_backend(|app, t, _| async move {
        // The smallest Int64, worked out per row (and null where Guttometer is).
        let min = "(Guttometer mul 0 sub 9223372036854775807 sub 1)";
        for q in [
            "Leads/$count?$filter=Guttometer mul 9223372036854775807 gt 0".to_owned(),
            "Leads?$filter=Guttometer gt 1&$compute=Guttometer mul 9223372036854775807 as X&$select=X&$top=1".to_owned(),
            "Leads?$filter=Guttometer gt 1&$orderby=Guttometer add 9223372036854775807&$top=1".to_owned(),
            "Leads?$filter=Guttometer gt 1&$compute=Guttometer add 9223372036854775807 as X&$orderby=X desc&$top=1".to_owned(),
            format!("Leads/$count?$filter={min} sub Guttometer lt 0 and Guttometer gt 0"),
            format!("Leads/$count?$filter=-{min} gt 0"),
            format!("Leads/$count?$filter={min} div -1 gt 0"),
            format!("Leads?$compute={min} div -1 as X&$select=X&$top=1&$filter=Guttometer ne null"),
            "Leads?$apply=compute(Guttometer mul 0 add 9223372036854775807 as Big)/aggregate(Big with sum as S)".to_owned(),
            "Contacts?$top=50&$expand=Leads($filter=Guttometer gt 1;$compute=Guttometer mul 9223372036854775807 as X)".to_owned(),
        ] {
            let r = app.get(&q, &t).await;
            assert_eq!(r.status, 400, "{:?} {q}: {}", app.backend, r.text);
            let e = &r.json()["error"];
            assert_eq!(e["code"], "ValueOutOfRange", "{q}: {}", r.text);
            assert!(e["message"].as_str().unwrap().contains("out of range"), "{q}: {}", r.text);
        }
        // Within 64 bits nothing changes: the edges are exact, a remainder of the
        // smallest by -1 is 0.
        let non_null = app.db.count(" AND guttometer IS NOT NULL", "leads", "alpha");
        for (q, n) in [
            (format!("Leads/$count?$filter={min} mod -1 eq 0"), non_null),
            (format!("Leads/$count?$filter={min} add 9223372036854775807 eq -1"), non_null),
            (format!("Leads/$count?$filter=-({min} add 1) eq 9223372036854775807"), non_null),
        ] {
            let r = app.get(&q, &t).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            assert_eq!(r.text, n.to_string(), "{q}");
        }
        let r = app
            .get("Leads?$top=5&$filter=Guttometer ne null&$compute=Guttometer mul 3 sub 1 as X,-Guttometer div 2 as Y&$select=Guttometer,X,Y", &t)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        for v in r.values() {
            let g = v["Guttometer"].as_i64().unwrap();
            assert_eq!(v["X"].as_i64(), Some(g * 3 - 1), "{v}");
            assert_eq!(v["Y"].as_i64(), Some(-g / 2), "{v}");
        }
    })
    .await;
}

/// A Double result beyond the range of a double, from operands within it, is a 400 on
/// both databases (PostgreSQL's arithmetic fails there; SQLite's would give infinity),
/// while a Double divided by zero stays INF as OData says.
#[actix_web::test]
async fn double_overflow_is_value_out_of_range_on_both_databases() {
    each_backend(|app, t, _| async move {
        for q in [
            "Leads/$count?$filter=Value mul 1e308 gt 0",
            "Leads/$count?$filter=Value mul 1e307 add 1.7e308 gt 0",
            "Leads/$count?$filter=-1.7e308 sub Value mul 1e307 lt 0",
            "Leads/$count?$filter=Value div 1e-308 gt 0",
            "Leads/$count?$filter=Value mul 1e-300 mul 1e-300 eq 0",
            "Leads?$filter=Value gt 0&$compute=Value mul 1e308 as X&$select=X&$top=1",
        ] {
            let r = app.get(q, &t).await;
            assert_eq!(r.status, 400, "{:?} {q}: {}", app.backend, r.text);
            let e = &r.json()["error"];
            assert_eq!(e["code"], "ValueOutOfRange", "{q}: {}", r.text);
            assert!(e["message"].as_str().unwrap().contains("out of range"), "{q}: {}", r.text);
        }
        // Within range, and divided by zero, Doubles compute as before.
        let r = app
            .get("Leads?$filter=Value gt 0&$compute=Value mul 1e300 div 1e300 as Same,Value mul 1e0 div 0 as Inf&$select=Value,Same,Inf&$top=3", &t)
            .await;
        assert_eq!(r.status, 200, "{:?}: {}", app.backend, r.text);
        for v in r.values() {
            let (value, same) = (v["Value"].as_f64().unwrap(), v["Same"].as_f64().unwrap());
            assert!((value - same).abs() <= value * 1e-12, "{v}");
            assert_eq!(v["Inf"], "INF", "{v}");
        }
    })
    .await;
}

/// Objects with more members than a database function takes arguments (PostgreSQL: 100)
/// are still built: many `$compute` values or aggregates, in any metadata.
#[actix_web::test]
async fn objects_with_many_members_are_built_on_both_databases() {
    each_backend(|app, t, beta| async move {
        let n = 70;
        let computes: Vec<String> = (0..n)
            .map(|i| format!("Guttometer add {i} as C{i}"))
            .collect();
        let aggregates: Vec<String> = (0..n)
            .map(|i| format!("Guttometer with sum as A{i}"))
            .collect();
        let sum: i64 = app
            .get("Leads?$apply=aggregate(Guttometer with sum as S)", &t)
            .await
            .values()[0]["S"]
            .as_i64()
            .unwrap();
        for level in ["minimal", "full"] {
            let accept = [("Accept", format!("application/json;odata.metadata={level}"))];
            let accept: Vec<(&str, &str)> = accept.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let q = format!(
                "Leads?$top=2&$filter=Guttometer ne null&$compute={}",
                computes.join(",")
            );
            let r = app.get_with(&q, &t, &accept).await;
            assert_eq!(r.status, 200, "{level}: {}", r.text);
            for row in r.values() {
                let g = row["Guttometer"].as_i64().unwrap();
                for i in 0..n {
                    assert_eq!(row[format!("C{i}")].as_i64(), Some(g + i), "{level}: {row}");
                }
            }
            let q = format!(
                "Contacts?$top=2&$expand=Leads($compute={})",
                computes.join(",")
            );
            let r = app.get_with(&q, &t, &accept).await;
            assert_eq!(r.status, 200, "{level}: {}", r.text);
            let q = format!("Leads?$apply=aggregate({})", aggregates.join(","));
            let r = app.get_with(&q, &t, &accept).await;
            assert_eq!(r.status, 200, "{level}: {}", r.text);
            let row = &r.values()[0];
            for i in 0..n {
                assert_eq!(row[format!("A{i}")].as_i64(), Some(sum), "{level}");
            }
        }
        // The other workspace sums its own leads only.
        let q = format!("Leads?$apply=aggregate({})", aggregates.join(","));
        let theirs = app.get(&q, &beta).await;
        let own = app
            .get("Leads?$apply=aggregate(Guttometer with sum as S)", &beta)
            .await
            .values()[0]["S"]
            .clone();
        assert_eq!(theirs.values()[0]["A0"], own);
        assert_ne!(own.as_i64(), Some(sum));
    })
    .await;
}

/// A condition read as a value keeps OData's three values: `contains(null,'0')` is null,
/// so `eq null` finds it and `eq false` does not, while a comparison with null is false.
#[actix_web::test]
async fn conditions_read_as_values_keep_null() {
    each_backend(|app, t, _| async move {
        let c = |f: String| {
            let (app, t) = (&app, &t);
            async move {
                let r = app.get(&format!("Contacts/$count?$filter={f}"), t).await;
                assert_eq!(r.status, 200, "{f}: {}", r.text);
                r.text.parse::<i64>().unwrap_or(-1)
            }
        };
        let all = c("true".into()).await;
        let without = c("MobilePhoneNumber eq null".into()).await;
        assert!(without > 0 && without < all, "{without} of {all}");
        let has = "contains(MobilePhoneNumber,'0')";
        let yes = c(has.into()).await;
        assert_eq!(c(format!("{has} eq null")).await, without);
        assert_eq!(c(format!("null eq {has}")).await, without);
        assert_eq!(c(format!("{has} ne null")).await, all - without);
        assert_eq!(c(format!("{has} eq true")).await, yes);
        assert_eq!(c(format!("{has} eq false")).await, all - without - yes);
        assert_eq!(c(format!("not ({has} eq false)")).await, yes + without);
        assert_eq!(c(format!("(not {has}) eq null")).await, without);
        assert_eq!(c(format!("({has} and true) eq null")).await, without);
        assert_eq!(c(format!("({has} or true) eq true")).await, all);
        assert_eq!(c(format!("{has} in (null)")).await, without);
        assert_eq!(c(format!("{has} in (true,false)")).await, all - without);
        // A comparison read as a value is false for null, never null.
        assert_eq!(c("(MobilePhoneNumber eq '1') eq null".into()).await, 0);
        assert_eq!(c("(MobilePhoneNumber eq '1') eq false".into()).await, all);
        assert_eq!(c("not ((MobilePhoneNumber eq '1') eq false)".into()).await, 0);
        // $compute returns the same three values.
        let r = app
            .get(&format!("Contacts?$filter=MobilePhoneNumber eq null&$top=1&$compute={has} as C,MobilePhoneNumber eq '1' as E&$select=C,E"), &t)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.values()[0]["C"], Value::Null, "{}", r.text);
        assert_eq!(r.values()[0]["E"], Value::Bool(false), "{}", r.text);
    })
    .await;
}

/// A 400 `ValueOutOfRange` whose message names the division by zero.
fn assert_division_by_zero(r: &Reply, q: &str) {
    assert_eq!(r.status, 400, "{q}: {}", r.text);
    let e = &r.json()["error"];
    assert_eq!(e["code"], "ValueOutOfRange", "{q}: {}", r.text);
    let m = e["message"].as_str().unwrap_or_default();
    assert!(m.contains("division by zero"), "{q}: {}", r.text);
}

/// Lead ids and values with a non-null, non-zero Value, read back as decimals.
async fn lead_values(app: &TestApp, t: &str, extra: &str) -> Vec<(i64, rust_decimal::Decimal)> {
    let r = app
        .get(
            &format!("Leads?$filter=Value ne null and Value ne 0{extra}&$select=LeadId,Value&$orderby=LeadId&$top=40"),
            t,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.values()
        .iter()
        .map(|v| {
            let id = v["LeadId"].as_i64().unwrap_or_default();
            let d = v["Value"].to_string().parse::<rust_decimal::Decimal>();
            (id, d.unwrap_or_default())
        })
        .collect()
}

/// Division and remainder by zero as OData 4.01 (URL conventions 5.1.1.2) says: an
/// integer or decimal `div` and any `mod` fail the request with 400 `ValueOutOfRange`,
/// whether the zero is written in the request or found in the data, in `$filter`,
/// `$orderby`, `$compute` and `$apply` alike; a Double `div` and `divby` give INF, -INF
/// or NaN (null on SQLite, which has no NaN); a null operand gives null.
#[actix_web::test]
async fn division_by_zero_fails_or_is_infinite_as_odata_says() {
    each_backend(|app, t, _| async move {
        // Zero only in the data: LeadId sub LeadId.
        let zero = "(LeadId sub LeadId)";
        for q in [
            "Leads/$count?$filter=Guttometer div 0 eq 1".to_owned(),
            "Leads/$count?$filter=Value div 0.0 eq 1".to_owned(),
            "Leads/$count?$filter=Guttometer mod -0 eq 1".to_owned(),
            "Leads/$count?$filter=Value mod 0 eq 1".to_owned(),
            "Leads/$count?$filter=1.5E0 mod 0E0 eq 1".to_owned(),
            "Leads?$filter=LeadId eq @x div @z&@x=4&@z=0".to_owned(),
            "Leads?$orderby=Guttometer div 0&$top=2".to_owned(),
            "Leads?$compute=Value mod 0 as X&$top=2".to_owned(),
            format!("Leads/$count?$filter=LeadId div {zero} eq 1"),
            format!("Leads/$count?$filter=Value div {zero} eq 1"),
            format!("Leads/$count?$filter=LeadId mod {zero} eq 1"),
            format!("Leads/$count?$filter=Value mod {zero} eq 1"),
            format!("Leads/$count?$filter=cast(LeadId,Edm.Double) mod {zero} eq 1"),
            format!("Leads?$orderby=LeadId mod {zero}&$top=3"),
            format!("Leads?$orderby=Value div ({zero} mul 1.5)&$top=3"),
            format!("Leads?$compute=LeadId div {zero} as X&$select=X&$top=3"),
            format!("Leads?$compute=Value mod {zero} as X&$select=X&$top=3"),
            format!("Leads?$compute=duration'PT1H' div {zero} as X&$select=X&$top=3"),
            format!("Leads?$apply=compute(LeadId div {zero} as X)/aggregate(X with sum as S)"),
            format!("Contacts?$top=5&$expand=Leads($compute=Value div {zero} as X)"),
        ] {
            let r = app.get(&q, &t).await;
            assert_division_by_zero(&r, &q);
        }
        // A Double divided by zero, and divby zero: INF for a positive dividend, -INF for
        // a negative one, NaN for zero (null on SQLite).
        let nan = |v: &Value| {
            if app.db.dialect == Dialect::Sqlite {
                v.is_null()
            } else {
                v == "NaN"
            }
        };
        let q = format!(
            "Leads?$filter=LeadId eq 1&$select=P,N,Z,RP,DP,DN,DZ,FP&$compute=1.5E0 div 0 as P,-1.5E0 div 0 as N,0E0 div 0 as Z,\
             cast(LeadId,Edm.Double) div {zero} as RP,7 divby 0 as DP,-7 divby {zero} as DN,\
             0 divby 0.0 as DZ,1.5E0 divby 0 as FP"
        );
        let r = app.get(&q, &t).await;
        assert_eq!(r.status, 200, "{q}: {}", r.text);
        let v = &r.values()[0];
        for (name, want) in [("P", "INF"), ("N", "-INF"), ("RP", "INF"), ("DP", "INF"), ("DN", "-INF"), ("FP", "INF")] {
            assert_eq!(v[name], want, "{name}: {v}");
        }
        assert!(nan(&v["Z"]) && nan(&v["DZ"]), "{v}");
        // Per row, by the sign of the dividend: in $filter, $compute and $orderby.
        let rows = lead_values(&app, &t, "").await;
        assert!(rows.iter().any(|(_, d)| d.is_sign_positive()));
        let r = app
            .get(
                &format!(
                    "Leads?$filter=Value ne null and Value ne 0&$select=LeadId,D,F&$orderby=LeadId&$top=40\
                     &$compute=Value divby {zero} as D,cast(Value,Edm.Double) div 0 as F"
                ),
                &t,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        for ((id, value), v) in rows.iter().zip(r.values()) {
            assert_eq!(v["LeadId"].as_i64(), Some(*id));
            let want = if value.is_sign_positive() { "INF" } else { "-INF" };
            assert_eq!((&v["D"], &v["F"]), (&Value::from(want), &Value::from(want)), "{v}");
        }
        let positive = app.db.count(" AND value > 0", "leads", "alpha");
        for q in [
            format!("Leads/$count?$filter=Value divby {zero} gt 1000000000000"),
            "Leads/$count?$filter=cast(Value,Edm.Double) div 0 eq INF".to_owned(),
        ] {
            let r = app.get(&q, &t).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            assert_eq!(r.text, positive.to_string(), "{q}");
        }
        let r = app
            .get(&format!("Leads?$filter=Value gt 0&$orderby=Value divby {zero} desc,LeadId&$select=LeadId&$top=5"), &t)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut ids: Vec<i64> = rows.iter().filter(|(_, d)| d.is_sign_positive()).map(|(id, _)| *id).collect();
        ids.truncate(5);
        let got: Vec<i64> = r.values().iter().filter_map(|v| v["LeadId"].as_i64()).collect();
        assert_eq!(got[..ids.len().min(got.len())], ids[..ids.len().min(got.len())], "{}", r.text);
        // A null operand gives null, even beside a zero; a null divisor is no zero.
        let q = "Leads?$filter=LeadId eq 1&$select=A,B,C,D,E,F,G&$compute=Guttometer div null as A,Value div null as B,\
                 null mod 0 as C,1.5E0 div null as D,Value divby null as E,null div 0 as F,LeadId mod null as G";
        let r = app.get(q, &t).await;
        assert_eq!(r.status, 200, "{q}: {}", r.text);
        let v = &r.values()[0];
        for name in ["A", "B", "C", "D", "E", "F", "G"] {
            assert!(v[name].is_null(), "{name}: {v}");
        }
        // A divisor null in the data: each row read by its key, so that no other row
        // is evaluated.
        let r = app.get("Leads?$filter=ContactId eq null&$select=LeadId&$top=3", &t).await;
        let ids: Vec<i64> = r.values().iter().filter_map(|v| v["LeadId"].as_i64()).collect();
        assert!(!ids.is_empty(), "some leads without a contact: {}", r.text);
        for id in ids {
            let q = format!(
                "Leads?$filter=LeadId eq {id}&$select=A,B,C,D&$compute=LeadId div (ContactId mul 0) as A,\
                 Value mod (ContactId mul 0) as B,Value divby (ContactId mul 0) as C,\
                 (ContactId mul 0) div 0E0 as D"
            );
            let r = app.get(&q, &t).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            let v = &r.values()[0];
            for name in ["A", "B", "C", "D"] {
                assert!(v[name].is_null(), "{name}: {v}");
            }
        }
    })
    .await;
}

/// The date and time parts of a DateTimeOffset literal are those of its own offset
/// (URL conventions 5.1.1.5), not of UTC; comparisons stay by instant.
#[actix_web::test]
async fn date_parts_of_a_literal_are_in_its_own_offset() {
    use chrono::{DateTime, Datelike, Timelike};
    each_backend(|app, t, _| async move {
        for text in [
            "2021-03-04T23:30:00-05:00",
            "2021-12-31T22:15:07-11:45",
            "2022-01-01T01:02:03+05:30",
            "2020-02-29T00:00:00Z",
        ] {
            let d = DateTime::parse_from_rfc3339(text).unwrap_or_default();
            let lit = text.replace('+', "%2B");
            let q = format!(
                "Leads?$filter=LeadId eq 1&$select=Y,Mo,D,H,Mi,S,Da,Ti,O,AH\
                 &$compute=year({lit}) as Y,month({lit}) as Mo,day({lit}) as D,hour({lit}) as H,\
                 minute({lit}) as Mi,second({lit}) as S,date({lit}) as Da,time({lit}) as Ti,\
                 totaloffsetminutes({lit}) as O,hour(@t) as AH&@t={lit}"
            );
            let r = app.get(&q, &t).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            let v = &r.values()[0];
            let want = serde_json::json!({
                "Y": d.year(), "Mo": d.month(), "D": d.day(), "H": d.hour(), "Mi": d.minute(),
                "S": d.second(), "Da": d.format("%Y-%m-%d").to_string(),
                "Ti": d.format("%H:%M:%S").to_string(),
                "O": d.offset().local_minus_utc() / 60, "AH": d.hour(),
            });
            for (k, w) in want.as_object().into_iter().flatten() {
                assert_eq!(&v[k], w, "{text} {k}: {v}");
            }
            // In $filter too.
            let q = format!(
                "Leads/$count?$filter=LeadId eq 1 and day({lit}) eq {} and hour({lit}) eq {}",
                d.day(),
                d.hour()
            );
            let r = app.get(&q, &t).await;
            assert_eq!((r.status, r.text.as_str()), (200, "1"), "{q}");
        }
        // An instant in another offset still compares as that instant.
        let r = app
            .get("Leads?$filter=LeadId eq 1&$select=Created", &t)
            .await;
        let created = r.values()[0]["Created"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let instant = DateTime::parse_from_rfc3339(&created).unwrap_or_default();
        let offset = chrono::FixedOffset::west_opt(5 * 3600).unwrap_or(*instant.offset());
        let shifted = instant.with_timezone(&offset).to_rfc3339();
        assert!(shifted.ends_with("-05:00"), "{shifted}");
        for q in [
            format!("Leads/$count?$filter=LeadId eq 1 and Created eq {shifted}"),
            format!(
                "Leads/$count?$filter=LeadId eq 1 and date(Created) eq {}",
                instant.format("%Y-%m-%d")
            ),
        ] {
            let r = app.get(&q, &t).await;
            assert_eq!((r.status, r.text.as_str()), (200, "1"), "{q}");
        }
        // A date has no time of day: the functions of one are refused for it.
        for f in ["hour", "minute", "second", "fractionalseconds"] {
            let q = format!("Leads?$filter={f}(2024-02-29) ge 1");
            app.refuses(&q, &t, 400, "a time or DateTimeOffset").await;
        }
    })
    .await;
}

/// `Edm.Decimal` quotients are the exact quotient to 15 significant digits on both
/// databases (a double holds that many, which is what SQLite keeps a decimal as), so
/// both write the same text; another workspace's token sees only its own rows through
/// the same expressions.
#[actix_web::test]
async fn decimal_quotients_are_the_same_text_on_both_databases() {
    use rust_decimal::{Decimal, RoundingStrategy};
    let quotient = |a: Decimal, b: Decimal| {
        let q = a
            .checked_div(b)
            .and_then(|q| q.round_sf_with_strategy(15, RoundingStrategy::MidpointAwayFromZero))
            .unwrap_or_default();
        q.normalize().to_string()
    };
    each_backend(|app, t, beta| async move {
        let ieee = [("Accept", "application/json;IEEE754Compatible=true")];
        let r = app
            .get_with(
                "Leads?$filter=LeadId eq 1&$select=A,B,C,D,E,F&$compute=1 div 3.0 as A,2 divby 3 as B,\
                 998.750000 divby 3 as C,-1 div 7.0 as D,10 divby 4 as E,1.5E0 divby 3 as F",
                &t,
                &ieee,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let v = &r.values()[0];
        let d = |s: &str| s.parse::<Decimal>().unwrap_or_default();
        for (name, a, b) in [
            ("A", "1", "3"),
            ("B", "2", "3"),
            ("C", "998.75", "3"),
            ("D", "-1", "7"),
            ("E", "10", "4"),
            ("F", "1.5", "3"),
        ] {
            assert_eq!(v[name], quotient(d(a), d(b)), "{name}: {v}");
        }
        let rows = lead_values(&app, &t, "").await;
        assert!(rows.len() > 5);
        let r = app
            .get_with(
                "Leads?$filter=Value ne null and Value ne 0&$select=LeadId,D,E,One,Inv&$orderby=LeadId&$top=40\
                 &$compute=Value divby 3 as D,Value div 7 as E,Value div Value as One,1000 div Value as Inv",
                &t,
                &ieee,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        for ((id, value), v) in rows.iter().zip(r.values()) {
            assert_eq!(v["LeadId"].as_i64(), Some(*id));
            assert_eq!(v["D"], quotient(*value, Decimal::from(3)), "{v}");
            assert_eq!(v["E"], quotient(*value, Decimal::from(7)), "{v}");
            assert_eq!(v["One"], "1", "{v}");
            assert_eq!(v["Inv"], quotient(Decimal::from(1000), *value), "{v}");
        }
        // The same numbers without IEEE754Compatible, and in $filter.
        let (id, value) = rows[0];
        let r = app
            .get(&format!("Leads?$filter=LeadId eq {id}&$select=D&$compute=Value divby 3 as D"), &t)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let want = quotient(value, Decimal::from(3));
        assert!(r.text.contains(&format!("\"D\":{want}")), "{want}: {}", r.text);
        let r = app
            .get(&format!("Leads/$count?$filter=LeadId eq {id} and Value divby 3 eq {want}"), &t)
            .await;
        assert_eq!((r.status, r.text.as_str()), (200, "1"), "{want}");
        // The other workspace: its own rows, through divby and divby zero alike.
        let pairs = |r: &Reply| -> HashSet<String> {
            r.values().iter().map(|v| format!("{}:{}", v["LeadId"], v["Value"])).collect()
        };
        let own = app.get("Leads?$filter=Value gt 0&$select=LeadId,Value&$top=1000", &beta).await;
        let seen = app
            .get("Leads?$filter=Value divby 3 gt 0&$select=LeadId,Value&$top=1000", &beta)
            .await;
        assert_eq!(seen.status, 200, "{}", seen.text);
        let n = app.db.count(" AND value > 0", "leads", "beta");
        assert_ne!(n, app.db.count(" AND value > 0", "leads", "alpha"));
        assert_eq!(pairs(&seen).len() as i64, n, "{}", seen.text);
        assert_eq!(pairs(&seen), pairs(&own));
        assert_ne!(pairs(&seen), pairs(&app.get("Leads?$filter=Value gt 0&$select=LeadId,Value&$top=1000", &t).await));
        let r = app
            .get("Leads/$count?$filter=Value divby (LeadId sub LeadId) eq INF", &beta)
            .await;
        assert_eq!((r.status, r.text.clone()), (200, n.to_string()), "{}", r.text);
    })
    .await;
}

/// An arithmetic operand that is the null literal makes the result null, also when both
/// are (`null div null`), which PostgreSQL could not type.
#[actix_web::test]
async fn arithmetic_with_the_null_literal_is_null() {
    each_backend(|app, t, _| async move {
        let r = app
            .get("Leads?$top=2&$select=LeadId&$compute=null div null as A,null mod null as B,null add null as C,Guttometer add null as D,null mul Value as E,null divby null as F", &t)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        for row in r.values() {
            for k in ["A", "B", "C", "D", "E", "F"] {
                assert_eq!(row[k], Value::Null, "{k}: {row}");
            }
        }
        let all = app.get("Leads/$count", &t).await.text;
        let r = app.get("Leads/$count?$filter=null div null eq null and Guttometer sub null eq null", &t).await;
        assert_eq!((r.status, r.text.clone()), (200, all), "{}", r.text);
    })
    .await;
}

/// Every request `demo` suggests answers 200 with a body, on both databases.
#[actix_web::test]
async fn the_demos_suggested_requests_answer() {
    each_backend(|app, t, _| async move {
        for q in crm_odata::cli::DEMO_QUERIES {
            let r = app.get(q, &t).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            assert!(r.text.len() > 20, "{q}: {}", r.text);
        }
    })
    .await;
}
