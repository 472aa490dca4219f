//! The till (ECR) library: one call per till command, like the script object an ERP uses.
//!
//! ```no_run
//! use std::time::Duration;
//! use ecrlink_core::session::Dialect;
//! use ecrlink_core::txn::{Currency, Money};
//! use ecrlink_host_sim::till::{Target, Till, TillOptions};
//!
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let mut opts = TillOptions::new(Target::parse("127.0.0.1:2050"), Dialect::Csob);
//! opts.timeout = Duration::from_secs(60);
//! let till = Till::new(opts);
//! let result = till.sale(Money::parse_decimal("12.50", Currency::CZK)?, None).await?;
//! println!("{} (exit status {})", result.message, result.exit_code());
//! # Ok(()) }
//! ```
//!
//! Each call connects (3 s limit: past it the terminal is offline), sends the request, waits
//! for the answer, and returns a [`TillResult`]. [`TillOptions::timeout`] is the whole wait:
//! after no answer (or a dropped connection) to a money-moving request the till connects again
//! and asks the terminal for its last transaction within the same limit (its last quarter, at
//! most [`TillOptions::recovery_timeout`]), so the result says what really happened; when the
//! dialect cannot ask (Concert) or the terminal does not answer that either, the result says
//! the outcome is unknown and what to do in that dialect. A terminal that acknowledges nothing
//! within [`TillOptions::ack_timeout`] (2 s), or answers in another dialect, is reported at
//! once ([`NoAnswer::NotAcknowledged`]). Refusals carry their reason and both codes
//! ([`ResultCodes`]). [`BlockingTill`] offers the same calls synchronously.

mod codes;
mod driver;
mod interrupt;
mod progress;

use std::sync::Arc;
use std::time::Duration;

use ecrlink_core::session::{Dialect, EcrSide};
use ecrlink_core::txn::{
    Amount, ApprovalCode, FailReason, Money, Outcome, Reference, Request, RequestKind, Response,
};
use serde::Serialize;

pub use codes::{ResultCodes, result_codes};
pub use driver::{Action, Clock, End, Io, describe_outcome, exchange, other_dialect};
pub use interrupt::{Interrupt, InterruptTrigger, interrupt};
pub use progress::Progress;

use crate::i18n::{self, Lang};
use crate::log::SessionLog;

/// Exit status: approved / done.
pub const EXIT_OK: i32 = 0;
/// Exit status: declined or refused.
pub const EXIT_DECLINED: i32 = 1;
/// Exit status: usage or input error.
pub const EXIT_USAGE: i32 = 2;
/// Exit status: no answer in time (outcome unknown or not made, see the message).
pub const EXIT_TIMEOUT: i32 = 3;
/// Exit status: the terminal cannot be reached.
pub const EXIT_TERMINAL_OFFLINE: i32 = 4;
/// Exit status: the terminal cannot reach the bank.
pub const EXIT_BANK_UNAVAILABLE: i32 = 5;
/// Exit status: cancelled.
pub const EXIT_CANCELLED: i32 = 6;

/// The exit status of an outcome.
pub fn exit_code(outcome: &Outcome) -> i32 {
    match outcome {
        Outcome::Approved => EXIT_OK,
        Outcome::Declined { .. } | Outcome::Failed { .. } => EXIT_DECLINED,
        Outcome::Timeout => EXIT_TIMEOUT,
        Outcome::TerminalOffline => EXIT_TERMINAL_OFFLINE,
        Outcome::BankUnavailable => EXIT_BANK_UNAVAILABLE,
        Outcome::Cancelled => EXIT_CANCELLED,
    }
}

/// Where the terminal is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    /// TCP `HOST:PORT`.
    Tcp {
        /// `HOST:PORT`.
        address: String,
    },
    /// A serial device, 8N1.
    Serial {
        /// `/dev/ttyUSB0`, `COM3`, …
        path: String,
        /// Bits per second (Concert: 9600).
        baud: u32,
    },
}

impl Target {
    /// Default serial speed (Concert's 9600 bit/s).
    pub const DEFAULT_BAUD: u32 = 9600;

    /// `serial:PATH`, a path starting with `/` or `\`, or `COMn` is a serial device; anything
    /// else is a TCP `HOST:PORT`.
    pub fn parse(text: &str) -> Self {
        let serial = |path: &str| Target::Serial {
            path: path.to_string(),
            baud: Self::DEFAULT_BAUD,
        };
        if let Some(path) = text.strip_prefix("serial:") {
            return serial(path);
        }
        let upper = text.to_ascii_uppercase();
        let com = upper
            .strip_prefix("COM")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if text.starts_with('/') || text.starts_with('\\') || com {
            serial(text)
        } else {
            Target::Tcp {
                address: text.to_string(),
            }
        }
    }
}

/// Why a terminal address cannot be used (a usage error, exit 2, before any connection).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid terminal '{text}': {why}")]
pub struct TargetError {
    /// The address as given.
    pub text: String,
    /// What is wrong and what to write instead.
    pub why: String,
}

impl Target {
    /// [`Target::parse`] with the checks a command line needs: a TCP address must be
    /// `HOST:PORT` with a port 1–65535 (`[::1]:2050` for IPv6), a serial device an absolute path
    /// (`/dev/ttyUSB0`), `COMn` or `serial:PATH`. A mistyped address is an input error, never a
    /// "terminal offline".
    pub fn parse_checked(text: &str) -> Result<Self, TargetError> {
        let err = |why: String| TargetError {
            text: text.to_string(),
            why,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(err(
                "empty; give HOST:PORT (e.g. 127.0.0.1:2050) or a serial device (/dev/ttyUSB0)"
                    .into(),
            ));
        }
        if trimmed != text {
            return Err(err("remove the spaces around it".into()));
        }
        let target = Target::parse(text);
        match &target {
            Target::Serial { path, .. } => {
                if path.is_empty() {
                    return Err(err(
                        "serial: needs a device path, e.g. serial:/dev/ttyS0".into()
                    ));
                }
                Ok(target)
            }
            Target::Tcp { address } => {
                if address.contains('/') || address.contains('\\') {
                    return Err(err(format!(
                        "a serial device needs an absolute path (/{address}, /dev/ttyUSB0) or \
                         serial:PATH; a TCP terminal is HOST:PORT"
                    )));
                }
                let (host, port) = match address.rsplit_once(':') {
                    Some((h, p)) if !h.is_empty() && (!h.contains(':') || h.starts_with('[')) => {
                        (h, p)
                    }
                    _ => {
                        return Err(err(format!(
                            "no port; give HOST:PORT, e.g. {address}:2050 (ČSOB terminals \
                             often listen on 2050)"
                        )));
                    }
                };
                if host.starts_with('[') != host.ends_with(']') {
                    return Err(err("an IPv6 host goes in brackets: [::1]:2050".into()));
                }
                match port.parse::<u16>() {
                    Ok(p) if p > 0 => Ok(target),
                    _ => Err(err(format!(
                        "'{port}' is not a port number (1–65535); give HOST:PORT"
                    ))),
                }
            }
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tcp { address } => f.write_str(address),
            Target::Serial { path, baud } => write!(f, "{path} ({baud} bit/s)"),
        }
    }
}

/// Makes a fresh till-side session for each connection.
pub type EcrFactory = Arc<dyn Fn() -> Result<Box<dyn EcrSide + Send>, TillError> + Send + Sync>;

/// How a [`Till`] reaches its terminal and how it waits.
#[derive(Clone)]
pub struct TillOptions {
    /// Where the terminal is.
    pub target: Target,
    /// Its dialect.
    pub dialect: Dialect,
    /// Limit for the terminal's answer (60 s by default).
    pub timeout: Duration,
    /// Limit for the TCP connection (3 s by default); past it the terminal is offline.
    pub connect_timeout: Duration,
    /// The most of [`TillOptions::timeout`] kept for the last-transaction question after no
    /// answer (15 s by default; at most a quarter of `timeout`): the whole wait, the question
    /// included, never exceeds `timeout`.
    pub recovery_timeout: Duration,
    /// Limit for the terminal's acknowledgement of a request (2 s by default; ČSOB: B0,
    /// Concert: the ACK of the request frame). A terminal that acknowledges nothing does not
    /// speak the dialect, usually: the result says so at once instead of waiting `timeout`.
    pub ack_timeout: Duration,
    /// Language of [`TillResult::message`].
    pub lang: Lang,
    /// Ask for the receipt text after the answer (dialects that transfer it: ČSOB).
    pub receipt: bool,
    /// Show a progress bar on stderr while waiting (only drawn on a terminal).
    pub progress: bool,
    /// Session log.
    pub log: SessionLog,
    /// Terminal id for dialects that put one in requests (ČSOB).
    pub terminal_id: Option<String>,
    /// The terminal's password for ZVT (registration and admin commands), six digits.
    pub zvt_password: u32,
    /// Overrides the session each dialect would use (tests, other dialects).
    pub ecr_factory: Option<EcrFactory>,
    /// A name for the terminal (the config alias), shown in results.
    pub alias: Option<String>,
    /// The cashier's Ctrl-C: the first press while the terminal works cancels the request
    /// there (where the dialect can) and reports what happened, the second stops waiting
    /// ([`interrupt`]). None: not interruptible.
    pub interrupt: Option<Interrupt>,
}

impl std::fmt::Debug for TillOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TillOptions")
            .field("target", &self.target)
            .field("dialect", &self.dialect)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("lang", &self.lang)
            .field("receipt", &self.receipt)
            .field("alias", &self.alias)
            .finish_non_exhaustive()
    }
}

impl TillOptions {
    /// Options with the defaults: 60 s answer limit, 3 s connect limit, English, no progress
    /// bar, no receipt, no log.
    pub fn new(target: Target, dialect: Dialect) -> Self {
        TillOptions {
            target,
            dialect,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(3),
            recovery_timeout: Duration::from_secs(15),
            ack_timeout: Duration::from_secs(2),
            lang: Lang::En,
            receipt: false,
            progress: false,
            log: SessionLog::disabled(),
            terminal_id: None,
            zvt_password: 0,
            ecr_factory: None,
            alias: None,
            interrupt: None,
        }
    }
}

/// A till that cannot run at all (set-up errors; transaction outcomes are in [`TillResult`]).
#[derive(Debug, thiserror::Error)]
pub enum TillError {
    /// The core refused a value (terminal id, amount, …).
    #[error("{0}")]
    Core(#[from] ecrlink_core::Error),
    /// The dialect cannot carry this request (Concert has no close totals, …).
    #[error("the {dialect} dialect cannot send this request: {error}")]
    Request {
        /// The dialect.
        dialect: &'static str,
        /// Why, from the dialect.
        error: ecrlink_core::Error,
    },
}

/// What asking for the last transaction after a timeout found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "kebab-case")]
pub enum Recovery {
    /// The terminal's last transaction is this one: its outcome is the result.
    Matched,
    /// The terminal's last transaction is another one: this request was not carried out.
    Different,
    /// The dialect cannot ask for the last transaction (Concert).
    Unsupported,
    /// Asking failed (offline, no answer); the outcome stays unknown.
    Failed(String),
}

/// Why the terminal's answer did not come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoAnswer {
    /// The limit passed without an answer.
    Timeout,
    /// The terminal closed the connection (or it broke) after the request went out.
    ConnectionClosed,
    /// The terminal did not acknowledge the request within [`TillOptions::ack_timeout`], or
    /// answered in another dialect ([`TillResult::detected_dialect`]): a wrong dialect, usually.
    NotAcknowledged,
    /// The cashier interrupted the wait ([`TillOptions::interrupt`]).
    Interrupted,
}

impl NoAnswer {
    /// The name used in JSON: `timeout`, `connection-closed`, `not-acknowledged`,
    /// `interrupted`.
    pub fn name(self) -> &'static str {
        match self {
            NoAnswer::Timeout => "timeout",
            NoAnswer::ConnectionClosed => "connection-closed",
            NoAnswer::NotAcknowledged => "not-acknowledged",
            NoAnswer::Interrupted => "interrupted",
        }
    }
}

/// The typed result of one till command.
#[derive(Clone, Debug, Serialize)]
pub struct TillResult {
    /// What was asked.
    pub request: Request,
    /// How it ended (after recovery, if there was one).
    pub outcome: Outcome,
    /// The terminal's answer (for a recovered timeout: its last-transaction answer).
    pub response: Option<Response>,
    /// Set when a timeout or dropped connection made the till ask for the last transaction.
    pub recovery: Option<Recovery>,
    /// True when the outcome could not be established: check the last transaction.
    pub unknown: bool,
    /// Set when the terminal's answer did not come: why.
    pub no_answer: Option<NoAnswer>,
    /// The dialect the terminal's bytes belong to, when they are not the till's.
    #[serde(skip)]
    pub detected_dialect: Option<Dialect>,
    /// The bank's and the dialect's codes of the answer.
    pub codes: ResultCodes,
    /// Why the request was refused, in words (declined, not done, cancelled).
    pub reason: Option<String>,
    /// For `last`: what the last transaction was, when the answer tells.
    pub last_kind: Option<RequestKind>,
    /// The localized result text.
    pub message: String,
    /// Technical detail (connection error, …), not localized.
    pub detail: Option<String>,
    /// Receipt text parts the terminal transferred (with [`TillOptions::receipt`]).
    pub receipt: Vec<String>,
    /// Time from the call to the result.
    pub elapsed: Duration,
}

impl TillResult {
    /// The process exit status of this result.
    pub fn exit_code(&self) -> i32 {
        exit_code(&self.outcome)
    }

    /// The request kind.
    pub fn kind(&self) -> RequestKind {
        self.request.kind()
    }
}

/// A till connected to one terminal. Cheap to clone; each call opens its own connection.
#[derive(Clone, Debug)]
pub struct Till {
    opts: TillOptions,
}

impl Till {
    /// A till with these options.
    pub fn new(opts: TillOptions) -> Self {
        Till { opts }
    }

    /// Its options.
    pub fn options(&self) -> &TillOptions {
        &self.opts
    }

    /// Payment of `amount`.
    pub async fn sale(
        &self,
        amount: Money,
        reference: Option<Reference>,
    ) -> Result<TillResult, TillError> {
        self.run(Request::Sale { amount, reference }).await
    }

    /// Payment of `amount` (total) of which `cashback` is handed out in cash.
    pub async fn cashback(
        &self,
        amount: Money,
        cashback: Amount,
        reference: Option<Reference>,
    ) -> Result<TillResult, TillError> {
        self.run(Request::sale_with_cashback(amount, cashback, reference)?)
            .await
    }

    /// Reversal of the transaction with approval code `code` and `amount`.
    pub async fn reversal(
        &self,
        amount: Money,
        code: ApprovalCode,
        reference: Option<Reference>,
    ) -> Result<TillResult, TillError> {
        self.run(Request::Reversal {
            amount,
            code,
            reference,
        })
        .await
    }

    /// Refund of `amount` to the card.
    pub async fn refund(
        &self,
        amount: Money,
        reference: Option<Reference>,
    ) -> Result<TillResult, TillError> {
        self.run(Request::Refund { amount, reference }).await
    }

    /// Close totals (end of day).
    pub async fn close_totals(&self) -> Result<TillResult, TillError> {
        self.run(Request::CloseTotals).await
    }

    /// Subtotals: the open batch's totals; nothing is closed.
    pub async fn subtotals(&self) -> Result<TillResult, TillError> {
        self.run(Request::Subtotals).await
    }

    /// Last sums: the totals of the last closed batch.
    pub async fn last_sums(&self) -> Result<TillResult, TillError> {
        self.run(Request::LastSums).await
    }

    /// Check the terminal answers.
    pub async fn test_terminal(&self) -> Result<TillResult, TillError> {
        self.run(Request::TestTerminal).await
    }

    /// Check the terminal's link to the bank.
    pub async fn test_bank(&self) -> Result<TillResult, TillError> {
        self.run(Request::TestBank).await
    }

    /// Print the last receipt again.
    pub async fn reprint(&self) -> Result<TillResult, TillError> {
        self.run(Request::Reprint).await
    }

    /// The terminal's last transaction.
    pub async fn last(&self) -> Result<TillResult, TillError> {
        self.run(Request::LastTransaction).await
    }

    /// Runs any request.
    pub async fn run(&self, request: Request) -> Result<TillResult, TillError> {
        let o = &self.opts;
        let started = tokio::time::Instant::now();
        let log = &o.log;
        log.line(&format!(
            "--- {} to {} ({}){}: {}",
            request.kind().name(),
            o.target,
            o.dialect.name(),
            o.alias
                .as_ref()
                .map(|a| format!(" alias '{a}'"))
                .unwrap_or_default(),
            describe_request(&request)
        ));
        // A dry run on a throwaway session: a request the dialect cannot carry is an input
        // error, found before any connection. A reprint the dialect has no request for is a
        // receipt transfer where the dialect has one (ČSOB B3).
        let receipt_only = {
            let mut probe = self.new_ecr()?;
            match probe.start(ecrlink_core::Instant::ZERO, &request) {
                Ok(()) => false,
                Err(_)
                    if request.kind() == RequestKind::Reprint
                        && self
                            .new_ecr()?
                            .request_receipt(ecrlink_core::Instant::ZERO)
                            .is_ok() =>
                {
                    true
                }
                Err(e) => {
                    log.line(&format!(
                        "request refused by the {} dialect: {e}",
                        o.dialect.name()
                    ));
                    return Err(TillError::Request {
                        dialect: o.dialect.name(),
                        error: e,
                    });
                }
            }
        };
        let action = if receipt_only {
            Action::Receipt(request.kind())
        } else {
            Action::Request(&request)
        };
        let progress = Progress::start_waiting(
            o.progress,
            o.lang,
            o.dialect,
            (started + o.timeout).into_std(),
        );

        let finish = |outcome: Outcome,
                      response: Option<Response>,
                      recovery: Option<Recovery>,
                      no_answer: Option<NoAnswer>,
                      detected: Option<Dialect>,
                      detail: Option<String>,
                      receipt: Vec<String>| {
            let unknown = matches!(recovery, Some(Recovery::Unsupported | Recovery::Failed(_)));
            let codes = result_codes(self.log_dialect(), response.as_ref());
            let reason = i18n::refusal_reason(
                o.lang,
                &outcome,
                &codes,
                response
                    .as_ref()
                    .and_then(|r| r.text.as_ref())
                    .map(|t| t.as_str()),
            );
            let last_kind = match request.kind() {
                RequestKind::LastTransaction => response.as_ref().and_then(last_kind),
                _ => None,
            };
            let message = compose_message(
                o,
                &request,
                &outcome,
                response.as_ref(),
                Parts {
                    recovery: recovery.as_ref(),
                    no_answer,
                    detected,
                    unknown,
                    codes: &codes,
                    reason: reason.as_deref(),
                    last_kind,
                },
            );
            let result = TillResult {
                request: request.clone(),
                outcome,
                response,
                recovery,
                unknown,
                no_answer,
                detected_dialect: detected,
                codes,
                reason,
                last_kind,
                message,
                detail,
                receipt,
                elapsed: started.elapsed(),
            };
            log.line(&format!(
                "outcome: {}{} in {} ms: {}",
                describe_outcome(&result.outcome),
                if result.unknown { " (unknown)" } else { "" },
                result.elapsed.as_millis(),
                result.message
            ));
            result
        };

        let mut io = match self.connect().await {
            Ok(io) => io,
            Err(why) => {
                progress.finish();
                return Ok(finish(
                    Outcome::TerminalOffline,
                    None,
                    None,
                    None,
                    None,
                    Some(why),
                    vec![],
                ));
            }
        };
        let clock = Clock::start();
        let mut ecr = self.new_ecr()?;
        // The whole wait is `timeout`: a request that may need the last-transaction question
        // leaves it its share.
        let may_recover = request.kind().moves_money() && self.can_ask_last();
        let deadline = started + o.timeout.saturating_sub(self.recovery_share(may_recover));
        let ack_deadline = tokio::time::Instant::now() + o.ack_timeout;
        let limit = started + o.timeout;
        let mut interrupt = o.interrupt.clone();
        if interrupt.as_ref().is_some_and(|i| i.count() > 0) {
            log.line("interrupted before the request was sent; nothing sent");
            progress.finish();
            return Ok(finish(
                Outcome::Cancelled,
                None,
                None,
                Some(NoAnswer::Interrupted),
                None,
                Some("interrupted at the till before the request was sent".into()),
                vec![],
            ));
        }
        let end = {
            let on_stage = |p| progress.set_stage(p);
            let run = driver::exchange_with_stages(
                io.as_mut(),
                ecr.as_mut(),
                self.log_dialect(),
                action,
                deadline,
                Some(ack_deadline),
                o.receipt,
                log,
                &clock,
                &on_stage,
            );
            match interrupt.as_mut() {
                Some(stop) => tokio::select! {
                    biased;
                    end = run => Some(end),
                    () = stop.pressed(1) => None,
                },
                None => Some(run.await),
            }
        };
        let Some(end) = end else {
            drop(ecr);
            let stop = interrupt.unwrap_or_else(|| interrupt::interrupt().1);
            progress.set_message(i18n::interrupted_text(o.lang));
            let found = self
                .after_interrupt(io.as_mut(), &request, limit, stop)
                .await;
            progress.finish();
            return Ok(finish(
                found.outcome,
                found.response,
                Some(found.recovery),
                Some(NoAnswer::Interrupted),
                None,
                Some(found.detail),
                vec![],
            ));
        };
        drop(io);
        let result = match end {
            End::Response { response, receipt } => {
                let outcome = response.outcome.clone();
                finish(outcome, Some(response), None, None, None, None, receipt)
            }
            End::NotDelivered(e) => {
                let detail = format!("request not delivered: {e}");
                match e {
                    ecrlink_core::Error::Unsupported { .. } => finish(
                        Outcome::Failed {
                            reason: ecrlink_core::txn::FailReason::NotSupported,
                        },
                        None,
                        None,
                        None,
                        None,
                        Some(detail),
                        vec![],
                    ),
                    _ => finish(
                        Outcome::TerminalOffline,
                        None,
                        None,
                        None,
                        None,
                        Some(detail),
                        vec![],
                    ),
                }
            }
            End::NotAcknowledged { other } => {
                let detail = match other {
                    Some(d) => format!("the terminal's bytes are {}", i18n::dialect_title(d)),
                    None => format!(
                        "no acknowledgement within {} s",
                        o.ack_timeout.as_secs_f32()
                    ),
                };
                // A ČSOB terminal may have taken a B1 whose B0 was lost: ask, unless its bytes
                // showed it speaks another dialect. A Concert request frame that was not
                // acknowledged was not taken.
                if may_recover && other.is_none() {
                    progress.set_message(i18n::asking_last_text(o.lang));
                    let (outcome, response, recovery) = self.recover(&request, limit).await;
                    finish(
                        outcome,
                        response,
                        Some(recovery),
                        Some(NoAnswer::NotAcknowledged),
                        None,
                        Some(detail),
                        vec![],
                    )
                } else {
                    finish(
                        Outcome::TerminalOffline,
                        None,
                        None,
                        Some(NoAnswer::NotAcknowledged),
                        other,
                        Some(detail),
                        vec![],
                    )
                }
            }
            End::TimedOut | End::Dropped(_) => {
                let (no_answer, detail) = match &end {
                    End::Dropped(why) => (NoAnswer::ConnectionClosed, why.clone()),
                    _ => (
                        NoAnswer::Timeout,
                        format!(
                            "no answer within {} s",
                            deadline.saturating_duration_since(started).as_secs_f32()
                        ),
                    ),
                };
                if request.kind().moves_money() {
                    progress.set_message(i18n::asking_last_text(o.lang));
                    let (outcome, response, recovery) = self.recover(&request, limit).await;
                    finish(
                        outcome,
                        response,
                        Some(recovery),
                        Some(no_answer),
                        None,
                        Some(detail),
                        vec![],
                    )
                } else {
                    finish(
                        Outcome::Timeout,
                        None,
                        None,
                        Some(no_answer),
                        None,
                        Some(detail),
                        vec![],
                    )
                }
            }
        };
        progress.finish();
        Ok(result)
    }

    /// Whether this till can ask the terminal for its last transaction (ČSOB can, Concert
    /// cannot; a custom session is assumed to).
    fn can_ask_last(&self) -> bool {
        self.opts.dialect != Dialect::Concert || self.opts.ecr_factory.is_some()
    }

    /// The part of the timeout kept for the last-transaction question: at most
    /// [`TillOptions::recovery_timeout`], at most a quarter of the timeout.
    fn recovery_share(&self, may_recover: bool) -> Duration {
        if may_recover {
            self.opts.recovery_timeout.min(self.opts.timeout / 4)
        } else {
            Duration::ZERO
        }
    }

    /// After no answer: asks for the last transaction and compares it with `original`, done
    /// by `limit` at the latest.
    async fn recover(
        &self,
        original: &Request,
        limit: tokio::time::Instant,
    ) -> (Outcome, Option<Response>, Recovery) {
        let o = &self.opts;
        let log = &o.log;
        if !self.can_ask_last() {
            log.line("recovery: Concert cannot ask for the last transaction");
            return (Outcome::Timeout, None, Recovery::Unsupported);
        }
        log.line("recovery: asking the terminal for its last transaction");
        let no_time = || {
            (
                Outcome::Timeout,
                None,
                Recovery::Failed("no time left within --timeout to ask".into()),
            )
        };
        let left = limit.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return no_time();
        }
        let mut io = match tokio::time::timeout(left, self.connect()).await {
            Ok(Ok(io)) => io,
            Ok(Err(why)) => return (Outcome::Timeout, None, Recovery::Failed(why)),
            Err(_) => return no_time(),
        };
        let clock = Clock::start();
        let mut ecr = match self.new_ecr() {
            Ok(ecr) => ecr,
            Err(e) => return (Outcome::Timeout, None, Recovery::Failed(e.to_string())),
        };
        let deadline = (tokio::time::Instant::now() + o.recovery_timeout).min(limit);
        let not_acknowledged = || {
            format!(
                "the terminal did not acknowledge the question within {} s",
                o.ack_timeout.as_secs_f32()
            )
        };
        if o.dialect == Dialect::Csob && o.ecr_factory.is_none() {
            // As the public ČSOB client does: passivate (T81) whatever may still be pending,
            // then ask for the last transaction (T82).
            let end = exchange(
                io.as_mut(),
                ecr.as_mut(),
                self.log_dialect(),
                Action::Request(&Request::Abort),
                deadline,
                Some(tokio::time::Instant::now() + o.ack_timeout),
                false,
                log,
                &clock,
            )
            .await;
            match end {
                End::Response { response, .. } => log.line(&format!(
                    "recovery: passivate answered {}",
                    describe_outcome(&response.outcome)
                )),
                End::TimedOut => {
                    return (
                        Outcome::Timeout,
                        None,
                        Recovery::Failed("no answer to the passivate request".into()),
                    );
                }
                End::NotAcknowledged { .. } => {
                    return (Outcome::Timeout, None, Recovery::Failed(not_acknowledged()));
                }
                End::Dropped(why) => return (Outcome::Timeout, None, Recovery::Failed(why)),
                End::NotDelivered(e) => {
                    return (Outcome::Timeout, None, Recovery::Failed(e.to_string()));
                }
            }
        }
        let end = exchange(
            io.as_mut(),
            ecr.as_mut(),
            self.log_dialect(),
            Action::Request(&Request::LastTransaction),
            deadline,
            Some(tokio::time::Instant::now() + o.ack_timeout),
            false,
            log,
            &clock,
        )
        .await;
        match end {
            End::Response { response, .. } => {
                if is_same_transaction(original, &response) {
                    log.line("recovery: the last transaction is this one");
                    (response.outcome.clone(), Some(response), Recovery::Matched)
                } else {
                    log.line("recovery: the last transaction is another one");
                    (Outcome::Timeout, Some(response), Recovery::Different)
                }
            }
            End::NotDelivered(ecrlink_core::Error::Unsupported { .. }) => {
                (Outcome::Timeout, None, Recovery::Unsupported)
            }
            End::NotDelivered(e) => (Outcome::Timeout, None, Recovery::Failed(e.to_string())),
            End::NotAcknowledged { .. } => {
                (Outcome::Timeout, None, Recovery::Failed(not_acknowledged()))
            }
            End::TimedOut => (
                Outcome::Timeout,
                None,
                Recovery::Failed("no answer to the last-transaction question".into()),
            ),
            End::Dropped(why) => (Outcome::Timeout, None, Recovery::Failed(why)),
        }
    }

    /// The dialect whose frame layout the log may rely on (none for a custom session).
    fn log_dialect(&self) -> Option<Dialect> {
        self.opts.ecr_factory.is_none().then_some(self.opts.dialect)
    }

    fn new_ecr(&self) -> Result<Box<dyn EcrSide + Send>, TillError> {
        match &self.opts.ecr_factory {
            Some(f) => f(),
            None => default_ecr(&self.opts),
        }
    }

    async fn connect(&self) -> Result<Box<dyn Io>, String> {
        let o = &self.opts;
        let log = &o.log;
        let t0 = tokio::time::Instant::now();
        let result: Result<Box<dyn Io>, String> = match &o.target {
            Target::Tcp { address } => {
                match tokio::time::timeout(
                    o.connect_timeout,
                    tokio::net::TcpStream::connect(address.as_str()),
                )
                .await
                {
                    Ok(Ok(stream)) => {
                        let _ = stream.set_nodelay(true);
                        Ok(Box::new(stream))
                    }
                    Ok(Err(e)) => Err(format!("cannot connect to {address}: {e}")),
                    Err(_) => Err(format!(
                        "cannot connect to {address}: no answer within {} s",
                        o.connect_timeout.as_secs_f32()
                    )),
                }
            }
            Target::Serial { path, baud } => {
                use tokio_serial::SerialPortBuilderExt;
                match tokio_serial::new(path.as_str(), *baud).open_native_async() {
                    Ok(port) => Ok(Box::new(port)),
                    Err(e) => Err(format!("cannot open {path}: {e}")),
                }
            }
        };
        match &result {
            Ok(_) => log.line(&format!(
                "connected to {} in {} ms",
                o.target,
                t0.elapsed().as_millis()
            )),
            Err(e) => log.line(e),
        }
        result
    }
}

/// The parts of a result its message is made of, besides the outcome and the answer.
struct Parts<'a> {
    recovery: Option<&'a Recovery>,
    no_answer: Option<NoAnswer>,
    detected: Option<Dialect>,
    unknown: bool,
    codes: &'a ResultCodes,
    reason: Option<&'a str>,
    last_kind: Option<RequestKind>,
}

/// The localized message of a result: what happened, why (reason and both codes for a
/// refusal), and for an unknown outcome the advice the dialect allows.
fn compose_message(
    o: &TillOptions,
    request: &Request,
    outcome: &Outcome,
    response: Option<&Response>,
    p: Parts<'_>,
) -> String {
    let lang = o.lang;
    let dialect = o.ecr_factory.is_none().then_some(o.dialect);
    let codes = i18n::codes_text(lang, dialect, p.codes);
    let refusal = |head: &str| {
        let mut s = head.to_string();
        if let Some(r) = p.reason {
            s.push_str(": ");
            s.push_str(r);
        }
        if let Some(c) = &codes {
            s.push_str(&format!(" ({c})"));
        }
        s
    };
    let mut message = match (p.no_answer, outcome) {
        (Some(NoAnswer::Interrupted), Outcome::Timeout) => i18n::interrupted_text(lang).to_string(),
        (Some(NoAnswer::ConnectionClosed), Outcome::Timeout) => {
            i18n::connection_closed_text(lang).to_string()
        }
        (Some(NoAnswer::NotAcknowledged), Outcome::Timeout | Outcome::TerminalOffline) => {
            i18n::not_acknowledged_text(lang, o.dialect, p.detected, o.ack_timeout.as_secs_f64())
        }
        _ if request.kind() == RequestKind::LastTransaction && response.is_some() => {
            // "Last transaction: refund 12.00 CZK — approved": what it was, then its outcome.
            let mut s = format!("{}: ", i18n::last_transaction_text(lang));
            let amount = response.and_then(|r| r.amount);
            let text = response.and_then(|r| r.text.as_ref()).map(|t| t.as_str());
            match (p.last_kind, amount) {
                (Some(k), Some(a)) => s.push_str(&format!("{} {a} — ", i18n::kind_text(lang, k))),
                (Some(k), None) => s.push_str(&format!("{} — ", i18n::kind_text(lang, k))),
                (None, Some(a)) => {
                    s.push_str(&format!("{a} ({}) — ", i18n::kind_not_reported_text(lang)))
                }
                // No transaction described: none yet, or a refusal of the question.
                (None, None) => {}
            }
            let word = i18n::outcome_word(lang, outcome);
            // Without a kind or an amount, a refusal may be of the question, not of the
            // last transaction: none yet, or the terminal cannot answer now.
            let question = (p.last_kind.is_none() && amount.is_none())
                .then(|| i18n::fail_reason_of(outcome, text))
                .flatten();
            match question {
                Some(FailReason::NoMatchingTransaction) => {
                    s.push_str(i18n::no_last_transaction_text(lang));
                }
                Some(FailReason::Busy) => s.push_str(&refusal(i18n::last_not_known_now_text(lang))),
                _ if i18n::refusal_head(lang, outcome).is_some() => s.push_str(&refusal(word)),
                _ => s.push_str(word),
            }
            s
        }
        _ => match i18n::refusal_head(lang, outcome) {
            Some(head) => refusal(head),
            None => i18n::outcome_text(lang, request.kind(), outcome),
        },
    };
    match p.recovery {
        Some(Recovery::Matched) => {
            message = format!("{message} ({})", i18n::recovered_text(lang));
        }
        Some(Recovery::Different) => {
            message = format!("{message}: {}", i18n::not_done_text(lang));
        }
        _ if p.unknown => {
            message = format!("{message}: {}", i18n::unknown_text(lang, o.dialect));
        }
        _ => {}
    }
    if p.no_answer == Some(NoAnswer::Interrupted) && *outcome != Outcome::Timeout {
        message = format!("{}: {message}", i18n::interrupted_text(lang));
    }
    if p.no_answer == Some(NoAnswer::NotAcknowledged) && *outcome == Outcome::TerminalOffline {
        message = format!("{message}; {}", i18n::nothing_done_text(lang));
    }
    message
}

/// What a last-transaction answer says the last transaction was: the answer's kind when the
/// dialect carries it (ČSOB: the `K` field of ecrlink's terminals; the T82 answer itself only
/// repeats T82), a sale with cashback when a cashback amount is in it; else unknown, and the
/// message says the terminal did not report it.
pub fn last_kind(r: &Response) -> Option<RequestKind> {
    if r.kind != RequestKind::LastTransaction {
        return Some(r.kind);
    }
    r.cashback.map(|_| RequestKind::SaleWithCashback)
}

/// Whether the terminal's last-transaction answer describes `original`: same amount, same
/// reference when both carry one, and the same kind when the answer names one.
pub fn is_same_transaction(original: &Request, last: &Response) -> bool {
    let kind_ok = last.kind == original.kind() || last.kind == RequestKind::LastTransaction;
    let amount_ok = match (original.amount(), last.amount) {
        (Some(a), Some(b)) => a == b,
        (_, None) => true,
        (None, Some(_)) => false,
    };
    let refs = (original.reference(), last.reference.as_ref());
    let ref_ok = match refs {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    let evidence = last.amount.is_some() || matches!(refs, (Some(_), Some(_)));
    kind_ok && amount_ok && ref_ok && evidence
}

/// The request in one line for the log (nothing secret in a request).
pub fn describe_request(r: &Request) -> String {
    let mut s = r.kind().name().to_string();
    match r {
        Request::Sale { amount, .. } | Request::Refund { amount, .. } => {
            s.push_str(&format!(" {amount}"));
        }
        Request::SaleWithCashback {
            amount, cashback, ..
        } => {
            let mut c = String::new();
            let _ = Money::fmt_decimal(cashback.minor(), amount.currency, &mut c);
            s.push_str(&format!(" {amount} cashback {c}"));
        }
        Request::Reversal { amount, code, .. } => s.push_str(&format!(" {amount} code {code}")),
        Request::ReversalByReceipt { receipt } | Request::PreAuthReversal { receipt } => {
            s.push_str(&format!(" receipt {receipt:04}"))
        }
        Request::Reservation { amount } => s.push_str(&format!(" {amount}")),
        Request::BookTotal { receipt, amount } | Request::PartialReversal { receipt, amount } => {
            s.push_str(&format!(" receipt {receipt:04} {amount}"))
        }
        _ => {}
    }
    if let Some(reference) = r.reference() {
        s.push_str(&format!(" ref {reference}"));
    }
    s
}

/// The till side of the options' dialect, its response limit set to [`TillOptions::timeout`]
/// (the driver's own limit, which starts earlier, ends the wait first).
pub fn default_ecr(opts: &TillOptions) -> Result<Box<dyn EcrSide + Send>, TillError> {
    match opts.dialect {
        Dialect::Concert => {
            use ecrlink_core::dialect::concert::{ConcertEcr, ConcertEcrConfig};
            let config = ConcertEcrConfig {
                response_timeout: opts.timeout,
                ..ConcertEcrConfig::default()
            };
            Ok(Box::new(ConcertEcr::new(config)))
        }
        Dialect::Csob => {
            use ecrlink_core::dialect::csob::{CsobConfig, CsobEcr};
            let id = opts
                .terminal_id
                .as_deref()
                .unwrap_or(DEFAULT_CSOB_TERMINAL_ID);
            let mut config = CsobConfig::new(ecrlink_core::txn::TerminalId::new(id)?);
            config.response_timeout = opts.timeout;
            // Boxed first, then set up in place: the session holds kilobytes of buffers.
            let mut ecr = Box::new(CsobEcr::new(config));
            // Header timestamps: the driver's clock starts at zero right after this.
            if let Some(wall) = local_timestamp() {
                ecr.set_wall_clock(ecrlink_core::Instant::ZERO, wall);
            }
            Ok(ecr)
        }
        Dialect::Zvt => {
            use ecrlink_core::dialect::zvt::{Transport, ZvtEcr, ZvtEcrConfig};
            let mut config = ZvtEcrConfig::new(ecrlink_core::txn::Currency::EUR);
            config.password = opts.zvt_password;
            config.response_timeout = opts.timeout;
            config.transport = match opts.target {
                Target::Tcp { .. } => Transport::Tcp,
                Target::Serial { .. } => Transport::Serial,
            };
            Ok(Box::new(ZvtEcr::new(config)))
        }
    }
}

/// Terminal id a ČSOB till writes in its headers when none is configured.
pub const DEFAULT_CSOB_TERMINAL_ID: &str = "00000000";

/// Local wall-clock time as the core's [`ecrlink_core::txn::Timestamp`].
pub fn local_timestamp() -> Option<ecrlink_core::txn::Timestamp> {
    use chrono::{Datelike, Timelike};
    let t = chrono::Local::now();
    ecrlink_core::txn::Timestamp::new(
        u16::try_from(t.year()).ok()?,
        u8::try_from(t.month()).ok()?,
        u8::try_from(t.day()).ok()?,
        u8::try_from(t.hour()).ok()?,
        u8::try_from(t.minute()).ok()?,
        u8::try_from(t.second().min(59)).ok()?,
    )
    .ok()
}

/// The same calls as [`Till`], blocking the calling thread (an ERP's synchronous script call).
#[derive(Debug)]
pub struct BlockingTill {
    till: Till,
    runtime: tokio::runtime::Runtime,
}

macro_rules! blocking {
    ($(#[$doc:meta])* $name:ident ( $($arg:ident : $ty:ty),* )) => {
        $(#[$doc])*
        pub fn $name(&self $(, $arg: $ty)*) -> Result<TillResult, TillError> {
            self.runtime.block_on(self.till.$name($($arg),*))
        }
    };
}

impl BlockingTill {
    /// A blocking till with its own single-threaded runtime.
    pub fn new(opts: TillOptions) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(BlockingTill {
            till: Till::new(opts),
            runtime,
        })
    }

    blocking!(
        /// Payment of `amount`.
        sale(amount: Money, reference: Option<Reference>)
    );
    blocking!(
        /// Payment with cashback.
        cashback(amount: Money, cashback: Amount, reference: Option<Reference>)
    );
    blocking!(
        /// Reversal by approval code.
        reversal(amount: Money, code: ApprovalCode, reference: Option<Reference>)
    );
    blocking!(
        /// Refund.
        refund(amount: Money, reference: Option<Reference>)
    );
    blocking!(
        /// Close totals.
        close_totals()
    );
    blocking!(
        /// Subtotals.
        subtotals()
    );
    blocking!(
        /// Last sums.
        last_sums()
    );
    blocking!(
        /// Terminal check.
        test_terminal()
    );
    blocking!(
        /// Bank link check.
        test_bank()
    );
    blocking!(
        /// Reprint the last receipt.
        reprint()
    );
    blocking!(
        /// The last transaction.
        last()
    );
    blocking!(
        /// Any request.
        run(request: Request)
    );
}

#[cfg(test)]
mod tests;
