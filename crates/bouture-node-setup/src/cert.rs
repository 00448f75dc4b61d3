//! The cluster certificate: its private key and certificate from one PEM
//! text, whether they match, and the node's client certificate signed with
//! them. Pure Rust (ring, rcgen, x509-parser, RSA key generation from the
//! `rsa` crate): no OpenSSL.

use getrandom::SysRng;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, Issuer, KeyPair, PublicKeyData, SerialNumber,
};
use rsa::pkcs8::EncodePrivateKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::input::Secret;

/// Ganeti's `RSA_KEY_BITS`: the size of the node's new client key.
pub const CLIENT_KEY_BITS: usize = 2048;
/// Ganeti's `X509_CERT_DEFAULT_VALIDITY`, in days: how long the node's
/// client certificate is valid.
pub const CLIENT_CERT_VALIDITY_DAYS: i64 = 1825;

/// A private key and the certificate it belongs to.
pub(crate) struct KeyAndCertificate {
    key: KeyPair,
    certificate: CertificateDer<'static>,
    /// The certificate's subject, for the report.
    pub(crate) subject: String,
}

/// A public key reduced to what identifies it: the algorithm and the key
/// bits (the same as comparing the `SubjectPublicKeyInfo`, without caring how
/// each encoder spells the algorithm parameters).
#[derive(PartialEq, Eq)]
struct PublicKey {
    algorithm: String,
    bits: Vec<u8>,
}

fn public_key(spki_der: &[u8]) -> Result<PublicKey, String> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|error| format!("malformed public key ({error})"))?;
    Ok(PublicKey {
        algorithm: spki.algorithm.algorithm.to_id_string(),
        bits: spki.subject_public_key.data.to_vec(),
    })
}

/// The first certificate of a PEM text.
fn certificate(pem: &[u8]) -> Result<CertificateDer<'static>, String> {
    match CertificateDer::pem_slice_iter(pem).next() {
        None => Err("no CERTIFICATE block found".to_owned()),
        // The PEM error may quote a line of the input: never shown.
        Some(Err(_)) => Err("malformed PEM text".to_owned()),
        Some(Ok(der)) => Ok(der),
    }
}

fn certificate_key(der: &CertificateDer<'_>) -> Result<(PublicKey, String), String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| format!("not an X.509 certificate ({error})"))?;
    let key = public_key(parsed.tbs_certificate.subject_pki.raw)?;
    Ok((key, parsed.tbs_certificate.subject.to_string()))
}

/// The private key of a PEM text: PKCS#8 (`PRIVATE KEY`), PKCS#1
/// (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`, P-256 or P-384); RSA,
/// ECDSA P-256/P-384 or Ed25519.
fn private_key(pem: &[u8]) -> Result<KeyPair, String> {
    let der = match PrivateKeyDer::from_pem_slice(pem) {
        Ok(der) => der,
        Err(rustls_pki_types::pem::Error::NoItemsFound) => {
            return Err(
                "no private key block found (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"
                    .to_owned(),
            );
        }
        Err(_) => return Err("malformed PEM text".to_owned()),
    };
    let unsupported = || {
        "unsupported or malformed key (RSA, ECDSA P-256 or P-384, or Ed25519 keys are supported, unencrypted)"
            .to_owned()
    };
    let candidates: Vec<Vec<u8>> = match &der {
        PrivateKeyDer::Pkcs8(key) => vec![key.secret_pkcs8_der().to_vec()],
        PrivateKeyDer::Pkcs1(key) => vec![pkcs8(RSA_ALGORITHM, key.secret_pkcs1_der())],
        PrivateKeyDer::Sec1(key) => vec![
            pkcs8(P256_ALGORITHM, key.secret_sec1_der()),
            pkcs8(P384_ALGORITHM, key.secret_sec1_der()),
        ],
        _ => return Err(unsupported()),
    };
    candidates
        .into_iter()
        .find_map(|pkcs8| {
            KeyPair::try_from(&PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8))).ok()
        })
        .ok_or_else(unsupported)
}

/// `AlgorithmIdentifier` of rsaEncryption (with its NULL parameters).
const RSA_ALGORITHM: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
/// `AlgorithmIdentifier` of id-ecPublicKey on prime256v1.
const P256_ALGORITHM: &[u8] = &[
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
];
/// `AlgorithmIdentifier` of id-ecPublicKey on secp384r1.
const P384_ALGORITHM: &[u8] = &[
    0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
    0x00, 0x22,
];

/// Wrap a PKCS#1 or SEC1 private key into PKCS#8 (RFC 5208
/// `PrivateKeyInfo`: version 0, the algorithm, the key as an OCTET STRING).
fn pkcs8(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend_from_slice(algorithm);
    body.push(0x04);
    der_length(&mut body, key.len());
    body.extend_from_slice(key);
    let mut out = vec![0x30];
    der_length(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

fn der_length(out: &mut Vec<u8>, length: usize) {
    if length < 0x80 {
        // Fits: checked just above.
        out.push(u8::try_from(length).unwrap_or(0));
        return;
    }
    let bytes = length.to_be_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let significant = bytes.get(first..).unwrap_or_default();
    out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0));
    out.extend_from_slice(significant);
}

impl KeyAndCertificate {
    /// Parse `node_daemon_certificate`: a private key and its certificate.
    pub(crate) fn from_input(pem: &Secret) -> Result<Self, crate::Error> {
        let bytes = pem.expose().as_bytes();
        let certificate =
            certificate(bytes).map_err(|reason| crate::Error::Certificate { reason })?;
        let (certified, subject) =
            certificate_key(&certificate).map_err(|reason| crate::Error::Certificate { reason })?;
        let key = private_key(bytes).map_err(|reason| crate::Error::PrivateKey { reason })?;
        let own = public_key(&key.subject_public_key_info())
            .map_err(|reason| crate::Error::PrivateKey { reason })?;
        if own != certified {
            return Err(crate::Error::KeyMismatch);
        }
        Ok(Self {
            key,
            certificate: certificate.into_owned(),
            subject,
        })
    }

    /// Whether `local_pem` (the node's `server.pem`) holds the private key
    /// of this certificate. `Err` when the local file holds no usable key.
    pub(crate) fn matches_local_key(&self, local_pem: &[u8]) -> Result<bool, String> {
        let local = private_key(local_pem)?;
        let local_public = public_key(&local.subject_public_key_info())?;
        let (certified, _) = certificate_key(&self.certificate)?;
        Ok(local_public == certified)
    }

    /// A new client certificate for `node_name`, as Ganeti makes it: a new
    /// 2048-bit RSA key, subject CN = `node_name`, issuer = this
    /// certificate's subject, signed with this key (SHA-256), serial = the
    /// Unix time, valid from now for [`CLIENT_CERT_VALIDITY_DAYS`]. Returns
    /// the key then the certificate, in PEM.
    pub(crate) fn sign_client_certificate(
        &self,
        node_name: &str,
        now: OffsetDateTime,
    ) -> Result<Secret, crate::Error> {
        let fail = |reason: String| crate::Error::ClientCertificate { reason };
        let rsa_key = rsa::PrivateKey::new(&mut SysRng, CLIENT_KEY_BITS)
            .map_err(|error| fail(format!("RSA key generation failed ({error})")))?;
        let der = rsa_key
            .to_pkcs8_der()
            .map_err(|error| fail(format!("RSA key encoding failed ({error})")))?;
        let client_key = KeyPair::try_from(&PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            der.as_bytes().to_vec(),
        )))
        .map_err(|error| fail(format!("RSA key not usable ({error})")))?;

        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, node_name);
        params.distinguished_name = name;
        let serial = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_before = now;
        params.not_after = now + Duration::days(CLIENT_CERT_VALIDITY_DAYS);
        let issuer = Issuer::from_ca_cert_der(&self.certificate, &self.key)
            .map_err(|error| fail(format!("the cluster certificate cannot sign ({error})")))?;
        let certificate = params
            .signed_by(&client_key, &issuer)
            .map_err(|error| fail(format!("signing failed ({error})")))?;
        let mut pem = client_key.serialize_pem();
        pem.push_str(&certificate.pem());
        Ok(Secret::new(pem))
    }
}

impl std::fmt::Debug for KeyAndCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAndCertificate")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        let mut out = Vec::new();
        der_length(&mut out, 5);
        der_length(&mut out, 200);
        der_length(&mut out, 1217);
        assert_eq!(out, [5, 0x81, 200, 0x82, 0x04, 0xc1]);
    }
}
