//! Image sources over http(s): a real HTTP server (Python's http.server,
//! started by the test) serves tar archives and filesystem images to
//! `deploy build` and `deploy image`; a body larger than the image's
//! partitions, a checksum mismatch, an unknown algorithm and a server that
//! never answers (a listening socket that accepts and stays silent: no real
//! server stalls on purpose) are refused with nothing written and nothing
//! downloaded left behind.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bouture_multiboot::{BuildOptions, DeployOptions, build_disks, deploy_image};
use support::{
    NOT_ON_THIS_DISK, TwoImageDisk, debugfs_cat, document, output, partition, plan, sources, tar,
    two_image_disk_titled, ubuntu_2,
};

/// `python3 -m http.server` on 127.0.0.1, serving `dir`; killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path) -> Self {
        let python = support::tool("python3", "python3");
        let mut child = Command::new(python)
            .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("http.server said {line:?}"));
        Self { child, port }
    }

    fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sha256(path: &Path) -> String {
    output("sha256sum", "coreutils", &[path.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Nothing the runs downloaded is left in `dir`.
fn no_download_left(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".bouture"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn build_and_deploy_from_urls_checksums_and_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let served = work.join("served");
    let out = work.join("out");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let (centos, ubuntu) = support::two_trees(work, "CentOS Linux 7 (Core)", "Ubuntu 14.04.3 LTS");
    let archive = tar(&ubuntu, &served.join("ubuntu.tar"));
    let sum = sha256(&archive);
    // Larger than all of ubuntu's partitions (48 MiB + the shared rest).
    std::fs::File::create(served.join("huge.tar"))
        .unwrap()
        .set_len(400 << 20)
        .unwrap();
    let http = Server::start(&served);
    let plan = plan(&document("console=ttyS0"));
    let disk = out.join("disk.img");
    let build = |url: &str| {
        build_disks(
            &plan,
            &BuildOptions::new(
                vec![disk.clone()],
                sources(&[("centos", &centos), ("ubuntu", Path::new(url))]),
            ),
        )
    };
    // A checksum that does not match: refused, nothing written.
    let wrong = format!("{}#sha256={}", http.url("ubuntu.tar"), "0".repeat(64));
    let error = build(&wrong).unwrap_err().to_string();
    assert!(error.contains("sha256 mismatch: expected 0000"), "{error}");
    assert!(error.contains(&sum), "{error}");
    assert!(!disk.exists());
    // An algorithm bouture does not verify is refused by name.
    let md5 = format!(
        "{}#md5=d41d8cd98f00b204e9800998ecf8427e",
        http.url("ubuntu.tar")
    );
    let error = build(&md5).unwrap_err().to_string();
    assert!(
        error.contains("checksum algorithm 'md5' is not one bouture verifies"),
        "{error}"
    );
    // A body larger than the image's partitions: refused from its length.
    let error = build(&http.url("huge.tar")).unwrap_err().to_string();
    assert!(error.contains("more than the"), "{error}");
    assert!(error.contains("nothing was downloaded"), "{error}");
    // A missing file: the server's status.
    let error = build(&http.url("absent.tar")).unwrap_err().to_string();
    assert!(error.contains("the server answered 404"), "{error}");
    assert!(!disk.exists());
    no_download_left(&out);

    // The right checksum: built from the download.
    let good = format!("{}#sha256={sum}", http.url("ubuntu.tar"));
    build(&good).unwrap();
    let root_u = partition(&plan, "root-ubuntu");
    assert_eq!(debugfs_cat(&disk, root_u, "/etc/ubuntu-only"), "ubuntu");
    no_download_left(&out);

    // --pull: the document's image_pull_url, here pointed at the server.
    let mut pulled_doc: serde_json::Value =
        serde_json::from_str(&document("console=ttyS0")).unwrap();
    pulled_doc["images"][1]["image_pull_url"] = http.url("ubuntu.tar").into();
    let pulled_plan = support::plan(&pulled_doc.to_string());
    let disk2 = out.join("disk2.img");
    let mut options = BuildOptions::new(vec![disk2.clone()], sources(&[("centos", &centos)]));
    options.pull = true;
    build_disks(&pulled_plan, &options).unwrap();
    assert_eq!(debugfs_cat(&disk2, root_u, "/etc/ubuntu-only"), "ubuntu");
    // Without a URL to pull, --pull says so.
    options.sources = sources(&[("ubuntu", &ubuntu)]);
    let error = build_disks(&plan, &options).unwrap_err().to_string();
    assert!(
        error.contains("image centos: its image_pull_url 'http://images.example.com/c.tar'")
            || error.contains("images.example.com"),
        "{error}"
    );
    std::fs::remove_file(&disk2).unwrap();

    // deploy image from a URL (a filesystem image this time).
    let new = ubuntu_2(work);
    let fs = support::make_fs(&new, "ext4", 32, &served.join("ubuntu-2.ext4"));
    let url = format!("{}#sha512={}", http.url("ubuntu-2.ext4"), {
        output("sha512sum", "coreutils", &[fs.to_str().unwrap()])
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    });
    let report = deploy_image(&DeployOptions::new(
        "ubuntu",
        &disk,
        Path::new(&url),
        NOT_ON_THIS_DISK,
    ))
    .unwrap();
    assert_eq!(report.boot_files.kernel, "/boot/vmlinuz-6.2.0-2");
    assert_eq!(debugfs_cat(&disk, root_u, "/etc/version"), "2\n");
    no_download_left(&out);
}

#[test]
fn a_server_that_never_answers_meets_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let TwoImageDisk {
        plan, disk, centos, ..
    } = two_image_disk_titled(work, "C", "U");
    let before = std::fs::read(&disk).unwrap();
    // Accepts connections (the kernel's backlog) and never reads or writes.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ubuntu.tar", silent.local_addr().unwrap());
    let mut options = DeployOptions::new("ubuntu", &disk, Path::new(&url), NOT_ON_THIS_DISK);
    options.pull_deadline = Duration::from_secs(2);
    let started = Instant::now();
    let error = deploy_image(&options).unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(30), "{error}");
    assert!(error.contains("within 2 s"), "{error}");
    assert!(error.contains("127.0.0.1"), "{error}");
    assert_eq!(std::fs::read(&disk).unwrap(), before, "the disk changed");
    no_download_left(work);
    let mut options = BuildOptions::new(
        vec![work.join("other.img")],
        sources(&[("centos", &centos), ("ubuntu", Path::new(&url))]),
    );
    options.pull_deadline = Duration::from_secs(2);
    let error = build_disks(&plan, &options).unwrap_err().to_string();
    assert!(error.contains("within 2 s"), "{error}");
    assert!(!work.join("other.img").exists());
    no_download_left(work);
    drop(silent);
    // Answers, sends part of the body, then stalls (holding the connection).
    let stalling = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ubuntu.tar", stalling.local_addr().unwrap());
    let holder = std::thread::spawn(move || {
        use std::io::Write as _;
        let (mut stream, _) = stalling.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = std::io::Read::read(&mut stream, &mut request);
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nthe start")
            .unwrap();
        std::thread::sleep(Duration::from_secs(6));
    });
    let mut options = DeployOptions::new("ubuntu", &disk, Path::new(&url), NOT_ON_THIS_DISK);
    options.pull_deadline = Duration::from_secs(2);
    let started = Instant::now();
    let error = deploy_image(&options).unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(6), "{error}");
    assert!(error.contains("within 2 s"), "{error}");
    assert_eq!(std::fs::read(&disk).unwrap(), before, "the disk changed");
    no_download_left(work);
    holder.join().unwrap();
}
