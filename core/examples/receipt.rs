//! Lays out a sample receipt the way firmware would: into a fixed stack buffer, no heap.
//!
//! `cargo run -p ecrlink-core --example receipt -- [WIDTH] [cs|en|fr] [merchant|customer]`

use ecrlink_core::receipt::{self, CopyKind, Lang, MAX_RECEIPT_BYTES, Merchant, ReceiptOptions};
use ecrlink_core::txn::{
    Amount, ApprovalCode, CardScheme, Currency, EntryMode, Money, Outcome, Pan, RequestKind,
    Response, Timestamp,
};

fn main() -> Result<(), ecrlink_core::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let width = args.first().and_then(|w| w.parse().ok()).unwrap_or(32);
    let lang = args
        .get(1)
        .and_then(|l| Lang::from_code(l))
        .unwrap_or(Lang::Cs);
    let copy = match args.get(2).map(String::as_str) {
        Some("merchant") => CopyKind::Merchant,
        _ => CopyKind::Customer,
    };

    // What the terminal answered for a chip sale with 200 CZK cash back.
    let mut response = Response::new(RequestKind::SaleWithCashback, Outcome::Approved);
    response.amount = Some(Money::new(45_900, Currency::CZK)?);
    response.cashback = Some(Amount::new(20_000)?);
    response.pan = Some(Pan::new("5413330089020011")?.masked());
    response.scheme = Some(CardScheme::Mastercard);
    response.entry_mode = Some(EntryMode::Chip);
    response.approval_code = Some(ApprovalCode::new("774411")?);
    response.timestamp = Some(Timestamp::new(2026, 11, 25, 18, 2, 44)?);
    response.trace = Some(311);

    let options = ReceiptOptions {
        width,
        lang,
        copy,
        duplicate: false,
        merchant: Merchant {
            name: "Potraviny U Nádraží",
            address: &["Nádražní 5", "602 00 Brno"],
            terminal_id: "T0000007",
            merchant_id: "CZ0007",
        },
    };
    let mut text = heapless::String::<MAX_RECEIPT_BYTES>::new();
    receipt::render(&response, &options, &mut text)?;
    print!("{text}");
    Ok(())
}
