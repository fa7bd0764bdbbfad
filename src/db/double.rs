//! Arithmetic on doubles for SQLite, whose `/` gives null for a zero divisor and whose
//! operators give infinity past the range of a double. OData (URL conventions 5.1.1.2.4)
//! makes a Double divided by zero INF, -INF, or NaN for 0 (null on SQLite, which has no
//! NaN); a Duration divided by zero fails the request, as on PostgreSQL (`crm_double_div`
//! there, migrations). A result beyond the range of a double from operands within it
//! fails the request, as PostgreSQL's `double precision` arithmetic does, so that both
//! databases answer alike (400 `ValueOutOfRange`).

use super::checked::Checked;
use diesel::sql_types::{Double, Nullable};
use diesel::sqlite::SqliteConnection;
use diesel::QueryResult;

diesel::define_sql_function! {
    /// `a / b`; the dividend times infinity when `b` is 0.
    fn odata_double_div(a: Nullable<Double>, b: Nullable<Double>) -> Nullable<Double>;
}

diesel::define_sql_function! {
    /// `a + b`, failing on overflow.
    fn odata_double_add(a: Nullable<Double>, b: Nullable<Double>) -> Nullable<Double>;
}

diesel::define_sql_function! {
    /// `a - b`, failing on overflow.
    fn odata_double_sub(a: Nullable<Double>, b: Nullable<Double>) -> Nullable<Double>;
}

diesel::define_sql_function! {
    /// `a * b`, failing on overflow and underflow.
    fn odata_double_mul(a: Nullable<Double>, b: Nullable<Double>) -> Nullable<Double>;
}

diesel::define_sql_function! {
    /// `a / b` for a duration `a` in seconds; an error when `b` is 0.
    fn odata_duration_div(a: Nullable<Double>, b: Nullable<Double>) -> Nullable<Double>;
}

/// The SQL functions adding, subtracting, multiplying and dividing Doubles on SQLite.
pub const ADD: &str = "odata_double_add";
pub const SUBTRACT: &str = "odata_double_sub";
pub const MULTIPLY: &str = "odata_double_mul";
pub const DIVIDE: &str = "odata_double_div";
/// The SQL function dividing a Duration on SQLite.
pub const DIVIDE_DURATION: &str = "odata_duration_div";

/// PostgreSQL's messages for a `double precision` result out of range (SQLSTATE 22003).
const OVERFLOW: &str = "value out of range: overflow";
const UNDERFLOW: &str = "value out of range: underflow";

/// `a + b` or `a - b` (`b` negated), with PostgreSQL's check (`float8_pl`).
fn add(a: f64, b: f64) -> Checked<f64> {
    let r = a + b;
    if r.is_infinite() && a.is_finite() && b.is_finite() {
        return Checked::Fails(OVERFLOW.into());
    }
    Checked::Value(Some(r))
}

/// `a * b`, with PostgreSQL's checks (`float8_mul`).
fn multiply(a: f64, b: f64) -> Checked<f64> {
    let r = a * b;
    if r.is_infinite() && a.is_finite() && b.is_finite() {
        return Checked::Fails(OVERFLOW.into());
    }
    if r == 0.0 && a != 0.0 && b != 0.0 {
        return Checked::Fails(UNDERFLOW.into());
    }
    Checked::Value(Some(r))
}

/// `a / b`, where a zero divisor gives `a` times infinity: the sign of the dividend
/// decides, not that of the zero (PostgreSQL's zero has none). Otherwise PostgreSQL's
/// checks (`float8_div`).
fn divide(a: f64, b: f64) -> Checked<f64> {
    if b == 0.0 {
        return Checked::Value(Some(a * f64::INFINITY));
    }
    let r = a / b;
    if r.is_infinite() && a.is_finite() {
        return Checked::Fails(OVERFLOW.into());
    }
    if r == 0.0 && a != 0.0 && b.is_finite() {
        return Checked::Fails(UNDERFLOW.into());
    }
    Checked::Value(Some(r))
}

/// Null in, null out; otherwise `f`.
fn both(a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> Checked<f64>) -> Checked<f64> {
    match (a, b) {
        (Some(a), Some(b)) => f(a, b),
        _ => Checked::Value(None),
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
        both(a, b, divide)
    })?;
    odata_double_add_utils::register_impl(conn, |a: Option<f64>, b: Option<f64>| both(a, b, add))?;
    odata_double_sub_utils::register_impl(conn, |a: Option<f64>, b: Option<f64>| {
        both(a, b.map(|b| -b), add)
    })?;
    odata_double_mul_utils::register_impl(conn, |a: Option<f64>, b: Option<f64>| {
        both(a, b, multiply)
    })?;
    odata_duration_div_utils::register_impl(conn, divide_duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(c: Checked<f64>) -> f64 {
        match c {
            Checked::Value(Some(v)) => v,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_double_divided_by_zero_is_infinite_or_nan() {
        assert_eq!(value(divide(1.5, 0.0)), f64::INFINITY);
        assert_eq!(value(divide(-1.5, 0.0)), f64::NEG_INFINITY);
        assert_eq!(value(divide(1.5, -0.0)), f64::INFINITY);
        assert!(value(divide(0.0, 0.0)).is_nan());
        assert_eq!(value(divide(3.0, 2.0)), 1.5);
    }

    #[test]
    fn results_beyond_a_double_fail_as_on_postgresql() {
        let fails = |c: Checked<f64>, why: &str| assert_eq!(c, Checked::Fails(why.into()));
        fails(add(1e308, 1e308), OVERFLOW);
        fails(add(-1e308, -1e308), OVERFLOW);
        fails(multiply(1e308, 10.0), OVERFLOW);
        fails(multiply(1e-300, 1e-300), UNDERFLOW);
        fails(divide(1e308, 1e-10), OVERFLOW);
        fails(divide(1e-300, 1e300), UNDERFLOW);
        // An infinite operand is no overflow, nor a zero one an underflow.
        assert_eq!(value(add(f64::INFINITY, 1.0)), f64::INFINITY);
        assert_eq!(value(multiply(0.0, 1e-300)), 0.0);
        assert_eq!(value(divide(1.0, f64::INFINITY)), 0.0);
        assert_eq!(value(multiply(1.5, -2.0)), -3.0);
        assert_eq!(both(None, Some(1.0), add), Checked::Value(None));
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
