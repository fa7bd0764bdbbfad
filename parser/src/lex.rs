//! Shared lexical pieces: whitespace, identifiers, keywords. All work on decoded text.

use crate::error::{backtrack, Res};

/// BWS/RWS characters. Line breaks are accepted too, so queries pasted over several
/// lines (as the CRM guide prints them) still parse.
pub(crate) fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Optional whitespace.
pub(crate) fn bws(i: &str) -> &str {
    i.trim_start_matches(is_ws)
}

/// Required whitespace.
pub(crate) fn rws(i: &str) -> Res<'_, ()> {
    let rest = bws(i);
    if rest.len() == i.len() {
        backtrack(i, "expected whitespace")
    } else {
        Ok((rest, ()))
    }
}

pub(crate) fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

pub(crate) fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// ASCII letters, digits and `_`.
static IDENT_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'_';
        c += 1;
    }
    t
};

/// Lower-cases a short ASCII word into `buf`; `None` if it is longer than `buf`.
pub(crate) fn lower<'b>(word: &str, buf: &'b mut [u8; 16]) -> Option<&'b [u8]> {
    let dst = buf.get_mut(..word.len())?;
    dst.copy_from_slice(word.as_bytes());
    dst.make_ascii_lowercase();
    Some(dst)
}

/// `odataIdentifier`: a letter or `_`, then letters, digits or `_`; at most 128 characters.
pub(crate) fn identifier(i: &str) -> Res<'_, &str> {
    let b = i.as_bytes();
    // ASCII fast path; names are nearly always ASCII.
    let mut end = b
        .iter()
        .position(|&c| !IDENT_BYTE[usize::from(c)])
        .unwrap_or(b.len());
    if b.get(end).is_some_and(|c| !c.is_ascii()) || end == 0 {
        let mut chars = i.char_indices();
        match chars.next() {
            Some((_, c)) if is_ident_start(c) => {}
            _ => return backtrack(i, "expected a name"),
        }
        end = chars
            .find(|&(_, c)| !is_ident_char(c))
            .map_or(i.len(), |(n, _)| n);
    } else if b.first().is_some_and(u8::is_ascii_digit) {
        return backtrack(i, "expected a name");
    }
    if end > 128 && i[..end].chars().count() > 128 {
        return backtrack(i, "names are at most 128 characters");
    }
    Ok((&i[end..], &i[..end]))
}

/// `Namespace.Name` or a plain identifier (dots between identifiers).
pub(crate) fn qualified(i: &str) -> Res<'_, &str> {
    let (mut rest, _) = identifier(i)?;
    while let Some(after_dot) = rest.strip_prefix('.') {
        match identifier(after_dot) {
            Ok((r, _)) => rest = r,
            Err(_) => break,
        }
    }
    Ok((rest, &i[..i.len() - rest.len()]))
}

/// A case-insensitive keyword not followed by a name character.
pub(crate) fn keyword<'a>(i: &'a str, kw: &'static str) -> Res<'a, &'a str> {
    match i.get(..kw.len()) {
        Some(head) if head.eq_ignore_ascii_case(kw) => {
            let rest = &i[kw.len()..];
            if rest.starts_with(is_ident_char) {
                backtrack(i, "expected a keyword")
            } else {
                Ok((rest, head))
            }
        }
        _ => backtrack(i, "expected a keyword"),
    }
}

/// Number of leading ASCII digits.
pub(crate) fn digits(i: &str) -> usize {
    i.bytes().take_while(u8::is_ascii_digit).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(identifier("__ID rest").unwrap(), (" rest", "__ID"));
        assert!(identifier("0time").is_err());
        assert_eq!(identifier("No.Dot").unwrap().1, "No");
        assert_eq!(qualified("Model.Type'x'").unwrap(), ("'x'", "Model.Type"));
        assert_eq!(qualified("Model.").unwrap(), (".", "Model"));
        assert!(identifier(&"a".repeat(129)).is_err());
    }

    #[test]
    fn keywords() {
        assert!(keyword("EQ 1", "eq").is_ok());
        assert!(keyword("equal", "eq").is_err());
    }
}
