//! Service times of the agent, for load tests that run agents in process
//! (`ecrlink-sim load`). Off unless [`ServiceLog::enable`] is called: an agent in service keeps
//! nothing.
//!
//! One sample per till request the engine answered, taken by the till connection:
//! - `service`: from the read that completed the request frame to the end of the write that
//!   starts the answer (for ČSOB the answer frame; for Concert the ENQ that bids for the line,
//!   the frame itself follows the till's ACK, which is the till's time, not the agent's);
//! - `waited`: the part of `service` the engine spent waiting for the card reader and for
//!   bank exchanges (`BankLink::exchange`, which includes the agent's own ISO 8583 encode and
//!   decode in its link task and whatever the bank takes).
//!
//! `service − waited` is what the agent itself adds: framing, the session, the queue to the
//! engine, journaling, receipts, and the scheduling of its tasks.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// One request's times (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceSample {
    /// Request frame received to answer written.
    pub service: Duration,
    /// Of which waiting for the card and the bank.
    pub waited: Duration,
}

impl ServiceSample {
    /// `service − waited`: what the agent adds.
    pub fn added(&self) -> Duration {
        self.service.saturating_sub(self.waited)
    }
}

/// Samples of one agent, kept only once enabled.
#[derive(Debug, Default)]
pub struct ServiceLog {
    enabled: AtomicBool,
    samples: Mutex<Vec<ServiceSample>>,
}

impl ServiceLog {
    /// Starts keeping samples.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Whether samples are kept.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Keeps `sample` if enabled.
    pub fn record(&self, sample: ServiceSample) {
        if self.is_enabled()
            && let Ok(mut g) = self.samples.lock()
        {
            g.push(sample);
        }
    }

    /// How many samples are kept now.
    pub fn len(&self) -> usize {
        self.samples.lock().map(|g| g.len()).unwrap_or(0)
    }

    /// Whether no sample is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples so far, leaving none.
    pub fn take(&self) -> Vec<ServiceSample> {
        self.samples
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_samples_only_once_enabled() {
        let log = ServiceLog::default();
        let s = ServiceSample {
            service: Duration::from_micros(300),
            waited: Duration::from_micros(100),
        };
        log.record(s);
        assert!(log.take().is_empty());
        log.enable();
        log.record(s);
        assert_eq!(log.take(), vec![s]);
        assert!(log.take().is_empty());
        assert_eq!(s.added(), Duration::from_micros(200));
        let odd = ServiceSample {
            service: Duration::from_micros(1),
            waited: Duration::from_micros(2),
        };
        assert_eq!(odd.added(), Duration::ZERO);
    }
}
