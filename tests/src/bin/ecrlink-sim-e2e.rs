//! The `ecrlink-sim` binary, built inside the tests package so that end-to-end tests can spawn
//! it as a real process through `env!("CARGO_BIN_EXE_ecrlink-sim-e2e")`. Unlike the installed
//! `ecrlink-sim`, the agents it runs in process (`demo`, `load`) inject the test fault named
//! by `ECRLINK_AGENT_FAULT` (`ecrlink_agent::crash::FAULTS`).

fn main() {
    ecrlink_agent::crash::enable_faults();
    std::process::exit(ecrlink_host_sim::cli::main());
}
