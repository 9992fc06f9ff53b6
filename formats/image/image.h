/* PdImage: a disk image (raw, qcow2, or one of the read-only formats) over a PdIO, with its
 * backing chain.
 *
 * formats/ knows no pools, no daemon and no XML. Every call returns true/non-NULL on success
 * or false/NULL with @error set (PD_ERROR domain, message naming the image and the cause).
 * Output parameters are named ret_* and are untouched on failure. A PdImage is used by one
 * thread at a time; the convert engine gives each thread its own work, not its own image. */
#pragma once

#include "formats/io/io.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct PdImage PdImage;

typedef enum {
    PD_FORMAT_UNKNOWN = 0,
    PD_FORMAT_RAW,
    PD_FORMAT_QCOW2,
    PD_FORMAT_VMDK, /* read-only, streamOptimized written by convert */
    PD_FORMAT_VHDX, /* read-only */
    PD_FORMAT_VPC,  /* read-only */
    PD_FORMAT_VDI,  /* read-only */
    PD_FORMAT_QCOW, /* qcow version 1, read-only */
} PdFormat;

/* Format name (qemu's: "raw", "qcow2", "vmdk", ...) <-> PdFormat. pd_format_from_name returns
 * PD_FORMAT_UNKNOWN for names no driver has. */
PdFormat pd_format_from_name(const char *name);
const char *pd_format_name(PdFormat format);
/* Whether poolfmt can create images of @format / opens them read-only only. */
bool pd_format_can_create(PdFormat format);
bool pd_format_read_only(PdFormat format);

typedef enum {
    PD_PREALLOC_OFF = 0,
    PD_PREALLOC_METADATA, /* qcow2 only: every L2 table and data cluster mapped, data sparse */
    PD_PREALLOC_FALLOC,   /* space reserved with fallocate */
    PD_PREALLOC_FULL,     /* zeroes written */
} PdPrealloc;
bool pd_prealloc_from_name(const char *name, PdPrealloc *ret, GError **error);
const char *pd_prealloc_name(PdPrealloc prealloc);

typedef enum {
    PD_COMPRESSION_ZLIB = 0, /* qcow2 compression_type 0: raw deflate */
    PD_COMPRESSION_ZSTD = 1,
} PdCompression;

/* How the backing files of an image are opened: the caller's policy (formats knows no pools).
 * @open gets the store of the image that names the backing file (@overlay), the name as its
 * header records it, the recorded format (PD_FORMAT_UNKNOWN when none is recorded: the
 * engine probes it afterwards), the store of the chain's top image (@top, for messages) and
 * @data. It returns a read-only store, or NULL with @error set (the engine adds which image
 * names the file). Called on whatever thread opens the image; it must not block without
 * bound. Loops are the engine's: a store whose (st_dev, st_ino) is already in the chain is
 * refused after @open returns it, and chains deeper than PD_MAX_BACKING_DEPTH as well. */
typedef struct {
    PdIO *(*open)(PdIO *overlay, const char *name, PdFormat format, PdIO *top, void *data,
                  GError **error);
    void *data;
} PdBackingOpener;

/* What a new image looks like. Zero-initialised = raw, no size. Options that do not apply
 * to the format are an error (as qemu-img), except the defaults. */
typedef struct {
    PdFormat format;
    uint64_t size; /* virtual size; 0 with a backing file = the backing file's size */
    PdPrealloc prealloc;
    /* qcow2 */
    int compat;            /* 2 (0.10) or 3 (1.1); 0 = 3 */
    uint32_t cluster_size; /* 512..2 MiB, power of two; 0 = 64 KiB */
    int refcount_bits;     /* 1..64, power of two; 0 = 16 */
    bool lazy_refcounts;   /* compat 3 only */
    bool extended_l2;      /* compat 3 only; subclusters */
    PdCompression compression_type;
    const char *backing_file; /* stored as given; resolved relative to the new image */
    PdFormat backing_format;  /* recorded in the header extension; UNKNOWN = not recorded */
    /* opens backing_file (to check it and take its size); NULL = the process default */
    const PdBackingOpener *backing_opener;
} PdCreateOptions;

typedef enum {
    PD_OPEN_RDONLY = 0,
    PD_OPEN_RDWR = 1 << 0,
    PD_OPEN_NO_BACKING = 1 << 1, /* do not open the backing chain (info, rebase -u) */
    PD_OPEN_CHECK_ONLY = 1 << 2, /* open a damaged image as far as check/repair needs */
    /* pd_image_open: take QEMU's image locks on the file (PD_IO_LOCK): a write open is
     * refused while a running QEMU uses the image, a read-only one while a QEMU writes it
     * (unless PD_OPEN_FORCE_SHARE). Backing files are opened without locks. */
    PD_OPEN_LOCK = 1 << 8,
    PD_OPEN_FORCE_SHARE = 1 << 9, /* with PD_OPEN_LOCK, read-only: qemu-img's -U */
} PdOpenFlags;

/* How deep a backing chain may be before open refuses it. */
#define PD_MAX_BACKING_DEPTH 16

/* The default opener, qemu-img's rules: a relative name counts from the overlay's directory
 * (or export), through the overlay store's open_relative, non-blocking and data only
 * (PD_IO_DATA_ONLY: FIFOs, sockets and character devices are refused). */
PdIO *pd_backing_open_default(PdIO *overlay, const char *name, PdFormat format, PdIO *top,
                              void *data, GError **error);
/* Sets the opener every open and create of this process uses when it is given none
 * (pd_image_open, pd_image_open_io, pd_image_create and pd_image_create_io with
 * opts->backing_opener NULL); NULL restores pd_backing_open_default. A program with a policy
 * on backing files (poold) sets it once, before any thread opens an image; @opener must
 * outlive every open. */
void pd_image_set_default_backing_opener(const PdBackingOpener *opener);

/* Creates an image at @path; fails with PD_ERROR_EXISTS if @path exists and !overwrite.
 * On failure nothing is left behind at @path. */
bool pd_image_create(const char *path, const PdCreateOptions *opts, bool overwrite, GError **error);
/* Creates an image in an already open, empty, writable store. */
bool pd_image_create_io(PdIO *io, const PdCreateOptions *opts, GError **error);

/* Opens @path as @format (PD_FORMAT_UNKNOWN: probe the contents; a caller that knows the
 * format must pass it: a guest can write a qcow2 header into a raw disk). */
PdImage *pd_image_open(const char *path, PdFormat format, PdOpenFlags flags, GError **error);
/* Same over a store; the image owns @io from then on, also on failure. */
PdImage *pd_image_open_io(PdIO *io, PdFormat format, PdOpenFlags flags, GError **error);
/* Same with the backing chain opened through @backing (NULL: the process default). */
PdImage *pd_image_open_io_with(PdIO *io, PdFormat format, PdOpenFlags flags,
                               const PdBackingOpener *backing, GError **error);
/* Flushes (errors ignored: call pd_image_flush first when they matter) and frees the
 * image and its backing chain. NULL is fine. */
void pd_image_close(PdImage *img);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdImage, pd_image_close)

/* Guesses the format of a store from its first bytes: every driver scores the head, the best
 * score wins, raw when none matches (and for an empty store). A format poolfmt recognises
 * but cannot read (qed, luks, ...) is an error, not raw. Only for stores whose format is
 * not recorded: a recorded format is never guessed over. */
PdFormat pd_image_probe(PdIO *io, GError **error);

PdFormat pd_image_format(PdImage *img);
uint64_t pd_image_size(PdImage *img); /* virtual size in bytes */
const char *pd_image_name(PdImage *img);
PdIO *pd_image_io(PdImage *img);
PdImage *pd_image_backing(PdImage *img); /* NULL if none or not opened */
bool pd_image_read_only(PdImage *img);
/* Whether the format was guessed (opened with PD_FORMAT_UNKNOWN). A guessed raw image
 * refuses writes that would make block 0 look like another format. */
bool pd_image_probed(PdImage *img);

/* Guest-visible I/O. Reads past the end of a backing file (shorter than its overlay) read
 * zeroes. Requests must lie inside the virtual size. */
bool pd_image_read(PdImage *img, uint64_t offset, void *buf, size_t len, GError **error);
bool pd_image_write(PdImage *img, uint64_t offset, const void *buf, size_t len, GError **error);

typedef enum {
    PD_ZERO_MAY_UNMAP = 1 << 0, /* the range may be deallocated (reads as zeroes anyway) */
} PdZeroFlags;
bool pd_image_write_zeroes(PdImage *img, uint64_t offset, uint64_t len, PdZeroFlags flags,
                           GError **error);
/* Drops the range. Afterwards it reads as zeroes or, for an overlay, as the backing file;
 * like qemu's discard it is a hint: unaligned parts may keep their data. */
bool pd_image_discard(PdImage *img, uint64_t offset, uint64_t len, GError **error);
bool pd_image_flush(PdImage *img, GError **error);

/* Status of guest data, for map, sparse copies and compare. */
typedef enum {
    PD_BLOCK_DATA = 1 << 0,         /* reads may be non-zero */
    PD_BLOCK_ZERO = 1 << 1,         /* reads as zeroes for sure */
    PD_BLOCK_ALLOCATED = 1 << 2,    /* decided at @depth (else: no layer has it) */
    PD_BLOCK_OFFSET_VALID = 1 << 3, /* host_offset is where the data lies in that layer */
    PD_BLOCK_COMPRESSED = 1 << 4,
} PdBlockFlags;

typedef struct {
    uint64_t length;      /* bytes from the queried offset with this same status (>0) */
    unsigned flags;       /* PdBlockFlags */
    int depth;            /* 0 = this image, 1 = its backing file, ... */
    uint64_t host_offset; /* valid with PD_BLOCK_OFFSET_VALID */
    PdImage *layer;       /* the image at @depth (not owned) */
    /* The store host_offset refers to when it is not the layer's own (a vmdk extent file),
     * as users see its name; NULL otherwise. Valid while the image is open. */
    const char *file;
} PdBlockStatus;

/* Status of [offset, offset+len), len > 0, through the whole backing chain. */
bool pd_image_block_status(PdImage *img, uint64_t offset, uint64_t len, PdBlockStatus *ret,
                           GError **error);
/* Same, but for this layer only: without PD_BLOCK_ALLOCATED the range comes from backing. */
bool pd_image_block_status_layer(PdImage *img, uint64_t offset, uint64_t len, PdBlockStatus *ret,
                                 GError **error);

/* Grows or shrinks the virtual size. Shrinking needs @allow_shrink (data past the new end
 * is lost: callers check first). New space is preallocated as @prealloc says. */
bool pd_image_resize(PdImage *img, uint64_t new_size, PdPrealloc prealloc, bool allow_shrink,
                     GError **error);

/* One extent of an image made of several stores (vmdk), as qemu-img info lists it. */
typedef struct {
    char *filename;
    char *format; /* the extent's type as recorded ("FLAT", "SPARSE"); "" in a single file */
    uint64_t virtual_size;
    uint64_t cluster_size; /* 0 for flat extents */
    bool compressed;
} PdExtentInfo;

typedef struct {
    char *filename;
    PdFormat format;
    uint64_t virtual_size;
    uint64_t actual_size;  /* bytes allocated in the store */
    uint64_t cluster_size; /* 0 for raw */
    char *backing_file;    /* as recorded */
    char *full_backing_filename;
    PdFormat backing_format; /* as recorded; UNKNOWN if not */
    /* qcow2 */
    int compat; /* 2 or 3 */
    bool lazy_refcounts;
    int refcount_bits;
    bool corrupt;
    bool dirty; /* incompatible feature bit 0 */
    bool extended_l2;
    PdCompression compression_type;
    uint32_t bitmap_count; /* persistent bitmaps present (kept intact) */
    size_t snapshot_count;
    /* vmdk */
    char *create_type; /* "monolithicSparse", "streamOptimized", ... */
    uint32_t cid;
    uint32_t parent_cid;
    GArray *extents; /* PdExtentInfo; NULL when the format has none */
} PdImageInfo;
bool pd_image_get_info(PdImage *img, PdImageInfo *ret, GError **error);
/* What pd_image_get_info says of the image at @path (@format, or probed when UNKNOWN),
 * reading only its header: no mapping or refcount tables, no snapshot table, no backing
 * chain; for listings of many volumes (a pool refresh). snapshot_count is the header's. */
bool pd_image_read_info(const char *path, PdFormat format, PdImageInfo *ret, GError **error);
/* The same over a store, which the call owns (closes) from then on, also on failure. */
bool pd_image_read_info_io(PdIO *io, PdFormat format, PdImageInfo *ret, GError **error);
void pd_image_info_clear(PdImageInfo *info);

/* Internal snapshots (qcow2). Raw answers PD_ERROR_UNSUPPORTED. */
typedef struct {
    char *id; /* "1", "2", ... */
    char *name;
    uint64_t vm_state_size;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t disk_size; /* virtual size when taken */
    uint64_t icount;    /* UINT64_MAX when not recorded */
} PdSnapshotInfo;
void pd_snapshot_info_clear(PdSnapshotInfo *snap);

/* Returns an array of PdSnapshotInfo (free with g_array_unref). */
GArray *pd_image_snapshot_list(PdImage *img, GError **error);
bool pd_image_snapshot_create(PdImage *img, const char *name, GError **error);
/* @id_or_name: an id ("3") or a name; ids win, as in qemu. */
bool pd_image_snapshot_apply(PdImage *img, const char *id_or_name, GError **error);
bool pd_image_snapshot_delete(PdImage *img, const char *id_or_name, GError **error);

typedef enum {
    PD_CHECK_NO_FIX = 0,
    PD_CHECK_FIX_LEAKS = 1 << 0,
    PD_CHECK_FIX_ERRORS = 1 << 1,
} PdCheckFix;

typedef struct {
    uint64_t corruptions;
    uint64_t leaks;
    uint64_t check_errors; /* the check itself could not read something */
    uint64_t corruptions_fixed;
    uint64_t leaks_fixed;
    uint64_t image_end_offset;
    uint64_t total_clusters; /* virtual size in clusters */
    uint64_t allocated_clusters;
    uint64_t fragmented_clusters;
    uint64_t compressed_clusters;
    GPtrArray *messages; /* char *, one line per problem as qemu-img prints them */
    /* PD_CHECK_FIX_LEAKS alone stopped before repairing anything: only rebuilding the
     * refcount structure (PD_CHECK_FIX_ERRORS) can repair this image. */
    bool needs_rebuild;
} PdCheckResult;
void pd_check_result_clear(PdCheckResult *res);

/* Checks (and with @fix repairs) metadata consistency. Returns false only when the check
 * could not run; problems found are counted in @ret. */
bool pd_image_check(PdImage *img, PdCheckFix fix, PdCheckResult *ret, GError **error);

/* Changes header options of an existing image (compat 2<->3, lazy_refcounts). Only the
 * fields named in @set are changed. */
typedef enum {
    PD_AMEND_COMPAT = 1 << 0,
    PD_AMEND_LAZY_REFCOUNTS = 1 << 1,
} PdAmendFields;
bool pd_image_amend(PdImage *img, const PdCreateOptions *opts, PdAmendFields set, GError **error);

/* Rewrites the backing file reference (no data is touched: that is rebase's job). */
bool pd_image_set_backing(PdImage *img, const char *backing_file, PdFormat backing_format,
                          GError **error);

/* Empties the image's own layer: afterwards everything reads from its backing file (commit
 * does this to the overlay it committed). Internal snapshots are kept. PD_ERROR_UNSUPPORTED
 * for formats without a backing file (raw). */
bool pd_image_make_empty(PdImage *img, GError **error);

/* Compressed writes for convert -c. compress is thread-safe and pure: it turns one cluster
 * of guest data into the format's compressed bytes (returns the length, 0 when compression
 * does not pay and the cluster should be written plain, -1 with @error on failure).
 * write_compressed stores them for the cluster at @offset (cluster-aligned) in a fresh image
 * or an unallocated cluster. Both PD_ERROR_UNSUPPORTED for raw. */
size_t pd_image_cluster_size(PdImage *img); /* granularity of compression; 0 for raw */
ssize_t pd_image_compress(PdImage *img, const void *cluster, void *out, size_t out_len,
                          GError **error);
bool pd_image_write_compressed(PdImage *img, uint64_t offset, const void *data, size_t len,
                               GError **error);

/* Size a new image would need on disk for @size of guest data (measure). */
typedef struct {
    uint64_t required;
    uint64_t fully_allocated;
    uint64_t bitmaps;
} PdMeasure;
bool pd_image_measure(const PdCreateOptions *opts, PdImage *source, PdMeasure *ret, GError **error);

G_END_DECLS
