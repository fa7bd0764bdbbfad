//! Percent-decoding that borrows when nothing is encoded, plus the reverse mapping from
//! decoded byte offsets to raw offsets (only computed when reporting an error).

use std::borrow::Cow;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes. `+` stays a plus sign (OData, unlike HTML forms).
/// On failure returns the raw offset of the bad escape or of the invalid UTF-8 sequence.
pub(crate) fn decode(raw: &str) -> Result<Cow<'_, str>, (usize, &'static str)> {
    let bytes = raw.as_bytes();
    let Some(first) = bytes.iter().position(|&b| b == b'%') else {
        return Ok(Cow::Borrowed(raw));
    };
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(bytes.get(..first).unwrap_or_default());
    let mut i = first;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex);
            let lo = bytes.get(i + 2).copied().and_then(hex);
            match (hi, lo) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return Err((i, "`%` must be followed by two hex digits")),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        (raw_offset(raw, bad), "percent-encoded bytes are not valid UTF-8")
    })
}

/// Maps a byte offset in the decoded text back to the raw (encoded) text.
pub(crate) fn raw_offset(raw: &str, decoded: usize) -> usize {
    let bytes = raw.as_bytes();
    let (mut r, mut d) = (0, 0);
    while d < decoded && r < bytes.len() {
        r += if bytes.get(r) == Some(&b'%') { 3 } else { 1 };
        d += 1;
    }
    r.min(raw.len())
}

/// Whether the decoded byte at `decoded` was written percent-encoded in `raw`.
pub(crate) fn was_encoded(raw: &str, decoded: usize) -> bool {
    let r = raw_offset(raw, decoded);
    raw.as_bytes().get(r) == Some(&b'%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_plain_text() {
        assert!(matches!(decode("a+b c").unwrap(), Cow::Borrowed("a+b c")));
    }

    #[test]
    fn decodes_and_maps_offsets() {
        let raw = "O%27%27Neil%CE%94x";
        let d = decode(raw).unwrap();
        assert_eq!(d, "O''NeilΔx");
        assert_eq!(raw_offset(raw, 1), 1);
        assert_eq!(raw_offset(raw, 3), 7);
        assert_eq!(raw_offset(raw, d.len() - 1), raw.len() - 1);
        assert!(was_encoded(raw, 1));
        assert!(!was_encoded(raw, 0));
    }

    #[test]
    fn rejects_bad_escapes() {
        assert_eq!(decode("ab%2").unwrap_err().0, 2);
        assert_eq!(decode("a%zz").unwrap_err().0, 1);
        assert!(decode("%FF").is_err());
    }
}
