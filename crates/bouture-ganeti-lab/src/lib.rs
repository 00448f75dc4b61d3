//! A lab of real Ganeti 3.0 clusters on one machine, for tests.
//!
//! Each node is one set of Linux namespaces (`unshare --net --mount --uts
//! --pid --fork --mount-proc --propagation private`) whose PID 1
//! (`node-init.sh`) puts the node's own directories over `/etc/ganeti`,
//! `/var/lib/ganeti`, `/var/log/ganeti`, `/etc/ssh`, root's home, `/srv`,
//! `/etc/hosts` and `/etc/default/ganeti`, mounts a private `/run` and a fresh
//! `/sys`, then only reaps children. The nodes talk over a bridge in a "hub"
//! network namespace; nothing of the lab's network exists on the host.
//! Clusters are built concurrently with Ganeti's own commands
//! (`gnt-cluster init`, `gnt-node add`, `gnt-instance add`) using the `fake`
//! hypervisor and the `diskless` and `file` disk templates.
//!
//! Every process of the lab is killed by PID when the [`Lab`] is dropped
//! (also when a test panics), and if the test process itself dies, by the
//! kernel (`setpriv --pdeathsig KILL`, `unshare --kill-child`). The host is
//! snapshotted before the lab is built and compared after it is torn down
//! ([`Lab::teardown`]): mounts, network links, files under `/etc/ganeti`,
//! `/var/lib/ganeti` and `/run`, running daemons.
//!
//! How and why it is built this way: `docs/ganeti-lab.md`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What went wrong building, using or tearing down the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The lab cannot run on this machine (not root, a tool missing).
    #[error("the Ganeti lab cannot run here: {0}")]
    Unavailable(String),
    /// A command inside or outside the lab failed.
    #[error("{what} failed ({status}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")]
    Command {
        /// The command and where it ran.
        what: String,
        /// Its exit status.
        status: String,
        /// The end of its standard output.
        stdout: String,
        /// The end of its standard error.
        stderr: String,
    },
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// Something did not happen in time or as expected.
    #[error("{0}")]
    Failed(String),
    /// The host is not as it was before the lab.
    #[error("the host changed while the lab ran:\n{0}")]
    HostChanged(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Io { what, source }
}

/// How to install what the lab needs.
pub const SETUP_HINT: &str = "run the tests as root, after `source scripts/setup.d/peers.sh ganeti-lab` \
     (Debian packages ganeti, openssh-server, openssh-client, util-linux, iproute2)";

/// The addresses of the lab network (a documentation range).
const NET: &str = "198.51.100";

/// The disk template of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// No disk.
    Diskless,
    /// One 1 GiB file disk (created sparse under `/srv/ganeti/file-storage`).
    File,
}

/// An instance to create in a cluster.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// Its name (not resolved: `--no-name-check`).
    pub name: String,
    /// Its disk template.
    pub template: Template,
    /// Whether it runs (otherwise created with `--no-start`).
    pub running: bool,
    /// The index of its primary node in the cluster (0 is the master).
    pub node: usize,
}

impl InstanceSpec {
    /// An instance on the cluster's node `node`.
    pub fn new(name: &str, template: Template, running: bool, node: usize) -> Self {
        Self {
            name: name.to_owned(),
            template,
            running,
            node,
        }
    }
}

/// A cluster to build.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Short name: the cluster is `<short>.lab.test`, its nodes
    /// `n<i>.<short>.lab.test`.
    pub short: String,
    /// Nodes in the cluster (the first is the master).
    pub nodes: usize,
    /// Further nodes with sshd running and the master's root key authorized,
    /// not added: for tests that add them.
    pub spare_nodes: usize,
    /// Instances to create.
    pub instances: Vec<InstanceSpec>,
}

impl ClusterSpec {
    /// A cluster of `nodes` nodes, no spare node, no instance.
    pub fn new(short: &str, nodes: usize) -> Self {
        Self {
            short: short.to_owned(),
            nodes,
            spare_nodes: 0,
            instances: Vec::new(),
        }
    }

    /// The cluster with `count` spare nodes.
    #[must_use]
    pub fn spare(mut self, count: usize) -> Self {
        self.spare_nodes = count;
        self
    }

    /// The cluster with one more instance.
    #[must_use]
    pub fn instance(mut self, spec: InstanceSpec) -> Self {
        self.instances.push(spec);
        self
    }

    /// The usual cluster of the merge tests: a running diskless instance on
    /// the master, a stopped diskless one and a running file-backed one on
    /// the second node (when there is one).
    #[must_use]
    pub fn with_standard_instances(self) -> Self {
        let second = usize::from(self.nodes > 1);
        let short = self.short.clone();
        self.instance(InstanceSpec::new(
            &format!("run.{short}.lab.test"),
            Template::Diskless,
            true,
            0,
        ))
        .instance(InstanceSpec::new(
            &format!("stopped.{short}.lab.test"),
            Template::Diskless,
            false,
            second,
        ))
        .instance(InstanceSpec::new(
            &format!("file.{short}.lab.test"),
            Template::File,
            true,
            second,
        ))
    }
}

/// One node of the lab.
#[derive(Debug)]
pub struct Node {
    /// Its host name (fully qualified).
    pub name: String,
    /// Its address on the lab network.
    pub ip: String,
    /// Its directory on the host (the bind-mount sources).
    pub dir: PathBuf,
    /// The host PID of its PID 1.
    pub pid: u32,
    unshare: Child,
}

impl Node {
    /// The node's `/var/lib/ganeti`, as seen from the host.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("var-lib-ganeti")
    }

    /// The node's root home directory, as seen from the host.
    pub fn root_home(&self) -> PathBuf {
        self.dir.join("root")
    }
}

/// One cluster of the lab.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The cluster name.
    pub name: String,
    /// The master IP.
    pub ip: String,
    /// Its nodes' names, the master first.
    pub nodes: Vec<String>,
    /// Its spare nodes' names (not in the cluster).
    pub spare: Vec<String>,
    /// Its instances.
    pub instances: Vec<InstanceSpec>,
}

impl Cluster {
    /// The master node's name.
    pub fn master(&self) -> &str {
        self.nodes.first().map_or("", String::as_str)
    }
}

/// What the lab took, in seconds, to build.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildTimes {
    /// Nodes up (namespaces, mounts, network, sshd).
    pub nodes: f64,
    /// Clusters initialised, nodes added, instances created (concurrently).
    pub clusters: f64,
}

/// A running lab. Dropping it kills everything; [`Lab::teardown`] also
/// checks that the host is as before.
#[derive(Debug)]
pub struct Lab {
    dir: tempfile::TempDir,
    hub: Option<Child>,
    nodes: Vec<Node>,
    clusters: Vec<Cluster>,
    host_before: HostState,
    /// How long the build took.
    pub times: BuildTimes,
}

/// The output of a command run in a node.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from_output(output: &Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

fn tail(text: &str) -> String {
    const LIMIT: usize = 6000;
    if text.len() <= LIMIT {
        return text.to_owned();
    }
    let mut start = text.len() - LIMIT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[...]{}", &text[start..])
}

fn checked(what: &str, output: &Output) -> Result<String, LabError> {
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(LabError::Command {
            what: what.to_owned(),
            status: output.status.to_string(),
            stdout: tail(&String::from_utf8_lossy(&output.stdout)),
            stderr: tail(&String::from_utf8_lossy(&output.stderr)),
        })
    }
}

fn host(program: &str, args: &[&str]) -> Result<String, LabError> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("running {program}")))?;
    checked(&format!("{program} {}", args.join(" ")), &output)
}

/// The tools the lab runs on the host or inside the nodes.
const TOOLS: &[&str] = &[
    "/usr/bin/unshare",
    "/usr/bin/nsenter",
    "/usr/bin/setpriv",
    "/usr/sbin/ip",
    "/usr/bin/ssh-keygen",
    "/usr/bin/ssh",
    "/usr/sbin/sshd",
    "/usr/sbin/gnt-cluster",
    "/usr/sbin/gnt-node",
    "/usr/sbin/gnt-instance",
    "/usr/lib/ganeti/ensure-dirs",
    "/usr/lib/ganeti/daemon-util",
    "/usr/lib/ganeti/node-daemon-setup",
    "/bin/bash",
];

/// Fails, saying how to get it, when the lab cannot run here.
pub fn check_available() -> Result<(), LabError> {
    let status =
        fs::read_to_string("/proc/self/status").map_err(io("reading /proc/self/status"))?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    if euid != "0" {
        return Err(LabError::Unavailable(format!(
            "it needs root (effective uid {euid}); {SETUP_HINT}"
        )));
    }
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|tool| !Path::new(tool).exists())
        .collect();
    if !missing.is_empty() {
        return Err(LabError::Unavailable(format!(
            "missing {}; {SETUP_HINT}",
            missing.join(", ")
        )));
    }
    if !Path::new("/usr/share/ganeti/3.0/ganeti/backend.py").is_file() {
        return Err(LabError::Unavailable(format!(
            "Ganeti 3.0's library is not in /usr/share/ganeti/3.0; {SETUP_HINT}"
        )));
    }
    Ok(())
}

/// A clean environment for commands in a node.
const ENV: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/root"),
    ("LANG", "C.UTF-8"),
    ("USER", "root"),
    ("LOGNAME", "root"),
    ("SHELL", "/bin/bash"),
];

/// The command line that runs `bash -c script` in the namespaces of `pid`
/// with a clean environment.
fn in_node(pid: u32) -> Command {
    let mut cmd = Command::new("/usr/bin/nsenter");
    cmd.arg("-t").arg(pid.to_string()).args([
        "-n",
        "-m",
        "-u",
        "-p",
        "--wd=/",
        "--",
        "/usr/bin/env",
        "-i",
    ]);
    for (key, value) in ENV {
        cmd.arg(format!("{key}={value}"));
    }
    cmd.current_dir("/");
    cmd.env_clear();
    cmd
}

/// Runs `script` with bash in the node whose PID 1 is `pid`.
fn run_in(pid: u32, script: &str, stdin: Option<&[u8]>) -> Result<Run, LabError> {
    let mut cmd = in_node(pid);
    cmd.args(["/bin/bash", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().map_err(io("running nsenter"))?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(bytes).map_err(io("writing to nsenter"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(io("waiting for nsenter"))?;
    Ok(Run::from_output(&output))
}

fn run_ok_in(pid: u32, name: &str, script: &str) -> Result<String, LabError> {
    let run = run_in(pid, script, None)?;
    if run.code == 0 {
        Ok(run.stdout)
    } else {
        Err(LabError::Command {
            what: format!("on {name}: {script}"),
            status: format!("exit {}", run.code),
            stdout: tail(&run.stdout),
            stderr: tail(&run.stderr),
        })
    }
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), LabError> {
    fs::write(path, text).map_err(io(format!("writing {}", path.display())))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(io(format!("chmod {}", path.display())))
}

fn mkdir(path: &Path, mode: u32) -> Result<(), LabError> {
    fs::create_dir_all(path).map_err(io(format!("mkdir {}", path.display())))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(io(format!("chmod {}", path.display())))
}

/// Copies the host's Ganeti library once per lab and removes the
/// `/proc/sysrq-trigger` check, which this kernel cannot pass.
fn patched_ganeti_share(lab: &Path) -> Result<(), LabError> {
    let share = lab.join("ganeti-share");
    host(
        "/bin/cp",
        &[
            "-a",
            "/usr/share/ganeti/3.0",
            share.to_str().unwrap_or_default(),
        ],
    )?;
    let backend = share.join("ganeti/backend.py");
    let text = fs::read_to_string(&backend).map_err(io("reading backend.py"))?;
    let check = "not os.path.isfile(\"/proc/sysrq-trigger\")";
    if text.matches(check).count() != 1 {
        return Err(LabError::Failed(format!(
            "Ganeti's backend.py does not hold the one check `{check}` the lab removes"
        )));
    }
    write(&backend, &text.replace(check, "False"), 0o644)
}

/// The per-node directories that get bind-mounted inside the node.
fn prepare_node_dir(dir: &Path) -> Result<(), LabError> {
    mkdir(dir, 0o755)?;
    let s = |p: &Path| p.to_str().unwrap_or_default().to_owned();
    host(
        "/bin/cp",
        &["-a", "/etc/ganeti", &s(&dir.join("etc-ganeti"))],
    )?;
    write(
        &dir.join("etc-ganeti/file-storage-paths"),
        "/srv/ganeti/file-storage\n",
        0o644,
    )?;
    mkdir(&dir.join("var-lib-ganeti"), 0o755)?;
    mkdir(&dir.join("var-log-ganeti"), 0o755)?;
    // sshd's configuration, with fresh host keys of the node's own.
    host("/bin/cp", &["-a", "/etc/ssh", &s(&dir.join("etc-ssh"))])?;
    for entry in fs::read_dir(dir.join("etc-ssh")).map_err(io("listing etc-ssh"))? {
        let path = entry.map_err(io("listing etc-ssh"))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("ssh_host_") {
            fs::remove_file(&path).map_err(io(format!("removing {}", path.display())))?;
        }
    }
    let keygen = dir.join("keygen");
    mkdir(&keygen.join("etc/ssh"), 0o755)?;
    host("/usr/bin/ssh-keygen", &["-A", "-f", &s(&keygen)])?;
    for entry in fs::read_dir(keygen.join("etc/ssh")).map_err(io("listing keys"))? {
        let path = entry.map_err(io("listing keys"))?.path();
        let name = path.file_name().map(ToOwned::to_owned).unwrap_or_default();
        fs::rename(&path, dir.join("etc-ssh").join(name)).map_err(io("moving a host key"))?;
    }
    mkdir(&dir.join("root/.ssh"), 0o700)?;
    mkdir(&dir.join("root"), 0o700)?;
    mkdir(&dir.join("srv/ganeti/file-storage"), 0o755)?;
    let os = dir.join("srv/ganeti/os/noop");
    mkdir(&os, 0o755)?;
    write(&os.join("ganeti_api_version"), "20\n", 0o644)?;
    write(&os.join("parameters.list"), "", 0o644)?;
    for script in ["create", "export", "import", "rename", "verify"] {
        write(&os.join(script), "#!/bin/sh\nexit 0\n", 0o755)?;
    }
    fs::copy("/etc/default/ganeti", dir.join("default-ganeti"))
        .map_err(io("copying /etc/default/ganeti"))?;
    Ok(())
}

/// The PID of `parent`'s only child (the node's PID 1, under `unshare`).
fn child_pid(parent: u32) -> Option<u32> {
    let children = fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

fn wait_for(
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), LabError> {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > timeout {
            return Err(LabError::Failed(format!("timed out waiting for {what}")));
        }
        thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

impl Lab {
    /// Builds the clusters of `specs` (concurrently) and returns the lab.
    pub fn build(specs: &[ClusterSpec]) -> Result<Lab, LabError> {
        check_available()?;
        let host_before = HostState::capture()?;
        // Not under /tmp: every node has a private /tmp.
        let dir = tempfile::Builder::new()
            .prefix("bouture-ganeti-lab.")
            .tempdir_in("/var/tmp")
            .map_err(io("creating the lab directory"))?;
        let mut lab = Lab {
            dir,
            hub: None,
            nodes: Vec::new(),
            clusters: Vec::new(),
            host_before,
            times: BuildTimes::default(),
        };
        let start = Instant::now();
        lab.start_hub()?;
        patched_ganeti_share(lab.dir.path())?;

        // Names and addresses.
        let mut hosts = String::from("127.0.0.1 localhost\n");
        let mut index = 10;
        let mut names = Vec::new();
        for (c, spec) in specs.iter().enumerate() {
            let cluster_name = format!("{}.lab.test", spec.short);
            let cluster_ip = format!("{NET}.{}", 200 + c);
            let _ = writeln!(hosts, "{cluster_ip} {cluster_name}");
            let mut cluster = Cluster {
                name: cluster_name,
                ip: cluster_ip,
                nodes: Vec::new(),
                spare: Vec::new(),
                instances: spec.instances.clone(),
            };
            for n in 0..spec.nodes + spec.spare_nodes {
                let name = format!("n{}.{}.lab.test", n + 1, spec.short);
                let ip = format!("{NET}.{index}");
                index += 1;
                let _ = writeln!(hosts, "{ip} {name}");
                if n < spec.nodes {
                    cluster.nodes.push(name.clone());
                } else {
                    cluster.spare.push(name.clone());
                }
                names.push((name, ip));
            }
            lab.clusters.push(cluster);
        }
        write(&lab.dir.path().join("hosts"), &hosts, 0o644)?;
        write(
            &lab.dir.path().join("node-init.sh"),
            include_str!("node-init.sh"),
            0o755,
        )?;
        for (name, ip) in names {
            lab.start_node(&name, &ip)?;
        }
        lab.times.nodes = start.elapsed().as_secs_f64();

        let start = Instant::now();
        let results: Vec<Result<(), LabError>> = thread::scope(|scope| {
            let handles: Vec<_> = lab
                .clusters
                .iter()
                .map(|cluster| {
                    let lab = &lab;
                    scope.spawn(move || lab.build_cluster(cluster))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(LabError::Failed("a cluster build panicked".to_owned()))
                    })
                })
                .collect()
        });
        for result in results {
            result?;
        }
        lab.times.clusters = start.elapsed().as_secs_f64();
        Ok(lab)
    }

    fn start_hub(&mut self) -> Result<(), LabError> {
        let hub = Command::new("/usr/bin/setpriv")
            .args([
                "--pdeathsig",
                "KILL",
                "/usr/bin/unshare",
                "--net",
                "--",
                "/bin/sleep",
                "infinity",
            ])
            .stdin(Stdio::null())
            .spawn()
            .map_err(io("starting the hub namespace"))?;
        let pid = hub.id();
        self.hub = Some(hub);
        // The hub's network namespace differs from ours once unshare ran.
        let ours = fs::read_link("/proc/self/ns/net").map_err(io("reading our netns"))?;
        wait_for("the hub namespace", Duration::from_secs(10), || {
            fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|ns| ns != ours)
        })?;
        self.hub_ip(&["link", "add", "br0", "type", "bridge"])?;
        self.hub_ip(&["link", "set", "br0", "up"])?;
        Ok(())
    }

    fn hub_pid(&self) -> u32 {
        self.hub.as_ref().map_or(0, Child::id)
    }

    fn hub_ip(&self, args: &[&str]) -> Result<String, LabError> {
        let pid = self.hub_pid().to_string();
        let mut full = vec!["-t", &pid, "-n", "--", "/usr/sbin/ip"];
        full.extend_from_slice(args);
        host("/usr/bin/nsenter", &full)
    }

    fn start_node(&mut self, name: &str, ip: &str) -> Result<(), LabError> {
        let dir = self.dir.path().join("nodes").join(name);
        prepare_node_dir(&dir)?;
        let unshare = Command::new("/usr/bin/setpriv")
            .args([
                "--pdeathsig",
                "KILL",
                "/usr/bin/unshare",
                "--net",
                "--mount",
                "--uts",
                "--pid",
                "--fork",
                "--mount-proc",
                "--propagation",
                "private",
                "--kill-child=KILL",
                "--",
                "/bin/bash",
            ])
            .arg(self.dir.path().join("node-init.sh"))
            .arg(&dir)
            .arg(self.dir.path())
            .arg(name)
            .env_clear()
            .envs(ENV.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("init.log")).map_err(io("creating init.log"))?)
            .spawn()
            .map_err(io(format!("starting node {name}")))?;
        let unshare_pid = unshare.id();
        let mut node = Node {
            name: name.to_owned(),
            ip: ip.to_owned(),
            dir: dir.clone(),
            pid: 0,
            unshare,
        };
        let ready = dir.join("ready");
        let result = wait_for(
            &format!("node {name} to start"),
            Duration::from_secs(30),
            || ready.exists() || matches!(node.unshare.try_wait(), Ok(Some(_))),
        );
        node.pid = child_pid(unshare_pid).unwrap_or(0);
        self.nodes.push(node);
        result?;
        if !ready.exists() || self.nodes.last().is_none_or(|n| n.pid == 0) {
            let log = fs::read_to_string(dir.join("init.log")).unwrap_or_default();
            return Err(LabError::Failed(format!(
                "node {name} did not start:\n{}",
                tail(&log)
            )));
        }
        let pid = self.nodes.last().map_or(0, |n| n.pid);

        // Its cable to the hub: one end on br0, the other its eth0.
        let index = self.nodes.len();
        let veth = format!("veth{index}");
        self.hub_ip(&[
            "link",
            "add",
            &veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &pid.to_string(),
        ])?;
        self.hub_ip(&["link", "set", &veth, "master", "br0", "up"])?;
        run_ok_in(
            pid,
            name,
            &format!(
                "set -e
                 ip link set lo up
                 ip addr add {ip}/24 dev eth0
                 ip link set eth0 up
                 ip link add gbr0 type bridge
                 ip link set gbr0 up
                 /usr/lib/ganeti/ensure-dirs
                 /usr/sbin/sshd"
            ),
        )?;
        Ok(())
    }

    fn build_cluster(&self, cluster: &Cluster) -> Result<(), LabError> {
        let master = cluster.master();
        self.run_ok(
            master,
            &format!(
                "gnt-cluster init --no-etc-hosts --master-netdev=eth0 --master-netmask=24 \
                 --enabled-hypervisors=fake --enabled-disk-templates=diskless,file \
                 --file-storage-dir=/srv/ganeti/file-storage \
                 --nic-parameters=mode=bridged,link=gbr0 {}",
                cluster.name
            ),
        )?;
        // The administrator's step: the master's root key on the new nodes.
        let key = fs::read_to_string(self.node(master)?.root_home().join(".ssh/id_rsa.pub"))
            .map_err(io(format!("reading {master}'s root public key")))?;
        for name in cluster.nodes.iter().skip(1).chain(&cluster.spare) {
            self.authorize(name, &key)?;
        }
        for name in cluster.nodes.iter().skip(1) {
            self.run_ok(master, &format!("gnt-node add --no-ssh-key-check {name}"))?;
        }
        // In batches of parallel clients: Ganeti runs their jobs side by side.
        let mut script = String::from("d=/root/.lab-add; rm -rf $d; mkdir $d\n");
        for (i, instance) in cluster.instances.iter().enumerate() {
            let node = cluster.nodes.get(instance.node).ok_or_else(|| {
                LabError::Failed(format!(
                    "instance {}: no node {}",
                    instance.name, instance.node
                ))
            })?;
            let template = match instance.template {
                Template::Diskless => "-t diskless",
                Template::File => "-t file --disk 0:size=1G",
            };
            let start = if instance.running { "" } else { "--no-start" };
            let _ = writeln!(
                script,
                "gnt-instance add {template} -o noop -n {node} --no-ip-check --no-name-check \
                 -B memory=128M,vcpus=1 {start} {name} >$d/{name}.log 2>&1 \
                 || {{ touch $d/failed; cat $d/{name}.log >&2; }} &",
                name = instance.name
            );
            if i % 8 == 7 {
                script.push_str("wait\n");
            }
        }
        script.push_str("wait\nif [ -e $d/failed ]; then exit 1; fi\nrm -rf $d\n");
        if !cluster.instances.is_empty() {
            self.run_ok(master, &script)?;
        }
        Ok(())
    }

    /// Appends `key` to `node`'s root `authorized_keys`.
    pub fn authorize(&self, node: &str, key: &str) -> Result<(), LabError> {
        let path = self.node(node)?.root_home().join(".ssh/authorized_keys");
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(format!("opening {}", path.display())))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
            .map_err(io("chmod authorized_keys"))?;
        let line = if key.ends_with('\n') {
            key.to_owned()
        } else {
            format!("{key}\n")
        };
        file.write_all(line.as_bytes())
            .map_err(io(format!("writing {}", path.display())))
    }

    /// The lab's directory on the host.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The clusters.
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// The cluster whose short name is `short`.
    pub fn cluster(&self, short: &str) -> Result<&Cluster, LabError> {
        let name = format!("{short}.lab.test");
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| LabError::Failed(format!("no cluster {name} in the lab")))
    }

    /// The nodes.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> Result<&Node, LabError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| LabError::Failed(format!("no node {name} in the lab")))
    }

    /// Runs `script` with bash inside `node`, as root with a clean
    /// environment.
    pub fn run(&self, node: &str, script: &str) -> Result<Run, LabError> {
        run_in(self.node(node)?.pid, script, None)
    }

    /// [`Lab::run`] with `stdin` as standard input.
    pub fn run_with_stdin(&self, node: &str, script: &str, stdin: &[u8]) -> Result<Run, LabError> {
        run_in(self.node(node)?.pid, script, Some(stdin))
    }

    /// Starts `script` with bash inside `node` (as [`Lab::run`]) without
    /// waiting for it: its standard output and error are piped. The child
    /// is `nsenter`, whose own child runs the script (with `exec`, the
    /// program itself: [`Lab::spawned_pid`]).
    pub fn spawn(&self, node: &str, script: &str) -> Result<Child, LabError> {
        let mut cmd = in_node(self.node(node)?.pid);
        cmd.args(["/bin/bash", "-c", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        cmd.spawn().map_err(io("running nsenter"))
    }

    /// The host PID of the process a [`Lab::spawn`]ed script became, once
    /// its command name is `comm` (the script `exec`s it).
    pub fn spawned_pid(child: &Child, comm: &str) -> Result<u32, LabError> {
        let mut found = None;
        wait_for(
            &format!("{comm} to start in the node"),
            Duration::from_mins(1),
            || {
                found = child_pid(child.id()).filter(|pid| {
                    fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|name| name.trim() == comm)
                });
                found.is_some()
            },
        )?;
        found.ok_or_else(|| LabError::Failed(format!("{comm} did not start")))
    }

    /// `path` (absolute) as `node` sees it, seen from the host (through its
    /// PID 1's `/proc/PID/root`: the node's mounts included).
    pub fn node_path(&self, node: &str, path: &str) -> Result<PathBuf, LabError> {
        Ok(PathBuf::from(format!(
            "/proc/{}/root{path}",
            self.node(node)?.pid
        )))
    }

    /// Runs `script` inside `node`; an error unless it exits 0. Returns its
    /// standard output.
    pub fn run_ok(&self, node: &str, script: &str) -> Result<String, LabError> {
        run_ok_in(self.node(node)?.pid, node, script)
    }

    /// `gnt-cluster verify` on `node` (a master): its output, or an error
    /// holding it.
    pub fn verify(&self, node: &str) -> Result<String, LabError> {
        self.run_ok(node, "gnt-cluster verify 2>&1")
    }

    fn kill_all(&mut self) {
        for node in &mut self.nodes {
            if node.pid != 0 {
                let _ = Command::new("/bin/kill")
                    .args(["-KILL", &node.pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = node.unshare.kill();
            let _ = node.unshare.wait();
        }
        self.nodes.clear();
        if let Some(mut hub) = self.hub.take() {
            let _ = hub.kill();
            let _ = hub.wait();
        }
    }

    /// Kills every process of the lab, removes its directory, and checks that
    /// the host is as it was before the lab was built.
    pub fn teardown(mut self) -> Result<(), LabError> {
        self.kill_all();
        // The namespaces go when their last process does; wait for the
        // kernel to have let go of them.
        let before = self.host_before.clone();
        let mut last = String::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            let now = HostState::capture()?;
            last = before.differences(&now);
            if last.is_empty() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(200));
        }
        Err(LabError::HostChanged(last))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// What the lab must leave unchanged on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostState {
    mounts: BTreeSet<String>,
    links: BTreeSet<String>,
    files: BTreeSet<String>,
    daemons: BTreeSet<String>,
}

/// Directories whose files the lab must leave alone on the host.
const WATCHED_DIRS: &[&str] = &["/etc/ganeti", "/var/lib/ganeti", "/var/log/ganeti", "/run"];

fn list_files(dir: &Path, out: &mut BTreeSet<String>, depth: usize) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        // Contents and times of the host's files in /run change with the
        // host's own life; names and types do not come from the lab.
        out.insert(format!("{} {:?}", path.display(), meta.file_type()));
        if meta.is_dir() && depth < 4 {
            list_files(&path, out, depth + 1);
        }
    }
}

/// The parent of process `pid`, from `/proc/PID/stat` (`None` once it is
/// gone or for PID 1).
fn parent_pid(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
    let (_, rest) = stat.rsplit_once(") ")?;
    let parent: u32 = rest.split(' ').nth(1)?.parse().ok()?;
    (parent != 0).then_some(parent)
}

/// Whether process `pid` descends from another child of `runner` (the
/// test runner that started this test process): a test running beside
/// this one (nextest runs each test in a process of its own), such as the
/// sshd tests' private `sshd -D` and its sessions. Those come and go on
/// the host while the lab lives, and are not the lab's doing; a daemon
/// the lab leaked would have been started by this process (or have been
/// handed to init), never by a sibling.
fn of_another_test(pid: &str, runner: u32) -> bool {
    let me = std::process::id();
    let Ok(mut current) = pid.parse::<u32>() else {
        return false;
    };
    // Bounded: a process tree is not deeper than this on any real host.
    for _ in 0..64 {
        let Some(parent) = parent_pid(current) else {
            return false;
        };
        if parent == runner {
            return current != me;
        }
        current = parent;
    }
    false
}

impl HostState {
    /// The host as it is now.
    pub fn capture() -> Result<HostState, LabError> {
        let mountinfo =
            fs::read_to_string("/proc/self/mountinfo").map_err(io("reading mountinfo"))?;
        // Mount point, options, type and source (not the changing IDs).
        let mounts = mountinfo
            .lines()
            .map(|l| l.split(' ').skip(3).collect::<Vec<_>>().join(" "))
            .collect();
        let links = host("/usr/sbin/ip", &["-o", "link", "show"])?
            .lines()
            .filter_map(|l| l.split(": ").nth(1).map(ToOwned::to_owned))
            .collect();
        let mut files = BTreeSet::new();
        for dir in WATCHED_DIRS {
            list_files(Path::new(dir), &mut files, 0);
        }
        // Daemons of the host (its own network namespace): Ganeti's and sshd,
        // except those of the tests that run beside this one (see
        // `of_another_test`).
        let ours = fs::read_link("/proc/self/ns/net").map_err(io("reading our netns"))?;
        let runner = parent_pid(std::process::id()).filter(|&p| p != 1);
        let mut daemons = BTreeSet::new();
        for entry in fs::read_dir("/proc")
            .map_err(io("listing /proc"))?
            .flatten()
        {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(comm) = fs::read_to_string(format!("/proc/{pid}/comm")) else {
                continue;
            };
            let comm = comm.trim();
            if !(comm.starts_with("ganeti-") || comm == "sshd") {
                continue;
            }
            if fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|ns| ns == ours)
                && !runner.is_some_and(|runner| of_another_test(&pid, runner))
            {
                daemons.insert(format!("{pid} {comm}"));
            }
        }
        Ok(HostState {
            mounts,
            links,
            files,
            daemons,
        })
    }

    /// What differs from `after`, one line each; empty when nothing does.
    pub fn differences(&self, after: &HostState) -> String {
        let mut out = String::new();
        for (what, a, b) in [
            ("mount", &self.mounts, &after.mounts),
            ("link", &self.links, &after.links),
            ("file", &self.files, &after.files),
            ("daemon", &self.daemons, &after.daemons),
        ] {
            for gone in a.difference(b) {
                let _ = writeln!(out, "{what} gone: {gone}");
            }
            for new in b.difference(a) {
                let _ = writeln!(out, "{what} new: {new}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: failing loudly is their job")]

    use super::{of_another_test, parent_pid};

    /// A process this test started is its own (a daemon the lab leaked
    /// would be one), never another test's; the process tree is read
    /// from /proc as the kernel keeps it.
    #[test]
    fn our_own_children_are_never_another_tests() {
        let me = std::process::id();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert_eq!(parent_pid(pid), Some(me));
        let runner = parent_pid(me).unwrap();
        assert!(!of_another_test(&pid.to_string(), runner));
        // Ourselves neither; nor a PID that is no number or no process.
        assert!(!of_another_test(&me.to_string(), runner));
        assert!(!of_another_test("self", runner));
        // Our runner's own child is us: a child of the runner that is not
        // us is a sibling, which is what `of_another_test` looks for.
        assert_eq!(parent_pid(me), Some(runner));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(parent_pid(pid), None, "a reaped process has no parent");
        assert_eq!(parent_pid(1), None, "init has no parent");
    }
}
