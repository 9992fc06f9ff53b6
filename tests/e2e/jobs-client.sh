#!/bin/bash
# Jobs as a virsh user meets them (issue 15 item 17): a finished job's rate stays what it was,
# a random wipe reports progress as it goes, a cancelled clone says which job was cancelled
# (not the engine's "Conversion cancelled"), and Ctrl-C of a foreground clone tells the job's
# id (the job goes on in poold).
. "$(dirname "$0")/lib.sh"
start_poold
D=$E2E_DIR
pc -q pool-define-as p dir - - - - "$D/p" >/dev/null && pc -q pool-build p >/dev/null &&
    pc -q pool-start p >/dev/null || { echo "Bail out! pool p"; exit 1; }

# a finished job's rate: computed over the job's own time, so it does not fall afterwards
run_ok "vol-create-as r 1M" pc vol-create-as p r 1M
job=$(pc --json job-list | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
rate1=$(pc job-info "$job" | grep '^Rate:')
sleep 2
rate2=$(pc job-info "$job" | grep '^Rate:')
check "a finished job's rate stays" "$rate1" "$rate2"

# a random wipe tells its progress while it runs
run_ok "vol-create-as big 256M" pc vol-create-as p big 256M
job=$(pc --async vol-wipe big --pool p --algorithm random | awk '{print $2}')
seen=0
for _ in $(seq 1 400); do
    read -r state done total <<<"$(pc --json job-info "$job" |
        python3 -c 'import json, sys; j = json.load(sys.stdin); print(j["state"], j["bytes_done"], j["bytes_total"])')"
    [ "$state" = running ] && [ "$done" -gt 0 ] && [ "$done" -lt "$total" ] && seen=1
    [ "$state" = running ] || break
    sleep 0.02
done
check "random wipe: the job ended done" "done" "$state"
[ $seen = 1 ] && ok "random wipe: progress between 0 and the size while it ran" ||
    not_ok "random wipe: progress between 0 and the size while it ran"

# a cancelled clone: the error names the job
job=$(pc --async vol-clone big big2 --pool p | awk '{print $2}')
pc job-cancel "$job" >/dev/null 2>&1
pc job-wait "$job" >/dev/null 2>&1
info=$(pc job-info "$job")
if printf '%s' "$info" | grep -q '^State: *done'; then
    ok "# SKIP the clone ended before its cancel"
    pc -q vol-delete big2 --pool p
else
    check "cancelled clone: the error names the job" \
        "Error:          job $job (vol-clone) cancelled" "$(printf '%s\n' "$info" | grep '^Error:')"
fi

# Ctrl-C of a foreground clone (progress on a terminal): the job's id and that it goes on
python3 - "$POOLCTL" "$SOCK" >"$D/ctrlc.out" <<'PY'
import os, pty, select, signal, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], ["poolctl", "-c", sys.argv[2], "vol-clone", "big", "big3", "--pool", "p"])
out = b""
end = time.time() + 10
sent = False
while time.time() < end:
    if select.select([fd], [], [], 0.02)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    if not sent and b"[" in out:
        os.kill(pid, signal.SIGINT)
        sent = True
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
PY
job=$(sed -n 's/.*interrupted: job \([0-9]*\) goes on.*/\1/p' "$D/ctrlc.out" | head -n 1)
if [ -n "$job" ]; then
    ok "Ctrl-C: the job's id is told"
    run_ok "Ctrl-C: the job goes on, job-wait follows it" pc job-wait "$job"
elif grep -q "Vol big3 cloned" "$D/ctrlc.out"; then
    ok "# SKIP the clone ended before Ctrl-C"
else
    not_ok "Ctrl-C: the job's id is told"
    sed 's/^/#   /' "$D/ctrlc.out"
fi
finish
