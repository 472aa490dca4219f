//! A safe, readable rendering of TLV data for logs and receipts.

use core::fmt::{self, Write};

use super::receipt::printable;
use super::{Tag, Tlv, walk};
use crate::Result;
use crate::txn::Pan;

/// The value of one object as it may be shown: upper-case hex; text tags (application label,
/// preferred name, …) as their text when printable; the PAN (`5A`) masked to first 6 / last 4;
/// track data (`56`, `57`, `9F1F`, `9F20`, `9F6B`) never shown — `57` and `9F6B` show only the
/// masked PAN they start with.
#[derive(Clone, Copy, Debug)]
pub struct ValueDisplay<'a> {
    /// The tag, which decides the rendering.
    pub tag: Tag,
    /// The value bytes.
    pub value: &'a [u8],
}

impl<'a> ValueDisplay<'a> {
    /// The rendering of `tlv`'s value.
    pub fn new(tlv: &Tlv<'a>) -> Self {
        ValueDisplay {
            tag: tlv.tag,
            value: tlv.value,
        }
    }
}

/// The PAN digits at the start of BCD data (`5A`: padded with `F`; `57`: ended by `D`), as a
/// checked [`Pan`].
fn bcd_pan(value: &[u8]) -> Option<Pan> {
    let mut digits = [0u8; 19];
    let mut n = 0;
    for nibble in value.iter().flat_map(|b| [b >> 4, b & 0x0F]) {
        match nibble {
            0..=9 => {
                *digits.get_mut(n)? = b'0' + nibble;
                n += 1;
            }
            _ => break,
        }
    }
    let text = core::str::from_utf8(digits.get(..n)?).ok()?;
    Pan::new(text).ok()
}

fn hex(f: &mut impl Write, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02X}"))
}

impl fmt::Display for ValueDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tag.value() {
            0x5A | 0x57 | 0x9F6B => match bcd_pan(self.value) {
                Some(pan) if self.tag == Tag::PAN => write!(f, "{}", pan.masked()),
                Some(pan) => write!(f, "{} (track data hidden)", pan.masked()),
                None => write!(f, "({} bytes hidden)", self.value.len()),
            },
            _ if self.tag.is_sensitive() => write!(f, "({} bytes hidden)", self.value.len()),
            _ if self.tag.is_text() => match printable(self.value) {
                Some(text) => f.write_str(text),
                None => hex(f, self.value),
            },
            _ => hex(f, self.value),
        }
    }
}

/// Writes every object of `data`, one per line, indented two spaces per level:
/// `9F26 Application Cryptogram: C2C12B098F3DA6E3`, `50 Application Label: VISA`; a template
/// line ends with `:` and its children follow. Unknown tags print as `tag: value`. Values are
/// rendered by [`ValueDisplay`] (PAN masked, track data hidden). A malformed tree prints up to
/// the fault and returns its error; a refusing writer is [`crate::Error::ReceiptWrite`].
pub fn write_pretty<W: Write + ?Sized>(data: &[u8], out: &mut W) -> Result<()> {
    walk(data, &mut |t| {
        for _ in 0..t.depth() {
            out.write_str("  ")?;
        }
        write!(out, "{}", t.tag)?;
        if let Some(name) = t.tag.name() {
            write!(out, " {name}")?;
        }
        if t.is_constructed() {
            out.write_str(":\n")?;
        } else {
            writeln!(out, ": {}", ValueDisplay::new(t))?;
        }
        Ok(())
    })
}

/// TLV data as upper-case hex for logs, with the values of sensitive tags (PAN, track data:
/// [`Tag::is_sensitive`]) written as `**` per byte. Bytes after a malformed spot are not shown
/// (they could hold card data the parser could not locate): `…(N bytes hidden)` ends the text.
#[derive(Clone, Copy, Debug)]
pub struct MaskedHex<'a>(pub &'a [u8]);

impl fmt::Display for MaskedHex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.0;
        let base = data.as_ptr() as usize;
        let mut pos = 0usize;
        // Every byte before this was parsed and is not card data.
        let mut safe_end = 0usize;
        let mut write_failed = false;
        let walked = walk(data, &mut |t| {
            // Offsets inside `data`: `t.value` is a sub-slice of it.
            let start = (t.value.as_ptr() as usize).saturating_sub(base);
            let end = start + t.value.len();
            if t.tag.is_sensitive() && start >= pos {
                let r = hex(f, data.get(pos..start).unwrap_or_default())
                    .and_then(|()| (start..end).try_for_each(|_| f.write_str("**")));
                if r.is_err() {
                    write_failed = true;
                    return Err(crate::Error::ReceiptWrite);
                }
                pos = end;
            }
            safe_end = if t.is_constructed() { start } else { end };
            Ok(())
        });
        if write_failed {
            return Err(fmt::Error);
        }
        match walked {
            Ok(()) => hex(f, data.get(pos..).unwrap_or_default()),
            Err(_) => {
                hex(f, data.get(pos..safe_end.max(pos)).unwrap_or_default())?;
                write!(
                    f,
                    "…({} bytes hidden)",
                    data.len().saturating_sub(safe_end.max(pos))
                )
            }
        }
    }
}
