//! Literal conversion from syntax to typed values.

use super::ir::Value;
use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use odata_parser::Literal;

/// Converts a literal; `Err` carries a message for unsupported or invalid values.
pub fn convert(lit: &Literal) -> Result<Value, String> {
    Ok(match lit {
        Literal::Null => Value::Null,
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Int(i) => Value::Int(*i),
        Literal::Decimal(s) => Value::Decimal(s.clone()),
        Literal::Double(s) => {
            let v = match s.as_str() {
                "INF" => f64::INFINITY,
                "-INF" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                _ => s.parse().map_err(|_| format!("`{s}` is not a number"))?,
            };
            Value::Double(v)
        }
        // No property can hold U+0000 (PostgreSQL text cannot), so no value compares
        // with it; refused alike on both databases.
        Literal::String(s) if s.contains('\0') => {
            return Err("a string may not contain the character U+0000".into())
        }
        Literal::String(s) => Value::String(s.clone()),
        Literal::DateTimeOffset(s) => Value::DateTimeOffset(normalize_dto(s)?),
        Literal::Date(s) => {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| format!("`{s}` is not a valid date"))?;
            Value::Date(s.clone())
        }
        Literal::TimeOfDay(s) => {
            let t = NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
                .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
                .map_err(|_| format!("`{s}` is not a valid time of day"))?;
            Value::TimeOfDay(t.format("%H:%M:%S").to_string())
        }
        Literal::Duration(_) => return Err("durations are not supported in this model".into()),
        Literal::Guid(_) => return Err("no property of this model is a Guid".into()),
        Literal::Binary(_) => return Err("no property of this model is binary".into()),
        Literal::Enum { type_name, .. } => {
            return Err(format!(
                "enumeration type `{type_name}` is not part of this model"
            ))
        }
        Literal::Geography(_) | Literal::Geometry(_) => {
            return Err("geo values are not supported".into())
        }
    })
}

/// UTC, whole seconds: the stored form, so text comparison on SQLite orders correctly.
pub fn normalize_dto(s: &str) -> Result<String, String> {
    let dt = DateTime::parse_from_rfc3339(s)
        .map_err(|_| format!("`{s}` is not a valid DateTimeOffset"))?;
    Ok(dt
        .with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Secs, true))
}
