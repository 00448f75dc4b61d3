//! The system's trust store, read through `bouture-fs`.
//!
//! Where to look is what OpenSSL (and `rustls-native-certs`) look at: the file `SSL_CERT_FILE`
//! and the directories of `SSL_CERT_DIR` when either is set, else the distribution's bundle and
//! certificate directories as `openssl-probe` finds them (`/etc/ssl/certs/ca-certificates.crt`
//! and `/etc/ssl/certs` on Debian).
//!
//! How they are read is bouture's rule for files ([`bouture_fs::Links`]): these paths are
//! named by the operator (the environment) or the distribution, so symbolic links are followed
//! (every `/etc/ssl/certs/*.pem` is one), but each file read must be a regular file of at most
//! [`MAX_PEM_FILE`] bytes, opened without blocking, and the whole store at most
//! [`MAX_STORE_BYTES`]. A bundle that cannot be read is an error naming it; in a directory,
//! entries that are not regular files (sub-directories, dangling links, a FIFO) are passed
//! over, as OpenSSL does, and a file reached by several names (the hash links) is read once.
//! Text that is not a PEM certificate is ignored, as OpenSSL does.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use bouture_fs::{FileId, Links, ReadError};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::error::{Error, Result};

/// Largest PEM file read (a system CA bundle is about 200 KiB).
pub(crate) const MAX_PEM_FILE: u64 = 4 * 1024 * 1024;

/// Most bytes read from the whole store (Debian's bundle and directory are about 1 MiB).
pub(crate) const MAX_STORE_BYTES: u64 = 64 * 1024 * 1024;

/// The variable naming the bundle, and its name in messages.
const SSL_CERT_FILE: &str = "SSL_CERT_FILE";

/// Where the store is: a bundle (and what to call it in messages) and directories.
#[derive(Debug, Default)]
pub(crate) struct StorePaths {
    /// The bundle, and its name in messages.
    pub(crate) file: Option<(PathBuf, &'static str)>,
    /// Directories of one certificate per file.
    pub(crate) dirs: Vec<PathBuf>,
}

impl StorePaths {
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR` when either is set, else the distribution's store.
    pub(crate) fn from_env() -> Self {
        let file = std::env::var_os(SSL_CERT_FILE)
            .filter(|value| !value.is_empty())
            .map(|value| (PathBuf::from(value), SSL_CERT_FILE));
        let dirs: Vec<PathBuf> = std::env::var_os("SSL_CERT_DIR")
            .map(|value| {
                std::env::split_paths(&value)
                    .filter(|path| !path.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if file.is_some() || !dirs.is_empty() {
            return Self { file, dirs };
        }
        let probed = openssl_probe::probe();
        Self {
            file: probed
                .cert_file
                .map(|path| (path, "system trust store bundle")),
            dirs: probed.cert_dir,
        }
    }

    /// The bundle, when `SSL_CERT_FILE` named it.
    pub(crate) fn ssl_cert_file(&self) -> Option<&Path> {
        self.file
            .as_ref()
            .filter(|(_, what)| *what == SSL_CERT_FILE)
            .map(|(path, _)| path.as_path())
    }

    /// Every certificate of the store, sorted and without duplicates.
    ///
    /// # Errors
    ///
    /// [`Error::TlsRead`] when the bundle, or a regular file of a directory, cannot be read
    /// (too large, unreadable); [`Error::TlsFile`] when a directory cannot be listed or the
    /// store is larger than [`MAX_STORE_BYTES`].
    pub(crate) fn load(&self) -> Result<Vec<CertificateDer<'static>>> {
        let mut reader = Reader::default();
        if let Some((path, what)) = &self.file {
            reader.seen.extend(FileId::of(path).ok());
            let pem = bouture_fs::read_bounded(path, MAX_PEM_FILE, Links::Follow)
                .map_err(|source| Error::TlsRead { what, source })?;
            reader.add(&pem, path, what)?;
        }
        for dir in &self.dirs {
            reader.add_dir(dir)?;
        }
        reader
            .certs
            .sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
        reader.certs.dedup();
        Ok(reader.certs)
    }
}

#[derive(Default)]
struct Reader {
    certs: Vec<CertificateDer<'static>>,
    seen: HashSet<FileId>,
    bytes: u64,
}

impl Reader {
    fn add(&mut self, pem: &[u8], path: &Path, what: &'static str) -> Result<()> {
        self.bytes = self
            .bytes
            .saturating_add(u64::try_from(pem.len()).unwrap_or(u64::MAX));
        if self.bytes > MAX_STORE_BYTES {
            return Err(Error::TlsFile {
                what,
                path: path.to_owned(),
                detail: format!(
                    "the system trust store is larger than {MAX_STORE_BYTES} bytes, the most read \
                     from it; set SSL_CERT_FILE to a bundle"
                ),
                source: None,
            });
        }
        self.certs
            .extend(CertificateDer::pem_slice_iter(pem).filter_map(std::result::Result::ok));
        Ok(())
    }

    fn add_dir(&mut self, dir: &Path) -> Result<()> {
        const WHAT: &str = "system trust store directory";
        let list_error = |error: std::io::Error| Error::TlsFile {
            what: WHAT,
            path: dir.to_owned(),
            detail: format!("cannot list it: {error}"),
            source: Some(Box::new(error)),
        };
        let mut paths = std::fs::read_dir(dir)
            .map_err(list_error)?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(list_error)?;
        paths.sort();
        for path in paths {
            // A dangling link, or a name removed meanwhile, is not a certificate.
            let Ok(id) = FileId::of(&path) else {
                continue;
            };
            if !self.seen.insert(id) {
                continue;
            }
            match bouture_fs::read_bounded(&path, MAX_PEM_FILE, Links::Follow) {
                Ok(pem) => self.add(&pem, &path, WHAT)?,
                Err(ReadError::NotRegular { .. }) => {}
                Err(error) if error.is_not_found() => {}
                Err(source) => return Err(Error::TlsRead { what: WHAT, source }),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PEM block the loader takes for a certificate (the DER is not parsed here).
    fn pem(byte: u8) -> String {
        let body: String = std::iter::repeat_n(char::from(b'A' + byte), 4).collect();
        format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
    }

    fn mkfifo(path: &Path) {
        bouture_test_support::mkfifo(path).unwrap();
    }

    #[test]
    fn a_directory_is_read_once_per_file_links_followed_fifos_and_dangling_links_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::write(shared.join("a.crt"), pem(0)).unwrap();
        std::fs::write(certs.join("b.pem"), pem(1) + "not a certificate\n").unwrap();
        // Debian's layout: a link per certificate and a hash link to the same file.
        std::os::unix::fs::symlink(shared.join("a.crt"), certs.join("a.pem")).unwrap();
        std::os::unix::fs::symlink(certs.join("a.pem"), certs.join("1234abcd.0")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone"), certs.join("dangling.pem")).unwrap();
        mkfifo(&certs.join("fifo.pem"));
        std::fs::create_dir(certs.join("java")).unwrap();
        let store = StorePaths {
            file: None,
            dirs: vec![certs],
        };
        let loaded = store.load().unwrap();
        assert_eq!(loaded.len(), 2, "{loaded:?}");
    }

    #[test]
    fn a_bundle_that_is_not_a_regular_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("bundle.pem");
        mkfifo(&fifo);
        let store = StorePaths {
            file: Some((fifo.clone(), "SSL_CERT_FILE")),
            dirs: Vec::new(),
        };
        let error = store.load().unwrap_err();
        assert!(matches!(error, Error::TlsRead { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!(
                "cannot use the SSL_CERT_FILE: cannot read {}: it is a FIFO, not a regular file",
                fifo.display()
            )
        );
        let missing = StorePaths {
            file: Some((dir.path().join("missing.pem"), "SSL_CERT_FILE")),
            dirs: Vec::new(),
        };
        assert!(
            missing
                .load()
                .unwrap_err()
                .to_string()
                .contains("missing.pem")
        );
    }

    #[test]
    fn a_bundle_and_a_directory_holding_the_same_file_give_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("ca-certificates.crt");
        std::fs::write(&bundle, pem(0) + &pem(1)).unwrap();
        let store = StorePaths {
            file: Some((bundle, "system trust store bundle")),
            dirs: vec![dir.path().to_owned()],
        };
        assert_eq!(store.load().unwrap().len(), 2);
    }

    #[test]
    fn a_file_too_large_in_a_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let large = dir.path().join("large.pem");
        let file = std::fs::File::create(&large).unwrap();
        file.set_len(MAX_PEM_FILE + 1).unwrap();
        let store = StorePaths {
            file: None,
            dirs: vec![dir.path().to_owned()],
        };
        let message = store.load().unwrap_err().to_string();
        assert!(
            message.contains("large.pem") && message.contains("larger than"),
            "{message}"
        );
    }
}
