# shellcheck shell=bash
# The tools scripts/package builds the Debian package with. Sourced by
# scripts/test (the package test builds the .deb) and by scripts/package.
#
# - cargo-deb (pinned), installed from crates.io with `cargo install --locked`
#   when `cargo deb --version` is not that version (about 1.5 minutes, once);
# - cargo-zigbuild and ziglang (pinned), from PyPI into a virtual environment
#   under target/packaging-venv: zig is the linker that lets the binary target
#   glibc 2.31 (Debian 11) from a newer build machine.
#
# Exports:
#   BOUTURE_PACKAGING_PATH  the venv's bin directory, to put first in PATH when
#                           running `cargo zigbuild` (it finds zig through the
#                           venv's python3)

bouture_cargo_deb_version="3.8.0"
bouture_packaging_pins=("ziglang==0.15.2" "cargo-zigbuild==0.24.1")
bouture_packaging_venv="${BOUTURE_PACKAGING_VENV:-$PWD/target/packaging-venv}"
bouture_packaging_marker="$(printf '%s\n' "${bouture_packaging_pins[@]}")"

if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $bouture_cargo_deb_version" ]; then
    echo "== setup: installing cargo-deb $bouture_cargo_deb_version from crates.io (cargo install, about 1.5 minutes)" >&2
    cargo install --quiet --locked --force cargo-deb --version "$bouture_cargo_deb_version"
fi

if [ "$(cat "$bouture_packaging_venv/.bouture-ready" 2>/dev/null)" != "$bouture_packaging_marker" ] \
    || [ ! -x "$bouture_packaging_venv/bin/cargo-zigbuild" ]; then
    if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
        echo "== setup: installing python3-venv with apt-get (for the zig toolchain's venv)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    fi
    echo "== setup: creating $bouture_packaging_venv (${bouture_packaging_pins[*]})" >&2
    rm -rf "$bouture_packaging_venv"
    mkdir -p "$(dirname "$bouture_packaging_venv")"
    python3 -m venv "$bouture_packaging_venv"
    "$bouture_packaging_venv/bin/pip" install --quiet --disable-pip-version-check "${bouture_packaging_pins[@]}"
    # Fails now rather than in the middle of a build when zig cannot run.
    "$bouture_packaging_venv/bin/python3" -m ziglang version >/dev/null
    printf '%s\n' "$bouture_packaging_marker" >"$bouture_packaging_venv/.bouture-ready"
fi

export BOUTURE_PACKAGING_PATH="$bouture_packaging_venv/bin"
echo "== setup: $(cargo deb --version), $("$BOUTURE_PACKAGING_PATH/cargo-zigbuild" --version), zig $("$BOUTURE_PACKAGING_PATH/python3" -m ziglang version)" >&2
unset bouture_cargo_deb_version bouture_packaging_pins bouture_packaging_venv bouture_packaging_marker
