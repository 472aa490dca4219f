//! The `ecrlink-sim` command line.

use clap::{Parser, Subcommand};

use crate::decode;
use crate::tillcli;

/// Exit status for a usage or input error (bad hex, bad frame, bad amount).
pub const EXIT_USAGE: i32 = 2;

/// ecrlink-sim: a till (ECR) simulator, a bank simulator and a frame decoder for developers
/// who connect a cash register to a card terminal.
#[derive(Debug, Parser)]
#[command(name = "ecrlink-sim", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Payment: `sale --amount 12.50 --currency CZK [--vs SYMBOL]`.
    Sale(tillcli::MoneyCmd),
    /// Payment with cash back: `cashback --amount 50 --cashback 20 --currency CZK`.
    Cashback(tillcli::CashbackCmd),
    /// Reversal (void) of a transaction by its approval code.
    Reversal(tillcli::ReversalCmd),
    /// Refund to the card.
    Refund(tillcli::MoneyCmd),
    /// Close totals (end of day) with the bank.
    CloseTotals(tillcli::TillArgs),
    /// Subtotals: the totals of the open batch, nothing closed.
    Subtotals(tillcli::TillArgs),
    /// Last sums: the totals of the last closed batch.
    LastSums(tillcli::TillArgs),
    /// Check that the terminal answers.
    TestTerminal(tillcli::TillArgs),
    /// Check the terminal's connection to the bank.
    TestBank(tillcli::TillArgs),
    /// Print the last receipt again.
    ///
    /// ČSOB: the terminal's last receipt is transferred (B3/B4), marked DUPLICATE, and shown;
    /// Concert terminals print their own receipts and have no reprint request.
    Reprint(tillcli::TillArgs),
    /// The terminal's last transaction: what it was and how it ended.
    ///
    /// Prints e.g. "Last transaction: refund 12.00 CZK — approved" (`last_kind` in --json).
    /// A terminal that does not say what its last transaction was (a ČSOB terminal without
    /// ecrlink's K field) gives "12.00 CZK (kind not reported by the terminal)". The exit status
    /// is that transaction's outcome, as for a sale (0 approved, 1 declined or refused, …), and
    /// 1 when the terminal has none. ČSOB only (T82): Concert cannot ask.
    Last(tillcli::TillArgs),
    /// ZVT pre-authorisation: reserve an amount on the card (06 22), nothing charged yet.
    ///
    /// An EV charger reserves the most a session may cost, e.g. `reserve --amount 50
    /// --currency EUR --terminal 127.0.0.1:20007 --dialect zvt`; the answer gives the
    /// reservation's receipt number. Then either `book-total` the final amount,
    /// `partial-reversal` the unused part, or `pre-auth-reversal` to release it all.
    Reserve(tillcli::ReserveCmd),
    /// ZVT: book the final amount of a reservation (06 24); the rest is released.
    ///
    /// `book-total --receipt-no 12 --amount 31.40 --currency EUR …`: at most the reserved
    /// amount. A receipt number that names no open reservation (unknown, booked or released)
    /// is refused with ZVT code B8, an amount over the reservation with B7.
    BookTotal(tillcli::PreAuthCmd),
    /// ZVT: release the unused part of a reservation and book the rest (06 23).
    ///
    /// `--amount` is what is released (given back to the card): the reserved amount less what
    /// was used, as EV chargers send it. `partial-reversal --receipt-no 12 --amount 18.60
    /// --currency EUR …` on a 50.00 reservation books 31.40.
    PartialReversal(tillcli::PreAuthCmd),
    /// ZVT: release a whole reservation (06 25), e.g. a charging session that never started.
    PreAuthReversal(tillcli::ReceiptCmd),
    /// List the configured terminals and which one this computer/user gets.
    Terminals(tillcli::TerminalsArgs),
    /// Bank simulator + terminal + till in one process: a short shop day, receipts, a summary.
    Demo(crate::demo::DemoArgs),
    /// Many tills against many agents and the bank simulator: throughput and latency percentiles.
    Load(crate::load::LoadArgs),
    /// Decode one captured frame (hex) of any dialect and print it as JSON.
    Decode(decode::DecodeArgs),
    /// Run the ISO 8583 bank (acquirer) simulator: `bank --listen 127.0.0.1:5000 [--rules FILE]`.
    Bank(crate::bank::BankArgs),
}

/// Runs the command line and returns the process exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Decode(args) => decode::run(&args),
        Command::Bank(args) => crate::bank::run(&args),
        Command::Terminals(args) => tillcli::terminals(&args),
        Command::Demo(args) => crate::demo::run(&args),
        Command::Load(args) => crate::load::run_cli(&args),
        other => tillcli::run(other),
    }
}
