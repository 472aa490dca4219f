//! Issue 18's "done when": a firmware engineer copies the example from core's docs into a
//! fresh `no_std` crate and answers a sale, without reading the tests.
//!
//! The example of `ecrlink_core::io` ("Example: a till and a terminal answer a sale over a
//! pipe") gives three files: a `Cargo.toml`, a `src/lib.rs` and a host test `tests/sale.rs`.
//! This test takes them from the rustdoc source as a reader sees them (rustdoc's hidden `# `
//! lines left out), makes the crate in a temporary directory with `ecrlink-core` by path,
//! and does what the docs say next: builds the library for `thumbv7em-none-eabihf` and runs
//! `cargo test` on the host. The sales of the `session` and `terminal` docs are built the same
//! way, each as the whole `src/lib.rs` of a crate. A last crate links all three into a
//! `staticlib` for the same target with nothing but a panic handler: that fails if anything in
//! a sale needs `std` or an allocator. When the docs drift from the crate, this fails.
//!
//! The builds go to `target/doc-example-crate` (kept between runs, so only the first run
//! compiles the dependencies). Without the Cortex-M target installed the test says SKIPPED;
//! with `CI=true` it fails instead (`.ci/run` installs the target first).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A code block of a doc comment: its info string (`toml`, ``, `ignore`) and its text as
/// rendered (hidden lines left out).
#[derive(Debug)]
struct Block {
    info: String,
    text: String,
}

/// The code blocks of the `//!` section of `source` under the heading `heading`, up to the
/// next heading of the same level.
fn section_blocks(source: &str, heading: &str) -> Vec<Block> {
    let doc: Vec<&str> = source
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let start = doc
        .iter()
        .position(|l| *l == heading)
        .unwrap_or_else(|| panic!("no heading {heading:?} in the module docs"));
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for line in &doc[start + 1..] {
        match open.as_mut() {
            None if line.starts_with("# ") => break,
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some(Block {
                        info: info.to_string(),
                        text: String::new(),
                    });
                }
            }
            Some(_) if *line == "```" => blocks.push(open.take().unwrap()),
            Some(block) => {
                let rust = !block.info.contains("toml") && !block.info.contains("text");
                let trimmed = line.trim_start();
                // rustdoc hides `# …` and a lone `#` in Rust blocks.
                if rust && (trimmed.starts_with("# ") || trimmed == "#") {
                    continue;
                }
                block.text.push_str(line);
                block.text.push('\n');
            }
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    blocks
}

/// Whether the Rust standard libraries for `target` are installed.
fn have_target(target: &str) -> bool {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc runs");
    let sysroot = String::from_utf8(out.stdout).unwrap();
    Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
}

/// Runs cargo in `dir` with `args`, the shared target directory and no network; panics with
/// cargo's output when it fails.
fn cargo(dir: &Path, args: &[&str]) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(dir)
        .args(args)
        .arg("--offline")
        .env("CARGO_TARGET_DIR", root().join("target/doc-example-crate"))
        .output()
        .expect("cargo runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "cargo {args:?} in {} failed:\n{text}",
        dir.display()
    );
    text
}

const TARGET: &str = "thumbv7em-none-eabihf";

#[test]
fn the_io_doc_example_answers_a_sale_in_a_fresh_no_std_crate() {
    if !have_target(TARGET) {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the {TARGET} target is needed in CI (rustup target add {TARGET})");
        }
        eprintln!("SKIPPED: the {TARGET} target is not installed (rustup target add {TARGET})");
        return;
    }
    let source = std::fs::read_to_string(root().join("core/src/io/mod.rs")).unwrap();
    let blocks = section_blocks(
        &source,
        "# Example: a till and a terminal answer a sale over a pipe",
    );
    // The first three blocks of the section (what follows is about a terminal's main loop).
    let [manifest, lib, host_test, ..] = &blocks[..] else {
        panic!("expected Cargo.toml, src/lib.rs and tests/sale.rs, got {blocks:#?}");
    };
    assert_eq!(manifest.info, "toml", "{blocks:#?}");
    assert_eq!(
        lib.info, "",
        "src/lib.rs must be a doctest that runs: {blocks:#?}"
    );
    assert!(
        lib.text.starts_with("#![no_std]\n"),
        "src/lib.rs as shown must be no_std:\n{}",
        lib.text
    );
    assert!(
        !lib.text.contains("extern crate std") && !lib.text.contains("extern crate alloc"),
        "{}",
        lib.text
    );

    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("sale-demo");
    std::fs::create_dir_all(demo.join("src")).unwrap();
    std::fs::create_dir_all(demo.join("tests")).unwrap();
    // The published version in the docs; by path here. A `[workspace]` of its own keeps the
    // crate out of any workspace around the temporary directory.
    let core_dep = "ecrlink-core = \"0.1\"";
    assert!(manifest.text.contains(core_dep), "{}", manifest.text);
    let core_path = root().join("core");
    let by_path = format!(
        "ecrlink-core = {{ path = {:?} }}",
        core_path.to_str().unwrap()
    );
    let manifest = manifest.text.replace(core_dep, &by_path) + "\n[workspace]\n";
    std::fs::write(demo.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(demo.join("src/lib.rs"), &lib.text).unwrap();
    std::fs::write(demo.join("tests/sale.rs"), &host_test.text).unwrap();
    // The versions this workspace is built and tested with (cargo drops what is not used).
    std::fs::copy(root().join("Cargo.lock"), demo.join("Cargo.lock")).unwrap();

    // "cargo build --target thumbv7em-none-eabihf": the library as shown, with no warning.
    let built = cargo(&demo, &["build", "--target", TARGET]);
    assert!(
        !built.contains("warning"),
        "the example builds with warnings:\n{built}"
    );

    // "cargo test": the sale on the host.
    let tested = cargo(&demo, &["test"]);
    assert!(
        tested.contains("test the_terminal_approves_the_sale ... ok"),
        "{tested}"
    );

    // The other two sales of the docs, each the whole `src/lib.rs` of a crate like the one
    // above: two bare sessions in loops of their own (`session`), and the payment
    // application behind a driver (`terminal`). Built for the target, with no warning.
    let others = [
        (
            "session-demo",
            "core/src/session/mod.rs",
            "# Example: a till session and a terminal session answer a sale over a pipe",
        ),
        (
            "terminal-demo",
            "core/src/terminal/mod.rs",
            "# Example: the application answers a till's sale over a pipe",
        ),
    ];
    for (name, file, heading) in others {
        let source = std::fs::read_to_string(root().join(file)).unwrap();
        let blocks = section_blocks(&source, heading);
        let lib = blocks
            .first()
            .unwrap_or_else(|| panic!("no example in {file}"));
        assert!(
            lib.text.starts_with("#![no_std]\n"),
            "{file}:\n{}",
            lib.text
        );
        let crate_dir = dir.path().join(name);
        std::fs::create_dir_all(crate_dir.join("src")).unwrap();
        let manifest = std::fs::read_to_string(demo.join("Cargo.toml"))
            .unwrap()
            .replace("name = \"sale-demo\"", &format!("name = {name:?}"));
        std::fs::write(crate_dir.join("Cargo.toml"), manifest).unwrap();
        std::fs::write(crate_dir.join("src/lib.rs"), &lib.text).unwrap();
        std::fs::copy(demo.join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
        let built = cargo(&crate_dir, &["build", "--target", TARGET]);
        assert!(
            !built.contains("warning"),
            "{file} builds with warnings:\n{built}"
        );
    }

    // A bare-metal link of the three sales: a staticlib with only a panic handler. rustc
    // refuses it if anything a sale reaches needs std or a global allocator.
    let link = dir.path().join("link-check");
    std::fs::create_dir_all(link.join("src")).unwrap();
    std::fs::write(
        link.join("Cargo.toml"),
        "[package]\nname = \"link-check\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [lib]\ncrate-type = [\"staticlib\"]\n\n\
         [dependencies]\nsale-demo = { path = \"../sale-demo\" }\n\
         session-demo = { path = \"../session-demo\" }\n\
         terminal-demo = { path = \"../terminal-demo\" }\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        link.join("src/lib.rs"),
        "#![no_std]\n\
         /// The docs' sales, callable from C or assembly: 1 when all three are approved.\n\
         #[unsafe(no_mangle)]\n\
         pub extern \"C\" fn doc_sales_approved() -> u8 {\n    \
             let io = sale_demo::sale_over_a_pipe().is_ok_and(|a| a.outcome.is_approved());\n    \
             let session = session_demo::sale().is_ok_and(|a| a.outcome.is_approved());\n    \
             let app = terminal_demo::sale_through_the_application()\n        \
                 .is_ok_and(|a| a.outcome.is_approved());\n    \
             u8::from(io && session && app)\n\
         }\n\n\
         #[panic_handler]\n\
         fn panic(_: &core::panic::PanicInfo) -> ! {\n    loop {}\n}\n",
    )
    .unwrap();
    std::fs::copy(demo.join("Cargo.lock"), link.join("Cargo.lock")).unwrap();
    cargo(&link, &["build", "--release", "--target", TARGET]);
    let archive = root().join(format!(
        "target/doc-example-crate/{TARGET}/release/liblink_check.a"
    ));
    assert!(archive.is_file(), "{} missing", archive.display());
}

#[test]
fn hidden_lines_are_left_out_and_sections_end_at_the_next_heading() {
    // The extractor itself: a test of it failing would make the real test meaningless.
    let source = "//! # A\n//! ```toml\n//! a = 1\n//! ```\n//! ```\n//! #![no_std]\n\
                  //! # extern crate std;\n//! fn f() {}\n//! #\n//! ```\n//! # B\n//! ```\n//! x\n//! ```\n";
    let blocks = section_blocks(source, "# A");
    assert_eq!(blocks.len(), 2, "{blocks:#?}");
    assert_eq!(blocks[0].text, "a = 1\n");
    assert_eq!(blocks[1].text, "#![no_std]\nfn f() {}\n");
}
