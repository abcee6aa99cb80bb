//! Server-provided text made safe to show in a log line or an error text.
//!
//! A server (or anything in between) controls what it sends back. Written
//! raw into a log, a line or paragraph separator starts a fake log line in
//! common viewers, a bidi override makes text read backwards, and a huge
//! value floods the log. So such text is shown through [`Shown`] (escaped,
//! capped) or reduced by [`reason`] (stripped, capped); the full value
//! stays available through the accessors.

use std::fmt::{self, Write};

/// Characters shown from a server-provided value in a log line or error text.
pub(crate) const SHOWN_CHARS: usize = 80;

/// Characters shown of a TLS failure's text. It is the TLS library's own
/// sentence, quoting the certificate's names, which are what to fix: an 80
/// character cap cut "certificate is only valid for ..." off before them.
pub(crate) const TLS_TEXT_CHARS: usize = 400;

/// Characters kept of a server's reason for a refusal.
pub(crate) const REASON_CHARS: usize = 200;

/// True for characters that must not reach a log line raw: controls (C0,
/// DEL, C1), line and paragraph separators, bidi controls and other
/// invisible format characters that can disguise text.
pub(crate) fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'              // Arabic letter mark
                | '\u{180E}'        // Mongolian vowel separator
                | '\u{200B}'..='\u{200F}' // zero-width characters, LRM, RLM
                | '\u{2028}'..='\u{202E}' // line/paragraph separators, bidi embeddings and overrides
                | '\u{2060}'..='\u{2069}' // word joiner, invisible operators, bidi isolates
                | '\u{FEFF}'        // zero-width no-break space
                | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation controls
        )
}

/// Displays a server-provided value escaped (`\u{202e}`) and capped at
/// [`SHOWN_CHARS`] characters, with `…` and the full length when cut.
/// Formats lazily: costs nothing unless written.
pub(crate) struct Shown<'a>(pub(crate) &'a str);

/// Like [`Shown`], capped at the given number of characters.
pub(crate) struct ShownUpTo<'a>(pub(crate) &'a str, pub(crate) usize);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ShownUpTo(self.0, SHOWN_CHARS).fmt(f)
    }
}

impl fmt::Display for ShownUpTo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, cap) = (self.0, self.1);
        // The common case (a short, clean id) is written in one piece.
        if s.len() <= cap && !s.chars().any(is_unsafe) {
            return f.write_str(s);
        }
        for (n, c) in s.chars().enumerate() {
            if n == cap {
                return write!(f, "…({} bytes)", s.len());
            }
            if is_unsafe(c) {
                write!(f, "\\u{{{:x}}}", u32::from(c))?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// The `Debug` form: quoted, with `"` and `\\` escaped as well, so a value
/// cannot close its quotes and forge the fields after it; capped the same way.
impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for (n, c) in self.0.chars().enumerate() {
            if n == SHOWN_CHARS {
                f.write_char('"')?;
                return write!(f, "…({} bytes)", self.0.len());
            }
            match c {
                '"' | '\\' => write!(f, "\\{c}")?,
                c if is_unsafe(c) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

/// A short reason for display: unsafe characters dropped (runs of
/// whitespace and controls become one space), trimmed, capped at
/// [`REASON_CHARS`] with `…`. `None` when nothing readable is left.
pub(crate) fn reason(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = 0;
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || is_unsafe(c) {
            // Separators and line breaks separate words; other format characters vanish.
            space |= c.is_whitespace() || c.is_control();
            continue;
        }
        let gap = space && !out.is_empty();
        // Room for the separating space too: counting it could step over the cap.
        if chars + usize::from(gap) + 1 > REASON_CHARS {
            out.push('…');
            break;
        }
        if gap {
            out.push(' ');
            chars += 1;
        }
        space = false;
        out.push(c);
        chars += 1;
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_and_caps() {
        assert_eq!(Shown("m-123").to_string(), "m-123");
        assert_eq!(
            Shown("a\u{2028}b\u{202e}c\nd\u{2066}\u{200f}\u{85}").to_string(),
            "a\\u{2028}b\\u{202e}c\\u{a}d\\u{2066}\\u{200f}\\u{85}"
        );
        let long = "é".repeat(1000);
        let shown = Shown(&long).to_string();
        assert!(shown.starts_with(&"é".repeat(SHOWN_CHARS)), "{shown}");
        assert!(shown.ends_with("…(2000 bytes)"), "{shown}");
        assert_eq!(
            shown.chars().count(),
            SHOWN_CHARS + "…(2000 bytes)".len() - 2
        );
        assert_eq!(
            Shown(&"x".repeat(SHOWN_CHARS)).to_string(),
            "x".repeat(SHOWN_CHARS)
        );
    }

    #[test]
    fn shown_debug_is_quoted_escaped_and_capped() {
        assert_eq!(format!("{:?}", Shown("m-123")), "\"m-123\"");
        assert_eq!(
            format!("{:?}", Shown("a\", x: \"\\\u{2028}")),
            r#""a\", x: \"\\\u{2028}""#
        );
        let long = format!("{:?}", Shown(&"y".repeat(1_000_000)));
        assert_eq!(
            long,
            format!("\"{}\"…(1000000 bytes)", "y".repeat(SHOWN_CHARS))
        );
    }

    #[test]
    fn reason_strips_and_caps() {
        assert_eq!(
            reason("  patient_id:\u{2028}patient\u{202e} not\r\nfound\t ").as_deref(),
            Some("patient_id: patient not found")
        );
        assert_eq!(reason(" \u{202e}\n "), None);
        let long = reason(&"y".repeat(1000)).unwrap();
        assert_eq!(long.chars().count(), REASON_CHARS + 1);
        assert!(long.ends_with('…'));
        assert_eq!(
            reason(&"z".repeat(REASON_CHARS)).unwrap().len(),
            REASON_CHARS
        );
        // One-letter words: the spaces count towards the cap as well.
        for words in ["a ".repeat(100_000), "ab ".repeat(100_000)] {
            let capped = reason(&words).unwrap();
            let n = capped.chars().count();
            assert!((REASON_CHARS..=REASON_CHARS + 1).contains(&n), "{n}");
            assert!(capped.ends_with('…'));
        }
        // The byte bound the C header states: 803 and the NUL.
        assert_eq!(reason(&"😀".repeat(1000)).unwrap().len(), 803);
    }
}
