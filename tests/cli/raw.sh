#!/bin/bash
# raw images through every command that applies, checked against qemu-img.
. "$(dirname "$0")/lib.sh"
need_qemu_img
need_python

pi 0 create -f raw a.img 16M
expect_out "Formatting 'a.img', fmt=raw size=16777216"
qemu-img create -q -f raw b.img 16M
cmp <(stat -c %s a.img) <(stat -c %s b.img) || fail "create size differs"
pi 0 create -q -f raw -o preallocation=full full.img 1M
[ ! -s out ] || fail "-q printed something"
[ "$(du -k full.img | cut -f1)" -ge 1024 ] || fail "preallocation=full left holes"
pi 0 create -f raw -o preallocation=falloc fa.img 1M
expect_out "preallocation=falloc"

mkdata data.raw 16
pi 0 info --output=json data.raw
mv out p.json
qemu-img info --output=json -f raw data.raw >q.json
json_same p.json q.json virtual-size format actual-size dirty-flag filename
pi 0 info data.raw
expect_out "image: data.raw"
expect_out "file format: raw"
expect_out "virtual size: 16 MiB (16777216 bytes)"
expect_out "disk size: "

pi 0 map --output=json -f raw data.raw
qemu-img map --output=json -f raw data.raw >q.map
cmp out q.map || fail "map --output=json differs from qemu-img"
pi 0 map -f raw data.raw
qemu-img map -f raw data.raw >q.map
cmp out q.map || fail "map differs from qemu-img"

pi 0 measure --output=json -O raw --size 1G
mv out p.json
qemu-img measure --output=json -O raw --size 1G >q.json
json_same p.json q.json required fully-allocated

pi 0 convert -O raw data.raw copy.raw
cmp data.raw copy.raw || fail "raw->raw copy differs"
[ "$(du -k copy.raw | cut -f1)" -le $(($(du -k data.raw | cut -f1) + 64)) ] || fail "convert did not keep holes"
pi 0 convert -p -O raw data.raw copy2.raw
expect_out "(100.00/100%)"
pi 0 convert -S 0 -O raw data.raw full.raw
cmp data.raw full.raw || fail "-S 0 copy differs"
[ "$(du -k full.raw | cut -f1)" -ge 16384 ] || fail "-S 0 did not allocate everything"
# Zero runs inside data are skipped with -S.
truncate -s 0 zeros.raw
head -c 4194304 /dev/zero >zeros.raw
pi 0 convert -O raw zeros.raw sparse.raw
[ "$(du -k sparse.raw | cut -f1)" -le 64 ] || fail "-S default did not skip written zeroes"
cmp zeros.raw sparse.raw || fail "zero copy differs"

# -n into an existing image; --target-is-zero.
head -c 16777216 /dev/urandom >dirty.raw
pi 0 convert -n -O raw data.raw dirty.raw
cmp data.raw dirty.raw || fail "convert -n did not zero the holes of the target"
truncate -s 16M zero.raw
pi 0 convert -n --target-is-zero -O raw data.raw zero.raw
cmp data.raw zero.raw || fail "convert --target-is-zero differs"

pi 0 compare data.raw copy.raw
expect_out "Images are identical."
cp data.raw diff.raw
printf 'x' | dd of=diff.raw bs=1 seek=5000000 conv=notrunc status=none
pi 1 compare data.raw diff.raw
qemu-img compare data.raw diff.raw >q.out
cmp out q.out || fail "compare text differs from qemu-img"
expect_out "Content mismatch at offset 4999680!"
pi 1 compare -s data.raw diff.raw
expect_out "Strict mode"

pi 0 resize a.img +1M
expect_out "Image resized."
[ "$(stat -c %s a.img)" = $((17 * 1024 * 1024)) ] || fail "resize +1M"
pi 0 resize --shrink a.img -- -2M
[ "$(stat -c %s a.img)" = $((15 * 1024 * 1024)) ] || fail "resize -2M"
pi 0 resize --shrink a.img -1M
[ "$(stat -c %s a.img)" = $((14 * 1024 * 1024)) ] || fail "resize -1M without --"
pi 0 resize -q -f raw a.img 20M
[ "$(stat -c %s a.img)" = $((20 * 1024 * 1024)) ] || fail "resize 20M"

# Cancelled (SIGINT) and failed converts leave nothing behind.
head -c 134217728 /dev/urandom >big.raw
timeout -s INT 0.1 "$POOLIMG" convert -S 0 -O raw big.raw big.out >out 2>err
if [ $? != 0 ]; then
    expect_absent big.out
    expect_err "cancelled"
else
    echo "note: convert finished before the signal; cancellation not exercised"
fi
rm -f big.raw big.out

pi 0 snapshot -l data.raw
[ ! -s out ] || fail "snapshot -l of raw printed something"
done_ok
