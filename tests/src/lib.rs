//! Shared helpers for the workspace tests (see `tests/tests/`): a fault-injection proxy
//! ([`proxy`]), real agent and bank processes with their journal and ledger ([`procs`]), the
//! audit that compares them ([`audit`]), the card-number scan ([`pan`]), and a ČSOB till that
//! behaves like the public ČSOB client ([`csob_client`]).

pub mod audit;
pub mod csob_client;
pub mod pan;
pub mod procs;
pub mod proxy;
pub mod python;
