//! The `$skiptoken`: base64url JSON with the workspace, a fingerprint of the query it
//! belongs to, the order-key values of the last row served and how many rows were served.

use crate::bind::{Read, TExpr, Ty, Value};
use crate::model::EdmType;
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq)]
pub struct SkipToken {
    pub workspace: i64,
    pub query: String,
    pub after: Vec<Value>,
    pub served: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SkipTokenError {
    #[error("the $skiptoken is malformed")]
    Malformed,
    #[error("the $skiptoken belongs to a different query or workspace")]
    Foreign,
}

/// Fingerprint of the normalised query (options other than `$skiptoken`), percent-decoded:
/// clients re-encode the links they follow in their own ways (a browser's or reqwest's
/// URL writes `'` in a query as `%27`, .NET's may write `%27` back as `'`).
pub fn fingerprint(path: &str, query_without_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(decoded(path));
    h.update([0]);
    h.update(decoded(query_without_token));
    hex::encode(&h.finalize()[..12])
}

fn decoded(s: &str) -> std::borrow::Cow<'_, [u8]> {
    percent_encoding::percent_decode_str(s).into()
}

impl SkipToken {
    pub fn encode(&self) -> String {
        let after: Vec<serde_json::Value> = self
            .after
            .iter()
            .map(|v| match v {
                Value::Null => serde_json::Value::Null,
                Value::Bool(b) => json!(b),
                Value::Int(i) => json!(i),
                // As text, which parses back exactly: serde_json reads a JSON number
                // only to the nearest few ulps (110.00000000000001 as 110).
                Value::Double(d) => json!(d.to_string()),
                Value::Duration(d) => json!(d),
                Value::Decimal(s)
                | Value::String(s)
                | Value::DateTimeOffset(s)
                | Value::Date(s)
                | Value::TimeOfDay(s) => json!(s),
            })
            .collect();
        let doc = json!({"w": self.workspace, "q": self.query, "a": after, "n": self.served});
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(doc.to_string())
    }

    /// Decodes a token and checks it belongs to this workspace and query; `keys` gives
    /// the order-key expressions so values come back with their types.
    pub fn decode(
        text: &str,
        workspace: i64,
        query: &str,
        keys: &[TExpr],
    ) -> Result<SkipToken, SkipTokenError> {
        let types: Vec<Ty> = keys.iter().map(TExpr::ty).collect();
        Self::decode_typed(text, workspace, query, |_| Some(types))
    }

    /// [`SkipToken::decode`] with the values' types given by `types`, from the values.
    fn decode_typed(
        text: &str,
        workspace: i64,
        query: &str,
        types: impl FnOnce(&[serde_json::Value]) -> Option<Vec<Ty>>,
    ) -> Result<SkipToken, SkipTokenError> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| SkipTokenError::Malformed)?;
        let doc: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| SkipTokenError::Malformed)?;
        let w = doc
            .get("w")
            .and_then(|v| v.as_i64())
            .ok_or(SkipTokenError::Malformed)?;
        let q = doc
            .get("q")
            .and_then(|v| v.as_str())
            .ok_or(SkipTokenError::Malformed)?;
        if w != workspace || q != query {
            return Err(SkipTokenError::Foreign);
        }
        let n = doc
            .get("n")
            .and_then(|v| v.as_u64())
            .ok_or(SkipTokenError::Malformed)?;
        let a = doc
            .get("a")
            .and_then(|v| v.as_array())
            .ok_or(SkipTokenError::Malformed)?;
        let types = types(a).ok_or(SkipTokenError::Malformed)?;
        if a.len() != types.len() {
            return Err(SkipTokenError::Malformed);
        }
        let after = a
            .iter()
            .zip(types)
            .map(|(v, ty)| value_from_json(v, ty))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SkipToken {
            workspace: w,
            query: q.to_owned(),
            after,
            served: n,
        })
    }
}

/// Where a page of `$all` starts: the index of a read, and the key values of its last
/// row served (`None`: from its first row).
pub type UnionStart = (usize, Option<Vec<Value>>);

/// A `$skiptoken` of `$all`, whose values are the index of the read the next page starts
/// in, then the key values of that read's last row served, if any: that position, and
/// the token.
pub fn decode_union(
    text: &str,
    workspace: i64,
    query: &str,
    reads: &[Read],
) -> Result<(UnionStart, SkipToken), SkipTokenError> {
    let read_at = |v: &serde_json::Value| {
        v.as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < reads.len())
    };
    let token = SkipToken::decode_typed(text, workspace, query, |a| {
        let read = &reads[read_at(a.first()?)?];
        let mut types = vec![Ty::Edm(EdmType::Int32)];
        if a.len() > 1 {
            types.extend(read.entity.key_properties().map(Ty::of));
        }
        Some(types)
    })?;
    let Some((Value::Int(i), keys)) = token.after.split_first() else {
        return Err(SkipTokenError::Malformed);
    };
    let i = usize::try_from(*i).map_err(|_| SkipTokenError::Malformed)?;
    let keys = (!keys.is_empty()).then(|| keys.to_vec());
    Ok(((i, keys), token))
}

/// Converts a JSON value (from a token or a row's sort keys) to a value of the key's
/// type. A token is the client's to send: a value of another kind is refused here, not
/// bound against a column it cannot be compared with.
pub fn value_from_json(v: &serde_json::Value, ty: Ty) -> Result<Value, SkipTokenError> {
    use serde_json::Value as J;
    let boolean = matches!(ty, Ty::Bool | Ty::Edm(EdmType::Boolean));
    Ok(match (v, ty) {
        (J::Null, _) => Value::Null,
        (J::Bool(b), _) if boolean => Value::Bool(*b),
        // SQLite's booleans are 0 and 1.
        (J::Number(n), _) if boolean => Value::Bool(n.as_i64() == Some(1)),
        (J::Number(n), Ty::Edm(EdmType::Decimal(..))) => Value::Decimal(n.to_string()),
        // An integer-typed expression may still sort by a fraction (`Guttometer div 2`
        // on SQLite).
        (J::Number(n), Ty::Edm(t)) if t.is_integer() || t == EdmType::Double => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Double(n.as_f64().ok_or(SkipTokenError::Malformed)?),
        },
        (J::String(s), Ty::Edm(EdmType::DateTimeOffset)) => Value::DateTimeOffset(
            crate::bind::normalize_dto(s).map_err(|_| SkipTokenError::Malformed)?,
        ),
        (J::String(s), Ty::Edm(EdmType::Decimal(..))) => {
            s.parse::<f64>().map_err(|_| SkipTokenError::Malformed)?;
            Value::Decimal(s.clone())
        }
        // Fractions are written as exact text (see `Compiler::order_values` and
        // `SkipToken::encode`), also where an integer-typed key held one.
        (J::String(s), Ty::Edm(t)) if t.is_integer() || t == EdmType::Double => {
            Value::Double(s.parse().map_err(|_| SkipTokenError::Malformed)?)
        }
        (J::Number(n), Ty::Duration) => {
            Value::Duration(n.as_f64().ok_or(SkipTokenError::Malformed)?)
        }
        (J::String(s), Ty::Date) => Value::Date(s.clone()),
        (J::String(s), Ty::TimeOfDay) => Value::TimeOfDay(s.clone()),
        (J::String(s), Ty::Edm(EdmType::String)) => Value::String(s.clone()),
        _ => return Err(SkipTokenError::Malformed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_fingerprint_holds_however_the_link_is_encoded() {
        let written = fingerprint("/LeadStatus('H%20%C3%BC''s')/Leads", "$filter=A%20eq%20'x'");
        assert_eq!(
            written,
            fingerprint(
                "/LeadStatus(%27H%20ü%27%27s%27)/Leads",
                "$filter=A eq %27x%27"
            )
        );
        assert_ne!(
            written,
            fingerprint("/LeadStatus('H')/Leads", "$filter=A%20eq%20'x'")
        );
        assert_ne!(
            written,
            fingerprint("/LeadStatus('H%20%C3%BC''s')/Leads", "$filter=A%20eq%20'y'")
        );
    }

    #[test]
    fn a_token_value_of_another_kind_than_its_key_is_refused() {
        let int = Ty::Edm(EdmType::Int32);
        let text = Ty::Edm(EdmType::String);
        for (v, ty) in [
            (json!(true), int),
            (json!("7x"), int),
            (json!([1]), int),
            (json!({"a": 1}), text),
            (json!(7), text),
            (json!("x"), Ty::Edm(EdmType::Boolean)),
            (json!(1), Ty::Edm(EdmType::DateTimeOffset)),
            (json!("not a date"), Ty::Edm(EdmType::DateTimeOffset)),
            (json!("1e"), Ty::Edm(EdmType::Decimal(30, 6))),
        ] {
            assert_eq!(
                value_from_json(&v, ty),
                Err(SkipTokenError::Malformed),
                "{v} as {ty:?}"
            );
        }
        assert_eq!(value_from_json(&json!(7), int), Ok(Value::Int(7)));
        assert_eq!(value_from_json(&json!(2.5), int), Ok(Value::Double(2.5)));
        // Doubles travel as exact text: serde_json would read the number to a few ulps.
        let d = 100.0 * 1.1;
        let token = SkipToken {
            workspace: 1,
            query: "q".into(),
            after: vec![Value::Double(d)],
            served: 1,
        };
        let encoded = token.encode();
        let doc: Option<serde_json::Value> = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&encoded)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        assert_eq!(
            doc.map(|d| d["a"][0].clone()),
            Some(json!("110.00000000000001"))
        );
        let back = SkipToken::decode(&encoded, 1, "q", &[TExpr::Lit(Value::Double(0.0))]);
        assert_eq!(back.map(|t| t.after), Ok(vec![Value::Double(d)]));
        assert_eq!(
            value_from_json(&json!(1), Ty::Edm(EdmType::Boolean)),
            Ok(Value::Bool(true))
        );
        assert_eq!(value_from_json(&json!(null), text), Ok(Value::Null));
        assert_eq!(
            value_from_json(&json!("Smith"), text),
            Ok(Value::String("Smith".into()))
        );
    }
}
