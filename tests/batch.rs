//! `$batch` in OData 4.01's JSON format and 4.0's multipart format, on SQLite and
//! PostgreSQL: every request answered as it would be alone, in order, confined to the
//! workspace of the batch's token; a malformed batch is a 4xx with an OData error body.

mod common;

use common::{backends, spawn_seeded, Reply, TestApp};
use serde_json::{json, Value};

async fn post(app: &TestApp, token: &str, content_type: &str, body: Vec<u8>) -> Reply {
    post_preferring(
        app,
        token,
        content_type,
        body,
        Some("odata.continue-on-error"),
    )
    .await
}

async fn post_preferring(
    app: &TestApp,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
    prefer: Option<&str>,
) -> Reply {
    let mut req = app
        .client
        .post(format!("{}/$batch", app.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body);
    if let Some(p) = prefer {
        req = req.header("prefer", p);
    }
    Reply::read(req.send().await.expect("batch")).await
}

fn json_batch(urls: &[&str]) -> Vec<u8> {
    let requests: Vec<Value> = urls
        .iter()
        .enumerate()
        .map(|(i, u)| json!({"id": format!("r{i}"), "method": "get", "url": u}))
        .collect();
    json!({ "requests": requests }).to_string().into_bytes()
}

fn responses(r: &Reply) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["responses"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no responses: {}", r.text))
}

/// A response's body as the request alone would get it: JSON compared as JSON.
fn assert_same_body(inside: &Value, alone: &Reply, what: &str) {
    match inside {
        Value::String(s) => assert_eq!(s, &alone.text, "{what}"),
        v => assert_eq!(v, &alone.json(), "{what}"),
    }
}

#[actix_web::test]
async fn a_json_batch_answers_each_request_as_it_would_be_answered_alone() {
    for backend in backends() {
        let app = spawn_seeded(backend).await;
        let alpha = app.db.token("alpha");
        let urls = [
            "Contacts(150)?$select=ContactId,Surname",
            "/Contacts?$filter=startswith(Surname,'S')&$orderby=ContactId&$top=3&$select=ContactId",
            "Contacts/$count",
            "Leads?$top=2&$select=LeadId&$expand=Status($select=Code)",
            "Contacts(999999)",
            "Contacts?$filter=Nope eq 1",
            "Contacts(150)/Surname/$value",
        ];
        let answers = responses(&post(&app, &alpha, "application/json", json_batch(&urls)).await);
        assert_eq!(answers.len(), urls.len());
        for (i, (url, inside)) in urls.iter().zip(&answers).enumerate() {
            let alone = app.get(url, &alpha).await;
            assert_eq!(inside["id"], format!("r{i}"), "{url}");
            assert_eq!(inside["status"], alone.status, "{url}: {inside}");
            assert_same_body(&inside["body"], &alone, url);
            assert_eq!(
                inside["headers"]["content-type"].as_str(),
                alone.header("content-type"),
                "{url}"
            );
        }
        // Requests are answered in order, all of them: the 404 and the 400 are the fifth
        // and sixth, and the seventh still has its answer.
        assert_eq!(answers[4]["body"]["error"]["code"], "NotFound");
        assert_eq!(answers[5]["body"]["error"]["target"], "$filter");
    }
}

#[actix_web::test]
async fn a_batch_reads_only_its_own_workspace() {
    for backend in backends() {
        let app = spawn_seeded(backend).await;
        let (alpha, beta) = (app.db.token("alpha"), app.db.token("beta"));
        // A next link of alpha's, replayed inside beta's batch.
        let page = app
            .get_with(
                "Contacts?$select=ContactId",
                &alpha,
                &[("prefer", "odata.maxpagesize=50")],
            )
            .await
            .json();
        let next = page["@odata.nextLink"]
            .as_str()
            .expect("next link")
            .to_owned();
        let beta_count = app.db.count("", "contacts", "beta");
        let urls = [
            "Contacts(150)",
            "Contacts(150)/Leads",
            "Contacts/$count",
            "Contacts?$filter=ContactId eq 150&$count=true",
            "Leads?$filter=Contact/ContactId eq 150",
            next.as_str(),
        ];
        let answers = responses(&post(&app, &beta, "application/json", json_batch(&urls)).await);
        assert_eq!(answers[0]["status"], 404);
        assert_eq!(answers[1]["status"], 404, "{}", answers[1]);
        assert_eq!(answers[2]["body"], beta_count.to_string());
        assert_eq!(answers[3]["body"]["@odata.count"], 0);
        assert_eq!(answers[3]["body"]["value"], json!([]));
        assert_eq!(answers[4]["body"]["value"], json!([]));
        assert_eq!(answers[5]["status"], 400, "{}", answers[5]);
        assert!(
            !answers[5].to_string().contains("ContactId\":"),
            "{}",
            answers[5]
        );
        // HEAD inside a batch: the status and headers, no body.
        let head = json!({"requests": [{"id": "h", "method": "head", "url": "Contacts(150)"}]});
        let answers = responses(
            &post(
                &app,
                &alpha,
                "application/json",
                head.to_string().into_bytes(),
            )
            .await,
        );
        assert_eq!(answers[0]["status"], 200, "{}", answers[0]);
        assert!(answers[0].get("body").is_none(), "{}", answers[0]);
        // The same batch with alpha's token finds alpha's contact.
        let mine = responses(&post(&app, &alpha, "application/json", json_batch(&urls[..1])).await);
        assert_eq!(mine[0]["body"]["ContactId"], 150);
    }
}

#[actix_web::test]
async fn a_multipart_batch_answers_in_parts() {
    for backend in backends() {
        let app = spawn_seeded(backend).await;
        let alpha = app.db.token("alpha");
        let body = format!(
            "--b1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: first\r\n\r\n\
             GET Contacts(150)?$select=ContactId,Surname HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n\
             --b1\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n\
             --cs\r\nContent-Type: application/http\r\n\r\nPOST Contacts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{{}}\r\n--cs--\r\n\r\n\
             --b1\r\nContent-Type: multipart/mixed; boundary=cs2\r\n\r\n\
             --cs2\r\nContent-Type: application/http\r\n\r\nGET Contacts(1) HTTP/1.1\r\n\r\n\r\n--cs2--\r\n\r\n\
             --b1\nContent-Type: application/http\n\nGET {}/Contacts(150)/Surname/$value HTTP/1.1\n\n\n\
             --b1--\r\n",
            app.base
        );
        let r = post(
            &app,
            &alpha,
            "multipart/mixed; boundary=b1",
            body.into_bytes(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            r.header("preference-applied"),
            Some("odata.continue-on-error")
        );
        let boundary = r
            .header("content-type")
            .and_then(|c| c.split("boundary=").nth(1))
            .expect("response boundary")
            .to_owned();
        let parts: Vec<&str> = r
            .text
            .split(&format!("--{boundary}"))
            .skip(1)
            .filter(|p| !p.starts_with("--"))
            .collect();
        assert_eq!(parts.len(), 4, "{}", r.text);
        let alone = app
            .get("Contacts(150)?$select=ContactId,Surname", &alpha)
            .await;
        assert!(parts[0].contains("Content-ID: first"), "{}", parts[0]);
        assert!(parts[0].contains("HTTP/1.1 200 OK"), "{}", parts[0]);
        assert!(
            parts[0].trim_end().ends_with(alone.text.as_str()),
            "{}",
            parts[0]
        );
        assert!(
            parts[1].contains("HTTP/1.1 501 Not Implemented"),
            "{}",
            parts[1]
        );
        assert!(parts[1].contains("\"NotImplemented\""), "{}", parts[1]);
        // A read inside a change set is the client's error.
        assert!(
            parts[2].contains("HTTP/1.1 400 Bad Request"),
            "{}",
            parts[2]
        );
        let surname = app.get("Contacts(150)/Surname/$value", &alpha).await.text;
        assert!(parts[3].contains("HTTP/1.1 200 OK"), "{}", parts[3]);
        assert!(
            parts[3].trim_end().ends_with(&format!("\r\n\r\n{surname}")),
            "{}",
            parts[3]
        );
    }
}

#[actix_web::test]
async fn malformed_batches_are_4xx_odata_errors() {
    for backend in backends() {
        let app = spawn_seeded(backend).await;
        let t = app.db.token("alpha");
        let error = |r: &Reply, status: u16| {
            assert_eq!(r.status, status, "{}", r.text);
            assert!(r.json()["error"]["message"].is_string(), "{}", r.text);
        };
        error(&post(&app, &t, "text/plain", b"x".to_vec()).await, 415);
        error(&post(&app, &t, "multipart/mixed", b"x".to_vec()).await, 415);
        error(
            &post(&app, &t, "application/json", b"{\"requests\": [".to_vec()).await,
            400,
        );
        let twice = json!({"requests": [
            {"id": "a", "method": "get", "url": "Contacts(1)"},
            {"id": "a", "method": "get", "url": "Contacts(2)"},
        ]});
        error(
            &post(&app, &t, "application/json", twice.to_string().into_bytes()).await,
            400,
        );
        // dependsOn names only requests (or atomicity groups) before it.
        for depends in [json!(["9"]), json!(["b"]), json!(["a", "c"])] {
            let body = json!({"requests": [
                {"id": "a", "method": "get", "url": "Contacts(1)"},
                {"id": "b", "method": "get", "url": "Contacts(2)", "dependsOn": depends},
                {"id": "c", "method": "get", "url": "Contacts(3)"},
            ]});
            let r = post(&app, &t, "application/json", body.to_string().into_bytes()).await;
            error(&r, 400);
            assert!(r.text.contains("depends on"), "{}", r.text);
        }
        let ordered = json!({"requests": [
            {"id": "a", "method": "get", "url": "Contacts(1)", "atomicityGroup": "g"},
            {"id": "b", "method": "get", "url": "Contacts(2)", "dependsOn": ["a", "g"]},
        ]});
        let r = post(
            &app,
            &t,
            "application/json",
            ordered.to_string().into_bytes(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let many: Vec<&str> = vec!["Contacts(1)"; 101];
        error(
            &post(&app, &t, "application/json", json_batch(&many)).await,
            400,
        );
        error(
            &post(&app, &t, "application/json", vec![b' '; 2 << 20]).await,
            413,
        );
        error(
            &post(
                &app,
                &t,
                "multipart/mixed; boundary=b",
                b"--b\r\nContent-Type: application/http\r\n\r\nGET Contacts(1) HTTP/1.1\r\n\r\n"
                    .to_vec(),
            )
            .await,
            400,
        );
        error(&app.get("$batch", &t).await, 405);
        let no_token = Reply::read(
            app.client
                .post(format!("{}/$batch", app.base))
                .header("content-type", "application/json")
                .body(json_batch(&["Contacts(1)"]))
                .send()
                .await
                .expect("batch"),
        )
        .await;
        error(&no_token, 401);
        // A batch inside a batch, and a URL longer than a request may have on its own,
        // are refused inside; the rest is still answered.
        let long = format!(
            "Contacts?$filter={}",
            vec!["ContactId eq 1"; 2000].join(" or ")
        );
        let nested = json!({"requests": [
            {"id": "1", "method": "post", "url": "$batch"},
            {"id": "2", "method": "get", "url": "Contacts(1)?$select=ContactId"},
            {"id": "3", "method": "get", "url": long},
        ]});
        let body = nested.to_string().into_bytes();
        let answers = responses(&post(&app, &t, "application/json", body).await);
        assert_eq!(answers[0]["status"], 400, "{}", answers[0]);
        assert_eq!(answers[1]["status"], 200, "{}", answers[1]);
        assert_eq!(answers[2]["status"], 414, "{}", answers[2]);
    }
}

/// A JSON batch runs a request only if the requests and atomicity groups it depends on
/// succeeded; otherwise, and for an `if` condition, which is not evaluated, it is a 424
/// (JSON Format 4.01 §19.1). The others run whatever failed before them.
#[actix_web::test]
async fn json_batch_requests_run_only_after_what_they_depend_on_succeeded() {
    for backend in backends() {
        let app = spawn_seeded(backend).await;
        let (alpha, beta) = (app.db.token("alpha"), app.db.token("beta"));
        let alpha_only = app
            .get(
                "Contacts?$orderby=ContactId desc&$select=ContactId&$top=1",
                &alpha,
            )
            .await
            .values()[0]["ContactId"]
            .as_i64()
            .unwrap();
        let body = |token_sees: &str| {
            json!({"requests": [
                {"id": "a", "method": "get", "url": token_sees},
                {"id": "b", "method": "get", "url": "Contacts/$count", "dependsOn": ["a"]},
                {"id": "c", "method": "get", "url": "Contacts(1)?$select=ContactId"},
                {"id": "d", "method": "get", "url": "Contacts(1)/Surname", "dependsOn": ["c"]},
                {"id": "e", "method": "get", "url": "Contacts(1)", "atomicityGroup": "g"},
                {"id": "f", "method": "get", "url": "Contacts(999999999)", "atomicityGroup": "g"},
                {"id": "h", "method": "get", "url": "Contacts/$count", "dependsOn": ["g"]},
                {"id": "i", "method": "get", "url": "Contacts/$count", "dependsOn": ["c"], "if": "$c/$succeeded"}
            ]})
            .to_string()
            .into_bytes()
        };
        let url = format!("Contacts({alpha_only})?$select=ContactId");
        let r = post_preferring(&app, &alpha, "application/json", body(&url), None).await;
        let answers = responses(&r);
        let status: Vec<u64> = answers
            .iter()
            .map(|a| a["status"].as_u64().unwrap_or(0))
            .collect();
        assert_eq!(
            status,
            [200, 200, 200, 200, 200, 404, 424, 424],
            "{}",
            r.text
        );
        assert_eq!(answers[0]["body"]["ContactId"], alpha_only);
        for i in [6, 7] {
            assert_eq!(
                answers[i]["body"]["error"]["code"], "FailedDependency",
                "{}",
                answers[i]
            );
        }
        assert!(answers[6]["body"]["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("`g`"));
        // Beta cannot see alpha's contact, so what depends on reading it is not run either:
        // the 404 names nothing of alpha's, and the 424 only the request's id.
        let r = post_preferring(&app, &beta, "application/json", body(&url), None).await;
        let answers = responses(&r);
        assert_eq!(answers[0]["status"], 404, "{}", r.text);
        assert_eq!(answers[1]["status"], 424, "{}", r.text);
        assert!(
            !answers[0].to_string().contains("\"ContactId\":"),
            "{}",
            answers[0]
        );
        assert_eq!(answers[2]["status"], 200, "{}", r.text);
    }
}

/// A multipart batch stops at its first error unless `continue-on-error` is preferred
/// (Protocol 4.01 §11.7.7.3): the error is its last part.
#[actix_web::test]
async fn a_multipart_batch_stops_at_its_first_error_unless_asked_to_go_on() {
    for backend in backends() {
        let app = spawn_seeded(backend).await;
        let alpha = app.db.token("alpha");
        let body = "--b1\r\nContent-Type: application/http\r\n\r\nGET Contacts(1)?$select=ContactId HTTP/1.1\r\n\r\n\r\n\
             --b1\r\nContent-Type: application/http\r\n\r\nGET Contacts(999999999) HTTP/1.1\r\n\r\n\r\n\
             --b1\r\nContent-Type: application/http\r\n\r\nGET Contacts/$count HTTP/1.1\r\n\r\n\r\n\
             --b1--\r\n";
        for (prefer, parts, applied) in [
            (None, 2, None),
            (Some("continue-on-error=false"), 2, None),
            (
                Some("odata.continue-on-error"),
                3,
                Some("odata.continue-on-error"),
            ),
            (Some("continue-on-error=true"), 3, Some("continue-on-error")),
        ] {
            let r = post_preferring(
                &app,
                &alpha,
                "multipart/mixed; boundary=b1",
                body.as_bytes().to_vec(),
                prefer,
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            let statuses: Vec<&str> = r
                .text
                .lines()
                .filter(|l| l.starts_with("HTTP/1.1 "))
                .collect();
            assert_eq!(statuses.len(), parts, "{prefer:?}: {}", r.text);
            assert!(
                statuses[1].starts_with("HTTP/1.1 404"),
                "{prefer:?}: {}",
                r.text
            );
            assert_eq!(r.header("preference-applied"), applied, "{prefer:?}");
        }
    }
}

/// A 304 inside a batch is no error: what depends on it runs, and a multipart batch
/// goes on after it.
#[actix_web::test]
async fn a_not_modified_answer_in_a_batch_is_no_failure() {
    for backend in backends() {
        let app = spawn_seeded(backend).await;
        let alpha = app.db.token("alpha");
        let etag = app
            .get("$metadata", &alpha)
            .await
            .header("etag")
            .expect("metadata etag")
            .to_owned();
        let body = json!({"requests": [
            {"id": "m", "method": "get", "url": "$metadata", "headers": {"if-none-match": etag}},
            {"id": "n", "method": "get", "url": "Contacts/$count", "dependsOn": ["m"]}
        ]});
        let r = post_preferring(
            &app,
            &alpha,
            "application/json",
            body.to_string().into_bytes(),
            None,
        )
        .await;
        let answers = responses(&r);
        assert_eq!(answers[0]["status"], 304, "{}", r.text);
        assert_eq!(answers[1]["status"], 200, "{}", r.text);
        let multipart = format!(
            "--b1\r\nContent-Type: application/http\r\n\r\nGET $metadata HTTP/1.1\r\nIf-None-Match: {etag}\r\n\r\n\r\n\
             --b1\r\nContent-Type: application/http\r\n\r\nGET Contacts/$count HTTP/1.1\r\n\r\n\r\n\
             --b1--\r\n"
        );
        let r = post_preferring(
            &app,
            &alpha,
            "multipart/mixed; boundary=b1",
            multipart.into_bytes(),
            None,
        )
        .await;
        let statuses: Vec<&str> = r
            .text
            .lines()
            .filter(|l| l.starts_with("HTTP/1.1 "))
            .collect();
        assert_eq!(statuses.len(), 2, "{}", r.text);
        assert!(statuses[0].starts_with("HTTP/1.1 304"), "{}", r.text);
        assert!(statuses[1].starts_with("HTTP/1.1 200"), "{}", r.text);
    }
}
