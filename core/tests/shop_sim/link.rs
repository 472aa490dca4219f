//! The till's side of the simulated shop when it speaks a real dialect: the two sessions of
//! one till connection (the till's [`EcrSide`] and the terminal's [`TerminalSide`]) and the
//! faults of the byte link between them.
//!
//! The link is a stream in each direction: bytes arrive in the order they were written (a
//! serial line and a TCP connection both keep order), written at once or in random chunks,
//! each chunk after a random delay. What else can happen depends on the transport:
//!
//! - **Concert** runs on a serial line (9600 8N1). A write can be lost whole (the line was
//!   down), and at most one of its bytes can be lost or have one bit flipped (noise); inside
//!   a frame a byte can also be doubled (a framing glitch). Concert's frames carry an LRC (XOR
//!   of the bytes): it catches any odd number of flipped bits in a bit column, and so every
//!   single-bit flip; two flips in one column pass it. The noise model flips at most one bit
//!   per write, which is what LRC can promise to catch; heavier noise would let damaged
//!   frames through and is not a fault the protocol claims to survive. Outages: the line
//!   carries nothing for a while (a cable pulled out). A serial line never repeats what was
//!   sent, and the simulation does not make it: Concert's ACK names no frame, so a doubled
//!   ENQ (or a doubled frame) whose frame is then lost has the terminal ACK twice and the till
//!   take the second ACK for its frame's. The first runs of this simulation, which doubled
//!   writes, showed exactly that (a sale the till saw "taken" that the terminal never
//!   received; seeds 100, 351 and 691 of the first version). Repeats on the line come only
//!   from the sessions' own retries, which the link layer is built for. For the same reason
//!   a serial line is never slower than 1.2 s each way: an ACK that comes back after the
//!   sender's 3 s wait reads as the ACK of what it sent next (its ENQ again, then its frame),
//!   and the till takes a frame the terminal never received for taken (seeds 12 907,
//!   33 857, 86 360, 107 440 and 181 703 of an earlier version, which held chunks up to 3 s).
//! - **ČSOB** runs on TCP. TCP delivers bytes intact and in order or not at all, so no byte
//!   is lost, flipped or doubled inside a connection, and no noise is injected: the ČSOB
//!   header's CRC field is a constant (`A5A5`) that the public client never checks, so the
//!   dialect could not catch it anyway (TCP's own checksum does). What happens is delay and
//!   cuts: a cut closes the connection (bytes in flight are lost), both sessions are dropped
//!   and the till reconnects with new ones. A till may send its request frame twice (a
//!   cashier pressing "pay" twice, a client that resends): the till→terminal write is then
//!   doubled on the stream; the terminal never sends the same bytes twice.

use ecrlink_core::Instant;
use ecrlink_core::dialect::concert::{
    ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig,
};
use ecrlink_core::dialect::csob::{CsobConfig, CsobEcr, CsobTerminal};
use ecrlink_core::session::{Dialect, EcrSide, TerminalSide};
use ecrlink_core::txn::{Currency, TerminalId};

use super::{Prng, SEC};

/// The till's session of one connection.
// One per simulated till, never moved around: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
pub enum EcrSession {
    Concert(ConcertEcr),
    Csob(CsobEcr),
}

/// The simulated tills speak Concert and ČSOB; ZVT joins once core has its till side.
pub const ZVT_NOT_YET: &str = "the simulation draws Concert and ČSOB tills only";

impl EcrSession {
    pub fn new(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Concert => EcrSession::Concert(ConcertEcr::new(ConcertEcrConfig::default())),
            Dialect::Csob => EcrSession::Csob(CsobEcr::new(csob_config())),
            Dialect::Zvt => unreachable!("{}", ZVT_NOT_YET),
        }
    }

    pub fn side(&mut self) -> &mut dyn EcrSide {
        match self {
            EcrSession::Concert(s) => s,
            EcrSession::Csob(s) => s,
        }
    }

    pub fn timeout(&self) -> Option<Instant> {
        match self {
            EcrSession::Concert(s) => s.poll_timeout(),
            EcrSession::Csob(s) => s.poll_timeout(),
        }
    }
}

/// The terminal's session of one connection.
// Two per run, never moved: the size of the larger (a ČSOB outbox holds two 1 KiB frames)
// costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum TermSession {
    Concert(ConcertTerminal),
    Csob(CsobTerminal),
}

impl TermSession {
    pub fn new(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Concert => {
                TermSession::Concert(ConcertTerminal::new(ConcertTerminalConfig::default()))
            }
            Dialect::Csob => TermSession::Csob(CsobTerminal::new(csob_config())),
            Dialect::Zvt => unreachable!("{}", ZVT_NOT_YET),
        }
    }

    pub fn side(&mut self) -> &mut dyn TerminalSide {
        match self {
            TermSession::Concert(s) => s,
            TermSession::Csob(s) => s,
        }
    }

    pub fn timeout(&self) -> Option<Instant> {
        match self {
            TermSession::Concert(s) => s.poll_timeout(),
            TermSession::Csob(s) => s.poll_timeout(),
        }
    }

    /// As the agent's driver: a Concert terminal refuses the till's ENQ while the application
    /// runs another connection's request (ČSOB answers such a request "busy" itself).
    pub fn set_application_busy(&mut self, busy: bool) {
        if let TermSession::Concert(s) = self {
            s.set_application_busy(busy);
        }
    }
}

fn csob_config() -> CsobConfig {
    let mut c = CsobConfig::new(TerminalId::new("12345678").expect("terminal id"));
    c.default_currency = Currency::EUR;
    c
}

/// Fault rates of one till link, in per mille (drawn per till per seed).
#[derive(Clone, Debug)]
pub struct LinkFaults {
    /// A write is lost whole (Concert).
    pub write_loss: u64,
    /// One byte of a write is lost (Concert).
    pub byte_loss: u64,
    /// One byte of a write is doubled (Concert).
    pub byte_dup: u64,
    /// One bit of a write is flipped (Concert).
    pub noise: u64,
    /// A write arrives twice (ČSOB till→terminal only: the till repeats its request).
    pub write_dup: u64,
    /// A chunk is held back long (both).
    pub late: u64,
    /// A write is cut into several chunks (both).
    pub chunking: u64,
    /// Cuts (ČSOB) or outages (Concert) over the day.
    pub cuts: u64,
}

impl LinkFaults {
    pub fn draw(rng: &mut Prng, dialect: Dialect) -> LinkFaults {
        let level = rng.below(4); // 0 calm … 3 wild
        let mut f = |base: u64| {
            if level == 0 {
                0
            } else {
                rng.below(base * level + 1)
            }
        };
        let serial = dialect == Dialect::Concert;
        LinkFaults {
            write_loss: if serial { f(15) } else { 0 },
            byte_loss: if serial { f(10) } else { 0 },
            byte_dup: if serial { f(10) } else { 0 },
            noise: if serial { f(15) } else { 0 },
            write_dup: if serial { 0 } else { f(10) },
            late: f(15),
            chunking: f(150),
            cuts: f(1),
        }
    }
}

impl LinkFaults {
    /// No faults (the drain at the end of a run).
    pub fn calm() -> LinkFaults {
        LinkFaults {
            write_loss: 0,
            byte_loss: 0,
            byte_dup: 0,
            noise: 0,
            write_dup: 0,
            late: 0,
            chunking: 0,
            cuts: 0,
        }
    }
}

/// One write after the link's damage: `None` when it is lost whole.
pub fn damage(rng: &mut Prng, f: &LinkFaults, dialect: Dialect, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = bytes.to_vec();
    if dialect != Dialect::Concert || out.is_empty() {
        return Some(out);
    }
    if rng.chance(f.write_loss) {
        return None;
    }
    // At most one damage per write (see the module notes on LRC).
    let at = rng.below(out.len() as u64) as usize;
    if rng.chance(f.noise) {
        out[at] ^= 1 << rng.below(8);
    } else if rng.chance(f.byte_loss) {
        out.remove(at);
    } else if out.len() >= 8 && rng.chance(f.byte_dup) {
        let b = out[at];
        out.insert(at, b);
    }
    Some(out)
}

/// A write cut into chunks, each with its delay after the previous one (in order).
pub fn chunks(
    rng: &mut Prng,
    f: &LinkFaults,
    dialect: Dialect,
    bytes: Vec<u8>,
) -> Vec<(u64, Vec<u8>)> {
    // A serial line's round trip stays well within Concert's 3 s ACK wait (module notes).
    let slowest = match dialect {
        Dialect::Concert => 1_200,
        Dialect::Csob => 3 * SEC,
        Dialect::Zvt => unreachable!("{}", ZVT_NOT_YET),
    };
    let mut parts = Vec::new();
    let mut rest = bytes;
    while rest.len() > 1 && rng.chance(f.chunking) {
        let cut = rng.range(1, rest.len() as u64 - 1) as usize;
        let tail = rest.split_off(cut);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    parts
        .into_iter()
        .map(|p| {
            let d = if rng.chance(f.late) {
                rng.range(100, slowest)
            } else {
                rng.range(1, 40)
            };
            (d, p)
        })
        .collect()
}
