#!/usr/bin/env bash
# The main job on the bundled demo node: the README's first command.
#
# 1. copies examples/demo-node to a fresh directory (the demo never changes the
#    repository) and writes its slapos.cfg there;
# 2. shows the node as bouture sees it (`bouture inventory`);
# 3. starts a real slapproxy (the new, local master) on a free port; the first
#    run creates its Python environment under target/slapos-venv (about a minute,
#    scripts/setup.d/peers.sh slapproxy);
# 4. grafts the node onto it (`bouture graft`), extra arguments are passed on
#    (e.g. --format json, --dry-run);
# 5. prints what the master holds afterwards, read back through its JSON-RPC API.
#
# BOUTURE_BIN=/usr/bin/bouture runs that binary (e.g. the one the Debian
# package installed) instead of building one from this checkout.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

# shellcheck source=scripts/setup.d/peers.sh
source scripts/setup.d/peers.sh slapproxy
if [ -n "${BOUTURE_BIN:-}" ]; then
    bouture="$BOUTURE_BIN"
    [ -x "$bouture" ] || { echo "BOUTURE_BIN=$bouture is not an executable file" >&2; exit 1; }
else
    cargo build --quiet -p bouture-cli --bin bouture
    target_dir=$(cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    bouture="$target_dir/debug/bouture"
fi
echo "== using $bouture ($("$bouture" --version))" >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/bouture-demo.XXXXXX")
cp -a examples/demo-node/. "$work/"
sed "s|@ROOT@|$work|g" "$work/slapos.cfg.template" > "$work/slapos.cfg"
rm "$work/slapos.cfg.template"
echo "== demo node copied to $work" >&2

echo "== bouture inventory --cfg $work/slapos.cfg" >&2
"$bouture" inventory --cfg "$work/slapos.cfg"

cat > "$work/proxy.cfg" <<CFG
[slapos]
computer_id = COMP-DEMO

[slapproxy]
host = 127.0.0.1
port = 0
database_uri = $work/proxy.db
CFG
"$BOUTURE_SLAPOS_BIN" proxy start --cfg "$work/proxy.cfg" 2>"$work/proxy.log" >/dev/null &
proxy_pid=$!
trap 'kill "$proxy_pid" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 300); do
    url=$(sed -n 's/.*Running on \(http:\/\/[0-9.:]*\).*/\1/p' "$work/proxy.log" | head -n 1)
    if [ -n "$url" ] && python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1] + '/getRunId', timeout=2)" "$url" 2>/dev/null; then
        break
    fi
    kill -0 "$proxy_pid" 2>/dev/null || { cat "$work/proxy.log" >&2; echo "the slapproxy did not start" >&2; exit 1; }
    url=""
    sleep 0.1
done
[ -n "$url" ] || { cat "$work/proxy.log" >&2; echo "the slapproxy did not answer within 30 s" >&2; exit 1; }
echo "== slapproxy (the new master) runs at $url" >&2

echo "== bouture graft --cfg $work/slapos.cfg --new-master-url $url $*" >&2
status=0
"$bouture" graft --cfg "$work/slapos.cfg" --new-master-url "$url" "$@" || status=$?

echo "== what the master at $url holds for COMP-DEMO" >&2
python3 - "$url" <<'PY'
import json, sys, urllib.request

url = sys.argv[1]

def call(route, body):
    request = urllib.request.Request(
        f"{url}/{route}", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)

try:
    instances = call("slapos.allDocs.v0.compute_node_instance_list",
                     {"computer_guid": "COMP-DEMO"})["result_list"]
except Exception as error:  # a dry run registers nothing
    print(f"nothing ({error})")
    sys.exit(0)
def number(instance):
    return int("".join(c for c in instance["compute_partition_id"] if c.isdigit()) or 0)

for instance in sorted(instances, key=number):
    full = call("slapos.get.v0.software_instance", {"instance_guid": instance["instance_guid"]})
    print(f'{instance["compute_partition_id"]:<11} {instance["title"]!r} {instance["state"]} '
          f'({full["software_type"]}) ips={[ip for _, ip in full["ip_list"]]}')
    print(f'{"":<11} parameters={json.dumps(full["parameters"], ensure_ascii=False)}')
    hosted = call("slapos.allDocs.v0.instance_node_instance_list",
                  {"instance_guid": instance["instance_guid"]})["result_list"]
    for shared in hosted:
        print(f'{"":<11} shared {shared["title"]!r}')
PY
exit "$status"
