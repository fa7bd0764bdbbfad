//! Workspaces, users and personal access tokens. Tokens are random, shown once and
//! stored only as a SHA-256 hash.

mod known;

pub use self::known::KnownTokens;

use crate::db::{DbConnection, Dialect};
use crate::sql::Sql;
use base64::Engine;
use diesel::sql_types::{Integer, Nullable, Text};
use diesel::RunQueryDsl;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("database error: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("workspace `{0}` does not exist")]
    NoWorkspace(String),
    #[error("workspace name must be 1 to 100 characters, got {0:?}")]
    InvalidWorkspace(String),
    #[error("token {0} does not exist")]
    NoToken(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Read,
    Write,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read" => Ok(Role::Read),
            "write" => Ok(Role::Write),
            "admin" => Ok(Role::Admin),
            _ => Err(format!("unknown role `{s}` (read, write or admin)")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is calling: every query is confined to `workspace_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: i32,
    pub workspace_id: i32,
    pub user_code: String,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: i32,
    pub name: String,
    pub user_code: String,
    pub created: String,
    pub revoked: Option<String>,
}

pub fn hash_token(token: &str) -> String {
    // Into a buffer of its size: `hex::encode` pushes one char at a time, and this runs
    // on every request.
    let digest = Sha256::digest(token.as_bytes());
    let mut text = [0u8; 64];
    match hex::encode_to_slice(digest, &mut text) {
        Ok(()) => String::from_utf8_lossy(&text).into_owned(),
        // Never: 32 bytes are 64 hex digits.
        Err(_) => hex::encode(digest),
    }
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "crm_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn now_sql(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "strftime('%Y-%m-%dT%H:%M:%SZ','now')",
        Dialect::Postgres => "now()",
    }
}

pub fn find_workspace(conn: &mut DbConnection, name: &str) -> Result<Option<i32>, AuthError> {
    let mut q = Sql::<Integer>::new();
    q.sql("SELECT id FROM workspaces WHERE name = ")
        .bind_text(name);
    Ok(q.load::<i32>(conn)?.into_iter().next())
}

/// Creates the workspace if it is missing and returns its id; safe when two callers
/// create the same workspace at once.
pub fn ensure_workspace(conn: &mut DbConnection, name: &str) -> Result<i32, AuthError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(AuthError::InvalidWorkspace(name.to_owned()));
    }
    if let Some(id) = find_workspace(conn, name)? {
        return Ok(id);
    }
    let mut q = Sql::<Integer>::new();
    q.sql("INSERT INTO workspaces (name) VALUES (")
        .bind_text(name)
        .sql(") ON CONFLICT (name) DO NOTHING");
    q.execute(conn)?;
    find_workspace(conn, name)?.ok_or_else(|| AuthError::NoWorkspace(name.to_owned()))
}

/// Finds the user with `email` (or the workspace's API user when `None`), creating it
/// with `role`; an explicit role also updates an existing user.
fn ensure_user(
    conn: &mut DbConnection,
    dialect: Dialect,
    ws: i32,
    email: Option<&str>,
    role: Option<Role>,
) -> Result<String, AuthError> {
    let mut q = Sql::<Text>::new();
    q.sql("SELECT user_code FROM crm_users WHERE workspace_id = ")
        .bind_int(ws.into());
    match email {
        Some(e) => q
            .sql(" AND lower(email_address) = lower(")
            .bind_text(e)
            .sql(")"),
        None => q.sql(" AND user_code = 'API'"),
    };
    if let Some(code) = q.load::<String>(conn)?.into_iter().next() {
        if let Some(r) = role {
            let mut u = Sql::<Text>::new();
            u.sql("UPDATE crm_users SET role = ")
                .bind_text(r.as_str())
                .sql(" WHERE workspace_id = ")
                .bind_int(ws.into())
                .sql(" AND user_code = ")
                .bind_text(code.clone());
            u.execute(conn)?;
        }
        return Ok(code);
    }
    let code = match email {
        Some(e) => free_user_code(conn, ws, e)?,
        None => "API".to_owned(),
    };
    let name = email
        .map(|e| e.split('@').next().unwrap_or(e).to_owned())
        .unwrap_or_else(|| "API user".into());
    let mut ins = Sql::<Text>::new();
    ins.sql("INSERT INTO crm_users (workspace_id, user_code, user_name, email_address, obsolete, role, created, last_updated) VALUES (")
        .bind_int(ws.into())
        .sql(", ")
        .bind_text(code.clone())
        .sql(", ")
        .bind_text(name)
        .sql(", ")
        .bind_text(email.unwrap_or_default())
        .sql(", 0, ")
        .bind_text(role.unwrap_or(Role::Read).as_str())
        .sql(&format!(", {now}, {now})", now = now_sql(dialect)));
    ins.execute(conn)?;
    Ok(code)
}

/// A three-character code from the e-mail's local part, made unique in the workspace.
fn free_user_code(conn: &mut DbConnection, ws: i32, email: &str) -> Result<String, AuthError> {
    let letters: String = email
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(3)
        .collect::<String>()
        .to_ascii_uppercase();
    let base = format!("{letters:X<3}");
    for n in 0..1000u32 {
        let code = if n == 0 {
            base.clone()
        } else {
            format!("{}{}", &base[..1], n % 100)
                .chars()
                .take(3)
                .collect()
        };
        let mut q = Sql::<Integer>::new();
        q.sql("SELECT count(*) FROM crm_users WHERE workspace_id = ")
            .bind_int(ws.into())
            .sql(" AND user_code = ")
            .bind_text(code.clone());
        let taken: Vec<i64> = q.returning::<diesel::sql_types::BigInt>().load(conn)?;
        if taken.first().copied().unwrap_or(0) == 0 {
            return Ok(code);
        }
    }
    Ok("ZZZ".into())
}

/// Creates a token and returns `(id, token)`; the token itself is never stored.
pub fn create_token(
    conn: &mut DbConnection,
    dialect: Dialect,
    workspace: &str,
    email: Option<&str>,
    role: Option<Role>,
    name: Option<&str>,
) -> Result<(i32, String), AuthError> {
    let ws = ensure_workspace(conn, workspace)?;
    let user = ensure_user(conn, dialect, ws, email, role)?;
    let token = new_token();
    let mut q = Sql::<Integer>::new();
    q.sql("INSERT INTO tokens (workspace_id, user_code, name, token_hash) VALUES (")
        .bind_int(ws.into())
        .sql(", ")
        .bind_text(user)
        .sql(", ")
        .bind_text(name.unwrap_or("token"))
        .sql(", ")
        .bind_text(hash_token(&token))
        .sql(") RETURNING id");
    let id = q.get_result::<i32>(conn)?;
    Ok((id, token))
}

pub fn list_tokens(
    conn: &mut DbConnection,
    dialect: Dialect,
    workspace: &str,
) -> Result<Vec<TokenInfo>, AuthError> {
    let ws =
        find_workspace(conn, workspace)?.ok_or_else(|| AuthError::NoWorkspace(workspace.into()))?;
    let ts = |col: &str| match dialect {
        Dialect::Sqlite => col.to_owned(),
        Dialect::Postgres => {
            format!("to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
        }
    };
    let mut q = Sql::<(Integer, Text, Text, Text, Nullable<Text>)>::new();
    q.sql(&format!(
        "SELECT id, name, user_code, {}, {} FROM tokens WHERE workspace_id = ",
        ts("created"),
        ts("revoked")
    ))
    .bind_int(ws.into())
    .sql(" ORDER BY id");
    let rows: Vec<(i32, String, String, String, Option<String>)> = q.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, user_code, created, revoked)| TokenInfo {
            id,
            name,
            user_code,
            created,
            revoked,
        })
        .collect())
}

pub fn revoke_token(conn: &mut DbConnection, dialect: Dialect, id: i32) -> Result<(), AuthError> {
    let mut q = Sql::<Text>::new();
    q.sql(&format!(
        "UPDATE tokens SET revoked = {} WHERE revoked IS NULL AND id = ",
        now_sql(dialect)
    ))
    .bind_int(id.into());
    if q.execute(conn)? == 0 {
        let mut exists = Sql::<Integer>::new();
        exists
            .sql("SELECT id FROM tokens WHERE id = ")
            .bind_int(id.into());
        if exists.load::<i32>(conn)?.is_empty() {
            return Err(AuthError::NoToken(id));
        }
    }
    Ok(())
}

/// Resolves a presented token; `None` for unknown or revoked tokens.
pub fn verify(conn: &mut DbConnection, token: &str) -> Result<Option<Principal>, AuthError> {
    verify_hash(conn, &hash_token(token))
}

/// [`verify`] for a token already hashed with [`hash_token`].
pub fn verify_hash(conn: &mut DbConnection, hash: &str) -> Result<Option<Principal>, AuthError> {
    let mut q = Sql::<(Integer, Integer, Text, Text)>::new();
    q.sql(
        "SELECT t.id, t.workspace_id, u.user_code, u.role FROM tokens t \
         JOIN crm_users u ON u.workspace_id = t.workspace_id AND u.user_code = t.user_code \
         WHERE t.revoked IS NULL AND t.token_hash = ",
    )
    .bind_text(hash);
    let row: Option<(i32, i32, String, String)> = q.load(conn)?.into_iter().next();
    Ok(
        row.map(|(token_id, workspace_id, user_code, role)| Principal {
            token_id,
            workspace_id,
            user_code,
            role: role.parse().unwrap_or(Role::Read),
        }),
    )
}

/// `EXISTS (…)`, true exactly when [`verify_hash`] would accept the token and place it in
/// `workspace`. A read that carries it in its `WHERE` checks its own token: it returns
/// rows only while the token is live, in the same statement (and snapshot) as the rows.
/// The token's user needs no join here: the foreign key from `tokens` to `crm_users`
/// (enforced on both databases) keeps a user with tokens from being deleted.
pub fn live_token<ST>(q: &mut Sql<ST>, hash: &str, workspace: i64) {
    q.sql("EXISTS (SELECT 1 FROM tokens lt WHERE lt.revoked IS NULL AND lt.token_hash = ")
        .bind_text(hash)
        .sql(" AND lt.workspace_id = ")
        .bind_int(workspace)
        .sql(")");
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_token_is_stored_as_the_hex_of_its_sha256() {
        assert_eq!(
            super::hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
