//! Line layout at a fixed number of columns: word wrapping (hard split of a word longer than a
//! line), left / centred / right alignment and label–value rows. Widths are counted in
//! characters (`char`s), never bytes, so `č` or `é` take one column like `c`.
//!
//! Every line written here has at most `width` characters and no trailing spaces; control
//! characters in caller text are printed as spaces so they cannot break the line accounting.

use core::fmt::{self, Write};

use crate::{Error, Result};

/// Number of characters (columns) of `s`.
pub(crate) fn columns(s: &str) -> usize {
    s.chars().count()
}

/// Whether byte `b` of UTF-8 text may belong to a control character: C0 controls and DEL are
/// single bytes, and C1 controls (U+0080–U+009F) start with the lead byte `0xC2`. A text
/// without such bytes has no control character and is written as it is.
fn may_be_control(b: u8) -> bool {
    b < 0x20 || b == 0x7F || b == 0xC2
}

/// Splits one paragraph (no `\n`) into lines of at most `width` characters, breaking at
/// whitespace where possible and hard-splitting a single word longer than a line.
/// Lines come out without leading or trailing whitespace; whitespace-only input yields nothing.
pub(crate) struct Wrap<'a> {
    rest: &'a str,
    width: usize,
}

impl<'a> Wrap<'a> {
    /// Wraps `paragraph` at `width` columns (`width` ≥ 1; zero yields nothing).
    pub(crate) fn new(paragraph: &'a str, width: usize) -> Self {
        Wrap {
            rest: paragraph,
            width,
        }
    }
}

impl<'a> Iterator for Wrap<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest.trim_start_matches(char::is_whitespace);
        if s.is_empty() || self.width == 0 {
            self.rest = "";
            return None;
        }
        if s.len() <= self.width {
            // No more bytes than columns: no more characters either, the rest is one line.
            self.rest = "";
            return Some(s.trim_end_matches(char::is_whitespace));
        }
        let mut last_break: Option<usize> = None;
        let mut cut: Option<usize> = None;
        for (count, (i, c)) in s.char_indices().enumerate() {
            if c.is_whitespace() {
                last_break = Some(i);
            }
            if count == self.width {
                // `c` would be one column too many.
                cut = Some(if c.is_whitespace() {
                    i
                } else {
                    last_break.unwrap_or(i)
                });
                break;
            }
        }
        let (line, rest) = match cut {
            Some(at) => s.split_at_checked(at).unwrap_or((s, "")),
            None => (s, ""),
        };
        self.rest = rest;
        Some(line.trim_end_matches(char::is_whitespace))
    }
}

/// Text alignment inside a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
    Right,
}

/// A line writer over any [`fmt::Write`] at a fixed width.
pub(crate) struct Lines<'w, W: Write> {
    out: &'w mut W,
    width: usize,
}

impl<'w, W: Write> Lines<'w, W> {
    /// Writes to `out`, `width` columns per line.
    pub(crate) fn new(out: &'w mut W, width: usize) -> Self {
        Lines { out, width }
    }

    /// `n` spaces, a slice of them per write rather than a write per space.
    fn spaces(&mut self, mut n: usize) -> fmt::Result {
        const SPACES: &str = "                                                ";
        while n > 0 {
            let k = n.min(SPACES.len());
            self.out.write_str(SPACES.get(..k).unwrap_or_default())?;
            n -= k;
        }
        Ok(())
    }

    /// Writes `s` (already at most `width` columns) with control characters as spaces: the
    /// runs between control characters in one write each.
    fn clean(&mut self, s: &str) -> fmt::Result {
        if !s.bytes().any(may_be_control) {
            return self.out.write_str(s);
        }
        for (i, run) in s.split(char::is_control).enumerate() {
            if i > 0 {
                self.out.write_char(' ')?;
            }
            self.out.write_str(run)?;
        }
        Ok(())
    }

    /// One line holding `s` (at most `width` columns) aligned as asked.
    fn aligned(&mut self, s: &str, align: Align) -> Result<()> {
        let free = self.width.saturating_sub(columns(s));
        let pad = match align {
            Align::Left => 0,
            Align::Center => free / 2,
            Align::Right => free,
        };
        self.spaces(pad)?;
        self.clean(s)?;
        self.out.write_char('\n')?;
        Ok(())
    }

    /// An empty line.
    pub(crate) fn blank(&mut self) -> Result<()> {
        self.out.write_char('\n')?;
        Ok(())
    }

    /// A full-width line of `c`.
    pub(crate) fn rule(&mut self, c: char) -> Result<()> {
        const EQUALS: &str = "================================================\n";
        const DASHES: &str = "------------------------------------------------\n";
        let full = match c {
            '=' => EQUALS,
            '-' => DASHES,
            _ => "",
        };
        // The last `width` characters and the line end: one write.
        match full.get(full.len().saturating_sub(self.width + 1)..) {
            Some(line) if !full.is_empty() && line.len() == self.width + 1 => {
                self.out.write_str(line)?;
            }
            _ => {
                for _ in 0..self.width {
                    self.out.write_char(c)?;
                }
                self.out.write_char('\n')?;
            }
        }
        Ok(())
    }

    /// `text` wrapped and aligned; `\n` in `text` starts a new line; empty lines are dropped.
    pub(crate) fn text(&mut self, text: &str, align: Align) -> Result<()> {
        for paragraph in text.split('\n') {
            for line in Wrap::new(paragraph, self.width) {
                self.aligned(line, align)?;
            }
        }
        Ok(())
    }

    /// A label on the left and a value on the right of one line; when both do not fit with a
    /// space between them, the label (wrapped) comes first and the value (wrapped,
    /// right-aligned) below it.
    pub(crate) fn pair(&mut self, label: &str, value: &str) -> Result<()> {
        let label = label.trim();
        let value = value.trim();
        let (l, v) = (columns(label), columns(value));
        let one_line = !label.contains('\n') && !value.contains('\n');
        if one_line && l + 1 + v <= self.width {
            self.clean(label)?;
            self.spaces(self.width - l - v)?;
            self.clean(value)?;
            self.out.write_char('\n')?;
            return Ok(());
        }
        self.text(label, Align::Left)?;
        self.text(value, Align::Right)
    }

    /// Two texts on one line, one flush left and one flush right (e.g. date and time); as
    /// [`Lines::pair`] when they do not fit.
    pub(crate) fn split(&mut self, left: &str, right: &str) -> Result<()> {
        self.pair(left, right)
    }
}

/// A [`fmt::Write`] over a fixed stack buffer, for formatting one value (an amount, a date)
/// before it is laid out. Overflow is [`Error::CapacityExceeded`], never truncation.
pub(crate) struct Cell<const N: usize> {
    buf: heapless::String<N>,
}

impl<const N: usize> Cell<N> {
    /// An empty cell.
    pub(crate) fn new() -> Self {
        Cell {
            buf: heapless::String::new(),
        }
    }

    /// The text so far.
    pub(crate) fn as_str(&self) -> &str {
        &self.buf
    }

    /// Formats `args` into a new cell.
    pub(crate) fn format(args: fmt::Arguments<'_>) -> Result<Self> {
        let mut cell = Self::new();
        cell.write_fmt(args).map_err(|_| Error::CapacityExceeded {
            what: "receipt cell",
        })?;
        Ok(cell)
    }
}

impl<const N: usize> Cell<N> {
    /// `bytes` in upper-case hex. A value longer than [`GROUP_ABOVE`] bytes is split by spaces
    /// after `first` bytes and then every `every` bytes (so it wraps at group boundaries and
    /// never forms a long run of digits); past `max` bytes it ends with `…`.
    pub(crate) fn hex(bytes: &[u8], first: usize, every: usize, max: usize) -> Result<Self> {
        let full = |_| Error::CapacityExceeded {
            what: "receipt cell",
        };
        let mut cell = Self::new();
        let grouped = bytes.len() > GROUP_ABOVE;
        for (i, b) in bytes.iter().enumerate() {
            if i >= max {
                cell.write_char('…').map_err(full)?;
                break;
            }
            let boundary = i == first || (i > first && every > 0 && (i - first) % every == 0);
            if grouped && i > 0 && boundary {
                cell.write_char(' ').map_err(full)?;
            }
            // Two digits without the formatting machinery (a receipt prints dozens).
            let digits = HEX_PAIRS
                .get(usize::from(*b) * 2..usize::from(*b) * 2 + 2)
                .unwrap_or("00");
            cell.write_str(digits).map_err(full)?;
        }
        Ok(cell)
    }
}

/// `00` to `FF`, two upper-case digits per byte value.
const HEX_PAIRS: &str = concat!(
    "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
    "202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F",
    "404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F",
    "606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F",
    "808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9F",
    "A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF",
    "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF",
    "E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF",
);

/// Hex values up to this many bytes print as one word (TVR, TSI, ATC, ARC).
pub(crate) const GROUP_ABOVE: usize = 6;

impl<const N: usize> Write for Cell<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.buf.push_str(s).map_err(|_| fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    fn wrap(s: &str, w: usize) -> Vec<&str> {
        Wrap::new(s, w).collect()
    }

    #[test]
    fn wraps_at_word_boundaries() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("aa bb cc", 4), ["aa", "bb", "cc"]);
        assert_eq!(wrap("  aa   bb  ", 10), ["aa   bb"]);
        assert_eq!(wrap("", 4), Vec::<&str>::new());
        assert_eq!(wrap("   ", 4), Vec::<&str>::new());
        assert_eq!(wrap("abcd", 4), ["abcd"]);
        assert_eq!(wrap("abcd e", 4), ["abcd", "e"]);
    }

    #[test]
    fn hard_splits_a_long_word() {
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("ab cdefghij", 4), ["ab", "cdef", "ghij"]);
    }

    #[test]
    fn counts_characters_not_bytes() {
        // 5 characters, 10 bytes: fits in 5 columns.
        assert_eq!(wrap("žluťoučký kůň", 9), ["žluťoučký", "kůň"]);
        assert_eq!(wrap("éééééé", 3), ["ééé", "ééé"]);
    }

    #[test]
    fn lines_never_exceed_width() {
        let mut out = String::new();
        let mut lines = Lines::new(&mut out, 24);
        lines
            .pair("Variabilní symbol", "ABCDEFGHIJKLMNOPQRST")
            .unwrap();
        lines.pair("Částka", "12,50 CZK").unwrap();
        lines
            .text("Příliš žluťoučký kůň úpěl ďábelské ódy", Align::Center)
            .unwrap();
        lines.text("tab\there", Align::Left).unwrap();
        assert_eq!(
            out,
            concat!(
                "Variabilní symbol\n",
                "    ABCDEFGHIJKLMNOPQRST\n",
                "Částka         12,50 CZK\n",
                "  Příliš žluťoučký kůň\n",
                "   úpěl ďábelské ódy\n",
                "tab here\n"
            )
        );
        for line in out.lines() {
            assert!(columns(line) <= 24, "{line}");
        }
    }

    #[test]
    fn fast_paths_match_the_general_ones() {
        // Rules of every width for the two fast characters and another one.
        for width in [1, 24, 32, 42, 48, 49, 60] {
            for c in ['=', '-', '*', 'é'] {
                let mut out = String::new();
                Lines::new(&mut out, width).rule(c).unwrap();
                let want: String = core::iter::repeat_n(c, width).chain(['\n']).collect();
                assert_eq!(out, want, "width {width} char {c:?}");
            }
        }
        // Control characters (C0, DEL, C1) print as spaces; text without them as it is.
        for (input, want) in [
            ("plain text", "plain text\n"),
            ("a\tb\x7fc", "a b c\n"),
            ("x\u{85}y\u{9f}z", "x y z\n"),
            ("čáslav ¢ ÿ", "čáslav ¢ ÿ\n"),
        ] {
            let mut out = String::new();
            Lines::new(&mut out, 48).text(input, Align::Left).unwrap();
            assert_eq!(out, want, "{input:?}");
        }
        // A paragraph as long in bytes as the width is one line; one byte more wraps.
        assert_eq!(wrap("abcd", 4), ["abcd"]);
        assert_eq!(wrap("abcd ", 4), ["abcd"]);
        assert_eq!(wrap("ab cde", 5), ["ab", "cde"]);
        // Every byte value in hex, against the formatting machinery.
        let all: Vec<u8> = (0..=255).collect();
        for chunk in all.chunks(4) {
            let cell = Cell::<16>::hex(chunk, 4, 4, 4).unwrap();
            let want: String = chunk.iter().map(|b| std::format!("{b:02X}")).collect();
            assert_eq!(cell.as_str(), want);
        }
    }

    #[test]
    fn cell_overflow_is_an_error() {
        assert!(Cell::<4>::format(format_args!("{}", 12345)).is_err());
        assert_eq!(
            Cell::<8>::format(format_args!("{}", 12345))
                .unwrap()
                .as_str(),
            "12345"
        );
    }
}
