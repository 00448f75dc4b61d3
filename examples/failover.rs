//! Embedding example: one `bouture failover` run with the `bouture` crate: the node is
//! processed by its master, or (after its master was offline) grafted onto a new master
//! (a slapproxy) and processed from there, until the original master is back.
//!
//! ```text
//! cargo run --example failover -- /etc/opt/slapos/slapos.cfg http://10.0.0.2:4000 /var/lib/bouture
//! ```

use std::path::Path;

use bouture::failover::{Failover, FailoverOutcome, Options, SlaposCommand};

/// One run; `state` holds the new node configuration, the lock and the switchfile, and
/// `slapos` is the `slapos` program whose `node instance` processes the node. The log
/// lines (what the CLI prints) are returned with the outcome.
///
/// # Errors
///
/// The node configuration cannot be read, the URL or a file is refused, or the run
/// failed (the graft, the switchfile).
pub fn run(
    cfg: &Path,
    new_master_url: &str,
    state: &Path,
    slapos: &Path,
) -> Result<(FailoverOutcome, Vec<String>), Box<dyn std::error::Error>> {
    let options = Options::new(
        cfg,
        new_master_url,
        state.join("slapos-bouture.cfg"),
        state.join("bouture-failover.pid"),
        state.join("bouture-switch"),
    );
    let failover = Failover::new(options)?;
    let mut log: Vec<(bouture::text::Level, String)> = Vec::new();
    let outcome = failover.run(&mut SlaposCommand::new(slapos), &mut log)?;
    Ok((outcome, log.into_iter().map(|(_, line)| line).collect()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let usage = "usage: failover NODE_CFG NEW_MASTER_URL STATE_DIR [SLAPOS]";
    let cfg = args.next().ok_or(usage)?;
    let url = args.next().ok_or(usage)?;
    let state = args.next().ok_or(usage)?;
    let slapos = args.next().unwrap_or_else(|| "slapos".into());
    let (outcome, log) = run(
        Path::new(&cfg),
        &url.to_string_lossy(),
        Path::new(&state),
        Path::new(&slapos),
    )?;
    #[allow(clippy::print_stdout)]
    {
        for line in log {
            println!("{line}");
        }
        println!("{outcome:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt;

    use bouture::failover::{FailoverOutcome, Master};
    use bouture_test_support::SlapProxy;
    use bouture_test_support::node::{TestNode, TestPartition};

    #[test]
    fn an_offline_master_switches_the_node_onto_a_real_proxy() {
        let dir = tempfile::tempdir().unwrap();
        let node = TestNode::new(dir.path(), "COMP-FAILOVER")
            .partition(TestPartition::new(0).instance("Main", "started"))
            .write();
        let proxy = SlapProxy::start("COMP-FAILOVER").unwrap();
        // The inner `slapos node instance`: slapgrid's "master offline" exit code (3)
        // for the node's own configuration, success for the new one.
        let slapos = dir.path().join("slapos");
        std::fs::write(
            &slapos,
            "#!/bin/sh\ncase \"$4\" in */slapos-bouture.cfg) exit 0;; *) exit 3;; esac\n",
        )
        .unwrap();
        std::fs::set_permissions(&slapos, std::fs::Permissions::from_mode(0o755)).unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();

        let (outcome, log) = super::run(&node.cfg, proxy.url(), &state, &slapos).unwrap();
        assert_eq!(outcome, FailoverOutcome::Processed { by: Master::New });
        assert!(
            log.iter().any(|line| line == "grafted slappart0 (Main)"),
            "{log:?}"
        );
        assert!(state.join("bouture-switch").is_file());
    }
}
