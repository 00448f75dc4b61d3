//! Exit codes chosen in one place: configuration errors exit 1 for every
//! command that reads the node configuration; 2 is only for usage errors.

use std::fs;

use crate::support::bouture;

#[test]
fn configuration_errors_exit_1_for_every_slapos_command() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let missing = root.join("missing.cfg");
    let invalid = root.join("invalid.cfg");
    fs::write(&invalid, "[slapos]\ncomputer_id = A\ncomputer_id = B\n").unwrap();
    let path = |name: &str| root.join(name).to_str().unwrap().to_string();
    for cfg in [&missing, &invalid] {
        let cfg = cfg.to_str().unwrap();
        let url = "http://127.0.0.1:9";
        let commands: [Vec<String>; 5] = [
            vec!["inventory".into()],
            vec!["graft".into(), "--new-master-url".into(), url.into()],
            vec![
                "configure".into(),
                "--new-master-url".into(),
                url.into(),
                "--new-node-cfg".into(),
                path("new.cfg"),
            ],
            vec![
                "failover".into(),
                "--new-master-url".into(),
                url.into(),
                "--new-node-cfg".into(),
                path("new.cfg"),
                "--pidfile".into(),
                path("failover.pid"),
                "--switchfile".into(),
                path("switch"),
            ],
            vec!["status".into(), "--switchfile".into(), path("switch")],
        ];
        for mut args in commands {
            // Each writes it as a line of its log, with the prefix of the
            // other lines (slapos's), on stderr and into --log-file.
            let log_file = root.join(format!("{}.log", args[0]));
            let _ = fs::remove_file(&log_file);
            args.extend([
                "--cfg".to_string(),
                cfg.to_string(),
                "--log-file".to_string(),
                log_file.to_str().unwrap().to_string(),
            ]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = bouture(&args, root);
            assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
            let expected = " bouture[";
            let line = run
                .stderr
                .lines()
                .find(|line| line.contains(" ERROR node configuration [ROOT]/"))
                .unwrap_or_else(|| panic!("{args:?}: {}", run.stderr));
            assert!(line.contains(expected), "{args:?}: {line}");
            assert!(!run.stderr.contains("error: "), "{args:?}: {}", run.stderr);
            let logged = fs::read_to_string(&log_file).unwrap();
            assert!(
                logged.contains(" ERROR node configuration "),
                "{args:?}: --log-file got {logged:?}"
            );
            assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        }
    }
    assert!(!root.join("new.cfg").exists(), "nothing written");
    assert!(!root.join("failover.pid").exists(), "no lock taken");
}

#[test]
fn the_exit_status_is_documented_in_the_help() {
    let run = bouture(&["--help"], &std::env::temp_dir());
    assert!(
        run.stdout
            .contains("configuration\n(the node configuration, an input file) is missing"),
        "{}",
        run.stdout
    );
}
