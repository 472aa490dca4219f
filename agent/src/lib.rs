//! `ecrlink-agent`: the terminal side. Listens for tills in server mode and runs their
//! requests against the bank link (see the crate README and DESIGN).

pub mod cli;
pub mod printer;
