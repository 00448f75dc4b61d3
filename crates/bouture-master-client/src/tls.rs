//! Client TLS for a real master: the node's `key_file`/`cert_file` and an optional CA.
//!
//! A local proxy is plain `http://` and uses none of this. For `https://` masters:
//!
//! * [`TlsOptions::client_cert`] sends the node's certificate (PEM files, as in `[slapos]
//!   key_file` / `cert_file` of the node configuration);
//! * [`TlsOptions::ca_file`] verifies the master against that CA bundle instead of the
//!   built-in web PKI roots;
//! * [`TlsOptions::insecure_skip_verify`] accepts any server certificate, like the Python slap
//!   library (`verify=False`), e.g. for the slapproxy software release's self-signed haproxy.

use std::path::{Path, PathBuf};

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use crate::error::{Error, Result};

/// TLS settings of a [`crate::MasterClient`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOptions {
    /// PEM private key of the client certificate (`key_file`).
    pub key_file: Option<PathBuf>,
    /// PEM client certificate, optionally followed by its chain (`cert_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM CA bundle to verify the master with; `None` = web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate (what the Python slap library does).
    pub insecure_skip_verify: bool,
}

impl TlsOptions {
    /// Send this client certificate (both PEM files are read when the client is built).
    #[must_use]
    pub fn client_cert(mut self, key_file: impl AsRef<Path>, cert_file: impl AsRef<Path>) -> Self {
        self.key_file = Some(key_file.as_ref().to_owned());
        self.cert_file = Some(cert_file.as_ref().to_owned());
        self
    }

    /// Verify the master with this CA bundle.
    #[must_use]
    pub fn ca_file(mut self, ca_file: impl AsRef<Path>) -> Self {
        self.ca_file = Some(ca_file.as_ref().to_owned());
        self
    }

    /// Accept any server certificate.
    #[must_use]
    pub fn insecure_skip_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_verify = skip;
        self
    }

    /// The ureq TLS configuration, reading the files now.
    ///
    /// # Errors
    ///
    /// [`Error::TlsFile`] when a file cannot be read, holds no usable PEM item, or only one of
    /// `key_file`/`cert_file` is set.
    pub fn build(&self) -> Result<TlsConfig> {
        let mut builder = TlsConfig::builder().disable_verification(self.insecure_skip_verify);
        match (&self.key_file, &self.cert_file) {
            (Some(key), Some(cert)) => {
                let chain = read_certificates(cert, "cert_file")?;
                let key = read_key(key)?;
                builder = builder.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
            }
            (None, None) => {}
            (Some(path), None) | (None, Some(path)) => {
                return Err(Error::TlsFile {
                    what: if self.key_file.is_some() {
                        "key_file"
                    } else {
                        "cert_file"
                    },
                    path: path.clone(),
                    detail: "key_file and cert_file go together: set both or neither".to_owned(),
                    source: None,
                });
            }
        }
        if let Some(ca) = &self.ca_file {
            let roots = read_certificates(ca, "CA file")?;
            builder = builder.root_certs(RootCerts::new_with_certs(&roots));
        }
        Ok(builder.build())
    }
}

fn read_file(path: &Path, what: &'static str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::TlsFile {
        what,
        path: path.to_owned(),
        detail: format!("cannot read it: {e}"),
        source: Some(Box::new(e)),
    })
}

fn read_certificates(path: &Path, what: &'static str) -> Result<Vec<Certificate<'static>>> {
    let pem = read_file(path, what)?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::TlsFile {
                    what,
                    path: path.to_owned(),
                    detail: format!("not valid PEM: {e}"),
                    source: Some(Box::new(e)),
                });
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::TlsFile {
            what,
            path: path.to_owned(),
            detail: "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
            source: None,
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKey<'static>> {
    let pem = read_file(path, "key_file")?;
    PrivateKey::from_pem(&pem).map_err(|e| Error::TlsFile {
        what: "key_file",
        path: path.to_owned(),
        detail: format!("it holds no usable PEM private key: {e}"),
        source: Some(Box::new(e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_reported_with_their_path() {
        let err = TlsOptions::default()
            .client_cert("/nonexistent/computer.key", "/nonexistent/computer.crt")
            .build()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/computer.crt"), "{msg}");
        assert!(matches!(err, Error::TlsFile { .. }));
    }

    #[test]
    fn key_without_cert_is_refused() {
        let opts = TlsOptions {
            key_file: Some("/k".into()),
            ..TlsOptions::default()
        };
        let msg = opts.build().unwrap_err().to_string();
        assert!(msg.contains("set both or neither"), "{msg}");
    }

    #[test]
    fn garbage_ca_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("bouture-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        let msg = TlsOptions::default()
            .ca_file(&ca)
            .build()
            .unwrap_err()
            .to_string();
        assert!(msg.contains("no PEM certificate"), "{msg}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn defaults_build() {
        TlsOptions::default().build().unwrap();
        TlsOptions::default()
            .insecure_skip_verify(true)
            .build()
            .unwrap();
    }
}
