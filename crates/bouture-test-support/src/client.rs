//! What people and instances do to a master, with the real tools: the
//! `slapos request` client command (through a client configuration whose
//! `[slapos] master_url` is the proxy), and the `slapos.slap` library calls
//! an instance makes (publishing connection parameters, reporting a
//! partition destroyed, as `slapos node instance` does).
//!
//! ```no_run
//! use bouture_test_support::SlapProxy;
//!
//! let proxy = SlapProxy::start("COMP-T").unwrap();
//! let out = proxy.slapos_client(&["request", "My inst", "https://example.invalid/sr.cfg"]);
//! assert!(out.status.success());
//! ```
//!
//! `slapos service list` and `slapos service info` need the master's
//! Hateoas API. The client finds its URL by asking the master
//! (`getHateoasUrl`), which a slapproxy does not answer, so with only
//! `master_url` they fail ("SlapOS Master Hateoas API required for this
//! operation is not available."). A slapproxy of slapos.core 1.26.1 does
//! serve that API under `/hateoas/`: the client configuration written here
//! names it (`master_rest_url`), and both commands work.

// Test support: failing loudly is how a test learns that its setup broke.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{SlapProxy, SlaposEnv};

impl SlapProxy {
    /// A `slapos` client configuration for this proxy (`[slapos] master_url`,
    /// and `master_rest_url`, its Hateoas API, for `slapos service`), written
    /// in the proxy's directory.
    ///
    /// # Panics
    ///
    /// When it cannot be written (this is test code).
    pub fn client_config(&self) -> PathBuf {
        let path = self.dir().join("slapos-client.cfg");
        std::fs::write(
            &path,
            format!(
                "[slapos]\nmaster_url = {url}\nmaster_rest_url = {url}/hateoas/\n",
                url = self.url()
            ),
        )
        .expect("write the slapos client configuration");
        path
    }

    /// Run the real `slapos` client command against this proxy: `slapos ARGS
    /// --cfg <client config>`.
    ///
    /// # Panics
    ///
    /// When `slapos` cannot be found or started.
    pub fn slapos_client(&self, args: &[&str]) -> Output {
        let env = SlaposEnv::get().expect("slapos is installed");
        Command::new(&env.slapos_bin)
            .args(args)
            .arg("--cfg")
            .arg(self.client_config())
            .output()
            .expect("run slapos")
    }

    /// [`Self::slapos_client`], requiring success.
    ///
    /// # Panics
    ///
    /// When `slapos` fails (with its output).
    pub fn slapos_client_ok(&self, args: &[&str]) {
        let out = self.slapos_client(args);
        assert!(
            out.status.success(),
            "slapos {args:?} failed ({:?}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Run a shell command line with the real `slapos` first on `PATH` and
    /// `SLAPOS_CLIENT_CONFIGURATION` pointing at this proxy, as an operator
    /// would paste it.
    ///
    /// # Panics
    ///
    /// When `sh` cannot be started.
    pub fn shell_with_slapos(&self, line: &str) -> Output {
        let env = SlaposEnv::get().expect("slapos is installed");
        let bin_dir = env.slapos_bin.parent().unwrap_or(Path::new("."));
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![bin_dir.to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        Command::new("sh")
            .arg("-c")
            .arg(line)
            .env("PATH", std::env::join_paths(dirs).expect("join PATH"))
            .env("SLAPOS_CLIENT_CONFIGURATION", self.client_config())
            .output()
            .expect("run sh")
    }

    /// As an instance does: publish `connection` (JSON object of strings) for
    /// `partition` of `computer_id`, with the `slapos.slap` library.
    ///
    /// # Panics
    ///
    /// When the library call fails.
    pub fn publish_connection_parameters(
        &self,
        computer_id: &str,
        partition: &str,
        connection: &serde_json::Value,
    ) {
        self.slap_script(
            "cp.setConnectionDict(json.loads(sys.argv[4]))",
            &[computer_id, partition, &connection.to_string()],
        );
    }

    /// As the instance in `partition` does for a shared instance it hosts:
    /// publish `connection` for the shared instance `slave_reference` (the
    /// proxy's reference, `_<title>` for one a person requested).
    ///
    /// # Panics
    ///
    /// When the library call fails.
    pub fn publish_shared_connection_parameters(
        &self,
        computer_id: &str,
        partition: &str,
        slave_reference: &str,
        connection: &serde_json::Value,
    ) {
        self.slap_script(
            "cp.setConnectionDict(json.loads(sys.argv[4]), slave_reference=sys.argv[5])",
            &[
                computer_id,
                partition,
                &connection.to_string(),
                slave_reference,
            ],
        );
    }

    /// As `slapos node instance` does after destroying an instance: report
    /// `partition` destroyed, which frees it.
    ///
    /// # Panics
    ///
    /// When the library call fails.
    pub fn report_destroyed(&self, computer_id: &str, partition: &str) {
        self.slap_script("cp.destroyed()", &[computer_id, partition]);
    }

    fn slap_script(&self, call: &str, args: &[&str]) {
        let env = SlaposEnv::get().expect("slapos is installed");
        let python = env
            .python
            .as_deref()
            .expect("the slapos installation has its python next to it");
        let script = format!(
            "import json, sys\nfrom slapos import slap\ns = slap.slap()\n\
             s.initializeConnection(sys.argv[1])\n\
             cp = s.registerComputerPartition(sys.argv[2], sys.argv[3])\n{call}\n"
        );
        let out = Command::new(python)
            .arg("-c")
            .arg(&script)
            .arg(self.url())
            .args(args)
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "slapos.slap call {call} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
