//! `load`: many tills against many terminals at once; throughput and latency percentiles.
//!
//! A terminal serves one till at a time (a new connection drops the older one, as real
//! terminals do), so tills that share a terminal take turns on it: concurrency is
//! `min(tills, terminals)`. Latency is measured per transaction from connect to answer,
//! without the wait for the turn; throughput is transactions over the wall time of the run.

use std::sync::Arc;
use std::time::Duration;

use ecrlink_core::txn::{Currency, Money, Outcome, Request};
use serde::Serialize;

use crate::till::{Till, TillOptions};

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    /// Concurrent tills.
    pub tills: usize,
    /// Transactions in all, shared among the tills (till `i` runs every `tills`-th).
    pub transactions: usize,
    /// Currency of the sales.
    pub currency: Currency,
}

/// Latency percentiles (nearest rank) in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Largest.
    pub max_us: u64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `samples` (sorted in place); zeros when empty.
    pub fn of(samples: &mut [Duration]) -> Self {
        if samples.is_empty() {
            return Percentiles::default();
        }
        samples.sort_unstable();
        let rank = |p: f64| -> u64 {
            let n = samples.len();
            let idx = ((p / 100.0) * n as f64).ceil() as usize;
            let idx = idx.clamp(1, n) - 1;
            u64::try_from(samples[idx].as_micros()).unwrap_or(u64::MAX)
        };
        Percentiles {
            p50_us: rank(50.0),
            p90_us: rank(90.0),
            p99_us: rank(99.0),
            max_us: rank(100.0),
        }
    }
}

/// The result of a run.
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// Tills.
    pub tills: usize,
    /// Terminals (agents).
    pub agents: usize,
    /// Transactions run.
    pub transactions: usize,
    /// Approved.
    pub approved: usize,
    /// Declined or refused.
    pub declined: usize,
    /// Anything else (timeout, offline, bank unavailable, cancelled).
    pub other: usize,
    /// Wall time of the run in milliseconds.
    pub wall_ms: u64,
    /// Transactions per second.
    pub throughput_tps: f64,
    /// Latency of all transactions.
    pub latency: Percentiles,
}

impl LoadReport {
    /// The human summary.
    pub fn to_text(&self) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        format!(
            "load: {} tills against {} agents, {} transactions in {:.2} s\n\
             outcomes: {} approved, {} declined, {} other\n\
             throughput: {:.1} transactions/s\n\
             latency (ms): p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}\n",
            self.tills,
            self.agents,
            self.transactions,
            self.wall_ms as f64 / 1000.0,
            self.approved,
            self.declined,
            self.other,
            self.throughput_tps,
            ms(self.latency.p50_us),
            ms(self.latency.p90_us),
            ms(self.latency.p99_us),
            ms(self.latency.max_us),
        )
    }
}

/// Runs `plan` against `terminals` (one [`TillOptions`] per terminal; till `i` uses terminal
/// `i % terminals.len()`). Sales of 1.00, 1.01, … so that every transaction differs.
pub async fn run(plan: &LoadPlan, terminals: &[TillOptions]) -> LoadReport {
    let tills = plan.tills.max(1);
    let agents = terminals.len();
    if agents == 0 {
        return LoadReport {
            tills,
            agents,
            transactions: 0,
            approved: 0,
            declined: 0,
            other: 0,
            wall_ms: 0,
            throughput_tps: 0.0,
            latency: Percentiles::default(),
        };
    }
    let turns: Vec<Arc<tokio::sync::Mutex<()>>> = (0..agents)
        .map(|_| Arc::new(tokio::sync::Mutex::new(())))
        .collect();
    let started = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..tills {
        let till = Till::new(terminals[i % agents].clone());
        let turn = turns[i % agents].clone();
        let mine: Vec<usize> = (i..plan.transactions).step_by(tills).collect();
        let currency = plan.currency;
        tasks.spawn(async move {
            let mut out = Vec::with_capacity(mine.len());
            for n in mine {
                // 1.00, 1.01, … 10.99, then again; never .51 (a simulator's decline rule).
                let mut minor = 100 + (n as u64 % 1000);
                if minor % 100 == 51 {
                    minor += 1;
                }
                let Ok(amount) = Money::new(minor, currency) else {
                    continue;
                };
                let _guard = turn.lock().await;
                let t0 = tokio::time::Instant::now();
                let outcome = match till
                    .run(Request::Sale {
                        amount,
                        reference: None,
                    })
                    .await
                {
                    Ok(r) => r.outcome,
                    Err(_) => Outcome::TerminalOffline,
                };
                out.push((t0.elapsed(), outcome));
            }
            out
        });
    }
    let mut samples = Vec::with_capacity(plan.transactions);
    let (mut approved, mut declined, mut other) = (0, 0, 0);
    while let Some(joined) = tasks.join_next().await {
        for (latency, outcome) in joined.unwrap_or_default() {
            samples.push(latency);
            match outcome {
                Outcome::Approved => approved += 1,
                Outcome::Declined { .. } | Outcome::Failed { .. } => declined += 1,
                _ => other += 1,
            }
        }
    }
    let wall = started.elapsed();
    let transactions = samples.len();
    LoadReport {
        tills,
        agents,
        transactions,
        approved,
        declined,
        other,
        wall_ms: u64::try_from(wall.as_millis()).unwrap_or(u64::MAX),
        throughput_tps: if wall.is_zero() {
            0.0
        } else {
            transactions as f64 / wall.as_secs_f64()
        },
        latency: Percentiles::of(&mut samples),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let p = Percentiles::of(&mut v);
        assert_eq!(p.p50_us, 50_000);
        assert_eq!(p.p90_us, 90_000);
        assert_eq!(p.p99_us, 99_000);
        assert_eq!(p.max_us, 100_000);
        let mut one = vec![Duration::from_micros(7)];
        assert_eq!(
            Percentiles::of(&mut one),
            Percentiles {
                p50_us: 7,
                p90_us: 7,
                p99_us: 7,
                max_us: 7
            }
        );
        assert_eq!(Percentiles::of(&mut []), Percentiles::default());
    }
}

/// Arguments of `load`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Starts a bank simulator and M agents (virtual terminals, card presented at once) in this
process on loopback ports, then runs K sales from N concurrent tills: till i uses agent i mod M,
and tills that share an agent take turns (a terminal serves one till at a time). Prints
throughput and latency percentiles (p50/p90/p99/max, from connect to answer). No session log.")]
pub struct LoadArgs {
    /// Concurrent tills.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub tills: u32,
    /// Agents (terminals).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub agents: u32,
    /// Transactions in all, shared among the tills.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub transactions: u32,
    /// Dialect the tills speak.
    #[arg(long, value_enum, default_value = "csob")]
    pub dialect: crate::tillcli::DialectArg,
    /// Limit for one answer, in seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `load`; returns the exit status (0 when every transaction got an answer).
pub fn run_cli(args: &LoadArgs) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return 2;
        }
    };
    match runtime.block_on(run_world(args)) {
        Ok(report) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string(&report).unwrap_or_else(|_| "{}".into())
                );
            } else {
                print!("{}", report.to_text());
            }
            if report.other == 0 { 0 } else { 1 }
        }
        Err(e) => {
            eprintln!("error: load failed: {e:#}");
            1
        }
    }
}

async fn run_world(args: &LoadArgs) -> anyhow::Result<LoadReport> {
    use ecrlink_core::session::Dialect;

    use crate::till::{Target, TillOptions};
    use crate::world::World;

    let dialect: Dialect = args.dialect.into();
    let agents = args.agents as usize;
    let world = World::start(agents, &[dialect], Duration::ZERO).await?;
    let mut terminals = Vec::with_capacity(agents);
    for i in 0..agents {
        let addr = world
            .addr(i, dialect)
            .ok_or_else(|| anyhow::anyhow!("agent {i} has no listener"))?;
        let mut o = TillOptions::new(
            Target::Tcp {
                address: addr.to_string(),
            },
            dialect,
        );
        o.timeout = Duration::from_secs(args.timeout.max(1));
        o.terminal_id = Some(world.terminal_id(i));
        terminals.push(o);
    }
    let plan = LoadPlan {
        tills: args.tills as usize,
        transactions: args.transactions as usize,
        currency: match dialect {
            Dialect::Concert => Currency::EUR,
            Dialect::Csob => Currency::CZK,
        },
    };
    let report = run(&plan, &terminals).await;
    world.shutdown().await;
    Ok(report)
}
