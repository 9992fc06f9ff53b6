#!/bin/bash
# Overlapping calls (PD_METHOD_OVERLAP, docs/daemon.md "Group commit"): a client pipelining
# vol creates and deletes has them run side by side on the workers, yet every answer, its
# order and the pool's directory must be those of the same calls run one at a time
# (overlap.py compares both for each session): the same names created, deleted and created
# again, deletes by path, reads and refreshes right after a burst, pool-stop, pool-delete,
# two clients at once; clients that go away in the middle of a burst; poold stopped in the
# middle of one.
. "$(dirname "$0")/lib.sh"
start_poold
D=$E2E_DIR
OV="$(dirname "$0")/overlap.py"

for scenario in serial stop clients disconnect; do
    if out=$(python3 "$OV" "$SOCK" "$D" "$scenario" 2>&1); then
        ok "$scenario: $(grep -c '^ok ' <<<"$out") checks"
    else
        not_ok "$scenario"; printf '%s\n' "$out" | grep -v '^ok ' | sed 's/^/#   /'
    fi
done

# the space check of a create counts the creates before it (a tmpfs of 8 MiB: needs root)
mkdir -p "$D/small"
if mount -t tmpfs -o size=8m poold-e2e "$D/small" 2>/dev/null; then
    trap 'umount "$D/small" 2>/dev/null; cleanup' EXIT
    if out=$(python3 "$OV" "$SOCK" "$D" space 2>&1); then
        ok "space: $(grep -c '^ok ' <<<"$out") checks"
    else
        not_ok "space"; printf '%s\n' "$out" | grep -v '^ok ' | sed 's/^/#   /'
    fi
    umount "$D/small"
else
    ok "space # SKIP cannot mount a tmpfs (not root?)"
fi

# poold stopped (TERM) while a client's overlapping creates still run and their barriers
# come and go, five times: it stops cleanly (exit 0: a completion or barrier that ended
# after the main loop quit must not run on its own thread; under ASan nothing leaked of the
# calls whose jobs never completed) and comes back with a catalog that is its directory
pc -q pool-define-as tp dir - - - - "$D/tp" >/dev/null && pc -q pool-build tp >/dev/null &&
    pc -q pool-start tp >/dev/null || { echo "Bail out! cannot make pool tp"; exit 1; }
for round in 1 2 3 4 5; do
    for i in $(seq 1 400); do echo "vol-create-as tp t$round-$i 1M --format qcow2"; done >"$D/burst"
    have=$(ls "$D/tp" | wc -l)
    pc <"$D/burst" >/dev/null 2>&1 &
    CLIENT=$!
    for _ in $(seq 1 400); do
        [ "$(ls "$D/tp" | wc -l)" -ge $((have + 20 * round)) ] && break
        sleep 0.01
    done
    kill -TERM "$POOLD_PID"; wait "$POOLD_PID"; rc=$?
    POOLD_PID=
    wait $CLIENT 2>/dev/null
    check "round $round: poold stopped in a burst exits 0" "0" "$rc"
    if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:|GLib-ERROR" "$D/poold.log"; then
        not_ok "round $round: poold stopped in a burst ran clean"
        grep -A12 -E "ERROR: (Address|Leak)Sanitizer|runtime error:|GLib-ERROR" "$D/poold.log" |
            head -40 | sed 's/^/#   /'
        : >"$D/poold.log"
    else
        ok "round $round: poold stopped in a burst ran clean"
    fi
    start_poold
    catalog=$(pc -q vol-list tp | awk 'NF {print $1}' | sort)
    check "round $round: after the stop the catalog is the directory" "$(ls "$D/tp" | sort)" "$catalog"
done
finish
