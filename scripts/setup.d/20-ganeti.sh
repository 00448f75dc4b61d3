# shellcheck shell=bash
# Ganeti 3.0's Python library, for bouture-merge's verifier tests.
#
# The merge tests load every merged config.data with Ganeti's own
# configuration loader and run its VerifyConfig(). That needs Debian's package
# `ganeti` (its library lives in /usr/share/ganeti/3.0) and Debian's
# /usr/bin/python3. Sourced by scripts/test; idempotent, and quick when the
# library is already there.
#
# Exports:
#   BOUTURE_GANETI_PYTHON   the Python that runs the verifier (/usr/bin/python3)
#   BOUTURE_GANETI_LIBDIR   Ganeti's Python library directory (/usr/share/ganeti/3.0)

BOUTURE_GANETI_LIBDIR="${BOUTURE_GANETI_LIBDIR:-/usr/share/ganeti/3.0}"
BOUTURE_GANETI_PYTHON="${BOUTURE_GANETI_PYTHON:-/usr/bin/python3}"

if [ ! -f "$BOUTURE_GANETI_LIBDIR/ganeti/config/__init__.py" ] || [ ! -x "$BOUTURE_GANETI_PYTHON" ]; then
    echo "20-ganeti: installing Debian's ganeti package (no daemons are started)" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "20-ganeti: must run as root to install ganeti (or install it: apt-get install --no-install-recommends ganeti)" >&2
        return 1
    fi
    # Keep the package's daemons from starting: nothing is configured, and a
    # test machine does not want a Ganeti node daemon running. The policy
    # file is removed again whatever apt-get does.
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
                ganeti python3 >/dev/null \
            || status=$?
        [ -z "$created" ] || rm -f /usr/sbin/policy-rc.d
        exit "$status"
    ); then
        echo "20-ganeti: installing Debian's ganeti package failed" >&2
        return 1
    fi
fi

if [ ! -f "$BOUTURE_GANETI_LIBDIR/ganeti/config/__init__.py" ]; then
    echo "20-ganeti: Ganeti's library is not in $BOUTURE_GANETI_LIBDIR after installing the package" >&2
    return 1
fi

export BOUTURE_GANETI_LIBDIR BOUTURE_GANETI_PYTHON
