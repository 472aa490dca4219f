//! The tokio driver of one exchange: runs a sans-IO [`EcrSide`] over a byte stream until the
//! terminal answers, the limit passes or the connection drops.

use std::time::Duration;

use ecrlink_core::Error as CoreError;
use ecrlink_core::session::{EcrEvent, EcrSide, MAX_TRANSMIT};
use ecrlink_core::txn::{Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::log::{Dir, SessionLog};

/// A byte stream to a terminal (TCP socket, serial port, or an in-memory pipe in tests).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How long the driver keeps the link open after the answer, for the closing handshake
/// (Concert's ACK/EOT, ČSOB's B0 confirmation) and each receipt part.
const GRACE: Duration = Duration::from_secs(5);

/// The injected clock: core [`ecrlink_core::Instant`]s are milliseconds since `origin`.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: tokio::time::Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn start() -> Self {
        Clock {
            origin: tokio::time::Instant::now(),
        }
    }

    /// Now, for the core.
    pub fn now(&self) -> ecrlink_core::Instant {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        ecrlink_core::Instant::from_millis(ms)
    }

    /// A core deadline as a tokio instant.
    pub fn to_tokio(&self, t: ecrlink_core::Instant) -> tokio::time::Instant {
        self.origin + Duration::from_millis(t.as_millis())
    }
}

/// How one exchange ended.
// Made once per exchange and moved out at once: boxing the answer buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum End {
    /// The terminal answered (and sent receipt parts, if asked for).
    Response {
        /// The answer.
        response: Response,
        /// Receipt text parts, in order.
        receipt: Vec<String>,
    },
    /// No answer in time: the dialect's limit or ours.
    TimedOut,
    /// The connection failed after the request may have reached the terminal.
    Dropped(String),
    /// The request did not reach the terminal (no acknowledgement, refused by the session).
    NotDelivered(CoreError),
    /// Nothing the dialect expects came back within the acknowledgement limit: the terminal
    /// did not take the request. `other` is set when the bytes that did come back are another
    /// dialect's (a wrong `--dialect`).
    NotAcknowledged {
        /// The dialect the terminal's bytes belong to, when they tell.
        other: Option<ecrlink_core::session::Dialect>,
    },
}

/// The dialect whose bytes `heard` (the first bytes a terminal sent) are, when it is not
/// `expected`: Concert's link layer opens with a control byte (ACK, NAK, ENQ, EOT), a ČSOB
/// message with STX and the message type `B`.
pub fn other_dialect(
    expected: ecrlink_core::session::Dialect,
    heard: &[u8],
) -> Option<ecrlink_core::session::Dialect> {
    use ecrlink_core::link::control::{ACK, ENQ, EOT, NAK, STX};
    use ecrlink_core::session::Dialect;
    match expected {
        Dialect::Csob => {
            matches!(heard.first(), Some(&(ACK | NAK | ENQ | EOT))).then_some(Dialect::Concert)
        }
        Dialect::Concert => {
            (heard.first() == Some(&STX) && heard.get(1) == Some(&b'B')).then_some(Dialect::Csob)
        }
        // A ZVT terminal answers 80 00 00; anything else is judged by the session.
        Dialect::Zvt => None,
    }
}

/// What an exchange starts with.
#[derive(Clone, Copy, Debug)]
pub enum Action<'a> {
    /// Send a request (and, if asked, fetch the receipt after the answer).
    Request(&'a Request),
    /// Only fetch the receipt of the last transaction (a reprint where the dialect transfers
    /// receipts: ČSOB B3/B4); ends with an approved answer of `kind` once the text is in.
    Receipt(ecrlink_core::txn::RequestKind),
}

/// Sends `request` through `ecr` over `io` and drives the exchange until it ends or `deadline`.
/// A terminal that has not acknowledged the request by `ack_deadline` (ČSOB: B0; Concert: the
/// ACK of the request frame) ends it with [`End::NotAcknowledged`]; so do bytes of another
/// dialect, at once.
#[allow(clippy::too_many_arguments)]
pub async fn exchange(
    io: &mut dyn Io,
    ecr: &mut (dyn EcrSide + Send),
    dialect: Option<ecrlink_core::session::Dialect>,
    action: Action<'_>,
    deadline: tokio::time::Instant,
    ack_deadline: Option<tokio::time::Instant>,
    want_receipt: bool,
    log: &SessionLog,
    clock: &Clock,
) -> End {
    let mut tx = vec![0u8; MAX_TRANSMIT];
    let mut rx = vec![0u8; 4096];
    let started = match action {
        Action::Request(request) => ecr.start(clock.now(), request),
        Action::Receipt(_) => ecr.request_receipt(clock.now()),
    };
    if let Err(e) = started {
        log.line(&format!("request refused by the session: {e}"));
        return End::NotDelivered(e);
    }
    let mut response: Option<Response> = None;
    let mut receipt: Vec<String> = Vec::new();
    let mut receipt_pending = matches!(action, Action::Receipt(_));
    let receipt_only = match action {
        Action::Receipt(kind) => Some(kind),
        Action::Request(_) => None,
    };
    let mut grace_until = deadline;
    let mut accepted = false;
    // The first bytes the terminal sent, to tell a wrong dialect.
    let mut heard: Vec<u8> = Vec::new();

    loop {
        // 1. Send what the session has for the terminal.
        loop {
            match ecr.poll_transmit(&mut tx) {
                Ok(Some(n)) => {
                    let bytes = tx.get(..n).unwrap_or(&[]);
                    log.frame_of(dialect, Dir::Out, bytes);
                    if let Err(e) = write_all(io, bytes).await {
                        log.line(&format!("write failed: {e}"));
                        return match response {
                            Some(response) => End::Response { response, receipt },
                            None => End::Dropped(format!("write failed: {e}")),
                        };
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    log.line(&format!("session could not emit a frame: {e}"));
                    return End::NotDelivered(e);
                }
            }
        }

        // 2. Act on its events.
        let mut progressed = false;
        while let Some(event) = ecr.poll_event() {
            progressed = true;
            match event {
                EcrEvent::Accepted => {
                    accepted = true;
                    log.line("terminal accepted the request");
                }
                EcrEvent::Response(r) => {
                    log.line(&format!(
                        "response: {} {}",
                        r.kind.name(),
                        describe_outcome(&r.outcome)
                    ));
                    if want_receipt && response.is_none() {
                        match ecr.request_receipt(clock.now()) {
                            Ok(()) => receipt_pending = true,
                            Err(CoreError::Unsupported { .. }) => {
                                log.line("this dialect does not transfer receipt text")
                            }
                            Err(e) => log.line(&format!("receipt request refused: {e}")),
                        }
                    }
                    if response.is_none() {
                        response = Some(r);
                    }
                    grace_until = tokio::time::Instant::now() + GRACE;
                }
                EcrEvent::ReceiptPart { text, more } => {
                    log.line(&format!(
                        "receipt part ({} bytes, more: {more})",
                        text.len()
                    ));
                    accepted = true;
                    receipt.push(text.as_str().to_string());
                    grace_until = tokio::time::Instant::now() + GRACE;
                    receipt_pending = more;
                    if let (Some(kind), None) = (receipt_only, &response) {
                        response = Some(Response::new(kind, ecrlink_core::txn::Outcome::Approved));
                    }
                    if more {
                        if let Err(e) = ecr.request_receipt(clock.now()) {
                            log.line(&format!("next receipt part refused: {e}"));
                            receipt_pending = false;
                        }
                    }
                }
                EcrEvent::TimedOut => {
                    log.line("the session's response limit passed");
                    match response.take() {
                        Some(response) => return End::Response { response, receipt },
                        None => return End::TimedOut,
                    }
                }
                EcrEvent::Failed(e) => {
                    log.line(&format!("session failed: {e}"));
                    match response.take() {
                        Some(response) => return End::Response { response, receipt },
                        // The terminal took the request: it may have run it.
                        None if accepted => {
                            return End::Dropped(format!("answer unusable: {e}"));
                        }
                        None => return End::NotDelivered(e),
                    }
                }
                EcrEvent::ProtocolError(e) => log.line(&format!("protocol error: {e}")),
            }
        }
        if progressed {
            // Acting on events may have queued frames (receipt requests, acknowledgements).
            continue;
        }

        if !receipt_pending && !ecr.is_busy() {
            if let Some(response) = response.take() {
                log.line(&format!("exchange closed ({})", response.outcome.name()));
                return End::Response { response, receipt };
            }
        }

        // 3. Wait for bytes, the session's next deadline, or our limit.
        let limit = if response.is_some() {
            grace_until
        } else {
            deadline
        };
        let waiting_ack = !accepted && response.is_none();
        let limit = match ack_deadline {
            Some(a) if waiting_ack => limit.min(a),
            _ => limit,
        };
        let wake = match ecr.poll_timeout() {
            Some(t) => clock.to_tokio(t).min(limit),
            None => limit,
        };
        tokio::select! {
            read = io.read(&mut rx) => match read {
                Ok(0) | Err(_) => {
                    let why = match read {
                        Err(e) => format!("connection lost: {e}"),
                        _ => "connection closed by the terminal".to_string(),
                    };
                    log.line(&why);
                    return match response {
                        Some(response) => End::Response { response, receipt },
                        None => End::Dropped(why),
                    };
                }
                Ok(n) => {
                    let bytes = rx.get(..n).unwrap_or(&[]);
                    log.frame_of(dialect, Dir::In, bytes);
                    if waiting_ack && heard.len() < 16 {
                        heard.extend(bytes.iter().take(16 - heard.len()));
                        if let Some(other) = dialect.and_then(|d| other_dialect(d, &heard)) {
                            log.line(&format!(
                                "the terminal answers in the {} dialect, not {}",
                                other.name(),
                                dialect.map_or("", |d| d.name())
                            ));
                            return End::NotAcknowledged { other: Some(other) };
                        }
                    }
                    ecr.handle_bytes(clock.now(), bytes);
                }
            },
            () = tokio::time::sleep_until(wake) => {
                let now = tokio::time::Instant::now();
                if waiting_ack && ack_deadline.is_some_and(|a| now >= a) && now < deadline {
                    log.line("the terminal did not acknowledge the request");
                    return End::NotAcknowledged {
                        other: dialect.and_then(|d| other_dialect(d, &heard)),
                    };
                }
                if now >= limit {
                    return match response {
                        Some(response) => {
                            log.line("closing handshake not finished; keeping the answer");
                            End::Response { response, receipt }
                        }
                        None => {
                            log.line("no answer within the limit");
                            End::TimedOut
                        }
                    };
                }
                ecr.handle_timeout(clock.now());
            }
        }
    }
}

async fn write_all(io: &mut dyn Io, bytes: &[u8]) -> std::io::Result<()> {
    io.write_all(bytes).await?;
    io.flush().await
}

/// `approved`, `declined 51`, `failed card-error`, … for logs.
pub fn describe_outcome(o: &ecrlink_core::txn::Outcome) -> String {
    use ecrlink_core::txn::Outcome;
    match o {
        Outcome::Declined { code } => format!("declined {code}"),
        Outcome::Failed { reason } => format!("failed {}", reason.name()),
        other => other.name().to_string(),
    }
}
