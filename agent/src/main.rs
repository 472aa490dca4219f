//! The `ecrlink-agent` binary.

fn main() {
    eprintln!("ecrlink-agent: not yet implemented");
    std::process::exit(2);
}
