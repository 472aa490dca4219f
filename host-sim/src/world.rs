//! A bank simulator and agents (virtual terminals) started in this process on loopback ports
//! they pick themselves: what `demo` and `load` run against.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use ecrlink_agent::config::{DialectChoice, Endpoint, ListenSpec};
use ecrlink_agent::{Agent, AgentHandle, Config};
use ecrlink_core::session::Dialect;

use crate::bank::{BankConfig, BankHandle, BankSim};

/// A bank and its agents.
pub struct World {
    /// The bank simulator (default rules: an amount ending in .51 is declined with 51).
    pub bank: BankHandle,
    /// The agents, each listening once per dialect asked for.
    pub agents: Vec<AgentHandle>,
    dialects: Vec<Dialect>,
}

/// Terminal id the in-process agents use (and the tills write in ČSOB headers).
pub const AGENT_TERMINAL_ID: &str = "ECRLINK1";

impl World {
    /// Starts the bank and `agents` agents, each with one TCP listener per dialect in
    /// `dialects`, presenting the default test card after `card_delay`.
    pub async fn start(
        agents: usize,
        dialects: &[Dialect],
        card_delay: Duration,
    ) -> anyhow::Result<World> {
        World::start_with_lang(agents, dialects, card_delay, "en").await
    }

    /// [`World::start`] with the agents' receipts in `receipt_lang` (`cs`, `en`, `fr`).
    pub async fn start_with_lang(
        agents: usize,
        dialects: &[Dialect],
        card_delay: Duration,
        receipt_lang: &str,
    ) -> anyhow::Result<World> {
        // Each agent holds one bank connection (two while it reconnects): lift the cap.
        let bank = BankSim::start(BankConfig {
            max_connections: (2 * agents).max(crate::bank::DEFAULT_MAX_CONNECTIONS),
            ..BankConfig::default()
        })
        .await
        .context("starting the bank simulator")?;
        let mut handles = Vec::with_capacity(agents);
        for i in 0..agents {
            let cfg = Config {
                listen: dialects
                    .iter()
                    .map(|d| ListenSpec {
                        dialect: DialectChoice::Fixed(*d),
                        endpoint: Endpoint::Tcp("127.0.0.1:0".into()),
                    })
                    .collect(),
                bank: Some(bank.addr().to_string()),
                card_delay,
                terminal_id: terminal_id(agents, i),
                receipt_lang: receipt_lang.to_string(),
                ..Config::default()
            };
            let agent = Agent::start(cfg)
                .await
                .with_context(|| format!("starting agent {i}"))?;
            handles.push(agent);
        }
        Ok(World {
            bank,
            agents: handles,
            dialects: dialects.to_vec(),
        })
    }

    /// The address of agent `i`'s listener for `dialect`.
    pub fn addr(&self, i: usize, dialect: Dialect) -> Option<SocketAddr> {
        let agent = self.agents.get(i)?;
        let pos = self.dialects.iter().position(|d| *d == dialect)?;
        agent.tcp_addrs().get(pos).copied()
    }

    /// The terminal id of agent `i`.
    pub fn terminal_id(&self, i: usize) -> String {
        terminal_id(self.agents.len(), i)
    }

    /// Stops the agents, then the bank.
    pub async fn shutdown(self) {
        for agent in self.agents {
            let _ = agent.shutdown().await;
        }
        self.bank.shutdown().await;
    }
}

fn terminal_id(agents: usize, i: usize) -> String {
    if agents == 1 {
        AGENT_TERMINAL_ID.into()
    } else {
        format!("ECRL{i:04}")
    }
}
