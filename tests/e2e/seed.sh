#!/bin/bash
# The seed's virsh workflow, typed with poolctl as written, with virsh's output layout; then
# a restart (clean and kill -9) that must find every pool and volume again.
. "$(dirname "$0")/lib.sh"
start_poold
POOL_DIR=$E2E_DIR/mypool

check_exact "pool-define-as" "Pool mypool defined

" pc pool-define-as mypool dir - - - - "$POOL_DIR"
check_exact "pool-list --all (inactive)" " Name     State      Autostart
--------------------------------
 mypool   inactive   no

" pc pool-list --all
check "pool-build" "Pool mypool built" "$(pc pool-build mypool)"
[ -d "$POOL_DIR" ] && ok "pool-build made the directory" || not_ok "pool-build made the directory"
check "pool-start" "Pool mypool started" "$(pc pool-start mypool)"
check "pool-autostart" "Pool mypool marked as autostarted" "$(pc pool-autostart mypool)"
check_exact "pool-list --all" " Name     State    Autostart
------------------------------
 mypool   active   yes

" pc pool-list --all
info=$(pc pool-info mypool)
uuid=$(pc pool-uuid mypool)
check "pool-info head" "Name:           mypool
UUID:           $uuid
State:          running
Persistent:     yes
Autostart:      yes" "$(printf '%s\n' "$info" | head -5)"
printf '%s\n' "$info" | grep -qE '^Capacity: +[0-9.]+ [KMGTPE]?i?B$' && ok "pool-info capacity" ||
    not_ok "pool-info capacity"
check "pool-name" "mypool" "$(pc pool-name "$uuid")"

# 20G as in the seed when the filesystem has plenty of room for a reserved raw file, else 20M
size=20G
avail=$(pc pool-info mypool --bytes | awk '/^Available:/ {print $2}')
[ "$avail" -gt $((200 * 1024 * 1024 * 1024)) ] || size=20M # a shared disk keeps its room
check "vol-create-as" "Vol vm1-disk created" "$(pc vol-create-as mypool vm1-disk $size)"
path=$POOL_DIR/vm1-disk
check_exact "vol-list" " Name       Path
$(dashes $((11 + ${#path} + 3)))
 vm1-disk   $path

" pc vol-list mypool
human=$([ $size = 20G ] && echo "20.00 GiB" || echo "20.00 MiB")
check "vol-info" "Name:           vm1-disk
Type:           file
Capacity:       $human" "$(pc vol-info vm1-disk --pool mypool | head -3)"
check "vol-path" "$POOL_DIR/vm1-disk" "$(pc vol-path vm1-disk --pool mypool)"
check "vol-name by path" "vm1-disk" "$(pc vol-name "$POOL_DIR/vm1-disk")"
check "vol-pool by path" "mypool" "$(pc vol-pool "$POOL_DIR/vm1-disk")"
check "vol-create-as qcow2" "Vol disk2 created" "$(pc vol-create-as mypool disk2 1G --format qcow2)"
check "vol-clone" "Vol disk3 cloned from disk2" "$(pc vol-clone disk2 disk3 --pool mypool)"
check "vol-resize" "Size of volume 'disk3' successfully changed to 2G" \
    "$(pc vol-resize disk3 2G --pool mypool)"
check "vol-snapshot-create" "Snapshot s1 of vol disk3 created" \
    "$(pc vol-snapshot-create disk3 s1 --pool mypool)"
pc vol-snapshot-list disk3 --pool mypool | grep -q ' s1 ' && ok "vol-snapshot-list" ||
    not_ok "vol-snapshot-list"
details=$(pc vol-list mypool --details)
printf '%s\n' "$details" | head -1 | grep -qE '^ Name +Path +Type +Capacity +Allocation$' &&
    ok "vol-list --details header" || not_ok "vol-list --details header"
printf '%s\n' "$details" | grep -qE "^ disk3 +$POOL_DIR/disk3 +file +2.00 GiB " &&
    ok "vol-list --details row" || not_ok "vol-list --details row"
pc --json vol-list mypool | python3 -c 'import json,sys; v=json.load(sys.stdin); assert [x["name"] for x in v] == ["disk2","disk3","vm1-disk"]' &&
    ok "vol-list --json" || not_ok "vol-list --json"

# a clean restart, then a crash: every pool and volume comes back, the pool active
expect_vols=$(pc vol-list mypool)
stop_poold TERM
start_poold
check "after restart: pool-list" " Name     State    Autostart
------------------------------
 mypool   active   yes" "$(pc pool-list --all)"
check "after restart: vol-list" "$expect_vols" "$(pc vol-list mypool)"
stop_poold KILL
start_poold
check "after kill -9: vol-list" "$expect_vols" "$(pc vol-list mypool)"
check "after kill -9: snapshot kept" "1" "$(pc --json vol-snapshot-list disk3 --pool mypool | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"

check "vol-delete" "Vol vm1-disk deleted" "$(pc vol-delete vm1-disk --pool mypool)"
[ ! -e "$POOL_DIR/vm1-disk" ] && ok "vol-delete removed the file" || not_ok "vol-delete removed the file"
run_fails "vol-info of a deleted volume" "failed to get vol 'vm1-disk'" \
    pc vol-info vm1-disk --pool mypool

# a pool that was stopped stays stopped across a restart unless it autostarts
run_ok "pool-autostart --disable" pc pool-autostart mypool --disable
check "pool-destroy" "Pool mypool destroyed" "$(pc pool-destroy mypool)"
stop_poold TERM
start_poold
check "stopped pool stays inactive" " mypool   inactive   no" "$(pc pool-list --all | tail -n +3)"
run_ok "pool-start again" pc pool-start mypool
check "catalog kept while stopped" "disk2 disk3" "$(pc vol-list mypool | awk 'NR > 2 {print $1}' | xargs)"
finish
