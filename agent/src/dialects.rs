//! The dialect sessions the agent can run, by name.

use ecrlink_core::dialect::concert::{ConcertTerminal, ConcertTerminalConfig};
use ecrlink_core::session::{Dialect, TerminalSide};

use crate::config::Config;

/// A fresh terminal-side session of `dialect`.
pub fn terminal_session(
    dialect: Dialect,
    cfg: &Config,
) -> anyhow::Result<Box<dyn TerminalSide + Send>> {
    let _ = cfg;
    match dialect {
        Dialect::Concert => Ok(Box::new(ConcertTerminal::new(
            ConcertTerminalConfig::default(),
        ))),
        Dialect::Csob => anyhow::bail!("dialect csob is not available yet"),
    }
}
