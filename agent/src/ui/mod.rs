//! `--ui`: the terminal in a browser page. A small HTTP server (axum, on the agent's tokio
//! runtime) serves one page whose HTML, CSS and script are embedded in the binary (no CDN),
//! streams each terminal's screen as server-sent events, and takes a tester's live actions:
//! present a test card, remove it, cancel on the terminal, sleep and wake, make the bank link
//! slow, silent or offline, cut the till's connection.
//!
//! Safety: the server listens on loopback unless told otherwise; on any other address every
//! data request needs the token (`--ui-token`, or one generated and printed). Without a token
//! the `Host` header must name loopback (no DNS rebinding). Actions are JSON `POST`s, which a
//! foreign page cannot send without a CORS preflight this server never grants. The page puts
//! every string it receives into the document with `textContent`, never as HTML.

pub mod stage;
mod view;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use ecrlink_core::txn::{CardScheme, EntryMode};
use serde::Deserialize;
use tokio::sync::watch;

use crate::card::{PinOutcome, TesterAction, test_card};
use crate::server::AgentState;
use stage::{BankFault, Hooks};

const PAGE_HTML: &str = include_str!("page.html");
const PAGE_CSS: &str = include_str!("page.css");
const PAGE_JS: &str = include_str!("page.js");

/// The shortest `--ui-token` accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// What the page asks an agent to do beyond its card reader and bank link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Enter sleep mode.
    Sleep,
    /// Wake from sleep mode.
    Wake,
    /// Close the till connections.
    CutTill,
}

/// One terminal (agent) as the page drives it; made by
/// [`AgentHandle::ui_controls`](crate::AgentHandle::ui_controls).
#[derive(Clone)]
pub struct Controls {
    name: String,
    listen: Vec<String>,
    hooks: Hooks,
    state: watch::Receiver<AgentState>,
    command: Arc<dyn Fn(Command) + Send + Sync>,
}

impl Controls {
    /// Controls over an agent's hooks, state and commands.
    pub fn new(
        name: String,
        listen: Vec<String>,
        hooks: Hooks,
        state: watch::Receiver<AgentState>,
        command: Arc<dyn Fn(Command) + Send + Sync>,
    ) -> Self {
        Controls {
            name,
            listen,
            hooks,
            state,
            command,
        }
    }

    /// The tester's side of this terminal's card reader.
    pub fn desk(&self) -> &crate::card::CardDesk {
        &self.hooks.desk
    }

    /// The bank link as the tester set it.
    pub fn bank_fault(&self) -> &stage::BankFaultCell {
        &self.hooks.bank_fault
    }
}

/// Where and how the page is served.
#[derive(Clone, Debug)]
pub struct UiConfig {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Token every data request must carry; required when `addr` is not loopback.
    pub token: Option<String>,
}

impl UiConfig {
    /// Checks the address and token: a non-loopback address without a token gets a generated
    /// one; a given token must be at least [`MIN_TOKEN_LEN`] printable characters.
    pub fn resolve(addr: SocketAddr, token: Option<String>) -> anyhow::Result<Self> {
        if let Some(t) = &token {
            if t.len() < MIN_TOKEN_LEN
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                anyhow::bail!(
                    "--ui-token: at least {MIN_TOKEN_LEN} characters of letters, digits, - and _"
                );
            }
        }
        let token = match token {
            Some(t) => Some(t),
            None if !addr.ip().is_loopback() => Some(generate_token()?),
            None => None,
        };
        Ok(UiConfig { addr, token })
    }

    /// The address to open, with the token when there is one.
    pub fn url(&self, bound: SocketAddr) -> String {
        match &self.token {
            Some(t) => format!("http://{bound}/?token={t}"),
            None => format!("http://{bound}/"),
        }
    }
}

/// 128 random bits from the operating system, in hex.
fn generate_token() -> anyhow::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| {
            anyhow::anyhow!("cannot make a UI token (/dev/urandom: {e}): give --ui-token")
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The running page server.
pub struct UiServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The address to open in a browser (with the token when one is needed).
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl UiServer {
    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Term {
    controls: Controls,
    view: view::ViewHandle,
}

struct AppState {
    terminals: Vec<Term>,
    token: Option<String>,
    port: u16,
}

/// Serves the page for `terminals` (one panel each) on `cfg.addr`.
pub async fn serve(cfg: &UiConfig, terminals: Vec<Controls>) -> anyhow::Result<UiServer> {
    let listener = tokio::net::TcpListener::bind(cfg.addr)
        .await
        .map_err(|e| anyhow::anyhow!("--ui {}: {e}", cfg.addr))?;
    let addr = listener.local_addr()?;
    let terminals = terminals
        .into_iter()
        .map(|controls| {
            let view = view::spawn(&controls);
            Term { controls, view }
        })
        .collect();
    let state = Arc::new(AppState {
        terminals,
        token: cfg.token.clone(),
        port: addr.port(),
    });
    let app = Router::new()
        .route("/", get(page))
        .route("/app.css", get(css))
        .route("/app.js", get(js))
        .route("/api/terminals", get(list))
        .route("/api/t/{n}/events", get(events))
        .route("/api/t/{n}/action", post(action))
        .with_state(state);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "UI server stopped");
        }
    });
    tracing::info!(%addr, "UI page served");
    Ok(UiServer {
        addr,
        url: cfg.url(addr),
        task,
    })
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    let mut r = Html(PAGE_HTML).into_response();
    let h = r.headers_mut();
    // Only this page's own script and style; nothing from elsewhere, no framing.
    if let Ok(v) = header::HeaderValue::from_str(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    r
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", PAGE_CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", PAGE_JS)
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Refuses a request without the token (when one is set) or, without a token, one whose
/// `Host` is not loopback.
fn authorize(st: &AppState, headers: &HeaderMap, q: &TokenQuery) -> Result<(), Response> {
    let deny = |code: StatusCode, msg: &'static str| Err((code, msg).into_response());
    match &st.token {
        Some(want) => {
            let given = headers
                .get("x-ecrlink-token")
                .and_then(|v| v.to_str().ok())
                .or(q.token.as_deref())
                .unwrap_or("");
            if !same(given.as_bytes(), want.as_bytes()) {
                return deny(StatusCode::UNAUTHORIZED, "token missing or wrong");
            }
            Ok(())
        }
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if loopback_host(host, st.port) {
                Ok(())
            } else {
                deny(
                    StatusCode::FORBIDDEN,
                    "Host is not this machine's loopback address",
                )
            }
        }
    }
}

/// Whether a `Host` header names loopback at `port` (127.0.0.1, localhost, [::1]).
fn loopback_host(host: &str, port: u16) -> bool {
    let p = port.to_string();
    let (name, given_port) = match host.rsplit_once(':') {
        Some((n, gp)) if !n.is_empty() && !gp.contains(']') => (n, gp),
        _ => return false,
    };
    if given_port != p {
        return false;
    }
    matches!(name, "localhost" | "[::1]")
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Compares in time that does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn list(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    if let Err(r) = authorize(&st, &headers, &q) {
        return r;
    }
    let names: Vec<serde_json::Value> = st
        .terminals
        .iter()
        .enumerate()
        .map(|(i, t)| serde_json::json!({ "index": i, "name": t.controls.name, "listen": t.controls.listen }))
        .collect();
    axum::Json(names).into_response()
}

async fn events(
    State(st): State<Arc<AppState>>,
    Path(n): Path<usize>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    if let Err(r) = authorize(&st, &headers, &q) {
        return r;
    }
    let Some(t) = st.terminals.get(n) else {
        return (StatusCode::NOT_FOUND, "no such terminal").into_response();
    };
    let rx = t.view.subscribe();
    let stream = futures_util::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let data = rx.borrow_and_update().clone();
        Some((
            Ok::<_, Infallible>(Event::default().event("view").data(data.as_str())),
            (rx, false),
        ))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// A tester's action, as the page posts it.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
enum Action {
    /// Present a test card.
    Present {
        entry: String,
        scheme: String,
        pin: String,
        decline: Option<String>,
    },
    Remove,
    Cancel,
    Sleep,
    Wake,
    CutTill,
    Bank {
        mode: String,
        delay_ms: Option<u64>,
    },
    Tester {
        decides: bool,
    },
}

fn reply(code: StatusCode, ok: bool, message: impl Into<String>) -> Response {
    (
        code,
        axum::Json(serde_json::json!({ "ok": ok, "message": message.into() })),
    )
        .into_response()
}

async fn action(
    State(st): State<Arc<AppState>>,
    Path(n): Path<usize>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
    body: Result<axum::Json<Action>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(r) = authorize(&st, &headers, &q) {
        return r;
    }
    let Some(t) = st.terminals.get(n) else {
        return reply(StatusCode::NOT_FOUND, false, "no such terminal");
    };
    let action = match body {
        Ok(axum::Json(a)) => a,
        Err(e) => return reply(StatusCode::BAD_REQUEST, false, format!("bad action: {e}")),
    };
    let (code, ok, message) = perform(&t.controls, action);
    t.view.refresh(&message);
    reply(code, ok, message)
}

fn perform(c: &Controls, action: Action) -> (StatusCode, bool, String) {
    let bad = |m: String| (StatusCode::BAD_REQUEST, false, m);
    let desk = &c.hooks.desk;
    let to_reader = |a: TesterAction, done: &str| {
        if desk.act(a) {
            (StatusCode::OK, true, done.to_string())
        } else {
            (
                StatusCode::CONFLICT,
                false,
                "the terminal is not waiting for a card".to_string(),
            )
        }
    };
    match action {
        Action::Present {
            entry,
            scheme,
            pin,
            decline,
        } => {
            let entry = match entry.as_str() {
                "chip" => EntryMode::Chip,
                "contactless" => EntryMode::Contactless,
                "swipe" => EntryMode::Swipe,
                _ => return bad("entry: chip, contactless or swipe".into()),
            };
            let scheme = match scheme.as_str() {
                "visa" => CardScheme::Visa,
                "mastercard" => CardScheme::Mastercard,
                "maestro" => CardScheme::Maestro,
                "amex" => CardScheme::Amex,
                _ => return bad("scheme: visa, mastercard, maestro or amex".into()),
            };
            let pin = match pin.as_str() {
                "right" => PinOutcome::Accepted,
                "wrong" => PinOutcome::Wrong,
                "bypass" => PinOutcome::Bypassed,
                "none" => PinOutcome::NotAsked,
                _ => return bad("pin: right, wrong, bypass or none".into()),
            };
            let decline = decline.filter(|d| !d.is_empty());
            match test_card(entry, scheme, pin, decline.as_deref()) {
                Ok(card) => {
                    let what = format!(
                        "{} {} presented ({})",
                        card.scheme.name(),
                        card.pan.masked(),
                        entry.name()
                    );
                    to_reader(TesterAction::Present(card), &what)
                }
                Err(e) => bad(format!("{e}")),
            }
        }
        Action::Remove => to_reader(TesterAction::Remove, "card removed"),
        Action::Cancel => to_reader(TesterAction::Cancel, "cancelled on the terminal"),
        Action::Sleep => {
            (c.command)(Command::Sleep);
            (StatusCode::OK, true, "going to sleep".into())
        }
        Action::Wake => {
            (c.command)(Command::Wake);
            (StatusCode::OK, true, "waking up".into())
        }
        Action::CutTill => {
            (c.command)(Command::CutTill);
            (StatusCode::OK, true, "till connection cut".into())
        }
        Action::Bank { mode, delay_ms } => {
            let fault = match mode.as_str() {
                "normal" => BankFault::Normal,
                "slow" => BankFault::Slow {
                    delay_ms: delay_ms.unwrap_or(5000).min(600_000),
                },
                "silent" => BankFault::Silent,
                "offline" => BankFault::Offline,
                _ => return bad("bank mode: normal, slow, silent or offline".into()),
            };
            c.hooks.bank_fault.set(fault);
            (StatusCode::OK, true, format!("bank link: {mode}"))
        }
        Action::Tester { decides } => {
            desk.set_tester_decides(decides);
            let m = if decides {
                "the tester presents the cards"
            } else {
                "cards come from --cards (or the default card)"
            };
            (StatusCode::OK, true, m.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_pass_without_a_token() {
        assert!(loopback_host("127.0.0.1:8080", 8080));
        assert!(loopback_host("localhost:8080", 8080));
        assert!(loopback_host("[::1]:8080", 8080));
        assert!(!loopback_host("127.0.0.1:8081", 8080));
        assert!(!loopback_host("evil.example:8080", 8080));
        assert!(!loopback_host("127.0.0.1", 8080));
        assert!(!loopback_host("", 8080));
    }

    #[test]
    fn a_public_address_gets_a_token() {
        let c = UiConfig::resolve("0.0.0.0:8080".parse().unwrap(), None).unwrap();
        assert!(c.token.as_ref().is_some_and(|t| t.len() == 32));
        let c = UiConfig::resolve("127.0.0.1:8080".parse().unwrap(), None).unwrap();
        assert!(c.token.is_none());
        assert!(
            UiConfig::resolve("127.0.0.1:8080".parse().unwrap(), Some("short".into())).is_err()
        );
        assert!(
            UiConfig::resolve(
                "127.0.0.1:8080".parse().unwrap(),
                Some("<script>xxxxxxxxxxxxxx".into())
            )
            .is_err()
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abcdef", b"abcdef"));
        assert!(!same(b"abcdef", b"abcdeg"));
        assert!(!same(b"abc", b"abcdef"));
    }
}
