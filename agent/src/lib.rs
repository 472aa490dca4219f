//! `ecrlink-agent`: the terminal side. Listens for tills in server mode (TCP or serial, Concert
//! or ČSOB or auto-detected), runs their requests through a card reader and the bank link,
//! journals every step before answering, prints receipts, sleeps and wakes like a PAX A920.
//!
//! In process (tests, the demo):
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use ecrlink_agent::{Agent, Config};
//! let mut cfg = Config::default();              // concert@127.0.0.1:0, no bank
//! cfg.bank = Some("127.0.0.1:5000".into());
//! let agent = Agent::start(cfg).await?;
//! let till_addr = agent.tcp_addrs()[0];         // the free port it got
//! # let _ = till_addr;
//! agent.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! Modules: [`server`] (listeners, one active till, sleep mode, [`Agent`]), [`till`] (one till
//! connection over a dialect session), [`engine`] (transactions, one at a time), [`bank`]
//! (ISO 8583 link), [`journal`] (crash-safe file), [`card`] (card readers), [`printer`]
//! (receipts), [`config`], [`cli`], [`ui`] (the terminal in a browser page, `--ui`).

pub mod bank;
pub mod card;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crash;
pub mod dialects;
pub mod engine;
pub mod hex;
pub mod journal;
pub mod metrics;
pub mod printer;
pub mod server;
pub mod till;
pub mod ui;

pub use config::Config;
pub use server::{Agent, AgentHandle, AgentState, BoundListener, Parts};
