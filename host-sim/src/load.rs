//! `load`: many tills against many terminals at once; throughput and latency percentiles.
//!
//! A terminal serves one till at a time (a new connection drops the older one, as real
//! terminals do), so tills that share a terminal take turns on it: concurrency is
//! `min(tills, terminals)`. Throughput is transactions over the wall time of the run.
//!
//! Two ways to drive the tills:
//! - **closed loop** (no rate): each till starts its next sale as soon as the previous one
//!   ends. This finds the saturation throughput; the latency it shows at saturation is mostly
//!   queueing (in flight / throughput). Latency is from connect to answer, without the wait
//!   for the turn on a shared terminal.
//! - **paced** ([`LoadPlan::rate`]): sale `k` is due at `start + k / rate` (spread evenly
//!   over the tills, till `k mod tills` runs it) whatever happened before, released by a
//!   pacer thread. Latency is from the *due* time to the answer, so a till that falls behind
//!   counts its backlog (no coordinated omission); the lag between due time and the actual
//!   start is reported on its own.

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
    /// Sales per second in all (paced, open loop); `None`: closed loop.
    pub rate: Option<f64>,
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
    /// Latency of all transactions: closed loop from connect to answer; paced from the time
    /// the sale was due to the answer (queueing behind a late till included).
    pub latency: Percentiles,
    /// `closed` or `paced`.
    pub mode: &'static str,
    /// The rate asked for (sales per second in all), paced only.
    pub rate_tps: Option<f64>,
    /// Latency from connect to answer (the same as `latency` in closed loop).
    pub latency_from_start: Percentiles,
    /// Paced: how late each sale started after it was due (the till busy with an earlier one,
    /// or the pacer and the scheduler late); zeros in closed loop.
    pub start_lag: Percentiles,
    /// Requests the agents timed (see `ecrlink_agent::metrics`); 0 when the agents are not
    /// in this process.
    pub agent_samples: usize,
    /// Agent service time: request frame received to answer written, card and bank waits
    /// included.
    pub agent_service: Percentiles,
    /// What the agent adds: service time minus the time its engine waited for the card
    /// reader and the bank link.
    pub agent_added: Percentiles,
    /// Worker threads of the runtime (1: everything on one thread).
    pub threads: usize,
}

impl LoadReport {
    /// The human summary.
    pub fn to_text(&self) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        format!(
            "load: {} tills against {} agents, {} transactions in {:.2} s\n\
             outcomes: {} approved, {} declined, {} other\n\
             throughput: {:.1} transactions/s\n\
             latency (ms){}: p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}\n",
            self.tills,
            self.agents,
            self.transactions,
            self.wall_ms as f64 / 1000.0,
            self.approved,
            self.declined,
            self.other,
            self.throughput_tps,
            if self.mode == "paced" {
                " from the time due"
            } else {
                ""
            },
            ms(self.latency.p50_us),
            ms(self.latency.p90_us),
            ms(self.latency.p99_us),
            ms(self.latency.max_us),
        ) + &self.extra_text()
    }

    fn extra_text(&self) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        let row = |name: &str, p: &Percentiles| {
            format!(
                "{name}: p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}\n",
                ms(p.p50_us),
                ms(p.p90_us),
                ms(p.p99_us),
                ms(p.max_us)
            )
        };
        let mut out = String::new();
        if let Some(rate) = self.rate_tps {
            out += &format!("paced at {rate:.1} sales/s in all\n");
            out += &row("latency (ms) from connect", &self.latency_from_start);
            out += &row("start lag (ms)", &self.start_lag);
        }
        if self.agent_samples > 0 {
            out += &row("agent service (ms)", &self.agent_service);
            out += &row("agent adds (ms)", &self.agent_added);
        }
        out
    }
}

/// Runs `plan` against `terminals` (one [`TillOptions`] per terminal; till `i` uses terminal
/// `i % terminals.len()`). Sales of 1.00, 1.01, … so that every transaction differs.
pub async fn run(plan: &LoadPlan, terminals: &[TillOptions]) -> LoadReport {
    let tills = plan.tills.max(1);
    let agents = terminals.len();
    let mut report = LoadReport {
        tills,
        agents,
        transactions: 0,
        approved: 0,
        declined: 0,
        other: 0,
        wall_ms: 0,
        throughput_tps: 0.0,
        latency: Percentiles::default(),
        mode: if plan.rate.is_some() {
            "paced"
        } else {
            "closed"
        },
        rate_tps: plan.rate,
        latency_from_start: Percentiles::default(),
        start_lag: Percentiles::default(),
        agent_samples: 0,
        agent_service: Percentiles::default(),
        agent_added: Percentiles::default(),
        threads: 0,
    };
    if agents == 0 {
        return report;
    }
    let turns: Vec<Arc<tokio::sync::Mutex<()>>> = (0..agents)
        .map(|_| Arc::new(tokio::sync::Mutex::new(())))
        .collect();
    // Each till gets its sales (number, due time) from a queue: filled at once in closed loop
    // (no due time), by the pacer thread when paced.
    let mut queues = Vec::with_capacity(tills);
    let mut senders = Vec::with_capacity(tills);
    for _ in 0..tills {
        let (tx, rx) =
            tokio::sync::mpsc::unbounded_channel::<(usize, Option<std::time::Instant>)>();
        senders.push(tx);
        queues.push(rx);
    }
    let started = tokio::time::Instant::now();
    let pacer = match plan.rate {
        None => {
            for n in 0..plan.transactions {
                if let Some(tx) = senders.get(n % tills) {
                    let _ = tx.send((n, None));
                }
            }
            drop(senders);
            None
        }
        Some(rate) => {
            let total = plan.transactions;
            Some(std::thread::spawn(move || pace(rate, total, &senders)))
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut queue) in queues.into_iter().enumerate() {
        let till = Till::new(terminals[i % agents].clone());
        let turn = turns[i % agents].clone();
        let currency = plan.currency;
        tasks.spawn(async move {
            let mut out = Vec::new();
            while let Some((n, due)) = queue.recv().await {
                // 1.00, 1.01, … 10.99, then again; never .51 (a simulator's decline rule).
                let mut minor = 100 + (n as u64 % 1000);
                if minor % 100 == 51 {
                    minor += 1;
                }
                let Ok(amount) = Money::new(minor, currency) else {
                    continue;
                };
                let _guard = turn.lock().await;
                let t0 = std::time::Instant::now();
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
                let end = std::time::Instant::now();
                out.push(Sample {
                    from_due: due.map(|d| end.saturating_duration_since(d)),
                    from_start: end.saturating_duration_since(t0),
                    lag: due.map(|d| t0.saturating_duration_since(d)),
                    outcome,
                });
            }
            out
        });
    }
    let mut from_due = Vec::with_capacity(plan.transactions);
    let mut from_start = Vec::with_capacity(plan.transactions);
    let mut lags = Vec::with_capacity(plan.transactions);
    while let Some(joined) = tasks.join_next().await {
        for s in joined.unwrap_or_default() {
            from_start.push(s.from_start);
            from_due.push(s.from_due.unwrap_or(s.from_start));
            if let Some(lag) = s.lag {
                lags.push(lag);
            }
            match s.outcome {
                Outcome::Approved => report.approved += 1,
                Outcome::Declined { .. } | Outcome::Failed { .. } => report.declined += 1,
                _ => report.other += 1,
            }
        }
    }
    if let Some(p) = pacer {
        let _ = p.join();
    }
    let wall = started.elapsed();
    report.transactions = from_start.len();
    report.wall_ms = u64::try_from(wall.as_millis()).unwrap_or(u64::MAX);
    report.throughput_tps = if wall.is_zero() {
        0.0
    } else {
        report.transactions as f64 / wall.as_secs_f64()
    };
    report.latency = Percentiles::of(&mut from_due);
    report.latency_from_start = Percentiles::of(&mut from_start);
    report.start_lag = Percentiles::of(&mut lags);
    report
}

/// One sale as a till saw it.
struct Sample {
    /// Due time to answer (paced only).
    from_due: Option<Duration>,
    /// Connect to answer.
    from_start: Duration,
    /// Due time to the actual start (paced only).
    lag: Option<Duration>,
    outcome: Outcome,
}

/// When sale `k` of a run paced at `rate` sales per second is due, after the start.
pub fn due_offset(k: usize, rate: f64) -> Duration {
    Duration::from_secs_f64(k as f64 / rate)
}

/// The pacer: releases sale `k` to till `k mod tills` at its due time (the thread sleeps in
/// between, so the schedule is kept to the kernel's timer precision, not the runtime's 1 ms
/// timer tick). The queues are unbounded: a till that falls behind finds its backlog waiting,
/// each sale with its original due time.
fn pace(
    rate: f64,
    total: usize,
    senders: &[tokio::sync::mpsc::UnboundedSender<(usize, Option<std::time::Instant>)>],
) {
    // A little head start so every till is waiting when the first sale is due.
    let start = std::time::Instant::now() + Duration::from_millis(5);
    let tills = senders.len().max(1);
    for k in 0..total {
        let due = start + due_offset(k, rate);
        let now = std::time::Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        if let Some(tx) = senders.get(k % tills) {
            let _ = tx.send((k, Some(due)));
        }
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

    #[test]
    fn pacing_spreads_sales_evenly() {
        assert_eq!(due_offset(0, 1000.0), Duration::ZERO);
        assert_eq!(due_offset(1, 1000.0), Duration::from_millis(1));
        assert_eq!(due_offset(250, 500.0), Duration::from_millis(500));
        assert_eq!(due_offset(3, 0.5), Duration::from_secs(6));
    }

    #[test]
    fn rates_must_be_positive_and_finite() {
        assert_eq!(parse_rate("200"), Ok(200.0));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        for bad in ["0", "-3", "nan", "inf", "fast", "", "2000000"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}

/// Arguments of `load`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Starts a bank simulator and M agents (virtual terminals, card presented at once) in this
process on loopback ports, then runs K sales from N concurrent tills: till i uses agent i mod M,
and tills that share an agent take turns (a terminal serves one till at a time). Prints
throughput and latency percentiles (p50/p90/p99/max). No session log.

Closed loop (default): each till starts its next sale as soon as the previous one ends. This
measures the saturation throughput; latency is from connect to answer, and at saturation it is
mostly queueing (sales in flight / throughput), not protocol work.

Paced (--rate R): sale k is due at start + k/R, spread over the tills in turn, whether or not
the earlier ones are done (open loop). Latency is measured from the time a sale was due, so a
till that falls behind counts its backlog (no coordinated omission); `start lag` shows how late
sales started. Pick R below the closed-loop throughput, e.g. half of it.

The agents time every request themselves: `agent service` is from the read that completed the
request frame to the write that starts the answer; `agent adds` is that minus the time the
agent waited for the card reader and the bank link (both instant here but real round trips).

Examples:
  ecrlink-sim load --tills 10 --agents 10 --transactions 5000             # saturation
  ecrlink-sim load --tills 10 --agents 10 --transactions 5000 --rate 1000 # paced, 1000/s
  ecrlink-sim load --tills 100 --agents 100 --threads 2 --json            # two workers")]
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
    /// Pace the sales at this many per second in all (open loop; latency from the time each
    /// sale was due). Without it: closed loop, each till as fast as it can.
    #[arg(long, value_name = "TX_PER_S", value_parser = parse_rate, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Threads of the runtime that runs the bank, the agents and the tills: 1 (the default)
    /// runs everything on one thread (tokio's current-thread runtime, no hand-over between
    /// threads); more uses tokio's multi-thread runtime with that many workers.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub threads: u32,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Keep the in-process bank's ledger in FILE (JSON, as `ecrlink-sim bank --ledger`; read
    /// first if it exists): every authorization, reversal and settlement, to check afterwards
    /// that the bank holds exactly what the tills were told.
    #[arg(long, value_name = "FILE")]
    pub bank_ledger: Option<std::path::PathBuf>,
}

/// A rate: a finite number of sales per second, above 0 and at most 1 000 000.
fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of sales per second"))?;
    if !r.is_finite() || r <= 0.0 || r > 1_000_000.0 {
        return Err(format!(
            "{s:?}: the rate must be above 0 and at most 1000000 sales per second"
        ));
    }
    Ok(r)
}

/// Runs `load`; returns the exit status (0 when every transaction got an answer).
pub fn run_cli(args: &LoadArgs) -> i32 {
    let threads = args.threads as usize;
    let built = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let runtime = match built {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return 2;
        }
    };
    match runtime.block_on(run_world(args)) {
        Ok(mut report) => {
            report.threads = threads;
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
            // A --bank-ledger that cannot be used is a usage error, as for `bank --ledger`.
            let ledger = e
                .chain()
                .any(|c| c.downcast_ref::<crate::bank::LedgerFileError>().is_some());
            if ledger { 2 } else { 1 }
        }
    }
}

async fn run_world(args: &LoadArgs) -> anyhow::Result<LoadReport> {
    use ecrlink_core::session::Dialect;

    use crate::till::{Target, TillOptions};
    use crate::world::World;

    let dialect: Dialect = args.dialect.into();
    let agents = args.agents as usize;
    let world = World::start_with_bank(
        agents,
        &[dialect],
        Duration::ZERO,
        "en",
        None,
        args.bank_ledger.clone(),
        &|_| {},
    )
    .await?;
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
            Dialect::Zvt => Currency::EUR,
        },
        rate: args.rate,
    };
    for agent in &world.agents {
        agent.service_log().enable();
    }
    let mut report = run(&plan, &terminals).await;
    // An agent records a sample just after its answer leaves, so the last ones may still be
    // on their way when the tills are done: wait for them a little (answered = sampled).
    let answered = report.approved + report.declined + report.other;
    let waited_from = std::time::Instant::now();
    while world
        .agents
        .iter()
        .map(|a| a.service_log().len())
        .sum::<usize>()
        < answered
        && waited_from.elapsed() < Duration::from_secs(2)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let samples: Vec<ecrlink_agent::metrics::ServiceSample> = world
        .agents
        .iter()
        .flat_map(|a| a.service_log().take())
        .collect();
    report.agent_samples = samples.len();
    let mut service: Vec<Duration> = samples.iter().map(|s| s.service).collect();
    let mut added: Vec<Duration> = samples.iter().map(|s| s.added()).collect();
    report.agent_service = Percentiles::of(&mut service);
    report.agent_added = Percentiles::of(&mut added);
    world.shutdown().await;
    Ok(report)
}
