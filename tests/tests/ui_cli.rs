//! `ecrlink-agent --ui` without a browser: the `UI` line, the embedded page and its headers,
//! the token on a non-loopback address, the `Host` check, and usage errors (exit 2).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const AGENT: &str = env!("CARGO_BIN_EXE_ecrlink-agent-e2e");

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the agent with `ui_args`; returns it and its `UI` line's address.
fn start(ui_args: &[&str]) -> (Running, String) {
    let mut child = Command::new(AGENT)
        .args(["--listen", "csob@127.0.0.1:0", "--no-bank"])
        .args(ui_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn agent");
    let out = child.stdout.take().expect("stdout");
    let mut url = None;
    for line in BufReader::new(out).lines() {
        let line = line.expect("line");
        if let Some(u) = line.strip_prefix("UI ") {
            url = Some(u.to_string());
        }
        if line == "READY" {
            break;
        }
    }
    (Running(child), url.expect("a UI line before READY"))
}

/// `GET path` with `host` as the Host header; (status, headers + body).
fn get(port: u16, path: &str, host: &str, extra: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn port_of(url: &str) -> u16 {
    let rest = url.trim_start_matches("http://");
    let hostport = rest.split('/').next().unwrap();
    hostport.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn the_page_is_served_on_loopback_from_the_binary() {
    let (_agent, url) = start(&["--ui", "127.0.0.1:0"]);
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{url}"
    );
    assert!(!url.contains("token"), "{url}");
    let port = port_of(&url);
    let host = format!("127.0.0.1:{port}");
    let (code, page) = get(port, "/", &host, "");
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("<title>ecrlink virtual terminal</title>"));
    let csp = page
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("content-security-policy:")
        })
        .unwrap_or_else(|| panic!("no CSP:\n{page}"));
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "an outside asset:\n{page}"
    );
    let (code, js) = get(port, "/app.js", &host, "");
    assert_eq!(code, 200);
    assert!(!js.contains("innerHTML"), "the script must not write HTML");
    let (code, list) = get(port, "/api/terminals", &host, "");
    assert_eq!(code, 200, "{list}");
    assert!(list.contains("\"name\":\"ECRLINK1\""), "{list}");
    // A page on another name (DNS rebinding) gets nothing.
    let (code, _) = get(port, "/api/terminals", &format!("evil.example:{port}"), "");
    assert_eq!(code, 403);
}

#[test]
fn a_non_loopback_address_requires_the_token() {
    let (_agent, url) = start(&["--ui", "0.0.0.0:0"]);
    let token = url
        .split("?token=")
        .nth(1)
        .unwrap_or_else(|| panic!("no token in {url}"));
    assert_eq!(token.len(), 32, "{url}");
    let port = port_of(url.split('?').next().unwrap());
    let host = format!("192.0.2.1:{port}");
    assert_eq!(get(port, "/api/terminals", &host, "").0, 401);
    assert_eq!(get(port, "/api/terminals?token=wrong", &host, "").0, 401);
    assert_eq!(
        get(port, &format!("/api/terminals?token={token}"), &host, "").0,
        200
    );
    let header = format!("x-ecrlink-token: {token}\r\n");
    assert_eq!(get(port, "/api/terminals", &host, &header).0, 200);
}

#[test]
fn bad_ui_options_are_usage_errors() {
    for args in [
        &["--ui", "127.0.0.1:0", "--ui-token", "short"][..],
        &[
            "--ui",
            "127.0.0.1:0",
            "--ui-token",
            "<script>alert(1)</script>",
        ],
        &["--ui", "localhost"],
        &["--ui-token", "0123456789abcdef0123"],
    ] {
        let out = Command::new(AGENT)
            .args(["--listen", "csob@127.0.0.1:0", "--no-bank"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run agent");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty(), "{args:?}: no message");
    }
}

/// The page's list of transactions starts with the journal's last transaction: a restart does
/// not empty it. A sale is made, the agent restarts on the same journal with `--ui`, and the
/// first view the page receives lists that sale.
#[test]
fn after_a_restart_the_page_lists_the_journals_last_transaction() {
    use ecrlink_tests::procs::{AgentProc, AgentSpec, BankProc, Bins, sale_args, till};
    const BINS: Bins = Bins {
        agent: env!("CARGO_BIN_EXE_ecrlink-agent-e2e"),
        sim: env!("CARGO_BIN_EXE_ecrlink-sim-e2e"),
    };
    let d = tempfile::tempdir().unwrap();
    let bank = BankProc::spawn(BINS, &d.path().join("bank"), None);
    let spec = AgentSpec::new(&["csob"], bank.addr);
    let agent = AgentProc::spawn(BINS, &d.path().join("agent"), &spec).expect("agent");
    let sale: Vec<String> = sale_args("csob", 1234);
    let r = till(
        BINS,
        "csob",
        agent.addr("csob"),
        &sale.iter().map(String::as_str).collect::<Vec<_>>(),
        60,
        &d.path().join("logs"),
    );
    assert_eq!(r.code, 0, "{r:?}");
    drop(agent);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = spec.set("--ui", &format!("127.0.0.1:{port}"));
    let _agent = AgentProc::spawn(BINS, &d.path().join("agent"), &spec).expect("agent again");
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the page");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET /api/t/0/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .unwrap();
    let view = BufReader::new(s)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("data:"))
        .expect("a view from the page");
    let history = view.split("\"history\":").nth(1).unwrap_or_default();
    assert!(
        history.starts_with("[{") && history.contains("\"sale\"") && history.contains("approved"),
        "the restarted page does not list the journal's last sale: {view}"
    );
}
