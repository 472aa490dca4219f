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
//! ```

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, bail};
use ecrlink_core::txn::{CardScheme, EmvData, EntryMode, FailReason, Money, Pan};
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

/// A card reader. The engine drops the future to abort the wait (till abort, transaction
/// limit), so implementations must be cancel-safe.
pub trait CardReader: Send {
    /// Waits for a card for a payment of `amount`.
    fn read(&mut self, amount: Money) -> BoxFuture<'_, CardRead>;
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
        }
    }

    /// A reader presenting `scripts` in order; an empty list is an error.
    pub fn new(scripts: Vec<Script>) -> anyhow::Result<Self> {
        if scripts.is_empty() {
            bail!("a card script needs at least one card");
        }
        Ok(SimulatedReader { scripts, next: 0 })
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
        let scripts = file
            .card
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                c.script(default_delay)
                    .with_context(|| format!("card #{}", i + 1))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Self::new(scripts)
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardsFile {
    card: Vec<CardEntry>,
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
    let emv = match entry {
        EntryMode::Chip | EntryMode::Contactless => default_emv(scheme, pin),
        _ => EmvData::new(),
    };
    Ok(Card {
        pan,
        scheme,
        entry_mode: entry,
        emv,
        pin,
    })
}

/// What a tester does at the reader, live (the browser page of `--ui`).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum TesterAction {
    /// Presents this card (inserted, tapped or swiped).
    Present(Card),
    /// Takes the card out (during PIN entry: the read fails as a card error).
    Remove,
    /// Presses the terminal's red key: the card wait ends with no card (cancelled).
    Cancel,
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
}

impl Default for CardDesk {
    fn default() -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        CardDesk {
            tester_decides: Default::default(),
            tx,
            rx: std::sync::Mutex::new(Some(rx)),
            waiting: Default::default(),
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

    /// Hands an action to the reader. Actions while no card is awaited are dropped (a card
    /// tapped on an idle terminal does nothing): `false` then.
    pub fn act(&self, action: TesterAction) -> bool {
        self.is_waiting() && self.tx.send(action).is_ok()
    }
}

/// The reader the engine drives: a tester's action (from the page) wins over the scripted
/// reader behind it; while the tester decides, the scripted reader is not asked at all.
pub struct LiveReader {
    fallback: Box<dyn CardReader>,
    desk: std::sync::Arc<CardDesk>,
    actions: Option<tokio::sync::mpsc::UnboundedReceiver<TesterAction>>,
    pin_started: Box<dyn Fn() + Send + Sync>,
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
            Some(TesterAction::Remove) => {}
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
                            // Another card while one is in the slot, or the page gone: ignored.
                            Some(TesterAction::Present(_)) | None => {}
                        }
                    }
                }
            }
        }
    }
}

impl CardReader for LiveReader {
    fn read(&mut self, amount: Money) -> BoxFuture<'_, CardRead> {
        let LiveReader {
            fallback,
            desk,
            actions,
            pin_started,
        } = self;
        Box::pin(async move {
            let Some(rx) = actions.as_mut() else {
                return fallback.read(amount).await;
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
                    fallback.read(amount).await
                }
            };
            let read = tokio::select! {
                biased;
                r = scripted => r,
                r = tester_read(rx, pin_started.as_ref()) => r,
            };
            read
        })
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

    fn eur() -> Money {
        Money::new(100, Currency::EUR).unwrap()
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
            r.read(eur()),
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
        let (read, ()) = tokio::join!(r.read(eur()), act_when_waiting(&desk, TesterAction::Cancel));
        assert!(matches!(read, CardRead::NoCard));
        let card = test_card(
            EntryMode::Chip,
            CardScheme::Visa,
            PinOutcome::Accepted,
            None,
        )
        .unwrap();
        let (read, ()) = tokio::join!(r.read(eur()), async {
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
        assert!(matches!(r.read(eur()).await, CardRead::Card(_)));
        desk.set_tester_decides(true);
        // The script's card would come after 10 ms; the tester's choice holds it back.
        let waited = tokio::time::timeout(Duration::from_millis(500), r.read(eur())).await;
        assert!(waited.is_err(), "a card came without the tester");
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
        let d = Duration::ZERO;
        assert!(SimulatedReader::parse("[[card]]\npan = \"12\"\n", d).is_err());
        assert!(SimulatedReader::parse("[[card]]\nentry = \"telepathy\"\n", d).is_err());
        assert!(SimulatedReader::parse("card = []\n", d).is_err());
        assert!(SimulatedReader::parse("[[card]]\nemv = \"ABC\"\n", d).is_err());
    }
}
