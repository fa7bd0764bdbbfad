//! `tolower`/`toupper` for SQLite, whose `lower`/`upper` map only ASCII letters. These
//! map every letter as PostgreSQL does in a UTF-8 database: one character to one, by
//! Unicode's simple case mappings (`'Ü'` to `'ü'`, `'Σ'` always to `'σ'`, `'ß'` kept),
//! not Rust's full, context-dependent string mappings (final `'ς'`, `"SS"`).

use diesel::sql_types::{Nullable, Text};
use diesel::sqlite::SqliteConnection;
use diesel::QueryResult;

diesel::define_sql_function! {
    /// Its argument in lower case.
    fn odata_lower(text: Nullable<Text>) -> Nullable<Text>;
}

diesel::define_sql_function! {
    /// Its argument in upper case.
    fn odata_upper(text: Nullable<Text>) -> Nullable<Text>;
}

/// Registers `odata_lower` and `odata_upper` on `conn`. Null in, null out.
pub fn register(conn: &mut SqliteConnection) -> QueryResult<()> {
    odata_lower_utils::register_impl(conn, |text: Option<String>| text.map(|t| lower(&t)))?;
    odata_upper_utils::register_impl(conn, |text: Option<String>| text.map(|t| upper(&t)))
}

fn lower(text: &str) -> String {
    // Only U+0130 (`'İ'`) lowers to more than one character, `'i'` and a combining
    // dot; its simple mapping is the `'i'`.
    text.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

fn upper(text: &str) -> String {
    // A letter whose upper case is several characters (`'ß'`, `'ﬁ'`) has no simple one.
    text.chars()
        .map(|c| {
            let mut u = c.to_uppercase();
            match (u.next(), u.next()) {
                (Some(one), None) => one,
                _ => c,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{lower, upper};

    #[test]
    fn letters_map_one_to_one_as_on_postgresql() {
        assert_eq!(lower("ÜBER Ça ПРИВЕТ Smith 42"), "über ça привет smith 42");
        assert_eq!(upper("über ça привет Smith 42"), "ÜBER ÇA ПРИВЕТ SMITH 42");
        assert_eq!(lower("ΣΑΣ"), "σασ");
        assert_eq!(lower("İ"), "i");
        assert_eq!(upper("straße ﬁ ÿ"), "STRAßE ﬁ Ÿ");
        assert_eq!(lower("ǅ"), "ǆ");
        assert_eq!(upper("ǅ"), "Ǆ");
        assert_eq!(lower(""), "");
    }
}
