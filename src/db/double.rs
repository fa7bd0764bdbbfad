//! Division of doubles for SQLite, whose `/` gives null for a zero divisor. OData
//! (URL conventions 5.1.1.2.4) makes a Double divided by zero INF, -INF, or NaN for 0 (null
//! on SQLite, which has no NaN); a Duration divided by zero fails the request, as on
//! PostgreSQL (`crm_double_div` there, migrations).

use super::checked::Checked;
use diesel::sql_types::{Double, Nullable};
use diesel::sqlite::SqliteConnection;
use diesel::QueryResult;

diesel::define_sql_function! {
    /// `a / b`; the dividend times infinity when `b` is 0.
    fn odata_double_div(a: Nullable<Double>, b: Nullable<Double>) -> Nullable<Double>;
}

diesel::define_sql_function! {
    /// `a / b` for a duration `a` in seconds; an error when `b` is 0.
    fn odata_duration_div(a: Nullable<Double>, b: Nullable<Double>) -> Nullable<Double>;
}

/// The SQL function dividing a Double on SQLite.
pub const DIVIDE: &str = "odata_double_div";
/// The SQL function dividing a Duration on SQLite.
pub const DIVIDE_DURATION: &str = "odata_duration_div";

/// `a / b`, where a zero divisor gives `a` times infinity: the sign of the dividend
/// decides, not that of the zero (PostgreSQL's zero has none).
fn divide(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        a * f64::INFINITY
    } else {
        a / b
    }
}

fn divide_duration(a: Option<f64>, b: Option<f64>) -> Checked<f64> {
    match (a, b) {
        // -0.0 matches too.
        (Some(_), Some(0.0)) => Checked::division_by_zero(),
        (Some(a), Some(b)) => Checked::Value(Some(a / b)),
        _ => Checked::Value(None),
    }
}

/// Registers the functions on `conn`. Null in, null out.
pub fn register(conn: &mut SqliteConnection) -> QueryResult<()> {
    odata_double_div_utils::register_impl(conn, |a: Option<f64>, b: Option<f64>| {
        Some(divide(a?, b?))
    })?;
    odata_duration_div_utils::register_impl(conn, divide_duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_double_divided_by_zero_is_infinite_or_nan() {
        assert_eq!(divide(1.5, 0.0), f64::INFINITY);
        assert_eq!(divide(-1.5, 0.0), f64::NEG_INFINITY);
        assert_eq!(divide(1.5, -0.0), f64::INFINITY);
        assert!(divide(0.0, 0.0).is_nan());
        assert_eq!(divide(3.0, 2.0), 1.5);
    }

    #[test]
    fn a_duration_divided_by_zero_fails() {
        assert_eq!(
            divide_duration(Some(60.0), Some(0.0)),
            Checked::division_by_zero()
        );
        assert_eq!(
            divide_duration(Some(60.0), Some(4.0)),
            Checked::Value(Some(15.0))
        );
        assert_eq!(divide_duration(None, Some(0.0)), Checked::Value(None));
    }
}
