# Python 3, for the baselines that compare bouture with Python's configparser.
if ! command -v "${BOUTURE_PYTHON:-python3}" >/dev/null 2>&1; then
    echo "installing python3 (Debian package)" >&2
    apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 >/dev/null
fi
