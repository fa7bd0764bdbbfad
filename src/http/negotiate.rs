//! Content negotiation: `$format` wins over `Accept`; q-values order the Accept list.

use super::error::ApiError;
use crate::format::json::MetadataLevel;

/// How a data response (entities, properties, service document) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonFormat {
    pub level: MetadataLevel,
    pub ieee754: bool,
    /// `odata.streaming`: every response is written control information first, so it
    /// is `true` unless the client asked for `false`, which the content type repeats.
    pub streaming: bool,
}

impl JsonFormat {
    /// Written out for each combination, so no response formats it.
    pub fn content_type(&self) -> &'static str {
        macro_rules! ct {
            ($level:literal, $streaming:literal, $ieee:literal) => {
                concat!(
                    "application/json;odata.metadata=",
                    $level,
                    ";odata.streaming=",
                    $streaming,
                    ";IEEE754Compatible=",
                    $ieee,
                    ";charset=utf-8"
                )
            };
        }
        macro_rules! by_level {
            ($streaming:literal, $ieee:literal) => {
                match self.level {
                    MetadataLevel::None => ct!("none", $streaming, $ieee),
                    MetadataLevel::Minimal => ct!("minimal", $streaming, $ieee),
                    MetadataLevel::Full => ct!("full", $streaming, $ieee),
                }
            };
        }
        match (self.streaming, self.ieee754) {
            (true, false) => by_level!("true", "false"),
            (true, true) => by_level!("true", "true"),
            (false, false) => by_level!("false", "false"),
            (false, true) => by_level!("false", "true"),
        }
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

impl MediaRange<'_> {
    /// Type and subtype compared as RFC 9110 §8.3.1 says: case-insensitively.
    fn is(&self, ty: &str, sub: &str) -> bool {
        self.ty.eq_ignore_ascii_case(ty) && self.sub.eq_ignore_ascii_case(sub)
    }

    fn is_any(&self) -> bool {
        self.is("*", "*")
    }
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

/// Whether `accept` names `ty/sub` itself with q=0.
fn refused(accept: &str, ty: &str, sub: &str) -> bool {
    accept
        .split(',')
        .filter_map(parse_media)
        .any(|m| m.q <= 0.0 && m.is(ty, sub))
}

/// What asked for a format, the target of a 406.
pub(super) const FORMAT: &str = "$format";
pub(super) const ACCEPT: &str = "Accept";

fn not_acceptable(target: &'static str, message: String) -> ApiError {
    ApiError::NotAcceptable { message, target }
}

/// `target`: where the parameters came from.
fn json_params(params: &[(&str, &str)], target: &'static str) -> Result<JsonFormat, ApiError> {
    let mut f = JsonFormat {
        level: MetadataLevel::Minimal,
        ieee754: false,
        streaming: true,
    };
    for (k, v) in params {
        if k.eq_ignore_ascii_case("odata.metadata") || k.eq_ignore_ascii_case("metadata") {
            f.level = match v.to_ascii_lowercase().as_str() {
                "minimal" => MetadataLevel::Minimal,
                "full" => MetadataLevel::Full,
                "none" => MetadataLevel::None,
                _ => {
                    return Err(not_acceptable(
                        target,
                        format!("odata.metadata={v} is not supported (minimal, full or none)"),
                    ))
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
        } else if k.eq_ignore_ascii_case("odata.streaming") || k.eq_ignore_ascii_case("streaming") {
            f.streaming = !v.eq_ignore_ascii_case("false");
        }
    }
    Ok(f)
}

fn is_json(m: &MediaRange) -> bool {
    m.is("application", "json") || m.is("application", "*") || m.is_any()
}

/// Format of an entity, collection, property or service-document response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    Json(JsonFormat),
    /// OData Atom Format 4.0 (feeds, entries, AtomPub service document, `<m:value>`).
    Atom,
}

fn minimal() -> DataFormat {
    DataFormat::Json(JsonFormat {
        level: MetadataLevel::Minimal,
        ieee754: false,
        streaming: true,
    })
}

fn is_atom(m: &MediaRange) -> bool {
    ["atom+xml", "atomsvc+xml", "xml"]
        .iter()
        .any(|sub| m.is("application", sub))
        || m.is("text", "xml")
}

/// `$format` wins; otherwise the best Accept entry we can produce (`*/*` means JSON).
pub fn data_format(format: Option<&str>, accept: Option<&str>) -> Result<DataFormat, ApiError> {
    if let Some(f) = format {
        let base = f.split(';').next().map(str::trim).unwrap_or("");
        if base.eq_ignore_ascii_case("atom") || base.eq_ignore_ascii_case("xml") {
            return Ok(DataFormat::Atom);
        }
        let m = parse_media(f);
        return match m {
            _ if base.eq_ignore_ascii_case("json") => json_params(
                &f.split(';')
                    .skip(1)
                    .filter_map(|p| p.split_once('='))
                    .map(|(k, v)| (k.trim(), v.trim()))
                    .collect::<Vec<_>>(),
                FORMAT,
            )
            .map(DataFormat::Json),
            Some(m) if m.is("application", "json") => {
                json_params(&m.params, FORMAT).map(DataFormat::Json)
            }
            Some(m) if is_atom(&m) => Ok(DataFormat::Atom),
            _ => Err(not_acceptable(
                FORMAT,
                format!("$format={f} is not supported; use json, atom or xml"),
            )),
        };
    }
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(minimal());
    };
    // A type named with q=0 is refused even where a wildcard would allow it (RFC 9110
    // §12.5.1: the more specific range decides).
    let json_refused = refused(accept, "application", "json");
    let atom_refused = refused(accept, "application", "atom+xml");
    for m in accept_list(accept) {
        let wildcard = m.is_any() || m.is("application", "*");
        if is_json(&m) && !(wildcard && json_refused) {
            return json_params(&m.params, ACCEPT).map(DataFormat::Json);
        }
        if is_atom(&m) || (wildcard && !atom_refused) {
            return Ok(DataFormat::Atom);
        }
    }
    Err(not_acceptable(ACCEPT, format!(
        "cannot produce any of `{accept}`; this resource is available as application/json or application/atom+xml"
    )))
}

/// Whether an error should be written as `<m:error>`: XML was asked for with `$format`
/// (read from the raw query, since the error may be that the query does not parse) or
/// wins the Accept negotiation.
pub fn error_is_xml(raw_query: Option<&str>, accept: Option<&str>) -> bool {
    let format = raw_query.unwrap_or("").split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        let k = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
        k.trim().eq_ignore_ascii_case("$format").then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    });
    matches!(data_format(format.as_deref(), accept), Ok(DataFormat::Atom))
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
            _ => Err(not_acceptable(
                FORMAT,
                format!("$format={f} is not available for $metadata; use xml or json"),
            )),
        };
    }
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(MetadataFormat::Xml);
    };
    // Power Query lists JSON first but also accepts XML: only a JSON-only Accept gets
    // CSDL JSON, because CSDL XML is what OData 4.0 clients can read.
    let list = accept_list(accept);
    let xml_ok = list.iter().any(|m| {
        m.is("application", "xml") || m.is("application", "*") || m.is_any() || m.is("text", "xml")
    });
    if xml_ok {
        return Ok(MetadataFormat::Xml);
    }
    if list.iter().any(|m| m.is("application", "json")) {
        return Ok(MetadataFormat::Json);
    }
    Err(not_acceptable(ACCEPT, format!("cannot produce any of `{accept}`; $metadata is available as application/xml or application/json")))
}

/// `/$count` and `/$value` answer with text/plain.
pub fn text_allowed(format: Option<&str>, accept: Option<&str>) -> Result<(), ApiError> {
    if format.is_some() {
        return Ok(());
    }
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(());
    };
    // JSON-only clients (python-odata among them) ask for `/$count` with
    // `Accept: application/json`; a bare number is valid JSON too, so they get the text.
    let ok = accept_list(accept).iter().any(|m| {
        m.is("text", "plain") || m.is("text", "*") || m.is_any() || m.is("application", "json")
    });
    if ok {
        Ok(())
    } else {
        Err(not_acceptable(
            ACCEPT,
            format!("cannot produce any of `{accept}`; this resource is text/plain"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_json_format_names_its_own_parameters() {
        for level in [
            MetadataLevel::None,
            MetadataLevel::Minimal,
            MetadataLevel::Full,
        ] {
            for ieee754 in [false, true] {
                for streaming in [false, true] {
                    assert_eq!(
                        JsonFormat {
                            level,
                            ieee754,
                            streaming
                        }
                        .content_type(),
                        format!(
                            "application/json;odata.metadata={};odata.streaming={streaming};IEEE754Compatible={ieee754};charset=utf-8",
                            level.as_str()
                        )
                    );
                }
            }
        }
    }

    const POWER_QUERY: &str = "application/json;odata.metadata=minimal;q=1.0,application/json;odata=minimalmetadata;q=0.9,application/atomsvc+xml;q=0.8,application/atom+xml;q=0.8,application/xml;q=0.7,text/plain;q=0.7";

    #[test]
    fn power_query_gets_minimal_json_and_xml_metadata() {
        assert_eq!(
            data_format(None, Some(POWER_QUERY)).ok(),
            Some(DataFormat::Json(JsonFormat {
                level: MetadataLevel::Minimal,
                ieee754: false,
                streaming: true
            }))
        );
        assert_eq!(
            metadata_format(None, Some(POWER_QUERY)).ok(),
            Some(MetadataFormat::Xml)
        );
        assert!(text_allowed(None, Some(POWER_QUERY)).is_ok());
    }

    #[test]
    fn format_overrides_accept_and_carries_parameters() {
        let f = data_format(
            Some("application/json;odata.metadata=full;IEEE754Compatible=true"),
            Some("application/xml"),
        );
        assert_eq!(
            f.ok(),
            Some(DataFormat::Json(JsonFormat {
                level: MetadataLevel::Full,
                ieee754: true,
                streaming: true
            }))
        );
        assert!(data_format(Some("csv"), None).is_err());
        assert_eq!(
            metadata_format(Some("json"), None).ok(),
            Some(MetadataFormat::Json)
        );
        assert_eq!(
            metadata_format(None, Some("application/json")).ok(),
            Some(MetadataFormat::Json)
        );
    }

    #[test]
    fn unproducible_accept_is_refused() {
        assert!(data_format(None, Some("image/png")).is_err());
        assert!(data_format(None, Some("application/json;q=0")).is_err());
        // A type refused by name stays refused under a wildcard.
        for a in [
            "application/json;q=0, */*",
            "application/json;q=0, application/*",
        ] {
            assert_eq!(
                data_format(None, Some(a)).ok(),
                Some(DataFormat::Atom),
                "{a}"
            );
        }
        assert!(data_format(
            None,
            Some("application/json;q=0,application/atom+xml;q=0,*/*")
        )
        .is_err());
        assert_eq!(
            data_format(None, Some("application/atom+xml;q=0, */*")).ok(),
            Some(minimal())
        );
        assert!(text_allowed(None, Some("application/json")).is_ok());
        assert!(text_allowed(None, Some("application/xml")).is_err());
        assert!(text_allowed(None, Some("image/png")).is_err());
        assert!(data_format(Some("atom+json"), None).is_err());
    }

    #[test]
    fn atom_and_xml_are_negotiated() {
        for f in [
            "atom",
            "xml",
            "ATOM",
            "application/atom+xml",
            "application/xml",
        ] {
            assert_eq!(
                data_format(Some(f), Some("application/json")).ok(),
                Some(DataFormat::Atom),
                "{f}"
            );
        }
        for a in [
            "application/atom+xml",
            "application/xml",
            "application/atomsvc+xml",
            "application/json;q=0.5,application/atom+xml",
            "image/png,application/xml;q=0.2",
        ] {
            assert_eq!(
                data_format(None, Some(a)).ok(),
                Some(DataFormat::Atom),
                "{a}"
            );
        }
        for a in [
            "*/*",
            "application/*",
            "application/xml;q=0.5,application/json",
            "application/json,application/xml",
        ] {
            assert!(
                matches!(data_format(None, Some(a)), Ok(DataFormat::Json(_))),
                "{a}"
            );
        }
        // $format beats an Accept that asks for Atom.
        assert!(matches!(
            data_format(Some("json"), Some("application/atom+xml")),
            Ok(DataFormat::Json(_))
        ));
        // $metadata stays CSDL XML for Atom-flavoured Accept lists.
        assert_eq!(
            metadata_format(None, Some("application/xml")).ok(),
            Some(MetadataFormat::Xml)
        );
    }

    #[test]
    fn types_subtypes_and_parameter_names_are_case_insensitive() {
        let full = DataFormat::Json(JsonFormat {
            level: MetadataLevel::Full,
            ieee754: false,
            streaming: true,
        });
        for a in ["Application/JSON", "APPLICATION/JSON", "*/*"] {
            assert_eq!(data_format(None, Some(a)).ok(), Some(minimal()), "{a}");
            assert!(text_allowed(None, Some(a)).is_ok(), "{a}");
        }
        assert_eq!(
            data_format(None, Some("Application/Json;ODATA.METADATA=full")).ok(),
            Some(full)
        );
        assert_eq!(
            data_format(Some("APPLICATION/JSON;odata.metadata=full"), None).ok(),
            Some(full)
        );
        for a in ["Application/Atom+XML", "TEXT/XML", "application/XML"] {
            assert_eq!(
                data_format(None, Some(a)).ok(),
                Some(DataFormat::Atom),
                "{a}"
            );
        }
        assert_eq!(
            metadata_format(None, Some("Application/JSON")).ok(),
            Some(MetadataFormat::Json)
        );
        assert_eq!(
            metadata_format(None, Some("Application/JSON, Application/XML")).ok(),
            Some(MetadataFormat::Xml)
        );
        assert!(text_allowed(None, Some("TEXT/Plain")).is_ok());
        assert_eq!(
            data_format(None, Some("Application/*")).ok(),
            Some(minimal())
        );
    }

    #[test]
    fn errors_follow_the_negotiated_format() {
        assert!(error_is_xml(Some("$top=x&$format=atom"), None));
        assert!(error_is_xml(
            Some("%24format=xml"),
            Some("application/json")
        ));
        assert!(error_is_xml(None, Some("application/atom+xml")));
        assert!(!error_is_xml(None, None));
        assert!(!error_is_xml(Some("$format=json"), Some("application/xml")));
        assert!(!error_is_xml(None, Some(POWER_QUERY)));
    }
}
