//! The till subcommands of `ecrlink-sim`: arguments, terminal resolution, output, exit status.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use ecrlink_core::session::Dialect;
use ecrlink_core::txn::{ApprovalCode, Currency, Money, Reference, Request};

use crate::cli::{Command, EXIT_USAGE};
use crate::config::{self, Config, Identity};
use crate::i18n::Lang;
use crate::log::{self, SessionLog};
use crate::output;
use crate::till::{Target, Till, TillOptions};

/// A dialect on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DialectArg {
    /// Ingenico Concert V2 (E/E+).
    Concert,
    /// ČSOB "B" protocol.
    Csob,
    /// ZVT, the German till protocol (TCP port 20007 is usual).
    Zvt,
}

impl From<DialectArg> for Dialect {
    fn from(d: DialectArg) -> Self {
        match d {
            DialectArg::Concert => Dialect::Concert,
            DialectArg::Csob => Dialect::Csob,
            DialectArg::Zvt => Dialect::Zvt,
        }
    }
}

/// Options every till command takes.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
The terminal comes from --terminal, else from the config file (--alias, else the file's
selection: single, by-computer or by-user). Exit status: 0 approved/ok, 1 declined or refused,
2 usage or input error, 3 timeout, 4 terminal offline, 5 bank unavailable, 6 cancelled.
Ctrl-C while the terminal works cancels there (ČSOB: passivate, then the last transaction is
asked and reported); Concert cannot cancel: the result says the outcome is unknown (exit 3).
A second Ctrl-C stops waiting at once (outcome unknown, exit 3).")]
pub struct TillArgs {
    /// The terminal: HOST:PORT, or a serial device (/dev/ttyUSB0, COM3, serial:PATH).
    #[arg(long, value_name = "HOST:PORT|DEVICE")]
    pub terminal: Option<String>,
    /// Dialect of --terminal (default csob; a config entry names its own).
    #[arg(long, value_enum)]
    pub dialect: Option<DialectArg>,
    /// Pick the terminal with this alias from the config file.
    #[arg(long)]
    pub alias: Option<String>,
    /// Config file [default: $ECRLINK_CONFIG, else ecrlink/terminals.toml in the user's config dir].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Limit for the terminal's answer, in seconds: the whole wait, asking for the last
    /// transaction after no answer included.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_secs)]
    pub timeout: Duration,
    /// Limit for the terminal's acknowledgement of the request (ČSOB B0, Concert ACK), in
    /// seconds: a terminal that acknowledges nothing by then usually speaks another dialect,
    /// and the till says so instead of waiting the whole --timeout.
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = parse_secs)]
    pub ack_timeout: Duration,
    /// Limit for the TCP connection, in seconds; past it the terminal is offline.
    #[arg(long, value_name = "SECS", default_value = "3", value_parser = parse_secs)]
    pub connect_timeout: Duration,
    /// Print one JSON object instead of text (and no progress bar).
    #[arg(long)]
    pub json: bool,
    /// Language of the result text [default: from LC_ALL / LC_MESSAGES / LANG, else en].
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    /// Folder of the session logs [default: the config's log_dir, else ~/PointOfSale].
    #[arg(long, value_name = "DIR", env = log::LOG_DIR_ENV)]
    pub log_dir: Option<PathBuf>,
    /// Write no session log.
    #[arg(long)]
    pub no_log: bool,
    /// Ask the terminal for the receipt text and print it (ČSOB transfers it).
    #[arg(long)]
    pub receipt: bool,
    /// Serial speed in bit/s (8N1).
    #[arg(long, default_value_t = Target::DEFAULT_BAUD)]
    pub baud: u32,
    /// Terminal id to put in requests (ČSOB), if the terminal wants one.
    #[arg(long)]
    pub terminal_id: Option<String>,
    /// The terminal's password for ZVT (six digits; registration, end of day, reversal,
    /// refund, reprint), default 000000.
    #[arg(long, value_name = "DIGITS")]
    pub zvt_password: Option<String>,
}

/// The long help of `terminals`: where the file goes and its format.
const TERMINALS_HELP: &str = "\
The config file is $ECRLINK_CONFIG, else ecrlink/terminals.toml in the user's config folder
(~/.config on Linux, %APPDATA% on Windows, ~/Library/Application Support on macOS). The till
commands read it when --terminal is not given. Its format (a working sample; `ecrlink-sim
terminals` without a file prints it too):

# How a till picks its terminal: \"single\", \"by-computer\" or \"by-user\".
selection = \"by-computer\"
default = \"counter-1\"
currency = \"CZK\"

[[terminal]]
alias = \"counter-1\"
address = \"192.168.1.50:2050\"   # HOST:PORT, or /dev/ttyUSB0, COM3, serial:PATH
dialect = \"csob\"                # or \"concert\"
computers = [\"POS-1\"]           # by-computer: exact, case-sensitive (RDP: the client's name)
users = [\"alice\"]               # by-user";

/// `sale` and `refund`.
#[derive(Debug, Clone, Args)]
pub struct MoneyCmd {
    /// Amount as a decimal, e.g. 12.50 (at most the currency's decimals).
    #[arg(long, allow_hyphen_values = true)]
    pub amount: String,
    /// ISO 4217 currency, e.g. CZK, EUR [default: the config's currency].
    #[arg(long)]
    pub currency: Option<String>,
    /// Variable symbol / reference (1–20 printable ASCII characters).
    #[arg(long = "vs", value_name = "SYMBOL")]
    pub vs: Option<String>,
    /// Where and how.
    #[command(flatten)]
    pub till: TillArgs,
}

/// `cashback`.
#[derive(Debug, Clone, Args)]
pub struct CashbackCmd {
    /// Total charged to the card, cash included.
    #[arg(long, allow_hyphen_values = true)]
    pub amount: String,
    /// Cash handed out (less than the total).
    #[arg(long, allow_hyphen_values = true)]
    pub cashback: String,
    /// ISO 4217 currency.
    #[arg(long)]
    pub currency: Option<String>,
    /// Variable symbol / reference.
    #[arg(long = "vs", value_name = "SYMBOL")]
    pub vs: Option<String>,
    /// Where and how.
    #[command(flatten)]
    pub till: TillArgs,
}

/// `reversal`.
#[derive(Debug, Clone, Args)]
pub struct ReversalCmd {
    /// Amount of the transaction to reverse (with --code).
    #[arg(
        long,
        allow_hyphen_values = true,
        required_unless_present = "receipt_no"
    )]
    pub amount: Option<String>,
    /// ISO 4217 currency.
    #[arg(long)]
    pub currency: Option<String>,
    /// Approval (verification) code of the transaction to reverse: the terminal's last one.
    #[arg(long, required_unless_present = "receipt_no")]
    pub code: Option<String>,
    /// ZVT: the receipt number (0-9999) of any payment of the open batch to reverse, instead
    /// of --amount and --code.
    #[arg(long, value_name = "NUMBER", conflicts_with_all = ["amount", "code"])]
    pub receipt_no: Option<String>,
    /// Variable symbol / reference.
    #[arg(long = "vs", value_name = "SYMBOL")]
    pub vs: Option<String>,
    /// Where and how.
    #[command(flatten)]
    pub till: TillArgs,
}

/// `reserve`.
#[derive(Debug, Clone, Args)]
pub struct ReserveCmd {
    /// The most the card may be charged, as a decimal, e.g. 50.00.
    #[arg(long, allow_hyphen_values = true)]
    pub amount: String,
    /// ISO 4217 currency, e.g. EUR [default: the config's currency].
    #[arg(long)]
    pub currency: Option<String>,
    /// Where and how.
    #[command(flatten)]
    pub till: TillArgs,
}

/// `book-total` and `partial-reversal`.
#[derive(Debug, Clone, Args)]
pub struct PreAuthCmd {
    /// The reservation's receipt number (0-9999), as `reserve` printed it.
    #[arg(long, value_name = "NUMBER")]
    pub receipt_no: String,
    /// `book-total`: the final amount to charge (at most the reserved one).
    /// `partial-reversal`: the amount to release (the rest is charged).
    #[arg(long, allow_hyphen_values = true)]
    pub amount: String,
    /// ISO 4217 currency, the reservation's [default: the config's currency].
    #[arg(long)]
    pub currency: Option<String>,
    /// Where and how.
    #[command(flatten)]
    pub till: TillArgs,
}

/// `pre-auth-reversal`.
#[derive(Debug, Clone, Args)]
pub struct ReceiptCmd {
    /// The reservation's receipt number (0-9999), as `reserve` printed it.
    #[arg(long, value_name = "NUMBER")]
    pub receipt_no: String,
    /// Where and how.
    #[command(flatten)]
    pub till: TillArgs,
}

fn receipt_no(no: &str) -> Result<u16, String> {
    no.parse::<u16>()
        .ok()
        .filter(|n| *n <= 9999)
        .ok_or_else(|| format!("invalid --receipt-no '{no}': a number from 0 to 9999"))
}

/// `terminals`.
#[derive(Debug, Clone, Args)]
#[command(after_long_help = TERMINALS_HELP)]
pub struct TerminalsArgs {
    /// Config file [default: $ECRLINK_CONFIG, else ecrlink/terminals.toml in the user's config dir].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(format!("'{text}' is not between 0 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A usage error: one line on stderr, exit 2.
fn usage(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    EXIT_USAGE
}

fn load_config(path: Option<&PathBuf>) -> Result<Option<(PathBuf, Config)>, String> {
    match path {
        Some(p) => Config::load(p)
            .map(|c| Some((p.clone(), c)))
            .map_err(|e| e.to_string()),
        None => match config::default_config_path() {
            Some(p) if p.exists() => Config::load(&p)
                .map(|c| Some((p, c)))
                .map_err(|e| e.to_string()),
            _ => Ok(None),
        },
    }
}

/// The money of a command from its decimal text and currency.
fn money(amount: &str, currency: &Currency) -> Result<Money, String> {
    if let Some(positive) = amount.trim().strip_prefix('-') {
        return Err(format!(
            "invalid amount '{amount}': amounts are positive (money back to a card is \
             `refund --amount {positive}`, cancelling a payment is `reversal`)"
        ));
    }
    Money::parse_decimal(amount, *currency).map_err(|e| {
        format!(
            "invalid amount '{amount}' for {currency} (a positive decimal with at most {} decimals): {e}",
            currency.exponent()
        )
    })
}

fn currency(arg: Option<&str>, config: Option<&Config>) -> Result<Currency, String> {
    let text = arg
        .map(str::to_string)
        .or_else(|| config.and_then(|c| c.currency.clone()))
        .ok_or("--currency is required (or set `currency` in the config file)")?;
    Currency::from_alpha(&text)
        .or_else(|| {
            text.parse::<u16>()
                .ok()
                .and_then(|n| Currency::from_numeric(n).ok())
        })
        .ok_or_else(|| format!("unknown currency '{text}'"))
}

fn reference(vs: Option<&str>) -> Result<Option<Reference>, String> {
    vs.map(|v| Reference::new(v).map_err(|e| format!("invalid --vs '{v}': {e}")))
        .transpose()
}

/// Everything a till command resolved before it runs.
struct Prepared {
    opts: TillOptions,
    json: bool,
}

fn prepare(args: &TillArgs, config: Option<&(PathBuf, Config)>) -> Result<Prepared, String> {
    let lang = args.lang.unwrap_or_else(Lang::from_env);
    let cfg = config.map(|(_, c)| c);
    let (target, dialect, alias, cfg_tid) = match (&args.terminal, cfg) {
        (Some(t), _) => {
            let mut target = Target::parse_checked(t).map_err(|e| e.to_string())?;
            if let Target::Serial { baud, .. } = &mut target {
                *baud = args.baud;
            }
            let dialect = args.dialect.map(Dialect::from).unwrap_or(Dialect::Csob);
            (target, dialect, None, None)
        }
        (None, Some(c)) => {
            let entry = match &args.alias {
                Some(a) => c.by_alias(a).ok_or_else(|| {
                    let known: Vec<&str> = c.terminals.iter().map(|t| t.alias.as_str()).collect();
                    format!(
                        "no terminal with alias '{a}' in the config; its aliases: {}",
                        known.join(", ")
                    )
                })?,
                None => c.select(&Identity::detect()).map_err(|e| e.to_string())?.0,
            };
            let mut target = Target::parse_checked(&entry.address)
                .map_err(|e| format!("terminal '{}' in the config: {e}", entry.alias))?;
            if let Target::Serial { baud, .. } = &mut target {
                *baud = args.baud;
            }
            let dialect = match args.dialect {
                Some(d) => d.into(),
                None => entry.dialect().map_err(|e| e.to_string())?,
            };
            (
                target,
                dialect,
                Some(entry.alias.clone()),
                entry.terminal_id.clone(),
            )
        }
        (None, None) => {
            let hint = config::default_config_path()
                .map(|p| format!(" ({})", p.display()))
                .unwrap_or_default();
            return Err(format!(
                "no terminal: give --terminal HOST:PORT or a config file{hint}"
            ));
        }
    };
    let log = if args.no_log {
        SessionLog::disabled()
    } else {
        let dir = args
            .log_dir
            .clone()
            .or_else(|| cfg.and_then(|c| c.log_dir.clone()))
            .or_else(log::default_log_dir);
        match dir {
            Some(dir) => SessionLog::open(&dir).unwrap_or_else(|e| {
                eprintln!(
                    "warning: cannot write the session log in {}: {e}",
                    dir.display()
                );
                SessionLog::disabled()
            }),
            None => SessionLog::disabled(),
        }
    };
    let mut opts = TillOptions::new(target, dialect);
    opts.timeout = args.timeout;
    opts.connect_timeout = args.connect_timeout;
    opts.ack_timeout = args.ack_timeout;
    opts.lang = lang;
    opts.receipt = args.receipt;
    opts.progress = !args.json;
    opts.log = log;
    opts.terminal_id = args.terminal_id.clone().or(cfg_tid);
    if let Some(pw) = &args.zvt_password {
        opts.zvt_password = pw
            .parse()
            .ok()
            .filter(|_| pw.len() == 6)
            .ok_or_else(|| format!("invalid --zvt-password '{pw}': six digits, e.g. 123456"))?;
    }
    opts.alias = alias;
    Ok(Prepared {
        opts,
        json: args.json,
    })
}

/// Builds the request of a till command (usage errors as text).
fn request_of<'a>(
    cmd: &'a Command,
    config: Option<&Config>,
) -> Result<(Request, &'a TillArgs), String> {
    Ok(match cmd {
        Command::Sale(c) | Command::Refund(c) => {
            let cur = currency(c.currency.as_deref(), config)?;
            let amount = money(&c.amount, &cur)?;
            let reference = reference(c.vs.as_deref())?;
            let req = if matches!(cmd, Command::Sale(_)) {
                Request::Sale { amount, reference }
            } else {
                Request::Refund { amount, reference }
            };
            (req, &c.till)
        }
        Command::Cashback(c) => {
            let cur = currency(c.currency.as_deref(), config)?;
            let amount = money(&c.amount, &cur)?;
            let cash = money(&c.cashback, &cur)?;
            let req = Request::sale_with_cashback(amount, cash.amount, reference(c.vs.as_deref())?)
                .map_err(|_| "--cashback must be less than --amount (the total)".to_string())?;
            (req, &c.till)
        }
        Command::Reversal(c) => {
            if let Some(no) = &c.receipt_no {
                let receipt = no
                    .parse::<u16>()
                    .ok()
                    .filter(|n| *n <= 9999)
                    .ok_or_else(|| {
                        format!("invalid --receipt-no '{no}': a number from 0 to 9999")
                    })?;
                return Ok((Request::ReversalByReceipt { receipt }, &c.till));
            }
            let cur = currency(c.currency.as_deref(), config)?;
            let (Some(amount), Some(code)) = (&c.amount, &c.code) else {
                return Err("reversal needs --amount and --code, or --receipt-no (ZVT)".into());
            };
            let amount = money(amount, &cur)?;
            let code =
                ApprovalCode::new(code).map_err(|e| format!("invalid --code '{code}': {e}"))?;
            let req = Request::Reversal {
                amount,
                code,
                reference: reference(c.vs.as_deref())?,
            };
            (req, &c.till)
        }
        Command::Reserve(c) => {
            let cur = currency(c.currency.as_deref(), config)?;
            let amount = money(&c.amount, &cur)?;
            (Request::Reservation { amount }, &c.till)
        }
        Command::BookTotal(c) | Command::PartialReversal(c) => {
            let receipt = receipt_no(&c.receipt_no)?;
            let cur = currency(c.currency.as_deref(), config)?;
            let amount = money(&c.amount, &cur)?;
            let req = if matches!(cmd, Command::BookTotal(_)) {
                Request::BookTotal { receipt, amount }
            } else {
                Request::PartialReversal { receipt, amount }
            };
            (req, &c.till)
        }
        Command::PreAuthReversal(c) => (
            Request::PreAuthReversal {
                receipt: receipt_no(&c.receipt_no)?,
            },
            &c.till,
        ),
        Command::CloseTotals(a) => (Request::CloseTotals, a),
        Command::Subtotals(a) => (Request::Subtotals, a),
        Command::LastSums(a) => (Request::LastSums, a),
        Command::TestTerminal(a) => (Request::TestTerminal, a),
        Command::TestBank(a) => (Request::TestBank, a),
        Command::Reprint(a) => (Request::Reprint, a),
        Command::Last(a) => (Request::LastTransaction, a),
        Command::Decode(_)
        | Command::Terminals(_)
        | Command::Bank(_)
        | Command::Demo(_)
        | Command::Load(_) => {
            return Err("not a till command".into());
        }
    })
}

fn till_args(cmd: &Command) -> Option<&TillArgs> {
    match cmd {
        Command::Sale(c) | Command::Refund(c) => Some(&c.till),
        Command::Cashback(c) => Some(&c.till),
        Command::Reversal(c) => Some(&c.till),
        Command::Reserve(c) => Some(&c.till),
        Command::BookTotal(c) | Command::PartialReversal(c) => Some(&c.till),
        Command::PreAuthReversal(c) => Some(&c.till),
        Command::CloseTotals(a)
        | Command::Subtotals(a)
        | Command::LastSums(a)
        | Command::TestTerminal(a)
        | Command::TestBank(a)
        | Command::Reprint(a)
        | Command::Last(a) => Some(a),
        Command::Decode(_)
        | Command::Terminals(_)
        | Command::Bank(_)
        | Command::Demo(_)
        | Command::Load(_) => None,
    }
}

/// Runs a till command and returns the exit status.
pub fn run(cmd: Command) -> i32 {
    let Some(args) = till_args(&cmd) else {
        return usage("not a till command");
    };
    let config = match load_config(args.config.as_ref()) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let (request, args) = match request_of(&cmd, config.as_ref().map(|(_, c)| c)) {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    let prepared = match prepare(args, config.as_ref()) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return usage(format!("cannot start the runtime: {e}")),
    };
    let mut opts = prepared.opts;
    let lang = opts.lang;
    let (trigger, stop) = crate::till::interrupt();
    opts.interrupt = Some(stop);
    let till = Till::new(opts);
    let result = match runtime.block_on(async {
        // Ctrl-C no longer ends the process while the terminal works (it would go on and
        // charge the card): the till cancels there and reports what happened.
        let can_abort = till.can_abort();
        if let Ok(mut sigint) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        {
            tokio::spawn(async move {
                while sigint.recv().await.is_some() {
                    if trigger.press() == 1 && can_abort {
                        eprintln!("\n{}", crate::i18n::cancelling_text(lang));
                    }
                }
            });
        }
        till.run(request).await
    }) {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    let opts = till.options();
    let log_file = opts.log.path().map(|p| p.display().to_string());
    if prepared.json {
        println!("{}", output::to_json(&result, opts, log_file.as_deref()));
    } else {
        print!("{}", output::to_human(&result, opts, log_file.as_deref()));
    }
    result.exit_code()
}

/// `terminals`: the configured terminals and the one this computer/user gets.
pub fn terminals(args: &TerminalsArgs) -> i32 {
    let (path, config) = match load_config(args.config.as_ref()) {
        Ok(Some(c)) => c,
        Ok(None) => {
            let at = config::default_config_path()
                .map(|p| format!(" at {}", p.display()))
                .unwrap_or_default();
            eprintln!(
                "error: no config file{at}\n\nWrite one there (or give --config FILE, or set \
                 ECRLINK_CONFIG); this sample works as it is:\n\n{}",
                config::SAMPLE_CONFIG
            );
            return EXIT_USAGE;
        }
        Err(e) => return usage(e),
    };
    let who = Identity::detect();
    let selected = config.select(&who);
    let chosen = selected.as_ref().ok().map(|(t, _)| t.alias.clone());
    if args.json {
        let list: Vec<serde_json::Value> = config
            .terminals
            .iter()
            .map(|t| {
                serde_json::json!({
                    "alias": t.alias,
                    "address": t.address,
                    "dialect": t.dialect,
                    "computers": t.computers,
                    "users": t.users,
                    "selected": chosen.as_deref() == Some(t.alias.as_str()),
                })
            })
            .collect();
        let v = serde_json::json!({
            "config": path.display().to_string(),
            "selection": config.selection.name(),
            "default": config.default,
            "computer": who.computer,
            "user": who.user,
            "terminals": list,
            "selected": chosen,
            "why": match &selected {
                Ok((_, why)) => why.clone(),
                Err(e) => e.to_string(),
            },
        });
        println!("{v}");
    } else {
        println!("config: {}", path.display());
        println!("selection: {}", config.selection.name());
        match &who.computer {
            Some(c) => println!("computer: {} (from {})", c.name, c.source),
            None => println!("computer: unknown"),
        }
        println!("user: {}", who.user.as_deref().unwrap_or("unknown"));
        println!();
        println!(
            "  {:<16} {:<24} {:<8} {:<20} users",
            "alias", "address", "dialect", "computers"
        );
        for t in &config.terminals {
            let mark = if chosen.as_deref() == Some(t.alias.as_str()) {
                "*"
            } else {
                " "
            };
            println!(
                "{mark} {:<16} {:<24} {:<8} {:<20} {}",
                t.alias,
                t.address,
                t.dialect,
                t.computers.join(","),
                t.users.join(",")
            );
        }
        println!();
        match &selected {
            Ok((t, why)) => println!("this till uses: {} (by {why})", t.alias),
            Err(e) => println!("this till uses: none ({e})"),
        }
    }
    if selected.is_ok() { 0 } else { EXIT_USAGE }
}
