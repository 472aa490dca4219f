//! The bank link's safe defaults: the MAC key file (read only when its owner alone may read
//! it) and the rule that a bank off this machine needs TLS and a MAC key unless the operator
//! says `--bank-insecure`.

use std::path::Path;

use anyhow::{Context, bail};
use ecrlink_core::bank::MacKey;

use crate::config::Config;

/// Reads a MAC key file: exactly 32 raw bytes, or 64 hex digits (white space around them is
/// ignored). A file that its group or others may read (`mode & 0o077 != 0`) is refused
/// before a byte is read: the key would no longer be the terminal's alone.
pub fn load_mac_key(path: &Path) -> anyhow::Result<MacKey> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("bank MAC key {}", path.display()))?;
    if !meta.is_file() {
        bail!("bank MAC key {}: not a regular file", path.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "bank MAC key {}: mode {mode:03o} lets others read it; refused \
                 (chmod 600 {} and keep it owned by the agent's user)",
                path.display(),
                path.display()
            );
        }
    }
    let bytes = std::fs::read(path).with_context(|| format!("bank MAC key {}", path.display()))?;
    if let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice()) {
        return Ok(MacKey::new(raw));
    }
    MacKey::from_hex(&bytes).map_err(|_| {
        anyhow::anyhow!(
            "bank MAC key {}: expected 64 hex digits (or exactly 32 raw bytes), found {} bytes",
            path.display(),
            bytes.len()
        )
    })
}

/// Whether the host of a `HOST:PORT` address is this machine (`localhost`, 127.0.0.0/8,
/// `::1`). A name other than `localhost` is taken as remote: it may resolve anywhere.
pub fn is_loopback(addr: &str) -> bool {
    let host = super::tls::BankTls::host_of(addr);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The bank-link checks of [`Config::validate`]: a remote bank needs TLS (`--bank-tls-ca`)
/// and a MAC key unless `bank_insecure`; client certificate and key go together; the MAC key
/// file must be readable and private.
pub fn check_link(cfg: &Config) -> anyhow::Result<()> {
    if cfg.bank_tls_cert.is_some() != cfg.bank_tls_key.is_some() {
        bail!("mutual TLS needs both --bank-tls-cert and --bank-tls-key");
    }
    if cfg.bank_tls_cert.is_some() && cfg.bank_tls_ca.is_none() {
        bail!("--bank-tls-cert needs --bank-tls-ca (the bank's certificate authority)");
    }
    if let Some(p) = &cfg.bank_mac_key {
        load_mac_key(p)?;
    }
    let Some(bank) = cfg.bank.as_deref() else {
        return Ok(());
    };
    if is_loopback(bank) || cfg.bank_insecure {
        return Ok(());
    }
    if cfg.bank_tls_ca.is_none() {
        bail!(
            "bank {bank} is not on this machine: its link must use TLS (--bank-tls-ca FILE \
             with the bank's certificate authority); --bank-insecure allows plain TCP"
        );
    }
    if cfg.bank_mac_key.is_none() {
        bail!(
            "bank {bank} is not on this machine: every message must carry a MAC \
             (--bank-mac-key FILE); --bank-insecure allows none"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn key_files_hex_or_raw_and_private_only() {
        let dir = tempfile::tempdir().unwrap();
        let hex = "ab".repeat(32) + "\n";
        let k = load_mac_key(&write(dir.path(), "hex", hex.as_bytes(), 0o600)).unwrap();
        assert_eq!(k, MacKey::new([0xab; 32]));
        let k = load_mac_key(&write(dir.path(), "raw", &[7; 32], 0o400)).unwrap();
        assert_eq!(k, MacKey::new([7; 32]));
        for mode in [0o644, 0o640, 0o604, 0o660] {
            let e = load_mac_key(&write(dir.path(), "open", hex.as_bytes(), mode)).unwrap_err();
            assert!(
                e.to_string().contains("lets others read it"),
                "{mode:o}: {e}"
            );
        }
        assert!(load_mac_key(&write(dir.path(), "short", b"abcd", 0o600)).is_err());
        assert!(load_mac_key(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn remote_banks_need_tls_and_a_mac_key() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("10.0.0.5:5000"));
        assert!(!is_loopback("bank.example:5000"));
        let mut cfg = Config {
            bank: Some("10.0.0.5:5000".into()),
            ..Config::default()
        };
        assert!(check_link(&cfg).unwrap_err().to_string().contains("TLS"));
        cfg.bank_insecure = true;
        assert!(check_link(&cfg).is_ok());
        cfg.bank = Some("127.0.0.1:5000".into());
        cfg.bank_insecure = false;
        assert!(check_link(&cfg).is_ok());
    }
}
