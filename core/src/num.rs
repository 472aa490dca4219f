//! Integer helpers for firmware: 64-bit values divided with 32-bit divisions only.
//!
//! Cortex-M has a 32-bit divide instruction but no 64-bit one; a `u64 / u64` (even by a
//! constant, at opt-level "z") links the compiler's 64-bit division routine, about 1 KiB of
//! flash. Decimal digits of an amount and the ČSOB header clock only ever divide by small
//! constants, which [`div_rem_u64`] does in three 32-bit steps.

/// `(n / d, n % d)` for a divisor below 2¹⁶, as long division in 16-bit digits: each step
/// divides a value below `d · 2¹⁶ ≤ 2³²` by `d`. `d == 0` gives `(0, 0)` (no panic).
pub(crate) fn div_rem_u64(n: u64, d: u16) -> (u64, u16) {
    if d == 0 {
        return (0, 0);
    }
    let d = u32::from(d);
    let (hi, lo) = ((n >> 32) as u32, n as u32);
    let (q_hi, r) = (hi / d, hi % d);
    let mid = (r << 16) | (lo >> 16);
    let (q_mid, r) = (mid / d, mid % d);
    let low = (r << 16) | (lo & 0xFFFF);
    let (q_low, r) = (low / d, low % d);
    let q = (u64::from(q_hi) << 32) | (u64::from(q_mid) << 16) | u64::from(q_low);
    (q, r as u16)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::div_rem_u64;

    #[test]
    fn edges() {
        for n in [
            0,
            1,
            9,
            10,
            999,
            1000,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            for d in [1u16, 2, 10, 24, 1000, 3600, u16::MAX] {
                assert_eq!(
                    div_rem_u64(n, d),
                    (n / u64::from(d), (n % u64::from(d)) as u16)
                );
            }
        }
        assert_eq!(div_rem_u64(5, 0), (0, 0));
    }

    proptest! {
        #[test]
        fn agrees_with_u64_division(n in any::<u64>(), d in 1u16..) {
            prop_assert_eq!(div_rem_u64(n, d), (n / u64::from(d), (n % u64::from(d)) as u16));
        }
    }
}
