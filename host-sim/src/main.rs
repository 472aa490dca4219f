//! The `ecrlink-sim` binary.

fn main() {
    std::process::exit(ecrlink_host_sim::cli::main());
}
