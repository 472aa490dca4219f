//! Every transaction type end to end: a real agent process, a real bank simulator process and
//! a till on a loopback socket.

mod agent_common;

use agent_common::{Agent, Bank, ask, eur, sale};
use ecrlink_core::txn::{Outcome, Request, RequestKind};

fn start(bank: &Bank, extra: &[&str]) -> (Agent, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let bank_addr = bank.addr.to_string();
    let mut args = vec![
        "--listen",
        "concert@127.0.0.1:0",
        "--bank",
        &bank_addr,
        "--card-delay",
        "20ms",
    ];
    args.extend_from_slice(extra);
    let agent = Agent::spawn(&args, &dir.path().join("journal"));
    (agent, dir)
}

#[test]
fn concert_sale_refund_and_decline_against_the_bank() {
    let bank = Bank::spawn(None);
    let (agent, _dir) = start(&bank, &[]);
    let addr = agent.addr("concert");

    let r = ask("concert", addr, &sale(1250));
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(r.amount, Some(eur(1250)));

    let r = ask(
        "concert",
        addr,
        &Request::Refund {
            amount: eur(300),
            reference: None,
        },
    );
    assert_eq!(r.outcome, Outcome::Approved, "{r:?}");
    assert_eq!(r.kind, RequestKind::Refund);

    // Declined by the bank's default rule (an amount ending in .51).
    let r = ask("concert", addr, &sale(751));
    assert!(matches!(r.outcome, Outcome::Declined { .. }), "{r:?}");

    let auths = bank.auths();
    assert_eq!(auths.len(), 3, "{auths:#?}");
    assert_eq!(auths[0]["kind"], "sale");
    assert_eq!(auths[0]["amount"], 1250);
    assert_eq!(auths[0]["state"], "approved");
    assert_eq!(auths[0]["pan"], "476173******0119");
    assert_eq!(auths[1]["kind"], "refund");
    assert_eq!(auths[2]["code"], "51");
    assert_eq!(auths[2]["state"], "declined");
}
