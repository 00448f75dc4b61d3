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
    # Keep the package's daemons from starting: nothing is configured, and a
    # test machine does not want a Ganeti node daemon running.
    # shellcheck source=scripts/lib/apt-install.sh
    source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt-install.sh"
    if ! bouture_apt_install ganeti python3; then
        echo "20-ganeti: installing Debian's ganeti package failed" >&2
        return 1
    fi
fi

if [ ! -f "$BOUTURE_GANETI_LIBDIR/ganeti/config/__init__.py" ]; then
    echo "20-ganeti: Ganeti's library is not in $BOUTURE_GANETI_LIBDIR after installing the package" >&2
    return 1
fi

export BOUTURE_GANETI_LIBDIR BOUTURE_GANETI_PYTHON
