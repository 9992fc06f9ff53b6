#!/usr/bin/env python3
"""Builds the malformed qcow2 corpus under tests/data/malformed/ (deterministic).

Every image is written from scratch by this script (no qemu-img, so the bytes never change
with the qemu version): a small valid qcow2 image with 512-byte clusters -- header, refcount
table, refcount block, L1 table, one L2 table, two data clusters, a compressed cluster, a zero
cluster and, in some bases, an internal snapshot -- and then one field broken per file.

The expectations live next to the images in malformed/expected.txt, one line per file:

    NAME  STAGE  SUBSTRING|SUBSTRING|...

STAGE says where the engine must notice:
    open   opening read-only must fail;
    rdwr   opening read-only works, opening read-write must fail;
    any    opening, reading every cluster, block status, the snapshot list or check must
           fail or report a corruption;
    valid  a control: everything must work and check must find nothing (so the test can
           tell a good image from a bad one).
The error (or check) message must contain one of the substrings (case-insensitive).

Usage: make-malformed.py [OUTDIR] [--verify | --check]
  --check   writes nothing: builds the corpus in a temporary directory and fails if it
            differs from OUTDIR (a test: the committed files are what the script makes);
  --verify  also runs `qemu-img check` on each file and prints what qemu thinks (needs
            qemu-img), to review that the corpus is really malformed.
The generated files are committed; the test reads those, and a test checks that running
this script again reproduces them byte for byte.
"""
import os
import struct
import subprocess
import sys
import zlib

CLUSTER_BITS = 9
CS = 1 << CLUSTER_BITS
COPIED = 1 << 63
COMPRESSED = 1 << 62
ZERO = 1


def be64(v):
    return struct.pack(">Q", v)


class Layout:
    """Where the base image put things (byte offsets)."""


def make_base(version=3, snapshot=False, backing=None, backing_fmt=None, cluster_bits=9,
              feature_table=True, refcount_order=4):
    """Returns (bytearray image, Layout). Virtual size 1 MiB.

    Cluster map (cluster_bits 9):
      0 header (+ extensions, backing name)   1 refcount table   2 refcount block
      3 L1 table   4 L2 table   5, 6 data   7 compressed data
      with snapshot: 8 snapshot L1   9 snapshot table
    """
    cs = 1 << cluster_bits
    lay = Layout()
    lay.cs = cs
    lay.version = version
    size = 1 << 20
    l2_entries = cs // 8
    l1_size = (size + cs * l2_entries - 1) // (cs * l2_entries)
    n_clusters = 10 if snapshot else 8
    img = bytearray(n_clusters * cs)
    lay.reftable = 1 * cs
    lay.refblock = 2 * cs
    lay.l1 = 3 * cs
    lay.l2 = 4 * cs
    lay.data = [5 * cs, 6 * cs]
    lay.comp = 7 * cs
    lay.snap_l1 = 8 * cs if snapshot else None
    lay.snap_table = 9 * cs if snapshot else None
    refcounts = [0] * n_clusters
    for c in range(8):
        refcounts[c] = 1
    shared = 2 if snapshot else 1
    copied = 0 if snapshot else COPIED

    # data
    for i, off in enumerate(lay.data):
        img[off:off + cs] = bytes(((j * 7 + i * 13 + 1) & 0xff) for j in range(cs))
    plain = bytes((b"poold malformed corpus " * 64)[:cs])
    co = zlib.compressobj(9, zlib.DEFLATED, -12)
    comp = co.compress(plain) + co.flush()
    assert len(comp) < cs
    img[lay.comp:lay.comp + len(comp)] = comp
    lay.comp_len = len(comp)

    # L2: guest cluster 0 -> data0, 1 -> data1, 2 -> compressed, 3 -> zero (v3)
    csize_shift = 62 - (cluster_bits - 8)
    nb_sectors = (lay.comp + len(comp) - 1) // 512 - lay.comp // 512
    comp_entry = COMPRESSED | (nb_sectors << csize_shift) | lay.comp
    lay.l2_entries = [lay.data[0] | copied, lay.data[1] | copied, comp_entry]
    if version >= 3:
        lay.l2_entries.append(ZERO)
    for i, e in enumerate(lay.l2_entries):
        img[lay.l2 + 8 * i:lay.l2 + 8 * i + 8] = be64(e)
    refcounts[4] = shared
    refcounts[5] = refcounts[6] = refcounts[7] = shared

    # L1
    lay.l1_size = l1_size
    lay.l1_entry0 = lay.l2 | copied
    img[lay.l1:lay.l1 + 8] = be64(lay.l1_entry0)

    # snapshot
    snap_bytes = b""
    if snapshot:
        img[lay.snap_l1:lay.snap_l1 + 8] = be64(lay.l2)
        refcounts[8] = refcounts[9] = 1
        extra = be64(0) + be64(size)  # vm_state_size_large, disk_size
        sid, name = b"1", b"base-snap"
        ent = (be64(lay.snap_l1) + struct.pack(">IHHIIQII", l1_size, len(sid), len(name),
                                                1700000000, 0, 0, 0, len(extra)))
        ent += extra + sid + name
        ent += b"\0" * (-len(ent) % 8)
        snap_bytes = ent
        img[lay.snap_table:lay.snap_table + len(ent)] = ent
        lay.snap_entry_len = len(ent)

    # refcount structures
    img[lay.reftable:lay.reftable + 8] = be64(lay.refblock)
    width = 1 << refcount_order
    assert width == 16
    for c, r in enumerate(refcounts):
        img[lay.refblock + 2 * c:lay.refblock + 2 * c + 2] = struct.pack(">H", r)

    # header
    hlen = 112 if version >= 3 else 72
    lay.header_length = hlen
    exts = b""
    lay.ext_offsets = {}
    if version >= 3 and feature_table:
        names = [(0, 0, b"dirty bit"), (0, 1, b"corrupt bit"), (1, 0, b"lazy refcounts")]
        data = b"".join(struct.pack(">BB", t, b) + n.ljust(46, b"\0") for t, b, n in names)
        lay.ext_offsets["feature"] = hlen + len(exts)
        exts += struct.pack(">II", 0x6803F857, len(data)) + data + b"\0" * (-len(data) % 8)
    if backing_fmt:
        f = backing_fmt.encode()
        lay.ext_offsets["backing_fmt"] = hlen + len(exts)
        exts += struct.pack(">II", 0xE2792ACA, len(f)) + f + b"\0" * (-len(f) % 8)
    lay.ext_offsets["end"] = hlen + len(exts)
    exts += struct.pack(">II", 0, 0)
    bname = backing.encode() if backing else b""
    lay.backing_offset = hlen + len(exts) if backing else 0
    hdr = struct.pack(">IIQIIQIIQQIIQ", 0x514649FB, version, lay.backing_offset, len(bname),
                      cluster_bits, size, 0, l1_size, lay.l1, lay.reftable, 1,
                      1 if snapshot else 0, lay.snap_table or 0)
    assert len(hdr) == 72
    if version >= 3:
        hdr += struct.pack(">QQQII", 0, 0, 0, refcount_order, hlen) + b"\0" * 8
    blob = hdr + exts + bname
    assert len(blob) <= cs, len(blob)
    img[0:len(blob)] = blob
    return img, lay


# header field offsets
H_VERSION, H_BACKING_OFF, H_BACKING_SIZE, H_CLUSTER_BITS, H_SIZE = 4, 8, 16, 20, 24
H_CRYPT, H_L1_SIZE, H_L1_OFF, H_RT_OFF, H_RT_CLUSTERS = 32, 36, 40, 48, 56
H_NB_SNAP, H_SNAP_OFF, H_INCOMPAT, H_COMPAT, H_AUTOCLEAR = 60, 64, 72, 80, 88
H_REFCOUNT_ORDER, H_HEADER_LEN, H_COMPRESSION = 96, 100, 104


def put32(img, off, v):
    img[off:off + 4] = struct.pack(">I", v & 0xFFFFFFFF)


def put64(img, off, v):
    img[off:off + 8] = struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF)


def get64(img, off):
    return struct.unpack(">Q", bytes(img[off:off + 8]))[0]


FAR = 1 << 40  # far past the end of every file here

# Substring sets (case-insensitive alternatives) for messages.
S_TRUNC_HEADER = "short|truncat|header"
S_TRUNC_TABLES = "short|truncat|past the end|end of file|outside|beyond"


def corpus():
    """Yields (name, bytes, stage, substrings)."""
    v3, lay = make_base(3)
    v2, lay2 = make_base(2)
    snap, lays = make_base(3, snapshot=True)

    def mod(base, fn):
        img = bytearray(base)
        fn(img)
        return bytes(img)

    yield "valid-v3.qcow2", bytes(v3), "valid", ""
    yield "valid-v2.qcow2", bytes(v2), "valid", ""
    yield "valid-snapshot.qcow2", bytes(snap), "valid", ""

    # -- header fields out of range
    yield "cluster-bits-8.qcow2", mod(v3, lambda i: put32(i, H_CLUSTER_BITS, 8)), "open", \
        "cluster"
    yield "cluster-bits-22.qcow2", mod(v3, lambda i: put32(i, H_CLUSTER_BITS, 22)), "open", \
        "cluster"
    yield "cluster-bits-huge.qcow2", mod(v3, lambda i: put32(i, H_CLUSTER_BITS, 0xffffffff)), \
        "open", "cluster"
    yield "version-1.qcow2", mod(v3, lambda i: put32(i, H_VERSION, 1)), "open", "version"
    yield "version-4.qcow2", mod(v3, lambda i: put32(i, H_VERSION, 4)), "open", "version"
    yield "refcount-order-7.qcow2", mod(v3, lambda i: put32(i, H_REFCOUNT_ORDER, 7)), "open", \
        "refcount"
    yield "l1-size-huge.qcow2", mod(v3, lambda i: put32(i, H_L1_SIZE, 0x7fffffff)), "open", \
        "L1"
    yield "l1-size-too-small.qcow2", mod(v3, lambda i: put32(i, H_L1_SIZE, 0)), "open", \
        "L1|size"
    yield "header-length-too-small.qcow2", mod(v3, lambda i: put32(i, H_HEADER_LEN, 96)), \
        "open", "header"
    yield "header-length-too-big.qcow2", mod(v3, lambda i: put32(i, H_HEADER_LEN, 1024)), \
        "open", "header"
    yield "header-length-unaligned.qcow2", mod(v3, lambda i: put32(i, H_HEADER_LEN, 109)), \
        "open", "header"
    yield "size-overflow.qcow2", mod(v3, lambda i: put64(i, H_SIZE, 0xfffffffffffffe00)), \
        "open", "size|L1"
    yield "size-beyond-l1.qcow2", mod(v3, lambda i: put64(i, H_SIZE, 1 << 40)), "open", \
        "L1|size"
    yield "crypt-method-aes.qcow2", mod(v3, lambda i: put32(i, H_CRYPT, 1)), "open", \
        "encrypt|crypt"
    yield "crypt-method-luks.qcow2", mod(v3, lambda i: put32(i, H_CRYPT, 2)), "open", \
        "encrypt|crypt"
    yield "incompat-unknown-bit.qcow2", mod(v3, lambda i: put64(i, H_INCOMPAT, 1 << 20)), \
        "open", "feature|incompatible|unsupported"
    yield "incompat-data-file.qcow2", mod(v3, lambda i: put64(i, H_INCOMPAT, 1 << 2)), \
        "open", "data file|data_file|external"
    yield "incompat-extl2-small-cluster.qcow2", mod(v3, lambda i: put64(i, H_INCOMPAT, 1 << 4)),\
        "open", "extended|subcluster|cluster size"
    yield "compression-type-unknown.qcow2", \
        mod(v3, lambda i: (put64(i, H_INCOMPAT, 1 << 3), i.__setitem__(H_COMPRESSION, 7))), \
        "open", "compression"
    yield "compression-type-without-bit.qcow2", \
        mod(v3, lambda i: i.__setitem__(H_COMPRESSION, 1)), "open", "compression"
    yield "corrupt-bit.qcow2", mod(v3, lambda i: put64(i, H_INCOMPAT, 1 << 1)), "rdwr", \
        "corrupt"

    # -- backing file name
    def backing_past_cluster(i):
        put64(i, H_BACKING_OFF, CS - 16)
        put32(i, H_BACKING_SIZE, 64)
    yield "backing-name-past-cluster.qcow2", mod(v3, backing_past_cluster), "open", "backing"
    big, _ = make_base(3, cluster_bits=12, backing="x" * 1100)
    yield "backing-name-too-long.qcow2", bytes(big), "open", "backing"
    yield "backing-missing.qcow2", bytes(make_base(3, backing="does-not-exist.qcow2",
                                                   backing_fmt="qcow2")[0]), "open", \
        "backing|no such file|not found"
    yield "backing-format-unknown.qcow2", bytes(make_base(3, backing="valid-v3.qcow2",
                                                          backing_fmt="vmdk")[0]), "open", \
        "format|vmdk"
    yield "backing-loop-a.qcow2", bytes(make_base(3, backing="backing-loop-b.qcow2",
                                                  backing_fmt="qcow2")[0]), "open", \
        "loop|deep|chain"
    yield "backing-loop-b.qcow2", bytes(make_base(3, backing="backing-loop-a.qcow2",
                                                  backing_fmt="qcow2")[0]), "open", \
        "loop|deep|chain"
    yield "backing-self.qcow2", bytes(make_base(3, backing="backing-self.qcow2",
                                                backing_fmt="qcow2")[0]), "open", \
        "loop|deep|chain"

    # -- header extensions
    def ext_len_huge(i):
        put32(i, lay.ext_offsets["feature"] + 4, 0xfffffff0)
    yield "ext-length-huge.qcow2", mod(v3, ext_len_huge), "open", "extension"

    def ext_past_cluster(i):
        put32(i, lay.ext_offsets["feature"] + 4, CS - lay.ext_offsets["feature"])
    yield "ext-past-cluster.qcow2", mod(v3, ext_past_cluster), "open", "extension"


    # -- L1 table
    yield "l1-past-eof.qcow2", mod(v3, lambda i: put64(i, H_L1_OFF, FAR)), "any", \
        "L1|end of file|past the end"
    yield "l1-misaligned.qcow2", mod(v3, lambda i: put64(i, H_L1_OFF, lay.l1 + 8)), "open", \
        "L1"
    yield "l1-overlaps-header.qcow2", mod(v3, lambda i: put64(i, H_L1_OFF, 0)), "any", \
        "L1|overlap|header"

    # -- refcount table and blocks
    yield "reftable-overlaps-header.qcow2", mod(v3, lambda i: put64(i, H_RT_OFF, 0)), "any", \
        "refcount|overlap|header"
    yield "reftable-past-eof.qcow2", mod(v3, lambda i: put64(i, H_RT_OFF, FAR)), "any", \
        "refcount|end of file|past the end"
    yield "reftable-misaligned.qcow2", mod(v3, lambda i: put64(i, H_RT_OFF, lay.reftable + 8)),\
        "open", "refcount"
    yield "reftable-clusters-huge.qcow2", \
        mod(v3, lambda i: put32(i, H_RT_CLUSTERS, 0xffffffff)), "open", "refcount"
    yield "reftable-clusters-zero.qcow2", mod(v3, lambda i: put32(i, H_RT_CLUSTERS, 0)), \
        "any", "refcount"
    yield "refblock-past-eof.qcow2", mod(v3, lambda i: put64(i, lay.reftable, FAR)), "any", \
        "refcount|end of file|past the end"
    yield "refblock-misaligned.qcow2", mod(v3, lambda i: put64(i, lay.reftable,
                                                               lay.refblock + 8)), "any", \
        "refcount|unaligned|misaligned|aligned"

    # -- L2 tables and data clusters
    yield "l2-misaligned.qcow2", mod(v3, lambda i: put64(i, lay.l1, (lay.l2 + 8) | COPIED)), \
        "any", "L2|unaligned|misaligned|aligned|reserved"
    yield "l2-past-eof.qcow2", mod(v3, lambda i: put64(i, lay.l1, FAR | COPIED)), "any", \
        "L2|end of file|past the end|beyond"
    yield "l2-overlaps-reftable.qcow2", mod(v3, lambda i: put64(i, lay.l1,
                                                                lay.reftable | COPIED)), \
        "any", "refcount|overlap|L2"
    yield "l1-entry-reserved-bits.qcow2", mod(v3, lambda i: put64(i, lay.l1,
                                                                  lay.l1_entry0 | 0x100)), \
        "any", "reserved|L1|L2|unaligned|aligned"
    yield "data-misaligned.qcow2", mod(v3, lambda i: put64(i, lay.l2, (lay.data[0] + 16) |
                                                           COPIED)), "any", \
        "unaligned|misaligned|aligned|reserved"
    yield "data-refcount-zero.qcow2", mod(v3, lambda i: put64(i, lay.l2, (8 * CS) | COPIED)),\
        "any", "refcount|reference|past the end|end of file|beyond"
    yield "data-two-owners.qcow2", mod(v3, lambda i: put64(i, lay.l2 + 8, lay.data[0] |
                                                           COPIED)), "any", \
        "refcount|reference|owner"
    yield "zero-cluster-v2.qcow2", mod(v2, lambda i: put64(i, lay2.l2 + 8, ZERO)), "any", \
        "zero"

    # -- compressed clusters
    def comp_entry(off, nb):
        return COMPRESSED | (nb << (62 - (CLUSTER_BITS - 8))) | off
    yield "compressed-past-eof.qcow2", mod(v3, lambda i: put64(i, lay.l2 + 16,
                                                               comp_entry(FAR, 0))), "any", \
        "compress|end of file|past the end|beyond"

    def comp_garbage(i):
        i[lay.comp:lay.comp + lay.comp_len] = bytes([0xff]) * lay.comp_len
    yield "compressed-garbage.qcow2", mod(v3, comp_garbage), "any", \
        "compress|decompress|inflate|deflate"

    def comp_truncated_stream(i):
        i[lay.comp + 8:lay.comp + CS] = bytes(CS - 8)
    yield "compressed-stream-cut.qcow2", mod(v3, comp_truncated_stream), "any", \
        "compress|decompress|inflate|deflate"
    yield "compressed-in-l1.qcow2", mod(v3, lambda i: put64(i, lay.l1, lay.l2 | COMPRESSED)),\
        "any", "L1|L2|compress|reserved"

    # -- snapshots
    yield "snapshot-table-past-eof.qcow2", mod(snap, lambda i: put64(i, H_SNAP_OFF, FAR)), \
        "any", "snapshot"
    yield "snapshot-table-misaligned.qcow2", \
        mod(snap, lambda i: put64(i, H_SNAP_OFF, lays.snap_table + 8)), "any", "snapshot"
    yield "snapshot-count-huge.qcow2", mod(snap, lambda i: put32(i, H_NB_SNAP, 0x7fffffff)), \
        "any", "snapshot"
    yield "snapshot-count-past-table.qcow2", mod(snap, lambda i: put32(i, H_NB_SNAP, 1000)), \
        "any", "snapshot"
    yield "snapshot-l1-past-eof.qcow2", mod(snap, lambda i: put64(i, lays.snap_table, FAR)), \
        "any", "snapshot|L1"
    yield "snapshot-l1-size-huge.qcow2", \
        mod(snap, lambda i: put32(i, lays.snap_table + 8, 0x7fffffff)), "any", "snapshot|L1"
    yield "snapshot-extra-huge.qcow2", \
        mod(snap, lambda i: put32(i, lays.snap_table + 36, 0xfffffff0)), "any", "snapshot"
    yield "snapshot-name-huge.qcow2", \
        mod(snap, lambda i: i.__setitem__(slice(lays.snap_table + 14, lays.snap_table + 16),
                                          b"\xff\xff")), "any", "snapshot"

    # -- truncated files: every 8 bytes of the header, then inside each table
    base = bytes(v3)
    cuts = list(range(0, 113, 8)) + [4, 70, 300, CS - 1, lay.reftable + 4, lay.refblock + 3,
                                     lay.l1 + 5, lay.l2 + 20]
    for cut in sorted(set(cuts)):
        if cut < 104:
            yield "truncated-%04d.qcow2" % cut, base[:cut], "open", S_TRUNC_HEADER
        else:
            yield "truncated-%04d.qcow2" % cut, base[:cut], "any", S_TRUNC_TABLES


def write_corpus(outdir):
    os.makedirs(outdir, exist_ok=True)
    names = set()
    lines = ["# Generated by tests/data/make-malformed.py -- do not edit; rerun it.",
             "# NAME STAGE SUBSTRING|SUBSTRING... (see the script for the stages)"]
    for name, data, stage, subs in corpus():
        assert name not in names, name
        names.add(name)
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        lines.append("%s %s %s" % (name, stage, subs) if subs else "%s %s" % (name, stage))
    with open(os.path.join(outdir, "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    # stale files from an older version of this script
    for f in os.listdir(outdir):
        if f.endswith(".qcow2") and f not in names:
            os.unlink(os.path.join(outdir, f))
    return sorted(names)


def verify(outdir, names):
    for name in names:
        try:
            p = subprocess.run(["qemu-img", "check", "-f", "qcow2", os.path.join(outdir, name)],
                               capture_output=True, text=True, cwd=outdir, timeout=10)
        except subprocess.TimeoutExpired:
            print("%-40s qemu-img check: no answer in 10 s" % name, flush=True)
            continue
        msg = (p.stderr.strip() or p.stdout.strip()).splitlines()
        print("%-40s qemu-img check exit %d: %s" % (name, p.returncode, msg[0] if msg else ""),
              flush=True)


def check(outdir):
    import filecmp
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        names = write_corpus(tmp)
        want = set(names) | {"expected.txt"}
        have = {f for f in os.listdir(outdir) if f.endswith(".qcow2") or f == "expected.txt"}
        bad = sorted(want ^ have)
        bad += [f for f in sorted(want & have)
                if not filecmp.cmp(os.path.join(tmp, f), os.path.join(outdir, f), shallow=False)]
        for f in bad:
            print("differs from what the script makes: %s" % f)
        if bad:
            print("rerun tests/data/make-malformed.py and commit the result")
            return 1
        print("corpus of %d images matches the script" % len(names))
        return 0


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    outdir = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                               "malformed")
    if "--check" in sys.argv:
        sys.exit(check(outdir))
    names = write_corpus(outdir)
    print("wrote %d images to %s" % (len(names), outdir))
    if "--verify" in sys.argv:
        verify(outdir, names)


if __name__ == "__main__":
    main()
