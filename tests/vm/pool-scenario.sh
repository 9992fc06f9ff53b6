# The dir pool's end-to-end scenario for the pools that are a directory once started (fs, netfs
# in mount mode), run inside the VM against a real poold. Sourced after tests/e2e/lib.sh.

# vol_names POOL: the volume names of vol-list, on one line
vol_names() { pc vol-list "$1" | tail -n +3 | awk 'NF {print $1}' | xargs; }

# volume_scenario POOL DIR: raw and qcow2 volumes, clone, resize, snapshot, wipe,
# upload/download, a file made behind poold's back found by pool-refresh. DIR is where the test
# looks at the files itself: the mount point of an fs pool, the exported directory on the NFS
# server's side for netfs (qemu-img's locks on an NFSv3 mount wait for lockd). Leaves the
# volumes raw1, qcow1, clone1 and extern.img in POOL.
volume_scenario() {
    local p=$1 target=$2
    check "vol-create-as raw" "Vol raw1 created" "$(pc vol-create-as "$p" raw1 16M --format raw)"
    check "vol-create-as qcow2" "Vol qcow1 created" \
        "$(pc vol-create-as "$p" qcow1 32M --format qcow2)"
    [ -f "$target/raw1" ] && [ -f "$target/qcow1" ] && ok "volumes are files on the mount" ||
        not_ok "volumes are files on the mount"

    head -c 3145728 /dev/urandom >"$E2E_DIR/in.bin"
    run_ok "vol-upload" pc vol-upload raw1 "$E2E_DIR/in.bin" --pool "$p"
    run_ok "vol-download" pc vol-download raw1 "$E2E_DIR/out.bin" --pool "$p" --length 3145728
    cmp -s "$E2E_DIR/in.bin" "$E2E_DIR/out.bin" && ok "downloaded bytes = uploaded bytes" ||
        not_ok "downloaded bytes = uploaded bytes"
    check "vol-clone" "Vol clone1 cloned from raw1" "$(pc vol-clone raw1 clone1 --pool "$p")"
    cmp -s "$target/raw1" "$target/clone1" && ok "clone holds the same bytes" ||
        not_ok "clone holds the same bytes"

    run_ok "vol-resize grows" pc vol-resize raw1 24M --pool "$p"
    check "capacity after resize" "25165824" "$(stat -c %s "$target/raw1")"
    run_ok "vol-resize qcow2" pc vol-resize qcow1 48M --pool "$p"
    check "qcow2 capacity" "Capacity:       50331648 bytes" \
        "$(pc vol-info qcow1 --pool "$p" --bytes | grep Capacity)"

    run_ok "vol-snapshot-create" pc vol-snapshot-create qcow1 s1 --pool "$p"
    qemu-img snapshot -l "$target/qcow1" | grep -q ' s1 ' && ok "qemu-img sees snapshot s1" ||
        not_ok "qemu-img sees snapshot s1"
    qemu-img check -q "$target/qcow1" && ok "qemu-img check after snapshot" ||
        not_ok "qemu-img check after snapshot"

    check "vol-wipe" "Vol clone1 wiped" "$(pc vol-wipe clone1 --pool "$p")"
    [ "$(tr -d '\0' <"$target/clone1" | wc -c)" = 0 ] && ok "wiped volume reads zeroes" ||
        not_ok "wiped volume reads zeroes"

    qemu-img create -q -f qcow2 "$target/extern.img" 8M
    run_ok "pool-refresh" pc pool-refresh "$p"
    pc vol-dumpxml extern.img --pool "$p" >"$E2E_DIR/extern.xml"
    grep -q "<format type='qcow2'/>" "$E2E_DIR/extern.xml" &&
        grep -q "<capacity unit='bytes'>8388608</capacity>" "$E2E_DIR/extern.xml" &&
        ok "refresh finds a qcow2 of 8 MiB made behind poold's back" ||
        not_ok "refresh finds a qcow2 of 8 MiB made behind poold's back"
    check "vol-list" "clone1 extern.img qcow1 raw1" "$(vol_names "$p")"
}

# restart_check POOL [SIGNAL...]: poold stopped with each SIGNAL (default TERM, then KILL) and
# started again finds the pool active with the same volumes.
restart_check() {
    local p=$1 before after sig
    shift
    local sigs=("$@")
    [ ${#sigs[@]} -gt 0 ] || sigs=(TERM KILL)
    before=$(vol_names "$p")
    for sig in "${sigs[@]}"; do
        stop_poold "$sig"
        start_poold
        after=$(vol_names "$p")
        check "after poold restart ($sig): pool running" "State:          running" \
            "$(pc pool-info "$p" | grep State)"
        check "after poold restart ($sig): same volumes" "$before" "$after"
    done
}
