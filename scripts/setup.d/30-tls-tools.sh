# openssl and socat, for the https master tests: the tests make their own PKI
# with the openssl command and put socat (a TLS reverse proxy, as haproxy in
# the slapproxy software release) in front of a real slapproxy.
if ! command -v openssl >/dev/null 2>&1 || ! command -v socat >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "installing openssl and socat with apt-get" >&2
        apt-get install -y --no-install-recommends openssl socat >&2 \
            || { apt-get update >&2 && apt-get install -y --no-install-recommends openssl socat >&2; }
    else
        echo "openssl and socat are needed by the https tests: install them" >&2
    fi
fi
