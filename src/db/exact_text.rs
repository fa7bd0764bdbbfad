//! `odata_exact_text` for SQLite: a double as the shortest text that reads back as the
//! same double. A page's order values go into its `$skiptoken` this way; SQLite's own
//! `printf` and JSON give at most 16 significant digits (`110.00000000000001` becomes
//! `110.0`), and the next page would start inside the last row's tie group again.

use diesel::sql_types::{Double, Nullable};
use diesel::sqlite::SqliteConnection;
use diesel::QueryResult;

diesel::define_sql_function! {
    /// Its argument as exact text.
    fn odata_exact_text(value: Nullable<Double>) -> Nullable<Text>;
}

/// Registers `odata_exact_text` on `conn`. Null in, null out.
pub fn register(conn: &mut SqliteConnection) -> QueryResult<()> {
    odata_exact_text_utils::register_impl(conn, |value: Option<f64>| value.map(exact))
}

/// Rust writes the shortest digits that parse back to the same double (`inf` for an
/// infinity, which parses back too).
fn exact(v: f64) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::exact;

    #[test]
    fn every_double_reads_back_as_itself() {
        for v in [
            100.0 * 1.1,
            0.1 + 0.2,
            1.0 / 3.0,
            4339.35,
            -0.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(
                exact(v).parse::<f64>().map(f64::to_bits),
                Ok(v.to_bits()),
                "{v}"
            );
        }
        assert_eq!(exact(100.0 * 1.1), "110.00000000000001");
    }
}
