//! The file formats the README shows are the ones the binaries read: every TOML example in
//! README.md parses with the code that reads that file (`terminals.toml`, `--cards`, the
//! bank's `--rules`), and the install and exit-status facts are there.

use std::path::Path;
use std::time::Duration;

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(path).unwrap()
}

fn toml_blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").unwrap();
        out.push(body[..end].to_string());
        rest = &body[end + 3..];
    }
    out
}

#[test]
fn every_toml_example_in_the_readme_parses() {
    let text = readme();
    let blocks = toml_blocks(&text);
    let (mut terminals, mut cards, mut rules, mut policies) = (0, 0, 0, 0);
    for b in &blocks {
        if b.contains("[[terminal]]") {
            ecrlink_host_sim::config::Config::parse(b, Path::new("README terminals.toml"))
                .unwrap_or_else(|e| panic!("{e}\n{b}"));
            terminals += 1;
        } else if b.contains("[[card]]") {
            ecrlink_agent::card::SimulatedReader::parse(b, Duration::from_millis(10))
                .unwrap_or_else(|e| panic!("{e:#}\n{b}"));
            cards += 1;
        } else if b.contains("[policy]") {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("agent.toml");
            std::fs::write(&file, b).unwrap();
            let (f, _) = ecrlink_agent::config::FileConfig::load_text(&file)
                .unwrap_or_else(|e| panic!("{e:#}\n{b}"));
            let mut policy = ecrlink_agent::config::default_policy();
            f.policy
                .unwrap()
                .apply(
                    &mut policy,
                    ecrlink_core::txn::Currency::EUR,
                    b,
                    Path::new("README agent.toml"),
                )
                .unwrap_or_else(|e| panic!("{e:#}\n{b}"));
            assert!(policy.merchant_pin.unwrap().verify(b"4711"), "{b}");
            policies += 1;
        } else if b.contains("[[rule]]") {
            ecrlink_host_sim::bank::Rules::parse(b).unwrap_or_else(|e| panic!("{e:#}\n{b}"));
            rules += 1;
        }
    }
    assert!(
        terminals >= 1 && cards >= 1 && rules >= 1 && policies >= 1,
        "{blocks:?}"
    );
}

#[test]
fn the_readme_says_how_to_install_and_what_last_exits_with() {
    let text = readme();
    assert!(text.contains("cargo install --path host-sim"));
    assert!(text.contains("cargo install --path agent"));
    assert!(text.contains("For `last` the exit status is the outcome of the terminal's last"));
    assert!(text.contains("### What each dialect supports"));
    assert!(text.contains("ecrlink-sim bank --help"));
}
