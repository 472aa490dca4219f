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

    println!();
    print!("{}", summary_table(&rows));
    world.shutdown().await;
    let ok = rows.iter().all(|r| r.as_expected);
    Ok(if ok { 0 } else { 1 })
}
