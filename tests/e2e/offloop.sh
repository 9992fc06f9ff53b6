#!/bin/bash
# One way off the main loop (docs/architecture.md): find-sources, libvirt import and export,
# attachment reconciliation and start-up pool starts run as jobs of the one job engine, so
# job-list shows them, job-cancel stops what can be stopped, and the metrics count them.
. "$(dirname "$0")/lib.sh"
INITIATOR=iqn.2026-12.io.poold:offloop
printf '[libvirt]\nuri = test:///default\n' >"$E2E_DIR/poold.conf"
POOLD_ARGS="--config $E2E_DIR/poold.conf"

# An iSCSI portal that accepts the connection and never answers: the discovery waits for
# libiscsi's timeout (10 s), long enough to see and cancel the job.
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(4)
print(s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)
' >"$E2E_DIR/portal.port" &
PORTAL_PID=$!
trap 'kill $PORTAL_PID 2>/dev/null; cleanup' EXIT
for _ in $(seq 1 50); do [ -s "$E2E_DIR/portal.port" ] && break; sleep 0.1; done
PORT=$(cat "$E2E_DIR/portal.port")

# jobs: the table of job-list in one line, for a failure's message
jobs() { pc job-list | tr -s ' \n' ' '; }

start_poold
pc find-storage-pool-sources-as iscsi-direct 127.0.0.1 "$PORT" --initiator "$INITIATOR" \
    >"$E2E_DIR/find.out" 2>&1 &
FIND_PID=$!
job=
for _ in $(seq 1 50); do
    job=$(pc job-list | awk '$2 == "pool-find-sources" && $5 == "running" { print $1 }')
    [ -n "$job" ] && break
    sleep 0.1
done
[ -n "$job" ] && ok "job-list shows find-sources running" ||
    not_ok "job-list shows find-sources running ($(jobs))"
check "job-cancel of find-sources" "Job $job cancelled" "$(pc job-cancel "$job")"
wait "$FIND_PID"
rc=$?
[ $rc -ne 0 ] && grep -qi "cancel" "$E2E_DIR/find.out" && ok "find-sources ends cancelled" ||
    not_ok "find-sources ends cancelled (rc $rc: $(tr '\n' ' ' <"$E2E_DIR/find.out"))"
check "job-info: cancelled" "State:          cancelled" "$(pc job-info "$job" | grep '^State:')"
pc metrics | grep -q '^poold_jobs_total{kind="pool-find-sources",state="cancelled"} 1$' &&
    ok "metrics count it" || not_ok "metrics count it ($(pc metrics | grep find-sources | tr '\n' ' '))"

# libvirt's test driver: import and export are jobs too
run_ok "pool-import-libvirt" pc pool-import-libvirt
check "job-list: pool-import-libvirt done" "done" \
    "$(pc job-list | awk '$2 == "pool-import-libvirt" { print $5 }' | head -1)"
run_ok "pool-define-as a dir pool" pc pool-define-as ex dir --target "$E2E_DIR/ex"
run_ok "pool-export-libvirt" pc pool-export-libvirt ex
pc job-list | grep -qE " pool-export-libvirt +ex +.*done" && ok "job-list: pool-export-libvirt" ||
    not_ok "job-list: pool-export-libvirt ($(jobs))"
# start-up reconciliation of the configured URI
pc job-list | grep -qE " attach-reconcile .*(done|failed)" && ok "job-list: attach-reconcile" ||
    not_ok "job-list: attach-reconcile ($(jobs))"

# start-up pool starts
run_ok "pool-build ex" pc pool-build ex
run_ok "pool-autostart ex" pc pool-autostart ex
stop_poold
start_poold
pc job-list | grep -qE " pool-start-up +ex +.*done" && ok "job-list: pool-start-up" ||
    not_ok "job-list: pool-start-up ($(jobs))"
check "the pool is active right after start-up" "yes" \
    "$(pc pool-info ex | awk '/^State:/ { print $2 == "running" ? "yes" : $2 }')"
finish
