//! Throwaway Python venvs with pinned PyPI packages for the suites that run public Python
//! libraries as a till or a decoder (pyTeliumManager, pypostelium, pyiso8583), made by
//! `tests/python/venv.sh` under `target/NAME/venv`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The python of venv `name` holding the packages `pins` (e.g. `["pyiso8583==4.0.1"]`), made
/// once per test binary. `None`, after printing `SKIPPED: …`, when it cannot be made outside
/// CI; in CI (`CI=true`) that is a failure: `what` names the venv in the panic message.
pub fn venv(name: &str, pins: &[&str], what: &str) -> Option<PathBuf> {
    static MADE: OnceLock<Mutex<HashMap<String, Result<PathBuf, String>>>> = OnceLock::new();
    let mut made = MADE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let result = made
        .entry(name.to_string())
        .or_insert_with(|| make(name, pins))
        .clone();
    drop(made);
    match result {
        Ok(p) => Some(p),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("the {what} venv is needed in CI: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: no venv with {what} ({e})");
            None
        }
    }
}

fn make(name: &str, pins: &[&str]) -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/venv.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(name)
        .args(pins)
        .output()
        .map_err(|e| format!("cannot run venv.sh: {e}"))?;
    if out.status.success() {
        Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    } else {
        Err(format!(
            "venv.sh failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
