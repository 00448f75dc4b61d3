# shellcheck shell=bash
# OpenSSH, for bouture-cluster-merge's SSH tests.
#
# The tests start Debian's own sshd (as root, in the foreground, on a free
# loopback port, with a throw-away host key and a configuration of their own:
# no system service is configured, started or touched) and connect to it with
# the system ssh client, exactly as `bouture cluster-merge` does. Sourced by
# scripts/test; idempotent, and quick when both are installed.
#
# Exports:
#   BOUTURE_SSHD   the sshd binary the tests start (/usr/sbin/sshd)
#   BOUTURE_SSH    the ssh client (/usr/bin/ssh)

BOUTURE_SSHD="${BOUTURE_SSHD:-/usr/sbin/sshd}"
BOUTURE_SSH="${BOUTURE_SSH:-/usr/bin/ssh}"

if [ ! -x "$BOUTURE_SSHD" ] || [ ! -x "$BOUTURE_SSH" ] || ! command -v ssh-keygen >/dev/null 2>&1; then
    echo "30-openssh: installing openssh-server and openssh-client (no service is started)" >&2
    # Keep the package's sshd from starting on this machine; the tests run
    # their own.
    # shellcheck source=scripts/lib/apt-install.sh
    source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt-install.sh"
    if ! bouture_apt_install openssh-server openssh-client; then
        echo "30-openssh: installing openssh-server and openssh-client failed" >&2
        return 1
    fi
fi

if [ ! -x "$BOUTURE_SSHD" ] || [ ! -x "$BOUTURE_SSH" ]; then
    echo "30-openssh: $BOUTURE_SSHD or $BOUTURE_SSH is missing after installing the packages" >&2
    return 1
fi

export BOUTURE_SSHD BOUTURE_SSH
