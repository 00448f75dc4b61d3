#!/usr/bin/env bash
# The main job on the bundled demo node: the README's first command.
#
# Copies examples/demo-node to a fresh directory (the demo never changes the
# repository), writes its slapos.cfg there, and shows the node as bouture sees
# it. Extra arguments go to `bouture inventory` (e.g. --format json).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --manifest-path "$repo/Cargo.toml" -p bouture-cli --bin bouture
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bouture="$target_dir/debug/bouture"

work=$(mktemp -d "${TMPDIR:-/tmp}/bouture-demo.XXXXXX")
cp -a "$repo/examples/demo-node/." "$work/"
sed "s|@ROOT@|$work|g" "$work/slapos.cfg.template" > "$work/slapos.cfg"
rm "$work/slapos.cfg.template"

echo "== demo node copied to $work" >&2
echo "== bouture inventory --cfg $work/slapos.cfg $*" >&2
"$bouture" inventory --cfg "$work/slapos.cfg" "$@"
