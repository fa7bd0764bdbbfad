//! Checked 64-bit integer arithmetic for SQLite. SQLite turns an integer `+`, `-`, `*`,
//! `/` or negation that overflows into a floating-point number (`Guttometer mul
//! 9223372036854775807` is 1.19e20, still typed Edm.Int64); PostgreSQL's bigint fails
//! the statement. These functions fail it too, with a message naming the overflow, which
//! `http::error` answers with 400 `ValueOutOfRange` as it does PostgreSQL's; so does a
//! zero divisor, as OData says (SQLite's `/` and `%` would give null).

use super::checked;
use diesel::sql_types::{BigInt, Nullable};
use diesel::sqlite::SqliteConnection;
use diesel::QueryResult;

type Checked = checked::Checked<i64>;

diesel::define_sql_function! {
    /// `a + b`; an error where that leaves 64 bits.
    fn odata_int_add(a: Nullable<BigInt>, b: Nullable<BigInt>) -> Nullable<BigInt>;
}

diesel::define_sql_function! {
    /// `a - b`; an error where that leaves 64 bits.
    fn odata_int_sub(a: Nullable<BigInt>, b: Nullable<BigInt>) -> Nullable<BigInt>;
}

diesel::define_sql_function! {
    /// `a * b`; an error where that leaves 64 bits.
    fn odata_int_mul(a: Nullable<BigInt>, b: Nullable<BigInt>) -> Nullable<BigInt>;
}

diesel::define_sql_function! {
    /// `a / b` truncated toward zero; an error when `b` is 0, and for the smallest
    /// integer divided by -1.
    fn odata_int_div(a: Nullable<BigInt>, b: Nullable<BigInt>) -> Nullable<BigInt>;
}

diesel::define_sql_function! {
    /// The remainder of `a / b`, with `a`'s sign; an error when `b` is 0.
    fn odata_int_mod(a: Nullable<BigInt>, b: Nullable<BigInt>) -> Nullable<BigInt>;
}

diesel::define_sql_function! {
    /// `-a`; an error for the smallest integer.
    fn odata_int_neg(a: Nullable<BigInt>) -> Nullable<BigInt>;
}

/// An integer operator whose result can leave 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl Op {
    /// The SQL function computing this operator on SQLite.
    pub fn sqlite_function(self) -> &'static str {
        match self {
            Op::Add => "odata_int_add",
            Op::Sub => "odata_int_sub",
            Op::Mul => "odata_int_mul",
            Op::Div => "odata_int_div",
            Op::Mod => "odata_int_mod",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Mod => "mod",
        }
    }
}

/// The SQL function computing `-a` on SQLite.
pub const NEGATE: &str = "odata_int_neg";

/// `a op b`, null in, null out.
fn apply(op: Op, a: Option<i64>, b: Option<i64>) -> Checked {
    let (Some(a), Some(b)) = (a, b) else {
        return Checked::Value(None);
    };
    let r = match op {
        Op::Add => a.checked_add(b),
        Op::Sub => a.checked_sub(b),
        Op::Mul => a.checked_mul(b),
        Op::Div | Op::Mod if b == 0 => return Checked::division_by_zero(),
        Op::Div => a.checked_div(b),
        // The smallest integer by -1 leaves no remainder (PostgreSQL's `%` agrees);
        // Rust's checked_rem would call it an overflow.
        Op::Mod => Some(a.wrapping_rem(b)),
    };
    match r {
        Some(v) => Checked::Value(Some(v)),
        None => Checked::Fails(format!(
            "integer overflow: {a} {} {b} is outside the range of Edm.Int64",
            op.word()
        )),
    }
}

fn negate(a: Option<i64>) -> Checked {
    match a.map(i64::checked_neg) {
        None => Checked::Value(None),
        Some(Some(v)) => Checked::Value(Some(v)),
        Some(None) => Checked::Fails(format!(
            "integer overflow: -({}) is outside the range of Edm.Int64",
            i64::MIN
        )),
    }
}

/// Registers the integer functions on `conn`.
pub fn register(conn: &mut SqliteConnection) -> QueryResult<()> {
    fn binary(op: Op) -> impl Fn(Option<i64>, Option<i64>) -> Checked {
        move |a, b| apply(op, a, b)
    }
    odata_int_add_utils::register_impl(conn, binary(Op::Add))?;
    odata_int_sub_utils::register_impl(conn, binary(Op::Sub))?;
    odata_int_mul_utils::register_impl(conn, binary(Op::Mul))?;
    odata_int_div_utils::register_impl(conn, binary(Op::Div))?;
    odata_int_mod_utils::register_impl(conn, binary(Op::Mod))?;
    odata_int_neg_utils::register_impl(conn, negate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overflows(c: &Checked) -> bool {
        matches!(c, Checked::Fails(m) if m.contains("overflow"))
    }

    #[test]
    fn results_within_64_bits_are_exact_and_nulls_stay_null() {
        assert_eq!(apply(Op::Add, Some(2), Some(3)), Checked::Value(Some(5)));
        assert_eq!(apply(Op::Sub, Some(2), Some(3)), Checked::Value(Some(-1)));
        assert_eq!(
            apply(Op::Mul, Some(i64::MAX), Some(1)),
            Checked::Value(Some(i64::MAX))
        );
        assert_eq!(
            apply(Op::Add, Some(i64::MIN), Some(0)),
            Checked::Value(Some(i64::MIN))
        );
        // Truncated toward zero, as SQLite's and PostgreSQL's integer division.
        assert_eq!(apply(Op::Div, Some(-7), Some(2)), Checked::Value(Some(-3)));
        assert_eq!(apply(Op::Mod, Some(-7), Some(2)), Checked::Value(Some(-1)));
        assert_eq!(apply(Op::Mod, Some(7), Some(-2)), Checked::Value(Some(1)));
        assert_eq!(
            apply(Op::Mod, Some(i64::MIN), Some(-1)),
            Checked::Value(Some(0))
        );
        assert_eq!(apply(Op::Div, None, Some(0)), Checked::Value(None));
        assert_eq!(apply(Op::Mod, Some(7), None), Checked::Value(None));
        assert_eq!(apply(Op::Add, None, Some(1)), Checked::Value(None));
        assert_eq!(apply(Op::Mul, Some(1), None), Checked::Value(None));
        assert_eq!(negate(Some(5)), Checked::Value(Some(-5)));
        assert_eq!(negate(Some(i64::MAX)), Checked::Value(Some(-i64::MAX)));
        assert_eq!(negate(None), Checked::Value(None));
    }

    #[test]
    fn results_beyond_64_bits_are_overflows() {
        assert!(overflows(&apply(Op::Add, Some(i64::MAX), Some(1))));
        assert!(overflows(&apply(Op::Sub, Some(i64::MIN), Some(1))));
        assert!(overflows(&apply(Op::Mul, Some(13), Some(i64::MAX))));
        assert!(overflows(&apply(Op::Mul, Some(i64::MIN), Some(-1))));
        assert!(overflows(&apply(Op::Div, Some(i64::MIN), Some(-1))));
        assert!(overflows(&negate(Some(i64::MIN))));
    }

    #[test]
    fn a_zero_divisor_fails() {
        for op in [Op::Div, Op::Mod] {
            assert_eq!(apply(op, Some(7), Some(0)), Checked::division_by_zero());
            assert_eq!(apply(op, Some(0), Some(0)), Checked::division_by_zero());
        }
    }
}
