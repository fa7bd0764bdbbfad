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
    let Some(first) = raw.find('%') else {
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
        (
            raw_offset(raw, bad),
            "percent-encoded bytes are not valid UTF-8",
        )
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

/// One decoded unit of input (an option value or a path segment) and where its raw text
/// sits in the whole query/path, so positions can be reported in raw offsets.
pub(crate) struct Src<'s> {
    pub text: &'s str,
    raw: &'s str,
    raw_start: usize,
    /// decoded offset -> raw offset, built on first use and only when something was encoded.
    map: std::cell::OnceCell<Vec<u32>>,
}

impl<'s> Src<'s> {
    pub(crate) fn new(text: &'s str, raw: &'s str, raw_start: usize) -> Self {
        Src {
            text,
            raw,
            raw_start,
            map: std::cell::OnceCell::new(),
        }
    }

    /// Raw offset (in the whole query/path) of `at`, a suffix of `self.text`.
    pub(crate) fn off(&self, at: &str) -> usize {
        let d = self.text.len().saturating_sub(at.len());
        if self.text.len() == self.raw.len() {
            return self.raw_start + d;
        }
        let map = self.map.get_or_init(|| {
            let mut m = Vec::with_capacity(self.text.len() + 1);
            let b = self.raw.as_bytes();
            let mut r = 0usize;
            while r < b.len() {
                m.push(r as u32);
                r += if b.get(r) == Some(&b'%') { 3 } else { 1 };
            }
            m.push(b.len() as u32);
            m
        });
        self.raw_start + map.get(d).map_or(self.raw.len(), |&r| r as usize)
    }

    pub(crate) fn pos(&self, at: &str) -> crate::ast::Pos {
        crate::ast::Pos(self.off(at))
    }

    /// Whether the character at `at` was percent-encoded in the raw text.
    pub(crate) fn was_encoded(&self, at: &str) -> bool {
        let o = self.off(at) - self.raw_start;
        self.raw.as_bytes().get(o) == Some(&b'%')
    }
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
    }

    #[test]
    fn rejects_bad_escapes() {
        assert_eq!(decode("ab%2").unwrap_err().0, 2);
        assert_eq!(decode("a%zz").unwrap_err().0, 1);
        assert!(decode("%FF").is_err());
    }
}
