#!/bin/bash
# Socket activation: poold takes the sockets systemd passes (LISTEN_FDS, names rw and ro);
# the one named ro refuses changes. Uses systemd-socket-activate as systemd would.
. "$(dirname "$0")/lib.sh"
if ! command -v systemd-socket-activate >/dev/null; then
    echo "1..0 # SKIP systemd-socket-activate is not installed"
    exit 0
fi
mkdir -p "$RUN_DIR"
systemd-socket-activate -l "$E2E_DIR/rw.sock" -l "$E2E_DIR/ro.sock" --fdname=rw:ro \
    "$POOLD" --runtime-dir "$RUN_DIR" --state-dir "$STATE_DIR" >>"$E2E_DIR/poold.log" 2>&1 &
POOLD_PID=$!
for _ in $(seq 1 100); do [ -S "$E2E_DIR/ro.sock" ] && break; sleep 0.05; done
run_ok "read-write activated socket" "$POOLCTL" -c "$E2E_DIR/rw.sock" daemon-info
run_ok "define through it" "$POOLCTL" -c "$E2E_DIR/rw.sock" pool-define-as a dir --target "$E2E_DIR/a"
run_fails "read-only activated socket refuses changes" "read-only" \
    "$POOLCTL" -c "$E2E_DIR/ro.sock" pool-undefine a
check "read-only activated socket reads" "a" "$("$POOLCTL" -q -c "$E2E_DIR/ro.sock" pool-list --all --name | xargs)"
grep -q "passed by systemd" "$E2E_DIR/poold.log" && ok "poold used the passed sockets" ||
    not_ok "poold used the passed sockets"
[ ! -e "$SOCK" ] && ok "no sockets of its own" || not_ok "no sockets of its own"
stop_poold TERM
finish
