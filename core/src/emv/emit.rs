//! BER-TLV emitting into a caller buffer.

use super::parse::{Tlv, TlvIter, parse};
use super::{MAX_DEPTH, Tag};
use crate::{Error, Result};

/// A TLV object to emit: a primitive value, or a constructed template holding more nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node<'a> {
    /// `tag` with `value` as its bytes (written as given, even for a constructed tag: use this
    /// to copy an already-encoded template).
    Primitive {
        /// The tag.
        tag: Tag,
        /// The value bytes.
        value: &'a [u8],
    },
    /// `tag` whose value is the encoding of `children`.
    Constructed {
        /// The tag (normally one with the constructed bit set).
        tag: Tag,
        /// The objects inside.
        children: &'a [Node<'a>],
    },
}

/// Bytes of the tag and length fields in front of a value of `value_len` bytes (minimal length
/// form: one byte up to 127, then `81`..`84` and 1–4 bytes).
pub fn header_len(tag: Tag, value_len: usize) -> usize {
    tag.len() + length_len(value_len)
}

fn length_len(len: usize) -> usize {
    match len {
        0..=0x7F => 1,
        0x80..=0xFF => 2,
        0x100..=0xFFFF => 3,
        0x1_0000..=0xFF_FFFF => 4,
        _ => 5,
    }
}

fn value_len(nodes: &[Node<'_>], depth: usize) -> Result<usize> {
    if depth >= MAX_DEPTH {
        return Err(Error::TlvTooDeep);
    }
    let mut total = 0usize;
    for node in nodes {
        let len = match node {
            Node::Primitive { tag, value } => header_len(*tag, value.len()) + value.len(),
            Node::Constructed { tag, children } => {
                let inner = value_len(children, depth + 1)?;
                header_len(*tag, inner) + inner
            }
        };
        total = total.checked_add(len).ok_or(Error::TlvMalformed)?;
    }
    if total > u32::MAX as usize {
        return Err(Error::TlvMalformed);
    }
    Ok(total)
}

/// Bytes [`emit`] writes for `nodes`.
pub fn encoded_len(nodes: &[Node<'_>]) -> Result<usize> {
    value_len(nodes, 0)
}

/// A cursor over the caller's buffer whose capacity was checked up front.
struct Out<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Out<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self.pos + bytes.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall { needed: end })?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    fn header(&mut self, tag: Tag, len: usize) -> Result<()> {
        let (tb, tl) = tag.to_bytes();
        self.put(tb.get(..tl).unwrap_or_default())?;
        let n = length_len(len);
        if n == 1 {
            return self.put(&[len as u8]);
        }
        let be = (len as u32).to_be_bytes();
        self.put(&[0x80 | (n as u8 - 1)])?;
        self.put(be.get(4 - (n - 1)..).unwrap_or_default())
    }

    fn nodes(&mut self, nodes: &[Node<'_>], depth: usize) -> Result<()> {
        for node in nodes {
            match node {
                Node::Primitive { tag, value } => {
                    self.header(*tag, value.len())?;
                    self.put(value)?;
                }
                Node::Constructed { tag, children } => {
                    self.header(*tag, value_len(children, depth + 1)?)?;
                    self.nodes(children, depth + 1)?;
                }
            }
        }
        Ok(())
    }
}

/// Writes `nodes` into `buf` and returns the bytes written. A buffer shorter than
/// [`encoded_len`] is [`Error::BufferTooSmall`] and is left untouched; nesting deeper than
/// [`MAX_DEPTH`] is [`Error::TlvTooDeep`].
pub fn emit(nodes: &[Node<'_>], buf: &mut [u8]) -> Result<usize> {
    let needed = encoded_len(nodes)?;
    if buf.len() < needed {
        return Err(Error::BufferTooSmall { needed });
    }
    let mut out = Out { buf, pos: 0 };
    out.nodes(nodes, 0)?;
    Ok(out.pos)
}

/// Writes one primitive object; see [`emit`].
pub fn emit_primitive(tag: Tag, value: &[u8], buf: &mut [u8]) -> Result<usize> {
    emit(&[Node::Primitive { tag, value }], buf)
}

fn normalized_len(iter: TlvIter<'_>) -> Result<usize> {
    let mut total = 0usize;
    for tlv in iter {
        let tlv = tlv?;
        let inner = inner_len(&tlv)?;
        total = total
            .checked_add(header_len(tlv.tag, inner) + inner)
            .ok_or(Error::TlvMalformed)?;
    }
    Ok(total)
}

fn inner_len(tlv: &Tlv<'_>) -> Result<usize> {
    if tlv.is_constructed() {
        normalized_len(tlv.children()?)
    } else {
        Ok(tlv.value.len())
    }
}

fn write_normalized(out: &mut Out<'_>, iter: TlvIter<'_>) -> Result<()> {
    for tlv in iter {
        let tlv = tlv?;
        out.header(tlv.tag, inner_len(&tlv)?)?;
        if tlv.is_constructed() {
            write_normalized(out, tlv.children()?)?;
        } else {
            out.put(tlv.value)?;
        }
    }
    Ok(())
}

/// Re-encodes parsed `data` canonically into `buf`: padding dropped, every length in its
/// minimal form, templates re-encoded from their children. The result parses to the same tree
/// and normalizing it again gives the same bytes. Errors as [`emit`], plus any parse error of
/// `data` (then `buf` is untouched too).
pub fn normalize(data: &[u8], buf: &mut [u8]) -> Result<usize> {
    let needed = normalized_len(parse(data))?;
    if buf.len() < needed {
        return Err(Error::BufferTooSmall { needed });
    }
    let mut out = Out { buf, pos: 0 };
    write_normalized(&mut out, parse(data))?;
    Ok(out.pos)
}
