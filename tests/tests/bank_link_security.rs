//! Issue 19, the bank link: attacks on the real binaries. A man in the middle (the tampering
//! proxy of `ecrlink_tests::proxy`) rewrites the bank's answers; with a MAC key on both sides
//! the agent takes a changed answer as no answer, reverses, and tells the till "bank
//! unavailable". Safe defaults: a MAC key file that others can read is refused, and a bank
//! that is not on this machine needs TLS (and a MAC key) unless `--bank-insecure`. The bank
//! simulator serves TLS 1.3, with client certificates required when asked.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ecrlink_tests::procs::{AgentProc, AgentSpec, BankProc, Bins, sale_args, till};
use ecrlink_tests::proxy::{Act, ConnPlan, Plan, Proxy, Rule, Trigger};

const BINS: Bins = Bins {
    agent: env!("CARGO_BIN_EXE_ecrlink-agent-e2e"),
    sim: env!("CARGO_BIN_EXE_ecrlink-sim-e2e"),
};

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("bank_link_security")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A MAC key file (64 hex digits) with `mode`.
fn key_file(dir: &Path, mode: u32) -> PathBuf {
    let p = dir.join(format!("mac-{mode:o}.key"));
    std::fs::write(&p, format!("{}\n", "5a17".repeat(16))).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

/// A ČSOB sale of `minor` through `agent`; returns the till's outcome.
fn sale(dir: &Path, agent: &AgentProc, minor: u64) -> String {
    let args = sale_args("csob", minor);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    till(
        BINS,
        "csob",
        agent.addr("csob"),
        &args,
        15,
        &dir.join("till-logs"),
    )
    .outcome()
    .to_string()
}

/// Bank (with `--mac-key` when `mac`), a proxy that rewrites the first `pattern` in the
/// bank's answers to `replacement`, and an agent behind it (with `--bank-mac-key` when
/// `mac`); one sale of `minor`. Returns the till's outcome, the bank and the agent's log.
fn tampered_sale(
    name: &str,
    mac: bool,
    minor: u64,
    pattern: &[u8],
    replacement: &[u8],
) -> (String, BankProc, String) {
    let d = dir(name);
    let key = key_file(&d, 0o600);
    let key_s = key.to_str().unwrap();
    let bank_args: Vec<&str> = if mac {
        vec!["--mac-key", key_s]
    } else {
        vec![]
    };
    let bank = BankProc::spawn_with(BINS, &d.join("bank"), None, &bank_args);
    let proxy = Proxy::start(
        bank.addr,
        Plan::first(ConnPlan::down(Rule::new(
            Trigger::first(pattern),
            Act::Rewrite(replacement.to_vec()),
        ))),
    );
    let mut spec = AgentSpec::new(&["csob"], proxy.addr);
    if mac {
        spec = spec.arg(&["--bank-mac-key", key_s]);
    }
    let agent = AgentProc::spawn(BINS, &d.join("agent"), &spec).unwrap();
    let outcome = sale(&d, &agent, minor);
    assert!(
        !proxy.fired().is_empty(),
        "the proxy changed nothing: {:?}",
        proxy.fired()
    );
    // Give the agent's reversal (re-sent every 200 ms) time to reach the bank.
    let limit = if mac { 20 } else { 1 };
    let _ = bank.wait_for(Duration::from_secs(limit), |l| {
        l["auths"][0]["reversal_messages"].as_u64().unwrap_or(0) >= 1
    });
    drop(agent);
    let log = std::fs::read_to_string(d.join("agent/agent.log")).unwrap_or_default();
    (outcome, bank, log)
}

/// Defect (issue 19): a man in the middle rewrote a 51 decline into 00 and the till printed
/// "approved" for money the bank never moved. With the MAC the changed answer is no answer:
/// the till is told "bank unavailable", never "approved", and the agent reverses.
#[test]
fn a_decline_rewritten_to_approved_on_the_way_is_no_answer() {
    // 12.51 is declined 51 by the simulator; field 39 is followed by field 41 (TERM0001).
    let (outcome, bank, log) =
        tampered_sale("decline-to-approved", true, 1251, b"51TERM0001", b"00");
    assert_eq!(outcome, "bank-unavailable", "{log}");
    assert!(log.contains("fails its MAC"), "{log}");
    let auths = bank.auths();
    assert_eq!(auths.len(), 1, "{auths:?}");
    assert_eq!(auths[0]["state"], "declined", "{auths:?}");
    assert!(
        auths[0]["reversal_messages"].as_u64().unwrap_or(0) >= 1,
        "the agent reverses what it could not trust: {auths:?}"
    );
}

/// The other way round: an approval rewritten into a decline left the bank holding money the
/// shop thought declined. With the MAC the answer is no answer, and the authorization the
/// bank holds ends reversed.
#[test]
fn an_approval_rewritten_to_a_decline_ends_reversed_at_the_bank() {
    let (outcome, bank, log) =
        tampered_sale("approved-to-decline", true, 5000, b"00TERM0001", b"05");
    assert_eq!(outcome, "bank-unavailable", "{log}");
    let (ledger, reversed) = bank.wait_for(Duration::from_secs(20), |l| {
        l["auths"][0]["state"] == "reversed"
    });
    assert!(reversed, "the bank still holds the money: {ledger}");
}

/// Without MAC keys the same attack works (this is what the keys stop): the check that the
/// proxy really rewrites what the tests above say.
#[test]
fn without_a_mac_the_rewrite_goes_unnoticed() {
    let (outcome, bank, _) = tampered_sale("no-mac", false, 1251, b"51TERM0001", b"00");
    assert_eq!(outcome, "approved");
    assert_eq!(bank.auths()[0]["state"], "declined");
}

/// Runs a binary that is expected to stop at once; returns its exit code and standard error
/// (killed after 20 s if it keeps running: then the code is -1).
fn run_briefly(bin: &str, args: &[&str]) -> (i32, String) {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    (status.and_then(|s| s.code()).unwrap_or(-1), err)
}

/// A key file others can read is no longer the terminal's secret: refused (exit 2) by the
/// agent and by the bank simulator, before anything starts.
#[test]
fn a_mac_key_file_others_can_read_is_refused() {
    let d = dir("key-mode");
    let open = key_file(&d, 0o644);
    let (code, err) = run_briefly(
        BINS.agent,
        &[
            "--listen",
            "csob@127.0.0.1:0",
            "--bank",
            "127.0.0.1:9",
            "--bank-mac-key",
            open.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("lets others read it"), "{err}");
    let (code, err) = run_briefly(
        BINS.sim,
        &[
            "bank",
            "--listen",
            "127.0.0.1:0",
            "--mac-key",
            open.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("lets others read it"), "{err}");
    // The same key with mode 600 is taken.
    let private = key_file(&d, 0o600);
    let spec = AgentSpec::new(&["csob"], "127.0.0.1:9".parse().unwrap())
        .arg(&["--bank-mac-key", private.to_str().unwrap()]);
    assert!(AgentProc::spawn(BINS, &d.join("agent"), &spec).is_ok());
}

/// A bank that is not on this machine is reached over TLS with a MAC key, or, when the
/// operator says so out loud, with `--bank-insecure`; never by default in clear.
#[test]
fn a_remote_bank_without_tls_is_refused_unless_insecure() {
    let d = dir("remote");
    let key = key_file(&d, 0o600);
    // 192.0.2.0/24 is TEST-NET-1: never reached, and nothing here needs it to be.
    let base = ["--listen", "csob@127.0.0.1:0", "--bank", "192.0.2.10:5000"];
    let (code, err) = run_briefly(BINS.agent, &base);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("TLS") && err.contains("--bank-insecure"),
        "{err}"
    );
    let mut with_key = base.to_vec();
    with_key.extend(["--bank-mac-key", key.to_str().unwrap()]);
    let (code, err) = run_briefly(BINS.agent, &with_key);
    assert_eq!(code, 2, "a MAC key is not TLS: {err}");
    // Said out loud: it starts.
    let spec = AgentSpec {
        bank: None,
        ..AgentSpec::new(&["csob"], "127.0.0.1:9".parse().unwrap())
    }
    .arg(&["--bank", "192.0.2.10:5000", "--bank-insecure"]);
    let agent = AgentProc::spawn(BINS, &d.join("insecure"), &spec);
    assert!(agent.is_ok(), "{:?}", agent.err());
}

/// PEM files under `dir`: a certificate authority (`ca.pem`), the bank's certificate for
/// `bank.test` (`bank.pem`, `bank.key`) and a terminal's client certificate (`client.pem`,
/// `client.key`), both signed by it.
fn pki(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    for (name, dns) in [("bank", "bank.test"), ("client", "terminal.test")] {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![dns.to_string()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
}

/// The bank simulator serves TLS 1.3 and requires a client certificate from its authority;
/// the agent presents one (mutual TLS) and MACs every message. A terminal without a client
/// certificate, or without TLS, gets no bank.
#[test]
fn mutual_tls_and_mac_to_the_bank_simulator() {
    let d = dir("mtls");
    pki(&d);
    let p = |f: &str| d.join(f).to_str().unwrap().to_string();
    let key = key_file(&d, 0o600);
    let key = key.to_str().unwrap();
    let bank = BankProc::spawn_with(
        BINS,
        &d.join("bank"),
        None,
        &[
            "--mac-key",
            key,
            "--tls-cert",
            &p("bank.pem"),
            "--tls-key",
            &p("bank.key"),
            "--tls-client-ca",
            &p("ca.pem"),
        ],
    );
    let tls = [
        "--bank-tls-ca".to_string(),
        p("ca.pem"),
        "--bank-tls-name".into(),
        "bank.test".into(),
        "--bank-mac-key".into(),
        key.into(),
    ];
    let tls: Vec<&str> = tls.iter().map(String::as_str).collect();
    let client = [
        "--bank-tls-cert".to_string(),
        p("client.pem"),
        "--bank-tls-key".into(),
        p("client.key"),
    ];
    let client: Vec<&str> = client.iter().map(String::as_str).collect();

    let spec = AgentSpec::new(&["csob"], bank.addr).arg(&tls).arg(&client);
    let agent = AgentProc::spawn(BINS, &d.join("agent-mtls"), &spec).unwrap();
    assert_eq!(sale(&d, &agent, 5_000), "approved");
    drop(agent);
    let log = std::fs::read_to_string(d.join("agent-mtls/agent.log")).unwrap();
    assert!(log.contains("TLS 1.3"), "{log}");
    assert!(log.contains("HMAC-SHA-256"), "{log}");
    assert_eq!(bank.auths().len(), 1);

    let spec = AgentSpec::new(&["csob"], bank.addr).arg(&tls);
    let agent = AgentProc::spawn(BINS, &d.join("agent-no-client-cert"), &spec).unwrap();
    assert_eq!(sale(&d, &agent, 5_100), "bank-unavailable");
    drop(agent);
    let spec = AgentSpec::new(&["csob"], bank.addr).arg(&["--bank-mac-key", key]);
    let agent = AgentProc::spawn(BINS, &d.join("agent-plain"), &spec).unwrap();
    assert_eq!(sale(&d, &agent, 5_200), "bank-unavailable");
    drop(agent);
    assert_eq!(bank.auths().len(), 1, "no refused link reached the bank");
    let bank_log = std::fs::read_to_string(d.join("bank/bank.log")).unwrap();
    assert!(bank_log.contains("TLS handshake failed"), "{bank_log}");
}
