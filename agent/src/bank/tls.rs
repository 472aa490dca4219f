//! Optional TLS on the bank link (rustls, ring provider). The agent is the TLS client: it
//! trusts only the certificate authorities in `--bank-tls-ca` (a PEM file) and checks the
//! bank's certificate against `--bank-tls-name` (default: the host part of `--bank`).
//! TLS 1.3 only; mutual TLS when a client certificate and key are given (`--bank-tls-cert`,
//! `--bank-tls-key`).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// TLS settings of the bank link, ready to connect.
#[derive(Clone)]
pub struct BankTls {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl std::fmt::Debug for BankTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankTls").field("name", &self.name).finish()
    }
}

impl BankTls {
    /// Trusts the certificates in the PEM file `ca` and expects the bank's certificate to name
    /// `name` (a DNS name or an IP address).
    pub fn new(ca: &Path, name: &str) -> anyhow::Result<Self> {
        Self::with_client(ca, name, None)
    }

    /// As [`BankTls::new`], and presents the client certificate chain and private key of
    /// `client` (PEM files: certificate, key) when the bank asks for one (mutual TLS).
    pub fn with_client(
        ca: &Path,
        name: &str,
        client: Option<(&Path, &Path)>,
    ) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
            .with_context(|| format!("reading {}", ca.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("parsing {}", ca.display()))?;
        if certs.is_empty() {
            anyhow::bail!("{}: no certificate in the file", ca.display());
        }
        for c in certs {
            roots
                .add(c)
                .with_context(|| format!("{}: unusable certificate", ca.display()))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .context("TLS protocol versions")?
            .with_root_certificates(roots);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = read_certs(cert)?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .with_context(|| format!("reading the private key {}", key.display()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .context("client certificate and key do not go together")?
            }
        };
        let name = ServerName::try_from(name.to_string())
            .with_context(|| format!("bank TLS name {name:?} is not a DNS name or IP address"))?;
        Ok(BankTls {
            connector: TlsConnector::from(Arc::new(config)),
            name,
        })
    }

    /// The TLS protocol version of this configuration: always TLS 1.3.
    pub const VERSION: &'static str = "TLS 1.3";

    /// The host part of a `HOST:PORT` bank address (brackets of an IPv6 address removed).
    pub fn host_of(addr: &str) -> &str {
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        host.trim_start_matches('[').trim_end_matches(']')
    }

    /// Runs the TLS handshake over `tcp`.
    pub async fn connect(
        &self,
        tcp: TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        self.connector.connect(self.name.clone(), tcp).await
    }
}

/// The certificates of a PEM file; none is an error.
pub fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing {}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no certificate in the file", path.display());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_strips_port_and_brackets() {
        assert_eq!(BankTls::host_of("bank.example:5000"), "bank.example");
        assert_eq!(BankTls::host_of("127.0.0.1:5000"), "127.0.0.1");
        assert_eq!(BankTls::host_of("[::1]:5000"), "::1");
    }

    #[test]
    fn a_file_without_certificates_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a certificate\n").unwrap();
        assert!(BankTls::new(&p, "bank.example").is_err());
        assert!(BankTls::new(&dir.path().join("missing.pem"), "bank.example").is_err());
    }
}
