#!/bin/bash
# A private iSCSI target (tgtd) on loopback for the iscsi-direct tests: everything lives under
# DIR (LUN files, tgtd's control socket through TGT_IPC_SOCKET, its log and PID).
#
#   tgt-fixture.sh start DIR   picks a free port, starts tgtd, creates the targets below;
#                              prints "PORT PID"; DIR/port and DIR/tgtd.pid hold them
#   tgt-fixture.sh stop DIR    deletes the targets and tgtd (it ignores SIGTERM), SIGKILL as
#                              a fallback, removes what it made
#   tgt-fixture.sh kill DIR    SIGKILL: the target vanishes mid-operation
#   tgt-fixture.sh freeze DIR  SIGSTOP: the target stops answering (thaw: SIGCONT)
#
# Targets (initiators may log in from 127.0.0.1 only):
#   $IQN_PLAIN  LUN 1: 64 MiB; LUN 2: 128 MiB, thin (UNMAP); LUN 3: 32 MiB with 4 KiB
#               sectors; LUN 4: 16 MiB, read-only   (LUN 0 is tgt's controller)
#   $IQN_CHAP   LUN 1: 48 MiB; CHAP user $CHAP_USER, secret $CHAP_SECRET
#   $IQN_OTHER  LUN 1: 8 MiB
# Exit 77 when tgtd or tgtadm is missing.
set -euo pipefail
cmd=$1 dir=$2
IQN_PLAIN=iqn.2026-11.io.poold.test:plain
IQN_CHAP=iqn.2026-11.io.poold.test:chap
IQN_OTHER=iqn.2026-11.io.poold.test:other
CHAP_USER=pooldtest
CHAP_SECRET=Chap-Secret-4711
export TGT_IPC_SOCKET="$dir/ipc" # tgtd and tgtadm: control socket under DIR

for tool in tgtd tgtadm ss; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (apt-get install tgt)"; exit 77; }
done

# running = exists and is not a zombie
alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ]; }

adm() { tgtadm -C "$(cat "$dir/port")" --lld iscsi "$@" >/dev/null; }

# start_tgtd PORT: 0 when tgtd runs and owns the portal, 1 when the port was taken
start_tgtd() {
    local port=$1 pid
    : >"$dir/tgtd.log"
    tgtd -f -C "$port" --iscsi portal=127.0.0.1:"$port" >>"$dir/tgtd.log" 2>&1 </dev/null &
    pid=$!
    for _ in $(seq 500); do
        # a taken port does not stop tgtd: it runs on without a portal
        if grep -q 'failed to create/bind to portal' "$dir/tgtd.log"; then
            kill -KILL "$pid"; wait "$pid" 2>/dev/null || true; return 1
        fi
        if tgtadm -C "$port" --mode sys --op show >/dev/null 2>&1 &&
            ss -Hltnp "sport = :$port" | grep -q "pid=$pid,"; then
            echo "$port" >"$dir/port"; echo "$pid" >"$dir/tgtd.pid"; return 0
        fi
        alive "$pid" || { wait "$pid" 2>/dev/null || true; return 1; }
        sleep 0.01
    done
    kill -KILL "$pid"; echo "tgtd not ready after 5 s:" >&2; cat "$dir/tgtd.log" >&2; exit 1
}

lun() { # lun TID LUN FILE SIZE [tgtadm options]
    local tid=$1 n=$2 file=$dir/$3 size=$4; shift 4
    truncate -s "$size" "$file"
    adm --mode logicalunit --op new --tid "$tid" --lun "$n" --backing-store "$file" "$@"
}

configure() {
    adm --mode target --op new --tid 1 --targetname "$IQN_PLAIN"
    lun 1 1 plain1.img 64M
    lun 1 2 plain2.img 128M
    adm --mode logicalunit --op update --tid 1 --lun 2 --params thin_provisioning=1
    lun 1 3 plain3.img 32M --blocksize 4096
    lun 1 4 plain4.img 16M
    adm --mode logicalunit --op update --tid 1 --lun 4 --params readonly=1
    adm --mode target --op bind --tid 1 --initiator-address 127.0.0.1
    adm --mode target --op new --tid 2 --targetname "$IQN_CHAP"
    lun 2 1 chap1.img 48M
    adm --mode target --op bind --tid 2 --initiator-address 127.0.0.1
    adm --mode account --op new --user "$CHAP_USER" --password "$CHAP_SECRET"
    adm --mode account --op bind --tid 2 --user "$CHAP_USER"
    adm --mode target --op new --tid 3 --targetname "$IQN_OTHER"
    lun 3 1 other1.img 8M
    adm --mode target --op bind --tid 3 --initiator-address 127.0.0.1
}

# A test that dies without stopping its target (an assertion aborts it) must not leave tgtd
# behind: a watcher stops it when the owner (TGT_OWNER_PID, else the caller) is gone. It holds
# none of the caller's descriptors, so a caller reading our output is not kept waiting.
watch_owner() {
    local owner=${TGT_OWNER_PID:-$PPID} self
    self=$(readlink -f "$0")
    (
        while kill -0 "$owner" 2>/dev/null && [ -e "$dir/tgtd.pid" ]; do sleep 0.5; done
        if [ -e "$dir/tgtd.pid" ] && ! kill -0 "$owner" 2>/dev/null; then
            bash "$self" stop "$dir"
            rm -rf "$dir" # the owner made it and is gone
        fi
    ) </dev/null >/dev/null 2>&1 &
    disown
}

start() {
    mkdir -p "$dir"
    local tries port
    for tries in $(seq 20); do
        port=$((20000 + RANDOM % 20000))
        ss -Hltn "sport = :$port" | grep -q . && continue
        if start_tgtd "$port"; then
            configure
            watch_owner
            echo "$port $(cat "$dir/tgtd.pid")"
            return 0
        fi
    done
    echo "no free port for tgtd after $tries tries" >&2
    exit 1
}

stop() {
    local pid port
    pid=$(cat "$dir/tgtd.pid" 2>/dev/null || true)
    port=$(cat "$dir/port" 2>/dev/null || true)
    if [ -n "$pid" ] && alive "$pid"; then
        kill -CONT "$pid" 2>/dev/null || true
        # 'system delete' is refused while targets exist
        for tid in $(tgtadm -C "$port" --lld iscsi --mode target --op show 2>/dev/null |
            sed -n 's/^Target \([0-9]*\):.*/\1/p'); do
            tgtadm -C "$port" --lld iscsi --mode target --op delete --force --tid "$tid" || true
        done
        tgtadm -C "$port" --mode system --op delete >/dev/null 2>&1 || true
        for _ in $(seq 300); do alive "$pid" || break; sleep 0.01; done
        if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$dir/ipc.$port" "$dir/ipc.$port.lock" "$dir"/*.img "$dir/tgtd.pid" "$dir/port"
}

signal() {
    local pid
    pid=$(cat "$dir/tgtd.pid")
    kill "-$1" "$pid"
    if [ "$1" = KILL ]; then
        for _ in $(seq 300); do alive "$pid" || break; sleep 0.01; done
    fi
}

case $cmd in
start) start ;;
stop) stop ;;
kill) signal KILL ;;
freeze) signal STOP ;;
thaw) signal CONT ;;
*) echo "usage: $0 start|stop|kill|freeze|thaw DIR" >&2; exit 2 ;;
esac
