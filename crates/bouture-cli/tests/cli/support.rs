//! Running the real binary and making its output stable for snapshots.

use std::path::Path;
use std::process::Command;

/// What one run of `bouture` did.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// The run in the snapshot format: exit code, stdout, stderr.
    pub(crate) fn snapshot(&self) -> String {
        format!(
            "exit_code: {}\n----- stdout -----\n{}\n----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// [`Run::snapshot`] with the log prefix of stderr's lines made stable
    /// ([`stable`]): for the SlapOS commands, whose errors are log lines.
    pub(crate) fn snapshot_logged(&self) -> String {
        format!(
            "exit_code: {}\n----- stdout -----\n{}\n----- stderr -----\n{}",
            self.code,
            self.stdout,
            stable(&self.stderr)
        )
    }
}

/// Run `bouture` with `args`, with `$SLAPOS_CONFIGURATION` unset, replacing
/// `root` by `[ROOT]` in its output.
pub(crate) fn bouture(args: &[&str], root: &Path) -> Run {
    run_bouture(Command::new(env!("CARGO_BIN_EXE_bouture")).args(args), root)
}

/// [`bouture`] run in `root` (relative arguments are relative to it), with
/// extra environment variables.
pub(crate) fn bouture_env(args: &[&str], root: &Path, env: &[(&str, &str)]) -> Run {
    run_bouture(
        Command::new(env!("CARGO_BIN_EXE_bouture"))
            .args(args)
            .current_dir(root)
            .envs(env.iter().copied()),
        root,
    )
}

fn run_bouture(command: &mut Command, root: &Path) -> Run {
    let output = command
        .env_remove("SLAPOS_CONFIGURATION")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let clean =
        |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(root.to_str().unwrap(), "[ROOT]");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: clean(&output.stdout),
        stderr: clean(&output.stderr),
    }
}

/// The log with times, pids and ports replaced, for snapshots.
pub(crate) fn stable(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        // `2026-11-23 15:04:05 bouture[123] INFO ...` -> `bouture INFO ...`
        let line = match line.find(" bouture[") {
            Some(at) if at == 19 => {
                let rest = &line[at + 1..];
                let close = rest.find("] ").unwrap();
                format!("bouture {}", &rest[close + 2..])
            }
            _ => line.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    let mut filtered = String::new();
    let mut rest = out.as_str();
    while let Some(at) = rest.find("127.0.0.1:") {
        filtered.push_str(&rest[..at + 10]);
        rest = &rest[at + 10..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        filtered.push_str(if digits > 0 { "[PORT]" } else { "" });
        rest = &rest[digits..];
    }
    filtered.push_str(rest);
    let since = filtered.find(" since ").map(|at| at + 7);
    match since {
        Some(at) if filtered.len() >= at + 20 => {
            format!("{}[TIME]{}", &filtered[..at], &filtered[at + 20..])
        }
        _ => filtered,
    }
}

/// [`stable`], and the numbers that change from run to run in `-v` detail
/// lines replaced: `12 ms` by `[N] ms`, `345 bytes` by `[N] bytes`.
pub(crate) fn stable_detail(text: &str) -> String {
    let text = stable(text);
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            let rest: String = std::iter::once(c).chain(chars.clone().take(5)).collect();
            if rest.starts_with(" ms") || rest.starts_with(" bytes") {
                out.push_str("[N]");
            } else {
                out.push_str(&digits);
            }
            digits.clear();
        }
        out.push(c);
    }
    out.push_str(&digits);
    out
}

/// `http://127.0.0.1:PORT` on a port nothing listens on (bound, then
/// released): a master that refuses connections.
pub(crate) fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}
