//! The typed BMP set that the ZVT messages carry after their untagged fields.
//!
//! [`Bmps`] holds one optional value per BMP this codec names. Parsing accepts them in any
//! order (the specification does not fix one, and real terminals differ: see the captured
//! status information in EVerest/zvt `zvt/data/1680728165.675509000_pt_ecr.blob`); a BMP
//! that appears twice is [`Error::ZvtField`]. Emitting writes them in ascending BMP order with
//! the TLV container (`06`) last.
//!
//! Card data: track 1/2/3 (`2D`, `23`, `24`), CVV (`3A`) and synchronous chip data (`2E`)
//! are skipped when read, never stored, and counted in [`Bmps::ignored`]; so are the other
//! BMPs whose format is known but which no message here uses (display texts, image data).
//! A card number (`22`) is kept as its BCD bytes, usually masked with `E` digits by the
//! terminal; the caller masks it before it goes anywhere but the bank link.

use super::bmp::{self, Bmp, Writer, bcd_to_u64, check_card_number, number as n};
use crate::{Error, Result};

/// The receipt number value that stands for "all receipts" / "none" in a partial reversal
/// abort: the bytes `FF FF`, which are not BCD (PA00P015 2.10.1; captured in EVerest/zvt
/// `zvt/data/partial_reversal.blob`: `06 1E 04 B8 87 FF FF`).
pub const RECEIPT_NO_NONE: u16 = 0xFFFF;

/// The BMPs of a message, each optional. Values are as on the wire, in plain integers where
/// the wire has BCD: an amount in minor units, a currency as its ISO 4217 numeric code, a
/// time as `HHMMSS`, a date as `MMDD` (or `YYMMDD` for `AA`), an expiry as `YYMM`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bmps<'a> {
    /// `01` timeout in seconds.
    pub timeout: Option<u8>,
    /// `02` maximum number of status information messages.
    pub max_status_infos: Option<u8>,
    /// `03` service byte.
    pub service_byte: Option<u8>,
    /// `04` amount in minor units, at most 12 digits.
    pub amount: Option<u64>,
    /// `05` pump number.
    pub pump_no: Option<u8>,
    /// `0B` trace number, at most 6 digits.
    pub trace: Option<u32>,
    /// `0C` time, `HHMMSS`.
    pub time: Option<u32>,
    /// `0D` date, `MMDD`.
    pub date: Option<u16>,
    /// `0E` expiry date, `YYMM`.
    pub expiry: Option<u16>,
    /// `17` card sequence number, at most 4 digits.
    pub card_sequence: Option<u16>,
    /// `19` payment type (authorisation), status byte (completion), card type (status info).
    pub payment_type: Option<u8>,
    /// `22` card number as BCD bytes (`E` masks a digit, a final `F` pads).
    pub card_number: Option<&'a [u8]>,
    /// `27` result code (chapter "Error messages"; `00` success).
    pub result_code: Option<u8>,
    /// `29` terminal id, 8 digits.
    pub terminal_id: Option<u32>,
    /// `2A` VU (merchant) number, 15 characters.
    pub vu_number: Option<&'a [u8; 15]>,
    /// `37` trace number of the original transaction.
    pub original_trace: Option<u32>,
    /// `3B` AID authorisation attribute (approval code), 8 bytes, `00`-padded.
    pub aid: Option<&'a [u8; 8]>,
    /// `3C` additional text (LLL).
    pub text: Option<&'a [u8]>,
    /// `49` currency, ISO 4217 numeric.
    pub currency: Option<u16>,
    /// `60` single totals (LLL), kept as bytes.
    pub single_totals: Option<&'a [u8]>,
    /// `87` receipt number, at most 4 digits, or [`RECEIPT_NO_NONE`].
    pub receipt_no: Option<u16>,
    /// `88` turnover record number.
    pub turnover_no: Option<u32>,
    /// `8A` ZVT card type.
    pub zvt_card_type: Option<u8>,
    /// `8B` card name (LL).
    pub card_name: Option<&'a [u8]>,
    /// `8C` card type id of the network operator.
    pub card_type_id: Option<u8>,
    /// `A0` result code of the authorisation system.
    pub result_code_as: Option<u8>,
    /// `AA` date, `YYMMDD`.
    pub date_yymmdd: Option<u32>,
    /// `06` TLV container content (BER-TLV, checked by [`crate::emv::validate`]).
    pub tlv: Option<&'a [u8]>,
    /// BMPs skipped when parsing (card data that is never stored, and BMPs no message here
    /// uses). Not emitted.
    pub ignored: u8,
}

/// Where [`Bmps::take`] stores a BMP of the common kinds, and so how its value is read.
enum Slot<'s, 'a> {
    /// One byte as it is.
    Byte(&'s mut Option<u8>),
    /// Two BCD bytes.
    Bcd16(&'s mut Option<u16>),
    /// Up to four BCD bytes.
    Bcd32(&'s mut Option<u32>),
    /// The value bytes as they are.
    Bytes(&'s mut Option<&'a [u8]>),
}

fn set<T>(slot: &mut Option<T>, bmp: u8, value: T) -> Result<()> {
    if slot.is_some() {
        return Err(Error::ZvtField { bmp });
    }
    *slot = Some(value);
    Ok(())
}

fn byte(b: &Bmp<'_>) -> u8 {
    b.value.first().copied().unwrap_or(0)
}

fn bcd32(b: &Bmp<'_>) -> Result<u32> {
    // At most 4 bytes (8 digits) reach here, which fit a u32.
    Ok(bcd_to_u64(b.number, b.value)? as u32)
}

fn bcd16(b: &Bmp<'_>) -> Result<u16> {
    // 2 bytes (4 digits) reach here, which fit a u16.
    Ok(bcd_to_u64(b.number, b.value)? as u16)
}

impl<'a> Bmps<'a> {
    /// Reads all BMPs of `data` (the data of an APDU after its untagged fields).
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let mut f = Bmps::default();
        for b in bmp::iter(data) {
            f.take(&b?)?;
        }
        Ok(f)
    }

    fn take(&mut self, b: &Bmp<'a>) -> Result<()> {
        let num = b.number;
        // The arms only choose where the value goes; it is read and stored once per kind
        // below (one copy of each check instead of one per BMP).
        let slot = match num {
            n::TIMEOUT => Slot::Byte(&mut self.timeout),
            n::MAX_STATUS_INFOS => Slot::Byte(&mut self.max_status_infos),
            n::SERVICE_BYTE => Slot::Byte(&mut self.service_byte),
            n::AMOUNT => return set(&mut self.amount, num, bcd_to_u64(num, b.value)?),
            n::PUMP_NO => Slot::Byte(&mut self.pump_no),
            n::TRACE => Slot::Bcd32(&mut self.trace),
            n::TIME => Slot::Bcd32(&mut self.time),
            n::DATE => Slot::Bcd16(&mut self.date),
            n::EXPIRY => Slot::Bcd16(&mut self.expiry),
            n::CARD_SEQUENCE => Slot::Bcd16(&mut self.card_sequence),
            n::PAYMENT_TYPE => Slot::Byte(&mut self.payment_type),
            n::CARD_NUMBER => {
                check_card_number(b.value)?;
                Slot::Bytes(&mut self.card_number)
            }
            n::RESULT_CODE => Slot::Byte(&mut self.result_code),
            n::TERMINAL_ID => Slot::Bcd32(&mut self.terminal_id),
            n::VU_NUMBER => {
                let v = b
                    .value
                    .try_into()
                    .map_err(|_| Error::ZvtField { bmp: num })?;
                return set(&mut self.vu_number, num, v);
            }
            n::ORIGINAL_TRACE => Slot::Bcd32(&mut self.original_trace),
            n::AID => {
                let v = b
                    .value
                    .try_into()
                    .map_err(|_| Error::ZvtField { bmp: num })?;
                return set(&mut self.aid, num, v);
            }
            n::TEXT => Slot::Bytes(&mut self.text),
            n::CURRENCY => Slot::Bcd16(&mut self.currency),
            n::SINGLE_TOTALS => Slot::Bytes(&mut self.single_totals),
            n::RECEIPT_NO if b.value == [0xFF, 0xFF] => {
                return set(&mut self.receipt_no, num, RECEIPT_NO_NONE);
            }
            n::RECEIPT_NO => Slot::Bcd16(&mut self.receipt_no),
            n::TURNOVER_NO => Slot::Bcd32(&mut self.turnover_no),
            n::ZVT_CARD_TYPE => Slot::Byte(&mut self.zvt_card_type),
            n::CARD_NAME => Slot::Bytes(&mut self.card_name),
            n::CARD_TYPE_ID => Slot::Byte(&mut self.card_type_id),
            n::RESULT_CODE_AS => Slot::Byte(&mut self.result_code_as),
            n::DATE_YYMMDD => Slot::Bcd32(&mut self.date_yymmdd),
            n::TLV => Slot::Bytes(&mut self.tlv),
            _ => {
                self.ignored = self.ignored.saturating_add(1);
                return Ok(());
            }
        };
        match slot {
            Slot::Byte(s) => set(s, num, byte(b)),
            Slot::Bcd16(s) => set(s, num, bcd16(b)?),
            Slot::Bcd32(s) => set(s, num, bcd32(b)?),
            Slot::Bytes(s) => set(s, num, b.value),
        }
    }

    /// Whether no BMP is set.
    pub fn is_empty(&self) -> bool {
        self.writes_nothing(true)
    }

    /// Whether no BMP other than the TLV container `06` is set.
    pub(crate) fn is_empty_but_tlv(&self) -> bool {
        self.writes_nothing(false)
    }

    /// Whether [`Bmps::write`] (without the TLV container unless `tlv`) writes nothing: every
    /// BMP that is set writes at least its number, and one that cannot be written is set. A dry
    /// run, so no copy of the BMPs is made (they are a few hundred bytes).
    fn writes_nothing(&self, tlv: bool) -> bool {
        let mut w = Writer::dry();
        self.write_parts(&mut w, tlv).is_ok() && w.pos() == 0
    }

    /// Writes the BMPs that are set, in ascending order with `06` last. A value with more
    /// digits than its BMP holds, a card number with a nibble other than a digit, `E` or a
    /// final `F`, a TLV container that is not valid BER-TLV or a variable field too long for
    /// its LL/LLL length is [`Error::ZvtField`].
    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        self.write_parts(w, true)
    }

    /// [`Bmps::write`], with the TLV container only when `tlv`.
    fn write_parts(&self, w: &mut Writer<'_>, tlv: bool) -> Result<()> {
        // Each helper writes one BMP unless an earlier one failed (`st` keeps the first
        // error): one call per BMP, no error check at each call site.
        fn one(st: &mut Result<()>, w: &mut Writer<'_>, bmp: u8, v: Option<u8>) {
            if let (Ok(()), Some(v)) = (&st, v) {
                *st = w.put(&[bmp, v]);
            }
        }
        fn bcd(st: &mut Result<()>, w: &mut Writer<'_>, bmp: u8, v: Option<u64>, len: usize) {
            if let (Ok(()), Some(v)) = (&st, v) {
                *st = w.byte(bmp).and_then(|()| w.bcd(bmp, v, len));
            }
        }
        fn var(st: &mut Result<()>, w: &mut Writer<'_>, bmp: u8, v: Option<&[u8]>, n: usize) {
            if let (Ok(()), Some(v)) = (&st, v) {
                *st = w.byte(bmp).and_then(|()| w.var(bmp, v, n));
            }
        }
        fn raw(st: &mut Result<()>, w: &mut Writer<'_>, bmp: u8, v: Option<&[u8]>) {
            if let (Ok(()), Some(v)) = (&st, v) {
                *st = w.byte(bmp).and_then(|()| w.put(v));
            }
        }
        let mut st = Ok(());
        let wide = |v: Option<u32>| v.map(u64::from);
        let short = |v: Option<u16>| v.map(u64::from);
        one(&mut st, w, n::TIMEOUT, self.timeout);
        one(&mut st, w, n::MAX_STATUS_INFOS, self.max_status_infos);
        one(&mut st, w, n::SERVICE_BYTE, self.service_byte);
        bcd(&mut st, w, n::AMOUNT, self.amount, 6);
        one(&mut st, w, n::PUMP_NO, self.pump_no);
        bcd(&mut st, w, n::TRACE, wide(self.trace), 3);
        bcd(&mut st, w, n::TIME, wide(self.time), 3);
        bcd(&mut st, w, n::DATE, short(self.date), 2);
        bcd(&mut st, w, n::EXPIRY, short(self.expiry), 2);
        bcd(&mut st, w, n::CARD_SEQUENCE, short(self.card_sequence), 2);
        one(&mut st, w, n::PAYMENT_TYPE, self.payment_type);
        if let (Ok(()), Some(pan)) = (&st, self.card_number) {
            st = check_card_number(pan);
        }
        var(&mut st, w, n::CARD_NUMBER, self.card_number, 2);
        one(&mut st, w, n::RESULT_CODE, self.result_code);
        bcd(&mut st, w, n::TERMINAL_ID, wide(self.terminal_id), 4);
        raw(
            &mut st,
            w,
            n::VU_NUMBER,
            self.vu_number.map(|v| v.as_slice()),
        );
        bcd(&mut st, w, n::ORIGINAL_TRACE, wide(self.original_trace), 3);
        raw(&mut st, w, n::AID, self.aid.map(|v| v.as_slice()));
        var(&mut st, w, n::TEXT, self.text, 3);
        bcd(&mut st, w, n::CURRENCY, short(self.currency), 2);
        var(&mut st, w, n::SINGLE_TOTALS, self.single_totals, 3);
        match self.receipt_no {
            Some(RECEIPT_NO_NONE) => raw(&mut st, w, n::RECEIPT_NO, Some(&[0xFF, 0xFF])),
            other => bcd(&mut st, w, n::RECEIPT_NO, short(other), 2),
        }
        bcd(&mut st, w, n::TURNOVER_NO, wide(self.turnover_no), 3);
        one(&mut st, w, n::ZVT_CARD_TYPE, self.zvt_card_type);
        var(&mut st, w, n::CARD_NAME, self.card_name, 2);
        one(&mut st, w, n::CARD_TYPE_ID, self.card_type_id);
        one(&mut st, w, n::RESULT_CODE_AS, self.result_code_as);
        bcd(&mut st, w, n::DATE_YYMMDD, wide(self.date_yymmdd), 3);
        st?;
        if let (true, Some(tlv)) = (tlv, self.tlv) {
            crate::emv::validate(tlv).map_err(|_| Error::ZvtField { bmp: n::TLV })?;
            w.byte(n::TLV)?;
            w.tlv(tlv)?;
        }
        Ok(())
    }
}
