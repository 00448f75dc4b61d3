# Python >= 3.12, for the end-to-end failover test: `slapos node instance`
# (slapos.core 1.26.1) does not run on 3.11. Exports BOUTURE_PYTHON so that
# the slapproxy harness (bouture-test-support) builds its venv with it.
#
# Looks, in order, at BOUTURE_PYTHON if already set, python3.14 .. python3.12
# on PATH, then pyenv's installed versions (the machine image ships CPython
# 3.12 and 3.13 under pyenv while its default python3 is 3.11). No registry
# this project can reach ships a CPython >= 3.12 for Debian 12 (Debian 12 has
# 3.11 only; the PyPI and npm "standalone Python" packages download their
# binaries from elsewhere at install time), so when none is found this script
# says so and the end-to-end test fails with the same instructions.
bouture_python_ok() {
    "$1" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}
bouture_find_python312() {
    if [ -n "${BOUTURE_PYTHON:-}" ] && bouture_python_ok "$BOUTURE_PYTHON"; then
        echo "$BOUTURE_PYTHON"; return 0
    fi
    for candidate in python3.14 python3.13 python3.12; do
        if command -v "$candidate" >/dev/null 2>&1 && bouture_python_ok "$candidate"; then
            command -v "$candidate"; return 0
        fi
    done
    pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    for candidate in "$pyenv_root"/versions/3.1[2-9]*/bin/python3; do
        if [ -x "$candidate" ] && bouture_python_ok "$candidate"; then
            echo "$candidate"; return 0
        fi
    done
    return 1
}
if bouture_python312="$(bouture_find_python312)"; then
    export BOUTURE_PYTHON="$bouture_python312"
    echo "Python >= 3.12 for slapos node instance: $BOUTURE_PYTHON" >&2
else
    echo "WARNING: no Python >= 3.12 found (PATH, pyenv): the end-to-end failover test will fail." >&2
    echo "         Install one (e.g. pyenv install 3.12) and set BOUTURE_PYTHON=/path/to/python3.12." >&2
fi
unset bouture_python312
