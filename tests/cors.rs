//! Reading the service from a web page of another origin (CORS): preflights answered
//! without a token, every answer readable by the configured origins only, and nothing
//! for anyone when no origin is configured.

mod common;

use common::{spawn_with, Backend, TestApp, TestDb};
use crm_odata::http::cors::CorsOrigins;
use reqwest::{header::HeaderMap, Method};

const PAGE: &str = "https://app.example";

async fn app(origins: Option<&str>) -> TestApp {
    let db = TestDb::new(Backend::Sqlite);
    db.seed("alpha", 20, 1);
    let origins: Option<CorsOrigins> = origins.map(|o| o.parse().expect("origins"));
    spawn_with(db, move |c| c.cors_origins = origins).await
}

async fn preflight(app: &TestApp, origin: &str) -> (u16, HeaderMap, String) {
    let r = app
        .client
        .request(Method::OPTIONS, format!("{}/Contacts", app.base))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization,prefer")
        .send()
        .await
        .expect("preflight");
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.text().await.expect("body"))
}

async fn read(app: &TestApp, origin: &str, token: &str) -> (u16, HeaderMap) {
    let r = app
        .client
        .get(format!("{}/Contacts?$top=1", app.base))
        .header("Origin", origin)
        .bearer_auth(token)
        .send()
        .await
        .expect("read");
    (r.status().as_u16(), r.headers().clone())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

#[actix_web::test]
async fn a_configured_origin_reads_from_a_page_and_others_do_not() {
    let app = app(Some(PAGE)).await;
    let t = app.db.token("alpha");

    let (status, h, _) = preflight(&app, PAGE).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), Some(PAGE));
    assert!(header(&h, "access-control-allow-methods").is_some_and(|m| m.contains("GET")));
    assert!(header(&h, "access-control-allow-headers")
        .is_some_and(|a| a.to_ascii_lowercase().contains("authorization")));

    let (status, h) = read(&app, PAGE, &t).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), Some(PAGE));
    let exposed = header(&h, "access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for name in [
        "odata-version",
        "ratelimit",
        "x-ratelimit-remaining",
        "retry-after",
    ] {
        assert!(exposed.contains(name), "{name} not in {exposed}");
    }
    // The page can read its errors too.
    let (status, h) = read(&app, PAGE, "crm_not_a_token").await;
    assert_eq!(status, 401);
    assert_eq!(header(&h, "access-control-allow-origin"), Some(PAGE));

    // Another origin: served, as any client that is not a browser, but with no header
    // that lets a page read it; its preflight is refused with an OData error.
    let (status, h) = read(&app, "https://evil.example", &t).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), None);
    let (status, h, body) = preflight(&app, "https://evil.example").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(header(&h, "access-control-allow-origin"), None);
    assert_eq!(header(&h, "odata-version"), Some("4.0"));
    let error: serde_json::Value = serde_json::from_str(&body).expect("OData error");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("CORS")),
        "{body}"
    );
}

#[actix_web::test]
async fn any_origin_with_a_wildcard_and_none_by_default() {
    let any = app(Some("*")).await;
    let t = any.db.token("alpha");
    let (status, h) = read(&any, "https://anywhere.example", &t).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
    let (status, h, _) = preflight(&any, "https://anywhere.example").await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));

    let none = app(None).await;
    let t = none.db.token("alpha");
    let (status, h) = read(&none, PAGE, &t).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), None);
    // Without CORS a preflight is just an OPTIONS request without a token.
    let (status, h, _) = preflight(&none, PAGE).await;
    assert_eq!(status, 401);
    assert_eq!(header(&h, "access-control-allow-origin"), None);
}
