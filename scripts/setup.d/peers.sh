# shellcheck shell=bash
# The one installer of the test peers. Sourced by scripts/test (every peer)
# and by the scripts that need a few (scripts/package, scripts/bench-*):
#
#   source scripts/setup.d/peers.sh            # every peer of scripts/peers
#   source scripts/setup.d/peers.sh sshd qemu  # the peers tagged sshd or qemu
#
# Reads scripts/peers (the list: kinds, pins, exports, what needs each; its
# header says the format), installs what is missing (Debian packages as root
# with apt-get, Python venvs under target/ with pip, cargo subcommands with
# cargo install, files unpacked from Debian packages), exports the variables
# the tests read, and checks that every exported path exists. Idempotent, and
# well under a second when everything is there. On failure it says which peer
# is missing, what needs it and how to get it, and returns 1 (scripts/test
# stops: a test never runs without its peer).

# bouture_peers_install [TAG...]: install the peers with one of these tags
# (every peer without a tag) and export their variables.
bouture_peers_install() {
    local root list
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    list="$root/scripts/peers"
    local -a debs=() deb_specs=() venvs=() venv_specs=() checks=() crates=() unpacks=() exports=()
    local line kind name version export_list tags needs tag wanted
    local -a tag_words
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in '#'* | '') continue ;; esac
        IFS='|' read -r kind name version export_list tags needs <<<"$line"
        kind="${kind//[[:space:]]/}"
        name="${name//[[:space:]]/}"
        version="$(bouture_peers_trim "$version")"
        if [ "$#" -gt 0 ]; then
            read -r -a tag_words <<<"$tags"
            wanted=
            for tag in "${tag_words[@]}"; do
                case " $* " in *" $tag "*) wanted=1 ;; esac
            done
            [ -n "$wanted" ] || continue
        fi
        case "$kind" in
            deb) debs+=("$name"); deb_specs+=("$version") ;;
            venv) venvs+=("$name"); venv_specs+=("$version") ;;
            check) checks+=("$name|$version") ;;
            crate) crates+=("$name|$version") ;;
            unpack) unpacks+=("$name|$version|$export_list") ;;
            *)
                echo "scripts/peers: unknown kind '$kind' in: $line" >&2
                return 1
                ;;
        esac
        read -r -a tag_words <<<"$export_list"
        for tag in "${tag_words[@]}"; do
            exports+=("$kind|$name|$tag|$(bouture_peers_trim "$needs")")
        done
    done <"$list"

    bouture_peers_debs "${#debs[@]}" "${debs[@]}" "${deb_specs[@]}" || return 1
    local entry member
    for entry in "${unpacks[@]}"; do
        IFS='|' read -r name member export_list <<<"$entry"
        bouture_peers_unpack "$root" "$name" "$(bouture_peers_trim "$member")" \
            "$(bouture_peers_trim "$export_list")" || return 1
    done
    local i
    for i in "${!venvs[@]}"; do
        bouture_peers_venv "$root" "${venvs[$i]}" "${venv_specs[$i]}" "${checks[@]}" || return 1
    done
    for entry in "${crates[@]}"; do
        IFS='|' read -r name version <<<"$entry"
        bouture_peers_crate "$name" "$(bouture_peers_trim "$version")" || return 1
    done
    local var value
    for entry in "${exports[@]}"; do
        IFS='|' read -r kind name tag needs <<<"$entry"
        var="${tag%%=*}"
        value="${tag#*=}"
        case "$kind" in
            venv) value="$root/target/$name/$value" ;;
            unpack) value="$root/$value" ;;
        esac
        if [ -n "${!var:-}" ]; then
            value="${!var}"
        fi
        if [ ! -e "$value" ]; then
            echo "peer $name ($kind; needed by: $needs): $var=$value does not exist after the install" >&2
            return 1
        fi
        export "$var=$value"
        echo "== setup: $var=$value" >&2
        # sshd's privilege separation directory, which its init would make
        # at boot: made here, before any test, so that no test makes it on
        # the host while the Ganeti lab watches the host's /run.
        if [ "$var" = BOUTURE_SSHD ] && [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
            mkdir -p -m 0755 /run/sshd || return 1
        fi
    done
    echo "== setup: ${#debs[@]} Debian packages, ${#venvs[@]} venvs, ${#crates[@]} crates, ${#unpacks[@]} unpacked files ready (scripts/peers${*:+, tags: $*})" >&2
}

# bouture_peers_trim TEXT: TEXT without leading and trailing blanks.
bouture_peers_trim() {
    local text="$1"
    text="${text#"${text%%[![:space:]]*}"}"
    printf '%s' "${text%"${text##*[![:space:]]}"}"
}

# bouture_peers_debs COUNT NAME... SPEC...: install the Debian packages that
# dpkg does not list as installed, in one apt-get run, starting no service.
bouture_peers_debs() {
    local count=$1
    shift
    [ "$count" -gt 0 ] || return 0
    local -a names=("${@:1:count}") specs=("${@:count+1:count}") missing=() install=()
    local i status version
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "dpkg-query not found: the tests need these Debian packages (or their programs): ${names[*]}" >&2
        return 1
    fi
    declare -A installed=()
    while read -r i status; do
        [ "$status" = installed ] && installed[$i]=1
    done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${names[@]}" 2>/dev/null)
    for i in "${!names[@]}"; do
        [ -n "${installed[${names[$i]}]:-}" ] || missing+=("$i")
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    local -a missing_names=()
    for i in "${missing[@]}"; do missing_names+=("${names[$i]}"); done
    echo "== setup: installing ${missing_names[*]} with apt-get (no service is started)" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "must run as root to install ${missing_names[*]} (or install them: apt-get install --no-install-recommends ${missing_names[*]})" >&2
        return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || {
        echo "apt-get update failed: cannot install ${missing_names[*]}" >&2
        return 1
    }
    for i in "${missing[@]}"; do
        case "${specs[$i]}" in
            same-as:*)
                version="$(apt-cache policy "${specs[$i]#same-as:}" | awk '/Candidate:/ {print $2}')"
                if [ -n "$version" ] && [ "$version" != "(none)" ]; then
                    install+=("${names[$i]}=$version")
                else
                    install+=("${names[$i]}")
                fi
                ;;
            '') install+=("${names[$i]}") ;;
            *)
                echo "scripts/peers: deb ${names[$i]}: unknown version '${specs[$i]}' (empty or same-as:PACKAGE)" >&2
                return 1
                ;;
        esac
    done
    # A policy-rc.d refuses every service start while apt-get runs (a test
    # machine wants no sshd or Ganeti daemon of the packages' own), and is
    # removed again whatever apt-get does.
    (
        created=
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod 0755 /usr/sbin/policy-rc.d
            created=1
        fi
        status=0
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            --allow-downgrades "${install[@]}" >/dev/null || status=$?
        [ -z "$created" ] || rm -f /usr/sbin/policy-rc.d
        exit "$status"
    ) || {
        echo "apt-get install ${install[*]} failed" >&2
        return 1
    }
}

# bouture_peers_unpack ROOT PACKAGE MEMBER EXPORT: unless the exported file is
# there, download PACKAGE (not installed) and take MEMBER out of it; a
# metapackage without MEMBER is followed to its first dependency.
bouture_peers_unpack() {
    local root=$1 package=$2 member=$3 export_pair=$4
    local var="${export_pair%%=*}" target
    target="${!var:-$root/${export_pair#*=}}"
    [ -s "$target" ] && return 0
    local dir work candidate
    dir="$(dirname "$target")"
    mkdir -p "$dir" || return 1
    work="$(mktemp -d "$dir/.unpack.XXXXXX")" || return 1
    echo "== setup: downloading Debian's $package for $member (not installed)" >&2
    for candidate in "$package" "$(apt-cache depends "$package" 2>/dev/null | awk '/ Depends: / {print $2; exit}')"; do
        [ -n "$candidate" ] || continue
        if (cd "$work" && apt-get download -qq "$candidate" >/dev/null 2>&1 \
            && dpkg-deb --fsys-tarfile ./*.deb | tar -x --wildcards "$member" 2>/dev/null); then
            local found
            found="$(find "$work" -type f ! -name '*.deb' | head -n 1)"
            if [ -n "$found" ] && mv "$found" "$target.tmp" && mv "$target.tmp" "$target"; then
                rm -rf "$work"
                return 0
            fi
        fi
        rm -rf "${work:?}"/*
    done
    rm -rf "$work"
    echo "peer $package: could not download it or find $member in it (apt-get update? apt-get download $package)" >&2
    return 1
}

# bouture_peers_python CONSTRAINT: print a Python that can make venvs and
# meets CONSTRAINT (python>=X.Y or python==X.Y): BOUTURE_PYTHON, then
# python3.14 .. python3.11 and python3 on PATH, then pyenv's versions.
bouture_peers_python() {
    local constraint=${1#python} op want candidate version path
    op="${constraint:0:2}"
    want="${constraint:2}"
    local -a tried=()
    for candidate in ${BOUTURE_PYTHON:+"$BOUTURE_PYTHON"} python3.14 python3.13 python3.12 python3.11 python3 \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/python3; do
        path="$(command -v "$candidate" 2>/dev/null)" || continue
        version="$("$path" -c "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])" 2>/dev/null)" || {
            tried+=("$path (no venv/ensurepip)")
            continue
        }
        if bouture_peers_version_ok "$version" "$op" "$want"; then
            echo "$path"
            return 0
        fi
        tried+=("$path ($version)")
    done
    echo "no Python $op$want with the venv module found; tried: ${tried[*]:-nothing}." >&2
    echo "Install one (Debian 12 ships 3.11: apt-get install python3.11-venv; for 3.12 or newer: pyenv install 3.12) and set BOUTURE_PYTHON=/path/to/it" >&2
    return 1
}

# bouture_peers_version_ok X.Y OP A.B: whether X.Y OP A.B (OP: >= or ==).
bouture_peers_version_ok() {
    local have=$(( ${1%%.*} * 1000 + ${1#*.} )) want=$(( ${3%%.*} * 1000 + ${3#*.} ))
    case "$2" in
        '>=') [ "$have" -ge "$want" ] ;;
        '==') [ "$have" -eq "$want" ] ;;
        *) return 1 ;;
    esac
}

# bouture_peers_venv ROOT NAME SPEC CHECK...: unless target/NAME was made with
# exactly these pins (its .bouture-ready marker, the pins one a line, which
# bouture-test-support reads too), (re)create it and run its checks; the
# marker is written last, so an interrupted creation is redone.
bouture_peers_venv() {
    local root=$1 name=$2 spec=$3
    shift 3
    local venv="$root/target/$name" python_constraint="" item entry check_name check
    local -a words pins=()
    read -r -a words <<<"$spec"
    for item in "${words[@]}"; do
        case "$item" in
            python*) python_constraint="$item" ;;
            *) pins+=("$item") ;;
        esac
    done
    if [ "$(cat "$venv/.bouture-ready" 2>/dev/null)" = "$(printf '%s\n' "${pins[@]}")" ]; then
        return 0
    fi
    local python
    python="$(bouture_peers_python "${python_constraint:-python>=3.11}")" || {
        echo "peer $name (a venv with ${pins[*]}) cannot be made" >&2
        return 1
    }
    echo "== setup: creating $venv with $python (${pins[*]}; about a minute, needs PyPI)" >&2
    if ! { rm -rf "$venv" && mkdir -p "$(dirname "$venv")" \
        && "$python" -m venv "$venv" \
        && "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"; }; then
        echo "peer $name: creating the venv failed (pip install ${pins[*]} needs PyPI)" >&2
        return 1
    fi
    for entry in "$@"; do
        IFS='|' read -r check_name check <<<"$entry"
        [ "$check_name" = "$name" ] || continue
        read -r -a words <<<"$check"
        (cd "$venv" && "${words[@]}" >/dev/null 2>&1) || {
            echo "peer $name: the check \`$check\` fails in $venv" >&2
            return 1
        }
    done
    printf '%s\n' "${pins[@]}" >"$venv/.bouture-ready"
}

# bouture_peers_crate NAME VERSION: unless `cargo SUBCOMMAND --version` says
# NAME VERSION, cargo install it from crates.io.
bouture_peers_crate() {
    local name=$1 version=$2 have
    have="$(cargo "${name#cargo-}" --version 2>/dev/null | head -n 1)"
    case "$have" in "$name $version" | "$name $version "*) return 0 ;; esac
    echo "== setup: installing $name $version from crates.io (cargo install --locked; minutes, once)" >&2
    cargo install --quiet --locked --force "$name" --version "$version" || {
        echo "peer $name $version: cargo install failed (needs crates.io)" >&2
        return 1
    }
}

bouture_peers_install "$@"
