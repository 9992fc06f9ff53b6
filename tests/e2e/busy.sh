#!/bin/bash
# Jobs: a volume a job works on is busy (VolumeBusy names the job), refresh still runs, the
# job shows progress and ends; a kill -9 during a job leaves it failed after the restart, the
# pool active, and no half-made volume. Also the policy errors of volume names.
. "$(dirname "$0")/lib.sh"
start_poold
POOL_DIR=$E2E_DIR/p1
run_ok "pool-create-as --build" pc pool-define-as p1 dir --target "$POOL_DIR"
run_ok "pool-build" pc pool-build p1
run_ok "pool-start" pc pool-start p1
run_ok "vol-create-as raw" pc vol-create-as p1 disk 1M

# An upload from a FIFO that stays open keeps its job running until the writer closes it.
mkfifo "$E2E_DIR/fifo"
exec 3<>"$E2E_DIR/fifo"
out=$(pc --async vol-upload disk "$E2E_DIR/fifo" --pool p1)
job=$(printf '%s\n' "$out" | sed -n 's/^Job \([0-9]*\) started$/\1/p')
[ -n "$job" ] && ok "vol-upload --async prints the job id" || not_ok "vol-upload --async ($out)"
run_fails "vol-delete of a busy volume" "VolumeBusy|busy: job $job \(vol-upload\)" \
    pc vol-delete disk --pool p1
run_fails "vol-resize of a busy volume" "busy: job $job" pc vol-resize disk 2M --pool p1
run_fails "vol-wipe of a busy volume" "busy: job $job" pc vol-wipe disk --pool p1
run_ok "pool-refresh while a job runs" pc pool-refresh p1
pc job-list | grep -qE "^ $job +vol-upload +p1 +disk +running" && ok "job-list shows it running" ||
    not_ok "job-list shows it running"
check "job-info state" "State:          running" "$(pc job-info "$job" | grep '^State:')"
run_fails "pool-destroy while a job runs" "jobs running" pc pool-destroy p1
head -c 65536 /dev/zero >&3
exec 3>&-
check "job-wait" "Job $job done" "$(pc job-wait "$job")"
run_ok "vol-delete once the job ended" pc vol-delete disk --pool p1

# job-cancel: the upload stops at its next piece and ends cancelled
run_ok "vol-create-as for cancel" pc vol-create-as p1 disk3 1M
exec 3<>"$E2E_DIR/fifo"
out=$(pc --async vol-upload disk3 "$E2E_DIR/fifo" --pool p1)
job=$(printf '%s\n' "$out" | sed -n 's/^Job \([0-9]*\) started$/\1/p')
check "job-cancel" "Job $job cancelled" "$(pc job-cancel "$job")"
head -c 4194304 /dev/zero >&3 &
writer=$!
run_fails "job-wait on a cancelled job fails" "cancel" pc job-wait "$job"
exec 3>&-
kill $writer 2>/dev/null; wait $writer 2>/dev/null
check "cancelled job state" "State:          cancelled" "$(pc job-info "$job" | grep '^State:')"
run_fails "job-cancel of a finished job" "finished" pc job-cancel "$job"
run_fails "job-info of an unknown job" "no job with id 999" pc job-info 999

# event: a subscriber sees a change made by another client
pc event --timeout 10 >"$E2E_DIR/event.out" 2>&1 &
evpid=$!
for _ in $(seq 1 100); do # until the subscriber is connected (it and this daemon-info)
    [ "$(pc --json daemon-info | python3 -c 'import json,sys; print(json.load(sys.stdin)["clients"])')" -ge 2 ] && break
    sleep 0.05
done
sleep 0.1
run_ok "vol-create-as for the event" pc vol-create-as p1 evvol 1M
wait $evpid
grep -q "event 'vol-created' for storage pool p1 volume evvol" "$E2E_DIR/event.out" &&
    ok "event printed" || { not_ok "event printed"; sed 's/^/#   /' "$E2E_DIR/event.out"; }
run_ok "vol-delete evvol" pc vol-delete evvol --pool p1

# kill -9 during a job: after the restart the job is failed, the pool active, nothing half-made
run_ok "vol-create-as raw" pc vol-create-as p1 disk2 1M
exec 3<>"$E2E_DIR/fifo"
out=$(pc --async vol-upload disk2 "$E2E_DIR/fifo" --pool p1)
job=$(printf '%s\n' "$out" | sed -n 's/^Job \([0-9]*\) started$/\1/p')
stop_poold KILL
exec 3>&-
start_poold
check "interrupted job is failed" "State:          failed" "$(pc job-info "$job" | grep '^State:')"
pc job-info "$job" | grep -q "interrupted" && ok "its error says interrupted" || not_ok "interrupted"
check "pool active after the crash" " p1     active   no" "$(pc pool-list | tail -n +3)"
check "volumes still listed" "disk2 disk3" "$(pc vol-list p1 | awk 'NR > 2 {print $1}' | xargs)"
check "no hidden partial file" "" "$(ls -A "$POOL_DIR" | grep partial)"

# names and duplicates
run_fails "duplicate volume" "already exists" pc vol-create-as p1 disk2 1M
run_fails "name with /" "invalid volume name|name" pc vol-create-as p1 a/b 1M
run_fails "name .." "invalid volume name|name" pc vol-create-as p1 .. 1M
run_fails "name of 256 bytes" "name" pc vol-create-as p1 "$(printf 'x%.0s' $(seq 256))" 1M
run_fails "unknown pool" "failed to get pool 'nope'" pc vol-create-as nope v 1M
run_fails "duplicate pool uuid or target" "already|conflict" \
    pc pool-define-as p2 dir --target "$POOL_DIR"
run_fails "shrink without --shrink" "shrink" pc vol-resize disk2 512K --pool p1
run_ok "pool-destroy" pc pool-destroy p1
run_fails "inactive pool" "not active" pc vol-list p1
run_fails "pool-undefine of an active pool is fine, delete of an active one is not" "active" \
    sh -c "$POOLCTL -c $SOCK pool-start p1 >/dev/null && $POOLCTL -c $SOCK pool-delete p1"
finish
