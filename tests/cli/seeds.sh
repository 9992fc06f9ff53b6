#!/bin/bash
# The seed documents' commands, exactly as users type them (with poolimg for qemu-img).
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_qcow2

pi 0 create -f raw base.img 1G
pi 0 create -f qcow2 -o preallocation=falloc,backing_file=base.img -F raw disk.qcow2 20G
expect_out "Formatting 'disk.qcow2', fmt=qcow2"
qemu-img check -q disk.qcow2 || fail "seed create: qemu-img check"
ok
pi 0 create -f qcow2 -o preallocation=falloc,backing_file=base.img disk2.qcow2 20G
pi 0 info disk.qcow2
expect_out "file format: qcow2"
expect_out "virtual size: 20 GiB (21474836480 bytes)"
expect_out "cluster_size: 65536"
expect_out "backing file: base.img"
pi 0 check disk.qcow2
expect_out "No errors were found on the image."
pi 0 check -f qcow2 disk.qcow2
pi 0 resize disk.qcow2 +5G
expect_out "Image resized."
qemu-img info disk.qcow2 | grep -q "virtual size: 25 GiB" || fail "seed resize"
pi 0 snapshot -c backup1 disk.qcow2
pi 0 snapshot -l disk.qcow2
expect_out "backup1"
pi 0 snapshot -a backup1 disk.qcow2
pi 0 snapshot -d backup1 disk.qcow2

mkdata centos.raw 32
pi 0 convert -f raw -O qcow2 -c centos.raw centos.qcow2
qemu-img compare -q centos.raw centos.qcow2 || fail "seed convert -c"
qemu-img check -q centos.qcow2 || fail "seed convert -c: check"
ok
pi 0 convert -f raw -O qcow2 -c -p centos.raw centos2.qcow2
pi 0 commit disk.qcow2
expect_out "Image committed."
done_ok
