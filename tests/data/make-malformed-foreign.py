#!/usr/bin/env python3
"""Builds the malformed corpus of the read-only formats under tests/data/malformed-foreign/.

Like make-malformed.py (same expected.txt format and stages: open, any, valid), but for the
foreign formats: every image is written from scratch here (no qemu-img, so the bytes never
change with the qemu version), a small valid image per subformat and then one field broken
per file. The format comes from the file's extension (.vmdk, .vhdx, .vhd, .vdi, .qcow).

Usage: make-malformed-foreign.py [OUTDIR] [--check]
  --check   writes nothing: fails if OUTDIR differs from what the script makes.
"""
import os
import struct
import sys
import zlib

SECTOR = 512
S_RANGE = "range|too big|invalid|unsupported|out of"
S_TRUNC = "truncat|past the end|end of file|too small|footer"

PATTERN = bytes((b"poold foreign malformed corpus " * 200)[:4096])


# ---- vmdk --------------------------------------------------------------------------------

def vmdk_header(capacity, grain, desc_off, desc_size, gtes, gd, grain_off, flags=0x3,
                version=1, compress=0, rgd=0):
    h = bytearray(SECTOR)
    h[0:4] = b"KDMV"
    struct.pack_into("<IIQQQQIQQQ", h, 4, version, flags, capacity, grain, desc_off,
                     desc_size, gtes, rgd, gd, grain_off)
    h[73:77] = b"\n \r\n"
    struct.pack_into("<H", h, 77, compress)
    return h


def vmdk_desc(create_type, extents, cid="4e0a1f2c", parent="ffffffff", extra=""):
    text = ("# Disk DescriptorFile\nversion=1\nCID=%s\nparentCID=%s\ncreateType=\"%s\"\n\n"
            "# Extent description\n%s\n%s" % (cid, parent, create_type, extents, extra))
    return text.encode()


def vmdk_sparse(zero_grain=True):
    """monolithicSparse, 1 MiB, 4 KiB grains, 512 entries per table: header, descriptor
    (sector 1), GD (sector 2), GT (sectors 3-6), grains from sector 8. Grains 0 and 3 hold
    data, grain 5 is zeroed (or, without the flag, sector 1: qemu reads it)."""
    cap, grain, gtes = 2048, 8, 512
    flags = 0x3 | (0x4 if zero_grain else 0)
    img = bytearray(vmdk_header(cap, grain, 1, 1, gtes, 2, 8, flags=flags))
    desc = vmdk_desc("monolithicSparse", 'RW 2048 SPARSE "sparse.vmdk"')
    img += desc.ljust(SECTOR, b"\0")
    gd = struct.pack("<I", 3).ljust(SECTOR, b"\0")
    img += gd
    gt = [0] * gtes
    gt[0], gt[3] = 8, 16
    gt[5] = 1 if zero_grain else 0
    img += struct.pack("<%dI" % gtes, *gt)
    img += b"\0" * SECTOR  # sector 7
    img += PATTERN + PATTERN[::-1]  # grains at sectors 8 and 16
    return img


def marker(lba, size, kind=None):
    if kind is None:
        return struct.pack("<QI", lba, size)
    return struct.pack("<QII", lba, size, kind).ljust(SECTOR, b"\0")


def vmdk_stream(bad_size=None, bad_data=False, footer_magic=b"KDMV"):
    """streamOptimized, 1 MiB, 4 KiB grains: grains 0 and 2 compressed with markers, then
    the grain table, grain directory, footer and end-of-stream markers."""
    cap, grain, gtes = 2048, 8, 512
    flags = 0x3 | (1 << 16) | (1 << 17)
    img = bytearray(vmdk_header(cap, grain, 1, 1, gtes, 0xFFFFFFFFFFFFFFFF, 2, flags=flags,
                                version=3, compress=1))
    img += vmdk_desc("streamOptimized", 'RW 2048 SPARSE "stream.vmdk"').ljust(SECTOR, b"\0")
    gt = [0] * gtes
    for lba_grain, data in ((0, PATTERN), (2, PATTERN[::-1])):
        z = zlib.compress(data, 6)
        if bad_data and lba_grain == 2:
            z = z[:10] + b"\xff" * 8 + z[18:]
        gt[lba_grain] = len(img) // SECTOR
        size = len(z) if bad_size is None else bad_size
        chunk = marker(lba_grain * grain, size) + z
        img += chunk.ljust((len(chunk) + SECTOR - 1) // SECTOR * SECTOR, b"\0")
    img += marker(4, 0, 1)  # grain table marker (4 sectors)
    gt_sector = len(img) // SECTOR
    img += struct.pack("<%dI" % gtes, *gt)
    img += marker(1, 0, 2)  # grain directory marker
    gd_sector = len(img) // SECTOR
    img += struct.pack("<I", gt_sector).ljust(SECTOR, b"\0")
    img += marker(1, 0, 3)  # footer marker
    footer = vmdk_header(cap, grain, 1, 1, gtes, gd_sector, 2, flags=flags, version=3,
                         compress=1)
    footer[0:4] = footer_magic
    img += footer
    img += marker(0, 0, 0)  # end of stream
    return img


def vmdk_corpus():
    def mod(base, fn):
        img = bytearray(base)
        fn(img)
        return bytes(img)

    def put32(off, v):
        return lambda i: struct.pack_into("<I", i, off, v)

    def put64(off, v):
        return lambda i: struct.pack_into("<Q", i, off, v)

    sp = bytes(vmdk_sparse())
    st = bytes(vmdk_stream())
    yield "valid-sparse.vmdk", sp, "valid", ""
    yield "valid-sparse-nozero.vmdk", bytes(vmdk_sparse(False)), "valid", ""
    yield "valid-stream.vmdk", st, "valid", ""
    yield "vmdk-version-4.vmdk", mod(sp, put32(4, 4)), "open", "version"
    yield "vmdk-gtes-513.vmdk", mod(sp, put32(44, 513)), "open", "too big"
    yield "vmdk-gtes-0.vmdk", mod(sp, put32(44, 0)), "open", "invalid"
    yield "vmdk-grain-huge.vmdk", mod(sp, put64(20, 0x200001)), "open", "granularity"
    yield "vmdk-grain-0.vmdk", mod(sp, put64(20, 0)), "open", "invalid"
    yield "vmdk-capacity-huge.vmdk", mod(sp, put64(12, 1 << 62)), "open", S_RANGE
    yield "vmdk-capacity-gd-huge.vmdk", mod(sp, put64(12, 1 << 40)), "open", S_RANGE
    yield "vmdk-gd-past-eof.vmdk", mod(sp, put64(56, 1 << 40)), "open", S_TRUNC
    yield "vmdk-gd-offset-overflow.vmdk", mod(sp, put64(56, 1 << 60)), "open", S_TRUNC
    yield "vmdk-grain-offset-past-eof.vmdk", mod(sp, put64(64, 1 << 30)), "open", S_TRUNC
    yield "vmdk-gt-past-eof.vmdk", mod(sp, put32(2 * SECTOR, 0xFFFFFF)), "any", S_TRUNC
    yield "vmdk-grain-past-eof.vmdk", mod(sp, put32(3 * SECTOR + 0, 0xFFFFFFF0)), "any", S_TRUNC
    yield "vmdk-no-cid.vmdk", mod(sp, lambda i: i.__setitem__(slice(SECTOR, 2 * SECTOR),
                                                              bytes(SECTOR))), "open", "CID"
    for cut in (3, 100, SECTOR + 10, 2 * SECTOR + 2, 3 * SECTOR + 100, 8 * SECTOR + 10):
        stage = "open" if cut < 3 * SECTOR else "any"
        yield "vmdk-truncated-%04d.vmdk" % cut, sp[:cut], stage, S_TRUNC + "|CID|format"
    # streamOptimized
    yield "vmdk-stream-footer-magic.vmdk", bytes(vmdk_stream(footer_magic=b"XXXX")), "open", \
        "footer"
    yield "vmdk-stream-size-0.vmdk", bytes(vmdk_stream(bad_size=0)), "any", "compressed size"
    yield "vmdk-stream-size-huge.vmdk", bytes(vmdk_stream(bad_size=0x7FFFFFFF)), "any", \
        "compressed size"
    yield "vmdk-stream-bad-zlib.vmdk", bytes(vmdk_stream(bad_data=True)), "any", "inflate"
    yield "vmdk-stream-truncated.vmdk", st[:-700], "open", "footer"
    yield "vmdk-stream-tiny.vmdk", st[:SECTOR] + b"\0" * 100, "open", "footer|small"
    # descriptor files and their extents
    flat = PATTERN * 16  # 64 KiB
    yield "flat-extent.bin", flat, None, ""
    yield "valid-flat.vmdk", vmdk_desc("monolithicFlat", 'RW 128 FLAT "flat-extent.bin" 0'), \
        "valid", ""
    yield "valid-split.vmdk", vmdk_desc(
        "twoGbMaxExtentSparse",
        'RW 2048 SPARSE "valid-sparse.vmdk"\nRW 64 FLAT "flat-extent.bin" 64'), "valid", ""
    yield "vmdk-desc-no-type.vmdk", b"# Disk DescriptorFile\nversion=1\nCID=1\n", "open", \
        "createType"
    yield "vmdk-desc-unknown-type.vmdk", vmdk_desc("fancySparse", ""), "open", "Unsupported"
    yield "vmdk-desc-flat-no-offset.vmdk", vmdk_desc(
        "monolithicFlat", 'RW 128 FLAT "flat-extent.bin"'), "open", "invalid extent line"
    yield "vmdk-desc-absolute.vmdk", vmdk_desc(
        "monolithicFlat", 'RW 128 FLAT "/etc/passwd" 0'), "open", "absolute"
    yield "vmdk-desc-dotdot.vmdk", vmdk_desc(
        "monolithicFlat", 'RW 128 FLAT "../flat-extent.bin" 0'), "open", "leads out"
    yield "vmdk-desc-missing.vmdk", vmdk_desc(
        "monolithicFlat", 'RW 128 FLAT "no-such-extent.bin" 0'), "open", "could not open"
    yield "vmdk-desc-sparse-not-vmdk.vmdk", vmdk_desc(
        "twoGbMaxExtentSparse", 'RW 128 SPARSE "flat-extent.bin"'), "open", "not in VMDK"
    yield "vmdk-desc-self.vmdk", vmdk_desc(
        "twoGbMaxExtentSparse", 'RW 128 SPARSE "vmdk-desc-self.vmdk"'), "open", "not in VMDK"
    loop = bytearray(vmdk_header(0, 128, 1, 20, 512, 0, 21))
    loop += vmdk_desc("twoGbMaxExtentSparse", 'RW 2048 SPARSE "vmdk-loop.vmdk"').ljust(
        20 * SECTOR, b"\0")
    yield "vmdk-loop.vmdk", bytes(loop), "open", "descriptor of its own"
    yield "vmdk-desc-many.vmdk", vmdk_desc(
        "monolithicFlat", 'RW 1 FLAT "flat-extent.bin" 0\n' * 4097), "open", "more than"
    yield "vmdk-desc-sum-huge.vmdk", vmdk_desc(
        "monolithicFlat", ('RW %d FLAT "flat-extent.bin" 0\n' % (1 << 54)) * 2), "open", \
        "2^63|range"
    yield "vmdk-desc-sectors-overflow.vmdk", vmdk_desc(
        "monolithicFlat", 'RW 99999999999999999999 FLAT "flat-extent.bin" 0'), "valid", ""
    yield "vmdk-desc-offset-huge.vmdk", vmdk_desc(
        "monolithicFlat", 'RW 128 FLAT "flat-extent.bin" %d' % (1 << 60)), "open", "range"


def corpus():
    yield from vmdk_corpus()


def write_corpus(outdir):
    os.makedirs(outdir, exist_ok=True)
    names = set()
    lines = ["# Generated by tests/data/make-malformed-foreign.py -- do not edit; rerun it.",
             "# NAME STAGE SUBSTRING|SUBSTRING... (stages as in make-malformed.py)"]
    for name, data, stage, subs in corpus():
        assert name not in names, name
        names.add(name)
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        if stage:
            lines.append("%s %s %s" % (name, stage, subs) if subs else "%s %s" % (name, stage))
    with open(os.path.join(outdir, "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for f in os.listdir(outdir):
        if f not in names and f != "expected.txt":
            os.unlink(os.path.join(outdir, f))
    return sorted(names)


def check(outdir):
    import filecmp
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        names = write_corpus(tmp)
        want = set(names) | {"expected.txt"}
        have = set(os.listdir(outdir))
        bad = sorted(want ^ have)
        bad += [f for f in sorted(want & have)
                if not filecmp.cmp(os.path.join(tmp, f), os.path.join(outdir, f), shallow=False)]
        for f in bad:
            print("differs from what the script makes: %s" % f)
        if bad:
            print("rerun tests/data/make-malformed-foreign.py and commit the result")
            return 1
        print("corpus of %d files matches the script" % len(names))
        return 0


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    outdir = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                               "malformed-foreign")
    if "--check" in sys.argv:
        sys.exit(check(outdir))
    names = write_corpus(outdir)
    print("wrote %d files to %s" % (len(names), outdir))


if __name__ == "__main__":
    main()
