//! Responses are compressed as `Accept-Encoding` asks (gzip and deflate, as Excel and
//! Power BI ask; brotli and zstd), decode to exactly the uncompressed document, page
//! through nextLinks compressed, and an `Accept-Encoding` that allows nothing produced
//! here gets the response uncompressed rather than an error.

mod common;

use common::{spawn_with, Backend, TestApp, TestDb};
use std::io::Read;

struct Raw {
    status: u16,
    encoding: Option<String>,
    vary: Option<String>,
    body: Vec<u8>,
}

/// GET with `Accept-Encoding` as given; the body as it came over the wire.
async fn fetch(app: &TestApp, path: &str, token: &str, accept_encoding: Option<&str>) -> Raw {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        format!("{}/{path}", app.base)
    };
    let mut req = app.client.get(url.replace(' ', "%20")).bearer_auth(token);
    if let Some(ae) = accept_encoding {
        req = req.header("accept-encoding", ae);
    }
    let resp = req.send().await.expect("request");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (status, encoding, vary) = (
        resp.status().as_u16(),
        header("content-encoding"),
        header("vary"),
    );
    let body = resp.bytes().await.expect("body").to_vec();
    Raw {
        status,
        encoding,
        vary,
        body,
    }
}

fn decode(raw: &Raw) -> Vec<u8> {
    let mut out = Vec::new();
    match raw.encoding.as_deref() {
        None => out.clone_from(&raw.body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(&raw.body[..])
                .read_to_end(&mut out)
                .expect("gzip");
        }
        Some("deflate") => {
            flate2::read::ZlibDecoder::new(&raw.body[..])
                .read_to_end(&mut out)
                .expect("deflate");
        }
        Some("br") => {
            brotli::Decompressor::new(&raw.body[..], 4096)
                .read_to_end(&mut out)
                .expect("brotli");
        }
        Some("zstd") => out = zstd::decode_all(&raw.body[..]).expect("zstd"),
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

async fn app() -> TestApp {
    let db = TestDb::new(Backend::Sqlite);
    db.seed("alpha", 200, 1);
    db.seed("beta", 60, 2);
    spawn_with(db, |c| c.max_page_size = 70).await
}

#[actix_web::test]
async fn each_coding_asked_for_decodes_to_the_uncompressed_document() {
    let app = app().await;
    let t = app.db.token("alpha");
    let path = "Contacts?$top=60&$expand=Leads($select=LeadId,Value)";
    let plain = fetch(&app, path, &t, None).await;
    assert_eq!((plain.status, plain.encoding.as_deref()), (200, None));
    for (asked, coding) in [
        ("gzip, deflate", "gzip"),
        ("deflate", "deflate"),
        ("br;q=1.0, gzip;q=0.5", "br"),
        ("zstd", "zstd"),
    ] {
        let r = fetch(&app, path, &t, Some(asked)).await;
        assert_eq!(r.status, 200, "{asked}");
        assert_eq!(r.encoding.as_deref(), Some(coding), "{asked}");
        assert!(
            r.vary
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case("accept-encoding")),
            "{asked}"
        );
        assert!(
            r.body.len() * 3 < plain.body.len(),
            "{asked}: {}",
            r.body.len()
        );
        assert_eq!(decode(&r), plain.body, "{asked}");
    }
    // Errors and metadata are compressed alike and stay what they were.
    for path in ["Contacts?$top=x", "$metadata", "Nothing"] {
        let plain = fetch(&app, path, &t, None).await;
        let gz = fetch(&app, path, &t, Some("gzip")).await;
        assert_eq!(gz.status, plain.status, "{path}");
        assert_eq!(gz.encoding.as_deref(), Some("gzip"), "{path}");
        assert_eq!(decode(&gz), plain.body, "{path}");
    }
}

#[actix_web::test]
async fn an_accept_encoding_that_allows_nothing_here_gets_the_plain_answer() {
    let app = app().await;
    let t = app.db.token("alpha");
    let plain = fetch(&app, "Contacts?$top=3", &t, None).await;
    for asked in ["identity;q=0, compress", "*;q=0", "compress", ";;q=oops"] {
        let r = fetch(&app, "Contacts?$top=3", &t, Some(asked)).await;
        assert_eq!(
            r.status,
            200,
            "{asked}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.encoding, None, "{asked}");
        assert_eq!(r.body, plain.body, "{asked}");
    }
}

/// A client that asks for gzip pages through every nextLink, compressed, and gets the
/// same rows as without; the other workspace's token sees none of them.
#[actix_web::test]
async fn paging_compressed_gives_the_same_rows_within_the_workspace() {
    let app = app().await;
    let (alpha, beta) = (app.db.token("alpha"), app.db.token("beta"));
    let ids = |doc: &serde_json::Value| -> Vec<i64> {
        doc["value"]
            .as_array()
            .expect("value")
            .iter()
            .map(|c| c["ContactId"].as_i64().expect("id"))
            .collect()
    };
    let mut all = Vec::new();
    let (mut next, mut pages) = (Some("Contacts?$select=ContactId,Email".to_owned()), 0);
    while let Some(path) = next {
        let gz = fetch(&app, &path, &alpha, Some("gzip")).await;
        assert_eq!(gz.encoding.as_deref(), Some("gzip"));
        let doc: serde_json::Value = serde_json::from_slice(&decode(&gz)).expect("JSON");
        all.extend(ids(&doc));
        next = doc["@odata.nextLink"].as_str().map(str::to_owned);
        pages += 1;
        if let Some(link) = &next {
            // The same link replayed with beta's token reveals nothing of alpha's.
            let other = fetch(&app, link, &beta, Some("gzip")).await;
            let text = String::from_utf8_lossy(&decode(&other)).into_owned();
            let emails: Vec<&str> = doc["value"]
                .as_array()
                .expect("value")
                .iter()
                .filter_map(|c| c["Email"].as_str())
                .collect();
            assert!(!emails.is_empty());
            for email in emails {
                assert!(!text.contains(email), "beta saw alpha's {email}: {text}");
            }
        }
    }
    assert_eq!(pages, 3, "200 contacts in pages of 70");
    // The same pages uncompressed.
    let mut plain = Vec::new();
    let mut next = Some("Contacts?$select=ContactId,Email".to_owned());
    while let Some(path) = next {
        let doc = app.get(&path, &alpha).await.json();
        plain.extend(ids(&doc));
        next = doc["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(all, plain);
    assert_eq!(all.len() as i64, app.db.count("1 = 1", "contacts", "alpha"));
}
