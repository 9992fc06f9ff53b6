/* The format driver vtable behind PdImage (internal to formats/).
 *
 * image.c does what every format shares: argument and bounds checks, read-only checks,
 * opening the backing chain, and walking it for block status. A driver only handles its own
 * layer. Callbacks marked optional may be NULL; image.c then answers PD_ERROR_UNSUPPORTED
 * naming the format. Every callback returns true/false with @error set, like image.h. */
#pragma once

#include "formats/image/image.h"

typedef struct PdImageDriver PdImageDriver;

/* How many bytes of the head of a store the probe callbacks see (qemu's probe buffer). */
#define PD_PROBE_HEAD_SIZE 512

/* What a driver can do (PdImageDriver.flags). */
typedef enum {
    /* No write side: image.c refuses PD_OPEN_RDWR and every write-side call, naming the
     * format; the driver fills in open, close, read, block_status and get_info only. */
    PD_DRIVER_READ_ONLY = 1 << 0,
} PdDriverFlags;

struct PdImage {
    const PdImageDriver *driver;
    PdIO *io; /* owned */
    PdOpenFlags flags;
    uint64_t size;    /* virtual size; the driver keeps it current */
    PdImage *backing; /* owned; NULL if none or not opened */
    int depth;        /* 0 for the top image, +1 per backing level */
    PdImage *overlay; /* the image whose backing file this is; NULL for the top (not owned) */
    const PdBackingOpener *opener; /* opens the backing files of the whole chain */
    /* Set by the driver's open when the image names a backing file: */
    char *backing_name; /* as recorded */
    PdFormat backing_format;
    void *priv; /* the driver's state */
    /* pd_image_read_info: the driver's open reads what get_info reports (the header) and
     * nothing more; the image is closed right after get_info. */
    bool header_only;
    /* The format was guessed from the contents (no format given). */
    bool probed;
};

struct PdImageDriver {
    const char *name;
    PdFormat format;
    unsigned flags; /* PdDriverFlags */

    /* How surely @head (the first PD_PROBE_HEAD_SIZE bytes of the store, zeroes past its
     * end) is this format: 0 = not at all, 100 = its magic; raw answers 1. The best score
     * wins (image/registry.c). @filename may be NULL. Optional (never guessed). */
    int (*probe)(const uint8_t *head, size_t len, const char *filename);

    /* Everything below marked Required is required of writable drivers; a read-only driver
     * (PD_DRIVER_READ_ONLY) needs open, close, read and block_status.
     * Creates the format's structures in an empty writable store. Optional (NULL: the
     * format cannot be created). */
    bool (*create)(PdIO *io, const PdCreateOptions *opts, GError **error);
    /* Reads the header and fills img->size, img->priv, img->backing_name/format.
     * Must refuse unsupported incompatible features. Required. */
    bool (*open)(PdImage *img, GError **error);
    /* Frees img->priv (flushing what it can). Required. */
    void (*close)(PdImage *img);

    /* Guest I/O on this layer; bounds already checked. Unallocated ranges of a read come
     * from img->backing (pd_image_read on it, zeroes past its end) or zeroes. Required. */
    bool (*read)(PdImage *img, uint64_t offset, void *buf, size_t len, GError **error);
    bool (*write)(PdImage *img, uint64_t offset, const void *buf, size_t len, GError **error);
    bool (*write_zeroes)(PdImage *img, uint64_t offset, uint64_t len, PdZeroFlags flags,
                         GError **error);
    bool (*discard)(PdImage *img, uint64_t offset, uint64_t len, GError **error);
    bool (*flush)(PdImage *img, GError **error);
    /* This layer's status at @offset (see pd_image_block_status_layer). Required. */
    bool (*block_status)(PdImage *img, uint64_t offset, uint64_t len, PdBlockStatus *ret,
                         GError **error);
    bool (*resize)(PdImage *img, uint64_t new_size, PdPrealloc prealloc, GError **error);
    /* Fills the format-specific fields of @ret (image.c fills the common ones). */
    bool (*get_info)(PdImage *img, PdImageInfo *ret, GError **error);

    /* Optional. */
    GArray *(*snapshot_list)(PdImage *img, GError **error);
    bool (*snapshot_create)(PdImage *img, const char *name, GError **error);
    bool (*snapshot_apply)(PdImage *img, const char *id_or_name, GError **error);
    bool (*snapshot_delete)(PdImage *img, const char *id_or_name, GError **error);
    bool (*check)(PdImage *img, PdCheckFix fix, PdCheckResult *ret, GError **error);
    bool (*amend)(PdImage *img, const PdCreateOptions *opts, PdAmendFields set, GError **error);
    bool (*set_backing)(PdImage *img, const char *backing_file, PdFormat backing_format,
                        GError **error);
    /* Drops every cluster of the active layer (pd_image_make_empty). */
    bool (*make_empty)(PdImage *img, GError **error);
    size_t (*cluster_size)(PdImage *img);
    ssize_t (*compress)(PdImage *img, const void *cluster, void *out, size_t out_len,
                        GError **error);
    bool (*write_compressed)(PdImage *img, uint64_t offset, const void *data, size_t len,
                             GError **error);
    bool (*measure)(const PdCreateOptions *opts, PdImage *source, PdMeasure *ret, GError **error);
};

extern const PdImageDriver pd_raw_driver;
extern const PdImageDriver pd_qcow2_driver;
extern const PdImageDriver pd_vmdk_driver;
extern const PdImageDriver pd_vhdx_driver;
extern const PdImageDriver pd_vdi_driver;

/* The registry (image/registry.c): the driver of @format, NULL if there is none. */
const PdImageDriver *pd_image_driver_for(PdFormat format);
/* The driver whose probe scores @head best (raw when none matches), with @ret_score; NULL
 * with @error when the head is a format poolfmt recognises but cannot read. */
const PdImageDriver *pd_image_probe_head(const uint8_t *head, size_t len, const char *filename,
                                         int *ret_score, GError **error);

/* Runs fn(0..n-1, data) spread over the machine's cores (the caller's thread among them) and
 * returns when all are done. For pure CPU work within one request (inflating grains): @fn
 * must be thread-safe and must not call back into the image. */
void pd_parallel_for(size_t n, void (*fn)(size_t i, void *data), void *data);

/* Reads [offset, offset+len) of @img's backing file into @buf, zeroes where there is none
 * or past its end. For drivers serving unallocated ranges. */
bool pd_image_read_backing(PdImage *img, uint64_t offset, void *buf, size_t len, GError **error);
