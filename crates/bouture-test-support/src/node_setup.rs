//! Test helpers: certificates made by the real `openssl` tool, input
//! documents, data directory snapshots (Ganeti's own ssconf reader is
//! `bouture_test_support::ganeti::ganeti_ssconf`).

// Test support: failing loudly is how a test learns that its setup broke.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::missing_panics_doc
)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::tls::openssl;
use serde_json::{Value, json};

/// The cluster name of the test certificates (their CN).
pub const CLUSTER: &str = "cluster.example.com";
/// The node the test documents join.
pub const NODE: &str = "node2.example.com";
/// The cluster HMAC key of the test documents.
pub const HMAC: &str = "0123456789abcdef0123456789abcdef";

/// Keys and certificates, made once per test binary with `openssl`.
pub struct Pki {
    /// The directory holding them (kept for the whole test process).
    pub dir: PathBuf,
}

/// A private key and a self-signed certificate (PEM texts).
#[derive(Clone)]
pub struct Pair {
    /// The private key.
    pub key: String,
    /// The certificate.
    pub cert: String,
}

impl Pair {
    /// `node_daemon_certificate`: key first, then certificate, as Ganeti's
    /// server.pem.
    pub fn pem(&self) -> String {
        format!("{}{}", self.key, self.cert)
    }
}

/// The keys and certificates of this test process, made on first use.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("bouture-node-setup-pki.")
            .tempdir()
            .unwrap()
            .keep();
        let make = |name: &str, newkey: &[&str]| {
            let mut args = vec!["req", "-x509", "-nodes", "-days", "3"];
            args.extend_from_slice(newkey);
            let key = format!("{name}.key");
            let cert = format!("{name}.crt");
            args.extend_from_slice(&["-keyout", &key, "-out", &cert, "-subj"]);
            let subject = format!("/CN={CLUSTER}");
            args.push(&subject);
            openssl(&dir, &args);
        };
        make("rsa", &["-newkey", "rsa:2048"]);
        make("other", &["-newkey", "rsa:2048"]);
        make(
            "p256",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        );
        make(
            "p384",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
        );
        // The traditional encodings: PKCS#1 (RSA PRIVATE KEY) and SEC1 (EC PRIVATE KEY).
        let pkcs1 = openssl(&dir, &["pkey", "-in", "rsa.key", "-traditional"]);
        fs::write(dir.join("rsa-pkcs1.key"), pkcs1).unwrap();
        let sec1 = openssl(&dir, &["pkey", "-in", "p384.key", "-traditional"]);
        fs::write(dir.join("p384-sec1.key"), sec1).unwrap();
        Pki { dir }
    })
}

impl Pki {
    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(name)).unwrap()
    }

    /// `name` is one of rsa, other, p256, p384.
    pub fn pair(&self, name: &str) -> Pair {
        Pair {
            key: self.read(&format!("{name}.key")),
            cert: self.read(&format!("{name}.crt")),
        }
    }

    /// The RSA pair (PKCS#8 key).
    pub fn rsa(&self) -> Pair {
        self.pair("rsa")
    }

    /// The RSA pair with its key as PKCS#1.
    pub fn rsa_pkcs1(&self) -> Pair {
        Pair {
            key: self.read("rsa-pkcs1.key"),
            cert: self.read("rsa.crt"),
        }
    }

    /// The P-384 pair with its key as SEC1.
    pub fn p384_sec1(&self) -> Pair {
        Pair {
            key: self.read("p384-sec1.key"),
            cert: self.read("p384.crt"),
        }
    }

    /// The key of `rsa` with the certificate of `other`.
    pub fn mismatched(&self) -> Pair {
        Pair {
            key: self.read("rsa.key"),
            cert: self.read("other.crt"),
        }
    }
}

/// The input document of Ganeti's example, with `pem` as certificate.
pub fn document(pem: &str) -> Value {
    json!({
        "cluster_name": CLUSTER,
        "node_daemon_certificate": pem,
        "hmac_key": HMAC,
        "ssconf": {
            "cluster_name": CLUSTER,
            "master_node": "node1.example.com",
            "master_ip": "192.0.2.1",
            "node_list": "node1.example.com\nnode2.example.com",
            "release_version": "3.0.2",
            "hvparams_fake": "migration_mode=live\n",
            "offline_nodes": "",
        },
        "start_node_daemon": false,
        "node_name": NODE,
    })
}

/// One entry of a directory snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `file`, `dir` or `symlink`.
    pub kind: &'static str,
    /// The permission bits.
    pub mode: u32,
    /// Owner and group ids.
    pub owner: (u32, u32),
    /// A file's bytes (a link's target).
    pub contents: Vec<u8>,
}

/// Every name in `dir` with its type, mode, owner and contents.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Entry> {
    fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let path = entry.path();
            let metadata = fs::symlink_metadata(&path).unwrap();
            let (kind, contents) = if metadata.file_type().is_symlink() {
                (
                    "symlink",
                    fs::read_link(&path)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                )
            } else if metadata.is_dir() {
                ("dir", Vec::new())
            } else {
                ("file", fs::read(&path).unwrap())
            };
            (
                entry.file_name().to_string_lossy().into_owned(),
                Entry {
                    kind,
                    mode: metadata.mode() & 0o7777,
                    owner: (metadata.uid(), metadata.gid()),
                    contents,
                },
            )
        })
        .collect()
}

/// Check with the real `openssl` that `client.pem` in `dir` holds a key and
/// a certificate for it, with CN `node`, issued and signed by the
/// certificate of `server.pem`.
pub fn assert_client_certificate(dir: &Path, node: &str) {
    let client = dir.join("client.pem");
    let client = client.to_str().unwrap();
    let server = dir.join("server.pem");
    let server = server.to_str().unwrap();
    let key_public = openssl(dir, &["pkey", "-in", client, "-pubout"]);
    let cert_public = openssl(dir, &["x509", "-in", client, "-noout", "-pubkey"]);
    assert_eq!(
        key_public, cert_public,
        "client.pem: key and certificate differ"
    );
    let text = openssl(dir, &["x509", "-in", client, "-noout", "-text"]);
    assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
    assert!(text.contains("rsaEncryption"), "{text}");
    let subject = openssl(
        dir,
        &[
            "x509", "-in", client, "-noout", "-subject", "-nameopt", "RFC2253",
        ],
    );
    assert_eq!(subject.trim(), format!("subject=CN={node}"));
    let verified = openssl(
        dir,
        &["verify", "-CAfile", server, "-partial_chain", client],
    );
    assert_eq!(verified.trim(), format!("{client}: OK"));
}
