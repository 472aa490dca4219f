//! Capped exponential backoff with jitter, for reconnects and for re-sending reversals.

use core::time::Duration;

/// Retry timing: the delay before retry `n` (1-based) is `initial × 2^(n-1)` capped at `max`,
/// of which a random part is kept ("equal jitter": the result lies in `[d/2, d]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Cap (before jitter).
    pub max: Duration,
}

impl Backoff {
    /// The delay before retry number `attempt` (1-based; 0 is taken as 1).
    pub fn delay(&self, attempt: u32, rng: &mut Rng) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let d = self.initial.saturating_mul(1u32 << exp).min(self.max);
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let half = ms / 2;
        Duration::from_millis(half.saturating_add(rng.below(ms - half + 1)))
    }
}

/// A small xorshift generator for jitter (nothing secret depends on it). Seeded by the
/// driver, so a simulation replays exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; 0 is replaced by a fixed odd constant).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        let x = self.next_u64();
        x.checked_rem(n).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_jittered() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
        };
        let mut rng = Rng::new(7);
        for attempt in 0..64 {
            let d = b.delay(attempt, &mut rng);
            let full = Duration::from_millis(100)
                .saturating_mul(1 << attempt.saturating_sub(1).min(30))
                .min(b.max);
            assert!(
                d <= full && d >= full / 2,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
        assert!(b.delay(40, &mut rng) <= Duration::from_secs(10));
    }
}
