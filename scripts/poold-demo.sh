#!/bin/bash
# poold's quick start: install what is missing, build, start poold on a state directory under
# the checkout (.poold-demo/), and run a poolctl session with virsh's commands: define, build
# and start a dir pool, create a qcow2 volume, clone it, snapshot it, resize it, list with
# --details, show pool-info. poold is stopped at the end; the state stays for a second run.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
build=${POOLD_BUILD_DIR:-$root/build}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" >/dev/null
fi
ninja -C "$build" >/dev/null
demo=$root/.poold-demo
mkdir -p "$demo"
"$build/daemon/poold" --runtime-dir "$demo/run" --state-dir "$demo/state" \
    >>"$demo/poold.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 1 100); do [ -S "$demo/run/poold-sock" ] && break; sleep 0.05; done
step() { printf '$ poolctl %s\n' "$*"; "$build/client/poolctl" -c "$demo/run/poold-sock" "$@"; }

echo "== poold $("$build/daemon/poold" --version) on $demo (log: $demo/poold.log)"
if ! step pool-info demo >/dev/null 2>&1; then
    step pool-define-as demo dir - - - - "$demo/pool"
    step pool-build demo
    step pool-start demo
    step pool-autostart demo
fi
step vol-delete web-clone --pool demo >/dev/null 2>&1 || true
step vol-delete web --pool demo >/dev/null 2>&1 || true
step vol-create-as demo web 10G --format qcow2
step vol-clone web web-clone --pool demo
step vol-snapshot-create web before-upgrade --pool demo
step vol-snapshot-list web --pool demo
step vol-resize web +5G --pool demo
step vol-list demo --details
step pool-list --all --details
step pool-info demo
step job-list
echo "== done: poold keeps this state in $demo/state; run the script again to see it back"
