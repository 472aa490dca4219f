//! The EMV tags a receipt shows, collected in one pass.

use super::{Tag, walk};
use crate::Result;

/// The receipt tags of one transaction, borrowed from its TLV data. The first occurrence of a
/// tag anywhere in the tree wins. No field holds card-number or track data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiptTags<'a> {
    /// Application Identifier: `4F` (card), or `9F06` (terminal) when `4F` is absent.
    pub aid: Option<&'a [u8]>,
    /// Application Label (`50`), text.
    pub application_label: Option<&'a [u8]>,
    /// Application Preferred Name (`9F12`), text.
    pub preferred_name: Option<&'a [u8]>,
    /// Terminal Verification Results (`95`).
    pub tvr: Option<&'a [u8]>,
    /// Transaction Status Information (`9B`).
    pub tsi: Option<&'a [u8]>,
    /// Authorisation Response Code (`8A`).
    pub arc: Option<&'a [u8]>,
    /// Issuer Application Data (`9F10`).
    pub iad: Option<&'a [u8]>,
    /// Application Transaction Counter (`9F36`).
    pub atc: Option<&'a [u8]>,
    /// Application Cryptogram (`9F26`).
    pub ac: Option<&'a [u8]>,
    /// Cryptogram Information Data (`9F27`).
    pub cid: Option<&'a [u8]>,
    /// Cardholder Verification Method Results (`9F34`).
    pub cvm_results: Option<&'a [u8]>,
}

impl<'a> ReceiptTags<'a> {
    /// Collects the tags from `data` in one depth-first pass; malformed data is an error.
    pub fn from_tlv(data: &'a [u8]) -> Result<Self> {
        let mut tags = ReceiptTags::default();
        let mut aid_terminal = None;
        walk(data, &mut |t| {
            let slot = match t.tag {
                Tag::AID => &mut tags.aid,
                Tag::AID_TERMINAL => &mut aid_terminal,
                Tag::APPLICATION_LABEL => &mut tags.application_label,
                Tag::APPLICATION_PREFERRED_NAME => &mut tags.preferred_name,
                Tag::TVR => &mut tags.tvr,
                Tag::TSI => &mut tags.tsi,
                Tag::ARC => &mut tags.arc,
                Tag::IAD => &mut tags.iad,
                Tag::ATC => &mut tags.atc,
                Tag::AC => &mut tags.ac,
                Tag::CID => &mut tags.cid,
                Tag::CVM_RESULTS => &mut tags.cvm_results,
                _ => return Ok(()),
            };
            if slot.is_none() {
                *slot = Some(t.value);
            }
            Ok(())
        })?;
        if tags.aid.is_none() {
            tags.aid = aid_terminal;
        }
        Ok(tags)
    }

    /// The application label as text, when it is printable ASCII (EMV: ans 1–16).
    pub fn label_text(&self) -> Option<&'a str> {
        self.application_label.and_then(printable)
    }

    /// The application preferred name as text, when it is printable ASCII.
    pub fn preferred_name_text(&self) -> Option<&'a str> {
        self.preferred_name.and_then(printable)
    }

    /// The authorisation response code as text (`00`, `Y1`, `Z3`…), when printable.
    pub fn arc_text(&self) -> Option<&'a str> {
        self.arc.and_then(printable)
    }

    /// The application transaction counter as a number.
    pub fn atc_value(&self) -> Option<u16> {
        match self.atc? {
            [hi, lo] => Some(u16::from_be_bytes([*hi, *lo])),
            _ => None,
        }
    }
}

pub(super) fn printable(bytes: &[u8]) -> Option<&str> {
    if bytes.iter().all(|b| (0x20..0x7F).contains(b)) {
        core::str::from_utf8(bytes).ok()
    } else {
        None
    }
}
