//! `ecrlink-host-sim`: what till/ERP developers run. A till simulator, a bank (acquirer)
//! simulator, a frame decoder and a one-command demo.

pub mod cli;
pub mod decode;
