//! A failover run driven in-process, as an embedder would: the inner
//! `slapos node instance` is a scripted [`SlaposNode`], the new master a
//! real slapproxy.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

use bouture_failover::switchfile::{SwitchStatus, read_switchfile};
use bouture_failover::{Failover, FailoverOutcome, Master, NotProcessed, Options, SlaposNode};
use bouture_test_support::SlapProxy;
use bouture_test_support::node::{TestNode, TestPartition};
use bouture_text::Level;

/// Exits with the scripted codes, in order, and records each configuration.
#[derive(Default)]
struct Scripted {
    codes: VecDeque<Option<i32>>,
    calls: Vec<PathBuf>,
}

impl Scripted {
    fn new(codes: &[Option<i32>]) -> Self {
        Self {
            codes: codes.iter().copied().collect(),
            calls: Vec::new(),
        }
    }
}

impl SlaposNode for Scripted {
    fn program(&self) -> String {
        "scripted-slapos".into()
    }

    fn node_instance(&mut self, cfg: &Path) -> io::Result<Option<i32>> {
        self.calls.push(cfg.to_path_buf());
        self.codes
            .pop_front()
            .ok_or_else(|| io::Error::other("no exit code scripted"))
    }
}

struct Scene {
    dir: tempfile::TempDir,
    cfg: PathBuf,
}

impl Scene {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let node = TestNode::new(dir.path(), "COMP-LIB")
            .partition(TestPartition::new(0).instance("Main", "started"))
            .partition(TestPartition::new(1))
            .write();
        Self {
            cfg: node.cfg.clone(),
            dir,
        }
    }

    fn options(&self, url: &str) -> Options {
        let path = |name: &str| self.dir.path().join(name);
        Options::new(
            &self.cfg,
            url,
            path("slapos-bouture.cfg"),
            path("failover.pid"),
            path("switch"),
        )
    }
}

#[test]
fn offline_switches_over_and_online_switches_back() {
    let scene = Scene::new();
    let proxy = SlapProxy::start("COMP-LIB").unwrap();
    let options = scene.options(proxy.url());
    let failover = Failover::new(options.clone()).unwrap();

    // Offline: configure, graft, switch, then processed from the new master.
    let mut slapos = Scripted::new(&[Some(3), Some(0)]);
    let mut log: Vec<(Level, String)> = Vec::new();
    let outcome = failover.run(&mut slapos, &mut log).unwrap();
    assert_eq!(outcome, FailoverOutcome::Processed { by: Master::New });
    assert_eq!(
        slapos.calls,
        [scene.cfg.clone(), options.new_node_cfg.clone()]
    );
    assert!(
        log.iter()
            .any(|(level, line)| *level == Level::Info && line == "grafted slappart0 (Main)"),
        "{log:?}"
    );
    let SwitchStatus::Switched {
        record: Some(record),
        ..
    } = read_switchfile(&options.switchfile).unwrap()
    else {
        panic!("not switched");
    };
    assert_eq!(record.grafted.len(), 1);
    assert_eq!(record.new_master_url, proxy.url());

    // Online again: the switchfile goes.
    let mut slapos = Scripted::new(&[Some(0)]);
    let outcome = failover.run(&mut slapos, &mut Vec::new()).unwrap();
    assert_eq!(
        outcome,
        FailoverOutcome::Processed {
            by: Master::Original
        }
    );
    assert!(!options.switchfile.exists());
}

#[test]
fn outcomes_and_errors_are_typed() {
    let scene = Scene::new();
    // Nothing listens there: a switch would fail at the graft.
    let mut options = scene.options("http://127.0.0.1:9");
    options.switch_after = std::num::NonZeroU32::new(2).unwrap();
    let failover = Failover::new(options.clone()).unwrap();

    let outcome = failover
        .run(&mut Scripted::new(&[Some(7)]), &mut Vec::new())
        .unwrap();
    assert!(matches!(
        outcome,
        FailoverOutcome::NotProcessed(NotProcessed::Ambiguous { .. })
    ));
    let outcome = failover
        .run(&mut Scripted::new(&[Some(3)]), &mut Vec::new())
        .unwrap();
    assert_eq!(
        outcome,
        FailoverOutcome::NotProcessed(NotProcessed::WaitingForOfflineRuns {
            offline_runs: 1,
            required: 2
        })
    );
    let error = failover
        .run(&mut Scripted::new(&[Some(3)]), &mut Vec::new())
        .unwrap_err();
    assert!(
        matches!(error, bouture_failover::Error::SwitchGraft(_)),
        "{error}"
    );
    assert!(!options.switchfile.exists(), "not switched");

    let error = failover
        .run(&mut Scripted::new(&[]), &mut Vec::new())
        .unwrap_err();
    assert!(
        matches!(error, bouture_failover::Error::Inner { .. }),
        "{error}"
    );

    // The lock is taken for the whole run.
    let held = bouture_failover::pidfile::acquire(&options.pidfile).unwrap();
    let outcome = failover
        .run(&mut Scripted::new(&[Some(0)]), &mut Vec::new())
        .unwrap();
    assert!(matches!(outcome, FailoverOutcome::Busy(_)), "{outcome:?}");
    drop(held);
}

#[test]
fn clashing_files_are_refused_before_anything_runs() {
    let scene = Scene::new();
    let mut options = scene.options("http://127.0.0.1:9");
    options.new_node_cfg.clone_from(&scene.cfg);
    let error = Failover::new(options).unwrap_err();
    assert!(
        matches!(error, bouture_failover::Error::SameFile { .. }),
        "{error}"
    );
    let error = Failover::new(scene.options("ftp://x")).unwrap_err();
    assert!(matches!(error, bouture_failover::Error::Url(_)), "{error}");
}

#[test]
fn the_graft_step_waits_for_the_node_lock() {
    let scene = Scene::new();
    let proxy = SlapProxy::start("COMP-LIB").unwrap();
    let options = scene.options(proxy.url());
    let failover = Failover::new(options.clone()).unwrap();
    let instance_root = bouture_core::NodeConfig::load(&scene.cfg)
        .unwrap()
        .instance_root;

    // Another graft of this node holds the lock for a second.
    let held =
        bouture_graft::NodeLock::acquire(&instance_root, std::time::Duration::ZERO, &mut |_, _| {})
            .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(1));
        drop(held);
    });
    let mut log: Vec<(Level, String)> = Vec::new();
    let outcome = failover
        .run(&mut Scripted::new(&[Some(3), Some(0)]), &mut log)
        .unwrap();
    release.join().unwrap();
    assert_eq!(outcome, FailoverOutcome::Processed { by: Master::New });
    let waiting = format!(
        "another graft of this node (pid {}) holds {}: waiting up to",
        std::process::id(),
        instance_root.join(".bouture-graft.lock").display()
    );
    let waited = log.iter().position(|(_, line)| line.starts_with(&waiting));
    let grafted = log
        .iter()
        .position(|(_, line)| line == "grafted slappart0 (Main)");
    assert!(
        waited.is_some() && grafted.is_some() && waited < grafted,
        "{log:?}"
    );
}

#[test]
fn the_graft_step_uses_the_client_options() {
    let scene = Scene::new();
    let proxy = SlapProxy::start("COMP-LIB").unwrap();
    let mut options = scene.options(proxy.url());
    let missing = scene.dir.path().join("no-such-ca.pem");
    options.master_client = bouture_master_client::Options::default()
        .tls(bouture_master_client::TlsOptions::default().ca_file(&missing));
    let failover = Failover::new(options.clone()).unwrap();
    let error = failover
        .run(&mut Scripted::new(&[Some(3)]), &mut Vec::new())
        .unwrap_err();
    let bouture_failover::Error::SwitchGraft(step) = &error else {
        panic!("{error}");
    };
    assert!(
        matches!(
            step,
            bouture_failover::GraftStepError::Graft(bouture_graft::NodeError::Client(_))
        ),
        "{step}"
    );
    // The message names the CA file given in the options.
    let mut chain = step.to_string();
    let mut source = std::error::Error::source(step);
    while let Some(cause) = source {
        chain = format!("{chain}: {cause}");
        source = cause.source();
    }
    assert!(chain.contains(&missing.display().to_string()), "{chain}");
    assert!(!options.switchfile.exists(), "not switched");
}
