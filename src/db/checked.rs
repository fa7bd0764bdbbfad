//! The result of a SQLite function that can fail its statement, as PostgreSQL's
//! arithmetic does: a value or null, or the message SQLite fails the statement with
//! (`sqlite3_result_error`), which `http::error` answers with 400 `ValueOutOfRange`.

use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{BigInt, Double, Nullable};
use diesel::sqlite::Sqlite;

/// PostgreSQL's message for a zero divisor, so both databases fail alike.
pub const DIVISION_BY_ZERO: &str = "division by zero";

#[derive(Debug, PartialEq)]
pub enum Checked<T> {
    Value(Option<T>),
    Fails(String),
}

impl<T> Checked<T> {
    pub fn division_by_zero() -> Self {
        Checked::Fails(DIVISION_BY_ZERO.into())
    }
}

impl ToSql<Nullable<BigInt>, Sqlite> for Checked<i64> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        match self {
            Checked::Value(Some(v)) => <i64 as ToSql<BigInt, Sqlite>>::to_sql(v, out),
            Checked::Value(None) => Ok(IsNull::Yes),
            Checked::Fails(why) => Err(why.clone().into()),
        }
    }
}

impl ToSql<Nullable<Double>, Sqlite> for Checked<f64> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        match self {
            // SQLite keeps a NaN as null.
            Checked::Value(Some(v)) => <f64 as ToSql<Double, Sqlite>>::to_sql(v, out),
            Checked::Value(None) => Ok(IsNull::Yes),
            Checked::Fails(why) => Err(why.clone().into()),
        }
    }
}
