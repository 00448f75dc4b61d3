#!/usr/bin/env python3
"""Simulated Ganeti clusters for bouture-cluster-merge's tests.

This one script is installed under the names `ssh`, `gnt-cluster`,
`gnt-node`, `gnt-instance` and `daemon-util` in SIM/bin, and dispatches on
the name it was called by. Every host is a directory SIM/hosts/NODE:

  var/lib/ganeti/config.data          the cluster configuration (masters)
  var/lib/ganeti/ssconf_cluster_name  which cluster the node belongs to
  var/lib/ganeti/ssconf_master_node   its master
  var/lib/ganeti/watcher.pause        present while the watcher is paused
  root/.ssh/authorized_keys, id_rsa, id_rsa.pub
  state/daemons.json                  {"node": "running"|"stopped",
                                       "master": ... (masters only)}
  state/master_daemons.json           while the master role is partly started:
                                       wconfd, rapi, luxid each "running",
                                       "running-no-voting" or "stopped"
  state/instances.json                instance name -> status (masters)
  state/master_ip                     "up" or "down" (masters)
  state/down                          present: the host is unreachable

SIM/aliases/CLUSTER names the master node a cluster name resolves to, while
its master IP is up. SIM/inject.json lists injected faults:
  {"host": H, "match": TEXT, "skip": N, "times": N,
   "action": "fail" | "replace" | "immutable", "file": REL, "content": TEXT,
   "stdout": TEXT}
("immutable" makes FILE immutable with chattr +i, then fails; "wait" appends
the call to SIM/reached, then sleeps `seconds` and goes on; "stdout" is
printed on standard output first.)
A fault applies to the calls on H whose command line contains TEXT, after
skipping N of them, `times` times (default: always). Every call is appended
to SIM/calls.log.

What the tests rely on behaves as in Ganeti: gnt-* commands need a running
master daemon on the master node; `ssh` needs batch mode, refuses unknown
keys and cluster names whose master IP is down; `gnt-node add --readd` needs
the node to accept our root key; instances start only on running nodes.
"""

import json
import os
import shlex
import sys

# The simulation installs this script with its interpreter on the #! line,
# isolated and without site (see cluster_sim's fake_script); every call of a
# fake is a process start, so what only some calls need (subprocess, time)
# is imported where it is used.

# BOUTURE_SIM_BIN: where SIM/bin is when this script is bind-mounted
# elsewhere (over /usr/sbin/gnt-* in a private mount namespace).
BIN = os.environ.get("BOUTURE_SIM_BIN") or os.path.dirname(os.path.abspath(__file__))
SIM = os.path.dirname(BIN)
NAME = os.path.basename(sys.argv[0])
ARGS = sys.argv[1:]


def die(message, code=1):
    sys.stderr.write(message + "\n")
    sys.exit(code)


def read(path, default=None):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return default


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    mode = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o644
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def load_json(path, default):
    text = read(path)
    return default if text is None else json.loads(text)


def dump_json(path, value):
    write(path, json.dumps(value, sort_keys=True, indent=1) + "\n")


def host_dir(name):
    return os.path.join(SIM, "hosts", name)


def log_call(host, line):
    with open(os.path.join(SIM, "calls.log"), "a") as handle:
        handle.write("%s: %s\n" % (host, line))


def injected(host, line):
    """Apply the faults matching this call; exit when one says fail."""
    path = os.path.join(SIM, "inject.json")
    faults = load_json(path, [])
    changed = False
    for fault in faults:
        if fault["host"] != host or fault["match"] not in line:
            continue
        if fault.get("skip", 0) > 0:
            fault["skip"] -= 1
            changed = True
            continue
        if fault.get("times") is not None:
            if fault["times"] <= 0:
                continue
            fault["times"] -= 1
            changed = True
        if changed:
            dump_json(path, faults)
            changed = False
        if "stdout" in fault:
            sys.stdout.write(fault["stdout"])
            sys.stdout.flush()
        if fault["action"] == "fail":
            die("injected failure of %r on %s" % (line, host))
        if fault["action"] == "wait":
            # Say the call is reached, then take `seconds` (the test sends
            # bouture a signal meanwhile).
            with open(os.path.join(SIM, "reached"), "a") as handle:
                handle.write(line + "\n")
            import time
            time.sleep(fault.get("seconds", 5))
        if fault["action"] == "immutable":
            # The file can no longer be replaced, even by root (an undo
            # that fails); the test clears the flag.
            import subprocess
            subprocess.run(["chattr", "+i", os.path.join(host_dir(host), fault["file"])],
                           check=True)
            die("injected failure of %r on %s" % (line, host))
        if fault["action"] == "replace":
            write(os.path.join(host_dir(host), fault["file"]), fault["content"])
    if changed:
        dump_json(path, faults)


# --------------------------------------------------------------------------
# ssh

def fake_ssh():
    global NAME, ARGS
    args = list(ARGS)
    options = []
    key = None
    while args and args[0] != "--":
        arg = args.pop(0)
        if arg == "-o":
            options.append(args.pop(0))
        elif arg in ("-i", "-l", "-p", "-F"):
            value = args.pop(0)
            if arg == "-i":
                key = value
        elif arg in ("-T", "-n"):
            pass
        else:
            die("fake ssh: unexpected argument %r" % arg, 255)
    if not args:
        die("fake ssh: no '--' before the host", 255)
    args.pop(0)
    if len(args) != 2:
        die("fake ssh: expected HOST COMMAND after '--', got %r" % args, 255)
    host, command = args
    if "BatchMode=yes" not in options:
        die("fake ssh: refusing to run without BatchMode=yes (it could prompt)", 255)
    if not any(o.startswith("StrictHostKeyChecking=") for o in options):
        die("fake ssh: StrictHostKeyChecking is not set", 255)
    name = host
    if not os.path.isdir(host_dir(name)):
        master = (read(os.path.join(SIM, "aliases", host)) or "").strip()
        if not master or read(os.path.join(host_dir(master), "state", "master_ip"), "").strip() != "up":
            die("ssh: Could not resolve hostname %s: Name or service not known" % host, 255)
        name = master
    home = host_dir(name)
    if os.path.exists(os.path.join(home, "state", "down")):
        die("ssh: connect to host %s port 22: Connection timed out" % host, 255)
    authorized = (read(os.path.join(home, "root", ".ssh", "authorized_keys")) or "").splitlines()
    if key is not None:
        if os.stat(key).st_mode & 0o077:
            die("Permissions for '%s' are too open." % key, 255)
        text = read(key) or ""
        ident = [l for l in text.splitlines() if l.startswith("fake-key-of:")]
        wanted = "ssh-ed25519 FAKE-%s " % ident[0][len("fake-key-of:"):] if ident else None
    else:
        wanted = "ssh-ed25519 FAKE-%s " % read(os.path.join(BIN, "operator")).strip()
    if wanted is None or not any(line.startswith(wanted) for line in authorized):
        die("root@%s: Permission denied (publickey)." % host, 255)
    log_call(name, "ssh " + command)
    injected(name, command)
    rewritten = (command
                 .replace("/usr/sbin/gnt-", BIN + "/gnt-")
                 .replace("/usr/lib/ganeti/daemon-util", BIN + "/daemon-util")
                 .replace("/var/lib/ganeti", home + "/var/lib/ganeti")
                 .replace("/root/.ssh", home + "/root/.ssh"))
    words = simple_command(rewritten)
    if words is not None and os.path.dirname(words[0]) == BIN \
            and os.path.basename(words[0]) in HANDLERS:
        # One fake and its plain arguments: what `sh -c` would start, run in
        # this process (a Python start less; the shell is kept for the rest).
        os.environ["GANETI_SIM_HOST"] = name
        NAME, ARGS = os.path.basename(words[0]), words[1:]
        HANDLERS[NAME](Host())
        sys.exit(0)
    env = dict(os.environ, GANETI_SIM_HOST=name)
    import subprocess
    sys.exit(subprocess.call(["sh", "-c", rewritten], env=env))


def simple_command(command):
    """The words of `command` when the shell would only split it into them:
    it is exactly their canonical quoting (no expansion, redirection,
    assignment or second command); else None."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words or " ".join(shlex.quote(w) for w in words) != command:
        return None
    return words


# --------------------------------------------------------------------------
# Ganeti

class Host(object):
    def __init__(self):
        name = os.environ.get("GANETI_SIM_HOST") or read(os.path.join(BIN, "local-host")).strip()
        self.name = name
        self.dir = host_dir(name)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def ssconf(self, key):
        return (read(self.path("var", "lib", "ganeti", "ssconf_" + key)) or "").strip()

    def daemons(self):
        return load_json(self.path("state", "daemons.json"), {})

    def set_daemons(self, value):
        dump_json(self.path("state", "daemons.json"), value)

    def config_path(self):
        return self.path("var", "lib", "ganeti", "config.data")

    def config(self):
        return json.loads(read(self.config_path()))

    def instances(self):
        return load_json(self.path("state", "instances.json"), {})

    def set_instances(self, value):
        dump_json(self.path("state", "instances.json"), value)

    def need_master(self):
        if self.ssconf("master_node") != self.name:
            die("This is not the master node; the master is %s" % self.ssconf("master_node"))
        if not self.daemons().get("master", "").startswith("running"):
            die("Cannot communicate with the master daemon.\nIs it running and listening for connections?")


def node_names(config):
    return sorted(n["name"] for n in config["nodes"].values())


def node_running(name):
    daemons = load_json(os.path.join(host_dir(name), "state", "daemons.json"), {})
    return daemons.get("node") == "running"


def output_fields(args):
    fields = args[args.index("-o") + 1].split(",")
    separator = " "
    for arg in args:
        if arg.startswith("--separator="):
            separator = arg[len("--separator="):]
    return fields, separator


def gnt_cluster(host):
    command = ARGS[0]
    if command == "verify":
        host.need_master()
        config = host.config()
        problems = []
        for node in config["nodes"].values():
            if not node.get("offline") and not node_running(node["name"]):
                problems.append("node %s: node daemon not responding" % node["name"])
        if problems:
            die("\n".join(problems))
        print("Verify OK")
    elif command == "watcher":
        host.need_master()
        pause = host.path("var", "lib", "ganeti", "watcher.pause")
        if ARGS[1] == "pause":
            write(pause, "paused for %s seconds\n" % int(ARGS[2]))
            print("The watcher is paused.")
        elif ARGS[1] == "continue":
            if os.path.exists(pause):
                os.remove(pause)
            print("The watcher is no longer paused.")
        elif ARGS[1] == "info":
            print("The watcher is paused until later." if os.path.exists(pause)
                  else "The watcher is not paused.")
        else:
            die("unknown watcher command %s" % ARGS[1])
    elif command == "deactivate-master-ip":
        host.need_master()
        if "--yes" not in ARGS:
            die("This will deactivate the master IP; answer y/n: aborted (no --yes)")
        write(host.path("state", "master_ip"), "down\n")
    elif command == "activate-master-ip":
        host.need_master()
        write(host.path("state", "master_ip"), "up\n")
    elif command == "redist-conf":
        host.need_master()
        config = host.config()
        for node in config["nodes"].values():
            if node.get("offline") or node["name"] == host.name:
                continue
            if not node_running(node["name"]):
                die("Failure: node %s: node daemon not responding" % node["name"])
            target = os.path.join(host_dir(node["name"]), "var", "lib", "ganeti", "config.data")
            write(target, read(host.config_path()))
    else:
        die("fake gnt-cluster: unsupported command %s" % command)


def gnt_node(host):
    host.need_master()
    command = ARGS[0]
    config = host.config()
    if command == "list":
        fields, separator = output_fields(ARGS)
        for node in sorted(config["nodes"].values(), key=lambda n: n["name"]):
            values = {"name": node["name"], "offline": "Y" if node.get("offline") else "N"}
            print(separator.join(values[f] for f in fields))
    elif command == "add":
        if "--readd" not in ARGS:
            die("fake gnt-node: only --readd is simulated")
        name = ARGS[-1]
        matching = [n for n in config["nodes"].values() if n["name"] == name]
        if not matching:
            die("Node %s is not in the configuration" % name)
        home = host_dir(name)
        if not os.path.isdir(home) or os.path.exists(os.path.join(home, "state", "down")):
            die("ssh: connect to host %s port 22: Connection timed out" % name)
        ours = (read(host.path("root", ".ssh", "id_rsa.pub")) or "").strip()
        authorized = (read(os.path.join(home, "root", ".ssh", "authorized_keys")) or "").splitlines()
        if ours not in authorized:
            die("ssh to %s: Permission denied (publickey)" % name)
        # As prepare-node-join and node-daemon-setup on the node: a node
        # still holding another cluster's name is refused.
        gdir = os.path.join(home, "var", "lib", "ganeti")
        current = (read(os.path.join(gdir, "ssconf_cluster_name")) or "").strip()
        if current and current != host.ssconf("cluster_name"):
            die("Current cluster name is '%s'" % current)
        node = matching[0]
        node["offline"] = False
        # As Ganeti's AdjustCandidatePool: promote while below the pool size.
        pool = config["cluster"].get("candidate_pool_size", 10)
        candidates = len([n for n in config["nodes"].values() if n.get("master_candidate")])
        if not node.get("master_candidate") and candidates < pool:
            node["master_candidate"] = True
        node["serial_no"] = node.get("serial_no", 0) + 1
        config["serial_no"] = config.get("serial_no", 0) + 1
        write(host.config_path(), json.dumps(config, indent=1, sort_keys=True) + "\n")
        write(os.path.join(gdir, "ssconf_cluster_name"), host.ssconf("cluster_name") + "\n")
        write(os.path.join(gdir, "ssconf_master_node"), host.name + "\n")
        daemons_path = os.path.join(home, "state", "daemons.json")
        daemons = load_json(daemons_path, {})
        daemons["node"] = "running"
        dump_json(daemons_path, daemons)
    else:
        die("fake gnt-node: unsupported command %s" % command)


def gnt_instance(host):
    host.need_master()
    command = ARGS[0]
    config = host.config()
    states = host.instances()
    names = sorted(i["name"] for i in config["instances"].values())
    if command == "list":
        fields, separator = output_fields(ARGS)
        for name in names:
            values = {"name": name, "status": states.get(name, "ADMIN_down")}
            print(separator.join(values[f] for f in fields))
    elif command == "shutdown":
        if "--all" not in ARGS or "--force-multiple" not in ARGS:
            die("fake gnt-instance: shutdown needs --all --force-multiple here")
        for name in names:
            states[name] = "ADMIN_down"
        host.set_instances(states)
    elif command == "startup":
        wanted = [a for a in ARGS[1:] if not a.startswith("--")]
        if len(wanted) > 1 and "--force-multiple" not in ARGS:
            die("Multiple instances affected; use --force-multiple")
        nodes = dict((uuid, n["name"]) for uuid, n in config["nodes"].items())
        by_name = dict((i["name"], i) for i in config["instances"].values())
        for name in wanted:
            if name not in by_name:
                die("Instance '%s' not known" % name)
            primary = nodes.get(by_name[name]["primary_node"])
            if not node_running(primary):
                die("Could not start instance %s: node %s is not responding" % (name, primary))
            states[name] = "running"
        host.set_instances(states)
    else:
        die("fake gnt-instance: unsupported command %s" % command)


# Ganeti 3.0's master role: three daemons, started in this order (there is
# no masterd since 2.16).
MASTER_DAEMONS = ("ganeti-wconfd", "ganeti-rapi", "ganeti-luxid")
VOTING_DAEMONS = ("ganeti-wconfd", "ganeti-luxid")


def daemon_args(name, given):
    """The arguments Ganeti 3.0's daemon-util (without systemd) passes to a
    daemon: $<NAME>_ARGS and $EXTRA_<NAME>_ARGS from the environment (the
    defaults file may set them too), then its own command line's."""
    plain = name[len("ganeti-"):].upper()
    words = (os.environ.get(plain + "_ARGS", "") + " "
             + os.environ.get("EXTRA_" + plain + "_ARGS", "")).split()
    return words + list(given)


def start_master_daemon(host, states, name, args):
    if name in VOTING_DAEMONS:
        if host.ssconf("master_node") != host.name:
            die("not the master node")
        no_voting = "--no-voting" in args
        if no_voting and "--yes-do-it" not in args:
            die("The 'no voting' option has been selected. This is dangerous, "
                "please confirm by adding the --yes-do-it option.")
        if not no_voting:
            # As wconfd and luxid: a majority of the configuration's nodes
            # must answer the vote (their node daemon running).
            config = host.config()
            names = [n["name"] for n in config["nodes"].values()]
            answering = [n for n in names if n == host.name or node_running(n)]
            if 2 * len(answering) <= len(names):
                die("Couldn't gather voting results of enough nodes")
        states[name] = "running-no-voting" if no_voting else "running"
    else:
        states[name] = "running"


def master_summary(states):
    if all(states.get(d, "stopped") == "stopped" for d in MASTER_DAEMONS):
        return "stopped"
    if all(states.get(d, "").startswith("running") for d in MASTER_DAEMONS):
        if any(states[d] == "running-no-voting" for d in VOTING_DAEMONS):
            return "running-no-voting"
        return "running"
    return "partly-running"


def daemon_util(host):
    command = ARGS[0]
    daemons = host.daemons()
    # Each master daemon's state is in daemons.json's summary "master"; only
    # while the role is partly started is it kept per daemon.
    states_path = host.path("state", "master_daemons.json")
    summary = daemons.get("master", "stopped")
    states = load_json(states_path, None) or dict(
        (d, "stopped" if not summary.startswith("running")
         else summary if d in VOTING_DAEMONS else "running")
        for d in MASTER_DAEMONS)
    if command == "stop-all":
        for key in daemons:
            daemons[key] = "stopped"
        for d in MASTER_DAEMONS:
            states[d] = "stopped"
    elif command == "start-all":
        daemons["node"] = "running"
        if "master" in daemons:
            for d in MASTER_DAEMONS:
                start_master_daemon(host, states, d, daemon_args(d, []))
    elif command == "stop-master":
        for d in MASTER_DAEMONS:
            states[d] = "stopped"
    elif command == "start-master":
        for d in MASTER_DAEMONS:
            start_master_daemon(host, states, d, daemon_args(d, []))
    elif command in ("start", "stop") and len(ARGS) >= 2 and ARGS[1] in MASTER_DAEMONS:
        if command == "start":
            start_master_daemon(host, states, ARGS[1], daemon_args(ARGS[1], ARGS[2:]))
        else:
            states[ARGS[1]] = "stopped"
    else:
        die("fake daemon-util: unsupported command %s" % " ".join(ARGS))
    if "master" in daemons or command not in ("stop-all", "start-all"):
        summary = master_summary(states)
        daemons["master"] = summary
        if summary == "partly-running":
            dump_json(states_path, states)
        elif os.path.exists(states_path):
            os.remove(states_path)
    host.set_daemons(daemons)


HANDLERS = {"gnt-cluster": gnt_cluster, "gnt-node": gnt_node,
            "gnt-instance": gnt_instance, "daemon-util": daemon_util}


def main():
    if NAME == "ssh":
        fake_ssh()
    host = Host()
    line = " ".join(shlex.quote(a) for a in [NAME] + ARGS)
    if os.environ.get("GANETI_SIM_HOST") is None:
        log_call(host.name, "local " + line)
        injected(host.name, line)
    if NAME not in HANDLERS:
        die("fake.py: unknown program name %s" % NAME)
    HANDLERS[NAME](host)


if __name__ == "__main__":
    main()
