//! Deterministic, realistic demo data for a workspace.
//!
//! `seed(conn, dialect, "demo", 2_000, 42, false)` writes about 10 users, the lead
//! lookups (statuses, sizes, sources, types, pipelines), 80 companies, 200 divisions
//! with one address each, 2,000 contacts and 4,000 leads. The same workspace state,
//! contact count and seed always produce the same rows: values come from SplitMix64
//! streams (`rng.rs`) and dates are relative to 2026-01-01T00:00:00Z, never the clock.
//!
//! Seeding a workspace that already has data adds a new batch: company, division,
//! address, contact and lead ids continue after the workspace's current maximum (and
//! the new batch's values differ from the first's). Users and lookups are keyed by code;
//! existing ones are kept (`ON CONFLICT DO NOTHING`) and the report counts only the rows
//! actually inserted.

mod generate;
mod insert;
mod lookups;
mod names;
mod rng;
mod tables;

#[cfg(test)]
mod tests;

pub use generate::REFERENCE;

use crate::db::{DbConnection, Dialect};
use crate::sql::Sql;
use diesel::sql_types::Integer;
use diesel::RunQueryDsl;
use generate::{Bases, Counts, Generator};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("invalid seed request: {0}")]
    Invalid(String),
}

/// Rows inserted per table by one `seed` call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub workspace_id: i32,
    pub users: usize,
    pub lead_statuses: usize,
    pub lead_sizes: usize,
    pub lead_sources: usize,
    pub lead_types: usize,
    pub lead_pipelines: usize,
    pub companies: usize,
    pub addresses: usize,
    pub divisions: usize,
    pub contacts: usize,
    pub leads: usize,
}

impl SeedReport {
    /// `(table, rows inserted)` in insertion order.
    pub fn tables(&self) -> [(&'static str, usize); 11] {
        [
            ("crm_users", self.users),
            ("lead_statuses", self.lead_statuses),
            ("lead_sizes", self.lead_sizes),
            ("lead_sources", self.lead_sources),
            ("lead_types", self.lead_types),
            ("lead_pipelines", self.lead_pipelines),
            ("companies", self.companies),
            ("addresses", self.addresses),
            ("divisions", self.divisions),
            ("contacts", self.contacts),
            ("leads", self.leads),
        ]
    }

    pub fn total(&self) -> usize {
        self.tables().iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "workspace {}:", self.workspace_id)?;
        for (table, n) in self.tables() {
            writeln!(f, "  {table:<15} {n:>9}")?;
        }
        write!(f, "  {:<15} {:>9}", "total", self.total())
    }
}

impl From<crate::auth::AuthError> for SeedError {
    fn from(e: crate::auth::AuthError) -> Self {
        match e {
            crate::auth::AuthError::Db(d) => SeedError::Database(d),
            other => SeedError::Invalid(other.to_string()),
        }
    }
}

/// The largest `column` in `table` for the workspace, or 0.
fn max_id(
    conn: &mut DbConnection,
    table: &'static str,
    column: &'static str,
    workspace_id: i32,
) -> Result<i64, SeedError> {
    let mut q = Sql::<Integer>::new();
    q.sql("SELECT COALESCE(MAX(")
        .ident(column)
        .sql("), 0) FROM ")
        .ident(table)
        .sql(" WHERE workspace_id = ")
        .bind_int(i64::from(workspace_id));
    Ok(q.load::<i32>(conn)?.into_iter().next().map_or(0, i64::from))
}

fn progress_bar(show: bool, total: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>14} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows ({eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Seeds `workspace` (created if missing) with `contacts` contacts and the companies,
/// divisions, addresses, leads, users and lookups around them, all derived from `seed`.
/// Each table is written in its own transaction with multi-row INSERTs; `progress`
/// draws a bar on stderr.
pub fn seed(
    conn: &mut DbConnection,
    dialect: Dialect,
    workspace: &str,
    contacts: usize,
    seed: u64,
    progress: bool,
) -> Result<SeedReport, SeedError> {
    let ws = crate::auth::ensure_workspace(conn, workspace)?;
    let bases = Bases {
        company: max_id(conn, "companies", "company_id", ws)?,
        address: max_id(conn, "addresses", "address_id", ws)?,
        division: max_id(conn, "divisions", "division_id", ws)?,
        contact: max_id(conn, "contacts", "contact_id", ws)?,
        lead: max_id(conn, "leads", "lead_id", ws)?,
    };
    let counts = Counts::for_contacts(contacts);
    let fits = |base: i64, n: usize| {
        i64::try_from(n)
            .ok()
            .and_then(|n| base.checked_add(n))
            .is_some_and(|last| last <= i64::from(i32::MAX))
    };
    if !fits(bases.contact, counts.contacts) || !fits(bases.lead, counts.leads) {
        return Err(SeedError::Invalid(format!(
            "{contacts} more contacts would overflow the 32-bit ids"
        )));
    }

    let mut g = Generator::new(seed, bases, counts);
    let users = g.user_rows();
    let statuses = g.status_rows();
    let lookups = [
        tables::LEAD_SIZES,
        tables::LEAD_SOURCES,
        tables::LEAD_TYPES,
        tables::LEAD_PIPELINES,
    ]
    .map(|t| (t, g.lookup_rows(&t)));
    let companies = g.company_rows();
    let (addresses, divisions) = g.division_rows();

    let total = users.len()
        + statuses.len()
        + lookups.iter().map(|(_, r)| r.len()).sum::<usize>()
        + companies.len()
        + addresses.len()
        + divisions.len()
        + counts.contacts
        + counts.leads;
    let bar = progress_bar(progress, total as u64);
    let mut report = SeedReport {
        workspace_id: ws,
        ..SeedReport::default()
    };
    let put = |conn: &mut DbConnection, table: &insert::Table, rows: Vec<Vec<insert::Val>>| {
        insert::fill(conn, dialect, table, ws, rows.into_iter(), &bar)
    };
    report.users = put(conn, &tables::USERS, users)?;
    report.lead_statuses = put(conn, &tables::LEAD_STATUSES, statuses)?;
    let [sizes, sources, types, pipelines] = lookups;
    report.lead_sizes = put(conn, &sizes.0, sizes.1)?;
    report.lead_sources = put(conn, &sources.0, sources.1)?;
    report.lead_types = put(conn, &types.0, types.1)?;
    report.lead_pipelines = put(conn, &pipelines.0, pipelines.1)?;
    report.companies = put(conn, &tables::COMPANIES, companies)?;
    report.addresses = put(conn, &tables::ADDRESSES, addresses)?;
    report.divisions = put(conn, &tables::DIVISIONS, divisions)?;

    let mut rng = g.rng("contacts");
    let rows = (0..counts.contacts).map(|i| g.contact_row(&mut rng, i));
    report.contacts = insert::fill(conn, dialect, &tables::CONTACTS, ws, rows, &bar)?;

    let mut rng = g.rng("leads");
    let rows = (0..counts.leads).map(|i| g.lead_row(&mut rng, i));
    report.leads = insert::fill(conn, dialect, &tables::LEADS, ws, rows, &bar)?;

    bar.finish_and_clear();
    // Bulk loads leave the planner's statistics stale (PostgreSQL until autovacuum runs,
    // SQLite until the next ANALYZE); refresh them so the first queries plan well. On
    // PostgreSQL, VACUUM also marks the new pages all-visible, so index-only scans (a
    // contact's leads) need not visit the table for each row.
    let refresh = match dialect {
        Dialect::Postgres => {
            let tables: Vec<&str> = crate::model::MODEL.types.iter().map(|e| e.table).collect();
            format!("VACUUM (ANALYZE) {}", tables.join(", "))
        }
        Dialect::Sqlite => "ANALYZE".to_owned(),
    };
    diesel::connection::SimpleConnection::batch_execute(conn, &refresh)?;
    Ok(report)
}
