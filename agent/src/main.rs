//! The `ecrlink-agent` binary.

fn main() {
    std::process::exit(ecrlink_agent::cli::main());
}
