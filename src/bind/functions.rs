//! Calls of OData's canonical functions in expressions: the arguments bound, the arity
//! and argument types checked, the result typed (`cast` and `isof` in cast.rs; the geo
//! and collection functions are refused as unsupported).

use super::error::BindError;
use super::expr::ExprBinder;
use super::ir::{TExpr, Ty, Value};
use crate::model::EdmType;
use chrono::DateTime;
use odata_parser::{Expr, Function, Literal};

impl ExprBinder<'_> {
    pub(super) fn call(
        &mut self,
        f: Function,
        args: &[Expr],
        pos: usize,
    ) -> Result<TExpr, BindError> {
        use Function::*;
        if matches!(f, Cast | IsOf) {
            return self.type_function(f, args, pos);
        }
        let bound = args
            .iter()
            .map(|a| self.expr(a))
            .collect::<Result<Vec<_>, _>>();
        let unsupported = |what: &str| {
            Err(BindError::unsupported(
                self.option,
                Some(pos),
                format!("{what} is not supported"),
            ))
        };
        if matches!(
            f,
            HasSubset | HasSubsequence | GeoDistance | GeoIntersects | GeoLength
        ) {
            return unsupported(&f.to_string());
        }
        let bound = bound?;
        // matchesPattern's pattern as both databases read it alike (see `pattern`).
        let mut pattern = None;
        let arity = |n: &[usize]| -> Result<(), BindError> {
            if n.contains(&bound.len()) {
                Ok(())
            } else {
                Err(self.err(
                    pos,
                    format!(
                        "{f} takes {} argument(s), got {}",
                        n.iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(" or "),
                        bound.len()
                    ),
                ))
            }
        };
        let want = |i: usize, ok: fn(Ty) -> bool, what: &str| -> Result<(), BindError> {
            // Every caller checks the arity first; a missing argument is still an error.
            let Some(t) = bound.get(i).map(TExpr::ty) else {
                return Err(self.err(pos, format!("{f} is missing argument {}", i + 1)));
            };
            if t == Ty::Null || ok(t) {
                Ok(())
            } else {
                Err(self.err(
                    pos,
                    format!(
                        "argument {} of {f} must be {what}, found {}",
                        i + 1,
                        t.name()
                    ),
                ))
            }
        };
        let string = |t: Ty| t.is_string();
        let number = |t: Ty| t.is_numeric();
        let instant = |t: Ty| t == Ty::Edm(EdmType::DateTimeOffset);
        let dated = |t: Ty| matches!(t, Ty::Edm(EdmType::DateTimeOffset) | Ty::Date);
        let clocked = |t: Ty| matches!(t, Ty::Edm(EdmType::DateTimeOffset) | Ty::TimeOfDay);
        let int = Ty::Edm(EdmType::Int32);
        let ty = match f {
            Contains | StartsWith | EndsWith | MatchesPattern => {
                arity(&[2])?;
                want(0, string, "a string")?;
                want(1, string, "a string")?;
                if f == MatchesPattern {
                    // Checked here, once, rather than by the database on every row.
                    match bound.get(1) {
                        Some(TExpr::Lit(Value::String(p))) => match super::pattern::portable(p) {
                            Ok(p) => pattern = Some(p),
                            Err(e) => {
                                return Err(
                                    self.err(pos, format!("the pattern of matchesPattern: {e}"))
                                )
                            }
                        },
                        Some(TExpr::Lit(Value::Null)) => {}
                        _ => {
                            return unsupported(
                                "matchesPattern with a pattern that is not a string literal",
                            )
                        }
                    }
                }
                Ty::Bool
            }
            Length => {
                arity(&[1])?;
                want(0, string, "a string")?;
                int
            }
            IndexOf => {
                arity(&[2])?;
                want(0, string, "a string")?;
                want(1, string, "a string")?;
                int
            }
            Substring => {
                arity(&[2, 3])?;
                want(0, string, "a string")?;
                want(1, number, "a number")?;
                if bound.len() == 3 {
                    want(2, number, "a number")?;
                }
                Ty::Edm(EdmType::String)
            }
            ToLower | ToUpper | Trim => {
                arity(&[1])?;
                want(0, string, "a string")?;
                Ty::Edm(EdmType::String)
            }
            Concat => {
                arity(&[2])?;
                want(0, string, "a string")?;
                want(1, string, "a string")?;
                Ty::Edm(EdmType::String)
            }
            Year | Month | Day => {
                arity(&[1])?;
                want(0, dated, "a date or DateTimeOffset")?;
                int
            }
            Hour | Minute | Second => {
                arity(&[1])?;
                want(0, clocked, "a time or DateTimeOffset")?;
                int
            }
            FractionalSeconds => {
                arity(&[1])?;
                want(0, clocked, "a time or DateTimeOffset")?;
                Ty::Edm(EdmType::Decimal(38, 10))
            }
            TotalOffsetMinutes => {
                arity(&[1])?;
                want(0, instant, "a DateTimeOffset")?;
                int
            }
            Date => {
                arity(&[1])?;
                want(0, instant, "a DateTimeOffset")?;
                Ty::Date
            }
            Time => {
                arity(&[1])?;
                want(0, instant, "a DateTimeOffset")?;
                Ty::TimeOfDay
            }
            Now | MaxDateTime | MinDateTime => {
                arity(&[0])?;
                Ty::Edm(EdmType::DateTimeOffset)
            }
            Round | Floor | Ceiling => {
                arity(&[1])?;
                want(0, number, "a number")?;
                bound.first().map_or(Ty::Null, TExpr::ty)
            }
            TotalSeconds => {
                arity(&[1])?;
                want(0, |t| t == Ty::Duration, "a Duration")?;
                Ty::Edm(EdmType::Decimal(38, 10))
            }
            _ => return unsupported(&f.to_string()),
        };
        let mut bound = bound;
        if let (Some(p), Some(arg)) = (pattern, bound.get_mut(1)) {
            *arg = TExpr::Lit(Value::String(p));
        }
        if let (Some(arg), Some(Literal::DateTimeOffset(text))) = (
            bound.get_mut(0),
            args.first().and_then(|a| self.literal_of(a)),
        ) {
            if let Some(local) = in_own_offset(f, &text) {
                *arg = local;
            }
        }
        Ok(TExpr::Call(f, bound, ty))
    }
}

/// The argument that makes `f` of the DateTimeOffset literal `text` give its part in
/// the literal's own offset (URL conventions 5.1.1.5), where the literal as bound is the
/// same instant in UTC (`bind::literal::normalize_dto`, as the data is stored): for the
/// date and time parts, the literal's local date and time written as UTC, which the
/// compiled functions take apart; for `totaloffsetminutes`, the offset's minutes as an
/// Int, which it compiles to (stored instants are UTC, offset 0).
fn in_own_offset(f: Function, text: &str) -> Option<TExpr> {
    use Function::*;
    let t = DateTime::parse_from_rfc3339(text).ok()?;
    match f {
        Year | Month | Day | Hour | Minute | Second | Date | Time => Some(TExpr::Lit(
            Value::DateTimeOffset(t.naive_local().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        )),
        TotalOffsetMinutes => Some(TExpr::Lit(Value::Int(i64::from(
            t.offset().local_minus_utc() / 60,
        )))),
        _ => None,
    }
}
