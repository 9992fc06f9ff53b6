#!/bin/bash
# Pipelined sessions and group commit (daemon/jobs/group-commit.h): poolctl reading commands from a
# file sends vol-create-as / vol-delete without waiting, poold answers a burst after one sync.
# The output must be exactly that of the same commands run one at a time, answers must come
# in call order (raw varlink client), and a poold killed in the middle of a burst must come
# back with a catalog that matches its directory: no half-made volume, nothing lost that was
# answered.
. "$(dirname "$0")/lib.sh"
start_poold
D=$E2E_DIR
pc -q pool-define-as pl dir - - - - "$D/pl" >/dev/null && pc -q pool-build pl >/dev/null &&
    pc -q pool-start pl >/dev/null || { echo "Bail out! cannot make pool pl"; exit 1; }

# the same session, pipelined and not: same output, same exit status
{
    for i in $(seq 1 40); do echo "vol-create-as pl v$i 1M --format qcow2"; done
    echo "vol-create-as pl v7 1M"                # exists: an error in its place
    echo "vol-list pl"                           # not pipelined: prints after the creates
    for i in $(seq 1 40); do echo "vol-delete v$i --pool pl"; done
    echo "vol-delete nosuch --pool pl"
    echo "vol-create-as nopool x 1M"
    echo "pool-info pl"
} >"$D/session"
pc <"$D/session" >"$D/out.pipe" 2>&1; rc1=$?
POOLCTL_NO_PIPELINE=1 pc <"$D/session" >"$D/out.plain" 2>&1; rc2=$?
if cmp -s "$D/out.pipe" "$D/out.plain"; then ok "pipelined output = one-at-a-time output"; else
    not_ok "pipelined output = one-at-a-time output"; diff "$D/out.pipe" "$D/out.plain" | head -20 | sed 's/^/#   /'
fi
check "same exit status (1: some commands failed)" "1 1" "$rc1 $rc2"
check "the duplicate create failed in its place" "1" "$(grep -c '^error: Failed to create vol v7' "$D/out.pipe")"
check "pool empty after the session" "" "$(ls "$D/pl")"

# calls that depend on earlier ones still running (overlapping creates and deletes, see
# PD_METHOD_OVERLAP): the same name created, deleted and created again; an overlay on a base
# made just before; deleting a base while its overlay exists; deleting twice; reading a
# volume right after its create. Output and status as one at a time.
{
    for i in $(seq 1 30); do
        echo "vol-create-as pl d$i 1M --format qcow2"
        echo "vol-delete d$i --pool pl"
        echo "vol-create-as pl d$i 2M"
    done
    echo "vol-create-as pl base 1M --format qcow2"
    echo "vol-create-as pl ov 1M --format qcow2 --backing-vol base --backing-vol-format qcow2"
    echo "vol-delete base --pool pl"              # refused: ov uses it
    echo "vol-delete d5 --pool pl"
    echo "vol-delete d5 --pool pl"                # gone already
    echo "vol-create-as pl d6 1M"                 # exists
    echo "vol-create-as pl n1 1M"
    echo "vol-info n1 --pool pl --bytes"          # not overlapping: sees n1 made
    echo "vol-delete ov --pool pl"
    echo "vol-delete base --pool pl"
    for i in $(seq 1 30); do [ "$i" = 5 ] || echo "vol-delete d$i --pool pl"; done
    echo "vol-delete n1 --pool pl"
    echo "vol-list pl"
} >"$D/deps"
pc <"$D/deps" >"$D/deps.pipe" 2>&1; rc1=$?
check "dependent session: pool empty" "" "$(ls "$D/pl")"
POOLCTL_NO_PIPELINE=1 pc <"$D/deps" >"$D/deps.plain" 2>&1; rc2=$?
if cmp -s "$D/deps.pipe" "$D/deps.plain"; then ok "dependent calls: pipelined output = one-at-a-time output"; else
    not_ok "dependent calls: pipelined output = one-at-a-time output"; diff "$D/deps.pipe" "$D/deps.plain" | head -20 | sed 's/^/#   /'
fi
check "dependent session: same exit status" "1 1" "$rc1 $rc2"
check "dependent session: 30 re-creates after deletes succeeded" "60" "$(grep -c '^Vol d[0-9]* created$' "$D/deps.pipe")"
check "dependent session: the overlay was made on the new base" "1" "$(grep -c '^Vol ov created$' "$D/deps.pipe")"
check "dependent session: three refusals (base in use, d5 gone, d6 exists)" "3" "$(grep -c -i '^error: Failed' "$D/deps.pipe")"
check "dependent session: vol-info saw n1" "1" "$(grep -c '^Capacity: *1048576 bytes' "$D/deps.pipe")"

# answers in call order, effects visible to later calls (raw client, 45 calls back to back)
if out=$(python3 "$(dirname "$0")/varlink-raw.py" "$SOCK" pipeline 2>&1); then
    ok "raw pipelined calls answered in order"
else
    not_ok "raw pipelined calls answered in order"; printf '%s\n' "$out" | sed 's/^/#   /'
fi

# a burst of 300 creates, poold killed in the middle; after a restart the catalog is the
# directory, and every create poolctl printed as done is there
for i in $(seq 1 300); do echo "vol-create-as pl k$i 64K"; done >"$D/burst"
pc <"$D/burst" >"$D/burst.out" 2>/dev/null &
CLIENT=$!
for _ in $(seq 1 200); do
    [ "$(ls "$D/pl" | wc -l)" -ge 60 ] && break
    sleep 0.01
done
stop_poold KILL
wait $CLIENT 2>/dev/null
done_names=$(sed -n 's/^Vol \(k[0-9]*\) created$/\1/p' "$D/burst.out" | sort)
start_poold
catalog=$(pc -q vol-list pl | awk 'NF {print $1}' | sort)
files=$(ls "$D/pl" | sort)
check "after the crash the catalog is the directory" "$files" "$catalog"
missing=$(comm -23 <(printf '%s\n' "$done_names") <(printf '%s\n' "$catalog") | grep -c . || true)
check "every answered create survived ($(printf '%s\n' "$done_names" | grep -c .) answered)" "0" "$missing"
case $(ls -a "$D/pl" | grep -c '\.partial') in
0) ok "no partial file left" ;;
*) not_ok "no partial file left" ;;
esac
finish
