# shellcheck shell=bash
# Functions for the setup scripts that make a slapos.core virtual environment
# (10-slapos-venv.sh, 15-slapos-oldest.sh). Sourced by them; scripts/test does
# not source this directory itself. The ready marker (.bouture-ready, the pins
# one a line) is the one bouture-test-support reads too.

# bouture_venv_ready VENV PIN...: whether VENV was made with exactly these pins
# and has its `slapos`.
bouture_venv_ready() {
    local venv=$1
    shift
    [ "$(cat "$venv/.bouture-ready" 2>/dev/null)" = "$(printf '%s\n' "$@")" ] \
        && [ -x "$venv/bin/slapos" ]
}

# bouture_venv_create VENV PYTHON PIN...: (re)create VENV with PYTHON, install
# the pins, check that `slapos proxy start` exists (it fails when
# slapos.libnetworkcache is missing: cliff then hides the command), and write
# the ready marker last, so that an interrupted creation is redone.
bouture_venv_create() {
    local venv=$1 python=$2
    shift 2
    echo "== setup: creating $venv with $python ($*)" >&2
    rm -rf "$venv" \
        && mkdir -p "$(dirname "$venv")" \
        && "$python" -m venv "$venv" \
        && "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" \
        && "$venv/bin/slapos" proxy start --help >/dev/null \
        && printf '%s\n' "$@" >"$venv/.bouture-ready"
}
