#!/bin/sh
# Builds the seed corpus of the qcow2 fuzz target (tests/fuzz/corpus/) with qemu-img and
# qemu-io: small valid images of every kind the engine reads. The files are committed; run
# this again only to add seeds (qemu versions may change the bytes, which is harmless).
# Usage: tests/fuzz/make-seeds.sh [OUTDIR]
set -eu
out=${1:-$(dirname "$0")/corpus}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
w() { qemu-io -f qcow2 -c 'write -P 0xa1 0 1k' -c 'write -P 0xb2 3000 5000' \
      -c 'write -z 16k 2k' -c 'discard 20k 1k' -c 'write -P 0xc3 60k 4k' "$1" >/dev/null; }
mk() { name=$1; shift; qemu-img create -q -f qcow2 -o "$@" "$name" 64k; }

mk v3-512.qcow2 cluster_size=512; w v3-512.qcow2
mk v2-512.qcow2 compat=0.10,cluster_size=512; w v2-512.qcow2
mk v3-refcount1.qcow2 cluster_size=512,refcount_bits=1; w v3-refcount1.qcow2
mk v3-refcount64.qcow2 cluster_size=512,refcount_bits=64; w v3-refcount64.qcow2
mk v3-prealloc.qcow2 cluster_size=512,preallocation=metadata
mk v3-snapshot.qcow2 cluster_size=512; w v3-snapshot.qcow2
qemu-img snapshot -c one v3-snapshot.qcow2
qemu-io -f qcow2 -c 'write -P 0xd4 0 2k' v3-snapshot.qcow2 >/dev/null
qemu-img snapshot -c two v3-snapshot.qcow2
mk v3-lazy-dirty.qcow2 cluster_size=512,lazy_refcounts=on
qemu-io -f qcow2 -c 'write -P 0xe5 0 4k' -c 'sigraise 9' v3-lazy-dirty.qcow2 >/dev/null 2>&1 || true
qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=16k v3-extl2.qcow2 64k
w v3-extl2.qcow2
head -c 65536 /dev/zero | tr '\0' 'x' > src.raw
qemu-img convert -q -c -f raw -O qcow2 -o cluster_size=4k src.raw v3-zlib.qcow2
qemu-img convert -q -c -f raw -O qcow2 -o cluster_size=4k,compression_type=zstd src.raw \
    v3-zstd.qcow2
qemu-img create -q -f qcow2 -o cluster_size=512 -b v3-512.qcow2 -F qcow2 v3-backing.qcow2
w v3-backing.qcow2
cp ./*.qcow2 "$out"/
ls "$out"
