# Fixture of the libvirt end-to-end tests (sourced first by each test): a real virtlogd +
# libvirtd, and poold pointed at them, all inside a private mount namespace.
#
# The test script re-executes itself under `unshare --mount`; there the libvirt directories of
# the host (/run, /etc/libvirt, /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt) are
# covered by bind mounts of directories under the test's temporary directory, so the daemons
# see a fresh "system" instance and nothing of the host's is read or written. libvirt's
# cgroup use is switched off (cgroup_controllers = [ ]) for the same reason. QEMU runs as root
# without a security driver: the images live in the test's /tmp directory.
#
# After sourcing: tests/e2e/lib.sh's helpers (pc, ok, not_ok, check, run_ok, run_fails,
# start_poold, finish) with poold configured for the private libvirtd ([libvirt] uri= in its
# configuration file), and
#   LIBVIRT_URI     the URI of the private libvirtd (also LIBVIRT_DEFAULT_URI, for virsh)
#   vsh ARGS...     virsh against it
#   lv_domxml DOM [--inactive]   the domain's XML (live by default)
#   lv_disk DOM TARGET [--inactive]   "SOURCE DRIVER-TYPE BUS" of a disk, or "none"
#   lv_blk DOM [--inactive]   poolctl domblklist's rows, "TARGET SOURCE"
#   lv_finish       lib.sh's finish, with libvirt's and QEMU's logs after a failure
# Everything started is stopped by PID on exit: domains are destroyed, then libvirtd, the
# QEMU processes it left, and virtlogd.
# Skips (TAP: "1..0 # SKIP reason", status 0) when libvirtd, virtlogd, virsh or qemu-system-x86_64 is missing or a
# mount namespace cannot be made.

# The scripts are TAP tests: a skip is the plan "1..0 # SKIP why" and status 0 (meson counts a
# TAP test that exits 77 as an error).
lv_skip() {
    echo "1..0 # SKIP $*"
    exit 0
}

lv_check_tools() {
    local tool
    for tool in libvirtd virtlogd virsh qemu-system-x86_64 unshare; do
        PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null ||
            lv_skip "$tool is not installed (scripts/install-deps.sh test)"
    done
    [ "$(id -u)" -eq 0 ] || lv_skip "needs root (a private mount namespace and a system libvirtd)"
}

if [ -z "${POOLD_LIBVIRT_NS:-}" ]; then
    lv_check_tools
    unshare --mount --propagation private true 2>/dev/null ||
        lv_skip "cannot make a private mount namespace (unshare --mount failed)"
    export POOLD_LIBVIRT_NS=1
    exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
fi
PATH=$PATH:/usr/sbin:/sbin

# shellcheck source=../e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

LV_DIR=$E2E_DIR/libvirt
LIBVIRT_URI="qemu+unix:///system?socket=/run/libvirt/libvirt-sock"
export LIBVIRT_DEFAULT_URI=$LIBVIRT_URI
LV_LIBVIRTD_PID=
LV_VIRTLOGD_PID=

vsh() { virsh -q -c "$LIBVIRT_URI" "$@"; }

lv_domxml() {
    local dom=$1
    shift
    vsh dumpxml "$dom" "$@"
}

# lv_disk DOM TARGET [--inactive]: "SOURCE DRIVER-TYPE BUS" of the domain's disk at TARGET in
# its live (or inactive) XML, "none" when it has no disk there. SOURCE is the file, device or
# network name.
lv_disk() {
    local xml d="//devices/disk[target/@dev='$2']"
    xml=$(vsh dumpxml "$1" ${3:+"$3"}) || return 1
    if [ "$(printf '%s' "$xml" | xmllint --xpath "count($d)" -)" = 0 ]; then
        echo none
        return 0
    fi
    printf '%s' "$xml" | xmllint --xpath "concat($d/source/@file, $d/source/@dev, \
        $d/source/@name, ' ', $d/driver/@type, ' ', $d/target/@bus)" -
    echo
}

# lv_blk DOM [--inactive]: poolctl domblklist's rows as "TARGET SOURCE", sorted
lv_blk() {
    pc domblklist "$@" 2>&1 | awk 'NR > 2 && NF { print $1, $2 }' | sort
}

# lv_configure: the private copy of /etc/libvirt: no autostarted networks or pools, QEMU as
# root without cgroups or a security driver, libvirtd's log in the test directory.
lv_configure() {
    mkdir -p "$LV_DIR"
    cp -a /etc/libvirt "$LV_DIR/etc"
    rm -f "$LV_DIR"/etc/qemu/networks/autostart/*.xml "$LV_DIR"/etc/storage/autostart/*.xml
    cat >>"$LV_DIR/etc/qemu.conf" <<'EOF'
# poold tests: a private instance
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
EOF
    cat >>"$LV_DIR/etc/libvirtd.conf" <<'EOF'
# poold tests: a private instance
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
}

# lv_mount: the host's libvirt directories covered by the test's own
lv_mount() {
    local d
    for d in run lib log cache; do mkdir -p "$LV_DIR/$d"; done
    mkdir -p "$LV_DIR/run/lock"
    mount --bind "$LV_DIR/run" /run &&
        mount --bind "$LV_DIR/etc" /etc/libvirt &&
        mkdir -p /var/lib/libvirt /var/log/libvirt /var/cache/libvirt &&
        mount --bind "$LV_DIR/lib" /var/lib/libvirt &&
        mount --bind "$LV_DIR/log" /var/log/libvirt &&
        mount --bind "$LV_DIR/cache" /var/cache/libvirt
}

# lv_wait_pidfile FILE: the PID a daemon wrote, once it is there (5 s at most)
lv_wait_pidfile() {
    local _
    for _ in $(seq 1 100); do
        [ -s "$1" ] && { cat "$1"; return 0; }
        sleep 0.05
    done
    return 1
}

lv_start() {
    lv_configure
    lv_mount || {
        echo "# cannot bind the private libvirt directories"
        exit 1
    }
    virtlogd --daemon --pid-file /run/virtlogd.pid
    LV_VIRTLOGD_PID=$(lv_wait_pidfile /run/virtlogd.pid)
    libvirtd --daemon --pid-file /run/libvirtd.pid
    LV_LIBVIRTD_PID=$(lv_wait_pidfile /run/libvirtd.pid)
    local _
    for _ in $(seq 1 200); do
        [ -S /run/libvirt/libvirt-sock ] && vsh uri >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "# libvirtd did not start; its log:"
    sed 's/^/#   /' "$LV_DIR/log/libvirtd.log" 2>/dev/null | tail -20
    exit 1
}

# lv_alive PID: the process runs (a daemon's zombie waits for init, which may reap it late)
lv_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# lv_kill PID: TERM, then KILL after 5 s
lv_kill() {
    local pid=$1 _
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        lv_alive "$pid" || return 0
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null
}

lv_stop() {
    local dom pidfile
    if [ -n "$LV_LIBVIRTD_PID" ]; then
        for dom in $(vsh list --name 2>/dev/null); do
            timeout 10 virsh -q -c "$LIBVIRT_URI" destroy "$dom" >/dev/null 2>&1
        done
        lv_kill "$LV_LIBVIRTD_PID"
    fi
    for pidfile in "$LV_DIR"/run/libvirt/qemu/*.pid; do
        [ -s "$pidfile" ] && lv_kill "$(cat "$pidfile")"
    done
    lv_kill "$LV_VIRTLOGD_PID"
    LV_LIBVIRTD_PID=
    LV_VIRTLOGD_PID=
}

# lv_dump_logs: libvirtd's and QEMU's logs as TAP comments (after a failure)
lv_dump_logs() {
    local f
    for f in "$LV_DIR"/log/libvirtd.log "$LV_DIR"/log/qemu/*.log; do
        [ -s "$f" ] || continue
        echo "# --- $f"
        grep -v ': debug : \|: info : ' "$f" | tail -15 | sed 's/^/#   /'
    done
}

# lv_finish: finish (lib.sh), with libvirt's logs after a failure
lv_finish() {
    [ "$FAILS" -eq 0 ] || lv_dump_logs
    finish
}

trap 'lv_stop; cleanup' EXIT
lv_start

cat >"$E2E_DIR/poold.conf" <<EOF
[libvirt]
uri=$LIBVIRT_URI
EOF
POOLD_ARGS="--config $E2E_DIR/poold.conf ${POOLD_ARGS:-}"
