#!/bin/bash
# Targets of create, convert and commit (issue 14 item 4), as qemu-img writes them: an existing
# file is written in place (inode, owner, mode and hard links kept), a symlink writes through
# to the file it names, a block device (a loop device here) is written in place, a new file
# appears only when complete, and a target that is the source (or in its backing chain) is
# refused with the source intact.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_qcow2

ident() { stat -c '%i %U %a %h %F' "$1"; }

qemu-img create -q -f qcow2 src.qcow2 8M
qemu-io -c 'write -P 0x5a 0 1M' -c 'write -P 0x6b 3M 512k' src.qcow2 >/dev/null
qemu-img convert -O raw src.qcow2 src.raw

# an existing file owned by another user, mode 0600, with a second hard link
echo old >f
chown nobody f
chmod 600 f
ln f f.link
before=$(ident f)
pi 0 convert -O raw src.qcow2 f
[ "$(ident f)" = "$before" ] || fail "convert replaced the target: $before -> $(ident f)"
cmp f src.raw || fail "convert onto an existing file: wrong contents"
cmp f.link src.raw || fail "the hard link does not see the data"
ok
pi 0 create -q -f qcow2 f 16M
[ "$(ident f)" = "$before" ] || fail "create replaced the target: $before -> $(ident f)"
qemu-img check -q f || fail "create in place: check"
qemu-img info f | grep -q "virtual size: 16 MiB" || fail "create in place: not a 16 MiB qcow2"
ok
pi 0 convert -O qcow2 src.qcow2 f
[ "$(ident f)" = "$before" ] || fail "convert -O qcow2 replaced the target"
qemu-img compare -q f src.raw || fail "convert -O qcow2 onto an existing file: wrong contents"
qemu-img check -q f || fail "convert -O qcow2 in place: check"
ok

# a symlink (/dev/VG/LV) writes through to the file it names
qemu-img create -q -f raw disk 8M
ln -s disk lv
pi 0 convert -O raw src.qcow2 lv
[ -L lv ] || fail "the symlink was replaced"
cmp disk src.raw || fail "convert through a symlink did not write the file it names"
ok
ln -s nowhere dangling
pi 0 create -q -f qcow2 dangling 1M
[ -L dangling ] && [ -f nowhere ] || fail "create through a dangling symlink: the link was replaced"
qemu-img check -q nowhere || fail "create through a dangling symlink: check"
ok

# the source, through its own name, a symlink, or a backing file of the chain
qemu-img snapshot -c keep src.qcow2
pi 1 convert -O qcow2 src.qcow2 src.qcow2
expect_err "source image"
ln -s src.qcow2 alias.qcow2
pi 1 convert -O raw src.qcow2 alias.qcow2
qemu-img snapshot -l src.qcow2 | grep -q keep || fail "the source lost its snapshot"
qemu-img compare -q src.qcow2 src.raw || fail "the source changed"
qemu-img create -q -f qcow2 -b src.qcow2 -F qcow2 top.qcow2
pi 1 convert -O raw top.qcow2 src.qcow2
expect_err "backing chain"
qemu-img check -q src.qcow2 || fail "the backing file was damaged"
ok

# a character device is refused, not replaced by a regular file
mknod cdev c 1 3
pi 1 convert -O raw src.qcow2 cdev
[ -c cdev ] || fail "the character device was replaced"
ok

# a new file: complete or absent
pi 0 convert -O qcow2 src.qcow2 new.qcow2
qemu-img compare -q new.qcow2 src.raw || fail "new target"
expect_absent new2.qcow2
pi 1 convert -O qcow2 missing.qcow2 new2.qcow2
expect_absent new2.qcow2

# commit empties the overlay in place: same inode, owner and mode, snapshots kept
qemu-img create -q -f raw base.raw 8M
qemu-img create -q -f qcow2 -b base.raw -F raw ov.qcow2
qemu-io -c 'write -P 7 1M 1M' ov.qcow2 >/dev/null
qemu-img snapshot -c s1 ov.qcow2
qemu-io -c 'write -P 8 4M 64k' ov.qcow2 >/dev/null
qemu-img convert -O raw ov.qcow2 ov.raw
chown nobody ov.qcow2
chmod 640 ov.qcow2
before=$(ident ov.qcow2)
pi 0 commit ov.qcow2
[ "$(ident ov.qcow2)" = "$before" ] || fail "commit replaced the overlay: $before -> $(ident ov.qcow2)"
qemu-img snapshot -l ov.qcow2 | grep -q s1 || fail "commit dropped the overlay's snapshot"
qemu-img compare -q ov.qcow2 ov.raw || fail "the overlay reads differently after commit"
cmp base.raw ov.raw || fail "commit: the base lacks data"
qemu-img map --output=json ov.qcow2 | grep -q '"depth": 0, "present": true, "zero": false, "data": true' &&
    fail "commit did not empty the overlay"
qemu-img check -q ov.qcow2 || fail "check of the emptied overlay"
ok

# a block device (a loop device over a file) is written in place
if [ "$(id -u)" = 0 ] && command -v losetup >/dev/null 2>&1; then
    truncate -s 16M loop.img
    dev=$(losetup -f --show loop.img 2>/dev/null) || dev=
    [ -n "$dev" ] && trap 'losetup -d "$dev" 2>/dev/null; rm -rf "$T"' EXIT
    if [ -n "$dev" ]; then
        pi 0 convert -O raw src.qcow2 "$dev"
        r1=$rc
        head -c 8M "$dev" | cmp - src.raw
        r2=$?
        pi 0 create -q -f qcow2 "$dev" 8M
        qemu-img check -q -f qcow2 "$dev"
        r3=$?
        pi 0 convert -O qcow2 src.qcow2 "$dev"
        qemu-img compare -q -f qcow2 -F raw "$dev" src.raw
        r4=$?
        [ -b "$dev" ] || fail "the device node went"
        [ $r1 = 0 ] && [ $r2 = 0 ] || fail "convert -O raw onto $dev: wrong contents"
        [ $r3 = 0 ] || fail "create -f qcow2 on $dev: check"
        [ $r4 = 0 ] || fail "convert -O qcow2 onto $dev: wrong contents"
        ok
    else
        echo "# no loop device could be set up: the block device case is skipped"
    fi
else
    echo "# not root or no losetup: the block device case is skipped"
fi
done_ok
