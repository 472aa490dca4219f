//! Zero-copy BER-TLV parsing.

use super::{MAX_DEPTH, Tag};
use crate::{Error, Result};

/// One TLV object: its tag and value, borrowed from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag.
    pub tag: Tag,
    /// The value bytes (for a constructed tag, the encoded children).
    pub value: &'a [u8],
    depth: u8,
}

impl<'a> Tlv<'a> {
    /// Nesting depth: 0 at the top level.
    pub fn depth(&self) -> usize {
        usize::from(self.depth)
    }

    /// Whether the value is a sequence of TLV objects.
    pub fn is_constructed(&self) -> bool {
        self.tag.is_constructed()
    }

    /// The objects inside a constructed template, one level down.
    ///
    /// Errors: [`Error::TlvTooDeep`] when that level would be [`MAX_DEPTH`] or more;
    /// [`Error::Unsupported`] for a primitive object.
    pub fn children(&self) -> Result<TlvIter<'a>> {
        if !self.is_constructed() {
            return Err(Error::Unsupported {
                what: "children of a primitive TLV object",
            });
        }
        let depth = usize::from(self.depth) + 1;
        if depth >= MAX_DEPTH {
            return Err(Error::TlvTooDeep);
        }
        Ok(TlvIter {
            rest: self.value,
            depth: depth as u8,
        })
    }
}

/// Iterator over the TLV objects of one level. Yields `Err` once on malformed data, then stops.
#[derive(Clone, Debug)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
    depth: u8,
}

/// The objects at the top level of `data`.
pub fn parse(data: &[u8]) -> TlvIter<'_> {
    TlvIter {
        rest: data,
        depth: 0,
    }
}

impl<'a> TlvIter<'a> {
    /// Bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    fn next_object(&mut self) -> Result<Option<Tlv<'a>>> {
        // 00 bytes before, between or after objects are padding (EMV Book 3, Annex B).
        let start = self
            .rest
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(self.rest.len());
        let mut input = self.rest.get(start..).unwrap_or_default();
        let Some((&first, rest)) = input.split_first() else {
            self.rest = input;
            return Ok(None);
        };
        input = rest;
        let mut tag = u32::from(first);
        if first & 0x1F == 0x1F {
            let mut n = 1;
            loop {
                let (&b, rest) = input
                    .split_first()
                    .ok_or(Error::Truncated { what: "tlv tag" })?;
                input = rest;
                n += 1;
                if n > 4 {
                    return Err(Error::TlvMalformed);
                }
                tag = (tag << 8) | u32::from(b);
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let (&l0, rest) = input
            .split_first()
            .ok_or(Error::Truncated { what: "tlv length" })?;
        input = rest;
        let len = match l0 {
            0..=0x7F => usize::from(l0),
            0x81..=0x84 => {
                let n = usize::from(l0 & 0x7F);
                let (bytes, rest) = input
                    .split_at_checked(n)
                    .ok_or(Error::Truncated { what: "tlv length" })?;
                input = rest;
                let len = bytes.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b));
                usize::try_from(len).map_err(|_| Error::TlvMalformed)?
            }
            _ => return Err(Error::TlvMalformed),
        };
        let (value, rest) = input
            .split_at_checked(len)
            .ok_or(Error::Truncated { what: "tlv value" })?;
        self.rest = rest;
        Ok(Some(Tlv {
            tag: Tag::from_parsed(tag),
            value,
            depth: self.depth,
        }))
    }
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_object() {
            Ok(Some(t)) => Some(Ok(t)),
            Ok(None) => None,
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for TlvIter<'_> {}

/// Visits every object of `data` depth first (a template before its children) and stops at
/// the first error, either from the data or from `visit`.
pub fn walk<'a, F>(data: &'a [u8], visit: &mut F) -> Result<()>
where
    F: FnMut(&Tlv<'a>) -> Result<()>,
{
    walk_iter(parse(data), visit)
}

fn walk_iter<'a, F>(iter: TlvIter<'a>, visit: &mut F) -> Result<()>
where
    F: FnMut(&Tlv<'a>) -> Result<()>,
{
    for tlv in iter {
        let tlv = tlv?;
        visit(&tlv)?;
        if tlv.is_constructed() {
            walk_iter(tlv.children()?, visit)?;
        }
    }
    Ok(())
}

/// Checks that the whole tree in `data` is well formed and within [`MAX_DEPTH`].
pub fn validate(data: &[u8]) -> Result<()> {
    walk(data, &mut |_| Ok(()))
}

/// The value of the first object with `tag` in `data`, searching depth first through
/// constructed templates. Malformed data met before the tag is found is an error.
pub fn find(data: &[u8], tag: Tag) -> Result<Option<&[u8]>> {
    let mut found = None;
    let r = walk(data, &mut |t| {
        if t.tag == tag {
            found = Some(t.value);
            // Stop the walk early; the sentinel never leaves this function.
            return Err(Error::CapacityExceeded { what: "found" });
        }
        Ok(())
    });
    match (found, r) {
        (Some(v), _) => Ok(Some(v)),
        (None, Ok(())) => Ok(None),
        (None, Err(e)) => Err(e),
    }
}
