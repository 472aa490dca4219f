//! ZVT over serial end to end: the agent with `--listen zvt@serial:<pty>:9600`, and our till
//! (`ecrlink-sim --dialect zvt --terminal <pty>`, a real process per command) on the other end
//! of a null-modem cable made of two pseudo-terminal pairs and a relay in this test. Every
//! APDU travels in `DLE STX … DLE ETX CRC` frames, acknowledged byte by byte (PA00P016).
//! A payment, a second one, the reversal of the first (not the last) by its receipt number,
//! the same reversal again (refused, already reversed), and end of day; then the bank's
//! ledger must show the first payment reversed and the second standing.
//!
//! The `zvt` crate 0.1.0 (the unmodified till of `zvt_agent.rs`) cannot be used here: it has
//! no serial transport (its sequences read and write bare APDUs, with no DLE framing or CRC;
//! nothing in its sources speaks PA00P016), so it runs over TCP only.

mod agent_common;
mod till_common;

use std::time::Duration;

use agent_common::{Agent, Bank};
use till_common::{Run, sim_env};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::{SerialPort, SerialStream};

const PASSWORD: &str = "246810";

/// Copies what one pseudo-terminal master reads to the other, for ever. A master whose slave
/// nobody has open reads an error (EIO on Linux): it is tried again a moment later, as each
/// `ecrlink-sim` run opens and closes its end.
async fn relay(
    mut from: tokio::io::ReadHalf<SerialStream>,
    mut to: tokio::io::WriteHalf<SerialStream>,
) {
    let mut buf = [0u8; 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(n) if n > 0 => {
                let _ = to.write_all(&buf[..n]).await;
            }
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// A till command over the serial line, `--json`.
async fn till(port: &str, cmd: &[&str]) -> Run {
    let mut args: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    for a in [
        "--terminal",
        port,
        "--dialect",
        "zvt",
        "--json",
        "--zvt-password",
        PASSWORD,
    ] {
        args.push(a.to_string());
    }
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sim_env(&args, &[], Duration::from_secs(60))
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zvt_payment_reversal_and_end_of_day_over_serial() {
    // The agent's end and the till's end of the cable.
    let (agent_master, agent_slave) = SerialStream::pair().expect("a pseudo-terminal pair");
    let (till_master, till_slave) = SerialStream::pair().expect("a second pseudo-terminal pair");
    let agent_port = agent_slave.name().expect("the agent's device path");
    let till_port = till_slave.name().expect("the till's device path");
    // Each program opens its device by path: close ours.
    drop(agent_slave);
    drop(till_slave);
    let (agent_rx, agent_tx) = tokio::io::split(agent_master);
    let (till_rx, till_tx) = tokio::io::split(till_master);
    let to_agent = tokio::spawn(relay(till_rx, agent_tx));
    let to_till = tokio::spawn(relay(agent_rx, till_tx));

    let bank = Bank::spawn(None);
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("zvt@serial:{agent_port}:9600");
    let bank_addr = bank.addr.to_string();
    let journal = dir.path().join("journal");
    let agent = tokio::task::spawn_blocking(move || {
        Agent::spawn(
            &[
                "--listen",
                &listen,
                "--bank",
                &bank_addr,
                "--card-delay",
                "20ms",
                "--zvt-password",
                PASSWORD,
            ],
            &journal,
        )
    })
    .await
    .unwrap();
    // Give the agent a moment to open the port.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = || std::fs::read_to_string(dir.path().join("journal.log")).unwrap_or_default();

    let r = till(
        &till_port,
        &["sale", "--amount", "12.50", "--currency", "EUR"],
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}\nagent log:\n{}", log());
    let v = r.json();
    assert_eq!(v["outcome"], "approved", "{v}");
    assert_eq!(v["amount_minor"], 1250);
    assert_eq!(v["terminal_code"], "00");
    let first = v["trace"].as_u64().expect("a trace number");

    let r = till(
        &till_port,
        &["sale", "--amount", "20.00", "--currency", "EUR"],
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}\nagent log:\n{}", log());

    // The first payment is not the last: reversed by its receipt number.
    let receipt = format!("{}", first % 10_000);
    let r = till(&till_port, &["reversal", "--receipt-no", &receipt]).await;
    assert_eq!(r.code, 0, "{r:?}\nagent log:\n{}", log());
    assert_eq!(r.json()["amount_minor"], 1250);
    let r = till(&till_port, &["reversal", "--receipt-no", &receipt]).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.json()["terminal_code"], "B4", "already reversed: {r:?}");

    let r = till(&till_port, &["close-totals"]).await;
    assert_eq!(r.code, 0, "{r:?}\nagent log:\n{}", log());

    // The bank: the first payment reversed, the second standing.
    let l = bank.ledger();
    let states: Vec<(u64, String)> = l["auths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["amount"].as_u64().unwrap(),
                a["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(states.len(), 2, "{states:?}");
    assert!(states.contains(&(1250, "reversed".into())), "{states:?}");
    assert!(
        states.iter().any(|(a, s)| *a == 2000 && s != "reversed"),
        "{states:?}"
    );
    to_agent.abort();
    to_till.abort();
    drop(agent);
}
