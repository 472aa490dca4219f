//! `demo`: a short shop day run by the till library against a terminal — terminal and bank
//! checks, sales, a decline, a cashback sale and its reversal, a refund and the close of
//! totals — printing each receipt and a summary table; then the protections of issue 19 at
//! work: refunds another till asks for refused without the merchant PIN, the amount limits
//! per sale and per day, and a man in the middle on the bank link caught by the MAC.

use std::fmt::Write as _;
use std::time::Duration;

use ecrlink_core::txn::{
    Amount, ApprovalCode, Currency, Money, Outcome, Reference, Request, RequestKind,
};

use crate::i18n::{Lang, pick};
use crate::till::{Till, TillError, TillResult};

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
pub fn shop_day(currency: Currency, lang: Lang) -> Result<Vec<Step>, TillError> {
    let t = |cs, en, fr| pick(lang, cs, en, fr);
    let cashback_total = money(15000, currency)?;
    Ok(vec![
        Step {
            title: t(
                "ráno: je terminál na místě?",
                "morning: is the terminal there?",
                "le matin : le terminal est-il là ?",
            ),
            request: Request::TestTerminal,
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: t(
                "ráno: spojí se s bankou?",
                "morning: can it reach the bank?",
                "le matin : joint-il la banque ?",
            ),
            request: Request::TestBank,
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: t(
                "káva a croissant",
                "coffee and a croissant",
                "un café et un croissant",
            ),
            request: Request::Sale {
                amount: money(8990, currency)?,
                reference: vs("2026-0001")?,
            },
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: t(
                "týdenní nákup",
                "weekly shopping",
                "les courses de la semaine",
            ),
            request: Request::Sale {
                amount: money(124900, currency)?,
                reference: vs("2026-0002")?,
            },
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: t(
                "karta bez prostředků",
                "a card without funds",
                "une carte sans provision",
            ),
            request: Request::Sale {
                amount: money(32051, currency)?,
                reference: vs("2026-0003")?,
            },
            reverses: None,
            expect: Expect::Declined,
        },
        Step {
            title: t(
                "nákup s výběrem hotovosti",
                "groceries with cash back",
                "des courses avec retrait d'espèces",
            ),
            request: Request::sale_with_cashback(
                cashback_total,
                Amount::new(10000)?,
                vs("2026-0004")?,
            )?,
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: t(
                "špatná karta: storno nákupu s výběrem",
                "wrong card: void the cash-back sale",
                "mauvaise carte : annuler l'achat avec retrait",
            ),
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
            title: t("vrácené zboží", "a returned item", "un article rendu"),
            request: Request::Refund {
                amount: money(4500, currency)?,
                reference: vs("2026-0005")?,
            },
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: t(
                "večer: mezisoučty (nic se neuzavírá)",
                "evening: subtotals (nothing closed yet)",
                "le soir : sous-totaux (rien n'est clôturé)",
            ),
            request: Request::Subtotals,
            reverses: None,
            expect: Expect::Approved,
        },
        Step {
            title: t(
                "večer: uzávěrka",
                "evening: close totals",
                "le soir : clôture",
            ),
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
/// Steps are numbered from `first` (1 for the first) out of `total`, so that several runs read
/// as one day.
pub async fn run_day(
    till: &Till,
    steps: Vec<Step>,
    first: usize,
    total: usize,
    out: &mut dyn FnMut(&str),
) -> Result<Vec<Row>, TillError> {
    let lang = till.options().lang;
    let mut rows: Vec<Row> = Vec::with_capacity(steps.len());
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
            first + i,
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
                pick(
                    lang,
                    "   <-- NEČEKANÝ VÝSLEDEK",
                    "   <-- NOT AS EXPECTED",
                    "   <-- RÉSULTAT INATTENDU",
                )
            }
        );
        if let Some(code) = result
            .response
            .as_ref()
            .and_then(|r| r.approval_code.as_ref())
        {
            let _ = writeln!(
                block,
                "      {} {code}",
                pick(
                    lang,
                    "autorizační kód",
                    "approval code",
                    "code d'autorisation"
                )
            );
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

/// The summary table of a day. The last column says whether each step ended as the day's
/// script planned (a decline is planned too): "as planned" or "UNEXPECTED".
pub fn summary_table(rows: &[Row], lang: Lang) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>2}  {:<14} {:>14}  {:<14} {:<8} {:>7}  {}",
        "#",
        pick(lang, "příkaz", "command", "commande"),
        pick(lang, "částka", "amount", "montant"),
        pick(lang, "výsledek", "outcome", "résultat"),
        pick(lang, "autor.", "approval", "autor."),
        "ms",
        pick(lang, "podle plánu?", "as planned?", "comme prévu ?")
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
            {
                let word = crate::i18n::outcome_word(lang, &r.result.outcome);
                match &r.result.codes.bank_code {
                    Some(code) => format!("{word} {code}"),
                    None => word.to_string(),
                }
            },
            approval,
            r.result.elapsed.as_millis(),
            if r.as_expected {
                pick(lang, "ano", "as planned", "oui")
            } else {
                pick(lang, "NEČEKANÉ", "UNEXPECTED", "INATTENDU")
            }
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
            "{}: {}",
            pick(
                lang,
                "schválené platby (před storny a vráceními)",
                "approved sales (before reversals and refunds)",
                "paiements acceptés (avant annulations et remboursements)"
            ),
            parts.join(", ")
        );
    }
    let total: Duration = rows.iter().map(|r| r.result.elapsed).sum();
    let _ = writeln!(
        s,
        "{}",
        pick(
            lang,
            "{n} kroků, {ok} podle plánu, {secs} s u terminálu",
            "{n} steps, {ok} as planned, {secs} s at the terminal",
            "{n} étapes, {ok} comme prévu, {secs} s au terminal"
        )
        .replace("{n}", &rows.len().to_string())
        .replace(
            "{ok}",
            &rows.iter().filter(|r| r.as_expected).count().to_string()
        )
        .replace("{secs}", &format!("{:.2}", total.as_secs_f64()))
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_is_well_formed() {
        let steps = shop_day(Currency::CZK, Lang::En).unwrap();
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
No set-up, no network beyond loopback. Exit status 0 when every step ended as expected.

With --ui HOST:PORT it runs no scripted day: it starts the bank and --terminals virtual
terminals and serves them on one web page (open the address it prints): each terminal's screen
live, and the customer's part played by you (present a test card, a wrong PIN, a card the bank
declines, do nothing, cancel, sleep, a slow or offline bank link). Start sales from another
shell with the till commands it prints; a refund, a reversal or closing the totals asks the
merchant PIN on the page (4711 in this demo). Ctrl-C stops.
  ecrlink-sim demo --ui 127.0.0.1:8080 --terminals 2")]
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
    /// Serve the terminals as a web page on this address instead of running the scripted day
    /// (see below). A non-loopback address requires a token (--ui-token, or one is generated).
    #[arg(long, value_name = "HOST:PORT")]
    pub ui: Option<std::net::SocketAddr>,
    /// The token the page's requests must carry (at least 16 letters, digits, - or _).
    #[arg(long, value_name = "TOKEN", requires = "ui")]
    pub ui_token: Option<String>,
    /// With --ui: how many terminals (agents), 1 to 8.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "ui",
          value_parser = clap::value_parser!(u8).range(1..=8))]
    pub terminals: u8,
}

/// Runs `demo`; returns the exit status.
pub fn run(args: &DemoArgs) -> i32 {
    let ui = match args.ui {
        Some(addr) => match ecrlink_agent::ui::UiConfig::resolve(addr, args.ui_token.clone()) {
            Ok(u) => Some(u),
            Err(e) => {
                eprintln!("error: {e:#}");
                return 2;
            }
        },
        None => None,
    };
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
    let run = async {
        match &ui {
            Some(u) => run_ui(args, u).await,
            None => run_async(args).await,
        }
    };
    match runtime.block_on(run) {
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
    // The merchant PIN, typed on the terminal by the cards script: right for the day's
    // reversal, refund and close, then a cancel and a wrong guess for the intruder below.
    let merchant = tempfile::Builder::new().prefix("ecrlink-demo").tempdir()?;
    let cards = merchant.path().join("cards.toml");
    let mut script = String::new();
    for pin in [DEMO_PIN, DEMO_PIN, DEMO_PIN] {
        script.push_str(&format!("[[merchant]]\npin = \"{pin}\"\n"));
    }
    script.push_str("[[merchant]]\ncancel = true\n[[merchant]]\npin = \"1234\"\n");
    std::fs::write(&cards, script)?;
    let mut salt = [0u8; 16];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut salt)?;
    let pin_hash = ecrlink_core::terminal::PinHash::derive(DEMO_PIN.as_bytes(), &salt, 1000);
    let configure = move |cfg: &mut ecrlink_agent::Config| {
        cfg.policy.merchant_pin = Some(pin_hash);
        cfg.policy.max_refund_day = Some(DEMO_REFUND_DAY);
        cfg.cards = Some(cards.clone());
    };
    let world = World::start_with_bank(
        1,
        &[Dialect::Csob, Dialect::Concert],
        Duration::from_millis(80),
        lang.code(),
        None,
        None,
        &configure,
    )
    .await?;
    let csob = world
        .addr(0, Dialect::Csob)
        .ok_or_else(|| anyhow::anyhow!("agent has no ČSOB listener"))?;
    let concert = world
        .addr(0, Dialect::Concert)
        .ok_or_else(|| anyhow::anyhow!("agent has no Concert listener"))?;
    let t = |cs, en, fr| pick(lang, cs, en, fr);
    println!(
        "{}",
        t(
            "ecrlink demo: obchodní den na jednom počítači",
            "ecrlink demo: a shop day on one machine",
            "démo ecrlink : une journée de magasin sur une machine"
        )
    );
    let label = |cs, en, fr| format!("{:<27} ", t(cs, en, fr));
    println!(
        "  {}{}",
        label(
            "simulátor banky (ISO 8583)",
            "bank simulator (ISO 8583)",
            "simulateur de banque (ISO 8583)"
        ),
        world.bank.addr()
    );
    println!(
        "  {}ČSOB {csob}, Concert {concert}",
        label(
            "terminál (ecrlink-agent)",
            "terminal (ecrlink-agent)",
            "terminal (ecrlink-agent)"
        )
    );
    println!(
        "  {}{}",
        label("bankovní linka", "bank link", "liaison banque"),
        t(
            "každá zpráva s MAC (pole 64/128, HMAC-SHA-256 zkrácený na 8 bajtů: testovací \
             schéma), klíč {key} (práva 600, vytvořen pro tento běh)",
            "every message MACed (field 64/128, HMAC-SHA-256 truncated to 8 bytes: a test \
             scheme), key {key} (mode 600, made for this run)",
            "chaque message avec MAC (champ 64/128, HMAC-SHA-256 tronqué à 8 octets : un schéma \
             de test), clé {key} (mode 600, créée pour cette exécution)"
        )
        .replace("{key}", &world.mac_key_file.display().to_string())
    );
    println!(
        "  {}refund, reversal and close totals need the merchant PIN typed on the terminal \
         (here {DEMO_PIN}, typed by the script; stored as a salted PBKDF2 hash); 3 wrong tries \
         lock the operation for 5 minutes; at most 100 000.00 a sale, {} CZK of refunds a day",
        label(
            "kdo smí hýbat penězi",
            "who may move money",
            "qui peut bouger l'argent"
        ),
        DEMO_REFUND_DAY / 100
    );
    if let Some(p) = log.path() {
        println!(
            "  {}{}",
            label("záznam relace", "session log", "journal de session"),
            p.display()
        );
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
    let day = shop_day(Currency::CZK, lang)?;
    // The Concert sale below is the day's last step.
    let total = day.len() + 1;
    let mut rows = run_day(&till, day, 1, total, &mut print).await?;

    // One sale from a till that speaks Concert; its receipt is the terminal's printout.
    let concert_till = Till::new(options(concert, Dialect::Concert));
    let eur = Money::new(1250, Currency::EUR)?;
    let mut more = run_day(
        &concert_till,
        vec![Step {
            title: t(
                "turista platí v eurech (pokladna Concert)",
                "a tourist pays in euros (Concert till)",
                "un touriste paie en euros (caisse Concert)",
            ),
            request: Request::Sale {
                amount: eur,
                reference: vs("FR-0001")?,
            },
            reverses: None,
            expect: Expect::Approved,
        }],
        total,
        total,
        &mut print,
    )
    .await?;
    // The merchant copy, as the ČSOB steps show (Concert does not transfer receipts: this is
    // the terminal's own printout).
    if let Some(receipt) = world.agents.first().and_then(|a| a.last_merchant_receipt()) {
        for line in receipt.lines() {
            println!("      | {line}");
        }
    }
    rows.append(&mut more);

    let guard_ok = protections(&till, &world, lang).await?;
    let owner_ok = abort_ownership(&world, lang).await?;
    let tls_ok = tls_bank_link(&world, lang).await?;
    let allow_ok = allow_list(&world, lang).await?;
    let tamper_ok = man_in_the_middle(&world, lang).await?;

    println!();
    print!("{}", summary_table(&rows, lang));
    world.shutdown().await;
    let ok = rows.iter().all(|r| r.as_expected)
        && tamper_ok
        && guard_ok
        && owner_ok
        && tls_ok
        && allow_ok;
    Ok(if ok { 0 } else { 1 })
}

/// The bank rules of `demo --ui`: each of the page's decline test cards declined with its
/// code (the same rules as `docs/ui-bank-rules.toml`), and an amount ending in .51 with 51.
pub fn ui_bank_rules() -> anyhow::Result<crate::bank::Rules> {
    let mut text = String::new();
    for (code, pan) in ecrlink_agent::card::DECLINE_TEST_PANS {
        let _ = writeln!(text, "[[rule]]\npan = \"{pan}\"\ncode = \"{code}\"\n");
    }
    text.push_str("[[rule]]\nmti = \"0200\"\namount_ends_with = \"51\"\ncode = \"51\"\n");
    crate::bank::Rules::parse(&text)
}

/// `demo --ui`: the bank and the terminals on one web page, until Ctrl-C or SIGTERM.
async fn run_ui(args: &DemoArgs, ui: &ecrlink_agent::ui::UiConfig) -> anyhow::Result<i32> {
    use ecrlink_core::session::Dialect;
    use tokio::signal::unix::{SignalKind, signal};

    use crate::world::World;

    let lang = args.lang.unwrap_or_else(crate::i18n::Lang::from_env);
    let mut term = signal(SignalKind::terminate())?;
    // The merchant PIN the page asks before a refund, a reversal or closing the totals.
    let mut salt = [0u8; 16];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut salt)?;
    let pin_hash = ecrlink_core::terminal::PinHash::derive(DEMO_PIN.as_bytes(), &salt, 1000);
    let configure = move |cfg: &mut ecrlink_agent::Config| {
        cfg.policy.merchant_pin = Some(pin_hash);
    };
    let world = World::start_with_bank(
        usize::from(args.terminals),
        &[Dialect::Csob, Dialect::Concert],
        Duration::from_millis(80),
        lang.code(),
        Some(ui_bank_rules()?),
        None,
        &configure,
    )
    .await?;
    let controls: Vec<_> = (0..world.agents.len())
        .map(|i| {
            let c = world.agents[i].ui_controls(&world.terminal_id(i));
            // The tester at the page plays the customer: no card comes by itself.
            c.desk().set_tester_decides(true);
            c
        })
        .collect();
    let page = ecrlink_agent::ui::serve(ui, controls).await?;
    println!("ecrlink demo --ui: the terminals in a web page; you play the customer");
    println!("  bank simulator (ISO 8583)   {}", world.bank.addr());
    for i in 0..world.agents.len() {
        let tid = world.terminal_id(i);
        for d in [Dialect::Csob, Dialect::Concert] {
            if let Some(a) = world.addr(i, d) {
                println!("LISTEN {} {a}", d.name());
                if d == Dialect::Csob {
                    println!(
                        "  terminal {tid}: ecrlink-sim sale --amount 12.50 --currency EUR \
                         --terminal {a} --dialect csob"
                    );
                }
            }
        }
    }
    println!("UI {}", page.url);
    println!(
        "  open it in a browser, start a sale with a command above, present a card; Ctrl-C stops"
    );
    println!(
        "  a refund (ecrlink-sim refund ...), reversal or close asks the merchant PIN on the \
         page: it is {DEMO_PIN}"
    );
    println!("READY");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    page.stop();
    world.shutdown().await;
    Ok(0)
}

/// The demo's merchant PIN.
const DEMO_PIN: &str = "4711";
/// The demo's limit of refunds per day, in CZK minor units.
const DEMO_REFUND_DAY: u64 = 50_000;

/// Issue 19, shown: what another till on the network can no longer do. Each attempt must be
/// refused with its reason, nothing reaching the bank. True when all were.
async fn protections(till: &Till, world: &crate::world::World, lang: Lang) -> anyhow::Result<bool> {
    let t = |cs, en, fr| pick(lang, cs, en, fr);
    let attempts = [
        (
            t(
                "jiná pokladna žádá vrácení peněz; obchodník o ně nežádal a na terminálu je zruší",
                "another till asks a refund; the merchant did not, and cancels at the terminal",
                "une autre caisse demande un remboursement ; le commerçant ne l'a pas demandé et l'annule sur le terminal",
            ),
            Request::Refund {
                amount: money(45_000, Currency::CZK)?,
                reference: None,
            },
            "not confirmed by the merchant",
        ),
        (
            t(
                "znovu, a někdo u terminálu hádá PIN obchodníka: 1234",
                "again, and someone at the terminal guesses the merchant PIN: 1234",
                "encore, et quelqu'un au terminal devine le code du commerçant : 1234",
            ),
            Request::Refund {
                amount: money(45_000, Currency::CZK)?,
                reference: None,
            },
            "wrong merchant PIN",
        ),
        (
            t(
                "prodej nad limit terminálu 100 000.00",
                "a sale above the terminal's limit of 100 000.00",
                "une vente au-delà de la limite du terminal de 100 000.00",
            ),
            Request::Sale {
                amount: money(15_000_000, Currency::CZK)?,
                reference: None,
            },
            "amount over the terminal's limit",
        ),
        (
            t(
                "vrácení 480.00 obchodníkem: dnes vráceno 45.00, nejvýš 500.00 za den",
                "the merchant's refund of 480.00: 45.00 refunded today, 500.00 a day at most",
                "remboursement de 480.00 par le commerçant : 45.00 remboursés aujourd'hui, 500.00 par jour au plus",
            ),
            Request::Refund {
                amount: money(48_000, Currency::CZK)?,
                reference: None,
            },
            "amount over the terminal's daily limit",
        ),
    ];
    println!();
    let mut all = true;
    for (title, request, reason) in attempts {
        println!(
            "[guard] {title} — {}",
            crate::till::describe_request(&request)
        );
        let messages = world.bank.ledger().messages;
        let result = till.run(request).await?;
        let untouched = world.bank.ledger().messages == messages;
        let said = result
            .response
            .as_ref()
            .and_then(|r| r.text.as_deref())
            .unwrap_or_default()
            .to_string();
        let ok = result.outcome != Outcome::Approved && said == reason && untouched;
        all &= ok;
        println!(
            "      {}{}",
            result.message,
            if ok { "" } else { "   <-- NOT AS EXPECTED" }
        );
        if ok {
            println!(
                "      {}",
                t(
                    "terminál odmítl ({reason}); banka nedostala žádnou zprávu",
                    "refused by the terminal ({reason}); the bank saw no message",
                    "refusé par le terminal ({reason}) ; la banque n'a reçu aucun message",
                )
                .replace("{reason}", reason)
            );
        }
    }
    Ok(all)
}

/// A terminal of its own for one of the demo's security scenes: a ČSOB agent with terminal id
/// `id` on a loopback port, whose bank link MACs under the demo's key, with `config` applied
/// last (its bank address, card delay, allow-list, TLS). Returns it and the options of a till
/// that talks to it in `lang`.
async fn scene_terminal(
    world: &crate::world::World,
    id: &str,
    lang: Lang,
    config: ecrlink_agent::Config,
) -> anyhow::Result<(ecrlink_agent::AgentHandle, crate::till::TillOptions)> {
    use ecrlink_agent::config::{DialectChoice, Endpoint, ListenSpec};
    use ecrlink_core::session::Dialect;

    use crate::till::{Target, TillOptions};

    let agent = ecrlink_agent::Agent::start(ecrlink_agent::Config {
        listen: vec![ListenSpec {
            dialect: DialectChoice::Fixed(Dialect::Csob),
            endpoint: Endpoint::Tcp("127.0.0.1:0".into()),
        }],
        terminal_id: id.into(),
        bank_mac_key: Some(world.mac_key_file.clone()),
        ..config
    })
    .await?;
    let addr = agent
        .tcp_addrs()
        .first()
        .copied()
        .ok_or_else(|| anyhow::anyhow!("terminal {id} has no listener"))?;
    let mut o = TillOptions::new(
        Target::Tcp {
            address: addr.to_string(),
        },
        Dialect::Csob,
    );
    o.timeout = Duration::from_secs(20);
    o.terminal_id = Some(id.into());
    o.lang = lang;
    Ok((agent, o))
}

/// Terminal id of the terminal that admits one till address only.
const ALLOW_TERMINAL_ID: &str = "ECRLINK6";

/// Issue 19, shown: the till address allow-list. A terminal admits tills from 127.0.0.1
/// only; a till connecting from 127.0.0.2 (another loopback address, as another machine
/// would be) is dropped before it can ask anything, and the till from 127.0.0.1 is served.
/// True when both went so.
async fn allow_list(world: &crate::world::World, lang: Lang) -> anyhow::Result<bool> {
    use tokio::io::AsyncReadExt;

    let t = |cs, en, fr| pick(lang, cs, en, fr);
    let (agent, till_options) = scene_terminal(
        world,
        ALLOW_TERMINAL_ID,
        lang,
        ecrlink_agent::Config {
            bank: Some(world.bank.addr().to_string()),
            allow: vec!["127.0.0.1/32".parse()?],
            card_delay: Duration::from_millis(80),
            ..ecrlink_agent::Config::default()
        },
    )
    .await?;
    let addr = agent
        .tcp_addrs()
        .first()
        .copied()
        .ok_or_else(|| anyhow::anyhow!("the terminal has no listener"))?;
    println!();
    println!(
        "[guard] {}",
        t(
            "terminál {id} přijímá pokladny jen z 127.0.0.1 (--allow 127.0.0.1/32)",
            "terminal {id} admits tills from 127.0.0.1 only (--allow 127.0.0.1/32)",
            "le terminal {id} n'admet que les caisses de 127.0.0.1 (--allow 127.0.0.1/32)",
        )
        .replace("{id}", ALLOW_TERMINAL_ID)
    );
    // A stranger: a connection from 127.0.0.2 must be closed before it can ask anything.
    let stranger = async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind("127.0.0.2:0".parse()?)?;
        let mut stream = socket.connect(addr).await?;
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
        anyhow::Ok(matches!(read, Ok(Ok(0)) | Ok(Err(_))))
    };
    let dropped = match stranger.await {
        Ok(dropped) => dropped,
        Err(e) => {
            println!("      127.0.0.2: {e}");
            false
        }
    };
    println!(
        "      {}{}",
        t(
            "pokladna z 127.0.0.2: terminál spojení hned zavřel",
            "a till from 127.0.0.2: the terminal closed the connection at once",
            "une caisse de 127.0.0.2 : le terminal a fermé la connexion aussitôt",
        ),
        if dropped {
            ""
        } else {
            "   <-- NOT AS EXPECTED"
        }
    );
    let result = Till::new(till_options)
        .run(Request::Sale {
            amount: money(550, Currency::CZK)?,
            reference: None,
        })
        .await?;
    let _ = agent.shutdown().await;
    let served = result.outcome == Outcome::Approved;
    println!(
        "      {} {}{}",
        t(
            "pokladna obchodu z 127.0.0.1:",
            "the shop's till from 127.0.0.1:",
            "la caisse du magasin, de 127.0.0.1 :",
        ),
        result.message,
        if served { "" } else { "   <-- NOT AS EXPECTED" }
    );
    Ok(dropped && served)
}

/// Terminal id of the terminal that reaches the bank over TLS.
const TLS_TERMINAL_ID: &str = "ECRLINK7";

/// Issue 19, shown: the bank link over TLS 1.3 with the bank's certificate checked. A bank
/// simulator serves TLS with a certificate for `bank.test` from a certificate authority made
/// for this run; a terminal that trusts that authority is approved, and one that expects
/// another name refuses the link (its sale is "bank unavailable", nothing reaches the bank).
/// True when both went so.
async fn tls_bank_link(world: &crate::world::World, lang: Lang) -> anyhow::Result<bool> {
    use anyhow::Context as _;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    use crate::bank::{BankConfig, BankSim};

    let t = |cs, en, fr| pick(lang, cs, en, fr);
    let dir = tempfile::Builder::new()
        .prefix("ecrlink-demo-tls")
        .tempdir()
        .context("a directory for the demo's certificates")?;
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key)?;
    let bank_key = KeyPair::generate()?;
    let bank_cert = CertificateParams::new(vec!["bank.test".to_string()])?
        .signed_by(&bank_key, &ca, &ca_key)?;
    let (ca_pem, cert_pem, key_pem) = (
        dir.path().join("ca.pem"),
        dir.path().join("bank.pem"),
        dir.path().join("bank.key"),
    );
    std::fs::write(&ca_pem, ca.pem())?;
    std::fs::write(&cert_pem, bank_cert.pem())?;
    std::fs::write(&key_pem, bank_key.serialize_pem())?;
    let bank = BankSim::start(BankConfig {
        tls: Some(crate::bank::tls_config(&cert_pem, &key_pem, None)?),
        mac_key: Some(ecrlink_agent::bank::key::load_mac_key(&world.mac_key_file)?),
        ..BankConfig::default()
    })
    .await?;
    println!();
    println!(
        "[tls] {}",
        t(
            "banka přes TLS 1.3 ({addr}, certifikát pro bank.test od autority tohoto běhu)",
            "the bank over TLS 1.3 ({addr}, a certificate for bank.test from this run's authority)",
            "la banque en TLS 1.3 ({addr}, un certificat pour bank.test de l'autorité de cette exécution)",
        )
        .replace("{addr}", &bank.addr().to_string())
    );
    let mut all = true;
    for (name, expect_ok) in [("bank.test", true), ("other-bank.test", false)] {
        let (agent, o) = scene_terminal(
            world,
            TLS_TERMINAL_ID,
            lang,
            ecrlink_agent::Config {
                bank: Some(bank.addr().to_string()),
                bank_tls_ca: Some(ca_pem.clone()),
                bank_tls_name: Some(name.into()),
                card_delay: Duration::from_millis(80),
                ..ecrlink_agent::Config::default()
            },
        )
        .await?;
        let messages = bank.ledger().messages;
        let result = Till::new(o)
            .run(Request::Sale {
                amount: money(990, Currency::CZK)?,
                reference: None,
            })
            .await?;
        let reached = bank.ledger().messages > messages;
        let _ = agent.shutdown().await;
        let ok = if expect_ok {
            result.outcome == Outcome::Approved && reached
        } else {
            result.outcome == Outcome::BankUnavailable && !reached
        };
        all &= ok;
        println!(
            "      {} {name}: {}{}",
            t(
                "terminál očekává jméno",
                "a terminal that expects the name",
                "un terminal qui attend le nom",
            ),
            result.message,
            if ok { "" } else { "   <-- NOT AS EXPECTED" }
        );
    }
    bank.shutdown().await;
    if all {
        println!(
            "      {}",
            t(
                "certifikát banky ověřen: se správným jménem schváleno, s jiným se spojení odmítne",
                "the bank's certificate is checked: the right name is approved, another name refuses the link",
                "le certificat de la banque est vérifié : le bon nom est approuvé, un autre refuse la liaison",
            )
        );
    }
    Ok(all)
}

/// Terminal id of the terminal whose sale another till tries to abort.
const OWNER_TERMINAL_ID: &str = "ECRLINK8";

/// Issue 19, shown: only the till connection that started a transaction may abort it. A sale
/// runs on a terminal whose card takes 2 s; another till connection sends an abort meanwhile.
/// The abort must be refused, the sale must go on, and "last transaction" must report it
/// approved, with the bank holding exactly that one authorization. True when all held.
async fn abort_ownership(world: &crate::world::World, lang: Lang) -> anyhow::Result<bool> {
    let t = |cs, en, fr| pick(lang, cs, en, fr);

    let (agent, till_options) = scene_terminal(
        world,
        OWNER_TERMINAL_ID,
        lang,
        ecrlink_agent::Config {
            bank: Some(world.bank.addr().to_string()),
            card_delay: Duration::from_secs(2),
            ..ecrlink_agent::Config::default()
        },
    )
    .await?;
    let options = || till_options.clone();
    let sale = Request::Sale {
        amount: money(800, Currency::CZK)?,
        reference: vs("2026-0098")?,
    };
    println!(
        "[guard] {} — {}",
        t(
            "jiná pokladna posílá zrušení, zatímco běží prodej obchodníka na terminálu {id}",
            "another till sends an abort while the merchant's sale runs on terminal {id}",
            "une autre caisse envoie une annulation pendant la vente du commerçant sur le terminal {id}",
        )
        .replace("{id}", OWNER_TERMINAL_ID),
        crate::till::describe_request(&sale)
    );
    let merchant_till = Till::new(options());
    let other_till = Till::new(options());
    let merchant = merchant_till.run(sale);
    // The card takes 2 s: the abort comes while the terminal waits for it.
    let other = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        other_till.run(Request::Abort).await
    };
    let (_, abort) = tokio::join!(merchant, other);
    let abort = abort?;
    let refused = abort.outcome != Outcome::Approved && abort.outcome != Outcome::Cancelled;
    println!(
        "      {} {}{}",
        t(
            "zrušení z jiné pokladny:",
            "the other till's abort:",
            "l'annulation de l'autre caisse :",
        ),
        abort.message,
        if refused {
            ""
        } else {
            "   <-- NOT AS EXPECTED"
        }
    );
    let last = Till::new(options()).run(Request::LastTransaction).await?;
    let auths = world
        .bank
        .ledger()
        .auths
        .into_iter()
        .filter(|a| a.terminal == OWNER_TERMINAL_ID)
        .count();
    let _ = agent.shutdown().await;
    let went_on = last.outcome == Outcome::Approved && auths == 1;
    println!(
        "      {}{}",
        last.message,
        if went_on {
            ""
        } else {
            "   <-- NOT AS EXPECTED"
        }
    );
    if refused && went_on {
        println!(
            "      {}",
            t(
                "zrušení bylo odmítnuto; prodej obchodníka pokračoval a je poslední transakcí",
                "the abort was refused; the merchant's sale went on and is the last transaction",
                "l'annulation a été refusée ; la vente du commerçant a continué et est la dernière transaction",
            )
        );
    }
    Ok(refused && went_on)
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
    let mut find = b"51".to_vec();
    find.extend_from_slice(MITM_TERMINAL_ID.as_bytes());
    let (relay, changed) = tampering_relay(world.bank.addr(), find, b"00".to_vec()).await?;
    let (agent, o) = scene_terminal(
        world,
        MITM_TERMINAL_ID,
        lang,
        ecrlink_agent::Config {
            bank: Some(relay.to_string()),
            card_delay: Duration::from_millis(80),
            ..ecrlink_agent::Config::default()
        },
    )
    .await?;
    let request = Request::Sale {
        amount: money(1251, Currency::CZK)?,
        reference: vs("2026-0099")?,
    };
    let t = |cs, en, fr| crate::i18n::pick(lang, cs, en, fr);
    println!();
    println!(
        "[mitm] {} — {}",
        t(
            "útočník uprostřed přepisuje odpovědi banky terminálu {id} (relé {relay}: z 51 \
             se stává 00)",
            "a man in the middle rewrites the bank's answers to terminal {id} (relay {relay}: \
             51 becomes 00)",
            "un homme du milieu réécrit les réponses de la banque au terminal {id} (relais \
             {relay} : 51 devient 00)"
        )
        .replace("{id}", MITM_TERMINAL_ID)
        .replace("{relay}", &relay.to_string()),
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
        "      {}",
        t(
            "relé změnilo odpovědí: {n}; terminál shledal MAC chybným a vzal ji jako žádnou \
             odpověď",
            "the relay changed {n} answer(s); the terminal found the MAC wrong and took it as \
             no answer",
            "le relais a modifié {n} réponse(s) ; le terminal a trouvé le MAC faux et l'a prise \
             pour une absence de réponse"
        )
        .replace(
            "{n}",
            &changed
                .load(std::sync::atomic::Ordering::SeqCst)
                .to_string()
        )
    );
    match auth {
        Some(a) => {
            use crate::bank::ledger::AuthState;
            let state = match a.state {
                AuthState::Approved => t("schválena", "Approved", "acceptée"),
                AuthState::Declined => t("zamítnuta", "Declined", "refusée"),
                AuthState::Reversed => t("stornována", "Reversed", "annulée"),
                AuthState::Settled => t("zúčtována", "Settled", "compensée"),
            };
            println!(
                "      {}",
                t(
                    "banka eviduje: {state}, odpověď {code}, zpráv o stornu od terminálu: {n}",
                    "the bank holds: {state}, response {code}, {n} reversal message(s) from the \
                     terminal",
                    "la banque détient : {state}, réponse {code}, {n} message(s) d'annulation du \
                     terminal"
                )
                .replace("{state}", state)
                .replace("{code}", &a.code.to_string())
                .replace("{n}", &a.reversal_messages.to_string())
            );
        }
        None => println!(
            "      {}",
            t(
                "banka pro {id} nic neeviduje",
                "the bank holds nothing for {id}",
                "la banque ne détient rien pour {id}"
            )
            .replace("{id}", MITM_TERMINAL_ID)
        ),
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
