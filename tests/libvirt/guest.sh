# Guests of the libvirt end-to-end tests (sourced after libvirtd-fixture.sh).
#
#   guest_linux_define NAME   a `pc` guest, 128 MiB, TCG, that boots Debian's kernel with a
#                             busybox initramfs; its serial console goes to
#                             $E2E_DIR/NAME-console.log. The initramfs loads the virtio
#                             modules, prints POOLD-GUEST-READY, then
#                             "POOLD-GUEST-BLOCK: [vda:SECTORS ...]" (the disks in /sys/block
#                             with their size in 512-byte sectors) at first and each time that
#                             list changes, so a test sees the guest notice a hot-plug.
#                             Exits 77 (via lv_skip) when the kernel cannot be had.
#   guest_noos_define NAME    a `pc` guest without an OS, with a virtio-scsi controller
#   guest_wait_console NAME PATTERN [SECONDS]   waits until the console log matches PATTERN
#                             (an extended regular expression); 0 when it does, 1 on timeout
#   guest_wait_blocks NAME "vda:32768" [SECONDS]  waits until the guest's last block device list
#                             is that one; 0 when it is, 1 on timeout

GUEST_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GUEST_KERNEL=
GUEST_INITRD=

# guest_fetch_kernel: sets GUEST_KERNEL and GUEST_MODULES from tests/vm/fetch-kernel.sh
# (KERNEL=, VMLINUZ=, MODULES= lines; exit 77 when the kernel cannot be had).
guest_fetch_kernel() {
    local out rc line
    out=$(bash "$GUEST_LIB_DIR/../vm/fetch-kernel.sh" 2>"$E2E_DIR/fetch-kernel.err")
    rc=$?
    [ $rc -eq 77 ] && lv_skip "no guest kernel: $(tail -n 1 "$E2E_DIR/fetch-kernel.err")"
    if [ $rc -ne 0 ]; then
        echo "# fetch-kernel.sh failed ($rc):"
        sed 's/^/#   /' "$E2E_DIR/fetch-kernel.err"
        exit 1
    fi
    while read -r line; do
        case $line in
        KERNEL=*) GUEST_KERNEL=${line#KERNEL=} ;;
        MODULES=*) GUEST_MODULES=${line#MODULES=} ;;
        esac
    done <<<"$out"
}

# guest_modules KVER ROOT: the .ko files the guest loads, dependencies first, once each
guest_modules() {
    local m
    for m in virtio_pci virtio_blk virtio_scsi sd_mod; do
        modprobe -d "$2" -S "$1" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
    done | awk '!seen[$0]++'
}

# guest_build_initrd: busybox-static, the modules, and the init below, as a gzip'd cpio
guest_build_initrd() {
    local root=$E2E_DIR/initrd kver modroot ko
    command -v busybox >/dev/null || lv_skip "busybox is not installed (busybox-static)"
    command -v cpio >/dev/null || lv_skip "cpio is not installed"
    guest_fetch_kernel
    kver=$(basename "$GUEST_MODULES")
    modroot=${GUEST_MODULES%/lib/modules/*}
    mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/modules"
    cp "$(command -v busybox)" "$root/bin/busybox"
    : >"$root/modules.list"
    for ko in $(guest_modules "$kver" "$modroot"); do
        cp "$ko" "$root/modules/"
        echo "/modules/$(basename "$ko")" >>"$root/modules.list"
    done
    cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
while read -r ko; do insmod "$ko" 2>/dev/null; done </modules.list
echo POOLD-GUEST-READY
seen=-
while :; do
    now=$(for b in /sys/block/*; do
        case ${b##*/} in loop* | ram* | \*) continue ;; esac
        echo "${b##*/}:$(cat "$b/size")"
    done)
    now=$(echo $now)
    [ "$now" != "$seen" ] && echo "POOLD-GUEST-BLOCK: [$now]" && seen=$now
    sleep 0.2
done
EOF
    chmod 755 "$root/init"
    (cd "$root" && find . | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$E2E_DIR/initrd.gz"
    GUEST_INITRD=$E2E_DIR/initrd.gz
}

# guest_linux_define NAME: defines (not starts) the Linux guest
guest_linux_define() {
    local name=$1
    [ -n "$GUEST_INITRD" ] || guest_build_initrd
    cat >"$E2E_DIR/$name.xml" <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$GUEST_KERNEL</kernel>
    <initrd>$GUEST_INITRD</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>
    <serial type='file'>
      <source path='$E2E_DIR/$name-console.log'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
    vsh define "$E2E_DIR/$name.xml" >/dev/null
}

# guest_noos_define NAME: defines (not starts) the guest without an OS
guest_noos_define() {
    local name=$1
    cat >"$E2E_DIR/$name.xml" <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <controller type='scsi' index='0' model='virtio-scsi'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
    vsh define "$E2E_DIR/$name.xml" >/dev/null
}

guest_wait_console() {
    local log=$E2E_DIR/$1-console.log pattern=$2 tries=$((${3:-60} * 10)) _
    for _ in $(seq 1 "$tries"); do
        grep -qE -- "$pattern" "$log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

guest_wait_blocks() {
    local log=$E2E_DIR/$1-console.log want="POOLD-GUEST-BLOCK: [$2]" tries=$((${3:-20} * 10)) _
    for _ in $(seq 1 "$tries"); do
        # (the serial console ends its lines with CR LF)
        [ "$(tr -d '\r' <"$log" 2>/dev/null | grep '^POOLD-GUEST-BLOCK:' | tail -n 1)" = "$want" ] &&
            return 0
        sleep 0.1
    done
    return 1
}
