//! The agent's optional security settings, end to end: TLS on the bank link (certificates
//! made here with rcgen; a TLS front in this test terminates it before the plain bank
//! simulator) and the allow-list of till addresses.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ecrlink_tests::procs::{AgentProc, AgentSpec, BankProc, Bins, sale_args, till};

const BINS: Bins = Bins {
    agent: env!("CARGO_BIN_EXE_ecrlink-agent-e2e"),
    sim: env!("CARGO_BIN_EXE_ecrlink-sim-e2e"),
};

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("security")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A certificate authority and a bank certificate for `name` signed by it: (CA PEM, bank
/// certificate DER, bank key DER).
fn pki(name: &str) -> (String, Vec<u8>, Vec<u8>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    (ca.pem(), cert.der().to_vec(), key.serialize_der())
}

/// A TLS front: accepts TLS with `cert`/`key` and forwards the plain bytes to `bank`. Runs on
/// its own thread until the test process ends; returns its address.
fn tls_front(bank: SocketAddr, cert: Vec<u8>, key: Vec<u8>) -> SocketAddr {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            loop {
                let Ok((tcp, _)) = l.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that fails the handshake (wrong CA, wrong name) just goes away.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(bank).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
    });
    rx.recv_timeout(Duration::from_secs(5)).unwrap()
}

fn sale(dir: &Path, agent: &AgentProc, minor: u64) -> String {
    let args = sale_args("csob", minor);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    till(
        BINS,
        "csob",
        agent.addr("csob"),
        &args,
        10,
        &dir.join("till-logs"),
    )
    .outcome()
    .to_string()
}

#[test]
fn bank_link_over_tls_works_and_refuses_a_wrong_certificate() {
    let d = dir("tls");
    let bank = BankProc::spawn(BINS, &d.join("bank"), None);
    let (ca_pem, cert, key) = pki("bank.test");
    let front = tls_front(bank.addr, cert, key);
    let ca = d.join("ca.pem");
    std::fs::write(&ca, &ca_pem).unwrap();

    // The right CA and name: sales go through, over TLS only (the front speaks nothing else).
    let spec = AgentSpec::new(&["csob"], front).arg(&[
        "--bank-tls-ca",
        ca.to_str().unwrap(),
        "--bank-tls-name",
        "bank.test",
    ]);
    let agent = AgentProc::spawn(BINS, &d.join("agent-ok"), &spec).unwrap();
    assert_eq!(sale(&d, &agent, 5_000), "approved");
    assert_eq!(bank.auths().len(), 1);
    let log = std::fs::read_to_string(d.join("agent-ok/agent.log")).unwrap();
    assert!(
        log.contains("link=\"TLS\"") || log.contains("link=TLS"),
        "{log}"
    );
    drop(agent);

    // A certificate from another authority, the wrong name, or no TLS at all: no bank.
    let (other_ca, _, _) = pki("bank.test");
    let other = d.join("other-ca.pem");
    std::fs::write(&other, &other_ca).unwrap();
    let cases: [(&str, Vec<&str>); 3] = [
        (
            "agent-wrong-ca",
            vec![
                "--bank-tls-ca",
                other.to_str().unwrap(),
                "--bank-tls-name",
                "bank.test",
            ],
        ),
        (
            "agent-wrong-name",
            vec![
                "--bank-tls-ca",
                ca.to_str().unwrap(),
                "--bank-tls-name",
                "evil.test",
            ],
        ),
        ("agent-plain", vec![]),
    ];
    for (name, args) in cases {
        let spec = AgentSpec::new(&["csob"], front).arg(&args);
        let agent = AgentProc::spawn(BINS, &d.join(name), &spec).unwrap();
        assert_eq!(sale(&d, &agent, 5_100), "bank-unavailable", "{name}");
    }
    assert_eq!(bank.auths().len(), 1, "no refused link reached the bank");
}

#[test]
fn tills_outside_the_allow_list_are_closed_before_a_byte_is_read() {
    use std::io::Read;
    let d = dir("allow");
    let bank = BankProc::spawn(BINS, &d.join("bank"), None);

    let spec = AgentSpec::new(&["csob"], bank.addr).arg(&[
        "--allow",
        "10.0.0.0/8",
        "--allow",
        "192.168.0.0/16",
    ]);
    let agent = AgentProc::spawn(BINS, &d.join("agent-closed"), &spec).unwrap();
    let mut s = std::net::TcpStream::connect(agent.addr("csob")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut b = [0u8; 16];
    assert!(
        matches!(s.read(&mut b), Ok(0) | Err(_)),
        "connection from 127.0.0.1 stayed open"
    );
    assert_ne!(sale(&d, &agent, 6_000), "approved");
    assert!(bank.auths().is_empty());
    let log = std::fs::read_to_string(d.join("agent-closed/agent.log")).unwrap();
    assert!(log.contains("not in --allow"), "{log}");
    drop(agent);

    let spec = AgentSpec::new(&["csob"], bank.addr).arg(&["--allow", "127.0.0.1/32"]);
    let agent = AgentProc::spawn(BINS, &d.join("agent-open"), &spec).unwrap();
    assert_eq!(sale(&d, &agent, 6_100), "approved");
    assert_eq!(bank.auths().len(), 1);
}

/// This machine's first IPv6 address that is neither loopback nor link-local, if it has one.
fn own_global_ipv6() -> Option<std::net::Ipv6Addr> {
    let table = std::fs::read_to_string("/proc/net/if_inet6").ok()?;
    table.lines().find_map(|l| {
        let hex = l.split_whitespace().next()?;
        let ip = std::net::Ipv6Addr::from(u128::from_str_radix(hex, 16).ok()?);
        let link_local = ip.segments()[0] & 0xffc0 == 0xfe80;
        (!ip.is_loopback() && !link_local).then_some(ip)
    })
}

#[test]
fn by_default_a_till_on_an_own_ipv6_subnet_is_admitted() {
    let Some(own) = own_global_ipv6() else {
        eprintln!("skipped: this machine has no IPv6 address besides loopback and link-local");
        return;
    };
    let d = dir("allow-v6");
    let bank = BankProc::spawn(BINS, &d.join("bank"), None);
    let mut spec = AgentSpec::new(&["csob"], bank.addr);
    spec.listen = vec!["csob@[::]:0".into()];
    let agent = AgentProc::spawn(BINS, &d.join("agent"), &spec).unwrap();
    // The till connects to (and so from) this machine's own IPv6 address: its own subnet.
    let addr = SocketAddr::new(own.into(), agent.addr("csob").port());
    let args = sale_args("csob", 7_000);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = till(BINS, "csob", addr, &args, 10, &d.join("till-logs"));
    assert_eq!(r.outcome(), "approved", "{}: {}", addr, r.json);
    let log = std::fs::read_to_string(d.join("agent/agent.log")).unwrap();
    assert!(!log.contains("not in --allow"), "{log}");
}
