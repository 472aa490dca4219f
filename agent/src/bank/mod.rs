//! The bank link: one TCP connection to the acquirer carrying ISO 8583 messages with a 2-byte
//! big-endian length prefix. Answers are matched to requests by trace number (field 11), so
//! several requests may be outstanding. The link reconnects on its own with capped
//! exponential backoff and jitter, and closes while the agent sleeps.

pub mod codec;
pub mod key;
pub mod msg;
pub mod tls;

use std::collections::HashMap;
use std::time::Duration;

use ecrlink_core::bank::framing;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

pub use msg::{AuthKind, AuthRequest, BankAnswer, BankRequest, ReconcileRequest, ReversalRequest};

use crate::hex::Hex;

/// A connection that lasted this long resets the reconnect backoff.
pub const STABLE_CONNECTION: Duration = Duration::from_secs(10);

/// Time allowed for a TCP connect to the bank.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// State of the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkStatus {
    /// No bank address configured.
    NoBank,
    /// Not connected; `attempt` connects have failed in a row.
    Connecting {
        /// Failed attempts so far.
        attempt: u32,
    },
    /// Connected.
    Connected,
    /// Closed for sleep mode.
    Asleep,
}

/// Why an exchange failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BankError {
    /// The link is down: the message was not sent.
    #[error("bank not connected")]
    NotConnected,
    /// The message was sent and no answer came in time.
    #[error("no answer from the bank in time")]
    Timeout,
    /// The connection broke after the message was sent.
    #[error("bank connection lost")]
    Lost,
    /// The message could not be encoded.
    #[error("bank message: {0}")]
    Codec(String),
    /// An answer came whose message authentication code is missing or does not verify: it
    /// is no answer, and the bank may have approved.
    #[error("bank answer with a bad MAC (changed on the way?), taken as no answer")]
    BadMac,
}

impl BankError {
    /// Whether the bank may have received the message (so a reversal is owed).
    pub fn maybe_delivered(&self) -> bool {
        matches!(
            self,
            BankError::Timeout | BankError::Lost | BankError::BadMac
        )
    }
}

#[allow(clippy::large_enum_variant)]
enum Cmd {
    Exchange {
        req: BankRequest,
        reply: oneshot::Sender<Result<BankAnswer, BankError>>,
    },
    Sleep,
    Wake,
    Reconnect,
}

/// Reconnect timing.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Cap.
    pub max: Duration,
}

impl Backoff {
    /// The delay before retry number `attempt` (1-based): `initial × 2^(attempt-1)` capped at
    /// `max`, of which a random half is kept ("equal jitter"): the result lies in
    /// `[d/2, d]`, never above `max`.
    pub fn delay(&self, attempt: u32, rng: &mut Rng) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let d = self
            .initial
            .saturating_mul(1u32 << exp)
            .min(self.max)
            .as_millis() as u64;
        let half = d / 2;
        Duration::from_millis(half + rng.below(d - half + 1))
    }
}

/// A small xorshift generator for jitter (not for anything secret).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock and the process id.
    pub fn from_entropy() -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9);
        Rng((t ^ (u64::from(std::process::id()) << 32)) | 1)
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        if n == 0 { 0 } else { x % n }
    }
}

/// A handle on the bank link task; cheap to clone.
#[derive(Clone)]
pub struct BankLink {
    tx: mpsc::Sender<Cmd>,
    status: watch::Receiver<LinkStatus>,
}

impl BankLink {
    /// Starts the link task. With `addr` `None` every exchange fails with
    /// [`BankError::NotConnected`].
    pub fn start(addr: Option<String>, backoff: Backoff, id: codec::Identity) -> Self {
        Self::start_tls(addr, backoff, id, None)
    }

    /// As [`BankLink::start`], over TLS when `tls` is given (see [`tls`]).
    pub fn start_tls(
        addr: Option<String>,
        backoff: Backoff,
        id: codec::Identity,
        tls: Option<tls::BankTls>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(64);
        let initial = if addr.is_some() {
            LinkStatus::Connecting { attempt: 0 }
        } else {
            LinkStatus::NoBank
        };
        let (status_tx, status) = watch::channel(initial);
        tokio::spawn(run(addr, backoff, id, tls, rx, status_tx));
        BankLink { tx, status }
    }

    /// Sends `req` and waits up to `wait` for the answer with its trace number.
    pub async fn exchange(
        &self,
        req: BankRequest,
        wait: Duration,
    ) -> Result<BankAnswer, BankError> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Cmd::Exchange { req, reply }).await.is_err() {
            return Err(BankError::NotConnected);
        }
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(BankError::Lost),
            Err(_) => Err(BankError::Timeout),
        }
    }

    /// The current status.
    pub fn status(&self) -> LinkStatus {
        *self.status.borrow()
    }

    /// A receiver that sees every status change.
    pub fn watch(&self) -> watch::Receiver<LinkStatus> {
        self.status.clone()
    }

    /// Closes the link until [`BankLink::wake`].
    pub fn sleep(&self) {
        let _ = self.tx.try_send(Cmd::Sleep);
    }

    /// Re-opens the link after sleep (reconnecting with backoff).
    pub fn wake(&self) {
        let _ = self.tx.try_send(Cmd::Wake);
    }

    /// Drops the connection and connects again (after a failed echo).
    pub fn reconnect(&self) {
        let _ = self.tx.try_send(Cmd::Reconnect);
    }
}

type Pending = HashMap<u32, oneshot::Sender<Result<BankAnswer, BankError>>>;

async fn run(
    addr: Option<String>,
    backoff: Backoff,
    id: codec::Identity,
    tls: Option<tls::BankTls>,
    mut rx: mpsc::Receiver<Cmd>,
    status: watch::Sender<LinkStatus>,
) {
    let Some(addr) = addr else {
        while let Some(cmd) = rx.recv().await {
            if let Cmd::Exchange { reply, .. } = cmd {
                let _ = reply.send(Err(BankError::NotConnected));
            }
        }
        return;
    };
    let mut rng = Rng::from_entropy();
    let mut asleep = false;
    let mut attempt: u32 = 0;
    loop {
        if asleep {
            status.send_replace(LinkStatus::Asleep);
            match rx.recv().await {
                None => return,
                Some(Cmd::Wake) => {
                    asleep = false;
                    attempt = 0;
                }
                Some(Cmd::Exchange { reply, .. }) => {
                    let _ = reply.send(Err(BankError::NotConnected));
                }
                Some(Cmd::Sleep | Cmd::Reconnect) => {}
            }
            continue;
        }
        status.send_replace(LinkStatus::Connecting { attempt });
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, async {
            let tcp = TcpStream::connect(&addr).await?;
            let _ = tcp.set_nodelay(true);
            match &tls {
                None => Ok(BankStream::Plain(tcp)),
                Some(t) => t.connect(tcp).await.map(|s| BankStream::Tls(Box::new(s))),
            }
        })
        .await;
        match conn {
            Ok(Ok(stream)) => {
                let secured = if tls.is_some() { "TLS" } else { "plain TCP" };
                let protocol = if tls.is_some() {
                    tls::BankTls::VERSION
                } else {
                    "TCP"
                };
                let mac = if id.mac_key.is_some() {
                    "HMAC-SHA-256/64 on every message"
                } else {
                    "none"
                };
                if attempt == 0 {
                    tracing::info!(bank = %addr, link = secured, protocol, mac, "bank link connected");
                } else {
                    tracing::debug!(bank = %addr, link = secured, attempt, "bank link connected");
                }
                status.send_replace(LinkStatus::Connected);
                let up_since = tokio::time::Instant::now();
                match connected(stream, &mut rx, &id).await {
                    Next::Sleep => asleep = true,
                    Next::Reconnect => {}
                    Next::Stop => return,
                }
                // A connection that closes soon after it opened (an endpoint that accepts and
                // hangs up) counts as a failed attempt, so the next one waits its backoff:
                // never a reconnect storm. Only one that lasted starts again from scratch.
                if up_since.elapsed() >= STABLE_CONNECTION {
                    attempt = 0;
                    tracing::info!(bank = %addr, "bank link closed");
                } else {
                    attempt = attempt.saturating_add(1);
                    if attempt == 1 {
                        tracing::warn!(bank = %addr, "bank link closed at once; reconnecting with backoff (repeats logged at debug level)");
                    } else {
                        tracing::debug!(bank = %addr, attempt, "bank link closed at once");
                    }
                }
            }
            Ok(Err(e)) => {
                attempt = attempt.saturating_add(1);
                tracing::debug!(bank = %addr, attempt, error = %e, "bank connect failed");
            }
            Err(_) => {
                attempt = attempt.saturating_add(1);
                tracing::debug!(bank = %addr, attempt, "bank connect timed out");
            }
        }
        if asleep || attempt == 0 {
            continue;
        }
        status.send_replace(LinkStatus::Connecting { attempt });
        let delay = backoff.delay(attempt, &mut rng);
        let until = tokio::time::Instant::now() + delay;
        // Wait for the retry, answering exchanges with "not connected" meanwhile.
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                cmd = rx.recv() => match cmd {
                    None => return,
                    Some(Cmd::Exchange { reply, .. }) => { let _ = reply.send(Err(BankError::NotConnected)); }
                    Some(Cmd::Sleep) => { asleep = true; break; }
                    Some(Cmd::Wake | Cmd::Reconnect) => break,
                },
            }
        }
    }
}

enum Next {
    Sleep,
    Reconnect,
    Stop,
}

/// The bank connection: plain TCP or TLS over it.
enum BankStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl tokio::io::AsyncRead for BankStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            BankStream::Plain(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            BankStream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for BankStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            BankStream::Plain(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            BankStream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            BankStream::Plain(s) => std::pin::Pin::new(s).poll_flush(cx),
            BankStream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            BankStream::Plain(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            BankStream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

async fn connected(
    mut stream: BankStream,
    rx: &mut mpsc::Receiver<Cmd>,
    id: &codec::Identity,
) -> Next {
    let mut pending: Pending = HashMap::new();
    let mut buf = vec![0u8; 4096];
    let mut acc = framing::Accumulator::<{ framing::MAX_MESSAGE_LEN }>::new();
    let next = loop {
        tokio::select! {
            r = stream.read(&mut buf) => {
                let n = match r {
                    Ok(0) | Err(_) => break Next::Reconnect,
                    Ok(n) => n,
                };
                let mut input = &buf[..n];
                let mut out_of_step = false;
                while !input.is_empty() {
                    let (res, used) = acc.feed(input);
                    input = &input[used..];
                    match res {
                        Ok(framing::Feed::Message(body)) => {
                            tracing::debug!(frame = %Hex(body), "bank <-");
                            if let Some(key) = &id.mac_key {
                                if let Some((stan, e)) = codec::mac_failure(body, key) {
                                    tracing::warn!(stan, error = %e, "bank answer fails its MAC: taken as no answer");
                                    if let Some(tx) = stan.and_then(|s| pending.remove(&s)) {
                                        let _ = tx.send(Err(BankError::BadMac));
                                    }
                                    continue;
                                }
                            }
                            match codec::decode(body) {
                                Ok(answer) => match pending.remove(&answer.stan) {
                                    Some(tx) => { let _ = tx.send(Ok(answer)); }
                                    None => {
                                        // Late, duplicated or for another trace number: the
                                        // link is out of step. Start again at once.
                                        tracing::warn!(stan = answer.stan, mti = answer.mti, "bank answer for no pending request; reconnecting");
                                        out_of_step = true;
                                        break;
                                    }
                                },
                                Err(e) => {
                                    tracing::warn!(error = %e, "bank message does not decode; reconnecting");
                                    out_of_step = true;
                                    break;
                                }
                            }
                        }
                        Ok(framing::Feed::NeedMore) => {}
                        Err(e) => {
                            // One lost byte puts a length-prefixed stream out of step for good.
                            tracing::warn!(error = %e, "bank framing error; reconnecting");
                            out_of_step = true;
                            break;
                        }
                    }
                }
                if out_of_step {
                    break Next::Reconnect;
                }
            }
            cmd = rx.recv() => match cmd {
                None => break Next::Stop,
                Some(Cmd::Sleep) => break Next::Sleep,
                Some(Cmd::Reconnect) => break Next::Reconnect,
                Some(Cmd::Wake) => {}
                Some(Cmd::Exchange { req, reply }) => {
                    let frame = match codec::encode(&req, id) {
                        Ok(f) => f,
                        Err(e) => { let _ = reply.send(Err(e)); continue; }
                    };
                    if tracing::enabled!(tracing::Level::DEBUG) {
                        let body = frame.get(framing::PREFIX_LEN..).unwrap_or_default();
                        // The card's expiry (field 14) stays on the bank link too; masked
                        // first, while the message still parses.
                        let body = msg::mask_field_in(body, 14);
                        let mut shown = match req.pan() {
                            Some(p) => msg::mask_pan_in(&body, p.digits()),
                            None => body.to_vec(),
                        };
                        if let BankRequest::Auth(a) | BankRequest::PreAuth(a) = &req {
                            shown = msg::mask_emv_in(&shown, &a.emv);
                        }
                        tracing::debug!(stan = req.stan(), msg = req.name(), frame = %Hex(&shown), "bank ->");
                    }
                    pending.retain(|_, tx| !tx.is_closed());
                    pending.insert(req.stan(), reply);
                    let sent = match stream.write_all(&frame).await {
                        Ok(()) => stream.flush().await,
                        Err(e) => Err(e),
                    };
                    if sent.is_err() {
                        break Next::Reconnect;
                    }
                }
            },
        }
    };
    // Requests still waiting may have reached the bank: report them as lost.
    for (_, tx) in pending.drain() {
        let _ = tx.send(Err(BankError::Lost));
    }
    let _ = stream.shutdown().await;
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An endpoint that accepts and closes at once must not be reconnected to thousands of
    /// times a second (it was ~2 900/s): the backoff applies to every reconnect path.
    #[tokio::test]
    async fn an_endpoint_that_hangs_up_at_once_is_retried_with_backoff() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = accepts.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                drop(s);
            }
        });
        let link = BankLink::start(
            Some(addr),
            Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(2),
            },
            codec::Identity {
                terminal_id: ecrlink_core::txn::TerminalId::new("T1").unwrap(),
                merchant_id: None,
                mac_key: None,
            },
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        let n = accepts.load(std::sync::atomic::Ordering::Relaxed);
        drop(link);
        // 100 ms doubling to a 2 s cap (each at least half): at most ~8 in 3 s.
        assert!((1..=12).contains(&n), "{n} connections in 3 s");
    }

    #[test]
    fn backoff_is_capped_with_jitter() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        let mut rng = Rng::from_entropy();
        for attempt in 1..40 {
            let d = b.delay(attempt, &mut rng);
            let full = (100u64 << (attempt - 1).min(20)).min(1000);
            assert!(d <= Duration::from_millis(full), "{attempt}: {d:?}");
            assert!(d >= Duration::from_millis(full / 2), "{attempt}: {d:?}");
        }
    }
}
