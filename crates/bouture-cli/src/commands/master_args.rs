//! How `graft` and `failover` reach the new master (TLS trust, client certificate, deadline).

use std::path::PathBuf;
use std::time::Duration;

use bouture_master_client::TlsOptions;

/// Longest `--timeout` accepted, in seconds (one day).
const MAX_TIMEOUT_SECONDS: u64 = 86_400;

/// The new master's TLS and deadline flags, shared by `graft` and `failover`.
#[derive(Debug, Clone, clap::Args)]
#[allow(clippy::doc_markdown)] // the field docs are --help text, where backticks would show
pub struct MasterArgs {
    /// For an https new master: a PEM CA bundle to verify it with, or the master's own
    /// self-signed certificate, which is then pinned (exactly that certificate is accepted,
    /// whatever its issuer, names and dates). Without it the system's trust store is used
    /// (SSL_CERT_FILE honoured).
    #[arg(long, value_name = "FILE")]
    pub new_master_ca_file: Option<PathBuf>,
    /// PEM client certificate for a new master that asks for one (with --new-master-key-file).
    #[arg(long, value_name = "FILE", requires = "new_master_key_file")]
    pub new_master_cert_file: Option<PathBuf>,
    /// PEM private key of --new-master-cert-file.
    #[arg(long, value_name = "FILE", requires = "new_master_cert_file")]
    pub new_master_key_file: Option<PathBuf>,
    /// Give up on a call to the new master after this many seconds (1 to 86400).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT_SECONDS)
    )]
    pub timeout: u64,
}

impl MasterArgs {
    /// The client options these flags describe (files are read when the client is built).
    pub(crate) fn client_options(&self) -> bouture_master_client::Options {
        let mut tls = TlsOptions::default();
        if let Some(ca) = &self.new_master_ca_file {
            tls = tls.ca_file(ca);
        }
        if let (Some(key), Some(cert)) = (&self.new_master_key_file, &self.new_master_cert_file) {
            tls = tls.client_cert(key, cert);
        }
        bouture_master_client::Options::default()
            .timeout(Duration::from_secs(self.timeout))
            .tls(tls)
    }
}
