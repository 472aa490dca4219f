//! One active till session: a second till connection drops the first; the sale in flight on
//! the dropped connection still completes, is journaled, and is what "last transaction"
//! answers the new till.

mod agent_common;

use std::io::Read;
use std::time::Duration;

use agent_common::{Bank, Ecr, EcrEnd, ask, czk, start_agent};
use ecrlink_core::session::EcrEvent;
use ecrlink_core::txn::{Outcome, Reference, Request, RequestKind};

#[test]
fn second_till_drops_the_first_and_learns_the_sale_through_last_transaction() {
    let bank = Bank::spawn(None);
    // The card takes 1.5 s to come: the sale is in flight when the second till connects.
    let (agent, _dir) = start_agent(&bank, &["csob@127.0.0.1:0"], &["--card-delay", "1500ms"]);
    let addr = agent.addr("csob");

    let mut first = Ecr::connect("csob", addr);
    let sale = Request::Sale {
        amount: czk(4_200),
        reference: Some(Reference::new("ORDER-7").unwrap()),
    };
    let end = first.run_until(&sale, Duration::from_secs(5), |e| {
        matches!(e, EcrEvent::Accepted)
    });
    assert!(matches!(end, EcrEnd::Stopped), "sale not accepted: {end:?}");

    // The second till: its request waits for the sale in flight (one transaction at a time).
    let last = ask("csob", addr, &Request::LastTransaction);
    // The last transaction's own answer: it says it was a sale (ČSOB `K`, issue 15 point 7).
    assert_eq!(last.kind, RequestKind::Sale);
    assert_eq!(last.outcome, Outcome::Approved, "{last:?}");
    assert_eq!(last.amount, Some(czk(4_200)));
    assert_eq!(last.reference.as_ref().map(|r| r.as_str()), Some("ORDER-7"));

    // The first connection was dropped by the agent.
    first
        .stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 256];
    let mut closed = false;
    for _ in 0..20 {
        match first.stream.read(&mut buf) {
            Ok(0) | Err(_) => {
                closed = true;
                break;
            }
            Ok(_) => continue,
        }
    }
    assert!(closed, "the older till connection stayed open");

    // The bank saw exactly one sale, approved.
    let auths = bank.auths();
    assert_eq!(auths.len(), 1, "{auths:#?}");
    assert_eq!(auths[0]["state"], "approved");
    assert_eq!(auths[0]["amount"], 4_200);
}
