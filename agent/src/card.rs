//! Card presentation behind the [`CardReader`] trait, and the built-in [`SimulatedReader`]
//! that presents scripted cards (`--cards FILE`) or a default chip card.
//!
//! **Chip data per transaction.** A chip or contactless card without a fixed `emv` answers
//! every read as a card answers GENERATE AC: the reader is told the transaction
//! ([`CardTxn`]: amount, cash back, type, date) and the card returns its data for field 55 —
//! the terminal's objects (`9F02` amount, `9F03` other amount, `9A` date, `9C` type, `5F2A`
//! currency, `9F1A` country [`TERMINAL_COUNTRY`], `95` TVR, `9F37` a fresh unpredictable
//! number), the card's own (`84` DF name, `82` AIP, `9F36` its transaction counter, one more
//! each read of that card number, `9F10` issuer application data, `9F27` an ARQC) and the
//! cryptogram `9F26` over them, made with the card's test key
//! ([`ecrlink_core::bank::cryptogram`]: HMAC-SHA-256 under a key derived from the card
//! number and sequence number — **a test scheme, not a card scheme's ARQC**). The issuer key
//! is the simulators' public test key unless the card sets `issuer_key`. The bank
//! simulator checks the cryptogram and declines a wrong one (`82`).
//!
//! A cards file is TOML; cards are presented in order and the list starts over at its end:
//! ```toml
//! [[card]]
//! pan = "4761739001010119"   # 12-19 digits; the scheme is guessed from the BIN
//! scheme = "visa"            # optional: visa, mastercard, maestro, amex, other
//! entry = "chip"             # chip, contactless, swipe, manual
//! emv = "9F02060000000012"   # optional fixed BER-TLV in hex; else chip data per transaction
//! delay = "300ms"            # time until the card is presented
//! pin = "accepted"           # accepted, wrong, bypassed, none
//! expiry = "2812"            # optional YYMM (default 3012): field 14
//! psn = 1                    # optional PAN sequence number 0-99 (chip/contactless, default 1)
//! issuer_key = "00…"         # optional 64 hex digits: sign with another issuer's key
//!
//! [[card]]
//! absent = true              # nobody presents a card: the sale is cancelled after `delay`
//! delay = "2s"
//!
//! [[card]]
//! error = "expired"          # the card cannot be used: read, expired, blocked
//!
//! [[merchant]]               # what the merchant types when the terminal asks for the
//! pin = "1234"               # merchant PIN (refund, reversal, close totals): in order,
//! delay = "100ms"            # starting over at the end, apart from the cards
//!
//! [[merchant]]
//! cancel = true              # the merchant presses cancel
//! ```
//!
//! A file may hold only `[[merchant]]` entries (the default card is then presented) or only
//! `[[card]]` entries (a merchant PIN asked for is then cancelled at once: nobody is at the
//! keypad of an unattended run).

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, bail};
use ecrlink_core::bank::cryptogram::{self, CardKey, TEST_ISSUER_MASTER_KEY};
use ecrlink_core::bank::{Expiry, MacKey};
use ecrlink_core::terminal::AuthKind;
use ecrlink_core::txn::RequestKind;
use ecrlink_core::txn::{
    Amount, CardScheme, EmvData, EntryMode, FailReason, Money, Pan, Timestamp,
};
use serde::Deserialize;

use crate::config::parse_duration;

/// The PAN of the default test card (a public EMV test card number, Luhn-valid).
pub const DEFAULT_PAN: &str = "4761739001010119";

/// The terminal's country (EMV `9F1A`, ISO 3166 numeric): 203, the Czech Republic.
pub const TERMINAL_COUNTRY: u16 = 203;

/// The expiry date of a card that does not give one (December 2030).
pub const DEFAULT_EXPIRY: (u8, u8) = (30, 12);

/// What the terminal tells the card about the transaction (the data a card's GENERATE AC
/// asks for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardTxn {
    /// The amount authorised (cash back included).
    pub amount: Money,
    /// Sale, sale with cash back or refund.
    pub kind: AuthKind,
    /// The cash-back part of `amount`.
    pub cashback: Option<Amount>,
    /// The terminal's date and time.
    pub date: Timestamp,
}

/// What the cardholder did with the PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinOutcome {
    /// PIN entered and accepted.
    Accepted,
    /// Wrong PIN: the terminal declines (code 55).
    Wrong,
    /// PIN entry bypassed; the cardholder signs.
    Bypassed,
    /// No PIN asked (contactless under the limit, swipe).
    NotAsked,
}

/// A card read by the reader. The full PAN lives here only on its way to the bank.
#[derive(Clone, Debug)]
pub struct Card {
    /// Primary account number.
    pub pan: Pan,
    /// Scheme.
    pub scheme: CardScheme,
    /// How it was read.
    pub entry_mode: EntryMode,
    /// Expiry date (field 14).
    pub expiry: Option<Expiry>,
    /// PAN sequence number (field 23; chip cards).
    pub sequence: Option<u8>,
    /// EMV tags from the card (BER-TLV).
    pub emv: EmvData,
    /// PIN outcome.
    pub pin: PinOutcome,
}

/// What presenting a card gave.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum CardRead {
    /// A card was read.
    Card(Card),
    /// No card was presented (the cardholder walked away or cancelled).
    NoCard,
    /// The card could not be used.
    Failed(FailReason),
}

/// A boxed future, as the reader trait returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the merchant typed when the terminal asked for the merchant PIN.
#[derive(Clone, PartialEq, Eq)]
pub enum MerchantInput {
    /// The PIN (never logged).
    Pin(String),
    /// The merchant cancelled, or nobody is at the keypad.
    Cancelled,
}

impl std::fmt::Debug for MerchantInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MerchantInput::Pin(_) => f.write_str("Pin(****)"),
            MerchantInput::Cancelled => f.write_str("Cancelled"),
        }
    }
}

/// A card reader (and the terminal's keypad). The engine drops the future to abort the wait
/// (till abort, transaction limit), so implementations must be cancel-safe.
pub trait CardReader: Send {
    /// Waits for a card for the transaction `txn`.
    fn read(&mut self, txn: CardTxn) -> BoxFuture<'_, CardRead>;

    /// Waits for the merchant PIN before a request of `kind` goes on. The default: no keypad,
    /// cancelled at once.
    fn merchant_pin(&mut self, kind: RequestKind) -> BoxFuture<'_, MerchantInput> {
        let _ = kind;
        Box::pin(async { MerchantInput::Cancelled })
    }
}

/// One scripted merchant PIN entry.
#[derive(Clone, Debug)]
pub struct MerchantScript {
    /// Time until it is typed.
    pub delay: Duration,
    /// What is typed.
    pub input: MerchantInput,
}

/// One scripted presentation.
#[derive(Clone, Debug)]
pub struct Script {
    /// Time until it happens.
    pub delay: Duration,
    /// What happens.
    pub read: CardRead,
    /// For a chip or contactless card without fixed EMV data: what makes its chip data per
    /// transaction.
    pub chip: Option<Chip>,
}

/// A card's chip: its application and its test key. The chip data of each read is made by
/// [`Chip::generate`].
#[derive(Clone, Debug)]
pub struct Chip {
    scheme: CardScheme,
    pin: PinOutcome,
    key: CardKey,
}

impl Chip {
    /// The chip of card `pan` (sequence number `sequence`) whose key comes from `issuer`.
    pub fn new(
        pan: &Pan,
        sequence: u8,
        scheme: CardScheme,
        pin: PinOutcome,
        issuer: &MacKey,
    ) -> Self {
        Chip {
            scheme,
            pin,
            key: CardKey::derive(issuer, pan, sequence),
        }
    }

    /// The chip data of one transaction, counter `atc`, unpredictable number `un` (see the
    /// module documentation for what it holds).
    pub fn generate(&self, txn: &CardTxn, sequence: u8, atc: u16, un: [u8; 4]) -> EmvData {
        let (aid, label): (&[u8], &[u8]) = match self.scheme {
            CardScheme::Mastercard => (&[0xA0, 0, 0, 0, 0x04, 0x10, 0x10], b"MASTERCARD"),
            CardScheme::Maestro => (&[0xA0, 0, 0, 0, 0x04, 0x30, 0x60], b"MAESTRO"),
            _ => (&[0xA0, 0, 0, 0, 0x03, 0x10, 0x10], b"VISA CREDIT"),
        };
        let other = txn.cashback.map_or(0, Amount::minor);
        let ttype = match txn.kind {
            AuthKind::Sale => 0x00,
            AuthKind::Cashback => 0x09,
            AuthKind::Refund => 0x20,
        };
        // TVR byte 3, bit 4: PIN pad present, PIN not entered (bypassed).
        let tvr_pin = if self.pin == PinOutcome::Bypassed {
            0x08
        } else {
            0
        };
        let year = (txn.date.year % 100) as u8;
        let mut v = Vec::new();
        tlv(&mut v, &[0x4F], aid);
        tlv(&mut v, &[0x50], label);
        tlv(&mut v, &[0x84], aid);
        tlv(&mut v, &[0x82], &[0x39, 0x00]);
        tlv(&mut v, &[0x5F, 0x34], &bcd::<1>(u64::from(sequence)));
        tlv(&mut v, &[0x9F, 0x02], &bcd::<6>(txn.amount.minor()));
        tlv(&mut v, &[0x9F, 0x03], &bcd::<6>(other));
        tlv(
            &mut v,
            &[0x9F, 0x1A],
            &bcd::<2>(u64::from(TERMINAL_COUNTRY)),
        );
        tlv(&mut v, &[0x95], &[0x00, 0x00, tvr_pin, 0x80, 0x00]);
        tlv(
            &mut v,
            &[0x5F, 0x2A],
            &bcd::<2>(u64::from(txn.amount.currency.numeric())),
        );
        let date = [year, txn.date.month, txn.date.day].map(|d| bcd::<1>(u64::from(d))[0]);
        tlv(&mut v, &[0x9A], &date);
        tlv(&mut v, &[0x9C], &[ttype]);
        tlv(&mut v, &[0x9F, 0x37], &un);
        tlv(&mut v, &[0x9B], &[0xE8, 0x00]);
        tlv(&mut v, &[0x9F, 0x36], &atc.to_be_bytes());
        tlv(
            &mut v,
            &[0x9F, 0x10],
            &[0x06, 0x01, 0x0A, 0x03, 0xA0, 0x00, 0x00],
        );
        tlv(&mut v, &[0x9F, 0x27], &[0x80]);
        tlv(&mut v, &[0x9F, 0x34], &cvm(self.pin));
        // Every covered object is there: the cryptogram cannot fail to compute.
        if let Ok(ac) = cryptogram::compute(&self.key, &v) {
            tlv(&mut v, &[0x9F, 0x26], &ac);
        }
        EmvData::from_slice(&v).unwrap_or_default()
    }
}

/// `v` as `N` bytes of packed BCD (leading zeros), the low digits if it has more.
fn bcd<const N: usize>(mut v: u64) -> [u8; N] {
    let mut out = [0u8; N];
    for b in out.iter_mut().rev() {
        let lo = (v % 10) as u8;
        v /= 10;
        let hi = (v % 10) as u8;
        v /= 10;
        *b = hi << 4 | lo;
    }
    out
}

/// A fresh unpredictable number (`9F37`): std's per-process random hash keys, a counter and
/// the clock, hashed. Unpredictable enough for a simulator; not a cryptographic generator.
fn unpredictable_number() -> [u8; 4] {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    let x = h.finish();
    [(x >> 24) as u8, (x >> 16) as u8, (x >> 8) as u8, x as u8]
}

/// The simulated reader: presents its scripts in order, starting over at the end. It keeps
/// each card's transaction counter (`9F36`): in memory (a new reader starts at 1), or in a
/// file given with [`SimulatedReader::with_counter_file`] so that the counters go on rising
/// across restarts, as a real card's do.
#[derive(Clone, Debug)]
pub struct SimulatedReader {
    scripts: Vec<Script>,
    next: usize,
    /// Counter by card ([`card_id`]: never the card number itself).
    counters: HashMap<String, u16>,
    counter_file: Option<std::path::PathBuf>,
    merchant: Vec<MerchantScript>,
    merchant_next: usize,
}

/// The name of the file in the journal directory that keeps the cards' counters.
pub const COUNTER_FILE: &str = "card-counters.toml";

/// What the counters are kept under: 16 hex digits of HMAC-SHA-256 of the card number under
/// a fixed key, so that the counter file (or a dump of memory) never holds a card number.
fn card_id(pan: &Pan) -> String {
    let key = MacKey::new(*b"ecrlink card counter id, no PAN!");
    key.mac(pan.digits().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl SimulatedReader {
    /// A reader presenting the default test card (chip, PIN accepted) after `delay`.
    pub fn default_card(delay: Duration) -> Self {
        let card = default_card();
        let chip = Chip::new(
            &card.pan,
            1,
            card.scheme,
            card.pin,
            &MacKey::new(TEST_ISSUER_MASTER_KEY),
        );
        SimulatedReader {
            scripts: vec![Script {
                delay,
                read: CardRead::Card(card),
                chip: Some(chip),
            }],
            next: 0,
            counters: HashMap::new(),
            counter_file: None,
            merchant: Vec::new(),
            merchant_next: 0,
        }
    }

    /// A reader presenting `scripts` in order; an empty list is an error.
    pub fn new(scripts: Vec<Script>) -> anyhow::Result<Self> {
        if scripts.is_empty() {
            bail!("a card script needs at least one card");
        }
        Ok(SimulatedReader {
            scripts,
            next: 0,
            counters: HashMap::new(),
            counter_file: None,
            merchant: Vec::new(),
            merchant_next: 0,
        })
    }

    /// This reader with a merchant keypad typing `merchant` in order, starting over at the
    /// end.
    pub fn with_merchant(mut self, merchant: Vec<MerchantScript>) -> Self {
        self.merchant = merchant;
        self.merchant_next = 0;
        self
    }

    /// Loads a cards file (format in the module documentation).
    pub fn load(path: &Path, default_delay: Duration) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading cards {}", path.display()))?;
        Self::parse(&text, default_delay).with_context(|| format!("cards {}", path.display()))
    }

    /// Parses the TOML text of a cards file.
    pub fn parse(text: &str, default_delay: Duration) -> anyhow::Result<Self> {
        let file: CardsFile = toml::from_str(text)?;
        if file.card.is_empty() && file.merchant.is_empty() {
            bail!("a cards file needs at least one [[card]] or [[merchant]] entry");
        }
        let mut scripts = file
            .card
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                c.script(default_delay)
                    .with_context(|| format!("card #{}", i + 1))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if scripts.is_empty() {
            scripts = SimulatedReader::default_card(default_delay).scripts;
        }
        let merchant = file
            .merchant
            .into_iter()
            .enumerate()
            .map(|(i, m)| m.script().with_context(|| format!("merchant #{}", i + 1)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self::new(scripts)?.with_merchant(merchant))
    }
}

impl SimulatedReader {
    /// Keeps the counters in `path` (TOML: card id = counter, no card numbers): read now if
    /// the file exists (one that cannot be read or parsed is an error), rewritten after every
    /// read of a chip card.
    pub fn with_counter_file(mut self, path: std::path::PathBuf) -> anyhow::Result<Self> {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                self.counters = toml::from_str(&text)
                    .with_context(|| format!("card counters {}", path.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("reading card counters {}", path.display()));
            }
        }
        self.counter_file = Some(path);
        Ok(self)
    }

    /// The card number's next transaction counter (1 for its first read, never 0), kept in
    /// the counter file if there is one (a failed write is logged; the read goes on).
    fn next_atc(&mut self, pan: &Pan) -> u16 {
        let atc = self.counters.entry(card_id(pan)).or_insert(0);
        *atc = atc.checked_add(1).unwrap_or(1);
        let atc = *atc;
        if let Some(path) = &self.counter_file {
            let tmp = path.with_extension("toml.tmp");
            let written = toml::to_string(&self.counters)
                .map_err(std::io::Error::other)
                .and_then(|bytes| std::fs::write(&tmp, bytes))
                .and_then(|()| std::fs::rename(&tmp, path));
            if let Err(e) = written {
                tracing::warn!(file = %path.display(), error = %e, "card counters not saved");
            }
        }
        atc
    }
}

impl CardReader for SimulatedReader {
    fn read(&mut self, txn: CardTxn) -> BoxFuture<'_, CardRead> {
        let mut script = self.scripts[self.next % self.scripts.len()].clone();
        self.next = (self.next + 1) % self.scripts.len();
        if let (CardRead::Card(card), Some(chip)) = (&mut script.read, &script.chip) {
            let atc = self.next_atc(&card.pan);
            let sequence = card.sequence.unwrap_or(0);
            card.emv = chip.generate(&txn, sequence, atc, unpredictable_number());
        }
        Box::pin(async move {
            // A zero delay must not go through the timer: tokio fires timers on its next
            // millisecond tick, which was most of a whole transaction's time under `load`.
            if !script.delay.is_zero() {
                tokio::time::sleep(script.delay).await;
            }
            script.read
        })
    }

    fn merchant_pin(&mut self, kind: RequestKind) -> BoxFuture<'_, MerchantInput> {
        let Some(script) = self
            .merchant
            .get(self.merchant_next % self.merchant.len().max(1))
            .cloned()
        else {
            tracing::warn!(
                request = kind.name(),
                "merchant PIN asked, but the cards script has no [[merchant]] entry: cancelled"
            );
            return Box::pin(async { MerchantInput::Cancelled });
        };
        self.merchant_next = (self.merchant_next + 1) % self.merchant.len();
        Box::pin(async move {
            if !script.delay.is_zero() {
                tokio::time::sleep(script.delay).await;
            }
            script.input
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardsFile {
    #[serde(default)]
    card: Vec<CardEntry>,
    #[serde(default)]
    merchant: Vec<MerchantEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MerchantEntry {
    pin: Option<String>,
    #[serde(default)]
    cancel: bool,
    delay: Option<String>,
}

impl MerchantEntry {
    fn script(self) -> anyhow::Result<MerchantScript> {
        let delay = match &self.delay {
            Some(d) => parse_duration(d)?,
            None => Duration::ZERO,
        };
        let input = match (self.pin, self.cancel) {
            (Some(_), true) => bail!("give pin or cancel = true, not both"),
            (None, false) => bail!("give pin = \"1234\" or cancel = true"),
            (None, true) => MerchantInput::Cancelled,
            (Some(p), false) => {
                if p.is_empty() || p.len() > ecrlink_core::terminal::confirm::MAX_PIN {
                    bail!("pin must be 1 to 32 characters");
                }
                MerchantInput::Pin(p)
            }
        };
        Ok(MerchantScript { delay, input })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardEntry {
    pan: Option<String>,
    scheme: Option<String>,
    entry: Option<String>,
    emv: Option<String>,
    delay: Option<String>,
    pin: Option<String>,
    expiry: Option<String>,
    psn: Option<u8>,
    issuer_key: Option<String>,
    #[serde(default)]
    absent: bool,
    error: Option<String>,
}

impl CardEntry {
    fn script(self, default_delay: Duration) -> anyhow::Result<Script> {
        let delay = match &self.delay {
            Some(d) => parse_duration(d)?,
            None => default_delay,
        };
        if self.absent {
            return Ok(Script {
                delay,
                read: CardRead::NoCard,
                chip: None,
            });
        }
        if let Some(e) = &self.error {
            let reason = match e.as_str() {
                "read" => FailReason::CardError,
                "expired" => FailReason::CardExpired,
                "blocked" => FailReason::CardBlocked,
                _ => bail!("error must be read, expired or blocked, got {e:?}"),
            };
            return Ok(Script {
                delay,
                read: CardRead::Failed(reason),
                chip: None,
            });
        }
        let pan_text = self.pan.as_deref().unwrap_or(DEFAULT_PAN);
        let pan = Pan::new(pan_text).map_err(|e| anyhow::anyhow!("pan: {e}"))?;
        let scheme = match self.scheme.as_deref() {
            None => CardScheme::from_bin(pan.masked().bin()),
            Some("visa") => CardScheme::Visa,
            Some("mastercard") => CardScheme::Mastercard,
            Some("maestro") => CardScheme::Maestro,
            Some("amex") => CardScheme::Amex,
            Some("other") => CardScheme::Other,
            Some(s) => bail!("unknown scheme {s:?}"),
        };
        let entry_mode = match self.entry.as_deref().unwrap_or("chip") {
            "chip" => EntryMode::Chip,
            "contactless" => EntryMode::Contactless,
            "swipe" => EntryMode::Swipe,
            "manual" => EntryMode::Manual,
            s => bail!("entry must be chip, contactless, swipe or manual, got {s:?}"),
        };
        let pin = match self.pin.as_deref() {
            None if entry_mode == EntryMode::Chip => PinOutcome::Accepted,
            None => PinOutcome::NotAsked,
            Some("accepted") => PinOutcome::Accepted,
            Some("wrong") => PinOutcome::Wrong,
            Some("bypassed") => PinOutcome::Bypassed,
            Some("none") => PinOutcome::NotAsked,
            Some(s) => bail!("pin must be accepted, wrong, bypassed or none, got {s:?}"),
        };
        let chip_read = matches!(entry_mode, EntryMode::Chip | EntryMode::Contactless);
        let expiry = match self.expiry.as_deref() {
            Some(e) => Expiry::parse(e.as_bytes())
                .map_err(|_| anyhow::anyhow!("expiry must be YYMM (month 01-12), got {e:?}"))?,
            None => Expiry::new(DEFAULT_EXPIRY.0, DEFAULT_EXPIRY.1)
                .map_err(|_| anyhow::anyhow!("default expiry"))?,
        };
        let sequence = match self.psn {
            Some(n) if n > 99 => bail!("psn must be 0-99, got {n}"),
            Some(n) => Some(n),
            None if chip_read => Some(1),
            None => None,
        };
        let issuer = match &self.issuer_key {
            Some(k) => MacKey::from_hex(k.as_bytes())
                .map_err(|_| anyhow::anyhow!("issuer_key must be 64 hex digits"))?,
            None => MacKey::new(TEST_ISSUER_MASTER_KEY),
        };
        let (emv, chip) = match &self.emv {
            Some(h) => {
                let bytes = parse_hex(h)?;
                let emv = EmvData::from_slice(&bytes)
                    .map_err(|_| anyhow::anyhow!("emv: over 256 bytes"))?;
                (emv, None)
            }
            None if chip_read => (
                EmvData::new(),
                Some(Chip::new(&pan, sequence.unwrap_or(0), scheme, pin, &issuer)),
            ),
            None => (EmvData::new(), None),
        };
        Ok(Script {
            delay,
            read: CardRead::Card(Card {
                pan,
                scheme,
                entry_mode,
                expiry: Some(expiry),
                sequence,
                emv,
                pin,
            }),
            chip,
        })
    }
}

fn parse_hex(s: &str) -> anyhow::Result<Vec<u8>> {
    let clean: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if clean.len() % 2 != 0 {
        bail!("hex has an odd number of digits");
    }
    clean
        .chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).unwrap_or("zz");
            u8::from_str_radix(s, 16).map_err(|_| anyhow::anyhow!("bad hex {s:?}"))
        })
        .collect()
}

fn tlv(out: &mut Vec<u8>, tag: &[u8], value: &[u8]) {
    out.extend_from_slice(tag);
    out.push(value.len() as u8);
    out.extend_from_slice(value);
}

/// CVM results (`9F34`): method (`01` plaintext PIN by the card, `1E` signature, `1F` no
/// CVM), condition `03`, result (`02` successful, `01` failed, `00` unknown).
fn cvm(pin: PinOutcome) -> [u8; 3] {
    match pin {
        PinOutcome::Accepted => [0x01, 0x03, 0x02],
        PinOutcome::Wrong => [0x01, 0x03, 0x01],
        PinOutcome::Bypassed => [0x1E, 0x03, 0x00],
        PinOutcome::NotAsked => [0x1F, 0x03, 0x02],
    }
}

/// The default test card: Visa, chip, PIN accepted, sequence number 1 (its chip data is made
/// per read by the [`SimulatedReader`]).
pub fn default_card() -> Card {
    let pan = Pan::new(DEFAULT_PAN).unwrap_or_else(|_| unreachable!("constant PAN is valid"));
    Card {
        scheme: CardScheme::Visa,
        entry_mode: EntryMode::Chip,
        expiry: Expiry::new(DEFAULT_EXPIRY.0, DEFAULT_EXPIRY.1).ok(),
        sequence: Some(1),
        emv: EmvData::new(),
        pin: PinOutcome::Accepted,
        pan,
    }
}

/// Test cards a tester can present live (the browser page of `--ui`): one Luhn-valid number
/// per scheme.
pub const SCHEME_TEST_PANS: [(CardScheme, &str); 4] = [
    (CardScheme::Visa, DEFAULT_PAN),
    (CardScheme::Mastercard, "5413330089020011"),
    (CardScheme::Maestro, "6759000000000000"),
    (CardScheme::Amex, "374245455400126"),
];

/// Test cards the bank declines with a chosen ISO 8583 response code, when its rules say so:
/// `docs/ui-bank-rules.toml` (the rules `ecrlink-sim demo --ui` gives its bank) holds one
/// `pan = …, code = …` rule per card. Luhn-valid, BIN 400000 (Visa).
pub const DECLINE_TEST_PANS: [(&str, &str); 6] = [
    ("05", "4000000000000051"),
    ("51", "4000000000000515"),
    ("54", "4000000000000549"),
    ("61", "4000000000000614"),
    ("91", "4000000000000911"),
    ("14", "4000000000000143"),
];

/// A test card as a tester describes it: how it is read, its scheme, what the cardholder
/// does with the PIN, and optionally the bank response code it is meant to get.
pub fn test_card(
    entry: EntryMode,
    scheme: CardScheme,
    pin: PinOutcome,
    decline: Option<&str>,
) -> anyhow::Result<Card> {
    let pan_text = match decline {
        Some(code) => DECLINE_TEST_PANS
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, p)| *p)
            .ok_or_else(|| anyhow::anyhow!("no test card declined with code {code:?}"))?,
        None => SCHEME_TEST_PANS
            .iter()
            .find(|(s, _)| *s == scheme)
            .map(|(_, p)| *p)
            .ok_or_else(|| anyhow::anyhow!("no test card of scheme {}", scheme.name()))?,
    };
    let pan = Pan::new(pan_text).map_err(|e| anyhow::anyhow!("pan: {e}"))?;
    let scheme = if decline.is_some() {
        CardScheme::from_bin(pan.masked().bin())
    } else {
        scheme
    };
    // A swiped card asks no PIN here (the cardholder signs); manual entry neither.
    let pin = match entry {
        EntryMode::Swipe | EntryMode::Manual => PinOutcome::NotAsked,
        _ => pin,
    };
    // Chip data is made per read by the [`LiveReader`] (see [`Chip::generate`]).
    Ok(Card {
        pan,
        scheme,
        entry_mode: entry,
        expiry: Expiry::new(DEFAULT_EXPIRY.0, DEFAULT_EXPIRY.1).ok(),
        sequence: Some(1),
        emv: EmvData::new(),
        pin,
    })
}

/// What a tester does at the reader, live (the browser page of `--ui`).
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum TesterAction {
    /// Presents this card (inserted, tapped or swiped).
    Present(Card),
    /// Takes the card out (during PIN entry: the read fails as a card error).
    Remove,
    /// Presses the terminal's red key: the card wait ends with no card (cancelled); while the
    /// merchant PIN is asked, the merchant cancels.
    Cancel,
    /// The merchant types this PIN on the terminal's keypad when it asks for it (never shown
    /// by `Debug`).
    MerchantPin(String),
}

impl std::fmt::Debug for TesterAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TesterAction::Present(card) => f.debug_tuple("Present").field(card).finish(),
            TesterAction::Remove => f.write_str("Remove"),
            TesterAction::Cancel => f.write_str("Cancel"),
            TesterAction::MerchantPin(_) => f.write_str("MerchantPin(****)"),
        }
    }
}

/// How long the terminal shows PIN entry for a card presented by a tester before the PIN
/// counts as entered (time for "remove the card" to be tried).
pub const TESTER_PIN_TIME: Duration = Duration::from_millis(1500);

/// The tester's side of the reader: actions from the page, and whether the page decides
/// (then the scripted cards wait; nothing presented means the transaction times out).
pub struct CardDesk {
    tester_decides: std::sync::atomic::AtomicBool,
    tx: tokio::sync::mpsc::UnboundedSender<TesterAction>,
    rx: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<TesterAction>>>,
    waiting: std::sync::atomic::AtomicBool,
    asking_pin: std::sync::atomic::AtomicBool,
}

impl Default for CardDesk {
    fn default() -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        CardDesk {
            tester_decides: Default::default(),
            tx,
            rx: std::sync::Mutex::new(Some(rx)),
            waiting: Default::default(),
            asking_pin: Default::default(),
        }
    }
}

impl CardDesk {
    /// Whether the page decides what the cardholder does (else `--cards` or the default card).
    pub fn tester_decides(&self) -> bool {
        self.tester_decides
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Lets the page decide (`true`) or the scripted cards (`false`) from the next card wait.
    pub fn set_tester_decides(&self, on: bool) {
        self.tester_decides
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the reader waits for a card now.
    pub fn is_waiting(&self) -> bool {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the terminal waits for the merchant PIN from the page now.
    pub fn is_asking_pin(&self) -> bool {
        self.asking_pin.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Hands an action to the reader. Actions the terminal does not wait for are dropped (a
    /// card tapped on an idle terminal, a merchant PIN nobody asked): `false` then. A cancel
    /// counts while a card or the merchant PIN is awaited.
    pub fn act(&self, action: TesterAction) -> bool {
        let awaited = match &action {
            TesterAction::MerchantPin(_) => self.is_asking_pin(),
            TesterAction::Cancel => self.is_waiting() || self.is_asking_pin(),
            TesterAction::Present(_) | TesterAction::Remove => self.is_waiting(),
        };
        awaited && self.tx.send(action).is_ok()
    }
}

/// The reader the engine drives: a tester's action (from the page) wins over the scripted
/// reader behind it; while the tester decides, the scripted reader is not asked at all.
pub struct LiveReader {
    fallback: Box<dyn CardReader>,
    desk: std::sync::Arc<CardDesk>,
    actions: Option<tokio::sync::mpsc::UnboundedReceiver<TesterAction>>,
    pin_started: Box<dyn Fn() + Send + Sync>,
    /// Transaction counters of the tester's cards, per card number.
    counters: std::collections::HashMap<String, u16>,
}

impl LiveReader {
    /// Wraps `fallback`; `pin_started` is called when a tester's card asks for its PIN (the
    /// page shows PIN entry). Only the first reader over a desk gets its actions.
    pub fn new(
        fallback: Box<dyn CardReader>,
        desk: std::sync::Arc<CardDesk>,
        pin_started: Box<dyn Fn() + Send + Sync>,
    ) -> Self {
        let actions = desk.rx.lock().ok().and_then(|mut g| g.take());
        LiveReader {
            fallback,
            desk,
            actions,
            pin_started,
            counters: std::collections::HashMap::new(),
        }
    }
}

/// Marks the desk as waiting for a card while it lives.
struct Waiting<'a>(&'a std::sync::atomic::AtomicBool);

impl<'a> Waiting<'a> {
    fn start(flag: &'a std::sync::atomic::AtomicBool) -> Self {
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        Waiting(flag)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Waits for the tester: a card (after PIN entry when it asks for one), or a cancel.
async fn tester_read(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<TesterAction>,
    pin_started: &(dyn Fn() + Send + Sync),
) -> CardRead {
    loop {
        match rx.recv().await {
            None => std::future::pending::<()>().await,
            Some(TesterAction::Cancel) => return CardRead::NoCard,
            Some(TesterAction::Remove | TesterAction::MerchantPin(_)) => {}
            Some(TesterAction::Present(card)) => {
                if card.pin == PinOutcome::NotAsked || card.entry_mode != EntryMode::Chip {
                    return CardRead::Card(card);
                }
                pin_started();
                let pin_done = tokio::time::sleep(TESTER_PIN_TIME);
                tokio::pin!(pin_done);
                loop {
                    tokio::select! {
                        _ = &mut pin_done => return CardRead::Card(card),
                        a = rx.recv() => match a {
                            Some(TesterAction::Remove) => return CardRead::Failed(FailReason::CardError),
                            Some(TesterAction::Cancel) => return CardRead::NoCard,
                            // Another card while one is in the slot, a merchant PIN nobody
                            // asked, or the page gone: ignored.
                            Some(TesterAction::Present(_) | TesterAction::MerchantPin(_)) | None => {}
                        }
                    }
                }
            }
        }
    }
}

impl CardReader for LiveReader {
    fn read(&mut self, txn: CardTxn) -> BoxFuture<'_, CardRead> {
        let LiveReader {
            fallback,
            desk,
            actions,
            pin_started,
            counters,
        } = self;
        Box::pin(async move {
            let Some(rx) = actions.as_mut() else {
                return fallback.read(txn).await;
            };
            // What was done while no card was awaited does not count.
            while rx.try_recv().is_ok() {}
            // Cleared when the read ends or is dropped (a cancel, the transaction limit).
            let _waiting = Waiting::start(&desk.waiting);
            let decides = desk.tester_decides();
            let scripted = async {
                if decides {
                    std::future::pending().await
                } else {
                    fallback.read(txn).await
                }
            };
            let tester = async {
                let mut read = tester_read(rx, pin_started.as_ref()).await;
                if let CardRead::Card(card) = &mut read {
                    if matches!(card.entry_mode, EntryMode::Chip | EntryMode::Contactless) {
                        let sequence = card.sequence.unwrap_or(0);
                        let chip = Chip::new(
                            &card.pan,
                            sequence,
                            card.scheme,
                            card.pin,
                            &MacKey::new(TEST_ISSUER_MASTER_KEY),
                        );
                        let atc = counters.entry(card.pan.digits().to_string()).or_insert(0);
                        *atc = atc.checked_add(1).unwrap_or(1);
                        card.emv = chip.generate(&txn, sequence, *atc, unpredictable_number());
                    }
                }
                read
            };
            tokio::select! {
                biased;
                r = scripted => r,
                r = tester => r,
            }
        })
    }

    /// While the tester decides, the merchant PIN comes from the page (a
    /// [`TesterAction::MerchantPin`], or a [`TesterAction::Cancel`]); otherwise from the
    /// wrapped reader (the scripted `[[merchant]]` entries).
    fn merchant_pin(&mut self, kind: RequestKind) -> BoxFuture<'_, MerchantInput> {
        let LiveReader {
            fallback,
            desk,
            actions,
            ..
        } = self;
        Box::pin(async move {
            let rx = match actions.as_mut() {
                Some(rx) if desk.tester_decides() => rx,
                _ => return fallback.merchant_pin(kind).await,
            };
            // What was done before the terminal asked does not count.
            while rx.try_recv().is_ok() {}
            // Cleared when the entry ends or is dropped (a till's abort).
            let _asking = Waiting::start(&desk.asking_pin);
            loop {
                match rx.recv().await {
                    None => std::future::pending::<()>().await,
                    Some(TesterAction::MerchantPin(pin)) => return MerchantInput::Pin(pin),
                    Some(TesterAction::Cancel) => return MerchantInput::Cancelled,
                    Some(TesterAction::Present(_) | TesterAction::Remove) => {}
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecrlink_core::bank::cryptogram::Check;
    use ecrlink_core::emv::{self, Tag};
    use ecrlink_core::txn::Currency;

    fn txn(minor: u64) -> CardTxn {
        CardTxn {
            amount: Money::new(minor, Currency::CZK).unwrap(),
            kind: AuthKind::Sale,
            cashback: None,
            date: Timestamp {
                year: 2026,
                month: 12,
                day: 7,
                hour: 9,
                minute: 30,
                second: 0,
            },
        }
    }

    async fn chip_data(r: &mut SimulatedReader, t: CardTxn) -> Card {
        match r.read(t).await {
            CardRead::Card(c) => c,
            other => panic!("{other:?}"),
        }
    }

    fn tag(emv: &[u8], t: u32) -> &[u8] {
        emv::find(emv, Tag::new(t).unwrap())
            .unwrap()
            .unwrap_or_else(|| panic!("no tag {t:X}"))
    }

    fn key_of(c: &Card, master: [u8; 32]) -> CardKey {
        CardKey::derive(&MacKey::new(master), &c.pan, c.sequence.unwrap())
    }

    #[tokio::test]
    async fn each_read_has_its_own_counter_unpredictable_number_and_cryptogram() {
        let mut r = SimulatedReader::default_card(Duration::ZERO);
        let a = chip_data(&mut r, txn(1250)).await;
        let b = chip_data(&mut r, txn(1250)).await;
        assert_eq!(tag(&a.emv, 0x9F36), &[0, 1]);
        assert_eq!(tag(&b.emv, 0x9F36), &[0, 2]);
        assert_ne!(tag(&a.emv, 0x9F37), tag(&b.emv, 0x9F37));
        assert_ne!(tag(&a.emv, 0x9F26), tag(&b.emv, 0x9F26));
        for c in [&a, &b] {
            assert_eq!(
                cryptogram::verify(&key_of(c, TEST_ISSUER_MASTER_KEY), &c.emv),
                Check::Valid
            );
        }
        // The transaction is in it, as the terminal gave it.
        assert_eq!(tag(&a.emv, 0x9F02), &[0, 0, 0, 0, 0x12, 0x50]);
        assert_eq!(tag(&a.emv, 0x9F03), &[0; 6]);
        assert_eq!(tag(&a.emv, 0x5F2A), &[0x02, 0x03]);
        assert_eq!(tag(&a.emv, 0x9F1A), &[0x02, 0x03]);
        assert_eq!(tag(&a.emv, 0x9A), &[0x26, 0x12, 0x07]);
        assert_eq!(tag(&a.emv, 0x9C), &[0x00]);
        assert_eq!(tag(&a.emv, 0x9F27), &[0x80]);
        for t in [0x82, 0x84, 0x95, 0x9F10] {
            tag(&a.emv, t);
        }
        let cashback = CardTxn {
            kind: AuthKind::Cashback,
            cashback: Some(Amount::new(500).unwrap()),
            ..txn(3000)
        };
        let c = chip_data(&mut r, cashback).await;
        assert_eq!(tag(&c.emv, 0x9C), &[0x09]);
        assert_eq!(tag(&c.emv, 0x9F03), &[0, 0, 0, 0, 0x05, 0x00]);
        let refund = CardTxn {
            kind: AuthKind::Refund,
            ..txn(100)
        };
        assert_eq!(tag(&chip_data(&mut r, refund).await.emv, 0x9C), &[0x20]);
    }

    #[tokio::test]
    async fn counters_survive_a_new_reader_through_their_file_which_holds_no_card_number() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(COUNTER_FILE);
        let mut r = SimulatedReader::default_card(Duration::ZERO)
            .with_counter_file(file.clone())
            .unwrap();
        chip_data(&mut r, txn(100)).await;
        chip_data(&mut r, txn(100)).await;
        let mut again = SimulatedReader::default_card(Duration::ZERO)
            .with_counter_file(file.clone())
            .unwrap();
        let c = chip_data(&mut again, txn(100)).await;
        assert_eq!(tag(&c.emv, 0x9F36), &[0, 3]);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains(DEFAULT_PAN), "{text}");
        std::fs::write(&file, "not = [toml").unwrap();
        assert!(
            SimulatedReader::default_card(Duration::ZERO)
                .with_counter_file(file)
                .is_err()
        );
    }

    #[tokio::test]
    async fn counters_are_per_card_number() {
        let mut r = SimulatedReader::parse(
            "[[card]]\npan = \"4761739001010119\"\n[[card]]\npan = \"5413330089010434\"\n",
            Duration::ZERO,
        )
        .unwrap();
        let mut atcs = Vec::new();
        for _ in 0..4 {
            atcs.push(tag(&chip_data(&mut r, txn(100)).await.emv, 0x9F36).to_vec());
        }
        assert_eq!(atcs, [[0, 1], [0, 1], [0, 2], [0, 2]]);
    }

    #[tokio::test]
    async fn a_card_of_another_issuer_does_not_verify_and_a_swipe_has_no_chip_data() {
        let mut r = SimulatedReader::parse(
            &format!(
                "[[card]]\nissuer_key = \"{}\"\npsn = 3\nexpiry = \"2811\"\n\
                 [[card]]\nentry = \"swipe\"\n",
                "11".repeat(32)
            ),
            Duration::ZERO,
        )
        .unwrap();
        let other = chip_data(&mut r, txn(100)).await;
        assert_eq!(other.sequence, Some(3));
        assert_eq!(other.expiry, Some(Expiry::new(28, 11).unwrap()));
        assert_eq!(tag(&other.emv, 0x5F34), &[0x03]);
        assert_eq!(
            cryptogram::verify(&key_of(&other, TEST_ISSUER_MASTER_KEY), &other.emv),
            Check::Invalid
        );
        assert_eq!(
            cryptogram::verify(&key_of(&other, [0x11; 32]), &other.emv),
            Check::Valid
        );
        let swipe = chip_data(&mut r, txn(100)).await;
        assert!(swipe.emv.is_empty());
        assert_eq!(swipe.sequence, None);
        assert!(swipe.expiry.is_some());
    }

    #[tokio::test]
    async fn a_card_without_delay_is_read_at_the_first_poll() {
        let mut r = SimulatedReader::default_card(Duration::ZERO);
        let mut read = r.read(txn(100));
        let waker = std::task::Waker::noop();
        let polled = read
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
        assert!(matches!(polled, std::task::Poll::Ready(CardRead::Card(_))));
    }

    #[tokio::test]
    async fn scripts_cycle_in_order() {
        let mut r = SimulatedReader::parse(
            r#"
            [[card]]
            pan = "5413330089020011"
            entry = "contactless"
            delay = "1ms"
            [[card]]
            absent = true
            delay = "1ms"
            [[card]]
            error = "expired"
            delay = "1ms"
            "#,
            Duration::from_millis(1),
        )
        .unwrap();
        let m = txn(100);
        match r.read(m).await {
            CardRead::Card(c) => {
                assert_eq!(c.scheme, CardScheme::Mastercard);
                assert_eq!(c.entry_mode, EntryMode::Contactless);
                assert_eq!(c.pin, PinOutcome::NotAsked);
                assert!(!c.emv.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(r.read(m).await, CardRead::NoCard));
        assert!(matches!(
            r.read(m).await,
            CardRead::Failed(FailReason::CardExpired)
        ));
        assert!(matches!(r.read(m).await, CardRead::Card(_)));
    }

    #[tokio::test]
    async fn merchant_pins_are_typed_in_order_apart_from_the_cards() {
        let mut r = SimulatedReader::parse(
            "[[merchant]]\npin = \"0000\"\n[[merchant]]\npin = \"4711\"\ndelay = \"1ms\"\n\
             [[merchant]]\ncancel = true\n",
            Duration::ZERO,
        )
        .unwrap();
        let k = RequestKind::Refund;
        assert_eq!(r.merchant_pin(k).await, MerchantInput::Pin("0000".into()));
        // A card read in between does not take a merchant entry.
        assert!(matches!(r.read(txn(100)).await, CardRead::Card(_)));
        assert_eq!(r.merchant_pin(k).await, MerchantInput::Pin("4711".into()));
        assert_eq!(r.merchant_pin(k).await, MerchantInput::Cancelled);
        assert_eq!(r.merchant_pin(k).await, MerchantInput::Pin("0000".into()));
        // Without [[merchant]] entries nobody types: cancelled.
        let mut r = SimulatedReader::default_card(Duration::ZERO);
        assert_eq!(r.merchant_pin(k).await, MerchantInput::Cancelled);
        assert!(!format!("{:?}", MerchantInput::Pin("4711".into())).contains("4711"));
    }

    fn live(
        scripted: Duration,
    ) -> (
        LiveReader,
        std::sync::Arc<CardDesk>,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) {
        let desk = std::sync::Arc::new(CardDesk::default());
        let pins = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let p = pins.clone();
        let r = LiveReader::new(
            Box::new(SimulatedReader::default_card(scripted)),
            desk.clone(),
            Box::new(move || {
                p.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }),
        );
        (r, desk, pins)
    }

    /// Acts once the reader waits (the page's actions while nobody waits are dropped).
    async fn act_when_waiting(desk: &CardDesk, action: TesterAction) {
        while !desk.is_waiting() {
            tokio::task::yield_now().await;
        }
        assert!(desk.act(action));
    }

    #[tokio::test]
    async fn the_testers_card_wins_and_asks_its_pin() {
        let (mut r, desk, pins) = live(Duration::from_secs(3600));
        let card = test_card(
            EntryMode::Chip,
            CardScheme::Mastercard,
            PinOutcome::Wrong,
            None,
        )
        .unwrap();
        let (read, ()) = tokio::join!(
            r.read(txn(100)),
            act_when_waiting(&desk, TesterAction::Present(card))
        );
        match read {
            CardRead::Card(c) => {
                assert_eq!(c.pan.digits(), "5413330089020011");
                assert_eq!(c.pin, PinOutcome::Wrong);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(pins.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(!desk.is_waiting());
        // Nobody waits now: an action is refused, and not kept for the next read.
        assert!(!desk.act(TesterAction::Cancel));
    }

    #[tokio::test]
    async fn cancel_ends_the_wait_and_removing_the_card_during_pin_fails_the_read() {
        let (mut r, desk, _) = live(Duration::from_secs(3600));
        let (read, ()) = tokio::join!(
            r.read(txn(100)),
            act_when_waiting(&desk, TesterAction::Cancel)
        );
        assert!(matches!(read, CardRead::NoCard));
        let card = test_card(
            EntryMode::Chip,
            CardScheme::Visa,
            PinOutcome::Accepted,
            None,
        )
        .unwrap();
        let (read, ()) = tokio::join!(r.read(txn(100)), async {
            act_when_waiting(&desk, TesterAction::Present(card)).await;
            tokio::time::sleep(TESTER_PIN_TIME / 2).await;
            assert!(desk.act(TesterAction::Remove));
        });
        assert!(
            matches!(read, CardRead::Failed(FailReason::CardError)),
            "{read:?}"
        );
    }

    #[tokio::test]
    async fn the_script_plays_unless_the_tester_decides() {
        let (mut r, desk, _) = live(Duration::from_millis(10));
        assert!(matches!(r.read(txn(100)).await, CardRead::Card(_)));
        desk.set_tester_decides(true);
        // The script's card would come after 10 ms; the tester's choice holds it back.
        let waited = tokio::time::timeout(Duration::from_millis(500), r.read(txn(100))).await;
        assert!(waited.is_err(), "a card came without the tester");
    }

    #[tokio::test]
    async fn the_page_types_the_merchant_pin_while_the_tester_decides() {
        let (mut r, desk, _) = live(Duration::ZERO);
        let k = RequestKind::Refund;
        // Nobody asks: a PIN from the page is refused, not kept for later.
        assert!(!desk.act(TesterAction::MerchantPin("4711".into())));
        desk.set_tester_decides(true);
        let asked = async {
            while !desk.is_asking_pin() {
                tokio::task::yield_now().await;
            }
            // A card is not what the keypad waits for.
            assert!(!desk.act(TesterAction::Present(default_card())));
            assert!(desk.act(TesterAction::MerchantPin("4711".into())));
        };
        let (input, ()) = tokio::join!(r.merchant_pin(k), asked);
        assert_eq!(input, MerchantInput::Pin("4711".into()));
        assert!(!desk.is_asking_pin());
        let (input, ()) = tokio::join!(r.merchant_pin(k), async {
            while !desk.is_asking_pin() {
                tokio::task::yield_now().await;
            }
            assert!(desk.act(TesterAction::Cancel));
        });
        assert_eq!(input, MerchantInput::Cancelled);
        // Dropped (a till's abort): no longer asking.
        let waited = tokio::time::timeout(Duration::from_millis(50), r.merchant_pin(k)).await;
        assert!(waited.is_err(), "a merchant PIN came without the tester");
        assert!(!desk.is_asking_pin());
        // The script's keypad (no [[merchant]] entries: cancelled) when the tester does not
        // decide.
        desk.set_tester_decides(false);
        assert_eq!(r.merchant_pin(k).await, MerchantInput::Cancelled);
        assert!(!format!("{:?}", TesterAction::MerchantPin("4711".into())).contains("4711"));
    }

    #[test]
    fn test_cards_are_of_their_scheme_and_a_swipe_asks_no_pin() {
        for (scheme, _) in SCHEME_TEST_PANS {
            let c = test_card(EntryMode::Contactless, scheme, PinOutcome::Accepted, None).unwrap();
            assert_eq!(CardScheme::from_bin(c.pan.masked().bin()), scheme);
        }
        let c = test_card(EntryMode::Swipe, CardScheme::Visa, PinOutcome::Wrong, None).unwrap();
        assert_eq!(c.pin, PinOutcome::NotAsked);
        assert!(c.emv.is_empty());
        let c = test_card(
            EntryMode::Chip,
            CardScheme::Visa,
            PinOutcome::Accepted,
            Some("51"),
        )
        .unwrap();
        assert_eq!(c.pan.digits(), "4000000000000515");
        assert!(
            test_card(
                EntryMode::Chip,
                CardScheme::Visa,
                PinOutcome::Accepted,
                Some("99")
            )
            .is_err()
        );
    }

    #[test]
    fn bad_scripts_are_errors() {
        assert!(SimulatedReader::parse("[[merchant]]\n", Duration::ZERO).is_err());
        assert!(
            SimulatedReader::parse("[[merchant]]\npin = \"1\"\ncancel = true\n", Duration::ZERO)
                .is_err()
        );
        assert!(SimulatedReader::parse("", Duration::ZERO).is_err());
        let d = Duration::ZERO;
        assert!(SimulatedReader::parse("[[card]]\npan = \"12\"\n", d).is_err());
        assert!(SimulatedReader::parse("[[card]]\nentry = \"telepathy\"\n", d).is_err());
        assert!(SimulatedReader::parse("card = []\n", d).is_err());
        assert!(SimulatedReader::parse("[[card]]\nemv = \"ABC\"\n", d).is_err());
        assert!(SimulatedReader::parse("[[card]]\nexpiry = \"2813\"\n", d).is_err());
        assert!(SimulatedReader::parse("[[card]]\npsn = 100\n", d).is_err());
        assert!(SimulatedReader::parse("[[card]]\nissuer_key = \"12\"\n", d).is_err());
    }
}
