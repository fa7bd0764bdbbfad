//! `cast` and `isof`: which primitive types a value can be cast to, by OData's
//! assignment rules (URL Conventions, "Type Functions"), decided from the static types.

use super::error::BindError;
use super::expr::ExprBinder;
use super::ir::{CmpOp, TExpr, Ty, Value};
use crate::model::{EdmType, MODEL};
use odata_parser::{Expr, Function};

/// A type named in `cast`/`isof`, as the value takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub ty: Ty,
    /// The values an integer type holds.
    pub range: Option<(i64, i64)>,
}

/// What a type name in `cast`/`isof` names.
pub enum Named {
    Primitive(Target),
    /// A primitive type no property of this model has, nor any expression yields.
    Unsupported(&'static str),
    /// An entity type of the model, by its name.
    Entity(&'static str),
    Unknown,
}

pub fn named(name: &str, namespace: &str, entities: &[&'static str]) -> Named {
    let int = |ty, lo, hi| {
        Named::Primitive(Target {
            ty: Ty::Edm(ty),
            range: Some((lo, hi)),
        })
    };
    let plain = |ty| Named::Primitive(Target { ty, range: None });
    if let Some(edm) = strip_prefix_ignore_case(name, "Edm.") {
        return match edm.to_ascii_lowercase().as_str() {
            "boolean" => plain(Ty::Bool),
            "byte" => int(EdmType::Byte, 0, 255),
            "sbyte" => int(EdmType::Int32, -128, 127),
            "int16" => int(EdmType::Int32, -32768, 32767),
            "int32" => int(EdmType::Int32, i32::MIN.into(), i32::MAX.into()),
            "int64" => int(EdmType::Int64, i64::MIN, i64::MAX),
            "decimal" => plain(Ty::Edm(EdmType::Decimal(38, 10))),
            "double" | "single" => plain(Ty::Edm(EdmType::Double)),
            "string" => plain(Ty::Edm(EdmType::String)),
            "datetimeoffset" => plain(Ty::Edm(EdmType::DateTimeOffset)),
            "date" => plain(Ty::Date),
            "timeofday" => plain(Ty::TimeOfDay),
            "guid" => Named::Unsupported("Edm.Guid"),
            "binary" => Named::Unsupported("Edm.Binary"),
            "duration" => Named::Unsupported("Edm.Duration"),
            "stream" => Named::Unsupported("Edm.Stream"),
            "untyped" => Named::Unsupported("Edm.Untyped"),
            g if g.starts_with("geography") || g.starts_with("geometry") => {
                Named::Unsupported("geographic types")
            }
            _ => Named::Unknown,
        };
    }
    if let Some(local) =
        strip_prefix_ignore_case(name, namespace).and_then(|rest| rest.strip_prefix('.'))
    {
        if let Some(e) = entities.iter().find(|e| e.eq_ignore_ascii_case(local)) {
            return Named::Entity(e);
        }
    }
    Named::Unknown
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// How a value of one type becomes another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Every value is already one of the target's.
    Identity,
    /// Converted value by value; a value that does not convert is null.
    Convert,
    /// No value converts: the cast is always null.
    Fails,
}

/// The conversion from `from` to `to` by OData's assignment rules.
pub fn conversion(from: Ty, to: Target) -> Conversion {
    use Conversion::*;
    let numeric = |t: Ty| t.is_numeric();
    let same = match (from, to.ty) {
        (Ty::Edm(EdmType::Decimal(..)), Ty::Edm(EdmType::Decimal(..))) => true,
        (a, b) => a == b,
    };
    match from {
        Ty::Null => Fails,
        _ if (same || is_integer(from) && is_integer(to.ty)) && within(from, to.range) => Identity,
        _ if numeric(from) && numeric(to.ty) => Convert,
        _ if to.ty.is_string() => Convert,
        _ if from.is_string() => match to.ty {
            Ty::Bool | Ty::Date | Ty::TimeOfDay | Ty::Edm(EdmType::DateTimeOffset) => Convert,
            t if numeric(t) => Convert,
            _ => Fails,
        },
        _ => Fails,
    }
}

fn is_integer(t: Ty) -> bool {
    matches!(t, Ty::Edm(e) if e.is_integer())
}

/// Whether every value of integer type `from` lies in `range` (no range: any value).
fn within(from: Ty, range: Option<(i64, i64)>) -> bool {
    let Some((lo, hi)) = range else {
        return true;
    };
    let (flo, fhi): (i64, i64) = match from {
        Ty::Edm(EdmType::Byte) => (0, 255),
        Ty::Edm(EdmType::Int32) => (i32::MIN.into(), i32::MAX.into()),
        Ty::Edm(EdmType::Int64) => (i64::MIN, i64::MAX),
        _ => return false,
    };
    lo <= flo && fhi <= hi
}

/// `cast(expr, to)` given its conversion.
pub fn cast(expr: TExpr, to: Target, how: Conversion) -> TExpr {
    match how {
        // A wider integer type changes no value, but the result is of that type: an
        // Int64 is a string under IEEE754Compatible=true.
        Conversion::Identity if is_integer(to.ty) && expr.ty() != to.ty => TExpr::Cast {
            expr: Box::new(expr),
            to: to.ty,
            range: None,
        },
        Conversion::Identity => expr,
        Conversion::Convert => TExpr::Cast {
            expr: Box::new(expr),
            to: to.ty,
            range: to.range,
        },
        Conversion::Fails => TExpr::Cast {
            expr: Box::new(TExpr::Lit(Value::Null)),
            to: to.ty,
            range: None,
        },
    }
}

/// `isof(expr, to)`: true when the value is not null and casts to `to`.
pub fn isof(expr: TExpr, to: Target, how: Conversion) -> TExpr {
    let not_null = |e: TExpr| TExpr::Cmp(CmpOp::Ne, Box::new(e), Box::new(TExpr::Lit(Value::Null)));
    match how {
        Conversion::Fails => TExpr::Lit(Value::Bool(false)),
        Conversion::Identity if !expr.nullable() => TExpr::Lit(Value::Bool(true)),
        Conversion::Identity => not_null(expr),
        Conversion::Convert => TExpr::And(
            Box::new(not_null(expr.clone())),
            Box::new(not_null(cast(expr, to, how))),
        ),
    }
}

impl ExprBinder<'_> {
    /// `cast(expr, type)`, `isof(expr, type)` and `isof(type)`.
    pub(super) fn type_function(
        &mut self,
        f: Function,
        args: &[Expr],
        pos: usize,
    ) -> Result<TExpr, BindError> {
        let (value, name) = match args {
            [Expr::TypeName(t)] => (None, t),
            [v, Expr::TypeName(t)] => (Some(v), t),
            _ => {
                return Err(self.err(
                    pos,
                    format!("{f} takes a value and a type name, or a type name"),
                ))
            }
        };
        let it = self.it();
        let entities: Vec<&'static str> = MODEL.types.iter().map(|t| t.name).collect();
        let target = match named(name, MODEL.namespace, &entities) {
            Named::Primitive(t) => t,
            Named::Entity(e) if value.is_none() && f == Function::IsOf => {
                // No type derives from another here: the instance is of its own type only.
                return Ok(TExpr::Lit(Value::Bool(e == it.name)));
            }
            Named::Entity(_) => {
                return Err(BindError::unsupported(
                    self.option,
                    Some(pos),
                    format!("{f} with an entity type"),
                ))
            }
            Named::Unsupported(what) => {
                return Err(BindError::unsupported(
                    self.option,
                    Some(pos),
                    format!("{f} to {what} is not supported"),
                ))
            }
            Named::Unknown => return Err(self.err(pos, format!("unknown type `{name}` in {f}"))),
        };
        let Some(value) = value else {
            // The current instance is an entity, never of a primitive type.
            return match f {
                Function::IsOf => Ok(TExpr::Lit(Value::Bool(false))),
                _ => Err(self.err(pos, format!("cast of an entity to {name}"))),
            };
        };
        let value = self.expr(value)?;
        let how = conversion(value.ty(), target);
        Ok(if f == Function::Cast {
            cast(value, target, how)
        } else {
            isof(value, target, how)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> Target {
        match named(name, "CRM", &["Contact"]) {
            Named::Primitive(t) => t,
            _ => panic!("{name} is no primitive type"),
        }
    }

    #[test]
    fn conversions_follow_the_assignment_rules() {
        let int32 = Ty::Edm(EdmType::Int32);
        let string = Ty::Edm(EdmType::String);
        let dto = Ty::Edm(EdmType::DateTimeOffset);
        let dec = Ty::Edm(EdmType::Decimal(30, 6));
        use Conversion::*;
        assert_eq!(conversion(int32, target("Edm.Int32")), Identity);
        assert_eq!(conversion(int32, target("Edm.Int64")), Identity);
        assert_eq!(conversion(int32, target("Edm.Int16")), Convert);
        assert_eq!(
            conversion(Ty::Edm(EdmType::Byte), target("edm.int16")),
            Identity
        );
        assert_eq!(conversion(dec, target("Edm.Decimal")), Identity);
        assert_eq!(conversion(dec, target("Edm.Int32")), Convert);
        assert_eq!(conversion(dto, target("Edm.String")), Convert);
        assert_eq!(conversion(string, target("Edm.Int32")), Convert);
        assert_eq!(conversion(string, target("Edm.Boolean")), Convert);
        assert_eq!(conversion(string, target("Edm.DateTimeOffset")), Convert);
        assert_eq!(conversion(string, target("Edm.TimeOfDay")), Convert);
        assert_eq!(conversion(dto, target("Edm.Date")), Fails);
        assert_eq!(conversion(Ty::Bool, target("Edm.Int32")), Fails);
        assert_eq!(conversion(Ty::Null, target("Edm.Int32")), Fails);
    }

    #[test]
    fn type_names() {
        assert!(matches!(
            named("CRM.Contact", "CRM", &["Contact"]),
            Named::Entity("Contact")
        ));
        assert!(matches!(
            named("CRM.Nothing", "CRM", &["Contact"]),
            Named::Unknown
        ));
        assert!(matches!(
            named("Edm.Guid", "CRM", &[]),
            Named::Unsupported(_)
        ));
        assert!(matches!(named("Edm.Int", "CRM", &[]), Named::Unknown));
        assert_eq!(target("Edm.SByte").range, Some((-128, 127)));
    }
}
