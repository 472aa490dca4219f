//! `ecrlink-sim terminals` as a real process: which terminal a computer or a user gets from the
//! config file, case-sensitive computer names, and the remote-desktop client name winning.

use std::path::Path;
use std::process::Command;

const SHOP: &str = r#"
selection = "by-computer"

[[terminal]]
alias = "front"
address = "127.0.0.1:1"
dialect = "csob"
computers = ["POS-1"]
users = ["alice"]

[[terminal]]
alias = "back"
address = "127.0.0.1:2"
dialect = "concert"
computers = ["Kasa2"]
users = ["bob"]
"#;

fn write_config(dir: &Path, selection: &str) -> std::path::PathBuf {
    let path = dir.join("terminals.toml");
    std::fs::write(&path, SHOP.replace("by-computer", selection)).unwrap();
    path
}

/// Runs `terminals --json` with a controlled environment: `vars` set, the other identity
/// variables removed.
fn terminals(config: &Path, vars: &[(&str, &str)]) -> (i32, serde_json::Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecrlink-sim-e2e"));
    cmd.args(["terminals", "--json", "--config"]).arg(config);
    for v in ["CLIENTNAME", "COMPUTERNAME", "USER", "USERNAME", "LOGNAME"] {
        cmd.env_remove(v);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("spawn ecrlink-sim");
    let code = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout} / {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, json)
}

#[test]
fn by_computer_name_exact_case() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "by-computer");
    let (code, v) = terminals(&cfg, &[("COMPUTERNAME", "Kasa2")]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["selected"], "back");
    assert_eq!(v["computer"]["name"], "Kasa2");
    let selected: Vec<&str> = v["terminals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["selected"] == true)
        .map(|t| t["alias"].as_str().unwrap())
        .collect();
    assert_eq!(selected, ["back"]);

    // Case matters: "kasa2" is another computer, with no terminal.
    let (code, v) = terminals(&cfg, &[("COMPUTERNAME", "kasa2")]);
    assert_eq!(code, 2, "{v}");
    assert!(v["selected"].is_null());
    assert!(v["why"].as_str().unwrap().contains("kasa2"), "{v}");
}

#[test]
fn remote_desktop_client_name_wins_over_the_server_name() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "by-computer");
    let (code, v) = terminals(&cfg, &[("COMPUTERNAME", "Kasa2"), ("CLIENTNAME", "POS-1")]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["selected"], "front");
    assert_eq!(v["computer"]["source"], "CLIENTNAME");
}

#[test]
fn by_user() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "by-user");
    let (code, v) = terminals(&cfg, &[("USER", "bob"), ("COMPUTERNAME", "POS-1")]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["selected"], "back");
    assert_eq!(v["selection"], "by-user");
    let (code, v) = terminals(&cfg, &[("USER", "Bob")]);
    assert_eq!(code, 2, "{v}");
}

#[test]
fn human_listing_marks_the_selected_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "by-computer");
    let out = Command::new(env!("CARGO_BIN_EXE_ecrlink-sim-e2e"))
        .args(["terminals", "--config"])
        .arg(&cfg)
        .env_remove("CLIENTNAME")
        .env("COMPUTERNAME", "POS-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let marked: Vec<&str> = text.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(
        marked[0].contains("front") && marked[0].contains("127.0.0.1:1"),
        "{text}"
    );
    assert!(text.contains("this till uses: front"), "{text}");
}

#[test]
fn broken_config_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "selection = \"by-mood\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ecrlink-sim-e2e"))
        .args(["terminals", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: bad config"), "{err}");
}

#[test]
fn config_errors_name_the_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("terminals.toml");
    for (text, at, says) in [
        (
            "selection = \"single\"\n[[terminal]]\nalias = \"a\"\naddress = 5\ndialect = \"csob\"\n",
            ":4:11: ",
            "expected a string",
        ),
        (
            "selection = \"single\"\n[[terminal]]\nalias = \"a\"\naddress = \"1.2.3.4:5\"\ndialect = \"gpe\"\n",
            ":5:11: ",
            "unknown dialect 'gpe'",
        ),
        (
            "selection = \"single\"\n\n[[terminal]]\nalias = \"a\"\naddress = \"1.2.3.4\"\ndialect = \"csob\"\n",
            ":5:11: ",
            "no port",
        ),
        (
            "selection = \"single\"\ndefault = \"zz\"\n[[terminal]]\nalias = \"a\"\naddress = \"1.2.3.4:5\"\ndialect = \"csob\"\n",
            ":2:11: ",
            "default 'zz' is not a terminal alias",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_ecrlink-sim-e2e"))
            .args(["terminals", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.starts_with(&format!("error: bad config {}{at}", path.display()))
                && err.contains(says),
            "{at} {says}: {err}"
        );
    }
}

#[test]
fn without_a_config_terminals_says_where_it_goes_and_prints_a_working_sample() {
    let home = tempfile::tempdir().unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_ecrlink-sim-e2e"))
            .arg("terminals")
            .env("XDG_CONFIG_HOME", home.path())
            .env("HOME", home.path())
            .env_remove("ECRLINK_CONFIG")
            .env("COMPUTERNAME", "SOMEWHERE-ELSE")
            .env_remove("CLIENTNAME")
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let path = home.path().join("ecrlink").join("terminals.toml");
    assert!(err.contains(&path.display().to_string()), "{err}");
    let sample = err
        .split_once("\n\n# ")
        .map(|(_, s)| format!("# {s}"))
        .unwrap();
    assert!(sample.contains("[[terminal]]"), "{err}");
    // The sample works as it is.
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, sample).unwrap();
    let out = run();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("this till uses: counter-1"), "{text}");
    // --help says the same.
    let out = Command::new(env!("CARGO_BIN_EXE_ecrlink-sim-e2e"))
        .args(["terminals", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("ecrlink/terminals.toml") && help.contains("[[terminal]]"),
        "{help}"
    );
}
