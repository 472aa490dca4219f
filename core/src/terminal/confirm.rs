//! Merchant confirmation: the merchant's PIN, typed on the terminal, before a request that the
//! policy marks (by default in the agent: refund, reversal, close totals) goes any further.
//!
//! The terminal never holds the PIN in clear: the policy carries a [`PinHash`], a salted,
//! iterated hash — PBKDF2-HMAC-SHA-256 (RFC 8018) with a 32-byte output, a salt of 8 to 32
//! bytes and an iteration count kept with it. Written as text it reads
//! `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX` ([`PinHash::parse`], [`PinHash::write_to`]).
//! The comparison takes the same time whatever the typed PIN. PBKDF2 only slows guessing: a
//! 4-digit PIN whose hash leaks is found by trying all 10 000, so the config file that holds the
//! hash stays readable by the agent's owner only, and the lock-out ([`Lockout`]) is what stops
//! guessing at the terminal.

use core::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::time::Instant;
use crate::txn::RequestKind;

type HmacSha256 = Hmac<Sha256>;

/// Length of the PBKDF2 output kept in a [`PinHash`].
pub const PIN_HASH_LEN: usize = 32;
/// Longest salt a [`PinHash`] keeps.
pub const MAX_SALT: usize = 32;
/// Shortest salt [`PinHash::parse`] accepts.
pub const MIN_SALT: usize = 8;
/// Iterations a new hash should use (the agent's `hash-pin`): a few milliseconds on a PC.
pub const DEFAULT_ITERATIONS: u32 = 20_000;
/// Longest PIN (or password) the terminal takes.
pub const MAX_PIN: usize = 32;

/// The prefix of a [`PinHash`] written as text.
const SCHEME: &str = "pbkdf2-sha256";

/// Why a PIN hash text could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PinHashError {
    /// Not `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX`.
    Format,
    /// The iteration count is not a number from 1 to 10 000 000.
    Iterations,
    /// The salt is not 8 to 32 bytes of hex.
    Salt,
    /// The hash is not 32 bytes of hex.
    Hash,
}

impl core::fmt::Display for PinHashError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PinHashError::Format => "expected pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX",
            PinHashError::Iterations => "iterations must be a number from 1 to 10000000",
            PinHashError::Salt => "salt must be 8 to 32 bytes written in hex",
            PinHashError::Hash => "hash must be 32 bytes written in hex",
        })
    }
}

impl core::error::Error for PinHashError {}

/// A salted, iterated hash of the merchant PIN (PBKDF2-HMAC-SHA-256).
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PinHash {
    iterations: u32,
    salt: [u8; MAX_SALT],
    salt_len: u8,
    hash: [u8; PIN_HASH_LEN],
}

impl core::fmt::Debug for PinHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The hash is not a secret in the strict sense, but a 4-digit PIN falls to it: keep it
        // out of debug logs.
        f.debug_struct("PinHash")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl PinHash {
    /// The hash of `pin` with `salt` (its first [`MAX_SALT`] bytes) and `iterations` (at
    /// least 1).
    pub fn derive(pin: &[u8], salt: &[u8], iterations: u32) -> Self {
        let salt = salt.get(..MAX_SALT).unwrap_or(salt);
        let mut s = [0u8; MAX_SALT];
        for (d, b) in s.iter_mut().zip(salt) {
            *d = *b;
        }
        let iterations = iterations.max(1);
        PinHash {
            iterations,
            salt: s,
            salt_len: salt.len() as u8,
            hash: pbkdf2_sha256(pin, salt, iterations),
        }
    }

    /// The salt.
    pub fn salt(&self) -> &[u8] {
        self.salt.get(..usize::from(self.salt_len)).unwrap_or(&[])
    }

    /// The iteration count.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Whether `pin` is the PIN this hash was made from (in a time that does not depend on
    /// where a wrong PIN differs).
    pub fn verify(&self, pin: &[u8]) -> bool {
        if pin.len() > MAX_PIN {
            return false;
        }
        let got = pbkdf2_sha256(pin, self.salt(), self.iterations);
        let diff = got
            .iter()
            .zip(self.hash.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff == 0
    }

    /// Reads `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX`.
    pub fn parse(text: &str) -> Result<Self, PinHashError> {
        let mut parts = text.trim().split('$');
        let (Some(scheme), Some(iter), Some(salt), Some(hash), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(PinHashError::Format);
        };
        if scheme != SCHEME {
            return Err(PinHashError::Format);
        }
        let iterations = iter
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=10_000_000).contains(n))
            .ok_or(PinHashError::Iterations)?;
        let mut s = [0u8; MAX_SALT];
        let salt_len = unhex(salt, &mut s).ok_or(PinHashError::Salt)?;
        if salt_len < MIN_SALT {
            return Err(PinHashError::Salt);
        }
        let mut h = [0u8; PIN_HASH_LEN];
        if unhex(hash, &mut h) != Some(PIN_HASH_LEN) {
            return Err(PinHashError::Hash);
        }
        Ok(PinHash {
            iterations,
            salt: s,
            salt_len: salt_len as u8,
            hash: h,
        })
    }

    /// Writes the hash as [`PinHash::parse`] reads it.
    pub fn write_to(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        write!(out, "{SCHEME}${}$", self.iterations)?;
        for b in self.salt() {
            write!(out, "{b:02x}")?;
        }
        out.write_char('$')?;
        for b in &self.hash {
            write!(out, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Decodes hex `text` into `out`; the number of bytes, or `None` when it is not hex or does
/// not fit.
fn unhex(text: &str, out: &mut [u8]) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 || bytes.len() / 2 > out.len() || bytes.is_empty() {
        return None;
    }
    let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (hi, lo) = match pair {
            [h, l] => (nib(*h)?, nib(*l)?),
            _ => return None,
        };
        *o = (hi << 4) | lo;
    }
    Some(bytes.len() / 2)
}

/// PBKDF2-HMAC-SHA-256, one output block (32 bytes).
fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; PIN_HASH_LEN] {
    let keyed = match HmacSha256::new_from_slice(password) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => <HmacSha256 as Mac>::new(&Default::default()),
    };
    let mut m = keyed.clone();
    m.update(salt);
    m.update(&1u32.to_be_bytes());
    let mut u: [u8; PIN_HASH_LEN] = m.finalize().into_bytes().into();
    let mut t = u;
    for _ in 1..iterations {
        let mut m = keyed.clone();
        m.update(&u);
        u = m.finalize().into_bytes().into();
        for (t, u) in t.iter_mut().zip(u.iter()) {
            *t ^= u;
        }
    }
    t
}

/// What the terminal asks of the merchant, from [`super::Terminal::poll_confirmation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfirmCommand {
    /// Show "merchant PIN for KIND" and take the PIN.
    Ask {
        /// The request waiting for it.
        kind: RequestKind,
    },
    /// Stop asking (aborted or timed out); a PIN typed afterwards is ignored.
    Cancel,
}

/// What the merchant did, into [`super::Terminal::handle_confirmation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmation<'a> {
    /// The PIN typed (digits as ASCII).
    Pin(&'a [u8]),
    /// The merchant cancelled.
    Cancelled,
}

/// Wrong merchant PINs in a row before the operation is locked.
pub const DEFAULT_TRIES: u8 = 3;
/// How long a locked operation stays locked.
pub const DEFAULT_LOCK: Duration = Duration::from_secs(300);
/// Operations whose wrong tries are counted apart.
const LOCK_SLOTS: usize = 16;

/// Wrong merchant PINs per operation, and the locks they caused, on the injected clock. Kept
/// in memory only: a restart of the terminal clears them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Lockout {
    /// Per operation (by [`RequestKind`] index): wrong tries since the last right one or lock.
    wrong: [u8; LOCK_SLOTS],
    /// Per operation: locked until then.
    until: [Option<Instant>; LOCK_SLOTS],
}

impl Lockout {
    fn slot(kind: RequestKind) -> usize {
        (kind as usize) % LOCK_SLOTS
    }

    /// When the lock on `kind` ends, if it is locked at `now`.
    pub fn locked_until(&self, now: Instant, kind: RequestKind) -> Option<Instant> {
        self.until
            .get(Self::slot(kind))
            .copied()
            .flatten()
            .filter(|u| now < *u)
    }

    /// A wrong PIN for `kind`: after `tries` in a row, `kind` is locked for `lock`. Whether
    /// it is locked now.
    pub fn wrong(&mut self, now: Instant, kind: RequestKind, tries: u8, lock: Duration) -> bool {
        let i = Self::slot(kind);
        let (Some(w), Some(u)) = (self.wrong.get_mut(i), self.until.get_mut(i)) else {
            return false;
        };
        *w = w.saturating_add(1);
        if *w >= tries.max(1) {
            *w = 0;
            *u = Some(now.saturating_add(lock));
            return true;
        }
        false
    }

    /// The right PIN for `kind`: its count of wrong tries starts again.
    pub fn right(&mut self, kind: RequestKind) {
        if let Some(w) = self.wrong.get_mut(Self::slot(kind)) {
            *w = 0;
        }
    }
}

// ---- the payment application's side ----------------------------------------------------

use super::{DayTotals, Refusal, RequestId, TillId};
use super::{Outcome, Step, Terminal, fail, set_text};
use crate::txn::{FailReason, Request};

impl Terminal {
    /// The merchant's answer to [`ConfirmCommand::Ask`]. The right PIN starts the request;
    /// a wrong one, a cancel or a locked operation answers it refused, with nothing read,
    /// sent to the bank or journaled. [`Policy::confirm_tries`](super::Policy) wrong PINs in a
    /// row lock the operation for [`Policy::confirm_lock`](super::Policy).
    pub fn handle_confirmation(&mut self, now: Instant, confirmation: Confirmation<'_>) {
        let Some(txn) = self.txn.as_ref() else {
            return;
        };
        if txn.step != Step::Confirming {
            return;
        }
        let kind = txn.request.kind();
        let policy = &self.cfg.policy;
        let refusal = match confirmation {
            Confirmation::Cancelled => Refusal::NotConfirmed,
            Confirmation::Pin(pin) if policy.merchant_pin.is_some_and(|h| h.verify(pin)) => {
                self.lockout.right(kind);
                if let Some(txn) = self.txn.as_mut() {
                    txn.step = Step::Finishing;
                }
                self.start(now);
                return self.advance(now);
            }
            Confirmation::Pin(_) => {
                let (tries, lock) = (policy.confirm_tries, policy.confirm_lock);
                if self.lockout.wrong(now, kind, tries, lock) {
                    Refusal::Locked
                } else {
                    Refusal::WrongMerchantPin
                }
            }
        };
        let outcome = match refusal {
            Refusal::NotConfirmed => Outcome::Cancelled,
            _ => fail(FailReason::Other),
        };
        self.end_unconfirmed(outcome, refusal);
        self.advance(now);
    }

    /// The next thing to ask the merchant (drain it after [`Self::poll_card`]).
    #[must_use]
    pub fn poll_confirmation(&mut self) -> Option<ConfirmCommand> {
        self.confirm_out.take()
    }

    /// Whether the running request waits for the merchant's PIN.
    pub fn is_waiting_for_confirmation(&self) -> bool {
        self.txn
            .as_ref()
            .is_some_and(|t| t.step == Step::Confirming)
    }

    /// The sums today's approvals count against the per-day limits.
    pub fn day_totals(&self) -> &DayTotals {
        &self.day
    }

    /// Sets the day's sums after a restart, folded from the journal's records
    /// ([`DayTotals::fold`]); call it right after [`Terminal::new`].
    pub fn restore_day_totals(&mut self, day: DayTotals) {
        self.day = day;
    }

    pub(super) fn check_policy(&self, now: Instant, request: &Request) -> Result<(), Refusal> {
        let policy = &self.cfg.policy;
        policy.check(request)?;
        let kind = request.kind();
        if policy.confirm.contains(kind) && self.lockout.locked_until(now, kind).is_some() {
            return Err(Refusal::Locked);
        }
        policy.check_day(request, &self.day, self.wall)
    }

    /// Answers `request` refused by the policy before anything started. Out of line: its
    /// answer is not in [`Terminal::handle_request`]'s frame, under the request's start.
    #[inline(never)]
    pub(super) fn refuse(&mut self, id: RequestId, till: TillId, request: &Request, why: Refusal) {
        let reason = match why {
            Refusal::NotAllowed => FailReason::NotSupported,
            _ => FailReason::Other,
        };
        let mut r = self.response(request.kind(), fail(reason));
        r.amount = request.amount();
        set_text(&mut r, why.text());
        self.answer(id, till, r);
    }

    pub(super) fn ask_confirmation(&mut self, kind: crate::txn::RequestKind) {
        if let Some(txn) = self.txn.as_mut() {
            txn.step = Step::Confirming;
        }
        self.confirm_out = Some(ConfirmCommand::Ask { kind });
    }

    pub(super) fn confirmation_timed_out(&mut self) {
        self.confirm_out = Some(ConfirmCommand::Cancel);
        self.end_unconfirmed(fail(FailReason::Other), Refusal::NotConfirmed);
    }

    /// Ends the request waiting for confirmation: answered with `why`, nothing journaled
    /// (it has no start record).
    fn end_unconfirmed(&mut self, outcome: Outcome, why: Refusal) {
        if let Some(txn) = self.txn.as_mut() {
            set_text(&mut txn.response, why.text());
        }
        self.finish(outcome, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> std::string::String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn pbkdf2_matches_the_published_vectors() {
        // PBKDF2-HMAC-SHA-256 ("password", "salt"), the vectors published with RFC 7914's
        // and many libraries' test suites.
        for (c, want) in [
            (
                1,
                "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
            ),
            (
                2,
                "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43",
            ),
            (
                4096,
                "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a",
            ),
        ] {
            assert_eq!(hex(&pbkdf2_sha256(b"password", b"salt", c)), want, "c={c}");
        }
    }

    #[test]
    fn a_hash_verifies_its_pin_only_and_round_trips_as_text() {
        let salt: [u8; 16] = core::array::from_fn(|i| i as u8);
        let h = PinHash::derive(b"1234", &salt, 3);
        assert!(h.verify(b"1234"));
        assert!(!h.verify(b"1235") && !h.verify(b"") && !h.verify(b"12345"));
        let mut text = std::string::String::new();
        h.write_to(&mut text).unwrap();
        assert_eq!(
            text,
            "pbkdf2-sha256$3$000102030405060708090a0b0c0d0e0f$\
             c845ebd5a39a89371ac1731f641b74cf72cb590fe418f129ace645c0ce1a4bf0"
        );
        assert_eq!(PinHash::parse(&text), Ok(h));
        // The PIN never shows in a debug print.
        assert!(!format!("{h:?}").contains("c845"));
    }

    #[test]
    fn bad_hash_texts_are_told_apart() {
        let h = "c845ebd5a39a89371ac1731f641b74cf72cb590fe418f129ace645c0ce1a4bf0";
        let salt = "000102030405060708090a0b0c0d0e0f";
        let cases = [
            ("1234".to_string(), PinHashError::Format),
            (std::format!("md5$3${salt}${h}"), PinHashError::Format),
            (
                std::format!("pbkdf2-sha256$0${salt}${h}"),
                PinHashError::Iterations,
            ),
            (
                std::format!("pbkdf2-sha256$x${salt}${h}"),
                PinHashError::Iterations,
            ),
            (std::format!("pbkdf2-sha256$3$0001${h}"), PinHashError::Salt),
            (std::format!("pbkdf2-sha256$3$zz${h}"), PinHashError::Salt),
            (
                std::format!("pbkdf2-sha256$3${salt}$00"),
                PinHashError::Hash,
            ),
            (
                std::format!("pbkdf2-sha256$3${salt}${h}$x"),
                PinHashError::Format,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(PinHash::parse(&text), Err(want), "{text}");
        }
    }

    #[test]
    fn three_wrong_tries_lock_the_operation_for_the_lock_time_only() {
        let mut l = Lockout::default();
        let t0 = Instant::from_millis(10_000);
        let lock = Duration::from_secs(300);
        assert!(!l.wrong(t0, RequestKind::Refund, 3, lock));
        assert!(!l.wrong(t0, RequestKind::Refund, 3, lock));
        assert_eq!(l.locked_until(t0, RequestKind::Refund), None);
        assert!(l.wrong(t0, RequestKind::Refund, 3, lock));
        let end = t0.saturating_add(lock);
        assert_eq!(l.locked_until(t0, RequestKind::Refund), Some(end));
        // Another operation is not locked with it.
        assert_eq!(l.locked_until(t0, RequestKind::CloseTotals), None);
        let just_before = Instant::from_millis(10_000 + 299_999);
        assert_eq!(l.locked_until(just_before, RequestKind::Refund), Some(end));
        assert_eq!(l.locked_until(end, RequestKind::Refund), None);
        // A right PIN starts the count again.
        assert!(!l.wrong(end, RequestKind::Reversal, 3, lock));
        assert!(!l.wrong(end, RequestKind::Reversal, 3, lock));
        l.right(RequestKind::Reversal);
        assert!(!l.wrong(end, RequestKind::Reversal, 3, lock));
        assert_eq!(l.locked_until(end, RequestKind::Reversal), None);
    }
}

#[cfg(test)]
mod terminal_tests {
    //! Merchant confirmation and per-day limits on the state machine, with a fake clock.

    use super::super::*;
    use crate::bank::ResponseCode;
    use crate::journal::Record;
    use std::vec::Vec as StdVec;

    const PIN: &[u8] = b"4711";

    fn eur(minor: u64) -> Money {
        Money::new(minor, Currency::EUR).unwrap()
    }

    fn day(d: u8) -> Timestamp {
        Timestamp {
            year: 2026,
            month: 12,
            day: d,
            hour: 10,
            minute: 0,
            second: 0,
        }
    }

    /// A terminal, what it asked for, and a fake clock.
    struct Shop {
        app: Terminal,
        now: Instant,
        journal: StdVec<Record>,
        bank: StdVec<BankRequest>,
        cards: StdVec<CardCommand>,
        asks: StdVec<ConfirmCommand>,
        answers: StdVec<Answer>,
        next: u64,
    }

    impl Shop {
        fn new(policy: Policy) -> Shop {
            let mut cfg = Config::new(Currency::EUR);
            cfg.echo_every = None;
            cfg.policy = policy;
            let now = Instant::from_millis(1_000_000);
            let mut s = Shop {
                app: Terminal::new(cfg, JournalState::new(), now),
                now,
                journal: StdVec::new(),
                bank: StdVec::new(),
                cards: StdVec::new(),
                asks: StdVec::new(),
                answers: StdVec::new(),
                next: 1,
            };
            s.app.set_wall_time(day(7));
            s.app.handle_link(now, LinkState::Up);
            s.pump();
            s
        }

        fn pump(&mut self) {
            loop {
                if let Some(r) = self.app.poll_record() {
                    self.journal.push(r.to_record());
                    self.app.handle_persisted(self.now);
                    continue;
                }
                let mut any = false;
                while let Some(BankCommand::Send(m)) = self.app.poll_bank() {
                    any = true;
                    self.bank.push(m);
                }
                while let Some(c) = self.app.poll_card() {
                    any = true;
                    self.cards.push(c);
                }
                while let Some(c) = self.app.poll_confirmation() {
                    any = true;
                    self.asks.push(c);
                }
                while let Some(a) = self.app.poll_answer() {
                    any = true;
                    self.answers.push(a);
                }
                while self.app.poll_print().is_some() {}
                if !any {
                    break;
                }
            }
        }

        fn ask(&mut self, till: u64, r: Request) -> RequestId {
            let id = RequestId(self.next);
            self.next += 1;
            self.app.handle_request(self.now, id, TillId(till), r);
            self.pump();
            id
        }

        fn confirm(&mut self, c: Confirmation<'_>) {
            self.app.handle_confirmation(self.now, c);
            self.pump();
        }

        fn answer(&self, id: RequestId) -> Option<&Response> {
            self.answers
                .iter()
                .find(|a| a.id == id)
                .map(|a| &a.response)
        }

        fn pay(&mut self) {
            let card = CardData {
                pan: Pan::new("4761739001010119").unwrap(),
                scheme: CardScheme::Visa,
                entry_mode: EntryMode::Chip,
                expiry: None,
                sequence: None,
                emv: EmvData::new(),
                pin: PinCheck::Accepted,
            };
            self.app.handle_card(self.now, CardEvent::Presented(card));
            self.pump();
            let req = self.bank.last().unwrap().clone();
            self.app.handle_bank_answer(
                self.now,
                BankAnswer {
                    mti: req.mti() + 10,
                    stan: req.stan(),
                    code: ResponseCode::APPROVED,
                    approval: Some(ApprovalCode::new("A1B2C3").unwrap()),
                    amount: None,
                    emv: EmvData::new(),
                },
            );
            self.pump();
        }

        fn later(&mut self, ms: u64) {
            self.now = Instant::from_millis(self.now.as_millis() + ms);
            self.app.handle_timeout(self.now);
            self.pump();
        }
    }

    fn confirming() -> Policy {
        Policy {
            confirm: KindSet::MERCHANT_DEFAULT,
            merchant_pin: Some(PinHash::derive(PIN, b"0123456789abcdef", 2)),
            ..Policy::default()
        }
    }

    fn refund(minor: u64) -> Request {
        Request::Refund {
            amount: eur(minor),
            reference: None,
        }
    }

    fn sale(minor: u64) -> Request {
        Request::Sale {
            amount: eur(minor),
            reference: None,
        }
    }

    #[test]
    fn a_refund_waits_for_the_merchant_pin_and_goes_on_with_the_right_one() {
        let mut s = Shop::new(confirming());
        let id = s.ask(1, refund(500));
        assert_eq!(
            s.asks,
            [ConfirmCommand::Ask {
                kind: RequestKind::Refund
            }]
        );
        assert!(s.app.is_waiting_for_confirmation());
        assert!(s.cards.is_empty() && s.bank.is_empty() && s.journal.is_empty());
        assert!(s.answer(id).is_none());
        s.confirm(Confirmation::Pin(PIN));
        assert_eq!(
            s.cards,
            [CardCommand::Read {
                amount: eur(500),
                kind: AuthKind::Refund,
                cashback: None
            }]
        );
        s.pay();
        assert_eq!(s.answer(id).unwrap().outcome, Outcome::Approved);
        // A sale needs no PIN.
        let id = s.ask(1, sale(100));
        assert_eq!(s.asks.len(), 1);
        s.pay();
        assert_eq!(s.answer(id).unwrap().outcome, Outcome::Approved);
    }

    #[test]
    fn a_wrong_pin_refuses_and_three_lock_the_operation_for_five_minutes() {
        let mut s = Shop::new(confirming());
        for n in 1..=3 {
            let id = s.ask(2, refund(99_900));
            s.confirm(Confirmation::Pin(b"0000"));
            let r = s.answer(id).unwrap();
            assert_eq!(
                r.outcome,
                Outcome::Failed {
                    reason: FailReason::Other
                }
            );
            let want = if n < 3 {
                Refusal::WrongMerchantPin
            } else {
                Refusal::Locked
            };
            assert_eq!(r.text.as_deref(), Some(want.text()), "try {n}");
        }
        assert!(s.cards.is_empty() && s.bank.is_empty() && s.journal.is_empty());
        assert_eq!(s.app.checkpoint().last, None, "nothing journaled as done");
        // Locked: refused at once, even with the right PIN at hand; nothing is asked.
        let asked = s.asks.len();
        let id = s.ask(2, refund(100));
        assert_eq!(
            s.answer(id).unwrap().text.as_deref(),
            Some(Refusal::Locked.text())
        );
        assert_eq!(s.asks.len(), asked);
        // The lock is the refund's only: a close totals is asked for.
        let id = s.ask(1, Request::CloseTotals);
        assert!(s.app.is_waiting_for_confirmation());
        s.confirm(Confirmation::Cancelled);
        assert_eq!(s.answer(id).unwrap().outcome, Outcome::Cancelled);
        // A second before the five minutes are up: still locked.
        s.later(299_000);
        let id = s.ask(2, refund(100));
        assert_eq!(
            s.answer(id).unwrap().text.as_deref(),
            Some(Refusal::Locked.text())
        );
        s.later(1_000);
        let id = s.ask(1, refund(100));
        assert!(s.answer(id).is_none() && s.app.is_waiting_for_confirmation());
        s.confirm(Confirmation::Pin(PIN));
        s.pay();
        assert_eq!(s.answer(id).unwrap().outcome, Outcome::Approved);
    }

    #[test]
    fn without_a_merchant_pin_confirmed_operations_are_refused() {
        let policy = Policy {
            merchant_pin: None,
            ..confirming()
        };
        let mut s = Shop::new(policy);
        for r in [refund(100), Request::CloseTotals] {
            let id = s.ask(1, r);
            assert_eq!(
                s.answer(id).unwrap().text.as_deref(),
                Some(Refusal::NoMerchantPin.text())
            );
        }
        assert!(s.asks.is_empty() && s.bank.is_empty() && s.journal.is_empty());
    }

    #[test]
    fn another_till_cannot_reverse_the_merchants_sale_without_the_pin() {
        let mut s = Shop::new(confirming());
        s.ask(1, sale(1250));
        s.pay();
        let (code, amount) = s.app.last_approved().unwrap();
        let journaled = s.journal.len();
        let reversal = Request::Reversal {
            amount,
            code: code.clone(),
            reference: None,
        };
        let id = s.ask(9, reversal.clone());
        // Another till cannot abort the merchant's confirmation either.
        let abort = s.ask(1, Request::Abort);
        assert_eq!(
            s.answer(abort).unwrap().outcome,
            Outcome::Failed {
                reason: FailReason::Busy
            }
        );
        s.confirm(Confirmation::Pin(b"1234"));
        assert!(!s.answer(id).unwrap().outcome.is_approved());
        assert_eq!(s.journal.len(), journaled, "nothing journaled");
        assert_eq!(
            s.app.last_approved(),
            Some((code, amount)),
            "the sale stands"
        );
        assert_eq!(s.bank.len(), 1, "only the sale reached the bank");
        // The owner may abort while the PIN is asked; with the PIN the reversal is done.
        let id = s.ask(9, reversal.clone());
        let abort = s.ask(9, Request::Abort);
        assert_eq!(s.answer(abort).unwrap().outcome, Outcome::Approved);
        assert_eq!(s.answer(id).unwrap().outcome, Outcome::Cancelled);
        assert_eq!(s.asks.last(), Some(&ConfirmCommand::Cancel));
        let id = s.ask(9, reversal);
        s.confirm(Confirmation::Pin(PIN));
        assert!(matches!(s.bank.last(), Some(BankRequest::Reversal(_))));
        let req = s.bank.last().unwrap().clone();
        s.app.handle_bank_answer(
            s.now,
            BankAnswer {
                mti: 410,
                stan: req.stan(),
                code: ResponseCode::APPROVED,
                approval: None,
                amount: None,
                emv: EmvData::new(),
            },
        );
        s.pump();
        assert_eq!(s.answer(id).unwrap().outcome, Outcome::Approved);
    }

    #[test]
    fn a_pin_not_typed_within_the_transaction_limit_refuses() {
        let mut s = Shop::new(confirming());
        let id = s.ask(1, refund(100));
        assert_eq!(
            s.app.poll_timeout(),
            Some(s.now.saturating_add(Duration::from_secs(60)))
        );
        s.later(59_000);
        assert!(s.answer(id).is_none());
        s.later(1_000);
        let r = s.answer(id).unwrap();
        assert_eq!(r.text.as_deref(), Some(Refusal::NotConfirmed.text()));
        assert_eq!(s.asks.last(), Some(&ConfirmCommand::Cancel));
        // A PIN typed afterwards is ignored.
        s.confirm(Confirmation::Pin(PIN));
        assert!(s.cards.is_empty() && s.journal.is_empty());
    }

    #[test]
    fn per_day_limits_sum_the_days_approvals_and_start_again_the_next_day() {
        let policy = Policy {
            max_sale_day: Some(10_000),
            max_refund_day: Some(1_000),
            max_cashback_day: Some(2_000),
            ..Policy::default()
        };
        let mut s = Shop::new(policy);
        let id = s.ask(1, sale(6_000));
        s.pay();
        assert_eq!(s.answer(id).unwrap().outcome, Outcome::Approved);
        let reads = s.cards.len();
        let id = s.ask(1, sale(4_001));
        let r = s.answer(id).unwrap();
        assert_eq!(r.text.as_deref(), Some(Refusal::OverDayLimit.text()));
        assert_eq!(s.cards.len(), reads, "no card read");
        // Exactly up to the limit is allowed.
        let id = s.ask(1, sale(4_000));
        s.pay();
        assert_eq!(s.answer(id).unwrap().outcome, Outcome::Approved);
        let used = s.app.day_totals().used(day(7), Currency::EUR.numeric());
        assert_eq!(used.sale, 10_000);
        // Refunds have their own sum.
        let id = s.ask(1, refund(1_001));
        assert_eq!(
            s.answer(id).unwrap().text.as_deref(),
            Some(Refusal::OverDayLimit.text())
        );
        // A cashback sale counts against both sums.
        let cb = Request::sale_with_cashback(eur(100), crate::txn::Amount::new(50).unwrap(), None)
            .unwrap();
        let id = s.ask(1, cb.clone());
        assert_eq!(
            s.answer(id).unwrap().text.as_deref(),
            Some(Refusal::OverDayLimit.text())
        );
        // The next day starts from zero.
        s.app.set_wall_time(day(8));
        let id = s.ask(1, cb);
        s.pay();
        assert_eq!(s.answer(id).unwrap().outcome, Outcome::Approved);
        // After a restart the day is folded back from the journal's records.
        let mut rebuilt = DayTotals::new();
        for r in &s.journal {
            rebuilt.fold(r);
        }
        assert_eq!(&rebuilt, s.app.day_totals());
        let used = rebuilt.used(day(8), Currency::EUR.numeric());
        assert_eq!((used.sale, used.cashback, used.refund), (100, 50, 0));
        let mut fresh = Shop::new(policy);
        fresh.app.set_wall_time(day(8));
        fresh.app.restore_day_totals(rebuilt);
        let id = fresh.ask(1, sale(9_901));
        assert_eq!(
            fresh.answer(id).unwrap().text.as_deref(),
            Some(Refusal::OverDayLimit.text())
        );
    }
}
