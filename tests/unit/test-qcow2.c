/* Unit tests of the qcow2 driver core, with qemu-img (and qemu-io) as the oracle:
 *   - images qemu-img writes (create options, compressed zlib/zstd, extended L2, v2/v3,
 *     snapshots, lazy refcounts left dirty) read identically through pd_image_read;
 *   - images we write (random writes, zero writes, discards, compressed clusters, extended
 *     L2, every refcount width, backing files) pass `qemu-img check` and `qemu-img compare`;
 *   - preallocation modes, resize grow/shrink, amend compat/lazy_refcounts, set_backing;
 *   - malformed headers give an error, never a crash.
 * Without qemu-img the test prints why and exits 77. */
#include "formats/image/image.h"
#include "common/pd-error.h"
#include "../interop/interop-util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tmpdir;

static char *path_in(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

/* `qemu-img check`: exit 0 required. */
static void assert_qemu_check(const char *path)
{
    g_autofree char *out = NULL;
    int r = it_qemu_img_check(path, &out);
    if (r != 0)
        g_printerr("qemu-img check %s:\n%s\n", path, out ? out : "");
    g_assert_cmpint(r, ==, 0);
}

/* Reads the whole image through the engine and compares with qemu-img's raw conversion. */
static void assert_reads_like_qemu(const char *path)
{
    g_autofree char *raw = g_strdup_printf("%s.ref.raw", path);
    it_run_ok("qemu-img", "convert", "-O", "raw", path, raw, NULL);
    size_t len;
    g_autofree uint8_t *want = it_read_file(raw, &len);
    g_autoptr(GError) error = NULL;
    g_autoptr(PdImage) img = pd_image_open(path, PD_FORMAT_QCOW2, PD_OPEN_RDONLY, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(pd_image_size(img), ==, len);
    g_autofree uint8_t *got = g_malloc(len ? len : 1);
    /* in odd-sized pieces to cross cluster and table boundaries */
    for (size_t off = 0; off < len;) {
        size_t n = MIN(len - off, (size_t)777 * 1024 + 513);
        g_assert_true(pd_image_read(img, off, got + off, n, &error));
        g_assert_no_error(error);
        off += n;
    }
    int64_t diff = it_first_difference(want, got, len);
    if (diff >= 0)
        g_printerr("%s differs from qemu-img's reading at byte %" G_GINT64_FORMAT "\n", path, diff);
    g_assert_cmpint(diff, ==, -1);
    /* block status must never call non-zero data zero */
    for (uint64_t off = 0; off < len;) {
        PdBlockStatus st;
        g_assert_true(pd_image_block_status(img, off, len - off, &st, &error));
        if (st.flags & PD_BLOCK_ZERO)
            for (uint64_t i = 0; i < st.length; i++)
                g_assert_cmpint(want[off + i], ==, 0);
        off += st.length;
    }
    (void)unlink(raw);
}

static void make_pattern_raw(const char *path, uint64_t size, uint64_t seed)
{
    ItRand r;
    it_rand_seed(&r, seed);
    g_autofree uint8_t *buf = g_malloc0(size);
    /* data islands, zero gaps, a compressible run */
    for (uint64_t off = 0; off < size;) {
        uint64_t n = 4096 + it_rand_below(&r, 300000); /* (not inside MIN: evaluated twice) */
        n = MIN(size - off, n);
        uint64_t kind = it_rand_below(&r, 3);
        if (kind == 0)
            it_rand_fill(&r, buf + off, n);
        else if (kind == 1)
            memset(buf + off, (int)(off & 0xff) | 1, n);
        off += n;
    }
    it_write_file(path, buf, size);
}

/* ---- images qemu-img writes -------------------------------------------------------- */

static void test_read_qemu_images(void)
{
    g_autofree char *src = path_in("src.raw");
    make_pattern_raw(src, 3 << 20, 1);
    static const char *const options[] = {
        "compat=1.1",
        "compat=0.10",
        "cluster_size=512",
        "cluster_size=2M",
        "cluster_size=4096,refcount_bits=1",
        "refcount_bits=2",
        "refcount_bits=4",
        "refcount_bits=8",
        "refcount_bits=32",
        "refcount_bits=64",
        "lazy_refcounts=on",
        "extended_l2=on",
        "extended_l2=on,cluster_size=16k",
        "compression_type=zstd",
        "preallocation=metadata",
        "preallocation=falloc",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(options); i++) {
        g_autofree char *name = g_strdup_printf("q%zu.qcow2", i);
        g_autofree char *p = path_in(name);
        it_run_ok("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", options[i], src, p,
                  NULL);
        assert_reads_like_qemu(p);
        /* compressed */
        if (strstr(options[i], "prealloc") || (i % 2 && !strstr(options[i], "zstd")))
            continue;
        g_autofree char *pc = g_strdup_printf("%s.c.qcow2", p);
        it_run_ok("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", "-o", options[i], src,
                  pc, NULL);
        assert_reads_like_qemu(pc);
    }
}

/* Extended L2 with partially allocated clusters, zeroed subclusters and a backing file. */
static void test_read_subclusters(void)
{
    g_autofree char *base = path_in("sub-base.qcow2");
    g_autofree char *top = path_in("sub-top.qcow2");
    it_run_ok("qemu-img", "create", "-f", "qcow2", base, "8M", NULL);
    it_run_ok("qemu-io", "-c", "write -P 0x11 0 8M", base, NULL);
    it_run_ok("qemu-img", "create", "-f", "qcow2", "-o", "extended_l2=on", "-b", base, "-F",
              "qcow2", top, NULL);
    it_run_ok("qemu-io", "-c", "write -P 0x22 4k 4k", "-c", "write -P 0x33 70k 9k", "-c",
              "write -z 200k 8k", "-c", "write -z 1M 128k", "-c", "discard 2M 64k", "-c",
              "write -c -P 0x44 3M 64k", top, NULL);
    assert_reads_like_qemu(top);
    /* and our writes on it (whole-cluster read-modify-write) */
    g_autoptr(GError) error = NULL;
    PdImage *img = pd_image_open(top, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    uint8_t buf[5000];
    memset(buf, 0x5a, sizeof buf);
    g_assert_true(pd_image_write(img, 66000, buf, sizeof buf, &error));
    g_assert_true(pd_image_write_zeroes(img, 5 << 20, 1 << 20, PD_ZERO_MAY_UNMAP, &error));
    g_assert_true(pd_image_discard(img, 6 << 20, 256 << 10, &error));
    g_assert_no_error(error);
    pd_image_close(img);
    assert_qemu_check(top);
    assert_reads_like_qemu(top);
}

static void test_read_qemu_snapshots_and_v2(void)
{
    g_autofree char *p = path_in("snap.qcow2");
    g_autofree char *p2 = path_in("snap2.qcow2");
    it_run_ok("qemu-img", "create", "-f", "qcow2", "-o", "compat=0.10", p, "4M", NULL);
    it_run_ok("qemu-io", "-c", "write -P 0x61 0 1M", p, NULL);
    it_run_ok("qemu-img", "snapshot", "-c", "s1", p, NULL);
    it_run_ok("qemu-io", "-c", "write -P 0x62 512k 1M", "-c", "write -z 3M 64k", p, NULL);
    assert_reads_like_qemu(p);
    it_run_ok("qemu-img", "create", "-f", "qcow2", p2, "4M", NULL);
    it_run_ok("qemu-io", "-c", "write -P 0x61 0 1M", p2, NULL);
    it_run_ok("qemu-img", "snapshot", "-c", "s1", p2, NULL);
    it_run_ok("qemu-io", "-c", "write -P 0x62 512k 1M", "-c", "write -z 64k 64k", p2, NULL);
    assert_reads_like_qemu(p2);
    /* writing over clusters shared with the snapshot copies them */
    g_autoptr(GError) error = NULL;
    PdImage *img = pd_image_open(p2, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    uint8_t buf[3000];
    memset(buf, 0x77, sizeof buf);
    g_assert_true(pd_image_write(img, 100, buf, sizeof buf, &error));
    g_assert_true(pd_image_write(img, 2 << 20, buf, sizeof buf, &error));
    g_assert_no_error(error);
    pd_image_close(img);
    assert_qemu_check(p2);
    assert_reads_like_qemu(p2);
}

/* An image qemu left dirty (lazy refcounts, killed): we repair it on read-write open. */
static void test_dirty_lazy(void)
{
    g_autofree char *p = path_in("dirty.qcow2");
    it_run_ok("qemu-img", "create", "-f", "qcow2", "-o", "lazy_refcounts=on", p, "16M", NULL);
    g_autofree char *out = NULL, *err = NULL;
    (void)it_runv(&out, &err, "qemu-io", "-c", "write -P 0x42 0 3M", "-c", "abort", p, NULL);
    g_autoptr(GError) error = NULL;
    {
        g_autoptr(PdImage) ro = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDONLY, &error);
        g_assert_no_error(error);
        PdImageInfo info;
        g_assert_true(pd_image_get_info(ro, &info, &error));
        g_assert_true(info.dirty);
        pd_image_info_clear(&info);
    }
    assert_reads_like_qemu(p);
    PdImage *img = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    PdImageInfo info;
    g_assert_true(pd_image_get_info(img, &info, &error));
    g_assert_false(info.dirty);
    pd_image_info_clear(&info);
    uint8_t buf[4096];
    memset(buf, 0x43, sizeof buf);
    g_assert_true(pd_image_write(img, 5 << 20, buf, sizeof buf, &error));
    pd_image_close(img);
    assert_qemu_check(p);
    assert_reads_like_qemu(p);
}

/* ---- images we write ----------------------------------------------------------------- */

typedef struct {
    uint32_t cluster_size;
    int compat;
    int refcount_bits;
    bool lazy;
    bool extended_l2;
    PdCompression ctype;
    bool backing;
} WriteConfig;

static void random_workload(const WriteConfig *c, uint64_t seed)
{
    const uint64_t size = 4ULL << 20;
    g_autofree char *name =
        g_strdup_printf("w-%u-%d-%d-%d-%d-%d-%d.qcow2", c->cluster_size, c->compat,
                        c->refcount_bits, c->lazy, c->extended_l2, c->ctype, c->backing);
    g_autofree char *p = path_in(name);
    g_autofree char *bp = g_strdup_printf("%s.base.raw", p);
    g_autofree char *refp = g_strdup_printf("%s.ref.raw", p);
    ItRand r;
    it_rand_seed(&r, seed);
    g_autofree uint8_t *ref = g_malloc0(size);
    if (c->backing) {
        it_rand_fill(&r, ref, size - (512 << 10)); /* backing shorter than the overlay */
        it_write_file(bp, ref, size - (512 << 10));
    }
    PdCreateOptions o = {.format = PD_FORMAT_QCOW2,
                         .size = size,
                         .compat = c->compat,
                         .cluster_size = c->cluster_size,
                         .refcount_bits = c->refcount_bits,
                         .lazy_refcounts = c->lazy,
                         .extended_l2 = c->extended_l2,
                         .compression_type = c->ctype};
    if (c->backing) {
        o.backing_file = bp;
        o.backing_format = PD_FORMAT_RAW;
    }
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_image_create(p, &o, true, &error));
    g_assert_no_error(error);
    PdImage *img = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    size_t cs = pd_image_cluster_size(img);
    g_autofree uint8_t *buf = g_malloc(4 << 20);
    g_autofree uint8_t *cbuf = g_malloc(cs);
    for (int op = 0; op < 100; op++) {
        uint64_t kind = it_rand_below(&r, 10);
        uint64_t off = it_rand_below(&r, size);
        uint64_t len = 1 + it_rand_below(&r, kind < 2 ? (512 << 10) : 100000);
        len = MIN(len, size - off);
        if (kind < 5) {
            it_rand_fill(&r, buf, len);
            g_assert_true(pd_image_write(img, off, buf, len, &error));
            memcpy(ref + off, buf, len);
        } else if (kind < 7) {
            PdZeroFlags f = it_rand_below(&r, 2) ? PD_ZERO_MAY_UNMAP : 0;
            g_assert_true(pd_image_write_zeroes(img, off, len, f, &error));
            memset(ref + off, 0, len);
        } else if (kind == 7) {
            /* discard: whatever comes back is adopted, but it must be old data, zeroes or
             * the backing file; here simply adopt the image's view */
            g_assert_true(pd_image_discard(img, off, len, &error));
            g_assert_true(pd_image_read(img, off, ref + off, len, &error));
        } else if (kind == 8) {
            g_assert_true(pd_image_flush(img, &error));
        } else {
            /* a compressed cluster into an unallocated or zero cluster */
            uint64_t coff = off & ~(uint64_t)(cs - 1);
            PdBlockStatus st;
            g_assert_true(
                pd_image_block_status_layer(img, coff, MIN(cs, size - coff), &st, &error));
            if ((st.flags & PD_BLOCK_ALLOCATED) && !(st.flags & PD_BLOCK_ZERO))
                continue;
            memset(buf, (int)(op & 0xff), cs);
            it_rand_fill(&r, buf, cs / 8);
            ssize_t n = pd_image_compress(img, buf, cbuf, cs, &error);
            g_assert_no_error(error);
            if (n > 0) {
                if (!pd_image_write_compressed(img, coff, cbuf, (size_t)n, &error))
                    g_error("write_compressed at %" G_GUINT64_FORMAT ": %s", coff, error->message);
            } else {
                g_assert_true(pd_image_write(img, coff, buf, MIN(cs, size - coff), &error));
            }
            memcpy(ref + coff, buf, MIN(cs, size - coff));
        }
        g_assert_no_error(error);
        if (op % 50 == 0) { /* reopen now and then */
            pd_image_close(img);
            img = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
            g_assert_no_error(error);
        }
    }
    g_autofree uint8_t *got = g_malloc(size);
    g_assert_true(pd_image_read(img, 0, got, size, &error));
    g_assert_cmpint(it_first_difference(ref, got, size), ==, -1);
    g_assert_true(pd_image_flush(img, &error));
    pd_image_close(img);
    assert_qemu_check(p);
    it_write_file(refp, ref, size);
    g_autofree char *cmp = NULL;
    int rc = it_qemu_img_compare(refp, "raw", p, "qcow2", &cmp);
    if (rc != 0)
        g_printerr("%s: %s\n", p, cmp ? cmp : "");
    g_assert_cmpint(rc, ==, 0);
}

static void test_write_configs(void)
{
    static const WriteConfig configs[] = {
        {65536, 3, 16, false, false, PD_COMPRESSION_ZLIB, false},
        {65536, 2, 16, false, false, PD_COMPRESSION_ZLIB, true},
        {512, 3, 1, false, false, PD_COMPRESSION_ZLIB, false},
        {512, 3, 64, false, false, PD_COMPRESSION_ZLIB, true},
        {4096, 3, 2, true, false, PD_COMPRESSION_ZSTD, true},
        {4096, 3, 4, false, false, PD_COMPRESSION_ZLIB, false},
        {16384, 3, 8, false, true, PD_COMPRESSION_ZLIB, true},
        {65536, 3, 32, true, true, PD_COMPRESSION_ZSTD, false},
        {2097152, 3, 16, false, false, PD_COMPRESSION_ZLIB, true},
        {1024, 2, 16, false, false, PD_COMPRESSION_ZLIB, false},
    };
    uint64_t seed = it_pick_seed(7);
    g_test_message("seed %" G_GUINT64_FORMAT, seed);
    for (size_t i = 0; i < G_N_ELEMENTS(configs); i++) {
        gint64 t0 = g_get_monotonic_time();
        random_workload(&configs[i], seed + i);
        g_test_message("config %zu: %.2f s", i, (g_get_monotonic_time() - t0) / 1e6);
    }
}

/* ---- create options, resize, amend ------------------------------------------------- */

static void create_and_check(const char *name, PdCreateOptions *o)
{
    g_autofree char *p = path_in(name);
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_image_create(p, o, true, &error));
    g_assert_no_error(error);
    assert_qemu_check(p);
    assert_reads_like_qemu(p);
}

static void test_prealloc_and_resize(void)
{
    static const PdPrealloc modes[] = {PD_PREALLOC_OFF, PD_PREALLOC_METADATA, PD_PREALLOC_FALLOC,
                                       PD_PREALLOC_FULL};
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        for (uint32_t cs = 512; cs <= 65536; cs *= 128) {
            g_autofree char *name = g_strdup_printf("pre-%zu-%u.qcow2", i, cs);
            PdCreateOptions o = {.format = PD_FORMAT_QCOW2,
                                 .size = 4 << 20,
                                 .cluster_size = cs,
                                 .prealloc = modes[i]};
            create_and_check(name, &o);
            g_autofree char *p = path_in(name);
            g_autoptr(GError) error = NULL;
            PdImage *img = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
            g_assert_no_error(error);
            uint8_t buf[1000];
            memset(buf, 0x99, sizeof buf);
            g_assert_true(pd_image_write(img, (4 << 20) - 700, buf, 700, &error));
            g_assert_true(pd_image_resize(img, (12 << 20) + 512, modes[i], false, &error));
            g_assert_true(pd_image_write(img, 10 << 20, buf, sizeof buf, &error));
            g_assert_no_error(error);
            pd_image_close(img);
            assert_qemu_check(p);
            assert_reads_like_qemu(p);
            img = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
            g_assert_true(pd_image_resize(img, (2 << 20) + 1024, PD_PREALLOC_OFF, true, &error));
            g_assert_no_error(error);
            g_assert_true(pd_image_resize(img, 6 << 20, PD_PREALLOC_OFF, false, &error));
            pd_image_close(img);
            assert_qemu_check(p);
            assert_reads_like_qemu(p);
        }
    }
    /* preallocation=metadata of a big image is quick and sparse */
    g_autofree char *big = path_in("big.qcow2");
    PdCreateOptions o = {
        .format = PD_FORMAT_QCOW2, .size = 100ULL << 30, .prealloc = PD_PREALLOC_METADATA};
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();
    g_assert_true(pd_image_create(big, &o, true, &error));
    g_assert_no_error(error);
    g_test_message("100G metadata preallocation: %.2f s", (g_get_monotonic_time() - t0) / 1e6);
    assert_qemu_check(big);
    (void)unlink(big);
}

static void test_amend(void)
{
    g_autofree char *p = path_in("amend.qcow2");
    g_autofree char *b = path_in("amend-base.qcow2");
    it_run_ok("qemu-img", "create", "-f", "qcow2", b, "8M", NULL);
    it_run_ok("qemu-io", "-c", "write -P 0x31 0 8M", b, NULL);
    it_run_ok("qemu-img", "create", "-f", "qcow2", "-b", b, "-F", "qcow2", p, "8M", NULL);
    it_run_ok("qemu-io", "-c", "write -P 0x32 0 1M", "-c", "write -z 2M 1M", "-c",
              "write -z -u 4M 64k", p, NULL);
    it_run_ok("qemu-img", "snapshot", "-c", "s", p, NULL);
    it_run_ok("qemu-io", "-c", "write -z 512k 64k", p, NULL);
    g_autoptr(GError) error = NULL;
    PdImage *img = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    PdCreateOptions o = {.compat = 2};
    g_assert_true(pd_image_amend(img, &o, PD_AMEND_COMPAT, &error));
    g_assert_no_error(error);
    pd_image_close(img);
    assert_qemu_check(p);
    assert_reads_like_qemu(p);
    g_autofree char *out = NULL;
    it_run_ok("qemu-img", "info", p, NULL);
    img = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    o = (PdCreateOptions){.compat = 3, .lazy_refcounts = true};
    g_assert_true(pd_image_amend(img, &o, PD_AMEND_COMPAT | PD_AMEND_LAZY_REFCOUNTS, &error));
    g_assert_no_error(error);
    uint8_t buf[4096] = {1};
    g_assert_true(pd_image_write(img, 7 << 20, buf, sizeof buf, &error));
    /* set_backing: rename the reference */
    g_assert_true(pd_image_set_backing(img, "amend-base.qcow2", PD_FORMAT_QCOW2, &error));
    g_assert_no_error(error);
    pd_image_close(img);
    assert_qemu_check(p);
    assert_reads_like_qemu(p);
}

/* ---- malformed images ---------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_BE(v);
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_BE(v);
    memcpy(p, &v, 8);
}

static void test_malformed(void)
{
    g_autofree char *good = path_in("good.qcow2");
    PdCreateOptions o = {.format = PD_FORMAT_QCOW2, .size = 8 << 20};
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_image_create(good, &o, true, &error));
    size_t len;
    g_autofree uint8_t *orig = it_read_file(good, &len);
    struct {
        size_t at;
        int width;
        uint64_t value;
    } damage[] = {
        {4, 4, 4},                       /* version */
        {20, 4, 8},                      /* cluster_bits */
        {20, 4, 22},         {36, 4, 0}, /* L1 too small */
        {36, 4, 0x10000000},             /* L1 too big */
        {40, 8, 0},                      /* L1 over the header */
        {40, 8, 0x123},                  /* unaligned */
        {40, 8, 1ULL << 50},             /* past the end */
        {48, 8, 0},          {56, 4, 0},
        {56, 4, 100000},     {60, 4, 1},          /* snapshot without table */
        {60, 4, 1000000},    {72, 8, 1ULL << 40}, /* unknown incompatible */
        {72, 8, 4},                               /* external data file */
        {32, 4, 1},                               /* encrypted */
        {96, 4, 7},                               /* refcount_order */
        {100, 4, 50},                             /* header_length */
        {8, 8, 60000},       {16, 4, 5000},       /* backing name */
        {24, 8, UINT64_MAX},                      /* size */
        {104, 1, 9},                              /* compression type */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(damage); i++) {
        g_autofree uint8_t *img = g_memdup2(orig, len);
        if (damage[i].width == 8)
            put64(img + damage[i].at, damage[i].value);
        else if (damage[i].width == 4)
            put32(img + damage[i].at, (uint32_t)damage[i].value);
        else
            img[damage[i].at] = (uint8_t)damage[i].value;
        g_autofree char *name = g_strdup_printf("bad%zu.qcow2", i);
        g_autofree char *p = path_in(name);
        it_write_file(p, img, len);
        g_autoptr(GError) e = NULL;
        PdImage *bad = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &e);
        if (bad) {
            /* opened (the damage was harmless): I/O must still not crash */
            uint8_t buf[65536];
            (void)pd_image_read(bad, 0, buf, sizeof buf, NULL);
            (void)pd_image_write(bad, 0, buf, sizeof buf, NULL);
            pd_image_close(bad);
        } else {
            g_assert_nonnull(e);
            g_assert_true(e->domain == PD_ERROR);
        }
    }
    /* L2 entry pointing at the header: reads fine, writes refuse and mark corrupt */
    {
        g_autoptr(PdImage) img = pd_image_open(good, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
        uint8_t buf[512] = {7};
        g_assert_true(pd_image_write(img, 0, buf, sizeof buf, &error));
    }
    g_autofree uint8_t *img = it_read_file(good, &len);
    uint64_t l1 = GUINT64_FROM_BE(*(uint64_t *)(img + 40));
    uint64_t l2 = GUINT64_FROM_BE(*(uint64_t *)(img + l1)) & 0x00fffffffffffe00ULL;
    put64(img + l2, 0x8000000000000000ULL);         /* COPIED, offset 0... */
    put64(img + l2, 0x8000000000000000ULL | 65536); /* ... the refcount table */
    g_autofree char *p = path_in("overlap.qcow2");
    it_write_file(p, img, len);
    PdImage *bad = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    uint8_t buf[512] = {7};
    g_assert_false(pd_image_write(bad, 0, buf, sizeof buf, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_CORRUPT);
    g_clear_error(&error);
    pd_image_close(bad);
    bad = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_null(bad);
    g_assert_error(error, PD_ERROR, PD_ERROR_CORRUPT);
    g_clear_error(&error);
    bad = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDONLY, &error);
    g_assert_no_error(error);
    pd_image_close(bad);
    /* ... and at a refcount block (cluster 2 of a new image) */
    put64(img + l2, 0x8000000000000000ULL | (2 * 65536));
    it_write_file(p, img, len);
    bad = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    g_assert_false(pd_image_write(bad, 0, buf, sizeof buf, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_CORRUPT);
    g_clear_error(&error);
    pd_image_close(bad);
}

/* Walks the header extensions of cluster 0; returns the offset of the end marker and
 * whether an extension of @type is there. */
static size_t find_ext(const uint8_t *c0, uint32_t type, bool *ret_found)
{
    size_t pos = GUINT32_FROM_BE(*(const uint32_t *)(c0 + 100));
    *ret_found = false;
    for (;;) {
        uint32_t t = GUINT32_FROM_BE(*(const uint32_t *)(c0 + pos));
        uint32_t l = GUINT32_FROM_BE(*(const uint32_t *)(c0 + pos + 4));
        if (t == 0)
            return pos;
        if (t == type)
            *ret_found = true;
        pos += 8 + ((l + 7) & ~7U);
    }
}

static void test_unknown_extension_and_features(void)
{
    g_autofree char *p = path_in("ext.qcow2");
    PdCreateOptions o = {.format = PD_FORMAT_QCOW2, .size = 8 << 20};
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_image_create(p, &o, true, &error));
    size_t len;
    g_autofree uint8_t *img = it_read_file(p, &len);
    bool found;
    size_t end = find_ext(img, 0x12345678, &found);
    g_assert_false(found);
    put32(img + end, 0x12345678);
    put32(img + end + 4, 5);
    memcpy(img + end + 8, "hello\0\0\0", 8);
    memset(img + end + 16, 0, 8);
    it_write_file(p, img, len);
    /* rewriting the header keeps the extension */
    PdImage *pi = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    g_assert_true(pd_image_set_backing(pi, NULL, PD_FORMAT_UNKNOWN, &error));
    g_assert_no_error(error);
    pd_image_close(pi);
    g_free(img);
    img = it_read_file(p, &len);
    (void)find_ext(img, 0x12345678, &found);
    g_assert_true(found);
    assert_qemu_check(p);
    /* an unknown incompatible bit is refused, naming the bit */
    put64(img + 72, 1ULL << 40);
    it_write_file(p, img, len);
    pi = pd_image_open(p, PD_FORMAT_QCOW2, PD_OPEN_RDONLY, &error);
    g_assert_null(pi);
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, "bit 40"));
    g_assert_nonnull(strstr(error->message, p));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    it_require_tool("qemu-img", "the qcow2 tests use it as the oracle");
    it_require_tool("qemu-io", "the qcow2 tests write reference images with it");
    tmpdir = it_mkdtemp("test-qcow2");
    /* One source, three test programs (test-qcow2-read, -write, -meta) so that each stays
     * well inside meson's default timeout; plain test-qcow2 would run everything. */
    g_autofree char *self = g_path_get_basename(argv[0]);
    bool all = !g_str_has_prefix(self, "test-qcow2-");
    if (all || strcmp(self, "test-qcow2-read") == 0) {
        g_test_add_func("/qcow2/read-qemu-images", test_read_qemu_images);
        g_test_add_func("/qcow2/read-subclusters", test_read_subclusters);
        g_test_add_func("/qcow2/read-qemu-snapshots-v2", test_read_qemu_snapshots_and_v2);
        g_test_add_func("/qcow2/dirty-lazy", test_dirty_lazy);
    }
    if (all || strcmp(self, "test-qcow2-write") == 0)
        g_test_add_func("/qcow2/write-configs", test_write_configs);
    if (all || strcmp(self, "test-qcow2-meta") == 0) {
        g_test_add_func("/qcow2/prealloc-resize", test_prealloc_and_resize);
        g_test_add_func("/qcow2/amend", test_amend);
        g_test_add_func("/qcow2/malformed", test_malformed);
        g_test_add_func("/qcow2/unknown-extension", test_unknown_extension_and_features);
    }
    int r = g_test_run();
    it_rmtree(tmpdir);
    g_free(tmpdir);
    return r;
}
