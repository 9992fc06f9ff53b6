/* Differential test of the qcow2 driver against a plain raw reference, with qemu-img as the
 * judge.
 *
 * For each configuration (cluster size, compat, refcount_bits, lazy_refcounts, backing file)
 * a seeded random workload of writes, overwrites, zero writes (with and without MAY_UNMAP),
 * discards, compressed writes into unallocated clusters, flushes, reopens, one resize (grow)
 * and (in some configurations) an internal snapshot is applied
 * both to a qcow2 image through pd_image_* and to an in-memory reference. Along the way random
 * ranges are read back and compared; at the end:
 *   - `qemu-img check` must find no error and no leak,
 *   - `qemu-img compare` must find the image identical to the reference written as raw,
 *   - a full read through the engine after reopening must equal the reference,
 *   - every range block_status calls ZERO must be zero in the reference,
 *   - pd_image_check must agree that there are no corruptions and no leaks,
 *   - with a snapshot: `qemu-img snapshot -l` lists it; applied by qemu-img (on a copy) and by
 *     the engine it must bring back the guest view at the time it was taken; deleted by the
 *     engine, qemu-img check must find no leak.
 *
 * Discard is a hint (image.h): after it each piece of the range (partial head, each whole
 * cluster, partial tail) must read either as before, as zeroes, or as the backing file; the
 * test checks that and adopts what the image chose.
 *
 * Usage: test-differential [--long] [--seed N] [--config I] [--ops N] [--list]
 * POOLD_TEST_SEED=N replays a run; POOLD_TEST_KEEP=1 keeps the temporary directory. */
#include "formats/image/image.h"
#include "interop-util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    BACKING_NONE,
    BACKING_RAW,
    BACKING_QCOW2,
} BackingKind;

static const char *const backing_names[] = {"none", "raw", "qcow2"};

typedef struct {
    uint32_t cluster_size;
    int compat;
    int refcount_bits;
    bool lazy;
    BackingKind backing;
    bool snapshot;
    PdPrealloc prealloc; /* of the new image (qemu: only without a backing file) */
} Config;

/* The default set: every value of every dimension at least once, and crossed with the
 * others where it matters most (small clusters with many refcount blocks, backing files of
 * both formats, v2 without zero clusters). --long runs the full product. As in qemu, compat
 * 0.10 has 16-bit refcounts only, and 1-bit refcounts cannot hold a snapshot. */
static const Config short_configs[] = {
    /* cluster, compat, refcount_bits, lazy, backing, snapshot */
    {65536, 3, 16, false, BACKING_NONE, false},  /* the default image */
    {65536, 2, 16, false, BACKING_NONE, false},  /* v2: no zero flag */
    {512, 3, 1, false, BACKING_NONE, false},     /* many refcount blocks, 1-bit */
    {512, 2, 16, false, BACKING_RAW, false},     /* v2 overlay, tiny clusters */
    {4096, 3, 64, true, BACKING_QCOW2, false},   /* 64-bit refcounts, lazy */
    {4096, 2, 16, false, BACKING_QCOW2, false},  /* v2 over qcow2 */
    {4096, 3, 1, false, BACKING_QCOW2, false},   /* 1-bit over qcow2 */
    {2097152, 3, 16, false, BACKING_RAW, false}, /* huge clusters, partial COW */
    {2097152, 2, 16, false, BACKING_NONE, true}, /* huge clusters, snapshot */
    {65536, 3, 64, true, BACKING_RAW, true},     /* lazy + snapshot */
    {4096, 3, 16, false, BACKING_NONE, true},    /* snapshot, shared clusters */
    {512, 3, 16, true, BACKING_QCOW2, true},     /* everything small */
    {65536, 2, 16, false, BACKING_QCOW2, true},  /* v2 snapshot over qcow2 */
    {512, 3, 1, true, BACKING_RAW, false},       /* lazy 1-bit */
    {65536, 3, 16, false, BACKING_NONE, false, PD_PREALLOC_METADATA},
    {4096, 2, 16, false, BACKING_NONE, true, PD_PREALLOC_METADATA},
    {4096, 3, 64, false, BACKING_NONE, true, PD_PREALLOC_FULL},
    {512, 3, 16, true, BACKING_NONE, false, PD_PREALLOC_FALLOC},
};

typedef struct {
    const Config *cfg;
    int index;          /* in the configuration list, for --config */
    uint64_t base_seed; /* for --seed */
    uint64_t seed;
    int n_ops;
    int requested_ops; /* --ops (2 MiB clusters run an eighth of it) */
    char *dir;
    char *img_path;
    char *ref_path;
    uint64_t size;
    uint8_t *ref;          /* the guest view as it must be */
    uint8_t *backing;      /* what the backing file reads as, padded with zeroes to size */
    uint64_t backing_size; /* 0 without a backing file */
    uint8_t *snap_ref;     /* guest view when the snapshot was taken */
    uint64_t snap_size;    /* virtual size then */
    uint64_t capacity;     /* of ref and backing: the size after the resize */
    PdImage *img;
    ItRand rnd;
    char last_op[160];
    int op_index;
    bool long_mode;
} Run;

#define GROW (3 * 65536 + 512) /* bytes added by the resize, 3/4 into the workload */

static bool fail(Run *run, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Prints a failure with everything needed to replay it; always returns false. */
static bool fail(Run *run, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    const Config *c = run->cfg;
    printf("not ok - cluster_size=%u compat=%s refcount_bits=%d lazy_refcounts=%s backing=%s "
           "snapshot=%s preallocation=%s seed=%" G_GUINT64_FORMAT "\n",
           c->cluster_size, c->compat == 2 ? "0.10" : "1.1", c->refcount_bits,
           c->lazy ? "on" : "off", backing_names[c->backing], c->snapshot ? "yes" : "no",
           pd_prealloc_name(c->prealloc), run->seed);
    printf("#   after op %d (%s): %s\n", run->op_index, run->last_op, msg);
    printf("#   replay: POOLD_TEST_KEEP=1 test-differential --seed %" G_GUINT64_FORMAT
           " --config %d --ops %d%s\n",
           run->base_seed, run->index, run->requested_ops, run->long_mode ? " --long" : "");
    fflush(stdout);
    return false;
}

static bool engine_failed(Run *run, const char *what, GError *error)
{
    return fail(run, "%s failed: %s", what, error ? error->message : "(no message)");
}

/* Compares the image's [offset, offset+len) with @expect; false with a message on mismatch. */
static bool verify_range(Run *run, uint64_t offset, uint64_t len, const uint8_t *expect,
                         const char *when)
{
    g_autoptr(GError) error = NULL;
    g_autofree uint8_t *buf = g_malloc(len);
    if (!pd_image_read(run->img, offset, buf, len, &error))
        return engine_failed(run, "pd_image_read", error);
    int64_t d = it_first_difference(buf, expect + offset, len);
    if (d >= 0)
        return fail(run,
                    "%s: byte %" G_GUINT64_FORMAT " reads 0x%02x, expected 0x%02x "
                    "(read %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT ")",
                    when, offset + (uint64_t)d, buf[d], expect[offset + (uint64_t)d], offset, len);
    return true;
}

/* ---- building the backing file and the image ---------------------------------------- */

/* Backing data: random clusters with zero holes, shorter than the overlay and not aligned
 * to its cluster size. */
static bool make_backing(Run *run)
{
    const Config *c = run->cfg;
    run->backing = g_malloc0(run->capacity);
    if (c->backing == BACKING_NONE)
        return true;
    run->backing_size = run->size / 2 + 3 * 512;
    for (uint64_t off = 0; off < run->backing_size; off += 4096) {
        uint64_t n = MIN(4096, run->backing_size - off);
        if (it_rand_below(&run->rnd, 4) != 0)
            it_rand_fill(&run->rnd, run->backing + off, n);
    }
    g_autofree char *raw = g_build_filename(run->dir, "base.raw", NULL);
    it_write_file(raw, run->backing, run->backing_size);
    if (c->backing == BACKING_RAW)
        return true;
    /* A qcow2 backing file written by qemu-img (the oracle), with another cluster size. */
    g_autofree char *q = g_build_filename(run->dir, "base.qcow2", NULL);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int rc = it_runv(&out, &err, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o",
                     c->cluster_size == 65536 ? "cluster_size=4096" : "cluster_size=65536", raw, q,
                     NULL);
    if (rc != 0)
        return fail(run, "qemu-img convert of the backing file failed: %s", err);
    return true;
}

static bool open_image(Run *run, PdOpenFlags flags)
{
    g_autoptr(GError) error = NULL;
    run->img = pd_image_open(run->img_path, PD_FORMAT_QCOW2, flags, &error);
    if (!run->img)
        return engine_failed(run, "pd_image_open", error);
    if (pd_image_size(run->img) != run->size)
        return fail(run, "virtual size is %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT,
                    pd_image_size(run->img), run->size);
    return true;
}

static bool create_image(Run *run)
{
    const Config *c = run->cfg;
    PdCreateOptions opts = {
        .format = PD_FORMAT_QCOW2,
        .size = run->size,
        .compat = c->compat,
        .cluster_size = c->cluster_size,
        .refcount_bits = c->refcount_bits,
        .lazy_refcounts = c->lazy,
        .prealloc = c->prealloc,
    };
    if (c->backing == BACKING_RAW) {
        opts.backing_file = "base.raw";
        opts.backing_format = PD_FORMAT_RAW;
    } else if (c->backing == BACKING_QCOW2) {
        opts.backing_file = "base.qcow2";
        opts.backing_format = PD_FORMAT_QCOW2;
    }
    g_autoptr(GError) error = NULL;
    if (!pd_image_create(run->img_path, &opts, false, &error))
        return engine_failed(run, "pd_image_create", error);
    memcpy(run->ref, run->backing, run->size);
    return open_image(run, PD_OPEN_RDWR);
}

/* ---- the workload ------------------------------------------------------------------- */

/* A random request inside the image: alignment to the cluster, to 512 bytes or to nothing,
 * lengths mostly up to a few clusters, sometimes up to 1 MiB. */
static void pick_range(Run *run, uint64_t *ret_off, uint64_t *ret_len)
{
    uint64_t cs = run->cfg->cluster_size;
    uint64_t max = MIN(4 * cs + cs / 2, (uint64_t)256 * 1024);
    if (it_rand_below(&run->rnd, 20) == 0)
        max = 1024 * 1024;
    uint64_t len = 1 + it_rand_below(&run->rnd, max);
    uint64_t off = it_rand_below(&run->rnd, run->size);
    switch (it_rand_below(&run->rnd, 10)) {
    case 0:
    case 1:
    case 2:
    case 3: /* cluster-aligned, whole clusters */
        off -= off % cs;
        len = (len + cs - 1) / cs * cs;
        break;
    case 4:
    case 5:
    case 6: /* sector-aligned */
        off -= off % 512;
        len = (len + 511) / 512 * 512;
        break;
    default:
        break;
    }
    /* Sometimes hammer the first clusters, where most overwrites happen. */
    if (it_rand_below(&run->rnd, 8) == 0)
        off %= 8 * cs;
    if (off >= run->size)
        off = run->size - 1;
    len = MIN(len, run->size - off);
    *ret_off = off;
    *ret_len = len;
}

static bool op_write(Run *run, uint64_t off, uint64_t len)
{
    g_autoptr(GError) error = NULL;
    g_autofree uint8_t *buf = g_malloc(len);
    it_rand_fill(&run->rnd, buf, len);
    /* Some writes are all zeroes through the normal write path. */
    if (it_rand_below(&run->rnd, 16) == 0)
        memset(buf, 0, len);
    if (!pd_image_write(run->img, off, buf, len, &error))
        return engine_failed(run, "pd_image_write", error);
    memcpy(run->ref + off, buf, len);
    return true;
}

static bool op_zero(Run *run, uint64_t off, uint64_t len, PdZeroFlags flags)
{
    g_autoptr(GError) error = NULL;
    if (!pd_image_write_zeroes(run->img, off, len, flags, &error))
        return engine_failed(run, "pd_image_write_zeroes", error);
    memset(run->ref + off, 0, len);
    return true;
}

/* One piece of a discarded range must read as it was, as zeroes or as the backing file. */
static bool adopt_discarded_piece(Run *run, const uint8_t *now, uint64_t off, uint64_t len)
{
    static const uint8_t zero[4096];
    bool same = memcmp(now, run->ref + off, len) == 0;
    bool from_backing = memcmp(now, run->backing + off, len) == 0;
    bool zeroes = true;
    for (uint64_t i = 0; i < len && zeroes; i += sizeof zero)
        zeroes = memcmp(now + i, zero, MIN(sizeof zero, len - i)) == 0;
    if (!same && !from_backing && !zeroes)
        return fail(run,
                    "after discard, %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
                    " reads neither as before, nor as zeroes, nor as the backing file",
                    off, len);
    memcpy(run->ref + off, now, len);
    return true;
}

static bool op_discard(Run *run, uint64_t off, uint64_t len)
{
    g_autoptr(GError) error = NULL;
    if (!pd_image_discard(run->img, off, len, &error))
        return engine_failed(run, "pd_image_discard", error);
    g_autofree uint8_t *now = g_malloc(len);
    if (!pd_image_read(run->img, off, now, len, &error))
        return engine_failed(run, "pd_image_read after discard", error);
    uint64_t cs = run->cfg->cluster_size;
    for (uint64_t p = off; p < off + len;) {
        uint64_t end = MIN(off + len, (p / cs + 1) * cs);
        if (!adopt_discarded_piece(run, now + (p - off), p, end - p))
            return false;
        p = end;
    }
    return true;
}

static bool op_reopen(Run *run)
{
    g_autoptr(GError) error = NULL;
    if (!pd_image_flush(run->img, &error))
        return engine_failed(run, "pd_image_flush", error);
    pd_image_close(run->img);
    run->img = NULL;
    return open_image(run, PD_OPEN_RDWR);
}

static bool op_snapshot(Run *run)
{
    g_autoptr(GError) error = NULL;
    if (!pd_image_snapshot_create(run->img, "mid", &error))
        return engine_failed(run, "pd_image_snapshot_create", error);
    run->snap_ref = g_memdup2(run->ref, run->size);
    run->snap_size = run->size;
    return verify_range(run, 0, MIN(run->size, (uint64_t)1 << 20), run->ref,
                        "right after snapshot create");
}

/* Grows the image by GROW bytes (not a whole cluster): the new space reads as zeroes (the
 * backing file is shorter than the image). */
static bool op_grow(Run *run)
{
    g_autoptr(GError) error = NULL;
    bool v2_with_snapshot = run->cfg->compat == 2 && run->snap_ref;
    bool ok = pd_image_resize(run->img, run->size + GROW, PD_PREALLOC_OFF, false, &error);
    if (v2_with_snapshot) {
        /* As qemu: a v2 snapshot table cannot say how big the disk was, so resizing a v2
         * image that has snapshots is refused ("Can't resize a v2 image which has
         * snapshots"); else qemu-img cannot apply those snapshots any more. */
        if (!ok)
            return true;
        return fail(run, "resizing a compat=0.10 image with snapshots must be refused");
    } else if (!ok) {
        return engine_failed(run, "pd_image_resize", error);
    }
    run->size += GROW;
    if (pd_image_size(run->img) != run->size)
        return fail(run, "size after resize: %" G_GUINT64_FORMAT, pd_image_size(run->img));
    return verify_range(run, run->size - GROW - 512, GROW + 512, run->ref, "after resize");
}

/* A compressed write into a cluster this layer does not have yet (pd_image_write_compressed
 * wants an unallocated cluster): half repeated text, half random, so it compresses. */
static bool op_compressed(Run *run)
{
    g_autoptr(GError) error = NULL;
    uint64_t cs = run->cfg->cluster_size;
    uint64_t off = it_rand_below(&run->rnd, run->size / cs) * cs;
    g_snprintf(run->last_op, sizeof run->last_op, "compressed write at %" G_GUINT64_FORMAT, off);
    if (off + cs > run->size)
        return true;
    PdBlockStatus st;
    if (!pd_image_block_status_layer(run->img, off, cs, &st, &error))
        return engine_failed(run, "pd_image_block_status_layer", error);
    if ((st.flags & PD_BLOCK_ALLOCATED) || st.length < cs)
        return true; /* only into unallocated clusters */
    g_autofree uint8_t *buf = g_malloc(cs);
    g_autofree uint8_t *out = g_malloc(cs);
    for (uint64_t i = 0; i < cs / 2; i++)
        buf[i] = "differential compressed cluster "[i % 32];
    it_rand_fill(&run->rnd, buf + cs / 2, cs / 2);
    ssize_t n = pd_image_compress(run->img, buf, out, cs, &error);
    if (n < 0)
        return engine_failed(run, "pd_image_compress", error);
    bool ok = n > 0 ? pd_image_write_compressed(run->img, off, out, (size_t)n, &error)
                    : pd_image_write(run->img, off, buf, cs, &error);
    if (!ok)
        return engine_failed(run, "pd_image_write_compressed", error);
    memcpy(run->ref + off, buf, cs);
    return true;
}

static bool run_one_op(Run *run)
{
    uint64_t off, len;
    pick_range(run, &off, &len);
    unsigned kind = (unsigned)it_rand_below(&run->rnd, 100);
    g_autoptr(GError) error = NULL;
    if (kind < 45) {
        g_snprintf(run->last_op, sizeof run->last_op,
                   "write %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT, off, len);
        return op_write(run, off, len);
    } else if (kind < 55) {
        g_snprintf(run->last_op, sizeof run->last_op,
                   "write_zeroes %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT, off, len);
        return op_zero(run, off, len, 0);
    } else if (kind < 65) {
        g_snprintf(run->last_op, sizeof run->last_op,
                   "write_zeroes MAY_UNMAP %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT, off, len);
        return op_zero(run, off, len, PD_ZERO_MAY_UNMAP);
    } else if (kind < 75) {
        g_snprintf(run->last_op, sizeof run->last_op,
                   "discard %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT, off, len);
        return op_discard(run, off, len);
    } else if (kind < 93) {
        g_snprintf(run->last_op, sizeof run->last_op,
                   "read %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT, off, len);
        return verify_range(run, off, len, run->ref, "read-back");
    } else if (kind < 95) {
        return op_compressed(run);
    } else if (kind < 99) {
        g_snprintf(run->last_op, sizeof run->last_op, "flush");
        if (!pd_image_flush(run->img, &error))
            return engine_failed(run, "pd_image_flush", error);
        return true;
    }
    g_snprintf(run->last_op, sizeof run->last_op, "close and reopen");
    return op_reopen(run);
}

/* ---- final checks ------------------------------------------------------------------- */

static bool qemu_img_check_clean(Run *run, const char *when)
{
    g_autofree char *out = NULL;
    int rc = it_qemu_img_check(run->img_path, &out);
    if (rc != 0 || strstr(out, "No errors were found") == NULL || strstr(out, "leaked"))
        return fail(run, "%s: qemu-img check exit %d:\n%s", when, rc, out);
    return true;
}

/* Block status must never call a range ZERO that holds data. */
static bool verify_block_status(Run *run)
{
    uint64_t off = 0;
    int guard = 0;
    while (off < run->size) {
        g_autoptr(GError) error = NULL;
        PdBlockStatus st;
        if (!pd_image_block_status(run->img, off, run->size - off, &st, &error))
            return engine_failed(run, "pd_image_block_status", error);
        if (st.length == 0 || st.length > run->size - off)
            return fail(run,
                        "block_status at %" G_GUINT64_FORMAT " returned length %" G_GUINT64_FORMAT,
                        off, st.length);
        if (st.flags & PD_BLOCK_ZERO) {
            for (uint64_t i = off; i < off + st.length; i++)
                if (run->ref[i])
                    return fail(run,
                                "block_status calls %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
                                " zero but byte %" G_GUINT64_FORMAT " is 0x%02x",
                                off, st.length, i, run->ref[i]);
        }
        off += st.length;
        if (++guard > 10 * 1000 * 1000)
            return fail(run, "block_status does not advance");
    }
    return true;
}

static bool engine_check_clean(Run *run)
{
    g_autoptr(GError) error = NULL;
    PdCheckResult res = {0};
    if (!pd_image_check(run->img, PD_CHECK_NO_FIX, &res, &error))
        return engine_failed(run, "pd_image_check", error);
    bool ok = res.corruptions == 0 && res.leaks == 0 && res.check_errors == 0;
    uint64_t c = res.corruptions, l = res.leaks, e = res.check_errors;
    pd_check_result_clear(&res);
    if (!ok)
        return fail(run,
                    "pd_image_check: %" G_GUINT64_FORMAT " corruptions, %" G_GUINT64_FORMAT
                    " leaks, %" G_GUINT64_FORMAT " check errors where qemu-img found none",
                    c, l, e);
    return true;
}

/* qemu-img applies our snapshot on a copy: the guest view at the snapshot comes back. */
static bool qemu_applies_snapshot(Run *run)
{
    int rc;
    g_autofree char *out = NULL;
    g_autofree char *copy = g_build_filename(run->dir, "qemu-applied.qcow2", NULL);
    g_autofree char *snap_raw = g_build_filename(run->dir, "snap.raw", NULL);
    g_autofree char *err = NULL;
    it_write_file(snap_raw, run->snap_ref, run->snap_size);
    rc = it_runv(NULL, &err, "cp", "--sparse=always", run->img_path, copy, NULL);
    g_assert_cmpint(rc, ==, 0);
    g_free(err);
    err = NULL;
    rc = it_runv(NULL, &err, "qemu-img", "snapshot", "-a", "mid", copy, NULL);
    if (rc != 0)
        return fail(run, "qemu-img snapshot -a of our snapshot failed (exit %d): %s", rc, err);
    g_autofree char *cmp = NULL;
    rc = it_qemu_img_compare(copy, "qcow2", snap_raw, "raw", &cmp);
    if (rc != 0)
        return fail(run, "after qemu-img applied our snapshot, compare exit %d:\n%s", rc, cmp);
    rc = it_qemu_img_check(copy, &out);
    if (rc != 0)
        return fail(run, "after qemu-img applied our snapshot, check exit %d:\n%s", rc, out);
    return true;
}

static bool verify_snapshot(Run *run)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    int rc = it_runv(&out, NULL, "qemu-img", "snapshot", "-l", run->img_path, NULL);
    if (rc != 0 || !strstr(out, "mid"))
        return fail(run, "qemu-img snapshot -l does not list our snapshot (exit %d):\n%s", rc, out);
    if (!qemu_applies_snapshot(run))
        return false;
    if (!open_image(run, PD_OPEN_RDWR))
        return false;
    g_snprintf(run->last_op, sizeof run->last_op, "snapshot apply");
    if (!pd_image_snapshot_apply(run->img, "mid", &error))
        return engine_failed(run, "pd_image_snapshot_apply", error);
    if (pd_image_size(run->img) != run->snap_size)
        return fail(run,
                    "after applying the snapshot the size is %" G_GUINT64_FORMAT
                    ", it was %" G_GUINT64_FORMAT " when taken",
                    pd_image_size(run->img), run->snap_size);
    run->size = run->snap_size;
    if (!verify_range(run, 0, run->size, run->snap_ref, "after applying the snapshot"))
        return false;
    g_snprintf(run->last_op, sizeof run->last_op, "snapshot delete");
    if (!pd_image_snapshot_delete(run->img, "mid", &error))
        return engine_failed(run, "pd_image_snapshot_delete", error);
    if (!verify_range(run, 0, run->size, run->snap_ref, "after deleting the snapshot"))
        return false;
    pd_image_close(run->img);
    run->img = NULL;
    memcpy(run->ref, run->snap_ref, run->size);
    it_write_file(run->ref_path, run->ref, run->size);
    g_autofree char *cmp2 = NULL;
    rc = it_qemu_img_compare(run->img_path, "qcow2", run->ref_path, "raw", &cmp2);
    if (rc != 0)
        return fail(run, "after snapshot apply+delete, qemu-img compare exit %d:\n%s", rc, cmp2);
    return qemu_img_check_clean(run, "after snapshot apply+delete");
}

static bool final_checks(Run *run)
{
    g_autoptr(GError) error = NULL;
    g_snprintf(run->last_op, sizeof run->last_op, "final flush and close");
    if (!pd_image_flush(run->img, &error))
        return engine_failed(run, "pd_image_flush", error);
    pd_image_close(run->img);
    run->img = NULL;

    g_snprintf(run->last_op, sizeof run->last_op, "final checks");
    if (!qemu_img_check_clean(run, "after the workload"))
        return false;
    it_write_file(run->ref_path, run->ref, run->size);
    g_autofree char *cmp = NULL;
    int rc = it_qemu_img_compare(run->img_path, "qcow2", run->ref_path, "raw", &cmp);
    if (rc != 0)
        return fail(run, "qemu-img compare image vs reference: exit %d:\n%s", rc, cmp);

    if (!open_image(run, PD_OPEN_RDONLY))
        return false;
    for (uint64_t off = 0; off < run->size; off += 8 << 20)
        if (!verify_range(run, off, MIN((uint64_t)8 << 20, run->size - off), run->ref,
                          "full read after reopen"))
            return false;
    if (!verify_block_status(run) || !engine_check_clean(run))
        return false;
    pd_image_close(run->img);
    run->img = NULL;
    return !run->cfg->snapshot || verify_snapshot(run);
}

static uint64_t size_for(uint32_t cluster_size)
{
    switch (cluster_size) {
    case 512:
        return 6ULL << 20; /* 192 L2 tables, 48 refcount blocks at 16 bits */
    case 4096:
        return 24ULL << 20;
    case 65536:
        return 48ULL << 20;
    default:
        return 64ULL << 20;
    }
}

static bool run_config(const Config *cfg, int index, uint64_t base_seed, int n_ops, bool long_mode)
{
    Run run = {.cfg = cfg,
               .index = index,
               .base_seed = base_seed,
               .seed = base_seed + (uint64_t)index * 7919,
               .n_ops = n_ops,
               .requested_ops = n_ops,
               .long_mode = long_mode,
               .size = size_for(cfg->cluster_size)};
    uint64_t seed = run.seed;
    if (cfg->cluster_size >= 2 * 1024 * 1024)
        run.n_ops = MAX(1, n_ops / 8);
    it_rand_seed(&run.rnd, seed);
    run.dir = it_mkdtemp_fast("poold-diff");
    run.img_path = g_build_filename(run.dir, "img.qcow2", NULL);
    run.ref_path = g_build_filename(run.dir, "ref.raw", NULL);
    run.capacity = run.size + GROW;
    run.ref = g_malloc0(run.capacity);
    g_snprintf(run.last_op, sizeof run.last_op, "create");
    int64_t t0 = g_get_monotonic_time();
    bool ok = make_backing(&run) && create_image(&run);
    for (run.op_index = 0; ok && run.op_index < run.n_ops; run.op_index++) {
        if (run.op_index == run.n_ops * 3 / 4) {
            g_snprintf(run.last_op, sizeof run.last_op, "resize +%d", GROW);
            ok = op_grow(&run);
            if (!ok)
                break;
        }
        if (cfg->snapshot && run.op_index == run.n_ops / 2) {
            g_snprintf(run.last_op, sizeof run.last_op, "snapshot create");
            ok = op_snapshot(&run);
            if (!ok)
                break;
        }
        ok = run_one_op(&run);
    }
    ok = ok && final_checks(&run);
    if (ok)
        printf("ok - cluster_size=%u compat=%s refcount_bits=%d lazy_refcounts=%s backing=%s "
               "snapshot=%s preallocation=%s seed=%" G_GUINT64_FORMAT " ops=%d (%.1f s)\n",
               cfg->cluster_size, cfg->compat == 2 ? "0.10" : "1.1", cfg->refcount_bits,
               cfg->lazy ? "on" : "off", backing_names[cfg->backing], cfg->snapshot ? "yes" : "no",
               pd_prealloc_name(cfg->prealloc), seed, run.n_ops,
               (double)(g_get_monotonic_time() - t0) / 1e6);
    fflush(stdout);
    pd_image_close(run.img);
    if (ok)
        it_rmtree(run.dir);
    else
        printf("#   image and reference kept in %s\n", run.dir);
    g_free(run.dir);
    g_free(run.img_path);
    g_free(run.ref_path);
    g_free(run.ref);
    g_free(run.backing);
    g_free(run.snap_ref);
    return ok;
}

/* The full product for --long: 4 cluster sizes x (v2 + v3 x lazy) x 3 refcount widths x
 * 3 backing kinds; snapshots on every other one. */
static GArray *long_configs(void)
{
    static const uint32_t sizes[] = {512, 4096, 65536, 2097152};
    static const int widths[] = {1, 16, 64};
    GArray *a = g_array_new(FALSE, FALSE, sizeof(Config));
    int n = 0;
    for (size_t s = 0; s < G_N_ELEMENTS(sizes); s++)
        for (int compat = 2; compat <= 3; compat++)
            for (int lazy = 0; lazy <= (compat == 3); lazy++)
                for (size_t w = 0; w < G_N_ELEMENTS(widths); w++)
                    for (int b = BACKING_NONE; b <= BACKING_QCOW2; b++) {
                        if (compat == 2 && widths[w] != 16)
                            continue; /* v2 has 16-bit refcounts only */
                        /* snapshots on every other one, never with 1-bit refcounts */
                        bool snap = (n++ % 2) == 1 && widths[w] > 1;
                        Config c = {sizes[s], compat, widths[w], lazy, (BackingKind)b, snap};
                        g_array_append_val(a, c);
                    }
    return a;
}

int main(int argc, char **argv)
{
    gboolean long_mode = FALSE, list = FALSE;
    gint64 seed_arg = 0;
    int only = -1, n_ops = 0;
    GOptionEntry entries[] = {
        {"long", 0, 0, G_OPTION_ARG_NONE, &long_mode, "soak: every configuration, 10x ops", NULL},
        {"seed", 0, 0, G_OPTION_ARG_INT64, &seed_arg, "base seed (else POOLD_TEST_SEED)", "N"},
        {"config", 0, 0, G_OPTION_ARG_INT, &only, "run only configuration I", "I"},
        {"ops", 0, 0, G_OPTION_ARG_INT, &n_ops, "operations per configuration", "N"},
        {"list", 0, 0, G_OPTION_ARG_NONE, &list, "list the configurations", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- qcow2 vs raw differential test");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "%s\n", error->message);
        return 2;
    }
    it_require_tool("qemu-img", "qemu-img is the oracle of this test (apt-get install "
                                "qemu-utils)");
    g_autoptr(GArray) configs = NULL;
    if (long_mode) {
        configs = long_configs();
    } else {
        configs = g_array_new(FALSE, FALSE, sizeof(Config));
        g_array_append_vals(configs, short_configs, G_N_ELEMENTS(short_configs));
    }
    if (n_ops <= 0)
        n_ops = long_mode ? 10000 : 1200;
    /* Fixed by default so that CI is reproducible; --long picks a fresh one. */
    uint64_t base = seed_arg ? (uint64_t)seed_arg : it_pick_seed(long_mode ? 0 : 20261129);
    printf("# base seed %" G_GUINT64_FORMAT " (replay: POOLD_TEST_SEED=%" G_GUINT64_FORMAT
           "), %u configurations, %d ops each\n",
           base, base, configs->len, n_ops);
    int failed = 0, ran = 0;
    for (guint i = 0; i < configs->len; i++) {
        const Config *c = &g_array_index(configs, Config, i);
        if (list) {
            printf("%u: cluster_size=%u compat=%d refcount_bits=%d lazy=%d backing=%s snap=%d\n", i,
                   c->cluster_size, c->compat, c->refcount_bits, c->lazy, backing_names[c->backing],
                   c->snapshot);
            continue;
        }
        if (only >= 0 && (guint)only != i)
            continue;
        printf("# config %u\n", i);
        ran++;
        if (!run_config(c, (int)i, base, n_ops, long_mode))
            failed++;
    }
    if (!list)
        printf("# %d of %d configurations failed\n", failed, ran);
    return failed ? 1 : 0;
}
