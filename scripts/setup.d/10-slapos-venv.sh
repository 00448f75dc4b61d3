# shellcheck shell=bash
# Sourced by scripts/test. Provides a real slapproxy for the tests:
# a Python virtual environment with the pinned slapos.core + slapos.libnetworkcache
# (the latter is an undeclared dependency without which `slapos proxy start` does
# not exist), created once under target/slapos-venv and reused.
#
# Exports BOUTURE_SLAPOS_BIN, so a test that cannot find the proxy fails instead of
# creating another venv or being skipped. Also usable by hand:
#   source scripts/setup.d/10-slapos-venv.sh
#
# Python: BOUTURE_PYTHON if set, else the first of python3.14 .. python3.12, python3,
# python3.11 on PATH that has the venv module (3.12+ preferred: `slapos node instance`
# needs it; the proxy alone runs on 3.11). On Debian without any, installs python3
# and python3-venv with apt-get. bouture-test-support uses the same directory and
# ready marker (.bouture-ready), so either can create it.

# shellcheck source=lib/slapos-venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/slapos-venv.sh"

bouture_slapos_pins=("slapos.core==1.26.1" "slapos.libnetworkcache==0.30")
bouture_slapos_venv="${BOUTURE_SLAPOS_VENV:-$PWD/target/slapos-venv}"

bouture_slapos_probe() { # prints MAJOR.MINOR if "$1" can create a venv with pip
    "$1" -c "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])" 2>/dev/null
}

bouture_slapos_find_python() {
    local candidate version fallback=""
    if [ -n "${BOUTURE_PYTHON:-}" ]; then
        version="$(bouture_slapos_probe "$BOUTURE_PYTHON")" || {
            echo "BOUTURE_PYTHON=$BOUTURE_PYTHON cannot create a venv (needs Python >= 3.11 with venv and ensurepip)" >&2
            return 1
        }
        echo "$BOUTURE_PYTHON"
        return 0
    fi
    for candidate in python3.14 python3.13 python3.12 python3 python3.11; do
        version="$(bouture_slapos_probe "$candidate")" || continue
        case "$version" in
            3.1[2-9]|3.[2-9][0-9]) echo "$candidate"; return 0 ;;
            3.11) [ -n "$fallback" ] || fallback="$candidate" ;;
        esac
    done
    [ -n "$fallback" ] && { echo "$fallback"; return 0; }
    return 1
}

if ! bouture_venv_ready "$bouture_slapos_venv" "${bouture_slapos_pins[@]}"; then
    if ! bouture_slapos_python="$(bouture_slapos_find_python)"; then
        if [ -z "${BOUTURE_PYTHON:-}" ] && command -v apt-get >/dev/null 2>&1; then
            echo "== setup: no Python >= 3.11 with venv found; installing python3 python3-venv with apt-get" >&2
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
        fi
        bouture_slapos_python="$(bouture_slapos_find_python)" || {
            echo "no Python >= 3.11 with the venv module: install python3 and python3-venv, or set BOUTURE_PYTHON" >&2
            return 1
        }
    fi
    bouture_venv_create "$bouture_slapos_venv" "$bouture_slapos_python" "${bouture_slapos_pins[@]}"
fi

export BOUTURE_SLAPOS_BIN="$bouture_slapos_venv/bin/slapos"
echo "== setup: BOUTURE_SLAPOS_BIN=$BOUTURE_SLAPOS_BIN ($("$bouture_slapos_venv/bin/python" --version 2>&1))" >&2
unset -f bouture_slapos_probe bouture_slapos_find_python bouture_venv_ready bouture_venv_create
unset bouture_slapos_pins bouture_slapos_venv bouture_slapos_python
