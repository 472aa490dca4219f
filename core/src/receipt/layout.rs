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
        for _ in 0..self.width {
            self.out.write_char(c)?;
        }
        self.out.write_char('\n')?;
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
            for nibble in [b >> 4, b & 0x0F] {
                let digit = char::from_digit(u32::from(nibble), 16).unwrap_or('0');
                cell.write_char(digit.to_ascii_uppercase()).map_err(full)?;
            }
        }
        Ok(cell)
    }
}

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
