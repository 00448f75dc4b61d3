#!/bin/bash
# PID 1 of one lab node (run by `unshare --net --mount --uts --pid --fork
# --mount-proc --propagation private`): puts the node's own directories over
# Ganeti's and sshd's, then only reaps children. Every mount is `mount -n`:
# without it, mount(8) writes /run/mount on the host.
#
# Arguments: NODE_DIR LAB_DIR HOSTNAME
set -eu
node=$1
lab=$2
name=$3

m() { mount -n "$@"; }

# /var/lib: a tmpfs holding the host's entries (bind-mounted back, so the
# packages' state stays readable), our own ganeti directory, and room for
# directories that do not exist on the host (bouture's state directory),
# which are then created here and not on the host.
mkdir -p "$node/host-var-lib"
m --bind /var/lib "$node/host-var-lib"
m -t tmpfs -o mode=0755 tmpfs /var/lib
for entry in "$node/host-var-lib"/* "$node/host-var-lib"/.[!.]*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    base=${entry##*/}
    [ "$base" = ganeti ] && continue
    if [ -L "$entry" ]; then
        cp -a "$entry" "/var/lib/$base"
    elif [ -d "$entry" ]; then
        mkdir "/var/lib/$base"
        m --bind "$entry" "/var/lib/$base"
    else
        : > "/var/lib/$base"
        m --bind "$entry" "/var/lib/$base"
    fi
done
mkdir -m 0755 /var/lib/ganeti
m --bind "$node/var-lib-ganeti" /var/lib/ganeti

m --bind "$node/etc-ganeti" /etc/ganeti
m --bind "$node/var-log-ganeti" /var/log/ganeti
m --bind "$node/etc-ssh" /etc/ssh
m --bind "$node/root" /root
m --bind "$node/srv" /srv
m --bind "$lab/hosts" /etc/hosts
m --bind "$node/default-ganeti" /etc/default/ganeti
# Ganeti's library, with the one check this kernel cannot pass
# (/proc/sysrq-trigger) removed: inside the namespaces only.
m --bind "$lab/ganeti-share" /usr/share/ganeti/3.0
m -t tmpfs -o mode=0755 tmpfs /run
# A private /tmp too: what a node's programs leave there is its own (the lab
# directory itself is not under /tmp).
m -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -m 1777 /run/lock
mkdir -m 0755 /run/sshd /run/ganeti
# A fresh sysfs shows this network namespace's interfaces, not the host's.
m -t sysfs sysfs /sys
hostname "$name"

: > "$node/ready"
# Reap every child (daemons reparent here) until killed.
trap 'exit 0' TERM
while :; do
    sleep 3600 &
    wait || :
done
