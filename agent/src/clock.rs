//! Time for the core: [`ecrlink_core::Instant`] counts milliseconds from the process's first
//! call here; wall-clock dates for receipts and ISO 8583 field 7 come from the system clock.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ecrlink_core::Instant;
use ecrlink_core::txn::Timestamp;

fn origin() -> tokio::time::Instant {
    static ORIGIN: OnceLock<tokio::time::Instant> = OnceLock::new();
    *ORIGIN.get_or_init(tokio::time::Instant::now)
}

/// Now, as the core counts time.
pub fn now() -> Instant {
    to_core(tokio::time::Instant::now())
}

/// A tokio instant as the core counts time.
pub fn to_core(t: tokio::time::Instant) -> Instant {
    let ms = t.saturating_duration_since(origin()).as_millis();
    Instant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// A core instant as a tokio instant (for `sleep_until`).
pub fn to_tokio(t: Instant) -> tokio::time::Instant {
    origin() + Duration::from_millis(t.as_millis())
}

/// The current UTC date and time.
pub fn timestamp() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    timestamp_from_unix(secs)
}

/// A UTC date and time from seconds since 1970 (proleptic Gregorian calendar).
pub fn timestamp_from_unix(secs: u64) -> Timestamp {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from a day count: shift the epoch to 0000-03-01 so that leap days fall at the
    // end of a 400-year era, then split into era, year of era, day of year, month.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
    Timestamp {
        year,
        month,
        day,
        hour: (rem / 3600) as u8,
        minute: ((rem % 3600) / 60) as u8,
        second: (rem % 60) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        let t = timestamp_from_unix(0);
        assert_eq!((t.year, t.month, t.day, t.hour), (1970, 1, 1, 0));
        // 2000-02-29 12:34:56 UTC = 951827696
        let t = timestamp_from_unix(951_827_696);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2000, 2, 29, 12, 34, 56)
        );
        // 2026-12-31 23:59:59 UTC = 1798761599
        let t = timestamp_from_unix(1_798_761_599);
        assert_eq!((t.year, t.month, t.day), (2026, 12, 31));
    }

    #[test]
    fn instants_convert_both_ways() {
        let t = now();
        let back = to_core(to_tokio(t));
        assert_eq!(back, t);
    }
}
