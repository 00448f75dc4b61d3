# shellcheck shell=bash
# Sourced by scripts/test. The oldest slapos.core release bouture supports, for
# the test that grafts onto its proxy (crates/bouture-graft/tests/graft/versions.rs;
# the range is documented in docs/master-client.md). Created once under
# target/slapos-venv-oldest; exports BOUTURE_SLAPOS_OLDEST_BIN.
#
# Older releases import pkg_resources, which new venvs no longer ship: setuptools
# is pinned below 81 (the release that removed it). They need Python 3.11 (on
# 3.12, `slapos proxy start` of 1.12.0 fails: configparser.SafeConfigParser is
# gone), so this script looks for a 3.11: python3.11, python3, pyenv's 3.11.x.
# Keep the version equal to OLDEST_SLAPOS_CORE in crates/bouture-test-support.

# shellcheck source=lib/slapos-venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/slapos-venv.sh"

bouture_oldest_pins=("slapos.core==1.4.28" "slapos.libnetworkcache==0.30" "setuptools<81")
bouture_oldest_venv="${BOUTURE_SLAPOS_OLDEST_VENV:-$PWD/target/slapos-venv-oldest}"

if ! bouture_venv_ready "$bouture_oldest_venv" "${bouture_oldest_pins[@]}"; then
    bouture_oldest_python=""
    for candidate in python3.11 python3 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.11*/bin/python3; do
        if "$candidate" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' >/dev/null 2>&1; then
            bouture_oldest_python="$candidate"; break
        fi
    done
    if [ -z "$bouture_oldest_python" ] && command -v apt-get >/dev/null 2>&1 \
        && apt-cache show python3.11-venv >/dev/null 2>&1; then
        echo "== setup: installing python3.11 python3.11-venv with apt-get" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv >/dev/null
        bouture_oldest_python=python3.11
    fi
    if [ -z "$bouture_oldest_python" ]; then
        echo "${bouture_oldest_pins[0]} needs Python 3.11 with the venv module: install python3.11 and python3.11-venv" >&2
        return 1
    fi
    bouture_venv_create "$bouture_oldest_venv" "$bouture_oldest_python" "${bouture_oldest_pins[@]}"
fi

export BOUTURE_SLAPOS_OLDEST_BIN="$bouture_oldest_venv/bin/slapos"
echo "== setup: BOUTURE_SLAPOS_OLDEST_BIN=$BOUTURE_SLAPOS_OLDEST_BIN" >&2
unset -f bouture_venv_ready bouture_venv_create
unset bouture_oldest_pins bouture_oldest_venv bouture_oldest_python
