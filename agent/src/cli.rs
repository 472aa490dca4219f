//! The `ecrlink-agent` command line.

/// Runs the agent's command line and returns the process exit status.
pub fn main() -> i32 {
    eprintln!("ecrlink-agent: not yet implemented");
    2
}
