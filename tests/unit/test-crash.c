/* Crash consistency of the qcow2 driver: power is cut at every write.
 *
 * A test PdIO keeps the store in memory and models a disk with a volatile write cache: a
 * write is durable only once a flush has followed it. The I/O "crashes" at its Nth write
 * (counting pwrite, truncate, discard and allocate): that write fails with EIO, every later
 * one too, and the image left behind is
 *   - worst case: only what the last completed flush made durable;
 *   - all:        that plus every write since (the process died, the page cache survived);
 *   - newest:     that plus only the newest write since (the adversary of any code that
 *                 counts on write order without a flush in between);
 *   - subset:     that plus a random subset of the writes since, in order.
 * For every N from 1 to the number of writes the workload does, each variant must pass
 * `qemu-img check` with at most leaks (exit 0 or 3) and every byte the guest wrote before
 * the last pd_image_flush that completed (and did not touch again) must read back.
 *
 * One kind of "ERROR" that qemu-img check prints is tolerated, because no implementation
 * (qemu's included) can avoid it at every crash point of a snapshot create or delete: an
 * OFLAG_COPIED mismatch in the safe direction -- the flag is clear while the refcount is 1
 * (the next write copies a cluster it could have written in place), or the flag is set on
 * a cluster whose extra reference is a leak (refcount 2, one real reference). The dangerous
 * direction -- COPIED on a cluster that really has two owners -- and every other error fail.
 *
 * Images with lazy_refcounts may have stale refcounts after a crash by design; for them the
 * crashed image is first opened read-write through the engine (which must repair it, as the
 * dirty bit says) and then judged by qemu-img.
 *
 * POOLD_TEST_SEED=N picks the seed of the random subsets; POOLD_CRASH_STRIDE=K tries every
 * Kth N only (for quick local runs). */
#include "formats/image/image.h"
#include "common/pd-error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a memory store with a volatile write cache -------------------------------------- */

typedef enum {
    OP_WRITE,
    OP_TRUNCATE,
    OP_ZERO, /* discard: punch a hole, size unchanged */
} PendingKind;

typedef struct {
    PendingKind kind;
    uint64_t offset;
    uint64_t len; /* new size for OP_TRUNCATE */
    uint8_t *data;
} Pending;

typedef struct {
    GByteArray *current; /* what reads see */
    GByteArray *durable; /* what survives a crash for sure */
    GArray *pending;     /* Pending, since the last flush, in order */
    int64_t writes;      /* write-like operations so far */
    int64_t crash_at;    /* the write that fails and everything after; 0 = never */
    bool crashed;
} MemStore;

typedef struct {
    PdIO base;
    MemStore *store; /* not owned */
} MemIO;

static void pending_clear(Pending *p)
{
    g_free(p->data);
}

static MemStore *mem_store_new(const uint8_t *data, size_t len)
{
    MemStore *st = g_new0(MemStore, 1);
    st->current = g_byte_array_new();
    st->durable = g_byte_array_new();
    if (len) {
        g_byte_array_append(st->current, data, (guint)len);
        g_byte_array_append(st->durable, data, (guint)len);
    }
    st->pending = g_array_new(FALSE, FALSE, sizeof(Pending));
    g_array_set_clear_func(st->pending, (GDestroyNotify)pending_clear);
    return st;
}

static void mem_store_free(MemStore *st)
{
    if (!st)
        return;
    g_byte_array_unref(st->current);
    g_byte_array_unref(st->durable);
    g_array_unref(st->pending);
    g_free(st);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MemStore, mem_store_free)

static void apply_op(GByteArray *b, const Pending *p)
{
    switch (p->kind) {
    case OP_WRITE:
        if (b->len < p->offset + p->len) {
            guint old = b->len;
            g_byte_array_set_size(b, (guint)(p->offset + p->len));
            memset(b->data + old, 0, b->len - old);
        }
        memcpy(b->data + p->offset, p->data, p->len);
        break;
    case OP_TRUNCATE: {
        guint old = b->len;
        g_byte_array_set_size(b, (guint)p->len);
        if (b->len > old)
            memset(b->data + old, 0, b->len - old);
        break;
    }
    case OP_ZERO:
        if (p->offset < b->len)
            memset(b->data + p->offset, 0, MIN(p->len, b->len - p->offset));
        break;
    }
}

/* Counts a write-like operation; false (and crashed from then on) at the crash point. */
static bool mem_may_write(MemStore *st)
{
    if (st->crashed)
        return false;
    st->writes++;
    if (st->crash_at && st->writes >= st->crash_at) {
        st->crashed = true;
        return false;
    }
    return true;
}

static void mem_record(MemStore *st, PendingKind kind, uint64_t offset, uint64_t len,
                       const void *data)
{
    Pending p = {kind, offset, len, data ? g_memdup2(data, len) : NULL};
    apply_op(st->current, &p);
    g_array_append_val(st->pending, p);
}

static ssize_t mem_pread(PdIO *io, void *buf, size_t len, uint64_t offset)
{
    MemStore *st = ((MemIO *)io)->store;
    if (offset >= st->current->len)
        return 0;
    size_t n = (size_t)MIN((uint64_t)len, st->current->len - offset);
    memcpy(buf, st->current->data + offset, n);
    return (ssize_t)n;
}

static ssize_t mem_pwrite(PdIO *io, const void *buf, size_t len, uint64_t offset)
{
    MemStore *st = ((MemIO *)io)->store;
    if (offset + len > (1ULL << 31))
        return -EFBIG;
    if (!mem_may_write(st))
        return -EIO;
    mem_record(st, OP_WRITE, offset, len, buf);
    return (ssize_t)len;
}

static int mem_flush(PdIO *io)
{
    MemStore *st = ((MemIO *)io)->store;
    if (st->crashed)
        return -EIO;
    for (guint i = 0; i < st->pending->len; i++)
        apply_op(st->durable, &g_array_index(st->pending, Pending, i));
    g_array_set_size(st->pending, 0);
    return 0;
}

static int mem_truncate(PdIO *io, uint64_t size)
{
    MemStore *st = ((MemIO *)io)->store;
    if (size > (1ULL << 31))
        return -EFBIG;
    if (!mem_may_write(st))
        return -EIO;
    mem_record(st, OP_TRUNCATE, 0, size, NULL);
    return 0;
}

static int64_t mem_size(PdIO *io)
{
    return ((MemIO *)io)->store->current->len;
}

static int mem_discard(PdIO *io, uint64_t offset, uint64_t len)
{
    MemStore *st = ((MemIO *)io)->store;
    if (!mem_may_write(st))
        return -EIO;
    mem_record(st, OP_ZERO, offset, len, NULL);
    return 0;
}

static int mem_allocate(PdIO *io, uint64_t offset, uint64_t len)
{
    MemStore *st = ((MemIO *)io)->store;
    if (offset + len > (1ULL << 31))
        return -EFBIG;
    if (!mem_may_write(st))
        return -EIO;
    if (offset + len > st->current->len)
        mem_record(st, OP_TRUNCATE, 0, offset + len, NULL);
    return 0;
}

static void mem_close(PdIO *io)
{
    g_free(io->name);
    g_free(io);
}

static const PdIOOps mem_ops = {
    .pread = mem_pread,
    .pwrite = mem_pwrite,
    .flush = mem_flush,
    .truncate = mem_truncate,
    .size = mem_size,
    .allocated = mem_size,
    .discard = mem_discard,
    .allocate = mem_allocate,
    .close = mem_close,
};

static PdIO *mem_io_new(MemStore *st, bool writable)
{
    MemIO *m = g_new0(MemIO, 1);
    m->base.ops = &mem_ops;
    m->base.name = g_strdup("mem:crash.qcow2");
    m->base.read_only = !writable;
    m->store = st;
    return &m->base;
}

/* The bytes a crash leaves: durable + the pending writes @keep says (NULL: none). */
static GByteArray *crash_image(MemStore *st, const bool *keep)
{
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, st->durable->data, st->durable->len);
    for (guint i = 0; keep && i < st->pending->len; i++)
        if (keep[i])
            apply_op(b, &g_array_index(st->pending, Pending, i));
    return b;
}

/* ---- what the guest may expect ------------------------------------------------------ */

typedef struct {
    uint64_t size;
    uint8_t *ref;     /* guest view now (size bytes, capacity max_size) */
    uint8_t *flushed; /* guest view at the last completed pd_image_flush */
    uint64_t flushed_size;
    uint8_t *touched; /* 1 per byte changed (or maybe changed) since that flush */
    bool resized;     /* since that flush */
    uint64_t max_size;
    GHashTable *snapshots; /* name -> uint8_t * guest view (size bytes), for apply */
    uint64_t snap_size;
    char step[96]; /* the workload step running (at the crash) */
} Model;

static void model_init(Model *m, uint64_t size, uint64_t max_size)
{
    memset(m, 0, sizeof *m);
    m->size = m->flushed_size = size;
    m->max_size = max_size;
    m->ref = g_malloc0(max_size);
    m->flushed = g_malloc0(max_size);
    m->touched = g_malloc0(max_size);
    m->snapshots = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void model_clear(Model *m)
{
    g_free(m->ref);
    g_free(m->flushed);
    g_free(m->touched);
    g_hash_table_unref(m->snapshots);
}

static void model_touch(Model *m, uint64_t off, uint64_t len)
{
    memset(m->touched + off, 1, MIN(len, m->max_size - off));
}

static void model_flushed(Model *m)
{
    memcpy(m->flushed, m->ref, m->max_size);
    m->flushed_size = m->size;
    memset(m->touched, 0, m->max_size);
    m->resized = false;
}

/* ---- the workloads ------------------------------------------------------------------- */

#define PREFILL (1792ULL << 10) /* guest bytes written before the crash points of "big" */

typedef struct {
    const char *name;
    int compat;
    uint32_t cluster_size;
    int refcount_bits;
    bool lazy;
    uint64_t size;
    uint64_t max_size; /* after resizes */
    bool big;          /* the long workload (refcount table growth) */
} Workload;

/* Each step touches the model before calling the engine (a crash may leave it half done)
 * and updates the guest view once the engine acknowledged. Returns false at the first
 * error: after the crash point every write fails. */
typedef struct {
    PdImage *img;
    Model *m;
    const Workload *w;
    GRand *rand;
    MemStore *st;
    bool trace; /* POOLD_CRASH_TRACE: print which writes each step does */
} Ctx;

static void step(Ctx *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Names the step about to run (reported with a failure at a crash inside it). */
static void step(Ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_vsnprintf(c->m->step, sizeof c->m->step, fmt, ap);
    va_end(ap);
    if (c->trace)
        g_printerr("# write %" G_GINT64_FORMAT ": %s\n", c->st->writes + 1, c->m->step);
}

static bool do_write(Ctx *c, uint64_t off, uint64_t len)
{
    step(c, "write %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT, off, len);
    g_autofree uint8_t *buf = g_malloc(len);
    guint32 x = g_rand_int(c->rand) | 1;
    for (uint64_t i = 0; i < len; i++) {
        x ^= x << 13; /* xorshift32: fast, and distinct per write */
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x | 1;
    }
    model_touch(c->m, off, len);
    if (!pd_image_write(c->img, off, buf, len, NULL))
        return false;
    memcpy(c->m->ref + off, buf, len);
    return true;
}

static bool do_zero(Ctx *c, uint64_t off, uint64_t len, PdZeroFlags flags)
{
    step(c, "write_zeroes%s %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT, flags ? " MAY_UNMAP" : "",
         off, len);
    model_touch(c->m, off, len);
    if (!pd_image_write_zeroes(c->img, off, len, flags, NULL))
        return false;
    memset(c->m->ref + off, 0, len);
    return true;
}

/* Discard leaves the range undefined (zeroes, backing, or as before): touched for good. */
static bool do_discard(Ctx *c, uint64_t off, uint64_t len)
{
    step(c, "discard %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT, off, len);
    model_touch(c->m, off, len);
    if (!pd_image_discard(c->img, off, len, NULL))
        return false;
    g_autofree uint8_t *now = g_malloc(len);
    if (!pd_image_read(c->img, off, now, len, NULL))
        return false;
    memcpy(c->m->ref + off, now, len);
    return true;
}

static bool do_flush(Ctx *c)
{
    step(c, "flush");
    if (!pd_image_flush(c->img, NULL))
        return false;
    model_flushed(c->m);
    return true;
}

static bool do_compressed(Ctx *c, uint64_t off)
{
    step(c, "compressed write at %" G_GUINT64_FORMAT, off);
    size_t cs = pd_image_cluster_size(c->img);
    g_autofree uint8_t *buf = g_malloc(cs);
    g_autofree uint8_t *out = g_malloc(cs);
    for (size_t i = 0; i < cs; i++)
        buf[i] = (uint8_t)("compressible text for the crash test "[i % 37]);
    ssize_t n = pd_image_compress(c->img, buf, out, cs, NULL);
    g_assert_cmpint(n, >, 0);
    model_touch(c->m, off, cs);
    if (!pd_image_write_compressed(c->img, off, out, (size_t)n, NULL))
        return false;
    memcpy(c->m->ref + off, buf, cs);
    return true;
}

static bool do_snapshot_create(Ctx *c, const char *name)
{
    step(c, "snapshot create %s", name);
    if (!pd_image_snapshot_create(c->img, name, NULL))
        return false;
    g_hash_table_replace(c->m->snapshots, g_strdup(name), g_memdup2(c->m->ref, c->m->size));
    c->m->snap_size = c->m->size;
    return true;
}

static bool do_snapshot_apply(Ctx *c, const char *name)
{
    step(c, "snapshot apply %s", name);
    const uint8_t *view = g_hash_table_lookup(c->m->snapshots, name);
    g_assert_nonnull(view);
    model_touch(c->m, 0, c->m->max_size);
    c->m->resized = true;
    if (!pd_image_snapshot_apply(c->img, name, NULL))
        return false;
    c->m->size = c->m->snap_size;
    memset(c->m->ref, 0, c->m->max_size);
    memcpy(c->m->ref, view, c->m->size);
    return true;
}

static bool do_snapshot_delete(Ctx *c, const char *name)
{
    step(c, "snapshot delete %s", name);
    if (!pd_image_snapshot_delete(c->img, name, NULL))
        return false;
    g_hash_table_remove(c->m->snapshots, name);
    return true;
}

static bool do_resize(Ctx *c, uint64_t size)
{
    step(c, "resize to %" G_GUINT64_FORMAT, size);
    c->m->resized = true;
    model_touch(c->m, MIN(size, c->m->size), c->m->max_size - MIN(size, c->m->size));
    if (!pd_image_resize(c->img, size, PD_PREALLOC_OFF, size < c->m->size, NULL))
        return false;
    if (size > c->m->size)
        memset(c->m->ref + c->m->size, 0, size - c->m->size);
    c->m->size = size;
    return true;
}

static bool run_workload(Ctx *c)
{
    const Workload *w = c->w;
    uint64_t cs = w->cluster_size;
    /* allocation, new L2 tables, in-place overwrite, partial clusters */
    if (!do_write(c, 0, 4 * cs) || !do_write(c, cs / 2, cs) || !do_write(c, 7 * cs + 100, 300))
        return false;
    if (!do_write(c, w->size / 2 + cs, 2 * cs) || !do_flush(c))
        return false;
    /* zero writes: on allocated clusters (keep and unmap), on unallocated ones */
    if (!do_zero(c, cs, cs, 0) || !do_zero(c, 2 * cs, 2 * cs, PD_ZERO_MAY_UNMAP) ||
        !do_zero(c, w->size / 4, 3 * cs, 0))
        return false;
    if (!do_discard(c, w->size / 2, 4 * cs) || !do_flush(c))
        return false;
    /* compressed clusters, two of them packed together */
    if (!do_compressed(c, 16 * cs) || !do_compressed(c, 17 * cs) || !do_flush(c))
        return false;
    /* snapshot: shared clusters, copy-on-write of data and L2, refcount drops (the big
     * workload leaves snapshots to the others: over its many L2 tables they would only
     * multiply the crash points) */
    if (!w->big && !do_snapshot_create(c, "s1"))
        return false;
    if (!do_write(c, cs, 2 * cs) || !do_write(c, 16 * cs + 10, 20) || !do_flush(c))
        return false;
    if (w->big) {
        /* With 512-byte clusters and 64-bit refcounts one refcount block covers 32 KiB and
         * a one-cluster refcount table 2 MiB; the prefill (run_until) brought the file near
         * that, these writes make new refcount blocks and grow the refcount table. */
        for (uint64_t off = w->size / 4 + PREFILL; off < w->size / 4 + PREFILL + (512 << 10);
             off += 256 * cs)
            if (!do_write(c, off, 256 * cs))
                return false;
        if (!do_flush(c))
            return false;
    }
    if (!w->big && (!do_snapshot_delete(c, "s1") || !do_flush(c)))
        return false;
    /* growing, writing past the old end, apply of a later snapshot */
    if (!do_resize(c, w->max_size) || !do_write(c, w->size + cs / 2, 2 * cs) || !do_flush(c))
        return false;
    if (w->big)
        return true;
    if (!do_snapshot_create(c, "s2") || !do_write(c, 0, cs) || !do_flush(c))
        return false;
    if (!do_snapshot_apply(c, "s2") || !do_flush(c))
        return false;
    if (!do_snapshot_delete(c, "s2") || !do_write(c, 3 * cs, cs) || !do_flush(c))
        return false;
    return true;
}

/* ---- judging a crashed image --------------------------------------------------------- */

typedef struct {
    char *dir;
    char *path;
    int64_t n;
    const char *variant;
    unsigned checked;
    unsigned benign; /* images with only benign OFLAG_COPIED mismatches */
    const char *step;
    bool lazy;
} Judge;

static int qemu_img_check(const char *path, char **ret_out)
{
    const char *argv[] = {"qemu-img", "check", "-f", "qcow2", path, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status = 0;
    g_autoptr(GError) error = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                      &status, &error))
        g_error("cannot run qemu-img: %s", error->message);
    *ret_out = g_strconcat(out, err, NULL);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Whether a `qemu-img check` output with exit 2 holds only the benign OFLAG_COPIED
 * mismatches a crash in a snapshot operation may leave (see the top of the file); the
 * offending line otherwise in *ret_bad. */
static bool only_benign_copied_errors(const char *out, uint32_t cluster_size, char **ret_bad)
{
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    g_autoptr(GHashTable) leaked_once = g_hash_table_new(g_int64_hash, g_int64_equal);
    g_autoptr(GArray) keep = g_array_new(FALSE, FALSE, sizeof(gint64));
    for (char **l = lines; *l; l++) {
        guint64 cl, rc, ref;
        if (sscanf(*l,
                   "Leaked cluster %" G_GUINT64_FORMAT " refcount=%" G_GUINT64_FORMAT
                   " reference=%" G_GUINT64_FORMAT,
                   &cl, &rc, &ref) == 3 &&
            ref + 1 == rc) {
            g_array_append_val(keep, cl);
        }
    }
    for (guint i = 0; i < keep->len; i++)
        g_hash_table_add(leaked_once, &g_array_index(keep, gint64, i));
    for (char **l = lines; *l; l++) {
        if (!g_str_has_prefix(*l, "ERROR"))
            continue;
        guint64 entry = 0, rc = 0;
        int idx;
        bool parsed =
            sscanf(*l,
                   "ERROR OFLAG_COPIED data cluster: l2_entry=%" G_GINT64_MODIFIER
                   "x refcount=%" G_GUINT64_FORMAT,
                   &entry, &rc) == 2 ||
            sscanf(*l,
                   "ERROR OFLAG_COPIED L2 cluster: l1_index=%d l1_entry=%" G_GINT64_MODIFIER
                   "x refcount=%" G_GUINT64_FORMAT,
                   &idx, &entry, &rc) == 3;
        bool copied = entry >> 63;
        gint64 cluster = (gint64)((entry & 0x00fffffffffffe00ULL) / cluster_size);
        bool benign =
            parsed && ((!copied && rc == 1) ||
                       (copied && rc == 2 && g_hash_table_contains(leaked_once, &cluster)));
        if (!benign) {
            *ret_bad = g_strdup(*l);
            return false;
        }
    }
    return true;
}

static void judge_fail(Judge *j, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void judge_fail(Judge *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *keep =
        g_strdup_printf("%s.crash-%" G_GINT64_FORMAT "-%s", j->path, j->n, j->variant);
    (void)rename(j->path, keep);
    g_test_message("crash at write %" G_GINT64_FORMAT " during '%s' (%s): %s; image kept in "
                   "%s (replay: POOLD_CRASH_TRACE=1 shows each step's writes)",
                   j->n, j->step, j->variant, msg, keep);
}

/* Checks one crashed image. Returns false if it failed (reported already). */
static bool judge_image(Judge *j, const Workload *w, const Model *m, GByteArray *bytes)
{
    g_autoptr(GError) error = NULL;
    if (w->lazy) {
        /* The dirty bit must make a read-write open repair the refcounts. */
        g_autoptr(MemStore) st = mem_store_new(bytes->data, bytes->len);
        PdImage *img =
            pd_image_open_io(mem_io_new(st, true), PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
        if (!img) {
            judge_fail(j, "read-write open (repair) failed: %s", error->message);
            return false;
        }
        bool ok = pd_image_flush(img, &error);
        pd_image_close(img);
        if (!ok) {
            judge_fail(j, "flush after repair failed: %s", error->message);
            return false;
        }
        g_byte_array_set_size(bytes, 0);
        g_byte_array_append(bytes, st->current->data, st->current->len);
    }
    g_autoptr(GError) werr = NULL;
    if (!g_file_set_contents(j->path, (const char *)bytes->data, bytes->len, &werr))
        g_error("%s", werr->message);
    g_autofree char *out = NULL;
    int rc = qemu_img_check(j->path, &out);
    j->checked++;
    g_autofree char *bad = NULL;
    if (rc == 2 && only_benign_copied_errors(out, w->cluster_size, &bad)) {
        j->benign++;
    } else if (rc != 0 && rc != 3) {
        judge_fail(j, "qemu-img check exit %d (want 0 or 3)%s%s:\n%s", rc,
                   bad ? ", not a benign COPIED mismatch: " : "", bad ? bad : "", out);
        return false;
    }

    /* Everything acknowledged by the last completed flush must be there. */
    g_autoptr(MemStore) st = mem_store_new(bytes->data, bytes->len);
    g_autoptr(PdImage) img =
        pd_image_open_io(mem_io_new(st, false), PD_FORMAT_QCOW2, PD_OPEN_RDONLY, &error);
    if (!img) {
        judge_fail(j, "the engine cannot open it: %s", error->message);
        return false;
    }
    uint64_t size = pd_image_size(img);
    if (!m->resized && size != m->flushed_size) {
        judge_fail(j, "virtual size %" G_GUINT64_FORMAT ", flushed %" G_GUINT64_FORMAT, size,
                   m->flushed_size);
        return false;
    }
    uint64_t len = MIN(size, m->flushed_size);
    g_autofree uint8_t *buf = g_malloc(len);
    if (!pd_image_read(img, 0, buf, len, &error)) {
        judge_fail(j, "read failed: %s", error->message);
        return false;
    }
    for (uint64_t i = 0; i < len; i++) {
        /* whole untouched 4 KiB blocks at once */
        if ((i & 4095) == 0 && len - i >= 4096 && !memchr(m->touched + i, 1, 4096) &&
            memcmp(buf + i, m->flushed + i, 4096) == 0) {
            i += 4095;
            continue;
        }
        if (!m->touched[i] && buf[i] != m->flushed[i]) {
            judge_fail(j, "byte %" G_GUINT64_FORMAT " reads 0x%02x, flushed 0x%02x", i, buf[i],
                       m->flushed[i]);
            return false;
        }
    }
    return true;
}

/* ---- driving it ---------------------------------------------------------------------- */

/* A fresh image in a fresh store; creation itself is not under test (pd_image_create
 * builds under a temporary name). */
static MemStore *fresh_store(const Workload *w)
{
    MemStore *st = mem_store_new(NULL, 0);
    PdIO *io = mem_io_new(st, true);
    PdCreateOptions opts = {
        .format = PD_FORMAT_QCOW2,
        .size = w->size,
        .compat = w->compat,
        .cluster_size = w->cluster_size,
        .refcount_bits = w->refcount_bits,
        .lazy_refcounts = w->lazy,
    };
    g_autoptr(GError) error = NULL;
    bool ok = pd_image_create_io(io, &opts, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_cmpint(io->ops->flush(io), ==, 0);
    pd_io_close(io);
    st->writes = 0;
    return st;
}

/* Runs the workload crashing at write @crash_at (0: never); returns the store and the
 * model at the crash. */
static uint32_t header_u32(MemStore *st, size_t offset)
{
    g_assert_cmpuint(st->current->len, >=, offset + 4);
    return GUINT32_FROM_BE(*(uint32_t *)(st->current->data + offset));
}

static uint32_t refcount_table_clusters(MemStore *st)
{
    return header_u32(st, 56);
}

static uint64_t l1_table_offset(MemStore *st)
{
    return ((uint64_t)header_u32(st, 40) << 32) | header_u32(st, 44);
}

static MemStore *run_until(const Workload *w, int64_t crash_at, Model *m, bool *ret_completed)
{
    MemStore *st = fresh_store(w);
    model_init(m, w->size, w->max_size);
    g_autoptr(GError) error = NULL;
    PdImage *img = pd_image_open_io(mem_io_new(st, true), PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    g_autoptr(GRand) rand = g_rand_new_with_seed(42);
    Ctx c = {img, m, w, rand, st, crash_at == 0 && g_getenv("POOLD_CRASH_TRACE") != NULL};
    uint32_t reftable_before = 0;
    uint64_t l1_before = l1_table_offset(st);
    if (w->big) {
        /* Fill the file to just under what one refcount table cluster covers, without
         * crash points (they would only repeat the allocation cases of the workload). */
        for (uint64_t off = w->size / 4; off < w->size / 4 + PREFILL; off += 128 << 10)
            g_assert_true(do_write(&c, off, 128 << 10));
        g_assert_true(do_flush(&c));
        reftable_before = refcount_table_clusters(st);
        st->writes = 0;
    }
    st->crash_at = crash_at;
    *ret_completed = run_workload(&c);
    if (w->big && crash_at == 0) {
        /* the workload really grows the refcount table and moves the L1 table */
        g_assert_cmpuint(refcount_table_clusters(st), >, reftable_before);
        g_assert_cmpuint(l1_table_offset(st), !=, l1_before);
    }
    /* Closing after a crash may try to write: it fails, the store is crashed. */
    st->crashed = true;
    pd_image_close(img);
    return st;
}

/* Tries every crash point n = first, first + step, ... up to total + 1 (the last: no crash
 * at all) and judges the images each leaves. Returns the number of failures. */
static unsigned crash_points(const Workload *w, Judge *j, int64_t total, int64_t first,
                             int64_t stride, guint32 seed)
{
    g_autoptr(GRand) subset_rand = g_rand_new_with_seed(seed + (guint32)first);
    unsigned failures = 0;
    for (int64_t n = first; n <= total + 1 && failures < 3; n += stride) {
        Model m;
        bool completed = false;
        g_autoptr(MemStore) st = run_until(w, n, &m, &completed);
        g_assert_true(n > total ? completed : !completed);
        j->n = n;
        j->step = m.step;
        guint np = st->pending->len;
        g_autofree bool *keep = g_new0(bool, np + 1);
        j->variant = "flushed-only"; /* the worst case */
        g_autoptr(GByteArray) worst = crash_image(st, NULL);
        failures += !judge_image(j, w, &m, worst);
        if (np > 0) {
            j->variant = "all-writes";
            for (guint i = 0; i < np; i++)
                keep[i] = true;
            g_autoptr(GByteArray) all = crash_image(st, keep);
            failures += !judge_image(j, w, &m, all);
        }
        if (np > 1) {
            /* only the newest write: breaks any code that counts on an earlier write of
             * the same flush window reaching the disk first */
            j->variant = "newest-only";
            for (guint i = 0; i < np; i++)
                keep[i] = i + 1 == np;
            g_autoptr(GByteArray) newest = crash_image(st, keep);
            failures += !judge_image(j, w, &m, newest);
            j->variant = "random-subset";
            for (guint i = 0; i < np; i++)
                keep[i] = g_rand_boolean(subset_rand);
            g_autoptr(GByteArray) some = crash_image(st, keep);
            failures += !judge_image(j, w, &m, some);
        }
        model_clear(&m);
    }
    return failures;
}

#define N_WORKERS 2

static void test_crash(gconstpointer data)
{
    const Workload *w = data;
    g_autofree char *qemu_img = g_find_program_in_path("qemu-img");
    if (!qemu_img) {
        g_test_skip("qemu-img not found (apt-get install qemu-utils): it judges the images");
        return;
    }
    /* A dry run counts the writes and checks the workload itself. */
    Model m;
    bool completed = false;
    g_autoptr(MemStore) full = run_until(w, 0, &m, &completed);
    g_assert_true(completed);
    int64_t total = full->writes;
    g_assert_cmpint(total, >, 10);
    model_clear(&m);

    const char *stride_env = g_getenv("POOLD_CRASH_STRIDE");
    int64_t stride = stride_env ? MAX(1, g_ascii_strtoll(stride_env, NULL, 10)) : 1;
    const char *seed_env = g_getenv("POOLD_TEST_SEED");
    guint32 seed = seed_env ? (guint32)g_ascii_strtoull(seed_env, NULL, 0) : 20261129;
    g_autofree char *tmpl =
        g_strdup_printf("%s/poold-crash-XXXXXX",
                        g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" : g_get_tmp_dir());
    g_autofree char *dir = g_mkdtemp(g_steal_pointer(&tmpl));
    g_assert_nonnull(dir);
    int64_t t0 = g_get_monotonic_time();

    /* Two workers (the crash points split between them), each reporting
     * "checked benign failures" through a pipe. */
    unsigned checked = 0, benign = 0, failures = 0;
    int fds[N_WORKERS][2];
    pid_t pids[N_WORKERS];
    fflush(stdout);
    for (int k = 0; k < N_WORKERS; k++) {
        g_assert_cmpint(pipe(fds[k]), ==, 0);
        pids[k] = fork();
        g_assert_cmpint(pids[k], >=, 0);
        if (pids[k] == 0) {
            close(fds[k][0]);
            g_autofree char *name = g_strdup_printf("crashed-%d.qcow2", k);
            Judge j = {.dir = dir, .path = g_build_filename(dir, name, NULL), .lazy = w->lazy};
            unsigned f = crash_points(w, &j, total, 1 + k * stride, stride * N_WORKERS, seed);
            g_autofree char *msg = g_strdup_printf("%u %u %u\n", j.checked, j.benign, f);
            (void)!write(fds[k][1], msg, strlen(msg));
            fflush(stdout);
            _exit(0);
        }
        close(fds[k][1]);
    }
    for (int k = 0; k < N_WORKERS; k++) {
        char buf[128] = "";
        ssize_t r = read(fds[k][0], buf, sizeof buf - 1);
        close(fds[k][0]);
        int status = 0;
        (void)waitpid(pids[k], &status, 0);
        unsigned c = 0, b = 0, f = 0;
        if (r <= 0 || sscanf(buf, "%u %u %u", &c, &b, &f) != 3 || !WIFEXITED(status)) {
            g_test_message("worker %d died (status %d)", k, status);
            f = 1;
        }
        checked += c;
        benign += b;
        failures += f;
    }
    g_test_message("%s: %" G_GINT64_FORMAT " writes, %u crashed images checked in %.1f s, "
                   "%u of them with only benign COPIED mismatches (subset seed %u)",
                   w->name, total, checked, (double)(g_get_monotonic_time() - t0) / 1e6, benign,
                   seed);
    if (failures) {
        g_test_message("%u crashed images failed; kept in %s", failures, dir);
        g_test_fail();
    } else {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
        (void)!system(cmd);
    }
}

static const Workload workloads[] = {
    /* the resize to 4.5 MiB needs 144 L1 entries: more than the 2 clusters the L1 table of
     * 3 MiB (96 entries) has, so the L1 table moves */
    {"v3-512-refcount64", 3, 512, 64, false, 3 << 20, (4 << 20) + (512 << 10), true},
    {"v3-4k-refcount8", 3, 4096, 8, false, 1 << 20, 2 << 20, false},
    {"v2-64k", 2, 65536, 16, false, 2 << 20, 3 << 20, false},
    {"v3-4k-lazy", 3, 4096, 16, true, 1 << 20, 2 << 20, false},
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(workloads); i++) {
        g_autofree char *path = g_strdup_printf("/crash/%s", workloads[i].name);
        g_test_add_data_func(path, &workloads[i], test_crash);
    }
    return g_test_run();
}
