//! Requests as some clients write them, byte for byte, over a plain socket: raw UTF-8,
//! `"` and `<` in the target (curl sends them as typed), targets over 64 KiB, several
//! requests on one connection, HTTP/1.0 without `Host`, heads that HTTP refuses or that
//! never end. Every one gets the pipeline's answer (data, or an OData error), never a
//! bare 400 from below it.

mod common;

use common::raw::{exchange, get, Answer};
use common::{spawn_seeded, Backend};
use diesel::RunQueryDsl;
use serde_json::Value;

fn ids(a: &Answer) -> Vec<i64> {
    a.json()["value"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&a.body)))
        .iter()
        .map(|c| c["ContactId"].as_i64().expect("id"))
        .collect()
}

#[actix_web::test]
async fn raw_utf8_in_a_target_means_what_the_client_typed_within_its_workspace() {
    for backend in common::backends() {
        let app = spawn_seeded(backend).await;
        let (alpha, beta) = (app.db.token("alpha"), app.db.token("beta"));
        diesel::sql_query(
            "UPDATE contacts SET surname = 'Müller' WHERE contact_id IN (3, 5) AND workspace_id = (SELECT id FROM workspaces WHERE name = 'alpha')",
        )
        .execute(&mut app.db.conn())
        .expect("update");
        let raw = "/Contacts?$filter=Surname%20eq%20'Müller'&$select=ContactId,Surname&$orderby=ContactId";
        let encoded = raw.replace("ü", "%C3%BC");
        let mut requests = get(raw, &alpha, false);
        requests.extend(get(&encoded, &alpha, false));
        requests.extend(get(raw, &beta, true));
        let answers = exchange(&app.base, requests).await;
        assert_eq!(answers.len(), 3, "{backend:?}: {answers:?}");
        assert_eq!(answers[0].status, 200, "{backend:?}: {answers:?}");
        assert_eq!(ids(&answers[0]), [3, 5], "{backend:?}");
        assert_eq!(answers[0].json()["value"][0]["Surname"], "Müller");
        assert_eq!(
            answers[0].body, answers[1].body,
            "{backend:?}: raw and percent-encoded are one request"
        );
        // The other workspace's token sees none of alpha's rows this way either.
        assert_eq!(answers[2].status, 200, "{backend:?}");
        assert_eq!(ids(&answers[2]), Vec::<i64>::new(), "{backend:?}");
    }
}

#[actix_web::test]
async fn refused_characters_and_over_long_targets_get_odata_errors_and_the_connection_goes_on() {
    let app = spawn_seeded(Backend::Sqlite).await;
    let t = app.db.token("alpha");
    let long = format!(
        "/Contacts?$filter={}Surname%20eq%20'y'",
        "Surname%20eq%20'x'%20or%20".repeat(3_000)
    );
    assert!(long.len() > 65_535, "past what the URI parser takes");
    let mut requests = get("/Contacts?$filter=Surname%20eq%20\"Smith\"", &t, false);
    requests.extend(get(
        "/Contacts?$filter=Surname%20eq%20%22Smith%22",
        &t,
        false,
    ));
    requests.extend(get(
        "/Contacts?$filter=Surname%20eq%20'<x>'&$top=1",
        &t,
        false,
    ));
    requests.extend(get(&long, &t, false));
    requests.extend(get("/Contacts?$top=1&$select=ContactId", &t, true));
    let answers = exchange(&app.base, requests).await;
    assert_eq!(answers.len(), 5, "{answers:?}");

    let quote = &answers[0];
    assert_eq!(quote.status, 400);
    let error = &quote.json()["error"];
    assert_eq!(error["code"], "SyntaxError", "{error}");
    assert_eq!(error["target"], "$filter", "{error}");
    // Where and what, as for the same request percent-encoded (positions count in the
    // query as sent).
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("position 23") && m.contains('"')),
        "{error}"
    );
    assert_eq!(quote.body, answers[1].body);
    // `<` and `>` inside a string literal are just characters of the value.
    assert_eq!(answers[2].status, 200, "{:?}", answers[2]);
    assert_eq!(ids(&answers[2]), Vec::<i64>::new());

    let too_long = &answers[3];
    assert_eq!(too_long.status, 414);
    assert_eq!(too_long.json()["error"]["code"], "UriTooLong");
    assert!(too_long
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));

    assert_eq!(answers[4].status, 200);
    assert_eq!(ids(&answers[4]).len(), 1);
}

/// Bodies pass untouched, whatever they hold, and the request after them is read where
/// it starts: a JSON `$batch` full of `"` and raw UTF-8, then a GET on the same
/// connection; and a chunked body, after which actix-http alone reads the connection.
#[actix_web::test]
async fn bodies_pass_unchanged_between_requests_on_one_connection() {
    let app = spawn_seeded(Backend::Sqlite).await;
    let t = app.db.token("alpha");
    let batch = r#"{"requests":[{"id":"1","method":"GET","url":"Contacts?$filter=Surname eq 'Müller \"<>\"'&$select=ContactId"},{"id":"2","method":"GET","url":"Contacts/$count"}]}"#;
    let mut requests = format!(
        "POST /$batch HTTP/1.1\r\nHost: odata.test\r\nAuthorization: Bearer {t}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{batch}",
        batch.len()
    )
    .into_bytes();
    requests.extend(get(
        "/Contacts?$filter=Surname%20eq%20'Ü'&$select=ContactId",
        &t,
        false,
    ));
    let chunked = format!(
        "POST /$batch HTTP/1.1\r\nHost: odata.test\r\nAuthorization: Bearer {t}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{batch}\r\n0\r\n\r\n",
        batch.len()
    );
    requests.extend(chunked.into_bytes());
    requests.extend(get("/Contacts/$count", &t, true));
    let answers = exchange(&app.base, requests).await;
    assert_eq!(answers.len(), 4, "{answers:?}");
    for i in [0, 2] {
        assert_eq!(answers[i].status, 200, "{:?}", answers[i]);
        let inner = answers[i].json();
        let statuses: Vec<&Value> = inner["responses"]
            .as_array()
            .expect("responses")
            .iter()
            .map(|r| &r["status"])
            .collect();
        assert_eq!(statuses, [200, 200], "{inner}");
    }
    assert_eq!(answers[1].status, 200, "{:?}", answers[1]);
    assert_eq!(ids(&answers[1]), Vec::<i64>::new());
    assert_eq!(answers[3].status, 200);
    assert_eq!(answers[3].body, b"200");
}

/// HTTP/1.0 without `Host`, and an empty `Host`: the context URL names the address the
/// service listens on. An absolute-form target names its own authority, whatever `Host`
/// says; a `Host` that is no host is a 400, never the root of the answer's URLs.
#[actix_web::test]
async fn the_service_root_comes_from_the_target_host_or_listening_address() {
    let app = spawn_seeded(Backend::Sqlite).await;
    let t = app.db.token("alpha");
    let listening = format!("{}/$metadata#Contacts(ContactId)", app.base);
    for (request, context) in [
        (
            format!("GET /Contacts?$top=1&$select=ContactId HTTP/1.0\r\nAuthorization: Bearer {t}\r\n\r\n"),
            listening.clone(),
        ),
        (
            format!("GET /Contacts?$top=1&$select=ContactId HTTP/1.1\r\nHost:\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n"),
            listening.clone(),
        ),
        (
            format!("GET http://crm.example:8443/Contacts?$top=1&$select=ContactId HTTP/1.1\r\nHost: other.example\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n"),
            "http://crm.example:8443/$metadata#Contacts(ContactId)".to_owned(),
        ),
    ] {
        let answers = exchange(&app.base, request.into_bytes()).await;
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert_eq!(answers[0].json()["@odata.context"], context.as_str());
    }
    let request = format!(
        "GET /Contacts?$top=1 HTTP/1.1\r\nHost: a b<c>\r\nAuthorization: Bearer {t}\r\n\r\n"
    );
    let message = the_one_bad_request(&app, request, "Host").await;
    assert!(message.contains("is not a host and port"), "{message}");
}

/// `Authorization` is a singleton (RFC 9110 §11.6.2): two are a 400 naming it, whichever
/// of them is valid, never a request served with one of them.
#[actix_web::test]
async fn a_repeated_authorization_header_is_refused() {
    let app = spawn_seeded(Backend::Sqlite).await;
    let (alpha, beta) = (app.db.token("alpha"), app.db.token("beta"));
    for (first, second) in [(&beta, &alpha), (&alpha, &"garbage".to_owned())] {
        let request = format!(
            "GET /Contacts/$count HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {first}\r\n\
             Authorization: Bearer {second}\r\nConnection: close\r\n\r\n"
        );
        let message = the_one_bad_request(&app, request, "Authorization").await;
        assert!(message.contains("appears more than once"), "{message}");
    }
}

/// A target that is neither a path from `/` nor an absolute URL is a 400: the URI parser
/// would read `Contacts(1)` as a host, and the service document would be served for it.
#[actix_web::test]
async fn a_target_without_a_leading_slash_is_refused() {
    let app = spawn_seeded(Backend::Sqlite).await;
    let t = app.db.token("alpha");
    for target in ["Contacts(1)", "Nope", "Contacts?$top=1", "$metadata"] {
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n"
        );
        let answers = exchange(&app.base, request.into_bytes()).await;
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert_eq!(answers[0].status, 400, "{target}: {answers:?}");
        let (code, message, _) = error(&answers[0]);
        assert_eq!(code, "BadRequest");
        assert!(
            message.contains(&format!("the target `{target}` is neither a path")),
            "{message}"
        );
    }
}

/// Sends `request` alone and expects one answer, an OData 400 whose target is `target`;
/// returns its message.
async fn the_one_bad_request(app: &common::TestApp, request: String, target: &str) -> String {
    let answers = exchange(&app.base, request.into_bytes()).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].status, 400, "{answers:?}");
    let (code, message, got) = error(&answers[0]);
    assert_eq!(
        (code.as_str(), got.as_deref()),
        ("BadRequest", Some(target))
    );
    message
}

/// What the OData error of an answer says: its code, message and target.
fn error(a: &Answer) -> (String, String, Option<String>) {
    assert!(
        a.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{a:?}"
    );
    assert_eq!(a.header("odata-version"), Some("4.0"), "{a:?}");
    let e = &a.json()["error"];
    let text = |k: &str| e[k].as_str().map(str::to_owned);
    (
        text("code").expect("code"),
        text("message").expect("message"),
        text("target"),
    )
}

/// Heads that actix-http would answer with a bare 400 or 431: each gets an OData error
/// that says what was wrong and where, after the answers to the requests before it on
/// the connection, which then closes.
#[actix_web::test]
async fn heads_http_refuses_get_odata_errors_that_say_where() {
    let app = spawn_seeded(Backend::Sqlite).await;
    let t = app.db.token("alpha");
    let many: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
    let cases = [
        (
            format!("GET /Contacts/$count HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nX-Note: a\x01b\r\n\r\n"),
            400,
            "BadRequest",
            "header field 3 (X-Note): its value has byte 0x01 at column 10",
            Some("X-Note"),
        ),
        (
            format!("GET /Contacts/$count HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nX-Note\r\n\r\n"),
            400,
            "BadRequest",
            "header field 3 (X-Note): has no `:`",
            Some("X-Note"),
        ),
        (
            "GARBAGE\r\n\r\n".to_owned(),
            400,
            "BadRequest",
            "the request line is not `METHOD target HTTP/1.1`: no space after the method",
            None,
        ),
        (
            format!("GET /Contacts/$count HTTP/1.1\r\nAuthorization: Bearer {t}\r\n\r\n"),
            400,
            "BadRequest",
            "the header field Host is missing: HTTP/1.1 requires it",
            Some("Host"),
        ),
        (
            format!("POST /$batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nTransfer-Encoding: gzip\r\n\r\n"),
            400,
            "BadRequest",
            "header field 3 (Transfer-Encoding): `gzip`: only `chunked` is accepted",
            Some("Transfer-Encoding"),
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\r\n", "c".repeat(100_000)),
            431,
            "RequestHeaderFieldsTooLarge",
            "header section is longer than 92160 bytes",
            Some("headers"),
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n"),
            431,
            "RequestHeaderFieldsTooLarge",
            "more than 96 header fields",
            Some("headers"),
        ),
        (
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000)),
            414,
            "UriTooLong",
            "the request line is longer than 92160 bytes",
            Some("URL"),
        ),
    ];
    for (head, status, code, message, target) in cases {
        let mut requests = get("/Contacts?$top=1&$select=ContactId", &t, false);
        requests.extend(head.as_bytes());
        // Never read: the connection closes after the refused head.
        requests.extend(get("/Contacts/$count", &t, true));
        let answers = exchange(&app.base, requests).await;
        let shown = &head[..head.len().min(80)];
        assert_eq!(answers.len(), 2, "{shown:?}: {answers:?}");
        assert_eq!(ids(&answers[0]).len(), 1, "{shown:?}");
        let refused = &answers[1];
        assert_eq!(refused.status, status, "{shown:?}: {refused:?}");
        assert_eq!(refused.header("connection"), Some("close"), "{refused:?}");
        let (got_code, got_message, got_target) = error(refused);
        assert_eq!(got_code, code, "{shown:?}");
        assert!(got_message.contains(message), "{shown:?}: {got_message}");
        assert_eq!(got_target.as_deref(), target, "{shown:?}");
    }
}

/// A head that does not arrive in time gets a 408 with an OData error, as do a
/// connection that sends nothing and a body that stops; a header named like the
/// stand-in's marker is just a header.
#[actix_web::test]
async fn a_head_or_body_that_never_ends_gets_a_408_and_the_marker_header_is_inert() {
    let app = spawn_seeded(Backend::Sqlite).await;
    let t = app.db.token("alpha");
    let started = std::time::Instant::now();
    let (slow, silent, second, body) = futures_util::join!(
        exchange(
            &app.base,
            format!("GET /Contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n")
                .into_bytes(),
        ),
        exchange(&app.base, Vec::new()),
        // A second head on a kept-alive connection that stops midway.
        exchange(&app.base, {
            let mut r = get("/Contacts?$top=1&$select=ContactId", &t, false);
            r.extend(b"GET /Contacts HTTP/1.1\r\nHost: x\r\n");
            r
        }),
        // A body announced longer than what comes.
        exchange(
            &app.base,
            format!("POST /$batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"requests\"")
                .into_bytes(),
        ),
    );
    assert_eq!(second.first().map(|a| a.status), Some(200), "{second:?}");
    for (answers, says, answered_before) in [
        (slow, "head did not arrive within 5 seconds", 0),
        (silent, "head did not arrive within 5 seconds", 0),
        (second, "head did not arrive within 5 seconds", 1),
        (body, "body stopped arriving: nothing came for 5 seconds", 0),
    ] {
        assert_eq!(answers.len(), answered_before + 1, "{answers:?}");
        let last = &answers[answered_before];
        assert_eq!(last.status, 408, "{answers:?}");
        let (code, message, _) = error(last);
        assert_eq!(code, "RequestTimeout");
        assert!(message.contains(says), "{message}");
    }
    assert!(started.elapsed() >= std::time::Duration::from_secs(5));

    let request = format!(
        "GET /Contacts/$count HTTP/1.1\r\nHost: x\r\ncrm-odata-refused: 1\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n"
    );
    let answers = exchange(&app.base, request.into_bytes()).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].status, 200, "{answers:?}");
    // Nor is the stand-in's path, asked for by a client: the pipeline reads it.
    let answers = exchange(&app.base, get("/$refused", &t, true)).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    let (code, _, _) = error(&answers[0]);
    assert_ne!(code, "RequestTimeout", "{answers:?}");
    assert!(matches!(answers[0].status, 400 | 404), "{answers:?}");
}

/// A body whose chunked framing is broken gets an OData 400 that says so.
#[actix_web::test]
async fn a_malformed_chunked_body_gets_an_odata_error() {
    let app = spawn_seeded(Backend::Sqlite).await;
    let t = app.db.token("alpha");
    let request = format!(
        "POST /$batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n"
    );
    let message = the_one_bad_request(&app, request, "$batch").await;
    assert!(message.contains("chunked framing"), "{message}");
}
