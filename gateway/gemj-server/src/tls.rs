//! HTTPS on the gateway's own listener (`server.tls`): the certificate chain and key read from
//! PEM files into a rustls 0.23 server configuration on aws-lc-rs (TLS 1.2 and 1.3, no client
//! certificates). Every problem with the files is an error naming the key and the file, so the
//! start stops (exit code 2) rather than serve plain HTTP where HTTPS was asked for.

use std::sync::Arc;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// The server configuration of `tls`; `None` when HTTPS is not configured.
///
/// # Errors
/// When a file cannot be read, holds no certificate or no key, or the key is not the
/// certificate's.
pub fn server_config(tls: &TlsConfig) -> anyhow::Result<Option<rustls::ServerConfig>> {
    if !tls.enabled() {
        return Ok(None);
    }
    let cert_at = format!("server.tls.certificate ({})", tls.certificate.display());
    let chain = CertificateDer::pem_file_iter(&tls.certificate)
        .with_context(|| format!("{cert_at}: cannot read"))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{cert_at}: not PEM certificates"))?;
    anyhow::ensure!(!chain.is_empty(), "{cert_at}: no PEM certificate in it");
    let key = PrivateKeyDer::from_pem_file(&tls.private_key).with_context(|| {
        format!(
            "server.tls.private_key ({}): no PEM private key read",
            tls.private_key.display()
        )
    })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("server.tls: TLS versions")?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .context("server.tls: the certificate and key were refused (is the key the certificate's?)")?;
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for 127.0.0.1 and its key, in PEM.
    fn certified() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .and_then(|p| p.self_signed(&key))
            .unwrap_or_else(|e| panic!("{e}"));
        (cert.pem(), key.serialize_pem())
    }

    fn files(dir: &std::path::Path, cert: &str, key: &str) -> TlsConfig {
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, cert).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&k, key).unwrap_or_else(|e| panic!("{e}"));
        TlsConfig {
            certificate: c,
            private_key: k,
        }
    }

    fn refused(tls: &TlsConfig) -> String {
        match server_config(tls) {
            Ok(_) => panic!("accepted: {tls:?}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn a_matching_pair_configures_https_and_none_is_plain_http() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (cert, key) = certified();
        let config =
            server_config(&files(dir.path(), &cert, &key)).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(config.is_some());
        assert!(matches!(server_config(&TlsConfig::default()), Ok(None)));
    }

    #[test]
    fn unreadable_empty_or_mismatched_files_are_refused_naming_the_key() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (cert, key) = certified();
        let (_, other_key) = certified();
        let missing = TlsConfig {
            certificate: dir.path().join("absent.pem"),
            private_key: dir.path().join("absent.key"),
        };
        assert!(
            refused(&missing).contains("server.tls.certificate"),
            "{}",
            refused(&missing)
        );
        let no_cert = files(dir.path(), "not a certificate", &key);
        assert!(
            refused(&no_cert).contains("no PEM certificate"),
            "{}",
            refused(&no_cert)
        );
        let no_key = files(dir.path(), &cert, "");
        assert!(
            refused(&no_key).contains("server.tls.private_key"),
            "{}",
            refused(&no_key)
        );
        let mismatched = files(dir.path(), &cert, &other_key);
        assert!(
            refused(&mismatched).contains("is the key the certificate's"),
            "{}",
            refused(&mismatched)
        );
    }
}
