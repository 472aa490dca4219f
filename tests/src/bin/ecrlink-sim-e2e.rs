//! The `ecrlink-sim` binary, built inside the tests package so that end-to-end tests can spawn
//! it as a real process through `env!("CARGO_BIN_EXE_ecrlink-sim-e2e")`.

fn main() {
    std::process::exit(ecrlink_host_sim::cli::main());
}
