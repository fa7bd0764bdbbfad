//! Reading what the request says: its service root, headers, preferences and query.

use actix_web::http::header::HeaderMap;
use actix_web::http::Method;
use actix_web::HttpRequest;

use super::error::ApiError;

/// Longest request target we parse (path and query), alone or inside a `$batch`.
pub const MAX_URI: usize = 16 * 1024;

/// What the pipeline reads of a request: the HTTP request itself, or one request of a
/// `$batch`, which has its own method, URL and headers but the batch's service root.
pub struct Incoming<'a> {
    pub method: Method,
    /// Percent-encoded, as received.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// Scheme, host and base path, ending with `/`: absolute URLs in responses start with it.
    pub root: String,
}

impl<'a> Incoming<'a> {
    pub fn of(req: &'a HttpRequest) -> Self {
        Self {
            method: req.method().clone(),
            path: req.uri().path(),
            query: req.uri().query(),
            headers: req.headers(),
            root: service_root(req),
        }
    }

    /// Whether the path and query pass [`MAX_URI`] (a 414).
    pub fn too_long(&self) -> bool {
        self.path.len() + self.query.map_or(0, str::len) > MAX_URI
    }

    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The preferences of the `Prefer` headers, one per item, trimmed
    /// (`odata.maxpagesize=50`, `odata.continue-on-error`).
    pub fn preferences(&self) -> impl Iterator<Item = &'a str> {
        self.headers
            .get_all("prefer")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
    }

    /// A request in a version this service does not speak is refused (OData 4.01 Part 1
    /// §8.2.6, §8.1.5): `OData-Version` must be 4.0 or 4.01, `OData-MaxVersion` at least
    /// 4.0, and both must be versions; 4.0 is what is answered either way.
    pub fn check_versions(&self) -> Result<(), ApiError> {
        let bad = |name: &'static str, message: String| ApiError::BadHeader { name, message };
        if let Some(v) = self.header("odata-version") {
            match version(v) {
                None => return Err(bad("OData-Version", not_a_version("OData-Version", v))),
                Some(n) if !(4.0..=4.01).contains(&n) => {
                    return Err(bad(
                        "OData-Version",
                        format!(
                            "OData-Version {v} is not supported: this service speaks 4.0 and 4.01"
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        if let Some(v) = self.header("odata-maxversion") {
            match version(v) {
                None => {
                    return Err(bad(
                        "OData-MaxVersion",
                        not_a_version("OData-MaxVersion", v),
                    ))
                }
                Some(n) if n < 4.0 => {
                    return Err(bad(
                        "OData-MaxVersion",
                        format!(
                        "OData-MaxVersion {v} is below 4.0, the only version this service speaks"
                    ),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The preference `name` as `(name as sent, value)`: OData 4.01 makes the `odata.`
    /// prefix optional (Protocol §8.2.8), so `maxpagesize` and `odata.maxpagesize` are one.
    pub fn preference(&self, name: &str) -> Option<(&'a str, Option<&'a str>)> {
        self.preferences().find_map(|p| {
            let (k, v) = match p.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (p, None),
            };
            let bare = k
                .get(..6)
                .filter(|pre| pre.eq_ignore_ascii_case("odata."))
                .map_or(k, |_| &k[6..]);
            bare.eq_ignore_ascii_case(name).then_some((k, v))
        })
    }

    /// `Prefer: maxpagesize=N` (or `odata.maxpagesize`), if present and sensible, with
    /// the name the client gave it, which `Preference-Applied` repeats.
    pub fn preferred_page_size(&self) -> Option<(u64, &'a str)> {
        let (name, v) = self.preference("maxpagesize")?;
        let n = v?
            .trim_matches('"')
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)?;
        Some((n, name))
    }
}

/// An OData version, `4.0` or `4.01` (digits, optionally a `.` and digits), as a number.
fn version(v: &str) -> Option<f64> {
    let v = v.trim();
    let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
    let digits = |s: &str| (1..=4).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor))
        .then(|| v.parse().ok())
        .flatten()
}

fn not_a_version(name: &str, v: &str) -> String {
    let shown: String = v.chars().take(64).collect();
    format!("{name} `{shown}` is not a version such as 4.0 or 4.01")
}

/// `scheme://host/` as the client addressed the service. Behind a proxy that says so
/// (`Forwarded`, `X-Forwarded-*`) actix-web's `ConnectionInfo` reads it; without one,
/// which is every request an instance serves directly, the same answer comes from the
/// URI and `Host` without parsing and copying what `ConnectionInfo` collects.
fn service_root(req: &HttpRequest) -> String {
    use actix_web::http::header::{FORWARDED, HOST};
    let h = req.headers();
    if h.contains_key(FORWARDED)
        || h.contains_key("x-forwarded-proto")
        || h.contains_key("x-forwarded-host")
    {
        let info = req.connection_info();
        return format!("{}://{}/", info.scheme(), info.host());
    }
    let scheme = req
        .uri()
        .scheme_str()
        .unwrap_or(if req.app_config().secure() {
            "https"
        } else {
            "http"
        });
    // An absolute-form target's authority comes before `Host` (RFC 9112 §3.2.2); an
    // empty `Host` names none.
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str())
        .or_else(|| {
            h.get(HOST)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
        })
        .or_else(|| {
            req.app_data::<actix_web::web::Data<super::AppState>>()
                .map(|s| s.authority.as_str())
        })
        .unwrap_or("localhost");
    let mut root = String::with_capacity(scheme.len() + host.len() + 4);
    root.push_str(scheme);
    root.push_str("://");
    root.push_str(host);
    root.push('/');
    root
}

/// The raw query without the parameters whose decoded name `drop` matches; empty
/// pieces go too. Every other parameter keeps its original encoding.
pub fn without_params(query: &str, drop: impl Fn(&str) -> bool) -> String {
    query
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            !p.is_empty() && !drop(&percent_encoding::percent_decode_str(name).decode_utf8_lossy())
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The raw query without `$skiptoken`, for next links and the token fingerprint.
pub fn query_without_skiptoken(query: &str) -> String {
    without_params(query, |n| {
        n.trim()
            .trim_start_matches('$')
            .eq_ignore_ascii_case("skiptoken")
    })
}

/// Drops percent-encoded whitespace after the resource path: the CRM guide prints its
/// long example with a line break before `?`, and people paste it like that.
pub fn trim_encoded_whitespace(mut path: &str) -> &str {
    loop {
        let trimmed = ["%0A", "%0a", "%0D", "%0d", "%20", "%09"]
            .iter()
            .find_map(|w| path.strip_suffix(w));
        match trimmed {
            Some(t) => path = t,
            None => return path,
        }
    }
}

/// How long a request body may pause before the request is answered with a 408: a
/// client that declares a body and stops sending it holds its connection no longer.
pub const BODY_IDLE: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(
        "the request body stopped arriving: nothing came for {} seconds",
        BODY_IDLE.as_secs()
    )]
    Stalled,
    #[error("reading the body: {0}")]
    Broken(String),
}

/// The body's next piece, `None` at its end.
pub async fn next_chunk(
    payload: &mut actix_web::web::Payload,
) -> Result<Option<bytes::Bytes>, BodyError> {
    use actix_web::error::PayloadError;
    use futures_util::StreamExt;
    match tokio::time::timeout(BODY_IDLE, payload.next()).await {
        Err(_) => Err(BodyError::Stalled),
        Ok(None) => Ok(None),
        Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
        Ok(Some(Err(e))) => Err(BodyError::Broken(match e {
            PayloadError::Incomplete(_) => "the body ended before its end: shorter than its \
                 Content-Length, or chunked framing that is malformed or not finished"
                .into(),
            PayloadError::EncodingCorrupted => "its Content-Encoding could not be decoded".into(),
            other => other.to_string(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::version;

    #[test]
    fn versions_are_digits_with_an_optional_fraction() {
        for (v, n) in [
            ("4.0", Some(4.0)),
            (" 4.01 ", Some(4.01)),
            ("4", Some(4.0)),
            ("5.0", Some(5.0)),
        ] {
            assert_eq!(version(v), n, "{v}");
        }
        for v in [
            "", "x", "4.", ".0", "4.0.1", "+4.0", "-4.0", "4e0", "NaN", "4.0x", "99999.0",
        ] {
            assert_eq!(version(v), None, "{v}");
        }
    }
}
