# shellcheck shell=bash
# bouture_apt_install PACKAGE...: install Debian packages for the tests,
# as root, without starting any service they ship (a policy-rc.d refuses
# every start while apt-get runs, and is removed again whatever apt-get
# does). Returns apt-get's status. Sourced by scripts/setup.d/*.sh.
bouture_apt_install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "must run as root to install $* (or install it: apt-get install --no-install-recommends $*)" >&2
        return 1
    fi
    (
        created=
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod 0755 /usr/sbin/policy-rc.d
            created=1
        fi
        status=0
        DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
            || status=$?
        [ -z "$created" ] || rm -f /usr/sbin/policy-rc.d
        exit "$status"
    )
}
