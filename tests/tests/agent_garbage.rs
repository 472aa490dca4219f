//! Hostile bytes from a till: garbage, a half frame then silence, 10 000 bytes without STX.
//! The agent answers NAK or drops that connection, keeps serving the next till, and its
//! memory stays bounded.

mod agent_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use agent_common::{Bank, ask, sale, start_agent};
use ecrlink_core::txn::Outcome;

const NAK: u8 = 0x15;

/// Reads until the agent sends NAK (true) or closes the connection (false); panics after 15 s.
fn nak_or_drop(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 256];
    loop {
        assert!(
            Instant::now() < deadline,
            "neither NAK nor a closed connection"
        );
        match s.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) if buf[..n].contains(&NAK) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return false,
        }
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn still_serves(addr: SocketAddr, dialect: &str) {
    let r = ask(dialect, addr, &sale(1_000));
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
}

#[test]
fn garbage_half_frames_and_floods_are_refused_and_the_next_till_is_served() {
    let bank = Bank::spawn(None);
    let (agent, _dir) = start_agent(&bank, &["concert@127.0.0.1:0", "auto@127.0.0.1:0"], &[]);
    let concert = agent.addr("concert");
    let auto = agent.addr("auto");

    // Garbage with a broken frame in it (bad LRC): NAK or dropped.
    let mut s = connect(concert);
    s.write_all(&[0x05]).unwrap();
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack).unwrap();
    assert_eq!(ack[0], 0x06, "ENQ not acknowledged");
    s.write_all(b"\x02garbage that is not a concert frame\x03\x7f")
        .unwrap();
    nak_or_drop(&mut s);
    still_serves(concert, "concert");

    // A half frame, then silence: the inter-byte limit ends it. The ENQ is asked again while
    // the terminal NAKs it (still finishing the sale before: busy), as a till does; the half
    // frame goes only after an ACK, so that the NAK awaited below is the frame's.
    let mut s = connect(concert);
    let mut tries = 0;
    loop {
        s.write_all(&[0x05]).unwrap();
        s.read_exact(&mut ack).unwrap();
        if ack[0] == 0x06 {
            break;
        }
        tries += 1;
        assert!(tries < 50, "ENQ never acknowledged: {:#04x}", ack[0]);
        std::thread::sleep(Duration::from_millis(100));
    }
    s.write_all(b"\x020100001250").unwrap();
    nak_or_drop(&mut s);
    still_serves(concert, "concert");

    // 10 000 bytes without STX, to both listeners: dropped.
    for addr in [concert, auto] {
        let mut s = connect(addr);
        let _ = s.write_all(&[b'A'; 10_000]);
        assert!(
            !nak_or_drop(&mut s),
            "a flood without STX must end in a dropped connection"
        );
    }
    still_serves(concert, "concert");
    still_serves(auto, "csob");

    // Memory stays bounded: 200 more floods of 10 000 bytes (2 MB) move the RSS little.
    let pid = agent.child.id();
    let before = rss_kib(pid);
    for i in 0..200 {
        let addr = if i % 2 == 0 { concert } else { auto };
        let mut s = connect(addr);
        let _ = s.write_all(&[b'Z'; 10_000]);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.read_to_end(&mut sink);
    }
    let after = rss_kib(pid);
    assert!(
        after < before + 8 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    still_serves(concert, "concert");
}
