//! `REGEXP` for SQLite, which has the operator but no function behind it: OData's
//! `matchesPattern` on the embedded database.

use diesel::sql_types::{Nullable, Text};
use diesel::sqlite::SqliteConnection;
use diesel::QueryResult;
use regex::Regex;
use std::cell::RefCell;

diesel::define_sql_function! {
    /// `text REGEXP pattern` calls `regexp(pattern, text)`.
    fn regexp(pattern: Nullable<Text>, text: Nullable<Text>) -> Nullable<Bool>;
}

/// Registers `regexp` on `conn`. A statement passes the same pattern for every row, so
/// the last one compiled is kept. Null in, null out; a pattern that does not compile
/// (the binder refuses those first) matches nothing.
pub fn register(conn: &mut SqliteConnection) -> QueryResult<()> {
    let last: RefCell<Option<(String, Option<Regex>)>> = RefCell::new(None);
    regexp_utils::register_impl(
        conn,
        move |pattern: Option<String>, text: Option<String>| {
            let (pattern, text) = (pattern?, text?);
            let Ok(mut last) = last.try_borrow_mut() else {
                return Some(Regex::new(&pattern).is_ok_and(|re| re.is_match(&text)));
            };
            if !matches!(&*last, Some((p, _)) if *p == pattern) {
                let compiled = Regex::new(&pattern).ok();
                *last = Some((pattern, compiled));
            }
            let re = last.as_ref().and_then(|(_, re)| re.as_ref());
            Some(re.is_some_and(|re| re.is_match(&text)))
        },
    )
}
