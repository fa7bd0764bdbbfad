//! Who is calling: `Authorization: Bearer <token>`, or Basic with the token as the
//! password (what Excel and Power BI credential dialogs can send).

use super::error::ApiError;
use crate::auth::{verify, Principal};
use crate::db::Db;
use actix_web::http::header;
use actix_web::{web, HttpRequest};
use base64::Engine;

/// The presented token, if the header is well-formed.
fn presented_token(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(
            "missing Authorization header; send `Authorization: Bearer <token>`",
        ))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header"))?
        .trim();
    let (scheme, rest) = value.split_once(' ').ok_or(ApiError::Unauthorized(
        "malformed Authorization header; expected `Bearer <token>`",
    ))?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        if rest.is_empty() || rest.contains(' ') {
            return Err(ApiError::Unauthorized("malformed bearer token"));
        }
        return Ok(rest.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| ApiError::Unauthorized("malformed Basic credentials"))?;
        let text = String::from_utf8(decoded)
            .map_err(|_| ApiError::Unauthorized("malformed Basic credentials"))?;
        let (_, password) = text
            .split_once(':')
            .ok_or(ApiError::Unauthorized("malformed Basic credentials"))?;
        if password.is_empty() {
            return Err(ApiError::Unauthorized(
                "Basic credentials need the token as the password",
            ));
        }
        return Ok(password.to_owned());
    }
    Err(ApiError::Unauthorized(
        "unsupported authorization scheme; use Bearer",
    ))
}

pub async fn authenticate(req: &HttpRequest, db: &Db) -> Result<Principal, ApiError> {
    let token = presented_token(req)?;
    let db = db.clone();
    let found = web::block(move || -> Result<_, ApiError> {
        let mut conn = db.get()?;
        crate::auth::verify(&mut conn, &token).map_err(|e| match e {
            crate::auth::AuthError::Db(d) => ApiError::Db(d.into()),
            _ => ApiError::Unauthorized("invalid token"),
        })
    })
    .await
    .map_err(|_| ApiError::Blocking)??;
    let _ = verify;
    found.ok_or(ApiError::Unauthorized(
        "the token is invalid or has been revoked",
    ))
}
