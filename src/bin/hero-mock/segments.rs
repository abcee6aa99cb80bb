//! How many SMS segments a text takes, as a phone network would count it
//! (3GPP TS 23.038 alphabets, TS 23.040 concatenation).
//!
//! A text whose every character is in the GSM 7-bit default alphabet (basic
//! set, or extension table at two septets each) goes as GSM-7: one SMS holds
//! 160 septets, a part of a longer one 153. Any other character makes the
//! whole text UCS-2: 70 UTF-16 code units, or 67 per part. Parts never split
//! an escape sequence or a surrogate pair, so a part may carry one unit less.

use serde_json::{Value, json};

/// The GSM 7-bit default alphabet's basic set (one septet each), in table
/// order; `\u{1b}` (escape) is excluded because it cannot be sent on its own.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table: escape plus one septet, so two each.
const EXTENSION: &str = "\u{c}^{}\\[~]|€";

#[derive(Debug, PartialEq, Eq)]
pub struct Segments {
    pub gsm7: bool,
    /// Unicode scalar values, what a person would call characters.
    pub characters: usize,
    /// Septets for GSM-7, UTF-16 code units for UCS-2.
    pub units: usize,
    pub segments: usize,
}

impl Segments {
    pub fn to_json(&self) -> Value {
        let (encoding, single, part) = if self.gsm7 {
            ("GSM-7", 160, 153)
        } else {
            ("UCS-2", 70, 67)
        };
        json!({
            "encoding": encoding,
            "characters": self.characters,
            "units": self.units,
            "segments": self.segments,
            "single_limit": single,
            "part_limit": part,
        })
    }
}

/// Units each character takes in GSM-7, or `None` when it has no GSM-7 form.
fn septets(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

pub fn count(text: &str) -> Segments {
    let gsm7: Option<Vec<usize>> = text.chars().map(septets).collect();
    let (gsm7, sizes, single, part) = match gsm7 {
        Some(sizes) => (true, sizes, 160, 153),
        None => (false, text.chars().map(char::len_utf16).collect(), 70, 67),
    };
    let units = sizes.iter().sum();
    let segments = if units <= single {
        1
    } else {
        // Fill each part greedily; a character that does not fit whole
        // starts the next part.
        let (mut parts, mut used) = (1, 0);
        for size in sizes {
            if used + size > part {
                parts += 1;
                used = 0;
            }
            used += size;
        }
        parts
    };
    Segments {
        gsm7,
        characters: text.chars().count(),
        units,
        segments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(text: &str) -> (bool, usize, usize) {
        let s = count(text);
        (s.gsm7, s.units, s.segments)
    }

    #[test]
    fn gsm7_limits() {
        assert_eq!(summary("Hello"), (true, 5, 1));
        assert_eq!(summary(&"a".repeat(160)), (true, 160, 1));
        assert_eq!(summary(&"a".repeat(161)), (true, 161, 2));
        assert_eq!(summary(&"a".repeat(306)), (true, 306, 2));
        assert_eq!(summary(&"a".repeat(307)), (true, 307, 3));
    }

    #[test]
    fn extension_characters_take_two_septets() {
        assert_eq!(summary("€"), (true, 2, 1));
        assert_eq!(summary(&"€".repeat(80)), (true, 160, 1));
        assert_eq!(summary(&"€".repeat(81)), (true, 162, 2));
        // 152 plain septets then an escape pair: the pair may not be split,
        // so it moves to part two.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        assert_eq!(count(&text).segments, 2);
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(summary(&text), (true, 306, 3));
    }

    #[test]
    fn whole_basic_set_is_gsm7() {
        assert!(count(BASIC).gsm7);
        assert_eq!(count(BASIC).units, BASIC.chars().count());
        assert_eq!(BASIC.chars().count() + EXTENSION.chars().count(), 127 + 10);
    }

    #[test]
    fn anything_else_is_ucs2() {
        // ç (lower case) is not in the basic set, only Ç is.
        assert_eq!(summary("ç"), (false, 1, 1));
        assert_eq!(summary("’"), (false, 1, 1));
        assert_eq!(summary(&"ü".repeat(200)), (true, 200, 2));
        assert_eq!(summary(&format!("{}é", "ж".repeat(69))), (false, 70, 1));
        assert_eq!(summary(&"ж".repeat(71)), (false, 71, 2));
        assert_eq!(summary(&"ж".repeat(134)), (false, 134, 2));
        assert_eq!(summary(&"ж".repeat(135)), (false, 135, 3));
    }

    #[test]
    fn ucs2_counts_utf16_units_and_keeps_pairs_whole() {
        let s = count("😀");
        assert_eq!(
            (s.gsm7, s.characters, s.units, s.segments),
            (false, 1, 2, 1)
        );
        assert_eq!(summary(&"😀".repeat(35)), (false, 70, 1));
        // 66 units then a pair: the pair cannot be split across parts.
        let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(10));
        assert_eq!(summary(&text), (false, 78, 2));
        let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(66));
        assert_eq!(summary(&text), (false, 134, 3));
    }

    #[test]
    fn json_shape() {
        let v = count("€uro").to_json();
        assert_eq!(v["encoding"], "GSM-7");
        assert_eq!(v["characters"], 4);
        assert_eq!(v["units"], 5);
        assert_eq!(v["segments"], 1);
    }
}
