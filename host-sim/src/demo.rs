//! `demo`: a short shop day run by the till library against a terminal — terminal and bank
//! checks, sales, a decline, a cashback sale and its reversal, a refund and the close of
//! totals — printing each receipt and a summary table.

use std::fmt::Write as _;
use std::time::Duration;

use ecrlink_core::txn::{
    Amount, ApprovalCode, Currency, Money, Outcome, Reference, Request, RequestKind,
};

use crate::till::{Till, TillError, TillResult, describe_outcome};

/// What a step expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Approved / done.
    Approved,
    /// Declined by the bank.
    Declined,
}

/// One step of the day.
#[derive(Clone, Debug)]
pub struct Step {
    /// What the shop assistant does, in words.
    pub title: &'static str,
    /// The request; a reversal's code is filled in from the step it reverses.
    pub request: Request,
    /// Index of the step whose approval code this reversal needs.
    pub reverses: Option<usize>,
    /// What should happen.
    pub expect: Expect,
}

fn money(minor: u64, currency: Currency) -> Result<Money, TillError> {
    Ok(Money::new(minor, currency)?)
}

fn vs(text: &str) -> Result<Option<Reference>, TillError> {
    Ok(Some(Reference::new(text)?))
}

/// The day: amounts in `currency`. The decline uses an amount ending in .51, which the bank
/// simulator's default rules decline with code 51.
pub fn shop_day(currency: Currency) -> Result<Vec<Step>, TillError> {
    let cashback_total = money(15000, currency)?;
    Ok(vec![
        Step {
            title: "morning: is the terminal there?",
            request: Request::TestTerminal,
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: "morning: can it reach the bank?",
            request: Request::TestBank,
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: "coffee and a croissant",
            request: Request::Sale {
                amount: money(8990, currency)?,
                reference: vs("2026-0001")?,
            },
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: "weekly shopping",
            request: Request::Sale {
                amount: money(124900, currency)?,
                reference: vs("2026-0002")?,
            },
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: "a card without funds",
            request: Request::Sale {
                amount: money(32051, currency)?,
                reference: vs("2026-0003")?,
            },
            reverses: None,
            expect: Expect::Declined,
        },
        Step {
            title: "groceries with cash back",
            request: Request::sale_with_cashback(
                cashback_total,
                Amount::new(10000)?,
                vs("2026-0004")?,
            )?,
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: "wrong card: void the cash-back sale",
            request: Request::Reversal {
                amount: cashback_total,
                // Replaced by the approval code of step 6 when the day runs.
                code: ApprovalCode::new("0")?,
                reference: vs("2026-0004")?,
            },
            reverses: Some(5),
            expect: Expect::Approved,
        },
        Step {
            title: "a returned item",
            request: Request::Refund {
                amount: money(4500, currency)?,
                reference: vs("2026-0005")?,
            },
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: "evening: subtotals (nothing closed yet)",
            request: Request::Subtotals,
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: "evening: close totals",
            request: Request::CloseTotals,
            reverses: None,
            expect: Expect::Approved,
        },
    ])
}

/// One row of the summary.
#[derive(Clone, Debug)]
pub struct Row {
    /// Step title.
    pub title: &'static str,
    /// Command name.
    pub command: &'static str,
    /// The result.
    pub result: TillResult,
    /// Whether it went as expected.
    pub as_expected: bool,
}

/// Runs `steps` through `till`, writing a block per step (result and receipt) to `out` as it
/// goes. Returns the rows for [`summary_table`].
pub async fn run_day(
    till: &Till,
    steps: Vec<Step>,
    out: &mut dyn FnMut(&str),
) -> Result<Vec<Row>, TillError> {
    let total = steps.len();
    let mut rows: Vec<Row> = Vec::with_capacity(total);
    for (i, mut step) in steps.into_iter().enumerate() {
        if let (Some(j), Request::Reversal { code, .. }) = (step.reverses, &mut step.request) {
            if let Some(c) = rows
                .get(j)
                .and_then(|r| r.result.response.as_ref())
                .and_then(|r| r.approval_code.clone())
            {
                *code = c;
            }
        }
        let result = till.run(step.request.clone()).await?;
        let as_expected = match step.expect {
            Expect::Approved => result.outcome == Outcome::Approved,
            Expect::Declined => matches!(result.outcome, Outcome::Declined { .. }),
        };
        let mut block = String::new();
        let _ = writeln!(
            block,
            "[{}/{}] {} — {}",
            i + 1,
            total,
            step.title,
            crate::till::describe_request(&step.request)
        );
        let _ = writeln!(
            block,
            "      {}{}",
            result.message,
            if as_expected {
                ""
            } else {
                "   <-- NOT AS EXPECTED"
            }
        );
        if let Some(code) = result
            .response
            .as_ref()
            .and_then(|r| r.approval_code.as_ref())
        {
            let _ = writeln!(block, "      approval code {code}");
        }
        for part in &result.receipt {
            for line in part.lines() {
                let _ = writeln!(block, "      | {line}");
            }
        }
        out(&block);
        rows.push(Row {
            title: step.title,
            command: step.request.kind().name(),
            result,
            as_expected,
        });
    }
    Ok(rows)
}

/// The summary table of a day.
pub fn summary_table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>2}  {:<14} {:>14}  {:<14} {:<8} {:>7}  ok",
        "#", "command", "amount", "outcome", "approval", "ms"
    );
    for (i, r) in rows.iter().enumerate() {
        let amount = r
            .result
            .request
            .amount()
            .map(|m| m.to_string())
            .unwrap_or_default();
        let approval = r
            .result
            .response
            .as_ref()
            .and_then(|x| x.approval_code.as_ref())
            .map(|c| c.as_str().to_string())
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{:>2}  {:<14} {:>14}  {:<14} {:<8} {:>7}  {}",
            i + 1,
            r.command,
            amount,
            describe_outcome(&r.result.outcome),
            approval,
            r.result.elapsed.as_millis(),
            if r.as_expected { "yes" } else { "NO" }
        );
    }
    // Approved sales per currency, in the order the currencies first appear.
    let mut sums: Vec<(Currency, u64)> = Vec::new();
    for r in rows {
        let is_sale = matches!(
            r.result.kind(),
            RequestKind::Sale | RequestKind::SaleWithCashback
        );
        if let (true, Outcome::Approved, Some(m)) =
            (is_sale, &r.result.outcome, r.result.request.amount())
        {
            match sums.iter_mut().find(|(c, _)| *c == m.currency) {
                Some((_, sum)) => *sum += m.minor(),
                None => sums.push((m.currency, m.minor())),
            }
        }
    }
    if !sums.is_empty() {
        let parts: Vec<String> = sums
            .iter()
            .map(|(c, minor)| {
                let mut t = String::new();
                let _ = Money::fmt_decimal(*minor, *c, &mut t);
                format!("{t} {c}")
            })
            .collect();
        let _ = writeln!(
            s,
            "approved sales (before reversals and refunds): {}",
            parts.join(", ")
        );
    }
    let total: Duration = rows.iter().map(|r| r.result.elapsed).sum();
    let _ = writeln!(
        s,
        "{} steps, {} as expected, {:.2} s at the terminal",
        rows.len(),
        rows.iter().filter(|r| r.as_expected).count(),
        total.as_secs_f64()
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_is_well_formed() {
        let steps = shop_day(Currency::CZK).unwrap();
        assert_eq!(steps.len(), 10);
        let kinds: Vec<&str> = steps.iter().map(|s| s.request.kind().name()).collect();
        for k in [
            "sale",
            "cashback",
            "reversal",
            "refund",
            "test-terminal",
            "test-bank",
            "subtotals",
            "close-totals",
        ] {
            assert!(kinds.contains(&k), "{k}");
        }
        // The decline amount ends in .51; the reversal points at the cash-back sale, same amount.
        let decline = steps.iter().find(|s| s.expect == Expect::Declined).unwrap();
        assert_eq!(decline.request.amount().unwrap().minor() % 100, 51);
        let rev = steps.iter().find(|s| s.reverses.is_some()).unwrap();
        let target = &steps[rev.reverses.unwrap()];
        assert_eq!(target.request.kind(), RequestKind::SaleWithCashback);
        assert_eq!(rev.request.amount(), target.request.amount());
    }
}

/// Arguments of `demo`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Starts a bank simulator and a virtual terminal (ecrlink-agent) in this process on loopback
ports it picks, then runs a short shop day against them through the till library: terminal and
bank checks, sales, a decline, a cash-back sale and its reversal, a refund, subtotals and the
close of totals, in the ČSOB dialect with the receipts transferred to the till, plus one Concert sale.
No set-up, no network beyond loopback. Exit status 0 when every step ended as expected.")]
pub struct DemoArgs {
    /// Language of the result texts [default: from the locale, else en].
    #[arg(long, value_enum)]
    pub lang: Option<crate::i18n::Lang>,
    /// Folder of the session log [default: ~/PointOfSale].
    #[arg(long, value_name = "DIR", env = crate::log::LOG_DIR_ENV)]
    pub log_dir: Option<std::path::PathBuf>,
    /// Write no session log.
    #[arg(long)]
    pub no_log: bool,
}

/// Runs `demo`; returns the exit status.
pub fn run(args: &DemoArgs) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return 2;
        }
    };
    match runtime.block_on(run_async(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: demo failed: {e:#}");
            1
        }
    }
}

async fn run_async(args: &DemoArgs) -> anyhow::Result<i32> {
    use ecrlink_core::session::Dialect;

    use crate::till::{Target, TillOptions};
    use crate::world::World;

    let lang = args.lang.unwrap_or_else(crate::i18n::Lang::from_env);
    let log = if args.no_log {
        crate::log::SessionLog::disabled()
    } else {
        match args.log_dir.clone().or_else(crate::log::default_log_dir) {
            Some(dir) => crate::log::SessionLog::open(&dir).unwrap_or_else(|e| {
                eprintln!("warning: no session log in {}: {e}", dir.display());
                crate::log::SessionLog::disabled()
            }),
            None => crate::log::SessionLog::disabled(),
        }
    };
    let world = World::start(
        1,
        &[Dialect::Csob, Dialect::Concert],
        Duration::from_millis(80),
    )
    .await?;
    let csob = world
        .addr(0, Dialect::Csob)
        .ok_or_else(|| anyhow::anyhow!("agent has no ČSOB listener"))?;
    let concert = world
        .addr(0, Dialect::Concert)
        .ok_or_else(|| anyhow::anyhow!("agent has no Concert listener"))?;
    println!("ecrlink demo: a shop day on one machine");
    println!("  bank simulator (ISO 8583)   {}", world.bank.addr());
    println!("  terminal (ecrlink-agent)    ČSOB {csob}, Concert {concert}");
    println!(
        "  bank link                   every message MACed (field 64/128, HMAC-SHA-256 \
         truncated to 8 bytes: a test scheme), key {} (mode 600, made for this run)",
        world.mac_key_file.display()
    );
    if let Some(p) = log.path() {
        println!("  session log                 {}", p.display());
    }
    println!();

    let options = |addr: std::net::SocketAddr, dialect: Dialect| {
        let mut o = TillOptions::new(
            Target::Tcp {
                address: addr.to_string(),
            },
            dialect,
        );
        o.timeout = Duration::from_secs(10);
        o.lang = lang;
        o.log = log.clone();
        o.terminal_id = Some(world.terminal_id(0));
        o.alias = Some(format!("demo-{}", dialect.name()));
        o
    };
    let mut csob_opts = options(csob, Dialect::Csob);
    csob_opts.receipt = true;
    let till = Till::new(csob_opts);
    let mut print = |block: &str| print!("{block}");
    let mut rows = run_day(&till, shop_day(Currency::CZK)?, &mut print).await?;

    // One sale from a till that speaks Concert; its receipt is the terminal's printout.
    let concert_till = Till::new(options(concert, Dialect::Concert));
    let eur = Money::new(1250, Currency::EUR)?;
    let mut more = run_day(
        &concert_till,
        vec![Step {
            title: "a tourist pays in euros (Concert till)",
            request: Request::Sale {
                amount: eur,
                reference: vs("FR-0001")?,
            },
            reverses: None,
            expect: Expect::Approved,
        }],
        &mut print,
    )
    .await?;
    if let Some(receipt) = world.agents.first().and_then(|a| a.last_receipt()) {
        for line in receipt.lines() {
            println!("      | {line}");
        }
    }
    rows.append(&mut more);

    let tamper_ok = man_in_the_middle(&world, lang).await?;

    println!();
    print!("{}", summary_table(&rows));
    world.shutdown().await;
    let ok = rows.iter().all(|r| r.as_expected) && tamper_ok;
    Ok(if ok { 0 } else { 1 })
}

/// Terminal id of the second terminal the man in the middle sits in front of.
const MITM_TERMINAL_ID: &str = "ECRLINK9";

/// The attack of issue 19, shown: a second terminal whose bank link runs through a relay that
/// rewrites the bank's 51 decline into 00. The MAC fails, the answer counts as no answer, the
/// till is told "bank unavailable" and the terminal reverses. True when it went so.
async fn man_in_the_middle(
    world: &crate::world::World,
    lang: crate::i18n::Lang,
) -> anyhow::Result<bool> {
    use ecrlink_agent::config::{DialectChoice, Endpoint, ListenSpec};
    use ecrlink_core::session::Dialect;

    use crate::till::{Target, TillOptions};

    let mut find = b"51".to_vec();
    find.extend_from_slice(MITM_TERMINAL_ID.as_bytes());
    let (relay, changed) = tampering_relay(world.bank.addr(), find, b"00".to_vec()).await?;
    let agent = ecrlink_agent::Agent::start(ecrlink_agent::Config {
        listen: vec![ListenSpec {
            dialect: DialectChoice::Fixed(Dialect::Csob),
            endpoint: Endpoint::Tcp("127.0.0.1:0".into()),
        }],
        bank: Some(relay.to_string()),
        card_delay: Duration::from_millis(80),
        terminal_id: MITM_TERMINAL_ID.into(),
        bank_mac_key: Some(world.mac_key_file.clone()),
        ..ecrlink_agent::Config::default()
    })
    .await?;
    let addr = agent
        .tcp_addrs()
        .first()
        .copied()
        .ok_or_else(|| anyhow::anyhow!("second terminal has no listener"))?;
    let mut o = TillOptions::new(
        Target::Tcp {
            address: addr.to_string(),
        },
        Dialect::Csob,
    );
    o.timeout = Duration::from_secs(20);
    o.lang = lang;
    o.terminal_id = Some(MITM_TERMINAL_ID.into());
    let request = Request::Sale {
        amount: money(1251, Currency::CZK)?,
        reference: vs("2026-0099")?,
    };
    println!();
    println!(
        "[mitm] a man in the middle rewrites the bank's answers to terminal {MITM_TERMINAL_ID} \
         (relay {relay}: 51 becomes 00) — {}",
        crate::till::describe_request(&request)
    );
    let result = Till::new(o).run(request).await?;
    // The reversal the terminal owes goes out at once; give it a moment to be recorded.
    let mut auth = None;
    for _ in 0..100 {
        auth = world
            .bank
            .ledger()
            .auths
            .into_iter()
            .find(|a| a.terminal == MITM_TERMINAL_ID);
        if auth.as_ref().is_some_and(|a| a.reversal_messages > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = agent.shutdown().await;
    let as_expected = result.outcome == Outcome::BankUnavailable;
    println!(
        "      {}{}",
        result.message,
        if as_expected {
            ""
        } else {
            "   <-- NOT AS EXPECTED"
        }
    );
    println!(
        "      the relay changed {} answer(s); the terminal found the MAC wrong and took it as no answer",
        changed.load(std::sync::atomic::Ordering::SeqCst)
    );
    match auth {
        Some(a) => println!(
            "      the bank holds: {:?}, response {}, {} reversal message(s) from the terminal",
            a.state, a.code, a.reversal_messages
        ),
        None => println!("      the bank holds nothing for {MITM_TERMINAL_ID}"),
    }
    Ok(as_expected)
}

/// A relay in front of `bank` that replaces the first bytes of `find` with `replace` in
/// whatever the bank sends (good enough for a demo on loopback, where a small message comes in
/// one read). Returns its address and how many times it changed something.
async fn tampering_relay(
    bank: std::net::SocketAddr,
    find: Vec<u8>,
    replace: Vec<u8>,
) -> anyhow::Result<(
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
)> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let changed = std::sync::Arc::new(AtomicUsize::new(0));
    let count = changed.clone();
    tokio::spawn(async move {
        while let Ok((agent, _)) = listener.accept().await {
            let Ok(up) = tokio::net::TcpStream::connect(bank).await else {
                continue;
            };
            let (find, replace, count) = (find.clone(), replace.clone(), count.clone());
            tokio::spawn(async move {
                let (mut ar, mut aw) = agent.into_split();
                let (mut br, mut bw) = up.into_split();
                let upward = tokio::io::copy(&mut ar, &mut bw);
                let downward = async {
                    let mut buf = vec![0u8; 4096];
                    loop {
                        let n = match br.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let chunk = &mut buf[..n];
                        if let Some(i) = chunk.windows(find.len()).position(|w| w == find) {
                            if let Some(dst) = chunk.get_mut(i..i + replace.len()) {
                                dst.copy_from_slice(&replace);
                                count.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        if aw.write_all(chunk).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::select! {
                    _ = upward => {}
                    _ = downward => {}
                }
            });
        }
    });
    Ok((addr, changed))
}
