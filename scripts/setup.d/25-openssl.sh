# shellcheck shell=bash
# The openssl command line tool, for bouture-node-setup's tests.
#
# The node-setup tests make their cluster certificates (RSA, EC P-256 and
# P-384, PKCS#1 and SEC1 keys, a mismatched pair) with the real `openssl`
# tool, and check the client certificate bouture signs with `openssl verify`.
# bouture itself does not use OpenSSL. Sourced by scripts/test; idempotent,
# and quick when openssl is there.

if ! command -v openssl >/dev/null 2>&1; then
    echo "25-openssl: installing Debian's openssl package" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "25-openssl: must run as root to install openssl (or install it: apt-get install openssl)" >&2
        return 1
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl >/dev/null \
            || { echo "25-openssl: installing openssl failed" >&2; return 1; }
    fi
fi
