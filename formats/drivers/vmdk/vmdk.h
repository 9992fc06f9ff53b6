/* vmdk (read-only, as qemu-img 7.2 reads it): the on-disk layout and the driver's state.
 *
 * A vmdk image is either one file that starts with a sparse extent header ("KDMV":
 * monolithicSparse, streamOptimized) or a text descriptor naming extent files (monolithicFlat,
 * twoGbMaxExtentSparse/-Flat, vmfs). Extent names are resolved beneath the descriptor's
 * directory (PD_IO_BENEATH); extents never name further descriptors, so there is no loop.
 *
 * Sparse extent header (little-endian, after the 4-byte magic "KDMV"):
 *   4 version  8 flags  12 capacity (sectors)  20 grain size (sectors)  28 descriptor offset
 *   36 descriptor size  44 entries per grain table  48 redundant GD  56 grain directory (GD)
 *   64 first grain  72 unclean shutdown  73 newline check bytes  77 compression algorithm
 * A grain directory entry is the sector of a grain table; a grain table entry is the sector
 * of a grain, 0 unallocated, 1 zeroed (with the zeroed-grain flag). streamOptimized images
 * have their GD at the end (gd offset ~0: the footer, 1536 bytes before the end, holds the
 * real header) and compressed grains: a marker (lba u64, size u32) then zlib data. */
#pragma once

#include "formats/image/image-driver.h"

#define VMDK_SECTOR           512
#define VMDK4_MAGIC           "KDMV"
#define VMDK3_MAGIC           "COWD"
#define VMDK_FLAG_RGD         (1u << 1)
#define VMDK_FLAG_ZERO_GRAIN  (1u << 2)
#define VMDK_FLAG_COMPRESS    (1u << 16)
#define VMDK_FLAG_MARKER      (1u << 17)
#define VMDK_COMPRESS_DEFLATE 1
#define VMDK_GD_AT_END        UINT64_MAX
#define VMDK_MARKER_EOS       0
#define VMDK_MARKER_GT        1
#define VMDK_MARKER_GD        2
#define VMDK_MARKER_FOOTER    3
#define VMDK_GTE_ZEROED       1
/* qemu's limits: a grain of at most 1 GiB, 512 entries per grain table, 32 Mi GD entries. */
#define VMDK_MAX_GRAIN_SECTORS 0x200000ULL
#define VMDK_MAX_GTES          512
#define VMDK_MAX_GD_ENTRIES    (32u * 1024 * 1024)
#define VMDK_MAX_EXTENTS       4096
#define VMDK_DESC_MAX          ((1 << 20) - 1)    /* bytes of a descriptor file read */
#define VMDK_DESC_SIZE         (20 * VMDK_SECTOR) /* what qemu reads for CID and parent */
#define VMDK_GT_CACHE          256

typedef struct {
    uint32_t version;
    uint32_t flags;
    uint64_t capacity; /* sectors */
    uint64_t granularity;
    uint64_t desc_offset;
    uint64_t desc_size;
    uint32_t num_gtes;
    uint64_t rgd_offset;
    uint64_t gd_offset;
    uint64_t grain_offset;
    uint16_t compress_algorithm;
} VmdkHeader;

typedef struct {
    int64_t l1; /* -1: empty slot */
    uint32_t *entries;
} VmdkGtSlot;

typedef struct {
    PdIO *io;    /* owned unless it is the image's own store */
    bool own_io; /* io belongs to this extent */
    char *filename;
    char *type; /* as recorded in the descriptor; NULL in a single file */
    bool flat;
    uint64_t start;       /* guest byte where the extent begins */
    uint64_t length;      /* guest bytes */
    uint64_t flat_offset; /* flat: byte of the store where the guest data begins */
    uint64_t file_size;
    /* sparse */
    bool compressed;
    bool has_marker;
    bool zero_grain;
    uint64_t grain_bytes;
    uint32_t num_gtes;
    uint32_t *gd;
    uint32_t gd_len;
    VmdkGtSlot gt_cache[VMDK_GT_CACHE];
} VmdkExtent;

typedef struct {
    VmdkExtent *extents;
    size_t n_extents;
    char *create_type;
    uint32_t cid;
    uint32_t parent_cid;
    bool parent_checked;
} VmdkState;

/* Little-endian fields at any address. */
static inline uint32_t vmdk_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t vmdk_le64(const uint8_t *p)
{
    return (uint64_t)vmdk_le32(p) | (uint64_t)vmdk_le32(p + 4) << 32;
}
static inline void vmdk_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void vmdk_put_le64(uint8_t *p, uint64_t v)
{
    vmdk_put_le32(p, (uint32_t)v);
    vmdk_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* vmdk-sparse.c */
void vmdk_header_parse(VmdkHeader *h, const uint8_t *buf); /* buf: 512 bytes from offset 0 */
/* Reads the header (the footer's for streamOptimized) of the sparse extent in @e->io and
 * loads its grain directory; sets e->length from the capacity. */
bool vmdk_sparse_open(VmdkExtent *e, const VmdkHeader *h, GError **error);
/* Where guest byte @rel of the extent lies: 0 = unallocated, 1 = zeroed, else the store
 * sector of the grain (compressed: of its marker). */
bool vmdk_sparse_lookup(VmdkExtent *e, uint64_t rel, uint64_t *ret_sector, GError **error);
/* Reads @len bytes of guest data at @rel, which lie in one grain at @sector. */
bool vmdk_sparse_read_grain(VmdkExtent *e, uint64_t sector, uint64_t rel, uint8_t *buf, size_t len,
                            GError **error);
/* Reads [rel, rel + len) of a compressed extent whose grains are all allocated, inflating
 * them on every core. Falls back to grain by grain when the grains are not close together. */
bool vmdk_sparse_read_compressed(VmdkExtent *e, uint64_t rel, uint8_t *buf, size_t len,
                                 GError **error);
void vmdk_extent_clear(VmdkExtent *e);

/* vmdk-desc.c */
typedef struct {
    char *create_type;
    GPtrArray *lines; /* VmdkExtentLine * */
} VmdkDesc;
typedef struct {
    int64_t sectors;
    char type[11];
    char *filename;
    int64_t flat_offset; /* sectors; -1 if not given */
} VmdkExtentLine;
/* Parses the extents of a descriptor file as qemu does (lines "RW sectors TYPE "name"
 * [offset]"; other access modes and unknown types are not extents). */
bool vmdk_desc_parse(const char *image, const char *text, VmdkDesc *ret, GError **error);
void vmdk_desc_clear(VmdkDesc *desc);
/* The value of `key="value"` as qemu finds it (the first occurrence of @key), or NULL. */
char *vmdk_desc_value(const char *text, const char *key);
/* CID / parentCID (hex) of a descriptor; false if missing. */
bool vmdk_desc_cid(const char *text, bool parent, uint32_t *ret);
/* parentFileNameHint, or NULL. Errors on a hint too long or unterminated. */
bool vmdk_desc_parent(const char *text, char **ret, GError **error);
