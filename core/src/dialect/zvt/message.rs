//! Typed ZVT messages: [`Message::parse`] from an [`Apdu`], [`Message::emit`] into a caller
//! buffer. Zero-copy: text, card numbers and TLV containers borrow from the input.
//!
//! Layouts (PA00P015; `<…>` untagged, `[…]` optional, `BMP value` tagged):
//!
//! | control | message | data |
//! |---|---|---|
//! | `06 00` | registration | `<password 3 BCD> <config byte> [<currency 2 BCD>] [03 service byte] [06 TLV]` |
//! | `06 02` | log-off | none |
//! | `06 01` | authorisation | `04 amount [49 currency] [19 payment type] [01 timeout] [02 max status infos] … [06 TLV]` |
//! | `04 FF` | intermediate status | `<status> [<timeout>] [06 TLV]` |
//! | `04 0F` | status information | `[27 result] [04 amount] [0B trace] … [87 receipt] … [06 TLV]` |
//! | `06 D1` | print line | `<attribute> <text…>` |
//! | `06 D3` | print text block | `06 TLV` |
//! | `06 0F` | completion | `[27 result] [19 status byte] [29 terminal id] [49 currency] [06 TLV]`, or after a status enquiry `<LLL software version> <terminal status> [06 TLV]` |
//! | `06 1E` | abort | `<result code> [<currency 2 BCD> if the code is 6F] [87 receipt] [06 TLV]` |
//! | `80 00` | acknowledgement | none (some terminals add data) |
//! | `84 xx` | negative acknowledgement, `xx` the error code | none |
//! | `06 30` | reversal | `<password> [87 receipt] [06 TLV]` |
//! | `06 31` | refund | `<password> [04 amount] [49 currency] [06 TLV]` |
//! | `06 20` | repeat receipt | `<password> [06 TLV]` |
//! | `06 50` | end of day | `<password>` |
//! | `05 01` | status enquiry | `[<password> 03 service byte] [06 TLV]` |
//! | `06 70` | diagnosis | `[06 TLV]` |
//! | `06 B0` | abort (from the till) | none |
//! | `06 22` | reservation (pre-authorisation) | `[04 amount] [49 currency] [19 payment type] … [06 TLV]` |
//! | `06 23` | partial reversal of a reservation | `[87 receipt] [04 amount] [19] [49] [06 TLV]` |
//! | `06 24` | book total | `[87 receipt] [04 amount] [0B trace] [3B AID] [49] [06 TLV]` |
//! | `06 25` | pre-authorisation reversal | `[19] [49] [87 receipt]` |
//!
//! Untagged optional fields are told apart as the peer `zvt` crate 0.1.0 does: a
//! registration's currency is read when two more bytes follow the config byte (so the
//! emitter refuses tagged BMPs without a currency); a status enquiry's password when a
//! service byte `03` follows it; an abort's currency when the code is `6F` and two bytes
//! follow that do not start the TLV container; an intermediate status's timeout when a byte
//! follows the status that does not start a valid TLV container filling the rest (a timeout
//! of `06` before a TLV container can therefore read back differently: avoid it).

use super::apdu::{Apdu, emit_header, length_field_len};
use super::bmp::{Window, Writer, bcd_to_u64, number, tlv_len};
use super::fields::Bmps;
use crate::{Error, Result};

/// Control fields (class, instruction) of the messages.
pub mod command {
    /// `06 00` registration.
    pub const REGISTRATION: (u8, u8) = (0x06, 0x00);
    /// `06 01` authorisation.
    pub const AUTHORISATION: (u8, u8) = (0x06, 0x01);
    /// `06 02` log-off.
    pub const LOG_OFF: (u8, u8) = (0x06, 0x02);
    /// `04 FF` intermediate status information.
    pub const INTERMEDIATE_STATUS: (u8, u8) = (0x04, 0xFF);
    /// `04 0F` status information.
    pub const STATUS_INFORMATION: (u8, u8) = (0x04, 0x0F);
    /// `06 D1` print line.
    pub const PRINT_LINE: (u8, u8) = (0x06, 0xD1);
    /// `06 D3` print text block.
    pub const PRINT_TEXT_BLOCK: (u8, u8) = (0x06, 0xD3);
    /// `06 0F` completion.
    pub const COMPLETION: (u8, u8) = (0x06, 0x0F);
    /// `06 1E` abort (from the terminal).
    pub const ABORT: (u8, u8) = (0x06, 0x1E);
    /// `80 00` acknowledgement.
    pub const ACK: (u8, u8) = (0x80, 0x00);
    /// Class `84`: negative acknowledgement, the instruction byte is the error code.
    pub const NACK_CLASS: u8 = 0x84;
    /// `06 30` reversal.
    pub const REVERSAL: (u8, u8) = (0x06, 0x30);
    /// `06 31` refund.
    pub const REFUND: (u8, u8) = (0x06, 0x31);
    /// `06 20` repeat receipt.
    pub const REPEAT_RECEIPT: (u8, u8) = (0x06, 0x20);
    /// `06 50` end of day.
    pub const END_OF_DAY: (u8, u8) = (0x06, 0x50);
    /// `05 01` status enquiry.
    pub const STATUS_ENQUIRY: (u8, u8) = (0x05, 0x01);
    /// `06 70` diagnosis.
    pub const DIAGNOSIS: (u8, u8) = (0x06, 0x70);
    /// `06 B0` abort (from the till).
    pub const ABORT_REQUEST: (u8, u8) = (0x06, 0xB0);
    /// `06 22` reservation (pre-authorisation).
    pub const RESERVATION: (u8, u8) = (0x06, 0x22);
    /// `06 23` partial reversal of a reservation.
    pub const PARTIAL_REVERSAL: (u8, u8) = (0x06, 0x23);
    /// `06 24` book total.
    pub const BOOK_TOTAL: (u8, u8) = (0x06, 0x24);
    /// `06 25` pre-authorisation reversal.
    pub const PRE_AUTH_REVERSAL: (u8, u8) = (0x06, 0x25);
}

/// The largest password: six BCD digits.
pub const MAX_PASSWORD: u32 = 999_999;

/// The result code of an abort that carries a currency (PA00P015 2.2.9: "wrong currency").
pub const RESULT_WRONG_CURRENCY: u8 = 0x6F;

/// `06 00` registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registration<'a> {
    /// Password, six digits.
    pub password: u32,
    /// Config byte: which functions the till takes over (receipts, intermediate status, …).
    pub config: u8,
    /// Currency, ISO 4217 numeric.
    pub currency: Option<u16>,
    /// Tagged BMPs: `03` service byte, `06` TLV.
    pub bmps: Bmps<'a>,
}

/// A command whose data starts with the password: reversal, refund, repeat receipt, end of
/// day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WithPassword<'a> {
    /// Password, six digits.
    pub password: u32,
    /// Tagged BMPs.
    pub bmps: Bmps<'a>,
}

/// `05 01` status enquiry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusEnquiry<'a> {
    /// Password; only sent together with a service byte.
    pub password: Option<u32>,
    /// Tagged BMPs: `03` service byte, `06` TLV.
    pub bmps: Bmps<'a>,
}

/// `04 FF` intermediate status information.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntermediateStatus<'a> {
    /// Status code (PA00P015 chapter "Intermediate status", e.g. `17` "please wait").
    pub status: u8,
    /// Timeout in seconds.
    pub timeout: Option<u8>,
    /// TLV container content.
    pub tlv: Option<&'a [u8]>,
}

/// `06 D1` print line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrintLine<'a> {
    /// Attribute byte (`FF` last line, `00` normal; bits for double width/height).
    pub attribute: u8,
    /// The line's text, without CR LF.
    pub text: &'a [u8],
}

/// `06 0F` completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion<'a> {
    /// The usual form: tagged BMPs (`27`, `19` status byte, `29`, `49`, `06`).
    Bitmaps(Bmps<'a>),
    /// The answer to a status enquiry: software version, terminal status, TLV.
    Software {
        /// Software version text (LLL).
        version: &'a [u8],
        /// Terminal status code.
        status: u8,
        /// TLV container content.
        tlv: Option<&'a [u8]>,
    },
}

/// `06 1E` abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Abort<'a> {
    /// Result code (chapter "Error messages").
    pub result_code: u8,
    /// Currency, only with [`RESULT_WRONG_CURRENCY`].
    pub currency: Option<u16>,
    /// Tagged BMPs: `87` receipt number, `06` TLV.
    pub bmps: Bmps<'a>,
}

/// A ZVT message of either direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// `06 00` registration (till → terminal).
    Registration(Registration<'a>),
    /// `06 02` log-off.
    LogOff,
    /// `06 01` authorisation.
    Authorisation(Bmps<'a>),
    /// `04 FF` intermediate status (terminal → till).
    IntermediateStatus(IntermediateStatus<'a>),
    /// `04 0F` status information (terminal → till).
    StatusInformation(Bmps<'a>),
    /// `06 D1` print line (terminal → till).
    PrintLine(PrintLine<'a>),
    /// `06 D3` print text block (terminal → till): BMP `06`.
    PrintTextBlock(Bmps<'a>),
    /// `06 0F` completion (terminal → till).
    Completion(Completion<'a>),
    /// `06 1E` abort (terminal → till).
    Abort(Abort<'a>),
    /// `80 00` acknowledgement, with whatever data it carries (normally none).
    Ack(&'a [u8]),
    /// `84 xx` negative acknowledgement with error code `xx`.
    Nack(u8),
    /// `06 30` reversal.
    Reversal(WithPassword<'a>),
    /// `06 31` refund.
    Refund(WithPassword<'a>),
    /// `06 20` repeat receipt.
    RepeatReceipt(WithPassword<'a>),
    /// `06 50` end of day.
    EndOfDay(WithPassword<'a>),
    /// `05 01` status enquiry.
    StatusEnquiry(StatusEnquiry<'a>),
    /// `06 70` diagnosis.
    Diagnosis(Bmps<'a>),
    /// `06 B0` abort from the till.
    AbortRequest,
    /// `06 22` reservation (pre-authorisation).
    Reservation(Bmps<'a>),
    /// `06 23` partial reversal of a reservation.
    PartialReversal(Bmps<'a>),
    /// `06 24` book total.
    BookTotal(Bmps<'a>),
    /// `06 25` pre-authorisation reversal.
    PreAuthReversal(Bmps<'a>),
}

fn password(data: &[u8]) -> Result<(u32, &[u8])> {
    let (pw, rest) = data.split_first_chunk::<3>().ok_or(Error::Truncated {
        what: "zvt password",
    })?;
    Ok((bcd_to_u64(number::PASSWORD, pw)? as u32, rest))
}

fn with_password(data: &[u8]) -> Result<WithPassword<'_>> {
    let (password, rest) = password(data)?;
    Ok(WithPassword {
        password,
        bmps: Bmps::parse(rest)?,
    })
}

fn empty(data: &[u8]) -> Result<()> {
    if data.is_empty() {
        Ok(())
    } else {
        Err(Error::ZvtField { bmp: 0 })
    }
}

/// A TLV container (`06`, BER length, content) that fills `data` exactly.
fn whole_tlv(data: &[u8]) -> Option<&[u8]> {
    let rest = data.strip_prefix(&[number::TLV])?;
    let (len, rest) = tlv_len(rest).ok()?;
    (rest.len() == len && crate::emv::validate(rest).is_ok()).then_some(rest)
}

/// A command whose data is one layout read the same way for all of them: which variant
/// holds it.
#[derive(Clone, Copy)]
enum Plain {
    /// BMPs alone.
    Bmps(BmpsCommand),
    /// A password, then BMPs.
    WithPassword(PasswordCommand),
}

/// The commands whose data is BMPs alone.
#[derive(Clone, Copy)]
enum BmpsCommand {
    Authorisation,
    StatusInformation,
    PrintTextBlock,
    Diagnosis,
    Reservation,
    PartialReversal,
    BookTotal,
    PreAuthReversal,
}

/// The commands whose data is a password, then BMPs.
#[derive(Clone, Copy)]
enum PasswordCommand {
    Reversal,
    Refund,
    RepeatReceipt,
    EndOfDay,
}

impl Plain {
    /// The layout of the command `ctrl`, when it is one of these.
    fn of(ctrl: (u8, u8)) -> Option<Self> {
        use command as c;
        use {BmpsCommand as B, PasswordCommand as P};
        Some(match ctrl {
            c::AUTHORISATION => Plain::Bmps(B::Authorisation),
            c::STATUS_INFORMATION => Plain::Bmps(B::StatusInformation),
            c::PRINT_TEXT_BLOCK => Plain::Bmps(B::PrintTextBlock),
            c::DIAGNOSIS => Plain::Bmps(B::Diagnosis),
            c::RESERVATION => Plain::Bmps(B::Reservation),
            c::PARTIAL_REVERSAL => Plain::Bmps(B::PartialReversal),
            c::BOOK_TOTAL => Plain::Bmps(B::BookTotal),
            c::PRE_AUTH_REVERSAL => Plain::Bmps(B::PreAuthReversal),
            c::REVERSAL => Plain::WithPassword(P::Reversal),
            c::REFUND => Plain::WithPassword(P::Refund),
            c::REPEAT_RECEIPT => Plain::WithPassword(P::RepeatReceipt),
            c::END_OF_DAY => Plain::WithPassword(P::EndOfDay),
            _ => return None,
        })
    }
}

impl BmpsCommand {
    fn message(self, b: Bmps<'_>) -> Message<'_> {
        match self {
            BmpsCommand::Authorisation => Message::Authorisation(b),
            BmpsCommand::StatusInformation => Message::StatusInformation(b),
            BmpsCommand::PrintTextBlock => Message::PrintTextBlock(b),
            BmpsCommand::Diagnosis => Message::Diagnosis(b),
            BmpsCommand::Reservation => Message::Reservation(b),
            BmpsCommand::PartialReversal => Message::PartialReversal(b),
            BmpsCommand::BookTotal => Message::BookTotal(b),
            BmpsCommand::PreAuthReversal => Message::PreAuthReversal(b),
        }
    }
}

impl PasswordCommand {
    fn message(self, p: WithPassword<'_>) -> Message<'_> {
        match self {
            PasswordCommand::Reversal => Message::Reversal(p),
            PasswordCommand::Refund => Message::Refund(p),
            PasswordCommand::RepeatReceipt => Message::RepeatReceipt(p),
            PasswordCommand::EndOfDay => Message::EndOfDay(p),
        }
    }
}

impl<'a> Message<'a> {
    /// The message in `apdu`. Errors: [`Error::ZvtCommand`] for a control field not in the
    /// table above, [`Error::ZvtField`] / [`Error::ZvtUnknownBmp`] / [`Error::Truncated`]
    /// for data that breaks the layout.
    pub fn parse(apdu: &Apdu<'a>) -> Result<Self> {
        use command as c;
        let data = apdu.data;
        let ctrl = (apdu.class, apdu.instr);
        if apdu.class == c::NACK_CLASS {
            empty(data)?;
            return Ok(Message::Nack(apdu.instr));
        }
        // The commands whose data is BMPs alone, or a password and BMPs: their data is read
        // by one call for all, then put in the variant (one copy of the parse and its error
        // path, not one per command).
        if let Some(wrap) = Plain::of(ctrl) {
            return Ok(match wrap {
                Plain::Bmps(wrap) => wrap.message(Bmps::parse(data)?),
                Plain::WithPassword(wrap) => wrap.message(with_password(data)?),
            });
        }
        Ok(match ctrl {
            c::REGISTRATION => {
                let (password, rest) = password(data)?;
                let (&config, rest) = rest.split_first().ok_or(Error::Truncated {
                    what: "zvt config byte",
                })?;
                let (currency, rest) = match rest.split_first_chunk::<2>() {
                    Some((cc, rest)) => (Some(bcd_to_u64(number::CURRENCY, cc)? as u16), rest),
                    None => (None, rest),
                };
                Message::Registration(Registration {
                    password,
                    config,
                    currency,
                    bmps: Bmps::parse(rest)?,
                })
            }
            c::LOG_OFF => {
                empty(data)?;
                Message::LogOff
            }
            c::INTERMEDIATE_STATUS => {
                let (&status, rest) = data
                    .split_first()
                    .ok_or(Error::Truncated { what: "zvt status" })?;
                let (timeout, tlv) = if rest.is_empty() {
                    (None, None)
                } else if let Some(tlv) = whole_tlv(rest) {
                    (None, Some(tlv))
                } else {
                    let (&t, rest) = rest.split_first().ok_or(Error::Truncated {
                        what: "zvt timeout",
                    })?;
                    let tlv = if rest.is_empty() {
                        None
                    } else {
                        Some(whole_tlv(rest).ok_or(Error::ZvtField { bmp: number::TLV })?)
                    };
                    (Some(t), tlv)
                };
                Message::IntermediateStatus(IntermediateStatus {
                    status,
                    timeout,
                    tlv,
                })
            }
            c::PRINT_LINE => {
                let (&attribute, text) = data.split_first().ok_or(Error::Truncated {
                    what: "zvt print line",
                })?;
                Message::PrintLine(PrintLine { attribute, text })
            }
            c::COMPLETION => match data.first() {
                Some(b) if b >> 4 == 0x0F => {
                    let digits = data.get(..3).ok_or(Error::Truncated { what: "zvt LLL" })?;
                    let mut len = 0usize;
                    for &d in digits {
                        if d >> 4 != 0x0F || d & 0x0F > 9 {
                            return Err(Error::ZvtField { bmp: 0 });
                        }
                        len = len * 10 + usize::from(d & 0x0F);
                    }
                    let rest = data.get(3..).unwrap_or_default();
                    let (version, rest) = rest.split_at_checked(len).ok_or(Error::Truncated {
                        what: "zvt software version",
                    })?;
                    let (&status, rest) = rest.split_first().ok_or(Error::Truncated {
                        what: "zvt terminal status",
                    })?;
                    let tlv = if rest.is_empty() {
                        None
                    } else {
                        Some(whole_tlv(rest).ok_or(Error::ZvtField { bmp: number::TLV })?)
                    };
                    Message::Completion(Completion::Software {
                        version,
                        status,
                        tlv,
                    })
                }
                _ => Message::Completion(Completion::Bitmaps(Bmps::parse(data)?)),
            },
            c::ABORT => {
                let (&result_code, rest) = data.split_first().ok_or(Error::Truncated {
                    what: "zvt result code",
                })?;
                let (currency, rest) = match rest.split_first_chunk::<2>() {
                    Some((cc, rest))
                        if result_code == RESULT_WRONG_CURRENCY
                            && cc.first() != Some(&number::TLV) =>
                    {
                        (Some(bcd_to_u64(number::CURRENCY, cc)? as u16), rest)
                    }
                    _ => (None, rest),
                };
                Message::Abort(Abort {
                    result_code,
                    currency,
                    bmps: Bmps::parse(rest)?,
                })
            }
            c::ACK => Message::Ack(data),
            c::STATUS_ENQUIRY => {
                // The password is optional, and its three BCD bytes followed by the service
                // byte's number can also be the start of a TLV container (`06 82 01 03`: a
                // 259-byte container). The reading with a password is taken when the rest
                // parses; otherwise the data is read as bitmaps alone.
                let with_password = match (data.get(3), password(data)) {
                    (Some(&number::SERVICE_BYTE), Ok((pw, rest))) => {
                        Bmps::parse(rest).ok().map(|bmps| (Some(pw), bmps))
                    }
                    _ => None,
                };
                let (pw, bmps) = match with_password {
                    Some(read) => read,
                    None => (None, Bmps::parse(data)?),
                };
                Message::StatusEnquiry(StatusEnquiry { password: pw, bmps })
            }
            c::ABORT_REQUEST => {
                empty(data)?;
                Message::AbortRequest
            }
            (class, instr) => return Err(Error::ZvtCommand { class, instr }),
        })
    }

    /// Reads one complete APDU that fills `input` and the message in it.
    pub fn parse_bytes(input: &'a [u8]) -> Result<Self> {
        Message::parse(&Apdu::parse_exact(input)?)
    }

    /// The control field (class, instruction) of the message.
    pub fn control(&self) -> (u8, u8) {
        use command as c;
        match self {
            Message::Registration(_) => c::REGISTRATION,
            Message::LogOff => c::LOG_OFF,
            Message::Authorisation(_) => c::AUTHORISATION,
            Message::IntermediateStatus(_) => c::INTERMEDIATE_STATUS,
            Message::StatusInformation(_) => c::STATUS_INFORMATION,
            Message::PrintLine(_) => c::PRINT_LINE,
            Message::PrintTextBlock(_) => c::PRINT_TEXT_BLOCK,
            Message::Completion(_) => c::COMPLETION,
            Message::Abort(_) => c::ABORT,
            Message::Ack(_) => c::ACK,
            Message::Nack(code) => (c::NACK_CLASS, *code),
            Message::Reversal(_) => c::REVERSAL,
            Message::Refund(_) => c::REFUND,
            Message::RepeatReceipt(_) => c::REPEAT_RECEIPT,
            Message::EndOfDay(_) => c::END_OF_DAY,
            Message::StatusEnquiry(_) => c::STATUS_ENQUIRY,
            Message::Diagnosis(_) => c::DIAGNOSIS,
            Message::AbortRequest => c::ABORT_REQUEST,
            Message::Reservation(_) => c::RESERVATION,
            Message::PartialReversal(_) => c::PARTIAL_REVERSAL,
            Message::BookTotal(_) => c::BOOK_TOTAL,
            Message::PreAuthReversal(_) => c::PRE_AUTH_REVERSAL,
        }
    }

    fn write_data(&self, w: &mut Writer<'_>) -> Result<()> {
        fn pw(w: &mut Writer<'_>, password: u32) -> Result<()> {
            w.bcd(number::PASSWORD, u64::from(password), 3)
        }
        fn tlv(w: &mut Writer<'_>, content: Option<&[u8]>) -> Result<()> {
            if let Some(t) = content {
                crate::emv::validate(t).map_err(|_| Error::ZvtField { bmp: number::TLV })?;
                w.byte(number::TLV)?;
                w.tlv(t)?;
            }
            Ok(())
        }
        match self {
            Message::Registration(r) => {
                pw(w, r.password)?;
                w.byte(r.config)?;
                match r.currency {
                    Some(cc) => w.bcd(number::CURRENCY, u64::from(cc), 2)?,
                    // The parser reads two bytes after the config byte as the currency.
                    None if !r.bmps.is_empty() => {
                        return Err(Error::ZvtField {
                            bmp: number::CURRENCY,
                        });
                    }
                    None => {}
                }
                r.bmps.write(w)
            }
            Message::LogOff | Message::AbortRequest | Message::Nack(_) => Ok(()),
            Message::Ack(data) => w.put(data),
            Message::Authorisation(b)
            | Message::StatusInformation(b)
            | Message::PrintTextBlock(b)
            | Message::Completion(Completion::Bitmaps(b))
            | Message::Diagnosis(b)
            | Message::Reservation(b)
            | Message::PartialReversal(b)
            | Message::BookTotal(b)
            | Message::PreAuthReversal(b) => b.write(w),
            Message::IntermediateStatus(s) => {
                w.byte(s.status)?;
                if let Some(t) = s.timeout {
                    w.byte(t)?;
                }
                tlv(w, s.tlv)
            }
            Message::PrintLine(p) => {
                w.byte(p.attribute)?;
                w.put(p.text)
            }
            Message::Completion(Completion::Software {
                version,
                status,
                tlv: t,
            }) => {
                w.var(0, version, 3)?;
                w.byte(*status)?;
                tlv(w, *t)
            }
            Message::Abort(a) => {
                w.byte(a.result_code)?;
                if let Some(cc) = a.currency {
                    if a.result_code != RESULT_WRONG_CURRENCY {
                        return Err(Error::ZvtField {
                            bmp: number::CURRENCY,
                        });
                    }
                    w.bcd(number::CURRENCY, u64::from(cc), 2)?;
                } else if a.result_code == RESULT_WRONG_CURRENCY && !a.bmps.is_empty_but_tlv() {
                    // The parser reads two bytes after code 6F as the currency.
                    return Err(Error::ZvtField {
                        bmp: number::CURRENCY,
                    });
                }
                a.bmps.write(w)
            }
            Message::Reversal(p)
            | Message::Refund(p)
            | Message::RepeatReceipt(p)
            | Message::EndOfDay(p) => {
                pw(w, p.password)?;
                p.bmps.write(w)
            }
            Message::StatusEnquiry(s) => {
                if let Some(p) = s.password {
                    if s.bmps.service_byte.is_none() {
                        return Err(Error::ZvtField {
                            bmp: number::PASSWORD,
                        });
                    }
                    pw(w, p)?;
                }
                s.bmps.write(w)
            }
        }
    }

    /// Bytes of the APDU's data; errors as [`Message::emit`] except the buffer's.
    fn data_len(&self) -> Result<usize> {
        let mut dry = Writer::dry();
        self.write_data(&mut dry)?;
        Ok(dry.pos())
    }

    /// Builds the message's APDU into `window` (a session's frame, built when polled: see
    /// [`Window`]); errors as [`Message::emit`] except the buffer's, found before a byte is
    /// written.
    pub(crate) fn emit_window<'b>(&self, window: Window<'b>) -> Result<Window<'b>> {
        let len = self.data_len()?;
        let (class, instr) = self.control();
        let mut w = Writer::window(window);
        put_header(&mut w, class, instr, len)?;
        self.write_data(&mut w)?;
        w.into_window().ok_or(Error::ZvtApduLength { len: 0 })
    }

    /// Bytes [`Message::emit`] writes; errors as [`Message::emit`] except the buffer's.
    pub fn encoded_len(&self) -> Result<usize> {
        let len = self.data_len()?;
        Ok(2 + length_field_len(len) + len)
    }

    /// Writes the message as an APDU into `out` and returns its length. A value that does not
    /// fit its field (see [`Bmps`]) is [`Error::ZvtField`]; a status enquiry's password
    /// without a service byte, or an abort's currency with a result code other than
    /// [`RESULT_WRONG_CURRENCY`], is [`Error::ZvtField`] too (the parser could not read them
    /// back). An `out` too small is [`Error::BufferTooSmall`] and is left untouched.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let len = self.data_len()?;
        let needed = 2 + length_field_len(len) + len;
        let out = out
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed })?;
        let (class, instr) = self.control();
        let head = emit_header(class, instr, len, out)?;
        let mut w = Writer::new(out.get_mut(head..).unwrap_or_default());
        self.write_data(&mut w)?;
        Ok(head + w.pos())
    }
}

/// Writes an APDU header (`class instr length`, the length one byte or `FF` and two bytes
/// little-endian) through `w`; a length over 65 535 is [`Error::ZvtApduLength`].
pub(crate) fn put_header(w: &mut Writer<'_>, class: u8, instr: u8, len: usize) -> Result<()> {
    let Ok(len16) = u16::try_from(len) else {
        return Err(Error::ZvtApduLength { len: u16::MAX });
    };
    match u8::try_from(len16) {
        Ok(short) if short != super::apdu::EXTENDED_LENGTH => w.put(&[class, instr, short]),
        _ => {
            let [lo, hi] = len16.to_le_bytes();
            w.put(&[class, instr, super::apdu::EXTENDED_LENGTH, lo, hi])
        }
    }
}
