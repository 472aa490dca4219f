//! A printer that keeps its jobs in memory and fails on demand, for tests of the agent and of
//! the reprint path.

use std::sync::{Arc, Mutex};

use super::{PrintError, PrintJob, Printer};

#[derive(Debug, Default)]
struct State {
    jobs: Vec<PrintJob>,
    failures_left: usize,
    attempts: usize,
}

/// Collects printed jobs; clones share the same paper, so a test keeps one clone and gives the
/// other to the agent. [`MemoryPrinter::fail_next`] makes the next jobs fail like a printer out
/// of paper (nothing is kept for them).
#[derive(Clone, Debug, Default)]
pub struct MemoryPrinter {
    state: Arc<Mutex<State>>,
}

impl MemoryPrinter {
    /// An empty printer that works.
    pub fn new() -> Self {
        MemoryPrinter::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// The next `n` jobs fail with a device error ("paper out").
    pub fn fail_next(&self, n: usize) {
        self.with(|s| s.failures_left = n);
    }

    /// Jobs printed so far.
    pub fn jobs(&self) -> Vec<PrintJob> {
        self.with(|s| s.jobs.clone())
    }

    /// Jobs asked for so far, failed ones included.
    pub fn attempts(&self) -> usize {
        self.with(|s| s.attempts)
    }
}

impl Printer for MemoryPrinter {
    fn print(&mut self, job: &PrintJob) -> Result<(), PrintError> {
        self.with(|s| {
            s.attempts += 1;
            if s.failures_left > 0 {
                s.failures_left -= 1;
                return Err(PrintError::Device("paper out".into()));
            }
            s.jobs.push(job.clone());
            Ok(())
        })
    }
}
