//! Embedding example: join this node to a Ganeti cluster with the `bouture` crate, from
//! the JSON document the cluster's master sends (what `bouture node-setup` does with its
//! standard input, Ganeti's `node-daemon-setup`).
//!
//! ```text
//! cargo run --example node_setup -- /var/lib/ganeti < setup.json
//! ```

use std::path::Path;

use bouture::node_setup::{Options, Report, setup_from_reader};

/// Check the document and the data directory, then write ssconf, `hmac.key`,
/// `server.pem` and a new `client.pem` into `data_dir` (with the CLI's defaults: the
/// files owned as Ganeti's package wants, the daemons started if the document asks).
///
/// # Errors
///
/// The document refused, a check failed (nothing written), or a write failed (what was
/// written put back).
pub fn run(
    data_dir: &Path,
    document: impl std::io::Read,
) -> Result<Report, bouture::node_setup::Error> {
    let options = Options {
        data_dir: data_dir.to_path_buf(),
        ..Options::default()
    };
    setup_from_reader(document, &options)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = std::env::args_os()
        .nth(1)
        .ok_or("usage: node_setup DATA_DIR < DOCUMENT")?;
    let report = run(Path::new(&data_dir), std::io::stdin().lock())?;
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{} joined {}: {} file(s) written",
            report.node_name,
            report.cluster_name,
            report.files.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bouture_test_support::ganeti::ganeti_ssconf;
    use bouture_test_support::node_setup::{CLUSTER, NODE, document, pki};

    #[test]
    fn joins_a_data_directory_that_ganeti_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let sent = serde_json::to_vec(&document(&pki().rsa().pem())).unwrap();
        let report = super::run(dir.path(), sent.as_slice()).unwrap();
        assert_eq!(
            (report.cluster_name.as_str(), report.node_name.as_str()),
            (CLUSTER, NODE)
        );
        assert!(!report.dry_run);
        let read = ganeti_ssconf(dir.path());
        assert_eq!(read["cluster_name"], CLUSTER);
        assert_eq!(read["client_pem_check"], "ok");
    }
}
