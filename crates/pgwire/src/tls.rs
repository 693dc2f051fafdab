//! TLS for the Postgres endpoint: a rustls acceptor (ring provider) from a
//! PEM certificate chain and key. With it, an `SSLRequest` is answered `S`
//! and the handshake follows; without it, `N` and the client goes on in
//! the clear or gives up (`sslmode=require`). PostgreSQL 17's direct TLS
//! negotiation works too (ALPN `postgresql`).

use std::sync::Arc;

use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::tokio_rustls::rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::pg_config::TlsFiles;

/// A loaded TLS configuration: the acceptor and the certificate PEM (SCRAM
/// channel binding hashes the server certificate).
#[derive(Clone)]
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub cert_pem: Vec<u8>,
}

/// Reads the files and builds the acceptor; every failure names the file.
pub fn load(files: &TlsFiles) -> Result<Tls, String> {
    let cert_pem = std::fs::read(&files.cert).map_err(|e| {
        format!(
            "Postgres TLS: cannot read the certificate {}: {e}",
            files.cert.display()
        )
    })?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            format!(
                "Postgres TLS: {} is not a PEM certificate chain: {e}",
                files.cert.display()
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "Postgres TLS: {} holds no certificate (expected `-----BEGIN CERTIFICATE-----`)",
            files.cert.display()
        ));
    }
    let key_pem = std::fs::read(&files.key).map_err(|e| {
        format!(
            "Postgres TLS: cannot read the key {}: {e}",
            files.key.display()
        )
    })?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "Postgres TLS: {} is not a PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
            files.key.display()
        )
    })?;
    // The provider is named: with more than one compiled in, rustls would
    // not pick one by itself.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("Postgres TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "Postgres TLS: the key {} does not fit the certificate {}: {e}",
                files.key.display(),
                files.cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        cert_pem,
    })
}
