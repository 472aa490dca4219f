//! Receipt layout (filled in by the receipts issue): `render(&Response, &Options, &mut impl
//! core::fmt::Write)` at 24/32/42/48 columns, cs/en/fr labels, masked PAN, EMV block.
