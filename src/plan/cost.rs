//! Whether a read is small, bounded work: the HTTP layer runs such reads on the embedded
//! database from the worker thread, because a hand-off to the blocking pool would cost
//! more than the query (and adds a tail: two thread switches on a busy machine).

use crate::bind::{CmpOp, Expand, Read, TExpr, Value};
use crate::db::Dialect;
use odata_parser::Function;

/// Most rows a quick read returns.
const QUICK_ROWS: u64 = 100;

/// On PostgreSQL a quick read holds its worker thread for a round trip and the
/// database's work while the worker's other connections wait. Measured on two shared
/// cores: pages of 100 with joined expands or a sort, run inline, had p99 at 15-19 times
/// p50 (handed off: 2.4-2.5 times, for 10-23% fewer requests/s); a page of 50 without
/// expands stayed at 2.9 times inline.
const PG_QUICK_ROWS: u64 = 50;

/// A collection read is quick when it returns at most [`QUICK_ROWS`] rows from the start
/// of the order (no `$skip`), aggregates nothing per row or over the collection (no
/// collection-valued `$expand`, no `$count`, no `$search`, no `$these`), and an index bounds the rows it visits: its filter requires
/// equality or a prefix on a column that leads an index (or the key) which also holds
/// every `$orderby` column, or, without a filter, it is ordered by the key or by a column
/// that leads an index.
pub fn is_quick(read: &Read, page_size: u64, dialect: Dialect) -> bool {
    let shape = &read.shape;
    let rows = shape.top.unwrap_or(u64::MAX).min(page_size);
    if dialect == Dialect::Postgres && (rows > PG_QUICK_ROWS || !shape.expand.is_empty()) {
        return false;
    }
    if rows > QUICK_ROWS
        || shape.skip.unwrap_or(0) > 0
        || shape.search.is_some()
        || shape.count
        || shape.uses_these()
        || !read.path.is_empty()
        || !shape.expand.iter().all(single_valued)
    {
        return false;
    }
    let e = read.entity;
    let Some(order) = shape
        .orderby
        .iter()
        .map(|(x, _)| x.root_prop().map(|p| p.name))
        .collect::<Option<Vec<&str>>>()
    else {
        return false;
    };
    // The key and each secondary index, as the columns they hold in order.
    let key: &[&str] = e.key;
    let mut indexes = std::iter::once(key).chain(e.indexes.iter().copied());
    match &shape.filter {
        Some(f) => indexes.any(|ix| {
            order.iter().all(|c| ix.contains(c) || e.key.contains(c))
                && ix.first().is_some_and(|lead| narrowed(f, lead))
        }),
        None => order
            .first()
            .is_none_or(|c| indexes.any(|ix| ix.first() == Some(c))),
    }
}

fn single_valued(e: &Expand) -> bool {
    !e.nav.many && !e.is_count && e.shape.expand.iter().all(single_valued)
}

/// Whether some top-level conjunct of `f` is `lead eq literal` or
/// `startswith(lead, 'prefix')`.
fn narrowed(f: &TExpr, lead: &str) -> bool {
    let is_lead = |p: &TExpr| p.root_prop().is_some_and(|p| p.name == lead);
    f.conjuncts().into_iter().any(|c| match c {
        TExpr::Cmp(CmpOp::Eq, a, b) => match (a.as_ref(), b.as_ref()) {
            (p, TExpr::Lit(v)) | (TExpr::Lit(v), p) => !matches!(v, Value::Null) && is_lead(p),
            _ => false,
        },
        TExpr::Call(Function::StartsWith, args, _) => match args.as_slice() {
            [p, TExpr::Lit(Value::String(s))] => !s.is_empty() && is_lead(p),
            _ => false,
        },
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bind::{bind, Target};

    fn quick_on(target: &str, dialect: Dialect) -> bool {
        let url = odata_parser::parse_target(target).expect(target);
        let Target::Entities(read) = bind(&url).expect(target) else {
            panic!("{target}: not a collection")
        };
        is_quick(&read, 1000, dialect)
    }

    fn quick(target: &str) -> bool {
        quick_on(target, Dialect::Sqlite)
    }

    #[test]
    fn on_postgresql_only_small_pages_without_expands_are_quick() {
        for (t, inline) in [
            (
                "Contacts?$top=50&$select=ContactId,Forename,Surname,Email",
                true,
            ),
            ("Leads?$filter=ContactId eq 7&$top=5", true),
            (
                "Contacts?$expand=Division($select=Name;$expand=Company)&$top=100",
                false,
            ),
            ("Contacts?$expand=Division&$top=5", false),
            (
                "Contacts?$filter=startswith(Surname,'Sm')&$orderby=Created desc&$top=100",
                false,
            ),
            (
                "Contacts?$filter=startswith(Surname,'Sm')&$orderby=Created desc&$top=50",
                true,
            ),
        ] {
            assert_eq!(quick_on(t, Dialect::Postgres), inline, "{t}");
        }
    }

    #[test]
    fn small_indexed_reads_are_quick() {
        for t in [
            "Contacts?$top=50&$select=ContactId,Forename,Surname,Email",
            "Contacts?$expand=Division($select=Name;$expand=Company)&$top=100",
            "Contacts?$filter=startswith(Surname,'Sm')&$orderby=Created desc&$top=100",
            "Contacts?$filter=DivisionId eq 3 and StatusFlag eq 'A'&$top=20",
            "Contacts?$orderby=Created desc&$top=10",
            "Leads?$filter=ContactId eq 7&$top=5",
            "Leads?$filter=StatusId eq 'NEW'&$top=100",
            "Contacts?$filter=DivisionId eq 3&$orderby=ContactId desc&$top=10",
        ] {
            assert!(quick(t), "{t}");
        }
    }

    #[test]
    fn large_unbounded_or_aggregating_reads_are_not() {
        for t in [
            "Contacts",
            "Contacts?$top=101",
            "Contacts?$top=10&$skip=5",
            "Contacts?$top=10&$count=true",
            "Contacts?$top=10&$search=smith",
            "Contacts?$top=10&$expand=Leads",
            "Contacts?$top=10&$filter=contains(JobTitle,'x')",
            "Contacts?$top=10&$filter=JobTitle eq 'x'",
            "Contacts?$top=10&$filter=startswith(Surname,'')",
            "Contacts?$top=10&$filter=Surname eq 'x' or JobTitle eq 'y'",
            "Contacts?$top=10&$filter=Surname eq null",
            "Contacts?$top=10&$orderby=JobTitle",
            "Contacts(1)/Leads?$top=10",
            // Equality on a column with few values, sorted by a column its index lacks.
            "Leads?$filter=StatusId eq 'NEW'&$orderby=Value desc&$top=100",
            "Contacts?$filter=DivisionId eq 3&$orderby=JobTitle&$top=10",
            "Contacts?$top=10&$orderby=Division/Name",
        ] {
            assert!(!quick(t), "{t}");
        }
    }
}
