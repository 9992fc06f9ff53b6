#!/usr/bin/env python3
"""Damages qcow2 images made by qemu-img, one way per output file (check-verdict.sh).

Usage: check-inject.py BASE OUTDIR [overflow]
With "overflow", BASE has refcount_bits=1 and only the damages that overflow it are made.
BASE: a qcow2 image (64 KiB clusters, compat 1.1, 64 MiB) made by qemu-img with data at
0..256k and 10M..11M, so its layout is qemu's default one: header 0x0, refcount table
0x10000, refcount block 0x20000, L1 0x30000, L2 0x40000, data from 0x50000.
Writes OUTDIR/NAME.qcow2 for each damage; prints the names.
"""
import os
import shutil
import struct
import sys

CS = 0x10000
REFTABLE, REFBLOCK, L1, L2 = 0x10000, 0x20000, 0x30000, 0x40000
COPIED = 1 << 63


def rd64(f, off):
    f.seek(off)
    return struct.unpack(">Q", f.read(8))[0]


def wr64(f, off, v):
    f.seek(off)
    f.write(struct.pack(">Q", v))


def wr16(f, off, v):
    f.seek(off)
    f.write(struct.pack(">H", v))


def l2e(i):
    return L2 + 8 * i


def damage(name, fn):
    path = os.path.join(OUT, name + ".qcow2")
    shutil.copyfile(BASE, path)
    with open(path, "r+b") as f:
        fn(f)
    print(name)


def truncate_at(size):
    return lambda f: f.truncate(size)


def set_l2(i, value):
    return lambda f: wr64(f, l2e(i), value)


def misalign(i, delta):
    return lambda f: wr64(f, l2e(i), rd64(f, l2e(i)) + delta)


def same_as(i, j):
    return lambda f: wr64(f, l2e(i), rd64(f, l2e(j)))


def refcount(cluster, value):
    return lambda f: wr16(f, REFBLOCK + 2 * cluster, value)


BASE, OUT = sys.argv[1], sys.argv[2]
os.makedirs(OUT, exist_ok=True)
if len(sys.argv) > 3 and sys.argv[3] == "overflow":
    # refcount overflow: a cluster referenced twice where a refcount holds at most 1
    damage("overflow-two-owners", same_as(1, 0))
    damage("overflow-l2-twice", lambda f: wr64(f, L1 + 8, rd64(f, L1)))
    sys.exit(0)
# truncation: inside the L2 table, inside the data, at a cluster boundary, in the L1 table
for size in (300000, 0x48000, 0x60000, 0x70010, 0x100000, 0x38000):
    damage("trunc-%x" % size, truncate_at(size))
# misaligned entries: a data cluster, a zero-flagged (preallocated) one, the L2 table
damage("misaligned-data", misalign(0, 0x200))
damage("misaligned-data-far", misalign(2, 0x8000))
damage("misaligned-l2", lambda f: wr64(f, L1, rd64(f, L1) + 0x200))
damage("misaligned-prealloc", lambda f: wr64(f, l2e(1), rd64(f, l2e(1)) + 0x200 + 1))
# L2 past the end of the file, a data cluster past it
damage("l2-past-eof", lambda f: wr64(f, L1, COPIED | 0x10000000))
damage("data-past-eof", set_l2(3, COPIED | 0x4000000))
# overlapping metadata: data clusters that are the refcount block, the L1 table, the L2
# table, the header, the refcount table; two entries naming one data cluster
damage("overlap-refblock", set_l2(0, COPIED | REFBLOCK))
damage("overlap-l1", set_l2(0, COPIED | L1))
damage("overlap-l2", set_l2(0, COPIED | L2))
damage("overlap-header", set_l2(0, COPIED))
damage("overlap-reftable", set_l2(0, COPIED | REFTABLE))
damage("two-owners", same_as(1, 0))
damage("l1-twice", lambda f: wr64(f, L1 + 8, rd64(f, L1)))
# refcounts: leaked, zero, too high, at the maximum
damage("refcount-zero", refcount(5, 0))
damage("refcount-leak", refcount(6, 2))
damage("refcount-max", refcount(5, 0xffff))
damage("refcount-free-leak", lambda f: (f.truncate(0x400000), wr16(f, REFBLOCK + 2 * 63, 1)))
