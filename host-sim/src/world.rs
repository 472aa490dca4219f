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
    /// The MAC key file bank and agents share (mode 600, in a private temporary directory
    /// removed with the world).
    pub mac_key_file: std::path::PathBuf,
    _keys: tempfile::TempDir,
}

/// Writes a fresh random 32-byte MAC key (64 hex digits, from the system's random source)
/// into `dir/mac.key`, readable by its owner only.
fn new_mac_key(dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .context("reading /dev/urandom for a MAC key")?;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join("mac.key");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{hex}"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
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
        World::start_with_bank(
            agents,
            dialects,
            card_delay,
            receipt_lang,
            None,
            None,
            &|_| {},
        )
        .await
    }

    /// [`World::start_with_lang`] with the bank's `rules` (default: [`crate::bank::Rules::default`])
    /// and its ledger kept in `ledger_file` (JSON, as `ecrlink-sim bank --ledger`), so that what
    /// the bank holds can be checked after the run; `configure` is applied to each agent's
    /// configuration last (the demo's merchant PIN and limits).
    pub async fn start_with_bank(
        agents: usize,
        dialects: &[Dialect],
        card_delay: Duration,
        receipt_lang: &str,
        rules: Option<crate::bank::Rules>,
        ledger_file: Option<std::path::PathBuf>,
        configure: &(dyn Fn(&mut Config) + Sync),
    ) -> anyhow::Result<World> {
        // Every message on the bank link carries a MAC, under a key made for this run.
        let keys = tempfile::Builder::new()
            .prefix("ecrlink-keys")
            .tempdir()
            .context("a directory for the MAC key")?;
        let mac_key_file = new_mac_key(keys.path())?;
        let mac_key = ecrlink_agent::bank::key::load_mac_key(&mac_key_file)?;
        // Each agent holds one bank connection (two while it reconnects): lift the cap.
        let bank = BankSim::start(BankConfig {
            max_connections: (2 * agents).max(crate::bank::DEFAULT_MAX_CONNECTIONS),
            mac_key: Some(mac_key),
            rules: rules.unwrap_or_default(),
            ledger_file,
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
                bank_mac_key: Some(mac_key_file.clone()),
                ..Config::default()
            };
            let mut cfg = cfg;
            configure(&mut cfg);
            let agent = Agent::start(cfg)
                .await
                .with_context(|| format!("starting agent {i}"))?;
            handles.push(agent);
        }
        Ok(World {
            bank,
            agents: handles,
            dialects: dialects.to_vec(),
            mac_key_file,
            _keys: keys,
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
