/* The copy/convert engine: any image to any image, sparse-aware, with optional parallel
 * compression, a progress callback and cancellation.
 *
 * Threads: the calling thread writes the target; one reader thread owns the source (a
 * PdImage is used by one thread at a time, and source and target are different images);
 * with compression, worker threads run pd_image_compress (pure, thread-safe) on clusters.
 * Data moves in big buffers (2 MiB by default) aligned to the target's clusters.
 *
 *   reader ──(segments in order)──▶ [workers: compress clusters] ──▶ writer (caller)
 *      ▲                                                               │
 *      └───────────────── free buffers (bounded: back-pressure) ◀──────┘
 *
 * What is written for each range of the source (status from pd_image_block_status):
 *   data                       -> copied; with sparse_size, zero runs of at least that many
 *                                 bytes inside it are treated as zero ranges
 *   zero / hole                -> nothing if the target reads as zeroes already (fresh
 *                                 target without backing file, or target_is_zero), else
 *                                 pd_image_write_zeroes (may unmap)
 *   target_has_backing: ranges the source's top layer does not allocate are skipped (the
 *                                 target's backing file provides them), zeroes are written.
 */
#pragma once

#include "formats/image/image.h"

G_BEGIN_DECLS

/* Called by the writing thread (the caller's) after each piece: @done of @total bytes of
 * guest data processed. */
typedef void (*PdConvertProgressFunc)(uint64_t done, uint64_t total, void *user_data);

typedef struct {
    bool compress;           /* -c: write compressed clusters (qcow2 targets) */
    bool target_is_zero;     /* the target reads as zeroes already: skip zero ranges */
    bool target_has_backing; /* copy only what the source's top layer allocates (-B) */
    bool out_of_order;       /* -W: write pieces in the order they become ready */
    /* -S: zero runs of at least this many bytes inside data are not written as data
     * (multiple of 512). 0 = no detection at all: the target is fully allocated. */
    uint64_t sparse_size;
    /* Skip the final flush of a raw target (qemu-img convert's default cache mode "unsafe":
     * fast, but a host crash soon after may lose the data). Formats that cache metadata are
     * flushed anyway, to see its write errors. The daemon leaves it false. */
    bool no_flush;
    unsigned threads;   /* compression workers; 0 = one per CPU */
    size_t buffer_size; /* bytes per I/O; 0 = 2 MiB; rounded up to the target's cluster */
    PdConvertProgressFunc progress;
    void *progress_data;
    /* Set (to non-zero, with g_atomic_int_set) from any thread to stop: the call then fails
     * with PD_ERROR_CANCELLED. May be NULL. */
    gint *cancel;
} PdConvertOptions;

/* The -S default of qemu-img. */
#define PD_CONVERT_DEFAULT_SPARSE_SIZE 4096

/* Copies the guest data of @src (all of its backing chain) into @dst, which is open
 * read-write and at least as large. Returns false with @error on
 * failure or cancellation; @dst then holds part of the data (the caller removes it).
 * Flushes @dst at the end (see no_flush). */
bool pd_convert_copy(PdImage *src, PdImage *dst, const PdConvertOptions *opts, GError **error);

/* Creates a new image at @path from @create (its size defaults to the source's) and copies
 * @src into it, by qemu-img's rules (formats/image/target.h): a new file is built under a
 * hidden temporary name in the same directory and renamed into place when complete (on
 * failure or cancellation nothing is left behind); an existing file (links followed) or
 * block device is written in place, keeping its inode, owner and mode; @src or a file of
 * its backing chain is refused. */
bool pd_convert_to_new(PdImage *src, const char *path, const PdCreateOptions *create,
                       const PdConvertOptions *opts, GError **error);

G_END_DECLS
