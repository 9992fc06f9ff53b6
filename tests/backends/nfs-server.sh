#!/bin/bash
# nfs-server.sh CMD [ARGS...]: runs CMD next to a real NFSv3 server.
#
# Starts rpcbind and nfs-ganesha (FSAL VFS) serving a fresh temporary directory, inside a
# private network, mount and PID namespace (loopback only, standard ports, nothing reaches
# the host's network, everything dies with the namespace), runs CMD there and exits with its
# status. CMD sees:
#   NFS_SERVER       127.0.0.1
#   NFS_EXPORT       the export path (also the directory on the server side: the test can
#                    check files with qemu-img directly)
#   NFS_GANESHA_PID  the server's PID (SIGSTOP it to freeze the server)
#   NFS_WORK         a scratch directory removed afterwards
# Exits 77 (skip) with the reason when a tool or the namespace is missing. Needs root.
set -u

# 77 for the C tests (exitcode protocol); TAP tests set NFS_SKIP_STATUS=0 (a TAP test that exits
# 77 counts as an error, "1..0 # SKIP" with status 0 as skipped)
skip() { echo "1..0 # SKIP $*"; exit "${NFS_SKIP_STATUS:-77}"; }

if [ "${1:-}" != --inside ]; then
    [ $# -ge 1 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
    for tool in unshare ip rpcbind rpcinfo ganesha.nfsd; do
        command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/sbin:/usr/sbin command -v "$tool" \
            >/dev/null 2>&1 || skip "$tool is not installed (nfs-ganesha, rpcbind, iproute2)"
    done
    [ -n "$(find /usr/lib -path '*/ganesha/libfsalvfs.so' -print -quit)" ] ||
        skip "nfs-ganesha-vfs is not installed"
    [ "$(id -u)" -eq 0 ] || skip "the NFS fixture needs root (namespaces, rpcbind)"
    unshare --net --mount --pid --fork true 2>/dev/null || skip "cannot create namespaces here"
    export PATH=$PATH:/sbin:/usr/sbin
    exec unshare --net --mount --pid --fork --kill-child --mount-proc --propagation private \
        "$0" --inside "$@"
fi
shift

WORK=$(mktemp -d "${TMPDIR:-/tmp}/poold-nfs.XXXXXX")
chmod 755 "$WORK"
EXPORT=$WORK/export
mkdir -p "$EXPORT" "$WORK/recov" "$WORK/scratch"
RPCBIND_PID=
GANESHA_PID=

# shellcheck disable=SC2317 # called by the EXIT trap
stop_servers() {
    if [ -n "$GANESHA_PID" ]; then
        kill -CONT "$GANESHA_PID" 2>/dev/null # a test may have frozen it
        kill -TERM "$GANESHA_PID" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$GANESHA_PID" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$GANESHA_PID" 2>/dev/null
        wait "$GANESHA_PID" 2>/dev/null
    fi
    if [ -n "$RPCBIND_PID" ]; then
        kill -TERM "$RPCBIND_PID" 2>/dev/null
        wait "$RPCBIND_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap stop_servers EXIT

ip link set lo up
# A private /run: rpcbind's socket and lock do not clash with a host rpcbind.
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/rpcbind
chown _rpc /run/rpcbind 2>/dev/null

FSAL_DIR=$(dirname "$(find /usr/lib -path '*/ganesha/libfsalvfs.so' -print -quit)")
cat >"$WORK/ganesha.conf" <<CONF
NFS_KRB5 { Active_krb5 = false; }
NFS_CORE_PARAM {
    NFS_Port = 2049;
    MNT_Port = 20048;
    Protocols = 3;
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Enable_UDP = false;
    Plugins_Dir = "$FSAL_DIR";
}
NFSv4 { Graceless = true; RecoveryRoot = "$WORK/recov"; }
EXPORT {
    Export_Id = 1;
    Path = "$EXPORT";
    Pseudo = "$EXPORT";
    Access_Type = RW;
    Squash = No_Root_Squash;
    Protocols = 3;
    Transports = TCP;
    SecType = sys;
    # No attribute caching: files the tests change on the server side (as another client
    # would) are seen at once, as with the kernel's server.
    Attr_Expiration_Time = 0;
    CLIENT { Clients = 127.0.0.0/8; Access_Type = RW; }
    FSAL { Name = VFS; }
}
CONF

# rpcbind first: ganesha cannot register NFSv3 without it. ('-h 127.0.0.1' crashes this
# rpcbind; the namespace has nothing but loopback anyway.)
rpcbind -f </dev/null >"$WORK/rpcbind.log" 2>&1 &
RPCBIND_PID=$!
for _ in $(seq 1 200); do rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.02; done
rpcinfo -p 127.0.0.1 >/dev/null 2>&1 || { echo "rpcbind did not start:"; cat "$WORK/rpcbind.log"; exit 1; }

ganesha.nfsd -F -f "$WORK/ganesha.conf" -L "$WORK/ganesha.log" -p "$WORK/ganesha.pid" \
    -N NIV_EVENT </dev/null >"$WORK/ganesha.out" 2>&1 &
GANESHA_PID=$!
# Ready when both NFSv3 and MOUNTv3 answer a NULL call over TCP.
ready=
for _ in $(seq 1 500); do
    if rpcinfo -t 127.0.0.1 nfs 3 >/dev/null 2>&1 && rpcinfo -t 127.0.0.1 mountd 3 >/dev/null 2>&1; then
        ready=1; break
    fi
    kill -0 "$GANESHA_PID" 2>/dev/null || break
    sleep 0.02
done
if [ -z "$ready" ]; then
    echo "nfs-ganesha is not serving; its log:"
    grep -E 'FATAL|MAJ|CRIT' "$WORK/ganesha.log" || tail -20 "$WORK/ganesha.log"
    exit 1
fi

export NFS_SERVER=127.0.0.1 NFS_EXPORT=$EXPORT NFS_GANESHA_PID=$GANESHA_PID NFS_WORK=$WORK/scratch
"$@"
rc=$?
exit $rc
