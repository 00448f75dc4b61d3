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
    if [ "$(id -u)" -ne 0 ]; then
        echo "30-openssh: must run as root (or install them: apt-get install --no-install-recommends openssh-server openssh-client)" >&2
        return 1
    fi
    # Keep the package's sshd from starting on this machine; the tests run
    # their own. The policy file is removed again whatever apt-get does.
    if ! (
        created=
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod 0755 /usr/sbin/policy-rc.d
            created=1
        fi
        status=0
        DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                openssh-server openssh-client >/dev/null \
            || status=$?
        [ -z "$created" ] || rm -f /usr/sbin/policy-rc.d
        exit "$status"
    ); then
        echo "30-openssh: installing openssh-server and openssh-client failed" >&2
        return 1
    fi
fi

if [ ! -x "$BOUTURE_SSHD" ] || [ ! -x "$BOUTURE_SSH" ]; then
    echo "30-openssh: $BOUTURE_SSHD or $BOUTURE_SSH is missing after installing the packages" >&2
    return 1
fi

export BOUTURE_SSHD BOUTURE_SSH
