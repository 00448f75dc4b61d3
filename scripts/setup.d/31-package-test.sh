# shellcheck shell=bash
# What scripts/test-package (the Debian package test) uses besides dpkg:
# man-db (`man -w`, rendering the pages), bash-completion (the machinery that
# loads /usr/share/bash-completion/completions/bouture), zsh and fish (they
# load and run the installed completions), binutils (readelf and objdump read
# the binary's libraries and glibc symbol versions) and bsdextrautils (`col`,
# which man-db uses to render pages as plain text). Sourced by scripts/test;
# installs with apt-get only what is missing.

bouture_package_test_missing=()
for bouture_package_test_pkg in man-db bash-completion zsh fish binutils bsdextrautils; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$bouture_package_test_pkg" 2>/dev/null)" != "installed" ]; then
        bouture_package_test_missing+=("$bouture_package_test_pkg")
    fi
done
if [ "${#bouture_package_test_missing[@]}" -gt 0 ]; then
    echo "== setup: installing ${bouture_package_test_missing[*]} with apt-get (for the package test)" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "31-package-test: must run as root to install ${bouture_package_test_missing[*]}" >&2
        return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${bouture_package_test_missing[@]}" >/dev/null
fi
unset bouture_package_test_missing bouture_package_test_pkg
