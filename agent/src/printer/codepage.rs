//! The printer code pages receipts need, as tables of the upper half (0x80–0xFF; the lower
//! half is ASCII): CP852 (DOS Latin 2: Czech, Slovak, Polish, Hungarian) and CP858 (DOS Latin 1
//! with the euro sign: French and Western Europe). Written from the public code-page charts;
//! CP858 is CP850 with `€` at 0xD5. The ESC/POS numbers are those of Epson's `ESC t` table
//! (18 = PC852, 19 = PC858), which most receipt printers follow.
//!
//! A character the code page lacks is replaced by its letter without the accent (`ř` → `r`
//! in CP858), a plain punctuation (`–` → `-`, `…` → `...`, `€` → `EUR` in CP852) or `?`,
//! and reported, so the operator learns that the printer shows less than the receipt says.

/// A printer code page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodePage {
    /// DOS Latin 2 (IBM/Microsoft 852): Czech.
    Cp852,
    /// DOS Latin 1 with the euro sign (IBM 858): French.
    Cp858,
}

impl CodePage {
    /// Both code pages.
    pub const ALL: [CodePage; 2] = [CodePage::Cp852, CodePage::Cp858];

    /// The `n` of `ESC t n` that selects this page (Epson numbering).
    pub const fn escpos_number(self) -> u8 {
        match self {
            CodePage::Cp852 => 18,
            CodePage::Cp858 => 19,
        }
    }

    /// The page selected by `ESC t n`, if it is one of ours.
    pub fn from_escpos_number(n: u8) -> Option<Self> {
        CodePage::ALL.into_iter().find(|cp| cp.escpos_number() == n)
    }

    /// The page for a receipt language: CP852 for Czech, CP858 otherwise.
    pub fn for_lang(lang: ecrlink_core::receipt::Lang) -> Self {
        match lang {
            ecrlink_core::receipt::Lang::Cs => CodePage::Cp852,
            _ => CodePage::Cp858,
        }
    }

    /// The page that needs the fewest replacements for `text` (CP858 on a tie).
    pub fn best_for(text: &str) -> Self {
        let misses = |cp: CodePage| {
            text.chars()
                .filter(|&c| cp.encode_char(c).is_none())
                .count()
        };
        if misses(CodePage::Cp852) < misses(CodePage::Cp858) {
            CodePage::Cp852
        } else {
            CodePage::Cp858
        }
    }

    /// Name as printed in logs (`CP852`).
    pub const fn name(self) -> &'static str {
        match self {
            CodePage::Cp852 => "CP852",
            CodePage::Cp858 => "CP858",
        }
    }

    fn upper(self) -> &'static [char; 128] {
        match self {
            CodePage::Cp852 => &CP852,
            CodePage::Cp858 => &CP858,
        }
    }

    /// The byte of printable character `c` in this page (ASCII 0x20–0x7E as itself), `None`
    /// if the page lacks it or `c` is a control character.
    pub fn encode_char(self, c: char) -> Option<u8> {
        if (' '..='~').contains(&c) {
            return Some(c as u8);
        }
        let i = self.upper().iter().position(|&u| u == c)?;
        u8::try_from(0x80 + i).ok()
    }

    /// The character of byte `b` in this page; `None` for control bytes (below 0x20, 0x7F).
    pub fn decode_byte(self, b: u8) -> Option<char> {
        match b {
            0x20..=0x7E => Some(char::from(b)),
            0x80..=0xFF => self.upper().get(usize::from(b - 0x80)).copied(),
            _ => None,
        }
    }
}

/// Text converted to a code page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// The bytes: printable characters of the page and `\n` (LF); never another control byte.
    pub bytes: Vec<u8>,
    /// Every character that had to be replaced, once each, in order of first appearance.
    pub replaced: Vec<char>,
}

/// Converts `text` to `page`: `\n` stays, `\r` is dropped, other control characters become
/// spaces (and are reported), characters the page lacks get a replacement (and are reported).
pub fn encode(text: &str, page: CodePage) -> Encoded {
    let mut out = Encoded {
        bytes: Vec::with_capacity(text.len()),
        replaced: Vec::new(),
    };
    for c in text.chars() {
        if c == '\n' {
            out.bytes.push(b'\n');
            continue;
        }
        if c == '\r' {
            continue;
        }
        if let Some(b) = page.encode_char(c) {
            out.bytes.push(b);
            continue;
        }
        if !out.replaced.contains(&c) {
            out.replaced.push(c);
        }
        for r in fallback(c).chars() {
            out.bytes.push(page.encode_char(r).unwrap_or(b'?'));
        }
    }
    out
}

/// The stand-in for a character a page lacks: all ASCII.
fn fallback(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        return " ".into();
    }
    if let Some((_, base)) = STRIP.iter().find(|(k, _)| *k == c) {
        return base.to_string();
    }
    if let Some((_, s)) = OTHER.iter().find(|(k, _)| *k == c) {
        return (*s).into();
    }
    "?".into()
}

/// Letters and signs without a decomposition, and typographic punctuation.
const OTHER: &[(char, &str)] = &[
    ('ł', "l"),
    ('Ł', "L"),
    ('đ', "d"),
    ('Đ', "D"),
    ('ß', "ss"),
    ('œ', "oe"),
    ('Œ', "OE"),
    ('æ', "ae"),
    ('Æ', "AE"),
    ('ø', "o"),
    ('Ø', "O"),
    ('–', "-"),
    ('—', "-"),
    ('‐', "-"),
    ('‘', "'"),
    ('’', "'"),
    ('‚', ","),
    ('“', "\""),
    ('”', "\""),
    ('„', "\""),
    ('«', "\""),
    ('»', "\""),
    ('…', "..."),
    ('€', "EUR"),
    ('•', "*"),
    ('·', "."),
    ('°', "o"),
    ('×', "x"),
];

/// Latin letters (U+00C0–U+017F) with their base letter, from their Unicode canonical
/// decomposition.
const STRIP: &[(char, char)] = &[
    ('À', 'A'),
    ('Á', 'A'),
    ('Â', 'A'),
    ('Ã', 'A'),
    ('Ä', 'A'),
    ('Å', 'A'),
    ('Ç', 'C'),
    ('È', 'E'),
    ('É', 'E'),
    ('Ê', 'E'),
    ('Ë', 'E'),
    ('Ì', 'I'),
    ('Í', 'I'),
    ('Î', 'I'),
    ('Ï', 'I'),
    ('Ñ', 'N'),
    ('Ò', 'O'),
    ('Ó', 'O'),
    ('Ô', 'O'),
    ('Õ', 'O'),
    ('Ö', 'O'),
    ('Ù', 'U'),
    ('Ú', 'U'),
    ('Û', 'U'),
    ('Ü', 'U'),
    ('Ý', 'Y'),
    ('à', 'a'),
    ('á', 'a'),
    ('â', 'a'),
    ('ã', 'a'),
    ('ä', 'a'),
    ('å', 'a'),
    ('ç', 'c'),
    ('è', 'e'),
    ('é', 'e'),
    ('ê', 'e'),
    ('ë', 'e'),
    ('ì', 'i'),
    ('í', 'i'),
    ('î', 'i'),
    ('ï', 'i'),
    ('ñ', 'n'),
    ('ò', 'o'),
    ('ó', 'o'),
    ('ô', 'o'),
    ('õ', 'o'),
    ('ö', 'o'),
    ('ù', 'u'),
    ('ú', 'u'),
    ('û', 'u'),
    ('ü', 'u'),
    ('ý', 'y'),
    ('ÿ', 'y'),
    ('Ā', 'A'),
    ('ā', 'a'),
    ('Ă', 'A'),
    ('ă', 'a'),
    ('Ą', 'A'),
    ('ą', 'a'),
    ('Ć', 'C'),
    ('ć', 'c'),
    ('Ĉ', 'C'),
    ('ĉ', 'c'),
    ('Ċ', 'C'),
    ('ċ', 'c'),
    ('Č', 'C'),
    ('č', 'c'),
    ('Ď', 'D'),
    ('ď', 'd'),
    ('Ē', 'E'),
    ('ē', 'e'),
    ('Ĕ', 'E'),
    ('ĕ', 'e'),
    ('Ė', 'E'),
    ('ė', 'e'),
    ('Ę', 'E'),
    ('ę', 'e'),
    ('Ě', 'E'),
    ('ě', 'e'),
    ('Ĝ', 'G'),
    ('ĝ', 'g'),
    ('Ğ', 'G'),
    ('ğ', 'g'),
    ('Ġ', 'G'),
    ('ġ', 'g'),
    ('Ģ', 'G'),
    ('ģ', 'g'),
    ('Ĥ', 'H'),
    ('ĥ', 'h'),
    ('Ĩ', 'I'),
    ('ĩ', 'i'),
    ('Ī', 'I'),
    ('ī', 'i'),
    ('Ĭ', 'I'),
    ('ĭ', 'i'),
    ('Į', 'I'),
    ('į', 'i'),
    ('İ', 'I'),
    ('Ĵ', 'J'),
    ('ĵ', 'j'),
    ('Ķ', 'K'),
    ('ķ', 'k'),
    ('Ĺ', 'L'),
    ('ĺ', 'l'),
    ('Ļ', 'L'),
    ('ļ', 'l'),
    ('Ľ', 'L'),
    ('ľ', 'l'),
    ('Ń', 'N'),
    ('ń', 'n'),
    ('Ņ', 'N'),
    ('ņ', 'n'),
    ('Ň', 'N'),
    ('ň', 'n'),
    ('Ō', 'O'),
    ('ō', 'o'),
    ('Ŏ', 'O'),
    ('ŏ', 'o'),
    ('Ő', 'O'),
    ('ő', 'o'),
    ('Ŕ', 'R'),
    ('ŕ', 'r'),
    ('Ŗ', 'R'),
    ('ŗ', 'r'),
    ('Ř', 'R'),
    ('ř', 'r'),
    ('Ś', 'S'),
    ('ś', 's'),
    ('Ŝ', 'S'),
    ('ŝ', 's'),
    ('Ş', 'S'),
    ('ş', 's'),
    ('Š', 'S'),
    ('š', 's'),
    ('Ţ', 'T'),
    ('ţ', 't'),
    ('Ť', 'T'),
    ('ť', 't'),
    ('Ũ', 'U'),
    ('ũ', 'u'),
    ('Ū', 'U'),
    ('ū', 'u'),
    ('Ŭ', 'U'),
    ('ŭ', 'u'),
    ('Ů', 'U'),
    ('ů', 'u'),
    ('Ű', 'U'),
    ('ű', 'u'),
    ('Ų', 'U'),
    ('ų', 'u'),
    ('Ŵ', 'W'),
    ('ŵ', 'w'),
    ('Ŷ', 'Y'),
    ('ŷ', 'y'),
    ('Ÿ', 'Y'),
    ('Ź', 'Z'),
    ('ź', 'z'),
    ('Ż', 'Z'),
    ('ż', 'z'),
    ('Ž', 'Z'),
    ('ž', 'z'),
];

const CP852: [char; 128] = [
    // 0x80
    'Ç', 'ü', 'é', 'â', 'ä', 'ů', 'ć', 'ç', 'ł', 'ë', 'Ő', 'ő', 'î', 'Ź', 'Ä', 'Ć',
    // 0x90
    'É', 'Ĺ', 'ĺ', 'ô', 'ö', 'Ľ', 'ľ', 'Ś', 'ś', 'Ö', 'Ü', 'Ť', 'ť', 'Ł', '×', 'č',
    // 0xA0
    'á', 'í', 'ó', 'ú', 'Ą', 'ą', 'Ž', 'ž', 'Ę', 'ę', '¬', 'ź', 'Č', 'ş', '«', '»',
    // 0xB0
    '░', '▒', '▓', '│', '┤', 'Á', 'Â', 'Ě', 'Ş', '╣', '║', '╗', '╝', 'Ż', 'ż', '┐',
    // 0xC0
    '└', '┴', '┬', '├', '─', '┼', 'Ă', 'ă', '╚', '╔', '╩', '╦', '╠', '═', '╬', '¤',
    // 0xD0
    'đ', 'Đ', 'Ď', 'Ë', 'ď', 'Ň', 'Í', 'Î', 'ě', '┘', '┌', '█', '▄', 'Ţ', 'Ů', '▀',
    // 0xE0
    'Ó', 'ß', 'Ô', 'Ń', 'ń', 'ň', 'Š', 'š', 'Ŕ', 'Ú', 'ŕ', 'Ű', 'ý', 'Ý', 'ţ', '´',
    // 0xF0
    '\u{00AD}', '˝', '˛', 'ˇ', '˘', '§', '÷', '¸', '°', '¨', '˙', 'ű', 'Ř', 'ř', '■', '\u{00A0}',
];

const CP858: [char; 128] = [
    // 0x80
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å',
    // 0x90
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', 'ø', '£', 'Ø', '×', 'ƒ',
    // 0xA0
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', '®', '¬', '½', '¼', '¡', '«', '»',
    // 0xB0
    '░', '▒', '▓', '│', '┤', 'Á', 'Â', 'À', '©', '╣', '║', '╗', '╝', '¢', '¥', '┐',
    // 0xC0
    '└', '┴', '┬', '├', '─', '┼', 'ã', 'Ã', '╚', '╔', '╩', '╦', '╠', '═', '╬', '¤',
    // 0xD0
    'ð', 'Ð', 'Ê', 'Ë', 'È', '€', 'Í', 'Î', 'Ï', '┘', '┌', '█', '▄', '¦', 'Ì', '▀',
    // 0xE0
    'Ó', 'ß', 'Ô', 'Ò', 'õ', 'Õ', 'µ', 'þ', 'Þ', 'Ú', 'Û', 'Ù', 'ý', 'Ý', '¯', '´',
    // 0xF0
    '\u{00AD}', '±', '‗', '¾', '¶', '§', '÷', '¸', '°', '¨', '·', '¹', '³', '²', '■', '\u{00A0}',
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn czech_and_french_letters_are_where_the_charts_put_them() {
        // CP852 (DOS Latin 2)
        for (c, b) in [
            ('č', 0x9F),
            ('Č', 0xAC),
            ('ě', 0xD8),
            ('Ě', 0xB7),
            ('ř', 0xFD),
            ('Ř', 0xFC),
            ('š', 0xE7),
            ('Š', 0xE6),
            ('ž', 0xA7),
            ('Ž', 0xA6),
            ('ů', 0x85),
            ('Ů', 0xDE),
            ('ý', 0xEC),
            ('á', 0xA0),
            ('í', 0xA1),
            ('é', 0x82),
            ('ú', 0xA3),
            ('ó', 0xA2),
            ('ď', 0xD4),
            ('ť', 0x9C),
            ('ň', 0xE5),
            ('Í', 0xD6),
            ('Á', 0xB5),
            ('É', 0x90),
        ] {
            assert_eq!(CodePage::Cp852.encode_char(c), Some(b), "{c}");
            assert_eq!(CodePage::Cp852.decode_byte(b), Some(c));
        }
        // CP858 (DOS Latin 1 + euro)
        for (c, b) in [
            ('é', 0x82),
            ('è', 0x8A),
            ('ê', 0x88),
            ('à', 0x85),
            ('ç', 0x87),
            ('Ç', 0x80),
            ('ô', 0x93),
            ('û', 0x96),
            ('ù', 0x97),
            ('î', 0x8C),
            ('ï', 0x8B),
            ('É', 0x90),
            ('È', 0xD4),
            ('Ô', 0xE2),
            ('°', 0xF8),
            ('€', 0xD5),
        ] {
            assert_eq!(CodePage::Cp858.encode_char(c), Some(b), "{c}");
            assert_eq!(CodePage::Cp858.decode_byte(b), Some(c));
        }
    }

    #[test]
    fn tables_are_one_to_one() {
        for cp in CodePage::ALL {
            for b in 0x20..=0xFFu8 {
                if let Some(c) = cp.decode_byte(b) {
                    assert_eq!(cp.encode_char(c), Some(b), "{cp:?} {b:02X}");
                }
            }
            assert_eq!(cp.decode_byte(0x1B), None);
            assert_eq!(cp.encode_char('\u{1b}'), None);
            assert_eq!(CodePage::from_escpos_number(cp.escpos_number()), Some(cp));
        }
    }

    #[test]
    fn missing_characters_are_replaced_and_reported() {
        let e = encode("Příliš – 5 €", CodePage::Cp858);
        assert_eq!(e.bytes, b"Pr\xa1lis - 5 \xd5".to_vec());
        assert_eq!(e.replaced, vec!['ř', 'š', '–']);
        let e = encode("Crème brûlée à 5 €", CodePage::Cp852);
        assert_eq!(e.replaced, vec!['è', 'û', 'à', '€']);
        assert_eq!(e.bytes, b"Creme brul\x82e a 5 EUR".to_vec());
        let e = encode("a\u{1b}b\r\nc\u{4e2d}", CodePage::Cp852);
        assert_eq!(e.bytes, b"a b\nc?".to_vec());
        assert_eq!(e.replaced, vec!['\u{1b}', '\u{4e2d}']);
    }

    #[test]
    fn the_best_page_follows_the_text() {
        assert_eq!(
            CodePage::best_for("Uschovejte si prosím doklad, děkujeme"),
            CodePage::Cp852
        );
        assert_eq!(
            CodePage::best_for("Ticket à conserver, merci"),
            CodePage::Cp858
        );
        assert_eq!(CodePage::best_for("plain"), CodePage::Cp858);
    }
}
