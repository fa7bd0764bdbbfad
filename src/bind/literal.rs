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
        Literal::Duration(s) => Value::Duration(duration_seconds(s)?),
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

/// The longest duration that still moves an instant within years 1 to 9999: beyond
/// it, PostgreSQL refuses the arithmetic and SQLite has no date.
const MAX_DURATION_SECONDS: f64 = 10_000.0 * 366.0 * 86_400.0;

/// Seconds of an ISO 8601 day-time duration as the parser accepted it (`-P1DT2H3M4.5S`).
pub fn duration_seconds(text: &str) -> Result<f64, String> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let mut total = 0.0_f64;
    let mut number = String::new();
    let mut in_time = false;
    for c in rest.chars().skip(1) {
        let unit = match c {
            'T' => {
                in_time = true;
                continue;
            }
            'D' if !in_time => 86_400.0,
            'H' => 3_600.0,
            'M' => 60.0,
            'S' => 1.0,
            _ => {
                number.push(c);
                continue;
            }
        };
        let n: f64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a valid duration"))?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() || !total.is_finite() || total > MAX_DURATION_SECONDS {
        return Err(format!(
            "`{text}` is not a duration this service can apply to dates (at most 10,000 years)"
        ));
    }
    Ok(if negative { -total } else { total })
}

/// UTC, whole seconds: the stored form, so text comparison on SQLite orders correctly.
pub fn normalize_dto(s: &str) -> Result<String, String> {
    let dt = DateTime::parse_from_rfc3339(s)
        .map_err(|_| format!("`{s}` is not a valid DateTimeOffset"))?;
    Ok(dt
        .with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::duration_seconds;

    #[test]
    fn durations_are_read_as_seconds() {
        assert_eq!(duration_seconds("P1D"), Ok(86_400.0));
        assert_eq!(duration_seconds("PT2H3M4.5S"), Ok(7_384.5));
        assert_eq!(duration_seconds("-P1DT1M"), Ok(-86_460.0));
        assert_eq!(duration_seconds("P0D"), Ok(0.0));
        assert!(duration_seconds("P99999999D").is_err());
        assert!(duration_seconds("PT99999999999999999999999999999999999999H").is_err());
    }
}
