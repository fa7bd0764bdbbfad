//! Exact Edm.Decimal arithmetic and aggregates for SQLite, which has only doubles (and
//! integers: a decimal column keeps 3802.0 as INTEGER 3802, so `/` would truncate).
//! An operand is the decimal its shortest round-trip text writes (the double nearest
//! 4339.35 is 4339.35), the result the double nearest the exact decimal answer, so it
//! compares equal to literals and columns holding that decimal: `4339.35 - 339.35` is
//! 4000, `0.1 + 0.2` is 0.3, as PostgreSQL's numeric gives them. A quotient is rounded
//! to 15 significant digits, as PostgreSQL's `crm_decimal_div` rounds it (migrations):
//! a double holds that many exactly, so both write the same number.

use super::checked::Checked;
use crate::bind::ArithOp as Op;
use diesel::sql_types::{Double, Nullable};
use diesel::sqlite::{SqliteAggregateFunction, SqliteConnection};
use diesel::QueryResult;
use rust_decimal::{Decimal, RoundingStrategy};

diesel::define_sql_function! {
    /// `a + b` in decimal.
    fn odata_decimal_add(a: Nullable<Double>, b: Nullable<Double>) -> Nullable<Double>;
}

diesel::define_sql_function! {
    /// `a - b` in decimal.
    fn odata_decimal_sub(a: Nullable<Double>, b: Nullable<Double>) -> Nullable<Double>;
}

diesel::define_sql_function! {
    /// `a * b` in decimal.
    fn odata_decimal_mul(a: Nullable<Double>, b: Nullable<Double>) -> Nullable<Double>;
}

diesel::define_sql_function! {
    /// `a / b` in decimal; an error when `b` is 0.
    fn odata_decimal_div(a: Nullable<Double>, b: Nullable<Double>) -> Nullable<Double>;
}

diesel::define_sql_function! {
    /// `a divby b` in decimal; when `b` is 0, `a` times infinity (NaN, so null, for 0).
    fn odata_decimal_divby(a: Nullable<Double>, b: Nullable<Double>) -> Nullable<Double>;
}

diesel::define_sql_function! {
    /// The remainder of `a / b` in decimal, with `a`'s sign; an error when `b` is 0.
    fn odata_decimal_mod(a: Nullable<Double>, b: Nullable<Double>) -> Nullable<Double>;
}

diesel::define_sql_function! {
    /// A computed decimal as the digits of its decimal: the shortest text that reads
    /// back as it, without exponent, as PostgreSQL writes a numeric (SQLite's own text
    /// for a double may have more digits than it needs, `0.33333333333333298`); null
    /// for null and for what is no number.
    fn odata_decimal_text(v: Nullable<Double>) -> Nullable<Text>;
}

diesel::define_sql_function! {
    /// The decimal sum of the non-null values; null when there are none.
    #[aggregate]
    fn odata_decimal_sum(v: Nullable<Double>) -> Nullable<Double>;
}

diesel::define_sql_function! {
    /// The decimal average of the non-null values; null when there are none.
    #[aggregate]
    fn odata_decimal_avg(v: Nullable<Double>) -> Nullable<Double>;
}

/// The SQL function computing `op` on decimals on SQLite.
pub fn sqlite_function(op: Op) -> &'static str {
    match op {
        Op::Add => "odata_decimal_add",
        Op::Sub => "odata_decimal_sub",
        Op::Mul => "odata_decimal_mul",
        Op::Div => "odata_decimal_div",
        Op::DivBy => "odata_decimal_divby",
        Op::Mod => "odata_decimal_mod",
    }
}

/// The SQL function writing a computed decimal (see `odata_decimal_text`).
pub const TEXT: &str = "odata_decimal_text";

/// The aggregates' SQL names.
pub const SUM: &str = "odata_decimal_sum";
pub const AVERAGE: &str = "odata_decimal_avg";

/// Registers the decimal functions on `conn`. Null in, null out.
pub fn register(conn: &mut SqliteConnection) -> QueryResult<()> {
    fn binary(op: Op) -> impl Fn(Option<f64>, Option<f64>) -> Checked<f64> {
        move |a, b| match (a, b) {
            (Some(a), Some(b)) => apply(op, a, b).map_or_else(
                |ZeroDivisor| Checked::division_by_zero(),
                |v| Checked::Value(Some(v)),
            ),
            _ => Checked::Value(None),
        }
    }
    odata_decimal_add_utils::register_impl(conn, binary(Op::Add))?;
    odata_decimal_sub_utils::register_impl(conn, binary(Op::Sub))?;
    odata_decimal_mul_utils::register_impl(conn, binary(Op::Mul))?;
    odata_decimal_div_utils::register_impl(conn, binary(Op::Div))?;
    odata_decimal_divby_utils::register_impl(conn, binary(Op::DivBy))?;
    odata_decimal_mod_utils::register_impl(conn, binary(Op::Mod))?;
    odata_decimal_text_utils::register_impl(conn, |v: Option<f64>| v.and_then(text))?;
    odata_decimal_sum_utils::register_impl::<Sum, _>(conn)?;
    odata_decimal_avg_utils::register_impl::<Average, _>(conn)
}

/// Results below this size keep too few digits within a decimal's 28 places: a
/// product or quotient that small is computed with doubles instead.
const SMALL: Decimal = Decimal::from_parts(1, 0, 0, false, 11);

/// A zero divisor of `div` or `mod`: OData fails the request.
#[derive(Debug, PartialEq, Eq)]
pub struct ZeroDivisor;

/// Significant digits of a quotient (see the module's documentation).
const QUOTIENT_DIGITS: u32 = 15;

/// `a op b`, exactly in decimal. Where an operand or the result is beyond what a
/// decimal holds (infinities, about 7.9e28 and more) it is the double operation.
pub fn apply(op: Op, a: f64, b: f64) -> Result<f64, ZeroDivisor> {
    if b == 0.0 {
        match op {
            Op::Div | Op::Mod => return Err(ZeroDivisor),
            // INF, -INF, or NaN for 0 (URL conventions 5.1.1.2.5).
            Op::DivBy => return Ok(a * f64::INFINITY),
            _ => {}
        }
    }
    let exact = decimal(a).zip(decimal(b)).and_then(|(x, y)| {
        match op {
            Op::Add => x.checked_add(y),
            Op::Sub => x.checked_sub(y),
            // Exact while the scales add up to at most 28; rounded to 28 places beyond.
            Op::Mul => x
                .checked_mul(y)
                .filter(|r| x.scale() + y.scale() <= Decimal::MAX_SCALE || r.abs() >= SMALL),
            Op::Div | Op::DivBy => x
                .checked_div(y)
                .filter(|r| r.abs() >= SMALL || x.is_zero())
                .and_then(|r| {
                    r.round_sf_with_strategy(
                        QUOTIENT_DIGITS,
                        RoundingStrategy::MidpointAwayFromZero,
                    )
                }),
            // The dividend's sign, as PostgreSQL's numeric mod (and Rust's %).
            Op::Mod => x.checked_rem(y),
        }
    });
    Ok(exact.and_then(double).unwrap_or_else(|| match op {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => a * b,
        Op::Div | Op::DivBy => significant(a / b),
        Op::Mod => a % b,
    }))
}

/// `v` to the significant digits of a quotient, for those beyond a decimal.
fn significant(v: f64) -> f64 {
    if !v.is_finite() {
        return v;
    }
    format!("{v:.*e}", QUOTIENT_DIGITS as usize - 1)
        .parse()
        .unwrap_or(v)
}

/// Rust writes a double as the shortest digits that read back as it, never with an
/// exponent; zero without its sign, as a numeric has none.
fn text(v: f64) -> Option<String> {
    match v {
        _ if !v.is_finite() => None,
        0.0 => Some("0".into()),
        _ => Some(v.to_string()),
    }
}

/// The decimal `v`'s shortest round-trip text writes; `None` beyond a decimal's range
/// or precision.
fn decimal(v: f64) -> Option<Decimal> {
    shortest_scaled(v)
        .and_then(|(m, k)| Decimal::try_new(m, k).ok())
        .or_else(|| {
            if !v.is_finite() || v.abs() >= 7.9e28 {
                return None;
            }
            // Rust writes doubles without an exponent, the shortest digits that read back
            // as v.
            Decimal::from_str_exact(&v.to_string()).ok()
        })
}

/// Powers of ten that doubles hold exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Mantissas below this are far enough apart, relative to a double's spacing, that at
/// most one of a given scale reads back as the double.
const UNIQUE: f64 = (1u64 << 51) as f64;

/// The shortest decimal `m / 10^k` that reads back as `v`, found without text (writing
/// a double takes most of the time these functions take): the fewest decimal places
/// where `v * 10^k`, rounded, divided back is `v`. Below `UNIQUE` that rounded product
/// is the only candidate of its scale, so this is the number `v.to_string()` writes,
/// and the division is exact but for its one rounding, so the check is the parse.
/// `None` where the mantissa would reach `UNIQUE`.
fn shortest_scaled(v: f64) -> Option<(i64, u32)> {
    for (k, p) in (0u32..).zip(POW10.iter().take(16)) {
        let m = (v * p).round();
        if m.is_nan() || m.abs() >= UNIQUE {
            return None;
        }
        if m / p == v {
            return Some((m as i64, k));
        }
    }
    None
}

/// The double nearest `d`: the division of two exact doubles where mantissa and scale
/// allow (IEEE division rounds correctly), otherwise through text (Rust's parsing rounds
/// correctly; `Decimal::to_f64` may not).
fn double(d: Decimal) -> Option<f64> {
    let (m, k) = (d.mantissa(), d.scale() as usize);
    match POW10.get(k) {
        Some(p) if m.unsigned_abs() < 1 << 53 => Some(m as f64 / p),
        _ => d.to_string().parse().ok(),
    }
}

/// The running decimal sum and count of an aggregate's non-null values; the double sum
/// alongside, for when the decimal one cannot hold a value.
#[derive(Debug, Default)]
struct Total {
    exact: Option<Decimal>,
    float: f64,
    overflowed: bool,
    count: u64,
}

impl Total {
    fn add(&mut self, v: Option<f64>) {
        let Some(v) = v else { return };
        self.count += 1;
        self.float += v;
        if self.overflowed {
            return;
        }
        let sum = self.exact.unwrap_or(Decimal::ZERO);
        self.exact = decimal(v).and_then(|d| sum.checked_add(d));
        self.overflowed = self.exact.is_none();
    }

    /// The total divided by `by`, or `None` when no value was added.
    fn divided(&self, by: u64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let float = self.float / by as f64;
        let exact = self
            .exact
            .and_then(|s| s.checked_div(Decimal::from(by)))
            .and_then(double);
        Some(exact.unwrap_or(float))
    }
}

#[derive(Debug, Default)]
struct Sum(Total);

impl SqliteAggregateFunction<Option<f64>> for Sum {
    type Output = Option<f64>;

    fn step(&mut self, v: Option<f64>) {
        self.0.add(v);
    }

    fn finalize(sum: Option<Self>) -> Option<f64> {
        sum.and_then(|s| s.0.divided(1))
    }
}

#[derive(Debug, Default)]
struct Average(Total);

impl SqliteAggregateFunction<Option<f64>> for Average {
    type Output = Option<f64>;

    fn step(&mut self, v: Option<f64>) {
        self.0.add(v);
    }

    fn finalize(avg: Option<Self>) -> Option<f64> {
        avg.and_then(|a| a.0.divided(a.0.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(values: &[Option<f64>]) -> Total {
        let mut t = Total::default();
        for v in values {
            t.add(*v);
        }
        t
    }

    #[test]
    fn arithmetic_is_exact_for_the_decimals_the_operands_write() {
        assert_eq!(apply(Op::Add, 0.1, 0.2), Ok(0.3));
        assert_eq!(apply(Op::Sub, 4339.35, 339.35), Ok(4000.0));
        assert_eq!(apply(Op::Div, 3802.0, 1000.0), Ok(3.802));
        assert_eq!(apply(Op::Mul, 3802.0, 48.0), Ok(182496.0));
        assert_eq!(apply(Op::Div, 182496.0, 100.0), Ok(1824.96));
        assert_eq!(apply(Op::Mul, 1.1, 1.1), Ok(1.21));
        // Quotients to 15 significant digits, as PostgreSQL's crm_decimal_div.
        assert_eq!(apply(Op::Div, 1.0, 3.0), Ok(0.333333333333333));
        assert_eq!(apply(Op::Div, 998.75, 3.0), Ok(332.916666666667));
        assert_eq!(apply(Op::DivBy, -2.0, 3.0), Ok(-0.666666666666667));
        assert_eq!(apply(Op::Div, 1e20, 3.0), Ok(3.33333333333333e19));
        assert_eq!(apply(Op::DivBy, 10.0, 4.0), Ok(2.5));
        assert_eq!(apply(Op::Div, -7.5, 2.5), Ok(-3.0));
        // The doubles disagree: these are the cases the functions exist for.
        assert_ne!(0.1 + 0.2, 0.3);
        assert_ne!(4339.35 - 339.35, 4000.0);
    }

    #[test]
    fn remainders_keep_the_dividends_sign_and_their_fraction() {
        assert_eq!(apply(Op::Mod, 5.5, 2.0), Ok(1.5));
        assert_eq!(apply(Op::Mod, -5.5, 2.0), Ok(-1.5));
        assert_eq!(apply(Op::Mod, 5.5, -2.0), Ok(1.5));
        assert_eq!(apply(Op::Mod, 7.0, -3.0), Ok(1.0));
        assert_eq!(apply(Op::Mod, 4339.35, 0.1), Ok(0.05));
        assert_eq!(apply(Op::Mod, -4339.35, 0.05), Ok(0.0));
        assert_eq!(apply(Op::Mod, 10.3, 3.1), Ok(1.0));
        assert_ne!(10.3 % 3.1, 1.0);
    }

    #[test]
    fn a_zero_divisor_fails_div_and_mod_and_makes_divby_infinite() {
        assert_eq!(apply(Op::Div, 1.5, 0.0), Err(ZeroDivisor));
        assert_eq!(apply(Op::Mod, 1.5, 0.0), Err(ZeroDivisor));
        assert_eq!(apply(Op::Div, 0.0, -0.0), Err(ZeroDivisor));
        assert_eq!(apply(Op::Mul, 1.5, 0.0), Ok(0.0));
        assert_eq!(apply(Op::DivBy, 1.5, 0.0), Ok(f64::INFINITY));
        assert_eq!(apply(Op::DivBy, -1.5, 0.0), Ok(f64::NEG_INFINITY));
        assert!(apply(Op::DivBy, 0.0, 0.0).is_ok_and(f64::is_nan));
    }

    #[test]
    fn values_beyond_a_decimal_fall_back_to_doubles() {
        assert_eq!(apply(Op::Add, 1e30, 1.0), Ok(1e30 + 1.0));
        assert_eq!(apply(Op::Mul, 1e20, 1e20), Ok(1e40));
        assert_eq!(apply(Op::Add, f64::INFINITY, 1.0), Ok(f64::INFINITY));
        assert!(apply(Op::Add, f64::NAN, 1.0).is_ok_and(f64::is_nan));
        // Too small for 28 decimal places.
        assert_eq!(apply(Op::Mul, 1e-15, 1e-15), Ok(1e-15 * 1e-15));
        assert_eq!(apply(Op::Div, 1e-20, 1e20), Ok(1e-40));
        assert_eq!(apply(Op::Div, 1e-20, 3e20), Ok(3.33333333333333e-41));
        assert_eq!(apply(Op::Add, 1e-30, 0.0), Ok(1e-30));
        // Within range, large values stay exact.
        assert_eq!(apply(Op::Add, 1e27, 0.5), Ok(1e27));
        assert_eq!(apply(Op::Sub, 123456789012.345, 0.345), Ok(123456789012.0));
    }

    #[test]
    fn computed_decimals_are_written_as_their_digits() {
        assert_eq!(
            text(0.333333333333333).as_deref(),
            Some("0.333333333333333")
        );
        assert_eq!(text(332.916666666667).as_deref(), Some("332.916666666667"));
        assert_eq!(
            text(3.33333333333333e-7).as_deref(),
            Some("0.000000333333333333333")
        );
        assert_eq!(text(1e20).as_deref(), Some("100000000000000000000"));
        assert_eq!(text(-0.0).as_deref(), Some("0"));
        assert_eq!(text(3802.0).as_deref(), Some("3802"));
        assert_eq!(text(f64::INFINITY), None);
        assert_eq!(text(f64::NAN), None);
    }

    #[test]
    fn operands_are_the_decimals_their_shortest_text_writes() {
        assert_eq!(decimal(4339.35), Some(Decimal::new(433935, 2)));
        assert_eq!(decimal(3802.0), Some(Decimal::from(3802)));
        assert_eq!(decimal(-0.0), Some(Decimal::ZERO));
        assert_eq!(
            decimal(1e28),
            Decimal::from_str_exact("10000000000000000000000000000").ok()
        );
        assert_eq!(decimal(1e29), None);
        assert_eq!(decimal(f64::NAN), None);
        assert_eq!(decimal(f64::NEG_INFINITY), None);
    }

    #[test]
    fn conversions_without_text_agree_with_the_text() {
        // Doubles of every magnitude and bit pattern, and decimals of few digits.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut values: Vec<f64> = vec![0.1, 0.2, 0.3, 4339.35, 2042918.23, 1.0 / 3.0, 0.1 + 0.2];
        values.extend([
            1e15 + 0.5,
            2f64.powi(51) - 0.5,
            2f64.powi(51),
            5e-324,
            1e-7,
            -0.0055,
        ]);
        for i in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bits = f64::from_bits(x);
            if bits.is_finite() {
                values.push(bits);
            }
            let scale = 10f64.powi((x % 12) as i32);
            values.push(((x >> 20) % 100_000_000_000) as f64 / scale);
            values.push(-(i as f64) / 100.0);
        }
        for v in values {
            let text = Decimal::from_str_exact(&v.to_string()).ok();
            if let Some((m, k)) = shortest_scaled(v) {
                assert_eq!(Some(Decimal::new(m, k)), text, "{v:?}");
            }
            if let Some(d) = text {
                assert_eq!(double(d), d.to_string().parse().ok(), "{d}");
                assert_eq!(double(d), Some(v), "{d}");
            }
        }
    }

    #[test]
    fn sums_and_averages_are_exact_and_skip_nulls() {
        let t = total(&[Some(0.1), None, Some(0.2), Some(1_000_000.02)]);
        assert_eq!(t.divided(1), Some(1_000_000.32));
        assert_eq!(t.divided(t.count), Some(333_333.44));
        assert_ne!(0.1 + 0.2 + 1_000_000.02, 1_000_000.32);
        assert_eq!(total(&[None, None]).divided(1), None);
        assert_eq!(total(&[]).divided(1), None);
        assert_eq!(Sum::finalize(None), None);
        assert_eq!(Average::finalize(None), None);
        let t = total(&[Some(1.0), Some(2.0)]);
        assert_eq!(t.divided(t.count), Some(1.5));
        // A value no decimal holds: the double sum from then on.
        let t = total(&[Some(0.1), Some(1e30), Some(0.2)]);
        assert_eq!(t.divided(1), Some(0.1 + 1e30 + 0.2));
    }
}
