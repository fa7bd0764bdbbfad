//! `matchesPattern`'s regular expression, rewritten so that both databases read it the
//! same way. SQLite runs it with the `regex` crate, PostgreSQL with its own engine, whose
//! syntax differs (`\p{Lu}`, `\d` over all Unicode digits, counts above 255, `(?i)` in
//! the middle). The pattern is parsed with the `regex` crate's syntax into its
//! high-level form, where case folding, `.` and Unicode classes are already explicit
//! character ranges, and written back with the constructs both engines agree on:
//! characters as `\uXXXX`/`\UXXXXXXXX` escapes, bracket ranges, `(?:...)`, `|`,
//! quantifiers, `^`, `$` and word boundaries (`\b`, which PostgreSQL spells `\y`).

use regex_syntax::hir::{Class, Hir, HirKind, Look};
use std::fmt::Write;

/// PostgreSQL's largest repetition count (`DUPMAX`).
const MAX_COUNT: u32 = 255;

/// The pattern in the form both databases read alike, or why it cannot be.
pub fn portable(pattern: &str) -> Result<String, String> {
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .map_err(|e| format!("not a valid regular expression: {e}"))?;
    let mut out = String::with_capacity(pattern.len() * 2);
    write(&hir, &mut out)?;
    Ok(out)
}

/// The portable pattern as PostgreSQL spells it: its word boundary is `\y`. Every other
/// backslash in a portable pattern starts `\u` or `\U`, so no character is mistaken.
pub fn for_postgres(portable: &str) -> String {
    portable.replace("\\b", "\\y").replace("\\B", "\\Y")
}

fn write(hir: &Hir, out: &mut String) -> Result<(), String> {
    match hir.kind() {
        HirKind::Empty => {}
        HirKind::Literal(lit) => {
            let text = std::str::from_utf8(&lit.0)
                .map_err(|_| "the pattern matches bytes that are not text".to_owned())?;
            for c in text.chars() {
                char_escape(c, out)?;
            }
        }
        HirKind::Class(Class::Unicode(class)) => {
            // A text never holds U+0000, and PostgreSQL takes no escape for it.
            let ranges: Vec<(char, char)> = class
                .ranges()
                .iter()
                .filter(|r| r.end() != '\0')
                .map(|r| (r.start().max('\u{1}'), r.end()))
                .collect();
            if ranges.is_empty() {
                return Err("the pattern has a character class that matches nothing".into());
            }
            out.push('[');
            for (start, end) in ranges {
                char_escape(start, out)?;
                if end != start {
                    out.push('-');
                    char_escape(end, out)?;
                }
            }
            out.push(']');
        }
        HirKind::Class(Class::Bytes(_)) => {
            return Err("byte classes (`(?-u)`) are not supported".into());
        }
        HirKind::Look(look) => out.push_str(match look {
            Look::Start => "^",
            Look::End => "$",
            Look::WordUnicode => "\\b",
            Look::WordUnicodeNegate => "\\B",
            _ => return Err(
                "only `^`, `$`, `\\b` and `\\B` are supported as assertions (no multi-line mode)"
                    .into(),
            ),
        }),
        HirKind::Repetition(rep) => {
            if rep.min > MAX_COUNT || rep.max.is_some_and(|m| m > MAX_COUNT) {
                return Err(format!(
                    "repetition counts above {MAX_COUNT} are not supported"
                ));
            }
            out.push_str("(?:");
            write(&rep.sub, out)?;
            out.push(')');
            match (rep.min, rep.max) {
                (0, None) => out.push('*'),
                (1, None) => out.push('+'),
                (0, Some(1)) => out.push('?'),
                (n, None) => {
                    let _ = write!(out, "{{{n},}}");
                }
                (n, Some(m)) if n == m => {
                    let _ = write!(out, "{{{n}}}");
                }
                (n, Some(m)) => {
                    let _ = write!(out, "{{{n},{m}}}");
                }
            }
        }
        HirKind::Capture(cap) => {
            out.push_str("(?:");
            write(&cap.sub, out)?;
            out.push(')');
        }
        HirKind::Concat(items) => {
            for h in items {
                write(h, out)?;
            }
        }
        HirKind::Alternation(items) => {
            out.push_str("(?:");
            for (i, h) in items.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                write(h, out)?;
            }
            out.push(')');
        }
    }
    Ok(())
}

/// A character as itself when it is an ASCII letter or digit, else as an escape.
fn char_escape(c: char, out: &mut String) -> Result<(), String> {
    match c {
        '\0' => return Err("the pattern matches U+0000, which no text holds".into()),
        c if c.is_ascii_alphanumeric() => out.push(c),
        c if (c as u32) <= 0xFFFF => {
            let _ = write!(out, "\\u{:04X}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08X}", c as u32);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the portable form matches `text`; `None` when there is no portable form
    /// or the `regex` crate refuses it.
    fn matches(pattern: &str, text: &str) -> Option<bool> {
        let p = portable(pattern).ok()?;
        Some(regex::Regex::new(&p).ok()?.is_match(text))
    }

    #[test]
    fn the_portable_form_matches_what_the_pattern_matches() {
        for (pattern, text, want) in [
            ("^Sm", "Smith", true),
            ("^Sm", "ASmith", false),
            ("(?i)^sm", "SMITH", true),
            ("a.c", "a\nc", false),
            ("a.c", "a-c", true),
            ("\\d{3}$", "x123", true),
            ("\\d{3}$", "x12", false),
            ("\\p{Lu}", "abc", false),
            ("\\p{Lu}", "abÜ", true),
            ("colou?r", "color", true),
            ("(ab|cd)+e", "abcde", true),
            ("a\\.b", "axb", false),
            ("a\\.b", "a.b", true),
            ("[^0-9]", "123", false),
            ("\\bltd\\b", "acme ltd", true),
            ("\\bltd\\b", "acmeltd", false),
            ("", "anything", true),
            ("x{2,3}", "xx", true),
            ("x{2}y", "xy", false),
        ] {
            assert_eq!(matches(pattern, text), Some(want), "{pattern} on {text:?}");
        }
    }

    #[test]
    fn only_letters_and_digits_stay_themselves() {
        assert_eq!(
            portable("a.b").as_deref(),
            Ok("a[\\u0001-\\u0009\\u000B-\\U0010FFFF]b")
        );
        assert_eq!(portable("\\$1").as_deref(), Ok("\\u00241"));
        assert_eq!(portable("(?i)k").as_deref(), Ok("[Kk\\u212A]"));
        assert_eq!(for_postgres("\\bx\\B\\u0062"), "\\yx\\Y\\u0062");
    }

    #[test]
    fn what_one_engine_would_read_otherwise_is_refused() {
        for bad in [
            "a{300}",
            "(?m)^a$",
            "(?-u)\\xFF",
            "[^\\s\\S]",
            "\\x00",
            "(?-u:\\b)a",
        ] {
            assert!(portable(bad).is_err(), "{bad}");
        }
        assert!(portable("(").unwrap_err().contains("not a valid"));
    }
}
