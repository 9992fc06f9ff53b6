#!/bin/busybox sh
# shellcheck shell=dash
# PID 1 of the VM harness's guest, in two stages (see README.md):
#   stage 1 (this file as /init of the initramfs, busybox): load the few modules needed to see
#     the host's root over virtio-9p, mount it read-only under a tmpfs overlay and switch_root
#     into it, re-running this file from there as stage 2;
#   stage 2 (host's /bin/sh on the real root): fresh /tmp and /run, the explicit shares, the
#     kernel's modules under /lib/modules, loop + dm_mod + the suite's modules, udevd, then
#     /harness/run.sh as root. Its status goes to /harness/rc; then power off.
# /harness is the host's run directory (writable); /harness/vm.env (written by run-in-vm.sh)
# sets VM_KVER, VM_MODULES, VM_SHARES ("TAG=PATH ..."), VM_LOAD_MODULES and VM_NO_UDEV.

O9P=trans=virtio,version=9p2000.L,msize=262144

say() { echo "VM: $*"; }

# Power off at once (the host's poweroff would ask systemd, which does not run here).
power_off() {
    sync
    busybox poweroff -f || echo o >/proc/sysrq-trigger
    sleep 30
}

die() {
    say "$*"
    power_off
}

stage1() {
    /bin/busybox --install -s /bin
    export PATH=/bin
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    while read -r ko; do insmod "$ko" || say "insmod $ko failed"; done </modules.list
    mkdir -p /ro /rw /newroot
    mount -t 9p -o ro,cache=loose,$O9P hostroot /ro || die "cannot mount the host root (9p)"
    mount -t tmpfs -o mode=755 rw /rw && mkdir -p /rw/upper /rw/work
    mount -t overlay -o lowerdir=/ro,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
        die "cannot mount the overlay root"
    for d in proc sys dev; do mount --move /$d /newroot/$d; done
    mkdir -p /newroot/harness /newroot/run
    mount -t 9p -o cache=none,$O9P harness /newroot/harness || die "cannot mount /harness (9p)"
    # the overlay's tmpfs holds this copy; stage 2 runs it with the host's shell
    mount -t tmpfs -o mode=755 tmpfs /newroot/run
    cp /init /newroot/run/vm-init
    exec switch_root /newroot /bin/sh /run/vm-init stage2
}

# Mount the host directories that the root share cannot show (those under /tmp and /run,
# hidden by the guest's own tmpfs) at their host paths.
mount_shares() {
    for share in $VM_SHARES; do
        mkdir -p "${share#*=}"
        mount -t 9p -o ro,cache=loose,$O9P "${share%%=*}" "${share#*=}" ||
            die "cannot mount the share of ${share#*=}"
    done
}

start_udev() {
    [ -n "$VM_NO_UDEV" ] && return 0
    for udevd in /lib/systemd/systemd-udevd /usr/lib/systemd/systemd-udevd; do
        [ -x $udevd ] || continue
        $udevd --daemon && udevadm trigger --action=add --subsystem-match=block &&
            udevadm settle
        return
    done
    say "no systemd-udevd: running without udev"
}

stage2() {
    export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    mkdir -p /run/lock /run/lvm /dev/pts /dev/shm
    mount -t devpts devpts /dev/pts
    mount -t tmpfs tmpfs /dev/shm
    ln -sf /proc/self/fd /dev/fd
    hostname vm
    ip link set lo up
    # shellcheck source=/dev/null
    . /harness/vm.env
    mount_shares
    mkdir -p "/lib/modules/$VM_KVER"
    mount --bind "$VM_MODULES" "/lib/modules/$VM_KVER" || die "cannot mount the kernel's modules"
    # shellcheck disable=SC2086
    modprobe -a loop dm_mod $VM_LOAD_MODULES || die "modprobe failed"
    start_udev
    say "running the test at $(cut -d' ' -f1 /proc/uptime)s"
    # No pipe to the console (| tee): a daemon the test leaves behind would hold it open. The
    # host records the serial console.
    /bin/bash /harness/run.sh </dev/null >/dev/console 2>&1
    echo $? >/harness/rc
    say "test ended with $(cat /harness/rc) at $(cut -d' ' -f1 /proc/uptime)s"
    power_off
}

if [ "${1:-}" = stage2 ]; then stage2; else stage1; fi
