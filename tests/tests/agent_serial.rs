//! Serial server mode: `--listen concert@serial:/dev/pts/N:9600` over a pseudo-terminal pair.
//! The test holds the master side and speaks Concert on it as a till on a serial cable would.

mod agent_common;

use std::time::Duration;

use agent_common::{Agent, Bank, eur, sale};
use ecrlink_core::dialect::concert::{ConcertEcr, ConcertEcrConfig};
use ecrlink_core::session::{EcrEvent, EcrSide, MAX_TRANSMIT};
use ecrlink_core::txn::{Outcome, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::{SerialPort, SerialStream};

async fn exchange(port: &mut SerialStream, request: &ecrlink_core::txn::Request) -> Response {
    let origin = tokio::time::Instant::now();
    let now = || ecrlink_core::Instant::from_millis(origin.elapsed().as_millis() as u64);
    let mut ecr = ConcertEcr::new(ConcertEcrConfig::default());
    ecr.start(now(), request).unwrap();
    let mut out = vec![0u8; MAX_TRANSMIT];
    let mut buf = [0u8; 256];
    let deadline = origin + Duration::from_secs(20);
    loop {
        while let Some(n) = ecr.poll_transmit(&mut out).unwrap() {
            port.write_all(&out[..n]).await.unwrap();
        }
        while let Some(ev) = ecr.poll_event() {
            match ev {
                EcrEvent::Response(r) => return r,
                EcrEvent::TimedOut | EcrEvent::Failed(_) => panic!("till session: {ev:?}"),
                _ => {}
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer over serial"
        );
        let wait = ecr
            .poll_timeout()
            .map(|t| Duration::from_millis(t.as_millis().saturating_sub(now().as_millis())))
            .unwrap_or(Duration::from_millis(100))
            .min(Duration::from_millis(100));
        match tokio::time::timeout(wait, port.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => ecr.handle_bytes(now(), &buf[..n]),
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(_) => {}
        }
        let t = now();
        if ecr.poll_timeout().is_some_and(|d| d <= t) {
            ecr.handle_timeout(t);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concert_sale_over_a_pseudo_terminal() {
    let (mut master, slave) = SerialStream::pair().expect("a pseudo-terminal pair");
    let path = slave.name().expect("the slave's device path");
    // The agent opens the slave by its path (with its own lock): close ours first.
    drop(slave);

    let bank = Bank::spawn(None);
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("concert@serial:{path}:9600");
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
            ],
            &journal,
        )
    })
    .await
    .unwrap();
    // Give the agent a moment to open the port.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let log = dir.path().join("journal.log");
    let r =
        tokio::time::timeout(Duration::from_secs(15), exchange(&mut master, &sale(1_250))).await;
    let r = match r {
        Ok(r) => r,
        Err(_) => panic!("{}", std::fs::read_to_string(&log).unwrap_or_default()),
    };
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(r.amount, Some(eur(1_250)));
    // A second transaction on the same line.
    let r = exchange(&mut master, &sale(990)).await;
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(bank.auths().len(), 2);
    drop(agent);
}
