//! Card presentation behind the [`CardReader`] trait, and the built-in [`SimulatedReader`]
//! that presents scripted cards (`--cards FILE`) or a default chip card.
//!
//! A cards file is TOML; cards are presented in order and the list starts over at its end:
//! ```toml
//! [[card]]
//! pan = "4761739001010119"   # 12-19 digits; the scheme is guessed from the BIN
//! scheme = "visa"            # optional: visa, mastercard, maestro, amex, other
//! entry = "chip"             # chip, contactless, swipe, manual
//! emv = "9F02060000000012"   # optional BER-TLV in hex; chip/contactless get a default set
//! delay = "300ms"            # time until the card is presented
//! pin = "accepted"           # accepted, wrong, bypassed, none
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

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, bail};
use ecrlink_core::txn::{CardScheme, EmvData, EntryMode, FailReason, Money, Pan, RequestKind};
use serde::Deserialize;

use crate::config::parse_duration;

/// The PAN of the default test card (a public EMV test card number, Luhn-valid).
pub const DEFAULT_PAN: &str = "4761739001010119";

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
    /// Waits for a card for a payment of `amount`.
    fn read(&mut self, amount: Money) -> BoxFuture<'_, CardRead>;

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
}

/// The simulated reader: presents its scripts in order, starting over at the end.
#[derive(Clone, Debug)]
pub struct SimulatedReader {
    scripts: Vec<Script>,
    next: usize,
    merchant: Vec<MerchantScript>,
    merchant_next: usize,
}

impl SimulatedReader {
    /// A reader presenting the default test card (chip, PIN accepted) after `delay`.
    pub fn default_card(delay: Duration) -> Self {
        SimulatedReader {
            scripts: vec![Script {
                delay,
                read: CardRead::Card(default_card()),
            }],
            next: 0,
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
            scripts.push(Script {
                delay: default_delay,
                read: CardRead::Card(default_card()),
            });
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

impl CardReader for SimulatedReader {
    fn read(&mut self, _amount: Money) -> BoxFuture<'_, CardRead> {
        let script = self.scripts[self.next % self.scripts.len()].clone();
        self.next = (self.next + 1) % self.scripts.len();
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
        let emv = match &self.emv {
            Some(h) => {
                let bytes = parse_hex(h)?;
                EmvData::from_slice(&bytes).map_err(|_| anyhow::anyhow!("emv: over 256 bytes"))?
            }
            None if matches!(entry_mode, EntryMode::Chip | EntryMode::Contactless) => {
                default_emv(scheme, pin)
            }
            None => EmvData::new(),
        };
        Ok(Script {
            delay,
            read: CardRead::Card(Card {
                pan,
                scheme,
                entry_mode,
                emv,
                pin,
            }),
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

/// The EMV tags the default chip card returns: AID, label, TVR, TSI, ATC, AC, IAD, CVM results.
pub fn default_emv(scheme: CardScheme, pin: PinOutcome) -> EmvData {
    let (aid, label): (&[u8], &[u8]) = match scheme {
        CardScheme::Mastercard => (&[0xA0, 0, 0, 0, 0x04, 0x10, 0x10], b"MASTERCARD"),
        CardScheme::Maestro => (&[0xA0, 0, 0, 0, 0x04, 0x30, 0x60], b"MAESTRO"),
        _ => (&[0xA0, 0, 0, 0, 0x03, 0x10, 0x10], b"VISA CREDIT"),
    };
    // CVM results (9F34): 42 = enciphered PIN online... we use 01 plaintext PIN by ICC, 1E
    // signature, 1F no CVM; condition 03; result 02 successful / 00 unknown.
    let cvm: [u8; 3] = match pin {
        PinOutcome::Accepted => [0x01, 0x03, 0x02],
        PinOutcome::Wrong => [0x01, 0x03, 0x01],
        PinOutcome::Bypassed => [0x1E, 0x03, 0x00],
        PinOutcome::NotAsked => [0x1F, 0x03, 0x02],
    };
    let mut v = Vec::new();
    tlv(&mut v, &[0x4F], aid);
    tlv(&mut v, &[0x50], label);
    tlv(&mut v, &[0x95], &[0x00, 0x00, 0x00, 0x80, 0x00]);
    tlv(&mut v, &[0x9B], &[0xE8, 0x00]);
    tlv(&mut v, &[0x9F, 0x36], &[0x00, 0x2A]);
    tlv(
        &mut v,
        &[0x9F, 0x26],
        &[0x1B, 0x2E, 0x6C, 0x9A, 0x45, 0x07, 0xD3, 0xF1],
    );
    tlv(
        &mut v,
        &[0x9F, 0x10],
        &[0x06, 0x01, 0x0A, 0x03, 0xA0, 0x00, 0x00],
    );
    tlv(&mut v, &[0x9F, 0x34], &cvm);
    EmvData::from_slice(&v).unwrap_or_default()
}

/// The default test card: Visa, chip, PIN accepted.
pub fn default_card() -> Card {
    let pan = Pan::new(DEFAULT_PAN).unwrap_or_else(|_| unreachable!("constant PAN is valid"));
    Card {
        scheme: CardScheme::Visa,
        entry_mode: EntryMode::Chip,
        emv: default_emv(CardScheme::Visa, PinOutcome::Accepted),
        pin: PinOutcome::Accepted,
        pan,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecrlink_core::txn::Currency;

    #[tokio::test]
    async fn a_card_without_delay_is_read_at_the_first_poll() {
        let mut r = SimulatedReader::default_card(Duration::ZERO);
        let mut read = r.read(Money::new(100, Currency::EUR).unwrap());
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
        let m = Money::new(100, Currency::EUR).unwrap();
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
        let m = Money::new(100, Currency::EUR).unwrap();
        assert!(matches!(r.read(m).await, CardRead::Card(_)));
        assert_eq!(r.merchant_pin(k).await, MerchantInput::Pin("4711".into()));
        assert_eq!(r.merchant_pin(k).await, MerchantInput::Cancelled);
        assert_eq!(r.merchant_pin(k).await, MerchantInput::Pin("0000".into()));
        // Without [[merchant]] entries nobody types: cancelled.
        let mut r = SimulatedReader::default_card(Duration::ZERO);
        assert_eq!(r.merchant_pin(k).await, MerchantInput::Cancelled);
        assert!(!format!("{:?}", MerchantInput::Pin("4711".into())).contains("4711"));
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
    }
}
