//! Puts memory.x, and device.x (the interrupt handlers' default names: none here, every
//! interrupt goes to `DefaultHandler`), where cortex-m-rt's link.x finds them.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("copy memory.x");
    fs::write(
        out.join("device.x"),
        "/* every interrupt: DefaultHandler (src/main.rs) */\n",
    )
    .expect("write device.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
}
