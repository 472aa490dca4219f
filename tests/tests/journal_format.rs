//! Journal format versions end to end, on real processes: an agent upgraded over a journal
//! written before files had a header (format 0, the committed fixture) starts, keeps what the
//! old journal owed (reversals, trace block, last transaction, last close) and forwards the
//! reversals; a journal file of a newer format stops the agent with exit status 3 and a clear
//! message, untouched, unless `--journal-reset-incompatible` moves it aside.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ecrlink_core::journal::{FORMAT_VERSION, Reader, file_header, header::file_header_for};
use ecrlink_tests::audit::read_journal;
use ecrlink_tests::procs::{AgentProc, AgentSpec, BankProc, Bins, TERMINAL_ID, sale_args, till};

const BINS: Bins = Bins {
    agent: env!("CARGO_BIN_EXE_ecrlink-agent-e2e"),
    sim: env!("CARGO_BIN_EXE_ecrlink-sim-e2e"),
};

/// The format 0 journal written by the code before the header existed (see its README).
const V0: &[u8] = include_bytes!("../../core/src/journal/fixtures/journal-v0.log");

fn case_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("journal-format")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn an_agent_upgraded_over_a_format_0_journal_keeps_what_it_owed() {
    let dir = case_dir("v0");
    let bank = BankProc::spawn(BINS, &dir.join("bank"), None);
    let journal = dir.join("agent").join("journal");
    std::fs::create_dir_all(&journal).unwrap();
    std::fs::write(journal.join("journal-00000007.log"), V0).unwrap();

    let agent = AgentProc::spawn(
        BINS,
        &dir.join("agent"),
        &AgentSpec::new(&["csob"], bank.addr),
    )
    .expect("the agent starts on a format 0 journal");
    let addr = agent.addr("csob");

    // The two reversals the old journal owed reach the bank (which never saw the originals:
    // it answers "25", which the agent takes as the acknowledgement) and are journaled done.
    let (ledger, ok) = bank.wait_for(Duration::from_secs(10), |l| {
        l["unmatched_reversals"].as_u64() >= Some(2)
    });
    assert!(ok, "reversals owed by the old journal not sent: {ledger}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut view = read_journal(&journal);
    while !view.state.checkpoint.pending.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        view = read_journal(&journal);
    }
    assert!(
        view.state.checkpoint.pending.is_empty(),
        "reversals still pending: {:?}",
        view.state.checkpoint.pending
    );
    let log = std::fs::read_to_string(dir.join("agent").join("agent.log")).unwrap();
    for stan in [1, 3] {
        assert!(
            log.lines()
                .any(|l| l.contains("reversal acknowledged by the bank")
                    && l.contains(&format!("original={stan} "))),
            "no acknowledged reversal of trace {stan} in the log"
        );
    }
    assert!(
        log.contains("older format"),
        "the migration is not reported"
    );

    // Last transaction: the sale the old agent died in, cancelled (42.00 CZK).
    let logs = dir.join("till-logs");
    let last = till(BINS, "csob", addr, &["last"], 5, &logs);
    assert_eq!(last.json["amount_minor"], 4200, "{}", last.json);
    assert_eq!(last.outcome(), "cancelled", "{}", last.json);

    // A new sale continues the batch and the trace block: trace ≥ 101, never 1..=100 again.
    let args = sale_args("csob", 777);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let sale = till(BINS, "csob", addr, &args, 8, &logs);
    assert_eq!(sale.outcome(), "approved", "{}", sale.json);
    let auth = bank
        .auths()
        .into_iter()
        .find(|a| a["amount"] == 777)
        .expect("the sale reached the bank");
    assert_eq!(auth["terminal"], TERMINAL_ID);
    let stan = auth["stan"].as_u64().unwrap();
    assert!(stan >= 101, "trace {stan} reuses the old journal's block");
    let view = read_journal(&journal);
    assert_eq!(view.state.checkpoint.batch, 3);
    let czk = &view.state.checkpoint.totals.currencies[0];
    assert_eq!(
        (czk.debit_count, czk.debit_minor),
        (2, 1250 + 777),
        "the old batch's sale and the new one"
    );
    assert_eq!(
        view.state.checkpoint.last_close.as_ref().map(|c| c.batch),
        Some(2)
    );

    // On disk: the old file kept as it was, the state in a file of the current format, no
    // bad tail set aside.
    let files = names(&journal);
    assert!(files.iter().all(|n| !n.contains(".bad-")), "{files:?}");
    assert_eq!(
        std::fs::read(journal.join("journal-00000007.log.format0")).unwrap(),
        V0
    );
    let current = std::fs::read(journal.join("journal-00000008.log")).unwrap();
    assert_eq!(&current[..file_header().len()], &file_header());
    assert_eq!(Reader::new(&current).unwrap().version(), FORMAT_VERSION);
}

/// Runs the agent on `journal` until it exits (it must, within 20 s); status and stderr.
fn run_agent_to_exit(journal: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let err = journal.with_extension("stderr");
    let mut child = Command::new(BINS.agent)
        .args(["--terminal-id", TERMINAL_ID, "--listen", "csob@127.0.0.1:0"])
        .arg("--journal")
        .arg(journal)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the agent started on a journal it cannot read");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), std::fs::read_to_string(&err).unwrap())
}

#[test]
fn a_newer_format_stops_the_agent_untouched_unless_reset() {
    let dir = case_dir("newer");
    let journal = dir.join("journal");
    std::fs::create_dir_all(&journal).unwrap();
    let newer = FORMAT_VERSION + 1;
    let mut bytes = file_header_for(newer).to_vec();
    bytes.extend_from_slice(V0);
    let file = journal.join("journal-00000005.log");
    std::fs::write(&file, &bytes).unwrap();

    let (code, stderr) = run_agent_to_exit(&journal, &[]);
    assert_eq!(code, Some(3), "exit status; stderr: {stderr}");
    let expected = format!("journal format {newer} was written by a newer agent");
    assert!(stderr.contains(&expected), "stderr: {stderr}");
    assert!(stderr.contains("journal-00000005.log"), "stderr: {stderr}");
    assert!(
        stderr.contains("--journal-reset-incompatible"),
        "stderr: {stderr}"
    );
    assert_eq!(names(&journal), ["journal-00000005.log"], "nothing added");
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "nothing changed");

    // The flag is documented in --help.
    let help = Command::new(BINS.agent).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--journal-reset-incompatible"), "{help}");

    // With the flag: moved aside whole, and the agent starts on an empty journal.
    let dir2 = dir.join("reset");
    let bank = BankProc::spawn(BINS, &dir2.join("bank"), None);
    let agent_dir = dir2.join("agent");
    std::fs::create_dir_all(agent_dir.join("journal")).unwrap();
    std::fs::write(
        agent_dir.join("journal").join("journal-00000005.log"),
        &bytes,
    )
    .unwrap();
    let agent = AgentProc::spawn(
        BINS,
        &agent_dir,
        &AgentSpec::new(&["csob"], bank.addr).arg(&["--journal-reset-incompatible"]),
    )
    .expect("the agent starts with the flag");
    let files = names(&agent.journal);
    assert_eq!(
        files,
        [
            format!("journal-00000005.log.incompatible-v{newer}"),
            "journal-00000006.log".to_string()
        ]
    );
    assert_eq!(
        std::fs::read(agent.journal.join(&files[0])).unwrap(),
        bytes,
        "moved aside whole"
    );
    let view = read_journal(&agent.journal);
    assert_eq!(view.state.checkpoint.batch, 1, "an empty journal");
    assert!(view.state.checkpoint.pending.is_empty());
    let log = std::fs::read_to_string(agent_dir.join("agent.log")).unwrap();
    assert!(log.contains("moved aside"), "not reported: {log}");
}
