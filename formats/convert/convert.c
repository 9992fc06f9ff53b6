/* The copy/convert engine (see convert.h for what it writes and who runs what). */
#include "formats/convert/convert.h"
#include "formats/image/target.h"
#include "common/pd-error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_BUFFER_SIZE (2 * 1024 * 1024)
#define MAX_STATUS_QUERY    (1ULL << 30)
/* A data run is handed on in pieces once it grows past this (bounds the look-ahead). */
#define MAX_PENDING_DATA (64ULL * 1024 * 1024)
#define PLAIN_SLOTS      4
/* Sources whose store can be reopened: data segments that lie in one piece in the store are
 * read by this many threads at once, each with its own handle (the writer still takes them
 * in order), so the disk has several reads in flight, as with qemu-img's 8 coroutines. */
#define READ_THREADS 4
#define READ_SLOTS   (2 * READ_THREADS)

typedef enum {
    SEG_DATA, /* buf holds the source's bytes */
    SEG_ZERO, /* reads as zeroes */
    SEG_SKIP, /* not in the source's top layer: the target's backing file provides it */
    SEG_END,  /* no more; error says why the reader stopped early, if it did */
} SegKind;

/* A piece of the source on its way to the target. Slots are allocated once and cycle:
 * free queue -> reader -> (workers) -> writer -> free queue. */
typedef struct {
    SegKind kind;
    uint64_t offset;
    uint64_t len;
    uint8_t *buf;   /* buffer_size bytes */
    uint8_t *cbuf;  /* compression: one cluster_size output area per cluster */
    ssize_t *clen;  /* compression, per cluster: >0 compressed bytes, 0 plain, -1 zero */
    bool done;      /* under Convert.lock */
    uint64_t count; /* SEG_END: how many segments came before it */
    uint64_t host;  /* parallel read: where the bytes lie in the source's store */
    GError *error;
} Seg;

typedef struct {
    PdImage *src;
    PdImage *dst;
    const PdConvertOptions *opts;
    uint64_t size;
    size_t buffer_size;
    uint64_t granularity; /* target allocation unit: zero runs are shrunk to it */
    size_t cluster_size;  /* compression unit */
    bool compress;

    Seg *slots;
    unsigned n_slots;
    GAsyncQueue *free_queue;  /* Seg *, for the reader */
    GAsyncQueue *order_queue; /* Seg *, in source order, for the writer */
    GAsyncQueue *ready_queue; /* -W with compression: Seg * as they finish */
    GThreadPool *pool;
    GThreadPool *read_pool; /* parallel reads (no compression, no -W), else NULL */
    GAsyncQueue *read_ios;  /* PdIO *: the read threads' handles on the source's store */
    PdIO *read_io_list[READ_THREADS];
    GMutex lock;
    GCond cond;
    gint stop; /* atomic: the writer gave up; the reader and workers end early */

    /* reader state */
    uint64_t emitted;
    SegKind run_kind;
    uint64_t run_start, run_end;   /* raw run of one kind, not yet rounded */
    uint64_t data_start, data_end; /* data run waiting to be read */
} Convert;

static uint64_t align_down(uint64_t x, uint64_t a)
{
    return x - x % a;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
    uint64_t r = x % a;
    return r ? x + (a - r) : x;
}

static bool cancelled(Convert *c)
{
    return (c->opts->cancel && g_atomic_int_get(c->opts->cancel)) || g_atomic_int_get(&c->stop);
}

static bool set_cancelled(GError **error)
{
    g_set_error(error, PD_ERROR, PD_ERROR_CANCELLED, "Conversion cancelled");
    return false;
}

/* True if @len bytes at @p are all zero. */
static bool buffer_is_zero(const uint8_t *p, size_t len)
{
    if (len == 0)
        return true;
    /* Cheap rejection on the first words, then one memcmp against itself shifted. */
    size_t head = MIN(len, (size_t)16);
    for (size_t i = 0; i < head; i++)
        if (p[i])
            return false;
    return len <= 16 || memcmp(p, p + 16, len - 16) == 0;
}

/* ---- compression workers ---------------------------------------------------------- */

static void seg_mark_done(Convert *c, Seg *seg)
{
    g_mutex_lock(&c->lock);
    seg->done = true;
    g_cond_broadcast(&c->cond);
    g_mutex_unlock(&c->lock);
    if (c->opts->out_of_order)
        g_async_queue_push(c->ready_queue, seg);
}

static void compress_segment(gpointer data, gpointer user_data)
{
    Seg *seg = data;
    Convert *c = user_data;
    size_t cs = c->cluster_size;
    size_t n = (size_t)((seg->len + cs - 1) / cs);
    for (size_t i = 0; i < n && !g_atomic_int_get(&c->stop); i++) {
        const uint8_t *in = seg->buf + i * cs;
        if (c->opts->sparse_size && buffer_is_zero(in, cs)) {
            seg->clen[i] = -1;
            continue;
        }
        ssize_t r = pd_image_compress(c->dst, in, seg->cbuf + i * cs, cs, &seg->error);
        if (r < 0)
            break;
        seg->clen[i] = r;
    }
    seg_mark_done(c, seg);
}

/* Where [offset, offset + len) of the source lies in one piece in its own store, plain (not
 * compressed, not zero, not in a backing file): true with *ret_host. Raw: always, at the
 * same offset. On false (or an error, which the normal read then reports) the reader thread
 * reads the segment itself. */
static bool source_host_range(Convert *c, uint64_t offset, uint64_t len, uint64_t *ret_host)
{
    if (pd_image_format(c->src) == PD_FORMAT_RAW) {
        *ret_host = offset;
        return true;
    }
    PdBlockStatus st;
    unsigned want = PD_BLOCK_ALLOCATED | PD_BLOCK_DATA | PD_BLOCK_OFFSET_VALID;
    unsigned look = want | PD_BLOCK_ZERO | PD_BLOCK_COMPRESSED;
    if (!pd_image_block_status_layer(c->src, offset, len, &st, NULL) || (st.flags & look) != want ||
        st.length < len || st.file)
        return false;
    *ret_host = st.host_offset;
    return true;
}

/* Read pool task: one data segment, read at seg->host through a handle of its own. */
static void read_segment(gpointer data, gpointer user_data)
{
    Seg *seg = data;
    Convert *c = user_data;
    PdIO *io = g_async_queue_pop(c->read_ios);
    if (!g_atomic_int_get(&c->stop))
        (void)pd_io_pread_full(io, seg->buf, (size_t)seg->len, seg->host, &seg->error);
    g_async_queue_push(c->read_ios, io);
    seg_mark_done(c, seg);
}

/* Sets up parallel reads if the source is raw or qcow2 and its store can be reopened;
 * without them the reader thread reads (also when this fails: it only costs speed). */
static void read_pool_init(Convert *c)
{
    PdIO *io = pd_image_io(c->src);
    PdFormat f = pd_image_format(c->src);
    if (c->compress || c->opts->out_of_order ||
        (f != PD_FORMAT_RAW && f != PD_FORMAT_QCOW2 && f != PD_FORMAT_VDI) || !io->ops->reopen)
        return;
    for (int i = 0; i < READ_THREADS; i++) {
        c->read_io_list[i] = io->ops->reopen(io, NULL);
        if (!c->read_io_list[i])
            return;
    }
    c->read_ios = g_async_queue_new();
    for (int i = 0; i < READ_THREADS; i++)
        g_async_queue_push(c->read_ios, c->read_io_list[i]);
    c->read_pool = g_thread_pool_new(read_segment, c, READ_THREADS, FALSE, NULL);
}

/* ---- reader ----------------------------------------------------------------------- */

/* Hands one segment on. Returns false (with @error) if the conversion is stopping. */
static bool push_segment(Convert *c, SegKind kind, uint64_t offset, uint64_t len, GError **error)
{
    Seg *seg = g_async_queue_pop(c->free_queue);
    seg->kind = kind;
    seg->offset = offset;
    seg->len = len;
    seg->done = true;
    if (cancelled(c)) {
        g_async_queue_push(c->free_queue, seg);
        return set_cancelled(error);
    }
    if (kind == SEG_DATA && c->read_pool && source_host_range(c, offset, len, &seg->host)) {
        seg->done = false;
        c->emitted++;
        g_async_queue_push(c->order_queue, seg);
        g_thread_pool_push(c->read_pool, seg, NULL);
        return true;
    }
    if (kind == SEG_DATA) {
        if (!pd_image_read(c->src, offset, seg->buf, (size_t)len, error)) {
            g_async_queue_push(c->free_queue, seg);
            return false;
        }
        if (c->compress) {
            size_t padded = (size_t)align_up(len, c->cluster_size);
            memset(seg->buf + len, 0, padded - len); /* last cluster of the image */
            seg->done = false;
        }
    }
    c->emitted++;
    if (!seg->done) {
        if (!c->opts->out_of_order)
            g_async_queue_push(c->order_queue, seg);
        g_thread_pool_push(c->pool, seg, NULL);
    } else {
        g_async_queue_push(c->opts->out_of_order && c->compress ? c->ready_queue : c->order_queue,
                           seg);
    }
    return true;
}

/* Reads [start, end) in buffer-aligned pieces. */
static bool push_data(Convert *c, uint64_t start, uint64_t end, GError **error)
{
    while (start < end) {
        uint64_t n = MIN(end - start, c->buffer_size - start % c->buffer_size);
        if (!push_segment(c, SEG_DATA, start, n, error))
            return false;
        start += n;
    }
    return true;
}

static bool flush_data(Convert *c, GError **error)
{
    bool ok = push_data(c, c->data_start, c->data_end, error);
    c->data_start = c->data_end;
    return ok;
}

static bool extend_data(Convert *c, uint64_t start, uint64_t end, GError **error)
{
    if (c->data_end != start && !flush_data(c, error))
        return false;
    if (c->data_start == c->data_end)
        c->data_start = c->data_end = start;
    c->data_end = end;
    if (c->data_end - c->data_start >= MAX_PENDING_DATA) {
        uint64_t cut = align_down(c->data_end, c->buffer_size);
        if (cut > c->data_start) {
            if (!push_data(c, c->data_start, cut, error))
                return false;
            c->data_start = cut;
        }
    }
    return true;
}

/* Turns a finished run of one kind into segments. Zero and skip runs shrink to the target's
 * granularity; their unaligned edges are copied as data (always correct, never a partial
 * cluster left to chance). */
static bool finish_run(Convert *c, GError **error)
{
    uint64_t a = c->run_start, b = c->run_end;
    if (a == b)
        return true;
    if (c->run_kind == SEG_DATA)
        return extend_data(c, a, b, error);
    uint64_t za = align_up(a, c->granularity);
    uint64_t zb = b == c->size ? b : align_down(b, c->granularity);
    if (za >= zb)
        return extend_data(c, a, b, error);
    if (a < za && !extend_data(c, a, za, error))
        return false;
    if (!flush_data(c, error) || !push_segment(c, c->run_kind, za, zb - za, error))
        return false;
    return zb < b ? extend_data(c, zb, b, error) : true;
}

static SegKind kind_of(Convert *c, const PdBlockStatus *st)
{
    if (c->opts->target_has_backing && !(st->flags & PD_BLOCK_ALLOCATED))
        return SEG_SKIP;
    if ((st->flags & PD_BLOCK_ZERO) && c->opts->sparse_size > 0)
        return SEG_ZERO;
    if ((st->flags & PD_BLOCK_ZERO) && c->opts->target_has_backing)
        return SEG_ZERO;
    return SEG_DATA;
}

static bool read_all(Convert *c, GError **error)
{
    c->run_kind = SEG_DATA;
    for (uint64_t off = 0; off < c->size;) {
        if (cancelled(c))
            return set_cancelled(error);
        PdBlockStatus st;
        uint64_t len = MIN(c->size - off, MAX_STATUS_QUERY);
        bool ok = c->opts->target_has_backing
                      ? pd_image_block_status_layer(c->src, off, len, &st, error)
                      : pd_image_block_status(c->src, off, len, &st, error);
        if (!ok)
            return false;
        SegKind kind = kind_of(c, &st);
        if (kind != c->run_kind) {
            if (!finish_run(c, error))
                return false;
            c->run_kind = kind;
            c->run_start = off;
        }
        off += st.length;
        c->run_end = off;
        if (kind == SEG_DATA && c->run_end - c->run_start >= MAX_PENDING_DATA) {
            if (!finish_run(c, error))
                return false;
            c->run_start = c->run_end;
        }
    }
    return finish_run(c, error) && flush_data(c, error);
}

static gpointer reader_main(gpointer data)
{
    Convert *c = data;
    GError *error = NULL;
    (void)read_all(c, &error);
    Seg *end = g_async_queue_pop(c->free_queue);
    end->kind = SEG_END;
    end->offset = c->size;
    end->len = 0;
    end->done = true;
    end->count = c->emitted;
    end->error = error;
    g_async_queue_push(c->opts->out_of_order && c->compress ? c->ready_queue : c->order_queue, end);
    return NULL;
}

/* ---- writer ----------------------------------------------------------------------- */

static bool write_zero_range(Convert *c, uint64_t offset, uint64_t len, GError **error)
{
    if (c->opts->target_is_zero)
        return true;
    return pd_image_write_zeroes(c->dst, offset, len, PD_ZERO_MAY_UNMAP, error);
}

/* Writes a data segment, leaving out aligned zero units of sparse_size (or the target's
 * granularity if larger). */
static bool write_data(Convert *c, Seg *seg, GError **error)
{
    uint64_t unit = c->opts->sparse_size;
    if (unit == 0)
        return pd_image_write(c->dst, seg->offset, seg->buf, (size_t)seg->len, error);
    unit = MAX(unit, c->granularity);
    uint64_t end = seg->offset + seg->len;
    uint64_t run_start = seg->offset;
    bool run_zero = false;
    for (uint64_t u = seg->offset; u < end;) {
        uint64_t next = MIN(end, align_down(u, unit) + unit);
        bool whole = (next - u == unit) || next == c->size;
        bool zero = whole && buffer_is_zero(seg->buf + (u - seg->offset), next - u);
        if (zero != run_zero && u > run_start) {
            const uint8_t *p = seg->buf + (run_start - seg->offset);
            bool ok = run_zero ? write_zero_range(c, run_start, u - run_start, error)
                               : pd_image_write(c->dst, run_start, p, u - run_start, error);
            if (!ok)
                return false;
            run_start = u;
        }
        run_zero = zero;
        u = next;
    }
    const uint8_t *p = seg->buf + (run_start - seg->offset);
    return run_zero ? write_zero_range(c, run_start, end - run_start, error)
                    : pd_image_write(c->dst, run_start, p, end - run_start, error);
}

static bool write_compressed(Convert *c, Seg *seg, GError **error)
{
    size_t cs = c->cluster_size;
    size_t n = (size_t)((seg->len + cs - 1) / cs);
    for (size_t i = 0; i < n; i++) {
        uint64_t off = seg->offset + i * cs;
        size_t len = (size_t)MIN((uint64_t)cs, seg->offset + seg->len - off);
        bool ok;
        if (seg->clen[i] < 0)
            ok = write_zero_range(c, off, len, error);
        else if (seg->clen[i] == 0)
            ok = pd_image_write(c->dst, off, seg->buf + i * cs, len, error);
        else
            ok = pd_image_write_compressed(c->dst, off, seg->cbuf + i * cs, (size_t)seg->clen[i],
                                           error);
        if (!ok)
            return false;
    }
    return true;
}

static bool write_segment(Convert *c, Seg *seg, GError **error)
{
    switch (seg->kind) {
    case SEG_DATA:
        return c->compress ? write_compressed(c, seg, error) : write_data(c, seg, error);
    case SEG_ZERO:
        return write_zero_range(c, seg->offset, seg->len, error);
    case SEG_SKIP:
    case SEG_END:
    default:
        return true;
    }
}

/* The next segment to write, complete. */
static Seg *next_segment(Convert *c)
{
    if (c->opts->out_of_order && c->compress)
        return g_async_queue_pop(c->ready_queue);
    Seg *seg = g_async_queue_pop(c->order_queue);
    g_mutex_lock(&c->lock);
    while (!seg->done)
        g_cond_wait(&c->cond, &c->lock);
    g_mutex_unlock(&c->lock);
    return seg;
}

/* Runs until the reader's end marker and every segment before it went through, writing
 * while all is well and only draining after a failure. */
static bool write_all(Convert *c, GError **error)
{
    GError *local = NULL;
    uint64_t done = 0, written = 0, expected = UINT64_MAX;
    bool ok = true;
    while (written < expected) {
        Seg *seg = next_segment(c);
        if (seg->kind == SEG_END) {
            expected = seg->count;
            if (seg->error && ok) {
                g_propagate_error(&local, g_steal_pointer(&seg->error));
                ok = false;
            }
        } else {
            written++;
            if (ok && c->opts->cancel && g_atomic_int_get(c->opts->cancel))
                ok = set_cancelled(&local);
            if (ok && seg->error) {
                g_propagate_error(&local, seg->error);
                seg->error = NULL;
                ok = false;
            }
            if (ok)
                ok = write_segment(c, seg, &local);
            if (ok) {
                done += seg->len;
                if (c->opts->progress)
                    c->opts->progress(done, c->size, c->opts->progress_data);
            }
            if (!ok)
                g_atomic_int_set(&c->stop, 1);
        }
        g_clear_error(&seg->error);
        g_async_queue_push(c->free_queue, seg);
    }
    if (!ok) {
        g_propagate_error(error, local);
        return false;
    }
    return true;
}

/* ---- setup ------------------------------------------------------------------------ */

static bool convert_init(Convert *c, PdImage *src, PdImage *dst, const PdConvertOptions *opts,
                         GError **error)
{
    c->src = src;
    c->dst = dst;
    c->opts = opts;
    c->size = pd_image_size(src);
    c->compress = opts->compress;
    if (pd_image_size(dst) < c->size) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Target '%s' (%" G_GUINT64_FORMAT " bytes) is smaller than the source '%s' "
                    "(%" G_GUINT64_FORMAT " bytes)",
                    pd_image_name(dst), pd_image_size(dst), pd_image_name(src), c->size);
        return false;
    }
    if (opts->sparse_size % 512) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Invalid sparse size %" G_GUINT64_FORMAT ": use a multiple of 512 bytes",
                    opts->sparse_size);
        return false;
    }
    size_t cluster = pd_image_cluster_size(dst);
    if (c->compress && cluster == 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Cannot compress into '%s': format %s does not support compression",
                    pd_image_name(dst), pd_format_name(pd_image_format(dst)));
        return false;
    }
    c->cluster_size = cluster;
    c->granularity = cluster ? cluster : 1;
    size_t bs = opts->buffer_size ? opts->buffer_size : DEFAULT_BUFFER_SIZE;
    if (cluster)
        bs = (size_t)align_up(MAX(bs, cluster), cluster);
    c->buffer_size = bs;
    unsigned threads = opts->threads ? opts->threads : g_get_num_processors();
    read_pool_init(c);
    c->n_slots = c->compress ? 2 * threads + 2 : c->read_pool ? READ_SLOTS : PLAIN_SLOTS;
    c->slots = g_new0(Seg, c->n_slots);
    c->free_queue = g_async_queue_new();
    c->order_queue = g_async_queue_new();
    c->ready_queue = g_async_queue_new();
    g_mutex_init(&c->lock);
    g_cond_init(&c->cond);
    for (unsigned i = 0; i < c->n_slots; i++) {
        Seg *seg = &c->slots[i];
        seg->buf = g_malloc(bs);
        if (c->compress) {
            seg->cbuf = g_malloc(bs);
            seg->clen = g_new0(ssize_t, bs / cluster);
        }
        g_async_queue_push(c->free_queue, seg);
    }
    if (c->compress) {
        c->pool = g_thread_pool_new(compress_segment, c, (gint)threads, FALSE, error);
        if (!c->pool)
            return false;
    }
    return true;
}

static void convert_clear(Convert *c)
{
    if (c->pool)
        g_thread_pool_free(c->pool, FALSE, TRUE);
    if (c->read_pool)
        g_thread_pool_free(c->read_pool, FALSE, TRUE);
    if (c->read_ios)
        g_async_queue_unref(c->read_ios);
    for (int i = 0; i < READ_THREADS; i++)
        pd_io_close(c->read_io_list[i]);
    for (unsigned i = 0; c->slots && i < c->n_slots; i++) {
        g_free(c->slots[i].buf);
        g_free(c->slots[i].cbuf);
        g_free(c->slots[i].clen);
    }
    g_free(c->slots);
    if (c->free_queue) {
        g_async_queue_unref(c->free_queue);
        g_async_queue_unref(c->order_queue);
        g_async_queue_unref(c->ready_queue);
        g_mutex_clear(&c->lock);
        g_cond_clear(&c->cond);
    }
}

bool pd_convert_copy(PdImage *src, PdImage *dst, const PdConvertOptions *opts, GError **error)
{
    Convert c = {0};
    if (!convert_init(&c, src, dst, opts, error)) {
        convert_clear(&c);
        return false;
    }
    GThread *reader = g_thread_try_new("pd-convert-read", reader_main, &c, error);
    if (!reader) {
        convert_clear(&c);
        return false;
    }
    bool ok = write_all(&c, error);
    g_thread_join(reader);
    convert_clear(&c);
    if (!ok)
        return false;
    /* A format that caches metadata (qcow2) is always flushed: its flush is where write
     * errors of that metadata show, and close would ignore them. */
    if (opts->no_flush && pd_image_format(dst) == PD_FORMAT_RAW)
        return true;
    return pd_image_flush(dst, error);
}

/* ---- into a new image ------------------------------------------------------------- */

/* A PdIO over another that makes flush a no-op. A new image is invisible under its
 * temporary name until the rename, so a crash before then loses nothing that anyone can
 * see: the write-order flushes of the format (qcow2 allocates with two per cluster) buy
 * nothing there, and one real flush before the rename does the job (qemu-img convert
 * writes with cache=unsafe for the same reason). */
typedef struct {
    PdIO base;
    PdIO *inner; /* owned */
} DeferIO;

static PdIO *defer_inner(PdIO *io)
{
    return ((DeferIO *)io)->inner;
}

static ssize_t defer_pread(PdIO *io, void *buf, size_t len, uint64_t offset)
{
    PdIO *in = defer_inner(io);
    return in->ops->pread(in, buf, len, offset);
}

static ssize_t defer_pwrite(PdIO *io, const void *buf, size_t len, uint64_t offset)
{
    PdIO *in = defer_inner(io);
    return in->ops->pwrite(in, buf, len, offset);
}

static int defer_flush(PdIO *io)
{
    return 0;
}

static int defer_truncate(PdIO *io, uint64_t size)
{
    PdIO *in = defer_inner(io);
    /* Truncating a file to its own size is not free: on ext4 a truncate to 0 (raw create
     * does one) arms "auto_da_alloc", which writes back the whole file at close. */
    int64_t cur = in->ops->size(in);
    if (cur >= 0 && (uint64_t)cur == size)
        return 0;
    return in->ops->truncate(in, size);
}

static int64_t defer_size(PdIO *io)
{
    PdIO *in = defer_inner(io);
    return in->ops->size(in);
}

static int64_t defer_allocated(PdIO *io)
{
    PdIO *in = defer_inner(io);
    return in->ops->allocated(in);
}

static int defer_discard(PdIO *io, uint64_t offset, uint64_t len)
{
    PdIO *in = defer_inner(io);
    return in->ops->discard ? in->ops->discard(in, offset, len) : -ENOTSUP;
}

static int defer_allocate(PdIO *io, uint64_t offset, uint64_t len)
{
    PdIO *in = defer_inner(io);
    return in->ops->allocate ? in->ops->allocate(in, offset, len) : -ENOTSUP;
}

static int defer_data_status(PdIO *io, uint64_t offset, uint64_t len, uint64_t *ret_len)
{
    PdIO *in = defer_inner(io);
    return in->ops->data_status ? in->ops->data_status(in, offset, len, ret_len) : -ENOTSUP;
}

static PdIO *defer_open_relative(PdIO *io, const char *name, PdIOFlags flags, GError **error)
{
    PdIO *in = defer_inner(io);
    if (!in->ops->open_relative) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "'%s' cannot open files relative to it ('%s')", io->name, name);
        return NULL;
    }
    return in->ops->open_relative(in, name, flags, error);
}

static void defer_close(PdIO *io)
{
    pd_io_close(defer_inner(io));
    g_free(io->name);
    g_free(io);
}

static const PdIOOps defer_ops = {
    .pread = defer_pread,
    .pwrite = defer_pwrite,
    .flush = defer_flush,
    .truncate = defer_truncate,
    .size = defer_size,
    .allocated = defer_allocated,
    .discard = defer_discard,
    .allocate = defer_allocate,
    .data_status = defer_data_status,
    .open_relative = defer_open_relative,
    .close = defer_close,
};

/* Creates the image in the target's store and opens it over a DeferIO; *ret_store is the
 * real store, for the final flush (owned by the image). */
static PdImage *create_target(PdTarget *t, const PdCreateOptions *create, PdIO **ret_store,
                              GError **error)
{
    PdIO *file = pd_target_take_io(t);
    DeferIO *d = g_new0(DeferIO, 1);
    d->base.ops = &defer_ops;
    d->base.name = g_strdup(file->name);
    d->base.fixed_size = file->fixed_size;
    d->inner = file;
    if (!pd_image_create_io(&d->base, create, error)) {
        pd_io_close(&d->base);
        return NULL;
    }
    *ret_store = file;
    return pd_image_open_io(&d->base, create->format, PD_OPEN_RDWR, error);
}

bool pd_convert_to_new(PdImage *src, const char *path, const PdCreateOptions *create,
                       const PdConvertOptions *opts, GError **error)
{
    PdCreateOptions co = *create;
    if (co.size == 0)
        co.size = pd_image_size(src);
    /* Formats with metadata count whole sectors: a 1000-byte raw becomes 1024 bytes. */
    if (co.format != PD_FORMAT_RAW)
        co.size = align_up(co.size, 512);
    PdConvertOptions copts = *opts;
    copts.target_has_backing = co.backing_file != NULL;

    /* A new file is built under a hidden name and renamed into place when complete; an
     * existing file or device is written in place; the source itself is refused. */
    g_autoptr(PdTarget) t = pd_target_open(path, src, error);
    if (!t)
        return false;
    /* A raw device holds old bytes: zeroes must be written there. */
    copts.target_is_zero = co.backing_file == NULL &&
                           !(pd_target_kind(t) == PD_TARGET_DEVICE && co.format == PD_FORMAT_RAW);
    PdIO *store = NULL;
    PdImage *dst = create_target(t, &co, &store, error);
    copts.no_flush = false; /* the image's flush writes its caches; the store's is below */
    bool ok = dst != NULL && pd_convert_copy(src, dst, &copts, error) &&
              (opts->no_flush || pd_io_flush(store, error));
    pd_image_close(dst);
    return ok && pd_target_finish(t, error);
}
