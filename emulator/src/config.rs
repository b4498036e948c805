//! How an emulator is set up: where it listens and keeps its state, what it serves, its faults.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::access::AdminAccess;
use crate::faults::Faults;
use crate::public_url::PublicUrl;

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Service configuration ids the emulator knows; empty: any.
    pub scids: Vec<String>,
    /// Time from commit to Published.
    pub processing_ms: u64,
    /// The largest block taken: 2,000,000 ("no larger than 2 MB", read strictly); at most 2 MiB.
    pub max_block_bytes: u64,
    pub faults: Faults,
    /// Serve https with this certificate instead of plain http.
    pub tls: Option<TlsIdentity>,
    /// Which address the URLs handed out name.
    pub public_url: PublicUrl,
    /// Who may use the dashboard and `/_emulator/*`.
    pub admin: AdminAccess,
}

/// A certificate chain and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TlsIdentity {
    /// A fresh self-signed certificate for `names` (host names or IP addresses); clients trust it by
    /// taking `cert_pem` as a CA bundle.
    pub fn self_signed(names: &[&str]) -> io::Result<TlsIdentity> {
        let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let certified = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
        Ok(TlsIdentity { cert_pem: certified.cert.pem(), key_pem: certified.signing_key.serialize_pem() })
    }

    pub(crate) fn acceptor(&self) -> io::Result<tokio_rustls::TlsAcceptor> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(io::Error::other)?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(io::Error::other)?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(io::Error::other)?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

impl EmulatorConfig {
    /// Loopback, an ephemeral port, state kept in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> EmulatorConfig {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            scids: Vec::new(),
            processing_ms: 2000,
            max_block_bytes: crate::wire::DEFAULT_MAX_BLOCK_BYTES,
            faults: Faults::default(),
            tls: None,
            public_url: PublicUrl::default(),
            admin: AdminAccess::default(),
        }
    }
}
