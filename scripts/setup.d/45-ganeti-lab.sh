# shellcheck shell=bash
# The Ganeti lab (crates/bouture-ganeti-lab): real Ganeti 3.0 clusters, one
# set of Linux namespaces per node, for the `ganeti_lab*` tests.
#
# They need, as root: Debian's ganeti (its daemons, gnt-* commands and
# library; 20-ganeti.sh installs it), openssh-server and openssh-client (each
# node runs its own sshd; 30-openssh.sh), util-linux (unshare, nsenter,
# setpriv, mount) and iproute2 (the hub bridge and the veth pairs). No
# service of the host is configured, started or touched: every daemon runs
# inside a node's namespaces. Sourced by scripts/test; idempotent, and quick
# when everything is there.

bouture_lab_missing() {
    local tool
    for tool in /usr/bin/unshare /usr/bin/nsenter /usr/bin/setpriv /usr/sbin/ip \
        /usr/sbin/gnt-cluster /usr/lib/ganeti/daemon-util /usr/sbin/sshd /usr/bin/ssh \
        /usr/bin/ssh-keygen; do
        [ -x "$tool" ] || return 0
    done
    return 1
}

if bouture_lab_missing; then
    echo "45-ganeti-lab: installing ganeti, openssh-server, openssh-client, util-linux, iproute2 (no service is started)" >&2
    # shellcheck source=scripts/lib/apt-install.sh
    source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt-install.sh"
    if ! bouture_apt_install ganeti openssh-server openssh-client util-linux iproute2; then
        echo "45-ganeti-lab: installing the lab's packages failed" >&2
        return 1
    fi
fi

if bouture_lab_missing; then
    echo "45-ganeti-lab: a tool of the lab is still missing after installing its packages" >&2
    return 1
fi
unset -f bouture_lab_missing
