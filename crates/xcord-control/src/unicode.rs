//! Invisible text: Unicode's default-ignorable code points (characters that render as nothing,
//! such as zero-width spaces, Hangul fillers and variation selectors) and the bidirectional
//! controls that reorder what follows them. Names must not hide behind them and content made
//! only of them is blank. A leaf module (the validators of every domain read it).
//!
//! The table is `Default_Ignorable_Code_Point` from the Unicode Character Database
//! (`DerivedCoreProperties.txt`, Unicode 16.0), unassigned code points in reserved ranges
//! included, as the property does.

/// `Default_Ignorable_Code_Point` ranges, sorted, inclusive.
const DEFAULT_IGNORABLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),   // soft hyphen
    (0x034F, 0x034F),   // combining grapheme joiner
    (0x061C, 0x061C),   // Arabic letter mark
    (0x115F, 0x1160),   // Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),   // Khmer inherent vowels
    (0x180B, 0x180F),   // Mongolian variation selectors and vowel separator
    (0x200B, 0x200F),   // zero-width space, non-joiner, joiner, LRM, RLM
    (0x202A, 0x202E),   // bidi embeddings and overrides
    (0x2060, 0x206F),   // word joiner, invisible operators, bidi isolates, deprecated formats
    (0x3164, 0x3164),   // Hangul filler
    (0xFE00, 0xFE0F),   // variation selectors 1–16
    (0xFEFF, 0xFEFF),   // zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0),   // halfwidth Hangul filler
    (0xFFF0, 0xFFF8),   // reserved
    (0x1BCA0, 0x1BCA3), // shorthand format controls
    (0x1D173, 0x1D17A), // musical symbol formatting
    (0xE0000, 0xE0FFF), // tags, variation selectors 17–256, reserved
];

const ZERO_WIDTH_JOINER: char = '\u{200D}';

/// Whether `c` has Unicode's `Default_Ignorable_Code_Point` property.
pub fn is_default_ignorable(c: char) -> bool {
    let c = u32::from(c);
    DEFAULT_IGNORABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Whether `c` is a bidirectional formatting control: the marks (U+200E, U+200F, U+061C), the
/// embeddings and overrides (U+202A–U+202E) and the isolates (U+2066–U+2069).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `s` shows nothing: only white space and default-ignorable code points.
pub fn is_blank(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_whitespace() || is_default_ignorable(c))
}

fn is_visible(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && !is_default_ignorable(c)
}

fn is_emoji_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE0E}' | '\u{FE0F}')
}

/// Why `name` is not a visible name, or `None` when it is. A name must show something, and
/// has no bidirectional controls and no invisible characters, except those emoji need: a
/// text/emoji variation selector (U+FE0E, U+FE0F) right after a visible character, and a
/// zero-width joiner between two (the selector allowed before it), as in 🏳️‍🌈.
pub fn name_problem(name: &str) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    if let Some(&c) = chars.iter().find(|&&c| is_bidi_control(c)) {
        return Some(format!(
            "must not contain bidirectional control characters (U+{:04X})",
            u32::from(c)
        ));
    }
    if is_blank(name) {
        return Some("must contain a visible character".into());
    }
    for (i, &c) in chars.iter().enumerate() {
        if !is_default_ignorable(c) {
            continue;
        }
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let allowed = if is_emoji_variation_selector(c) {
            prev.is_some_and(is_visible)
        } else if c == ZERO_WIDTH_JOINER {
            let before = match prev {
                Some(p) if is_emoji_variation_selector(p) => {
                    i.checked_sub(2).and_then(|q| chars.get(q)).copied()
                }
                other => other,
            };
            before.is_some_and(is_visible) && chars.get(i + 1).copied().is_some_and(is_visible)
        } else {
            false
        };
        if !allowed {
            return Some(format!(
                "must not contain invisible characters (U+{:04X})",
                u32::from(c)
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_disjoint() {
        for pair in DEFAULT_IGNORABLE.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    fn default_ignorables_at_the_edges_of_their_ranges() {
        for c in [
            '\u{00AD}',
            '\u{115F}',
            '\u{1160}',
            '\u{200B}',
            '\u{200F}',
            '\u{2060}',
            '\u{206F}',
            '\u{3164}',
            '\u{FE00}',
            '\u{FE0F}',
            '\u{FEFF}',
            '\u{FFA0}',
            '\u{1D173}',
            '\u{E0001}',
            '\u{E0FFF}',
        ] {
            assert!(is_default_ignorable(c), "U+{:04X}", u32::from(c));
        }
        for c in [
            'a',
            ' ',
            'é',
            '\u{00AC}',
            '\u{00AE}',
            '\u{115E}',
            '\u{1161}',
            '\u{200A}',
            '\u{2010}',
            '\u{205F}',
            '\u{2070}',
            '\u{FE10}',
            '\u{E1000}',
            '😀',
        ] {
            assert!(!is_default_ignorable(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn bidi_controls() {
        for c in [
            '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}',
        ] {
            assert!(is_bidi_control(c));
        }
        assert!(!is_bidi_control('\u{200D}'));
        assert!(!is_bidi_control('\u{2065}'));
        assert!(!is_bidi_control('\u{206A}'));
    }

    #[test]
    fn blank_is_white_space_and_invisible_characters() {
        assert!(is_blank(""));
        assert!(is_blank(" \u{200B}\u{200B}\n\u{3164}\u{FEFF}"));
        assert!(!is_blank("\u{200B}a"));
    }

    #[test]
    fn names() {
        assert_eq!(name_problem("Alice"), None);
        assert_eq!(name_problem("Zoë 😀"), None);
        // emoji sequences keep their joiners and selectors
        assert_eq!(name_problem("❤️"), None);
        assert_eq!(name_problem("👩‍💻 dev"), None);
        assert_eq!(name_problem("🏳️‍🌈"), None);
        assert_eq!(
            name_problem("\u{200B}\u{200B}").as_deref(),
            Some("must contain a visible character")
        );
        assert_eq!(
            name_problem("\u{3164}").as_deref(),
            Some("must contain a visible character")
        );
        assert_eq!(
            name_problem("admin\u{200B}").as_deref(),
            Some("must not contain invisible characters (U+200B)")
        );
        assert_eq!(
            name_problem("a\u{200D}").as_deref(),
            Some("must not contain invisible characters (U+200D)")
        );
        assert_eq!(
            name_problem("\u{FE0F}a").as_deref(),
            Some("must not contain invisible characters (U+FE0F)")
        );
        assert_eq!(
            name_problem("a\u{200D}\u{200D}b").as_deref(),
            Some("must not contain invisible characters (U+200D)")
        );
        assert_eq!(
            name_problem("evil\u{202E}gnp.exe").as_deref(),
            Some("must not contain bidirectional control characters (U+202E)")
        );
        assert_eq!(
            name_problem("a\u{2066}b").as_deref(),
            Some("must not contain bidirectional control characters (U+2066)")
        );
    }
}
