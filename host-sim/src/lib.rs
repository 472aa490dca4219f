//! `ecrlink-host-sim`: what till/ERP developers run. A till simulator, a bank (acquirer)
//! simulator, a frame decoder and a one-command demo.
//!
//! - [`till`]: the till library — one call per till command ([`till::Till`],
//!   [`till::BlockingTill`]) returning a typed [`till::TillResult`];
//! - [`config`]: the terminals of a shop and which one this computer or user gets;
//! - [`i18n`]: localized result texts (cs, en, fr);
//! - [`log`]: the session log files (`~/PointOfSale/YYYY-MM-DD_hh-mm-ss.log`, PAN masked);
//! - [`demo`], [`load`]: a scripted shop day and a load run against [`world`], a bank
//!   simulator and agents started in this process on loopback ports;
//! - [`bank`]: the ISO 8583 bank simulator; [`decode`]: the frame decoder;
//! - [`cli`]: the `ecrlink-sim` command line on top.

pub mod bank;
pub mod cli;
pub mod config;
pub mod decode;
pub mod demo;
pub mod i18n;
pub mod load;
pub mod log;
pub mod output;
pub mod till;
pub mod tillcli;
pub mod world;
