//! A loopback fault-injection proxy: it sits between a till and the agent, or between the agent
//! and the bank, forwards bytes both ways, and at chosen points of each byte stream drops,
//! delays, cuts, duplicates, corrupts or injects bytes.
//!
//! A [`Plan`] gives each accepted connection (in order: the first, the second, …) its own
//! [`ConnPlan`]; connections past the list get [`Plan::rest`] (clean by default). A
//! [`ConnPlan`] holds [`Rule`]s for each direction: `up` (client → server) and `down`
//! (server → client). A rule fires once, where its [`Trigger`] first matches in that direction's
//! stream, and does its [`Act`] there.
//!
//! Patterns are found across read boundaries: the proxy holds back the last few bytes of a read
//! (never longer than 20 ms) in case a pattern starts there.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Where in a direction's byte stream a rule fires.
#[derive(Clone, Debug)]
pub enum Trigger {
    /// At this byte offset of the stream (0: the first byte).
    Offset(usize),
    /// At the start of the `n`-th (1-based) occurrence of these bytes.
    Pattern(Vec<u8>, usize),
    /// This many bytes after the start of the first occurrence of these bytes (inside a frame).
    At(Vec<u8>, usize),
}

impl Trigger {
    /// The first occurrence of `bytes`.
    pub fn first(bytes: &[u8]) -> Self {
        Trigger::Pattern(bytes.to_vec(), 1)
    }
}

/// What a rule does where it fires.
#[derive(Clone, Debug)]
pub enum Act {
    /// Drop this many bytes.
    Drop(usize),
    /// XOR the byte there with this value.
    Corrupt(u8),
    /// Overwrite the bytes there with these (a man in the middle rewriting a field; waits
    /// until they have all arrived).
    Rewrite(Vec<u8>),
    /// Send these many bytes twice (waits until they have all arrived).
    Duplicate(usize),
    /// Send the 2-byte big-endian length-prefixed message starting there twice (the bank link's
    /// framing).
    DuplicateMessage,
    /// Hold everything from there on for this long.
    Delay(Duration),
    /// Close the connection both ways; bytes before the trigger were forwarded.
    Cut,
    /// Swallow everything from there on; the connection stays open.
    Blackhole,
    /// Send these bytes first.
    Inject(Vec<u8>),
    /// Send `byte` to the destination every `every`, `count` times, beside the normal traffic.
    Storm {
        /// The byte (e.g. NAK).
        byte: u8,
        /// Interval.
        every: Duration,
        /// How many.
        count: usize,
    },
}

/// One fault: where and what.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Where.
    pub on: Trigger,
    /// What.
    pub act: Act,
}

impl Rule {
    /// A rule.
    pub fn new(on: Trigger, act: Act) -> Self {
        Rule { on, act }
    }
}

/// Faults of one connection.
#[derive(Clone, Debug, Default)]
pub struct ConnPlan {
    /// Client → server.
    pub up: Vec<Rule>,
    /// Server → client.
    pub down: Vec<Rule>,
}

impl ConnPlan {
    /// No fault.
    pub fn clean() -> Self {
        Self::default()
    }

    /// One rule on the way up.
    pub fn up(rule: Rule) -> Self {
        ConnPlan {
            up: vec![rule],
            down: Vec::new(),
        }
    }

    /// One rule on the way down.
    pub fn down(rule: Rule) -> Self {
        ConnPlan {
            up: Vec::new(),
            down: vec![rule],
        }
    }
}

/// Faults of every connection.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The plan of the first, second, … connection.
    pub conns: Vec<ConnPlan>,
    /// The plan of the connections past `conns`.
    pub rest: ConnPlan,
}

impl Plan {
    /// The first connection gets `first`, the others are clean.
    pub fn first(first: ConnPlan) -> Self {
        Plan {
            conns: vec![first],
            rest: ConnPlan::clean(),
        }
    }

    /// Every connection gets `plan`.
    pub fn every(plan: ConnPlan) -> Self {
        Plan {
            conns: Vec::new(),
            rest: plan,
        }
    }
}

/// A running proxy; stops (and closes its connections) when dropped.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    fired: Arc<Mutex<Vec<String>>>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

const HOLD: Duration = Duration::from_millis(20);

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub fn start(target: SocketAddr, plan: Plan) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let fired = Arc::new(Mutex::new(Vec::new()));
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
        let (st, acc, fi, ss) = (
            stop.clone(),
            accepted.clone(),
            fired.clone(),
            streams.clone(),
        );
        thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let client = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    Err(_) => continue,
                };
                let n = acc.fetch_add(1, Ordering::SeqCst);
                let cp = plan
                    .conns
                    .get(n)
                    .cloned()
                    .unwrap_or_else(|| plan.rest.clone());
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(3)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                if let Ok(mut g) = ss.lock() {
                    for s in [&client, &server] {
                        if let Ok(c) = s.try_clone() {
                            g.push(c);
                        }
                    }
                }
                let pair = Pair {
                    client,
                    server,
                    stop: st.clone(),
                    fired: fi.clone(),
                    conn: n,
                };
                pair.run(cp);
            }
        });
        Proxy {
            addr,
            stop,
            accepted,
            fired,
            streams,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The rules that fired, as `conn N up|down: act`.
    pub fn fired(&self) -> Vec<String> {
        self.fired.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(g) = self.streams.lock() {
            for s in g.iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

struct Pair {
    client: TcpStream,
    server: TcpStream,
    stop: Arc<AtomicBool>,
    fired: Arc<Mutex<Vec<String>>>,
    conn: usize,
}

impl Pair {
    fn run(self, plan: ConnPlan) {
        let dirs = [
            ("up", &self.client, &self.server, plan.up),
            ("down", &self.server, &self.client, plan.down),
        ];
        for (name, src, dst, rules) in dirs {
            let (Ok(src), Ok(dst)) = (src.try_clone(), dst.try_clone()) else {
                continue;
            };
            let (Ok(a), Ok(b)) = (self.client.try_clone(), self.server.try_clone()) else {
                continue;
            };
            let d = Direction {
                name,
                conn: self.conn,
                src,
                dst,
                both: [a, b],
                rules: rules
                    .into_iter()
                    .map(|r| Armed {
                        rule: r,
                        hit: None,
                        seen: 0,
                        scan_from: 0,
                        done: false,
                    })
                    .collect(),
                buf: Vec::new(),
                base: 0,
                blackhole: false,
                stop: self.stop.clone(),
                fired: self.fired.clone(),
            };
            thread::spawn(move || d.run());
        }
    }
}

struct Armed {
    rule: Rule,
    /// Where the trigger was found (absolute offset), if it was and has not fired yet.
    hit: Option<usize>,
    /// Occurrences of the pattern already passed.
    seen: usize,
    /// Absolute offset from which to look for the pattern.
    scan_from: usize,
    done: bool,
}

struct Direction {
    name: &'static str,
    conn: usize,
    src: TcpStream,
    dst: TcpStream,
    both: [TcpStream; 2],
    rules: Vec<Armed>,
    /// Bytes read and not yet forwarded; `base` is the stream offset of `buf[0]`.
    buf: Vec<u8>,
    base: usize,
    blackhole: bool,
    stop: Arc<AtomicBool>,
    fired: Arc<Mutex<Vec<String>>>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Direction {
    fn run(mut self) {
        let _ = self.src.set_read_timeout(Some(HOLD));
        let mut tmp = [0u8; 4096];
        loop {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let flush = match self.src.read(&mut tmp) {
                Ok(0) => {
                    let _ = self.process(true);
                    let _ = self.dst.shutdown(Shutdown::Write);
                    break;
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    false
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => true,
                Err(_) => {
                    let _ = self.dst.shutdown(Shutdown::Write);
                    break;
                }
            };
            if self.process(flush).is_err() {
                break;
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.blackhole || bytes.is_empty() {
            return Ok(());
        }
        self.dst.write_all(bytes)
    }

    /// Forwards the first `n` buffered bytes.
    fn forward(&mut self, n: usize) -> std::io::Result<()> {
        let n = n.min(self.buf.len());
        let out: Vec<u8> = self.buf.drain(..n).collect();
        self.base += n;
        self.send(&out)
    }

    /// The earliest rule that fires in the buffer: (rule index, absolute position).
    fn next_trigger(&mut self) -> Option<(usize, usize)> {
        let end = self.base + self.buf.len();
        let mut best: Option<(usize, usize)> = None;
        for (i, a) in self.rules.iter_mut().enumerate() {
            if a.done {
                continue;
            }
            let pos = match &a.rule.on {
                Trigger::Offset(o) => (*o < end).then_some((*o).max(self.base)),
                Trigger::Pattern(_, _) | Trigger::At(_, _) if a.hit.is_some() => {
                    a.hit.filter(|&h| h < end)
                }
                Trigger::At(p, skip) => {
                    let from = a.scan_from.max(self.base);
                    match find(&self.buf[from - self.base..], p) {
                        Some(rel) => {
                            let h = from + rel + skip;
                            a.hit = Some(h);
                            (h < end).then_some(h)
                        }
                        None => {
                            a.scan_from = from.max(end.saturating_sub(p.len().saturating_sub(1)));
                            None
                        }
                    }
                }
                Trigger::Pattern(p, nth) => {
                    let mut hit = None;
                    loop {
                        let from = a.scan_from.max(self.base);
                        let Some(rel) = find(&self.buf[from - self.base..], p) else {
                            break;
                        };
                        let at = from + rel;
                        a.seen += 1;
                        a.scan_from = at + 1;
                        if a.seen >= *nth {
                            hit = Some(at);
                            break;
                        }
                    }
                    if hit.is_none() {
                        // Occurrences counted so far stay counted; rescan only the tail.
                        a.scan_from = a
                            .scan_from
                            .max(end.saturating_sub(p.len().saturating_sub(1)));
                    }
                    a.hit = hit;
                    hit
                }
            };
            if let Some(p) = pos {
                if best.is_none_or(|(_, b)| p < b) {
                    best = Some((i, p));
                }
            }
        }
        best
    }

    fn note(&self, act: &Act) {
        if let Ok(mut g) = self.fired.lock() {
            g.push(format!("conn {} {}: {act:?}", self.conn, self.name));
        }
    }

    fn process(&mut self, flush: bool) -> std::io::Result<()> {
        while let Some((i, at)) = self.next_trigger() {
            let rel = at - self.base;
            let act = self.rules[i].rule.act.clone();
            // Acts that need bytes after the trigger wait for them (unless flushing).
            let need = match &act {
                Act::Duplicate(n) => *n,
                Act::DuplicateMessage => {
                    if self.buf.len() >= rel + 2 {
                        2 + usize::from(u16::from_be_bytes([self.buf[rel], self.buf[rel + 1]]))
                    } else {
                        2
                    }
                }
                Act::Corrupt(_) | Act::Drop(_) => 1,
                Act::Rewrite(bytes) => bytes.len(),
                _ => 0,
            };
            if self.buf.len() < rel + need && !flush {
                // Not all there yet: the rule keeps its hit for the next read.
                self.forward(rel)?;
                return Ok(());
            }
            self.rules[i].done = true;
            self.note(&act);
            self.forward(rel)?;
            match act {
                Act::Drop(n) => {
                    let n = n.min(self.buf.len());
                    self.buf.drain(..n);
                    self.base += n;
                }
                Act::Corrupt(x) => {
                    if let Some(b) = self.buf.first_mut() {
                        *b ^= x;
                    }
                }
                Act::Rewrite(bytes) => {
                    for (dst, b) in self.buf.iter_mut().zip(bytes) {
                        *dst = b;
                    }
                }
                Act::Duplicate(_) | Act::DuplicateMessage => {
                    let n = need.min(self.buf.len());
                    let copy = self.buf[..n].to_vec();
                    self.send(&copy)?;
                }
                Act::Delay(d) => {
                    thread::sleep(d);
                }
                Act::Cut => {
                    for s in &self.both {
                        let _ = s.shutdown(Shutdown::Both);
                    }
                    return Err(std::io::Error::other("cut"));
                }
                Act::Blackhole => {
                    self.blackhole = true;
                }
                Act::Inject(bytes) => {
                    self.send(&bytes)?;
                }
                Act::Storm { byte, every, count } => {
                    if let Ok(mut dst) = self.dst.try_clone() {
                        thread::spawn(move || {
                            for _ in 0..count {
                                if dst.write_all(&[byte]).is_err() {
                                    break;
                                }
                                thread::sleep(every);
                            }
                        });
                    }
                }
            }
        }
        let hold = if flush {
            0
        } else {
            self.rules
                .iter()
                .filter(|a| !a.done)
                .map(|a| match (&a.rule.on, a.hit) {
                    // Found, waiting for the bytes up to the offset: hold from there.
                    (_, Some(h)) => (self.base + self.buf.len()).saturating_sub(h),
                    (Trigger::Pattern(p, _) | Trigger::At(p, _), None) => p.len().saturating_sub(1),
                    (Trigger::Offset(_), None) => 0,
                })
                .max()
                .unwrap_or(0)
        };
        let n = self.buf.len().saturating_sub(hold);
        self.forward(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server: what it reads it writes back.
    fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                thread::spawn(move || {
                    let mut b = [0u8; 1024];
                    while let Ok(n) = s.read(&mut b) {
                        if n == 0 || s.write_all(&b[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        a
    }

    fn round_trip(p: &Proxy, send: &[u8], expect: usize) -> Vec<u8> {
        let mut c = TcpStream::connect(p.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        c.write_all(send).unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 256];
        while got.len() < expect {
            match c.read(&mut b) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&b[..n]),
            }
        }
        got
    }

    #[test]
    fn clean_connections_pass_bytes_unchanged() {
        let p = Proxy::start(echo(), Plan::default());
        assert_eq!(round_trip(&p, b"hello", 5), b"hello");
        assert_eq!(p.connections(), 1);
    }

    #[test]
    fn rules_fire_at_their_pattern_once() {
        let plan = Plan::first(ConnPlan {
            up: vec![
                Rule::new(Trigger::first(b"CD"), Act::Corrupt(0x20)),
                Rule::new(Trigger::Pattern(b"X".to_vec(), 2), Act::Drop(1)),
            ],
            down: vec![Rule::new(Trigger::Offset(0), Act::Inject(b"<".to_vec()))],
        });
        let p = Proxy::start(echo(), plan);
        assert_eq!(round_trip(&p, b"ABCDXyXzCD", 10), b"<ABcDXyzCD");
        assert_eq!(p.fired().len(), 3, "{:?}", p.fired());
        // The second connection is clean.
        assert_eq!(round_trip(&p, b"CD", 2), b"CD");
    }

    #[test]
    fn at_fires_inside_the_frame() {
        let plan = Plan::first(ConnPlan::up(Rule::new(
            Trigger::At(b"\x02B".to_vec(), 3),
            Act::Corrupt(0x01),
        )));
        let p = Proxy::start(echo(), plan);
        assert_eq!(round_trip(&p, b"xx\x02B123", 7), b"xx\x02B133");
    }

    #[test]
    fn length_prefixed_messages_are_duplicated_whole() {
        let plan = Plan::first(ConnPlan::up(Rule::new(
            Trigger::Offset(0),
            Act::DuplicateMessage,
        )));
        let p = Proxy::start(echo(), plan);
        assert_eq!(
            round_trip(&p, b"\x00\x03abc\x00\x01z", 13),
            b"\x00\x03abc\x00\x03abc\x00\x01z"
        );
    }

    #[test]
    fn a_cut_closes_the_connection_after_the_bytes_before_it() {
        let plan = Plan::first(ConnPlan::down(Rule::new(Trigger::first(b"|"), Act::Cut)));
        let p = Proxy::start(echo(), plan);
        assert_eq!(round_trip(&p, b"abc|def", 7), b"abc");
    }
}
