//! Shared helpers for the workspace tests (see `tests/tests/`): a fault-injection proxy
//! ([`proxy`]), real agent and bank processes with their journal and ledger ([`procs`]), the
//! audit that compares them ([`audit`]), and the card-number scan ([`pan`]).

pub mod audit;
pub mod pan;
pub mod procs;
pub mod proxy;
