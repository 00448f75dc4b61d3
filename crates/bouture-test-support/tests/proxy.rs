//! The harness against a real slapproxy.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;

use bouture_test_support::{SlapProxy, SlaposEnv};

fn get(url: &str, path: &str) -> std::io::Result<String> {
    let hostport = url.strip_prefix("http://").unwrap_or(url);
    let mut s = TcpStream::connect(hostport)?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn starts_answers_and_dies_on_drop() {
    let proxy = SlapProxy::start("COMP-HARNESS").unwrap();
    assert!(
        proxy.url().starts_with("http://127.0.0.1:"),
        "{}",
        proxy.url()
    );
    assert_eq!(proxy.computer_id(), "COMP-HARNESS");
    let answer = get(proxy.url(), "/getRunId").unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(proxy.config_path().is_file());
    let url = proxy.url().to_owned();
    drop(proxy);
    assert!(
        get(&url, "/getRunId").is_err(),
        "the proxy still answers after drop"
    );
}

#[test]
fn two_proxies_run_side_by_side() {
    let a = SlapProxy::start("COMP-A").unwrap();
    let b = SlapProxy::start("COMP-B").unwrap();
    assert_ne!(a.url(), b.url());
    assert!(
        get(a.url(), "/getRunId")
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        get(b.url(), "/getRunId")
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
}

#[test]
fn environment_is_usable_for_later_issues() {
    let env = SlaposEnv::get().unwrap();
    assert!(env.slapos_bin.is_file());
    let python = env
        .python
        .as_ref()
        .expect("the venv's python next to slapos");
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import slapos.slap, slapos.libnetworkcache; print('ok')",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Helper for `proxy_dies_with_a_sigkilled_test_process`: when run by it (the environment
/// variable is set), starts a proxy, prints its URL and sleeps until killed. Otherwise passes.
#[test]
fn sigkill_helper() {
    if std::env::var_os("BOUTURE_SIGKILL_HELPER").is_none() {
        return;
    }
    let proxy = SlapProxy::start("COMP-SIGKILL").unwrap();
    let mut out = std::io::stdout();
    writeln!(out, "\nURL={}", proxy.url()).unwrap();
    out.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_mins(2));
}

#[test]
fn proxy_dies_with_a_sigkilled_test_process() {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigkill_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("BOUTURE_SIGKILL_HELPER", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let url = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.split("URL=").nth(1).map(|u| u.trim().to_owned()))
        .expect("the helper printed the proxy URL");
    assert!(get(&url, "/getRunId").unwrap().starts_with("HTTP/1.1 200"));
    child.kill().unwrap(); // SIGKILL: no Drop runs in the helper
    child.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while get(&url, "/getRunId").is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the proxy of a SIGKILLed test process still answers after 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
