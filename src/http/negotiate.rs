//! Content negotiation: `$format` wins over `Accept`; q-values order the Accept list.

use super::error::ApiError;
use crate::format::json::MetadataLevel;

/// How a data response (entities, properties, service document) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonFormat {
    pub level: MetadataLevel,
    pub ieee754: bool,
}

impl JsonFormat {
    pub fn content_type(&self) -> String {
        format!(
            "application/json;odata.metadata={};odata.streaming=true;IEEE754Compatible={};charset=utf-8",
            self.level.as_str(),
            self.ieee754
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataFormat {
    Xml,
    Json,
}

struct MediaRange<'a> {
    ty: &'a str,
    sub: &'a str,
    params: Vec<(&'a str, &'a str)>,
    q: f32,
}

fn parse_media(s: &str) -> Option<MediaRange<'_>> {
    let mut parts = s.split(';');
    let (ty, sub) = parts.next()?.trim().split_once('/')?;
    let mut q = 1.0;
    let mut params = Vec::new();
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim().trim_matches('"'));
        if k.eq_ignore_ascii_case("q") {
            q = v.parse().unwrap_or(0.0);
        } else {
            params.push((k, v));
        }
    }
    Some(MediaRange {
        ty: ty.trim(),
        sub: sub.trim(),
        params,
        q,
    })
}

/// Accept entries with q > 0, best first (stable for equal q).
fn accept_list(accept: &str) -> Vec<MediaRange<'_>> {
    let mut list: Vec<MediaRange> = accept
        .split(',')
        .filter_map(parse_media)
        .filter(|m| m.q > 0.0)
        .collect();
    list.sort_by(|a, b| b.q.partial_cmp(&a.q).unwrap_or(std::cmp::Ordering::Equal));
    list
}

fn json_params(params: &[(&str, &str)]) -> Result<JsonFormat, ApiError> {
    let mut f = JsonFormat {
        level: MetadataLevel::Minimal,
        ieee754: false,
    };
    for (k, v) in params {
        if k.eq_ignore_ascii_case("odata.metadata") || k.eq_ignore_ascii_case("metadata") {
            f.level = match v.to_ascii_lowercase().as_str() {
                "minimal" => MetadataLevel::Minimal,
                "full" => MetadataLevel::Full,
                "none" => MetadataLevel::None,
                _ => {
                    return Err(ApiError::NotAcceptable(format!(
                        "odata.metadata={v} is not supported (minimal, full or none)"
                    )))
                }
            };
        } else if k.eq_ignore_ascii_case("odata") {
            // OData v3 spelling, still sent by some clients.
            f.level = match v.to_ascii_lowercase().as_str() {
                "fullmetadata" => MetadataLevel::Full,
                "nometadata" => MetadataLevel::None,
                _ => MetadataLevel::Minimal,
            };
        } else if k.eq_ignore_ascii_case("IEEE754Compatible") {
            f.ieee754 = v.eq_ignore_ascii_case("true");
        }
    }
    Ok(f)
}

fn is_json(m: &MediaRange) -> bool {
    (m.ty == "application" && (m.sub.eq_ignore_ascii_case("json") || m.sub == "*"))
        || (m.ty == "*" && m.sub == "*")
}

/// Format of an entity, collection, property or service-document response.
pub fn data_format(format: Option<&str>, accept: Option<&str>) -> Result<JsonFormat, ApiError> {
    if let Some(f) = format {
        let m = parse_media(f);
        return match (f.split(';').next().map(str::trim), m) {
            (Some(x), _) if x.eq_ignore_ascii_case("json") => json_params(
                &f.split(';')
                    .skip(1)
                    .filter_map(|p| p.split_once('='))
                    .collect::<Vec<_>>(),
            ),
            (_, Some(m)) if m.ty == "application" && m.sub.eq_ignore_ascii_case("json") => {
                json_params(&m.params)
            }
            _ => Err(ApiError::NotAcceptable(format!(
                "$format={f} is not supported; use json"
            ))),
        };
    }
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(JsonFormat {
            level: MetadataLevel::Minimal,
            ieee754: false,
        });
    };
    for m in accept_list(accept) {
        if is_json(&m) {
            return json_params(&m.params);
        }
    }
    Err(ApiError::NotAcceptable(format!(
        "cannot produce any of `{accept}`; this resource is available as application/json"
    )))
}

/// `$metadata` is CSDL XML unless CSDL JSON is explicitly asked for.
pub fn metadata_format(
    format: Option<&str>,
    accept: Option<&str>,
) -> Result<MetadataFormat, ApiError> {
    if let Some(f) = format {
        let base = f
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        return match base.as_str() {
            "xml" | "application/xml" => Ok(MetadataFormat::Xml),
            "json" | "application/json" => Ok(MetadataFormat::Json),
            _ => Err(ApiError::NotAcceptable(format!(
                "$format={f} is not available for $metadata; use xml or json"
            ))),
        };
    }
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(MetadataFormat::Xml);
    };
    for m in accept_list(accept) {
        let sub = m.sub.to_ascii_lowercase();
        if (m.ty == "application" && (sub == "xml" || sub == "*"))
            || (m.ty == "*" && sub == "*")
            || (m.ty == "text" && sub == "xml")
        {
            return Ok(MetadataFormat::Xml);
        }
        if m.ty == "application" && sub == "json" {
            return Ok(MetadataFormat::Json);
        }
    }
    Err(ApiError::NotAcceptable(format!("cannot produce any of `{accept}`; $metadata is available as application/xml or application/json")))
}

/// `/$count` and `/$value` answer with text/plain.
pub fn text_allowed(format: Option<&str>, accept: Option<&str>) -> Result<(), ApiError> {
    if format.is_some() {
        return Ok(());
    }
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(());
    };
    let ok = accept_list(accept).iter().any(|m| {
        (m.ty == "text" && (m.sub == "plain" || m.sub == "*")) || (m.ty == "*" && m.sub == "*")
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::NotAcceptable(format!(
            "cannot produce any of `{accept}`; this resource is text/plain"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POWER_QUERY: &str = "application/json;odata.metadata=minimal;q=1.0,application/json;odata=minimalmetadata;q=0.9,application/atomsvc+xml;q=0.8,application/atom+xml;q=0.8,application/xml;q=0.7,text/plain;q=0.7";

    #[test]
    fn power_query_gets_minimal_json_and_xml_metadata() {
        assert_eq!(
            data_format(None, Some(POWER_QUERY)).unwrap(),
            JsonFormat {
                level: MetadataLevel::Minimal,
                ieee754: false
            }
        );
        assert_eq!(
            metadata_format(None, Some(POWER_QUERY)).unwrap(),
            MetadataFormat::Xml
        );
        assert!(text_allowed(None, Some(POWER_QUERY)).is_ok());
    }

    #[test]
    fn format_overrides_accept_and_carries_parameters() {
        let f = data_format(
            Some("application/json;odata.metadata=full;IEEE754Compatible=true"),
            Some("application/xml"),
        )
        .unwrap();
        assert_eq!(
            f,
            JsonFormat {
                level: MetadataLevel::Full,
                ieee754: true
            }
        );
        assert!(data_format(Some("csv"), None).is_err());
        assert_eq!(
            metadata_format(Some("json"), None).unwrap(),
            MetadataFormat::Json
        );
        assert_eq!(
            metadata_format(None, Some("application/json")).unwrap(),
            MetadataFormat::Json
        );
    }

    #[test]
    fn unproducible_accept_is_refused() {
        assert!(data_format(None, Some("image/png")).is_err());
        assert!(data_format(None, Some("application/json;q=0")).is_err());
        assert!(text_allowed(None, Some("application/json")).is_err());
    }
}
