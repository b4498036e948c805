//! An emulator per test, and what it holds: its admin endpoints and the check that a clip arrived byte-exact.

use super::*;
pub struct TestServer {
    pub emulator: Emulator,
    pub dir: tempfile::TempDir,
    /// The certificate an https emulator serves, for the admin calls to trust.
    pub cert_pem: Option<String>,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with_faults(Faults::default())
    }

    pub fn with_faults(faults: Faults) -> TestServer {
        TestServer::with_config(|config| config.faults = faults)
    }

    pub fn with_config(tweak: impl FnOnce(&mut EmulatorConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = EmulatorConfig::new(dir.path().join("emulator"));
        tweak(&mut config);
        let cert_pem = config.tls.as_ref().map(|tls| tls.cert_pem.clone());
        TestServer { emulator: Emulator::start(config).unwrap(), dir, cert_pem }
    }

    pub fn url(&self) -> &str {
        self.emulator.base_url()
    }

    pub fn admin(&self, path: &str) -> serde_json::Value {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(pem) = &self.cert_pem {
            let certs = ureq::tls::parse_pem(pem.as_bytes())
                .filter_map(|item| match item.unwrap() {
                    ureq::tls::PemItem::Certificate(cert) => Some(cert),
                    _ => None,
                })
                .collect::<Vec<_>>();
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        admin_json(self.url(), path, tls.build())
    }

    /// The emulator's request counts for one endpoint (`/_emulator/stats`).
    pub fn requests(&self, endpoint: &str) -> serde_json::Value {
        self.admin("stats")["requests"][endpoint].clone()
    }
}

/// `GET {base_url}/_emulator/{path}` of any emulator, as JSON.
pub fn admin_json(base_url: &str, path: &str, tls: ureq::tls::TlsConfig) -> serde_json::Value {
    let text = ureq::get(&format!("{base_url}/_emulator/{path}"))
        .config()
        .proxy(None)
        .tls_config(tls)
        .build()
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Checks the emulator holds `source`, byte-exact, as the upload's clip; its record.
pub fn assert_arrived(
    server: &TestServer,
    client: *mut ClipsClient,
    handle: ClipsHandle,
    source: &[u8],
) -> serde_json::Value {
    let id = clip_id(client, handle);
    let record = server.admin(&format!("clips/{id}"));
    assert_eq!(record["sha256"].as_str(), Some(sha256(source).as_str()), "bytes differ: {record}");
    assert_eq!(record["fileSize"].as_u64(), Some(source.len() as u64));
    record
}
