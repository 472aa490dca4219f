//! The `ecrlink-agent` command line.

use std::path::PathBuf;

use clap::Parser;

use crate::config::{Config, FileConfig, ListenSpec, parse_duration};
use crate::server::Agent;

const LONG_ABOUT: &str = "\
ecrlink-agent is a virtual card payment terminal. Tills (cash registers, ERPs) connect to it \
as they would to a real terminal; it reads a (simulated) card, asks the bank over ISO 8583, \
prints the receipt, journals every step on disk and answers the till.

Server mode: each --listen DIALECT@ADDR opens a listener. DIALECT is `concert` (Ingenico \
Concert V2), `csob` (ČSOB \"B\" protocol), `zvt` (the German ZVT protocol; bare APDUs over \
TCP, DLE/STX frames with CRC over serial; never auto-detected) or `auto` (ENQ first means \
Concert, STX means ČSOB). \
ADDR is a TCP address or `serial:/dev/ttyUSB0:9600`. One till is served at a time: a new \
connection that makes a request drops the older one (a transaction in flight still completes; \
ask for the last transaction to learn its result); connections that send no request never \
take over, and at most 64 are kept open. --allow limits which addresses may connect (by
default this machine and its own subnets; --allow any admits every address).

On start-up the agent prints one `LISTEN <dialect> <addr>` line per TCP listener and then \
`READY` on standard output; logs go to standard error (RUST_LOG=debug shows frames in hex, \
card numbers masked).

Signals: SIGINT/SIGTERM stop cleanly (the transaction in flight is finished and journaled), \
SIGUSR1 wakes the agent from sleep mode, SIGUSR2 puts it to sleep.

Durations are written 500ms, 30s, 5m or 1h.

`ecrlink-agent hash-pin` reads a merchant PIN on standard input and prints the \
`merchant_pin_hash` line for the config file (see `ecrlink-agent hash-pin --help`).

--ui 127.0.0.1:8080 serves the terminal as a web page (its screen live, the last transactions \
and their receipts, and a tester's controls: the card, cancel, sleep, the bank link, the \
till's connection); the agent then prints `UI <address to open>` before READY.

Exit status: 0 after a clean stop, 1 on a start-up or run-time error, 2 on a usage or \
configuration error, 3 when the journal holds a file in a format this agent does not read (it \
is left untouched; see --journal-reset-incompatible).";

const AFTER_HELP: &str = "\
Examples:
  # A Concert terminal on port 2000 against a bank simulator on port 5000:
  ecrlink-sim bank --listen 127.0.0.1:5000 &
  ecrlink-agent --listen concert@127.0.0.1:2000 --bank 127.0.0.1:5000 --journal ./journal

  # Both dialects, receipts on stdout, sleep after 10 minutes idle, wake after 1 minute:
  ecrlink-agent --listen concert@0.0.0.0:2000 --listen csob@0.0.0.0:2001 \\
      --bank 127.0.0.1:5000 --printer stdout --sleep-after 10m --sleep-for 1m

  # A German ZVT till (TCP port 20007 is usual; serial works too), password 123456:
  ecrlink-agent --listen zvt@0.0.0.0:20007 --zvt-password 123456 --bank 127.0.0.1:5000

  # The terminal in a browser page: open the address of the `UI` line, start a sale with
  # `ecrlink-sim sale --amount 12.50 --terminal 127.0.0.1:2050 --dialect csob`, present a card:
  ecrlink-agent --listen csob@127.0.0.1:2050 --bank 127.0.0.1:5000 --ui 127.0.0.1:8080

  # A serial till at 9600 baud, scripted cards:
  ecrlink-agent --listen concert@serial:/dev/ttyUSB0:9600 --bank 127.0.0.1:5000 --cards cards.toml

  # A bank on another machine: TLS 1.3 and a MAC key are required (docs/SECURITY.md):
  (umask 077; openssl rand -hex 32 > mac.key)
  ecrlink-agent --listen csob@0.0.0.0:2001 --bank acquirer.example:5000 \\
      --bank-tls-ca bank-ca.pem --bank-mac-key mac.key

The same keys can go in a TOML file given with --config (e.g. `bank = \"127.0.0.1:5000\"`, \
`listen = [\"csob@0.0.0.0:2001\"]`, `sleep_after = \"10m\"`); the command line wins.

Who may move money. Refund, reversal and close totals need the merchant PIN, typed on the \
terminal (here: the cards file's [[merchant]] entries); 3 wrong tries lock that operation for \
5 minutes. Without a PIN set they are refused (said at start); --no-merchant-confirmation \
lets any till do them. The policy goes in the config file's [policy] table:
  [policy]
  merchant_pin_hash = \"pbkdf2-sha256$...\"  # echo 4711 | ecrlink-agent hash-pin
  confirm = [\"refund\", \"reversal\", \"close-totals\"]  # PIN needed; [] none
  confirm_tries = 3                # wrong PINs in a row that lock...
  confirm_lock = \"5m\"              # ...the operation this long
  refuse = [\"cashback\"]            # tills may not start these at all
  max_sale = \"100000\"              # per transaction, or \"none\"; also
                                   # max_cashback, max_refund
  max_sale_day = \"500000\"          # per business day (UTC date); also
                                   # max_cashback_day, max_refund_day
--max-sale, --max-sale-day, --refuse etc. override the file. Errors name the line and column.

Cards file (--cards FILE), TOML; the cards are presented in order, starting over at the end:
  [[card]]
  pan = \"4761739001010119\"   # 12-19 digits; the scheme is guessed from the BIN
  scheme = \"visa\"            # optional: visa, mastercard, maestro, amex, other
  entry = \"chip\"             # chip, contactless, swipe, manual
  delay = \"300ms\"            # time until the card is presented
  pin = \"accepted\"           # accepted, wrong (declined 55), bypassed, none
  expiry = \"2812\"            # optional YYMM (default 3012): field 14
  psn = 1                    # optional PAN sequence number (chip, contactless: default 1)

  [[card]]
  entry = \"contactless\"
  issuer_key = \"1111111111111111111111111111111111111111111111111111111111111111\"
                             # signs with another issuer's key: the bank declines it (82)

  [[card]]
  absent = true              # nobody presents a card: the sale is cancelled after `delay`

  [[card]]
  error = \"expired\"          # the card cannot be used: read, expired, blocked

  [[merchant]]               # typed when the terminal asks for the merchant PIN, in order,
  pin = \"4711\"               # starting over at the end (cards keep their own order);
  delay = \"100ms\"            # without any, the question is cancelled at once
  [[merchant]]
  cancel = true

The bank simulator's rules file: see `ecrlink-sim bank --help`.

A chip or contactless card makes its chip data per transaction: a counter per card number, a \
fresh unpredictable number and a cryptogram over the transaction with the card's test key \
(HMAC-SHA-256: a test scheme, not a card scheme's ARQC), which the bank simulator checks.";

/// Command-line arguments.
/// Said at start when no bank is configured and `--no-bank` was not given.
pub const NO_BANK_WARNING: &str = "ecrlink-agent: warning: no bank configured (--bank \
HOST:PORT): every sale, refund and bank test will be answered \"bank unavailable\". Start \
one with `ecrlink-sim bank --listen 127.0.0.1:5000` and give --bank 127.0.0.1:5000, or pass \
--no-bank to run offline on purpose.";

#[derive(Debug, Parser)]
#[command(name = "ecrlink-agent", version, about = "A virtual card payment terminal for tills: Concert and ČSOB in server mode, ISO 8583 to the bank, crash-safe journal", long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Args {
    /// Listen for tills: DIALECT@ADDR, DIALECT = concert | csob | zvt | auto; repeatable.
    /// Default concert@127.0.0.1:2000.
    #[arg(long, value_name = "DIALECT@ADDR")]
    pub listen: Vec<ListenSpec>,
    /// Bank (acquirer) address, ISO 8583 over TCP with a 2-byte length prefix (e.g. an
    /// `ecrlink-sim bank`). Without it (and without --no-bank) the agent warns at start: every
    /// sale would be answered "bank unavailable".
    #[arg(long, value_name = "HOST:PORT")]
    pub bank: Option<String>,
    /// Run without a bank on purpose: sales, refunds and bank tests are answered "bank
    /// unavailable" (tests of a till's offline handling). Silences the start-up warning.
    #[arg(long, conflicts_with = "bank")]
    pub no_bank: bool,
    /// Journal directory (created if missing). Without it nothing survives a restart.
    #[arg(long, value_name = "DIR")]
    pub journal: Option<PathBuf>,
    /// Terminal id sent to the bank (field 41), 1-8 characters.
    #[arg(long, value_name = "ID")]
    pub terminal_id: Option<String>,
    /// Merchant id sent to the bank (field 42), 1-15 characters.
    #[arg(long, value_name = "ID")]
    pub merchant_id: Option<String>,
    /// ZVT password, six digits, that a ZVT till must give on registration and on end of
    /// day, reversal, refund and repeat receipt (default 000000); a wrong one is refused.
    #[arg(long, value_name = "DIGITS")]
    pub zvt_password: Option<String>,
    /// Merchant name printed on receipts.
    #[arg(long, value_name = "NAME")]
    pub merchant_name: Option<String>,
    /// TOML file with any of these options (underscores for dashes).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Scripted cards (TOML, format at the end of this help); default: a chip card, PIN accepted.
    #[arg(long, value_name = "FILE")]
    pub cards: Option<PathBuf>,
    /// Delay before the default card is presented.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub card_delay: Option<std::time::Duration>,
    /// Enter sleep mode after this long without till activity (listeners and bank link close).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub sleep_after: Option<std::time::Duration>,
    /// Wake from sleep mode after this long (default: only on SIGUSR1).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub sleep_for: Option<std::time::Duration>,
    /// Bank echo test (0800/301) period; 0 disables it. Default 60s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub echo_every: Option<std::time::Duration>,
    /// Transaction limit. Default 60s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub txn_limit: Option<std::time::Duration>,
    /// How long to wait for the bank's answer before reversing. Default 15s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub bank_timeout: Option<std::time::Duration>,
    /// First bank reconnect delay. Default 200ms.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub backoff_initial: Option<std::time::Duration>,
    /// Cap of the bank reconnect delay (exponential, with jitter). Default 10s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub backoff_max: Option<std::time::Duration>,
    /// How often unacknowledged reversals are re-sent. Default 5s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub reversal_retry: Option<std::time::Duration>,
    /// Where receipts go: none | stdout | file:PATH | escpos:PATH | tcp:HOST | tcp:HOST:PORT
    /// (ESC/POS to a network printer, port 9100 by default); append ,cp852 or ,cp858 to fix the
    /// code page.
    #[arg(long, value_name = "PRINTER")]
    pub printer: Option<String>,
    /// Receipt width: 24, 32, 42 or 48 columns.
    #[arg(long, value_name = "COLUMNS")]
    pub receipt_width: Option<usize>,
    /// Receipt language: cs, en or fr.
    #[arg(long, value_name = "LANG")]
    pub receipt_lang: Option<String>,
    /// The terminal's own currency (ISO 4217 code, e.g. CZK): an empty batch is closed in it.
    /// Default EUR.
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,
    /// Largest sale a till may ask (cash back included), in the currency's units, e.g. 5000 or
    /// 5000.00; `none`: no limit. Default 100000. A larger request is refused before the card.
    #[arg(long, value_name = "AMOUNT")]
    pub max_sale: Option<String>,
    /// Largest cash back a till may ask; `none`: no limit. Default 1000.
    #[arg(long, value_name = "AMOUNT")]
    pub max_cashback: Option<String>,
    /// Largest refund a till may ask; `none`: no limit. Default 100000.
    #[arg(long, value_name = "AMOUNT")]
    pub max_refund: Option<String>,
    /// Requests tills may not start at all, comma-separated: sale, cashback, refund, reversal,
    /// close-totals (they are answered "not supported"). Default: none.
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub refuse: Vec<String>,
    /// Largest sum of sales (cash-back sales' totals included) approved in one business day
    /// (the calendar date here) and currency; `none`: no limit (the default). The day's sums
    /// are rebuilt from the journal after a restart.
    #[arg(long, value_name = "AMOUNT")]
    pub max_sale_day: Option<String>,
    /// Largest sum of cash back paid out in one business day; `none`: no limit (the default).
    #[arg(long, value_name = "AMOUNT")]
    pub max_cashback_day: Option<String>,
    /// Largest sum of refunds approved in one business day; `none`: no limit (the default).
    #[arg(long, value_name = "AMOUNT")]
    pub max_refund_day: Option<String>,
    /// Let tills refund, reverse and close the totals without the merchant PIN. By default
    /// those need the merchant PIN typed on the terminal (`merchant_pin_hash` under `[policy]`
    /// in the config file, made with `ecrlink-agent hash-pin`); with no PIN set they are
    /// refused.
    #[arg(long)]
    pub no_merchant_confirmation: bool,
    /// Drop a till connection silent this long while nothing runs. Default 0: never (tills
    /// such as the ČSOB one keep a connection open all day; TCP keepalive finds dead ones).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<std::time::Duration>,
    /// Largest journal file in bytes: a transaction that might not fit is refused before the
    /// bank is asked (close the batch to start a new file). Default: only the disk limits it.
    #[arg(long, value_name = "BYTES")]
    pub journal_max_bytes: Option<u64>,
    /// A journal file in a format this agent does not read (written by a newer agent) stops
    /// the start-up with exit status 3 and is left untouched, since it may hold reversals still
    /// owed to the bank. With this flag it is moved aside as `journal-N.log.incompatible-vN`
    /// and the agent starts with an empty journal: what the file held is not carried over.
    #[arg(long)]
    pub journal_reset_incompatible: bool,
    /// Accept tills only from this address block (e.g. 192.168.1.0/24, 127.0.0.1/32);
    /// repeatable; `any` admits every address. Default: this machine and the networks it is
    /// directly attached to. Others are closed before a byte is read.
    #[arg(long, value_name = "NET")]
    pub allow: Vec<crate::config::AllowNet>,
    /// TLS to the bank: trust the certificate authorities in this PEM file (the bank link is
    /// plain TCP without it).
    #[arg(long, value_name = "FILE")]
    pub bank_tls_ca: Option<PathBuf>,
    /// Name the bank's TLS certificate must carry. Default: the host part of --bank.
    #[arg(long, value_name = "NAME", requires = "bank_tls_ca")]
    pub bank_tls_name: Option<String>,
    /// Mutual TLS: present this client certificate chain (PEM) to the bank; needs
    /// --bank-tls-key and --bank-tls-ca.
    #[arg(long, value_name = "FILE", requires_all = ["bank_tls_key", "bank_tls_ca"])]
    pub bank_tls_cert: Option<PathBuf>,
    /// Mutual TLS: the private key (PEM) of --bank-tls-cert.
    #[arg(long, value_name = "FILE", requires = "bank_tls_cert")]
    pub bank_tls_key: Option<PathBuf>,
    /// The terminal's MAC key: a file holding 64 hex digits (or exactly 32 raw bytes) that only
    /// its owner may read (chmod 600; a group- or world-readable file is refused). Every bank
    /// message then carries a MAC (ISO 8583 field 64/128, HMAC-SHA-256 truncated to 8 bytes,
    /// a test scheme) and an answer whose MAC fails counts as no answer: reversed, and the
    /// till told "bank unavailable". Required for a bank that is not on this machine.
    #[arg(long, value_name = "FILE")]
    pub bank_mac_key: Option<PathBuf>,
    /// Allow a bank that is not on this machine over plain TCP or without a MAC key. Without
    /// this flag such a bank needs --bank-tls-ca (TLS 1.3) and --bank-mac-key.
    #[arg(long)]
    pub bank_insecure: bool,
    /// Serve the terminal as a web page on this address (e.g. 127.0.0.1:8080): the customer's
    /// screen live (amount, present card, PIN, contacting bank, approved or declined with the
    /// code, printing, sleep), the last transactions with their receipts, and controls for a
    /// tester: present a test card (chip, contactless, swipe; scheme; PIN right or wrong; a
    /// card the bank declines), remove it, cancel, sleep/wake, a slow, silent or offline bank
    /// link, cut the till's connection. Without --cards the tester presents every card (doing
    /// nothing lets the sale time out); with --cards the scripted cards play until the tester
    /// takes over on the page. An address that is not loopback requires a token.
    #[arg(long, value_name = "HOST:PORT")]
    pub ui: Option<std::net::SocketAddr>,
    /// The token the page's requests must carry (at least 16 letters, digits, - or _). For a
    /// non-loopback --ui address without it, one is generated; the `UI` line on standard
    /// output gives the address to open with the token.
    #[arg(long, value_name = "TOKEN", requires = "ui")]
    pub ui_token: Option<String>,
}

impl Args {
    /// The configuration: defaults, then the file, then the command line.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let mut cfg = Config {
            listen: vec!["concert@127.0.0.1:2000".parse()?],
            ..Config::default()
        };
        let mut file_policy = None;
        if let Some(path) = &self.config {
            let (mut file, text) = FileConfig::load_text(path)?;
            file_policy = file.policy.take().map(|p| (p, text, path.clone()));
            file.apply(&mut cfg)?;
        }
        if !self.listen.is_empty() {
            cfg.listen = self.listen;
        }
        if !self.allow.is_empty() {
            cfg.allow = self.allow;
        }
        macro_rules! over {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { cfg.$f = v; } )* };
        }
        macro_rules! over_opt {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { cfg.$f = Some(v); } )* };
        }
        over_opt!(
            bank,
            journal,
            cards,
            sleep_after,
            sleep_for,
            journal_max_bytes,
            bank_tls_ca,
            bank_tls_name,
            bank_tls_cert,
            bank_tls_key,
            bank_mac_key
        );
        over!(
            terminal_id,
            merchant_id,
            zvt_password,
            merchant_name,
            card_delay,
            echo_every,
            txn_limit,
            bank_timeout,
            backoff_initial,
            backoff_max,
            reversal_retry,
            printer,
            receipt_width,
            receipt_lang,
            currency,
            idle_timeout
        );
        cfg.journal_reset_incompatible |= self.journal_reset_incompatible;
        let currency = ecrlink_core::txn::Currency::from_alpha(&cfg.currency).ok_or_else(|| {
            anyhow::anyhow!(
                "currency {:?} is not an ISO 4217 code this terminal knows",
                cfg.currency
            )
        })?;
        if let Some((policy, text, path)) = &file_policy {
            policy.apply(&mut cfg.policy, currency, text, path)?;
        }
        let limit =
            |text: &Option<String>, what: &str, dst: &mut Option<u64>| -> anyhow::Result<()> {
                if let Some(t) = text {
                    *dst = crate::config::parse_limit(t, currency)
                        .map_err(|e| anyhow::anyhow!("--{what} {e:#}"))?;
                }
                Ok(())
            };
        limit(&self.max_sale, "max-sale", &mut cfg.policy.max_sale)?;
        limit(
            &self.max_cashback,
            "max-cashback",
            &mut cfg.policy.max_cashback,
        )?;
        limit(&self.max_refund, "max-refund", &mut cfg.policy.max_refund)?;
        limit(
            &self.max_sale_day,
            "max-sale-day",
            &mut cfg.policy.max_sale_day,
        )?;
        limit(
            &self.max_cashback_day,
            "max-cashback-day",
            &mut cfg.policy.max_cashback_day,
        )?;
        limit(
            &self.max_refund_day,
            "max-refund-day",
            &mut cfg.policy.max_refund_day,
        )?;
        for kind in &self.refuse {
            let k =
                crate::config::parse_kind(kind).map_err(|e| anyhow::anyhow!("--refuse {e:#}"))?;
            cfg.policy.refused = cfg.policy.refused.with(k);
        }
        if self.no_merchant_confirmation {
            cfg.policy.confirm = ecrlink_core::terminal::KindSet::EMPTY;
        }
        cfg.bank_insecure |= self.bank_insecure;
        cfg.validate()?;
        if cfg.bank.is_some() && self.no_bank {
            anyhow::bail!("--no-bank and a bank in the config file: choose one");
        }
        // A cards file that cannot be used is a configuration error, found before start-up.
        if let Some(path) = &cfg.cards {
            crate::card::SimulatedReader::load(path, cfg.card_delay)?;
        }
        Ok(cfg)
    }
}

/// Runs the agent's command line and returns the process exit status.
pub fn main() -> i32 {
    if std::env::args().nth(1).as_deref() == Some("hash-pin") {
        return hash_pin(std::env::args().skip(1));
    }
    let mut args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let no_bank = args.no_bank;
    let ui = match args.ui {
        Some(addr) => match crate::ui::UiConfig::resolve(addr, args.ui_token.take()) {
            Ok(u) => Some(u),
            Err(e) => {
                eprintln!("ecrlink-agent: {e:#}");
                return 2;
            }
        },
        None => None,
    };
    let cfg = match args.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ecrlink-agent: {e:#}");
            return 2;
        }
    };
    if cfg.bank.is_none() && !no_bank {
        eprintln!("{NO_BANK_WARNING}");
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ecrlink-agent: cannot start the runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(run(cfg, ui)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ecrlink-agent: {e:#}");
            if e.chain()
                .any(|c| c.downcast_ref::<crate::journal::Incompatible>().is_some())
            {
                3
            } else {
                1
            }
        }
    }
}

async fn run(cfg: Config, ui: Option<crate::ui::UiConfig>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    let scripted = cfg.cards.is_some();
    let name = cfg.terminal_id.clone();
    let agent = Agent::start(cfg).await?;
    for l in agent.listeners() {
        if let Some(a) = l.addr {
            println!("LISTEN {} {a}", l.spec.dialect);
        }
    }
    // Kept to the end of `run`: dropping it stops the page.
    let _page = match &ui {
        Some(u) => {
            let controls = agent.ui_controls(&name);
            if !scripted {
                // No scripted cards: the tester at the page presents them.
                controls.desk().set_tester_decides(true);
            }
            let page = crate::ui::serve(u, vec![controls]).await?;
            println!("UI {}", page.url);
            if !page.addr.ip().is_loopback() {
                tracing::warn!(addr = %page.addr, "UI page on a non-loopback address: every request needs the token");
            }
            Some(page)
        }
        None => None,
    };
    println!("READY");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = usr1.recv() => { tracing::info!("SIGUSR1: wake"); agent.wake(); }
            _ = usr2.recv() => { tracing::info!("SIGUSR2: sleep"); agent.sleep(); }
        }
    }
    tracing::info!("stopping");
    agent.shutdown().await
}

const HASH_PIN_ABOUT: &str = "\
Reads the merchant PIN (4 to 32 characters, no spaces) from standard input, one line, and \
prints the line to put under [policy] in the agent's config file:

  merchant_pin_hash = \"pbkdf2-sha256$20000$<salt>$<hash>\"

The PIN itself is stored nowhere: the hash is PBKDF2-HMAC-SHA-256 with a random 16-byte salt. \
A short PIN falls to anyone who reads the hash and tries every PIN, so keep the config file \
readable by the agent's user only (chmod 600). The agent asks for this PIN on the terminal \
before a refund, a reversal or closing the totals; 3 wrong tries lock that operation for 5 \
minutes (confirm_tries, confirm_lock).

Example:
  echo 4711 | ecrlink-agent hash-pin >> agent.toml   # after a [policy] line

Exit status: 0 done, 2 a bad PIN or option.";

/// `ecrlink-agent hash-pin`: the `merchant_pin_hash` line for a PIN read from stdin.
#[derive(Debug, Parser)]
#[command(name = "ecrlink-agent hash-pin", about = "Make the merchant PIN's hash for the config file", long_about = HASH_PIN_ABOUT)]
struct HashPinArgs {
    /// PBKDF2 iterations (more: slower to guess, slower to check).
    #[arg(long, default_value_t = ecrlink_core::terminal::confirm::DEFAULT_ITERATIONS,
          value_parser = clap::value_parser!(u32).range(1000..=10_000_000))]
    iterations: u32,
}

fn hash_pin(args: impl Iterator<Item = String>) -> i32 {
    let a = match HashPinArgs::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprint!("merchant PIN (shown as typed): ");
    }
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("ecrlink-agent hash-pin: cannot read the PIN: {e}");
        return 2;
    }
    let pin = line.trim_end_matches(['\n', '\r']);
    let max = ecrlink_core::terminal::confirm::MAX_PIN;
    if pin.len() < 4 || pin.len() > max || !pin.chars().all(|c| c.is_ascii_graphic()) {
        eprintln!(
            "ecrlink-agent hash-pin: the PIN must be 4 to {max} letters, digits or signs, no spaces"
        );
        return 2;
    }
    let mut salt = [0u8; 16];
    if let Err(e) = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut salt))
    {
        eprintln!("ecrlink-agent hash-pin: no random salt from /dev/urandom: {e}");
        return 1;
    }
    let hash = ecrlink_core::terminal::PinHash::derive(pin.as_bytes(), &salt, a.iterations);
    let mut text = String::new();
    let _ = hash.write_to(&mut text);
    println!("merchant_pin_hash = \"{text}\"");
    0
}
