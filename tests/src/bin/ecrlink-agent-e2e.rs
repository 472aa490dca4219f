//! The agent binary, built inside the tests package so that end-to-end tests can spawn it as a
//! real process through `env!("CARGO_BIN_EXE_ecrlink-agent-e2e")`. Unlike the installed
//! `ecrlink-agent`, it injects the test fault named by `ECRLINK_AGENT_FAULT`
//! (`ecrlink_agent::crash::FAULTS`).

fn main() {
    ecrlink_agent::crash::enable_faults();
    std::process::exit(ecrlink_agent::cli::main());
}
