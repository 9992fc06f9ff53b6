#!/bin/bash
# The varlink protocol with a raw client: service interface, central checks, malformed and
# oversized messages (only that connection closes), limits, the read-only socket, events.
. "$(dirname "$0")/lib.sh"
RAW="python3 $(dirname "$0")/varlink-raw.py"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$E2E_DIR/poold.conf" <<CONF
[daemon]
max_message_size = 8192
max_clients = 4
metrics_listen = 127.0.0.1:$PORT
CONF
POOLD_ARGS="--config $E2E_DIR/poold.conf"
start_poold

for scenario in service malformed oversized readonly events; do
    sock=$SOCK
    [ $scenario = readonly ] && sock=$SOCK_RO
    if out=$($RAW "$sock" $scenario 2>&1); then ok "raw varlink: $scenario"; else
        not_ok "raw varlink: $scenario"; printf '%s\n' "$out" | grep -v '^ok' | sed 's/^/#   /'
    fi
done
kill -0 "$POOLD_PID" && ok "poold survived every bad client" || not_ok "poold survived"
grep -qE "client [0-9]+ \(pid [0-9]+ uid [0-9]+ gid [0-9]+, read-write\) closed: malformed message" \
    "$E2E_DIR/poold.log" && ok "peer credentials logged" || not_ok "peer credentials logged"

# a second poold on the same runtime or state directory refuses to start, touching nothing
run_fails "second poold, same runtime dir" "another poold listens" \
    "$POOLD" --runtime-dir "$RUN_DIR" --state-dir "$E2E_DIR/state2"
run_fails "second poold, same state dir" "another poold uses the state directory" \
    "$POOLD" --runtime-dir "$E2E_DIR/run2" --state-dir "$STATE_DIR"
run_ok "the first one still answers" pc daemon-info

# the HTTP metrics listener
python3 -c "import urllib.request,sys; t=urllib.request.urlopen('http://127.0.0.1:$PORT/metrics').read().decode(); sys.exit(0 if 'poold_clients' in t else 1)" &&
    ok "metrics over HTTP" || not_ok "metrics over HTTP"

# socket permissions
check "read-write socket mode" "600" "$(stat -c %a "$SOCK")"
check "read-only socket mode" "666" "$(stat -c %a "$SOCK_RO")"

# poolctl on the read-only socket: reads work, changes are refused
run_ok "read-only pool-list" pc_ro pool-list --all
run_fails "read-only refuses pool-define-as" "read-only" pc_ro pool-define-as rop dir --target "$E2E_DIR/rop"
check "nothing defined through the read-only socket" "" "$(pc pool-list --all --name | xargs)"
# last: the clients of this scenario go away while poold may still count them
if out=$($RAW "$SOCK" max_clients 2>&1); then ok "raw varlink: max_clients"; else
    not_ok "raw varlink: max_clients"; printf '%s\n' "$out" | grep -v '^ok' | sed 's/^/#   /'
fi
finish
