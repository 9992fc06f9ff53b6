/* vmdk, read-only: opening (a sparse file or a descriptor and its extents), guest reads,
 * block status and info, as qemu-img 7.2 does them. The writer of streamOptimized images is
 * vmdk-stream.c. */
#include "formats/drivers/vmdk/vmdk.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <string.h>

/* qemu's vmdk_probe: a sparse magic, or a text whose first line that is neither a comment
 * nor blank is "version=1", "=2" or "=3". */
static int vmdk_probe(const uint8_t *buf, size_t len, const char *filename)
{
    if (len < 4)
        return 0;
    if (memcmp(buf, VMDK4_MAGIC, 4) == 0 || memcmp(buf, VMDK3_MAGIC, 4) == 0)
        return 100;
    const char *p = (const char *)buf, *end = p + len;
    while (p < end) {
        if (*p == '#') {
            while (p < end && *p != '\n')
                p++;
            p++;
            continue;
        }
        if (*p == ' ') {
            while (p < end && *p == ' ')
                p++;
            if (p < end && *p == '\r')
                p++;
            if (p == end || *p != '\n')
                return 0;
            p++;
            continue;
        }
        for (char v = '1'; v <= '3'; v++) {
            char lf[] = {'v', 'e', 'r', 's', 'i', 'o', 'n', '=', v, '\n'};
            char crlf[] = {'v', 'e', 'r', 's', 'i', 'o', 'n', '=', v, '\r', '\n'};
            if ((size_t)(end - p) >= sizeof lf && memcmp(p, lf, sizeof lf) == 0)
                return 100;
            if ((size_t)(end - p) >= sizeof crlf && memcmp(p, crlf, sizeof crlf) == 0)
                return 100;
        }
        return 0;
    }
    return 0;
}

static VmdkState *state(PdImage *img)
{
    return img->priv;
}

/* Reads up to @max bytes at @offset as a NUL-terminated text. */
static char *read_text(PdIO *io, uint64_t offset, size_t max, GError **error)
{
    char *buf = g_malloc(max + 1);
    if (!pd_io_pread_full(io, buf, max, offset, error)) {
        g_free(buf);
        return NULL;
    }
    buf[max] = '\0';
    return buf;
}

static VmdkExtent *add_extent(VmdkState *s)
{
    s->extents = g_renew(VmdkExtent, s->extents, s->n_extents + 1);
    VmdkExtent *e = &s->extents[s->n_extents++];
    memset(e, 0, sizeof *e);
    return e;
}

/* Places @e after the extents before it. */
static bool place_extent(PdImage *img, VmdkExtent *e, GError **error)
{
    uint64_t end;
    if (!pd_add_u64(img->size, e->length, &end) || end > (uint64_t)INT64_MAX) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "Image '%s': the extents add up to more than 2^63 bytes", img->io->name);
        return false;
    }
    e->start = img->size;
    img->size = end;
    return true;
}

static bool open_sparse_store(PdImage *img, VmdkExtent *e, bool nested, GError **error)
{
    uint8_t head[VMDK_SECTOR];
    if (!pd_io_get_size(e->io, &e->file_size, error) ||
        !pd_io_pread_full(e->io, head, sizeof head, 0, error))
        return false;
    if (memcmp(head, VMDK3_MAGIC, 4) == 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "vmdk extent '%s': VMDK3 (COWD) sparse extents are not supported", e->filename);
        return false;
    }
    if (memcmp(head, VMDK4_MAGIC, 4) != 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT, "vmdk extent '%s': Image not in VMDK format",
                    e->filename);
        return false;
    }
    VmdkHeader h;
    vmdk_header_parse(&h, head);
    if (nested && h.capacity == 0 && h.desc_offset) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "vmdk extent '%s' holds a descriptor of its own: extents naming further "
                    "extents are refused (they can loop)",
                    e->filename);
        return false;
    }
    return vmdk_sparse_open(e, &h, error) && place_extent(img, e, error);
}

/* What users see as an extent's name: the descriptor's directory as written, then the name. */
static char *extent_display_name(const char *image, const char *name)
{
    const char *slash = strrchr(image, '/');
    if (!slash)
        return g_strdup(name);
    return g_strdup_printf("%.*s%s", (int)(slash - image + 1), image, name);
}

static bool open_extent(PdImage *img, const VmdkExtentLine *l, GError **error)
{
    VmdkState *s = state(img);
    VmdkExtent *e = add_extent(s);
    e->filename = extent_display_name(img->io->name, l->filename);
    e->type = g_strdup(l->type);
    g_autoptr(GError) local = NULL;
    if (!img->io->ops->open_relative ||
        !(e->io = img->io->ops->open_relative(img->io, l->filename, PD_IO_RDONLY | PD_IO_BENEATH,
                                              &local))) {
        g_set_error(error, PD_ERROR, local ? local->code : PD_ERROR_UNSUPPORTED,
                    "Image '%s': could not open extent '%s': %s", img->io->name, l->filename,
                    local ? local->message : "its store cannot open other files");
        return false;
    }
    e->own_io = true;
    if (strcmp(l->type, "FLAT") == 0 || strcmp(l->type, "VMFS") == 0) {
        if (l->sectors > INT64_MAX / VMDK_SECTOR || l->flat_offset > INT64_MAX / VMDK_SECTOR) {
            g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                        "Image '%s': extent '%s' is out of range", img->io->name, l->filename);
            return false;
        }
        e->flat = true;
        e->length = (uint64_t)l->sectors * VMDK_SECTOR;
        e->flat_offset = (uint64_t)l->flat_offset * VMDK_SECTOR;
        return pd_io_get_size(e->io, &e->file_size, error) && place_extent(img, e, error);
    }
    if (strcmp(l->type, "SESPARSE") == 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s': seSparse extents ('%s') are not supported", img->io->name,
                    l->filename);
        return false;
    }
    if (!open_sparse_store(img, e, true, error)) { /* SPARSE, VMFSSPARSE */
        g_prefix_error(error, "Image '%s': ", img->io->name);
        return false;
    }
    return true;
}

static bool open_descriptor(PdImage *img, const char *text, GError **error)
{
    VmdkState *s = state(img);
    VmdkDesc d;
    if (!vmdk_desc_parse(img->io->name, text, &d, error))
        return false;
    static const char *const types[] = {"monolithicFlat",       "vmfs",
                                        "vmfsSparse",           "seSparse",
                                        "twoGbMaxExtentSparse", "twoGbMaxExtentFlat"};
    bool known = false;
    for (size_t i = 0; i < G_N_ELEMENTS(types); i++)
        known = known || strcmp(d.create_type, types[i]) == 0;
    if (!known) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s': Unsupported image type '%s'", img->io->name, d.create_type);
        vmdk_desc_clear(&d);
        return false;
    }
    s->create_type = g_strdup(d.create_type);
    for (guint i = 0; i < d.lines->len; i++) {
        if (!open_extent(img, d.lines->pdata[i], error)) {
            vmdk_desc_clear(&d);
            return false;
        }
    }
    vmdk_desc_clear(&d);
    return true;
}

/* CID, parentCID and the parent's name from the descriptor text. */
static bool read_ids(PdImage *img, const char *desc, GError **error)
{
    VmdkState *s = state(img);
    if (!vmdk_desc_cid(desc, false, &s->cid) || !vmdk_desc_cid(desc, true, &s->parent_cid)) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "Image '%s': invalid VMDK descriptor (no CID or parentCID)", img->io->name);
        return false;
    }
    char *parent = NULL;
    if (!vmdk_desc_parent(desc, &parent, error)) {
        g_prefix_error(error, "Image '%s': ", img->io->name);
        return false;
    }
    if (parent) {
        img->backing_name = parent;
        img->backing_format = PD_FORMAT_VMDK;
    }
    return true;
}

static bool vmdk_open_state(PdImage *img, GError **error)
{
    VmdkState *s = g_new0(VmdkState, 1);
    img->priv = s;
    img->size = 0;
    uint64_t size;
    if (!pd_io_get_size(img->io, &size, error))
        return false;
    if (size < 4) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "Image '%s': File is too small, not a valid image", img->io->name);
        return false;
    }
    size_t text_len = (size_t)MIN(size, (uint64_t)VMDK_DESC_MAX);
    g_autofree char *head = read_text(img->io, 0, text_len, error);
    if (!head)
        return false;
    g_autofree char *desc = NULL;
    if (memcmp(head, VMDK4_MAGIC, 4) == 0 || memcmp(head, VMDK3_MAGIC, 4) == 0) {
        VmdkHeader h;
        uint8_t hb[VMDK_SECTOR] = {0};
        memcpy(hb, head, MIN(text_len, sizeof hb));
        vmdk_header_parse(&h, hb);
        if (memcmp(head, VMDK4_MAGIC, 4) == 0 && h.capacity == 0 && h.desc_offset) {
            /* A sparse file holding only a descriptor of further extents. */
            if (h.desc_offset > UINT64_MAX / VMDK_SECTOR)
                return (g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                                    "Image '%s': descriptor offset out of range", img->io->name),
                        false);
            g_autofree char *inner =
                read_text(img->io, h.desc_offset * VMDK_SECTOR, text_len, error);
            if (!inner || !open_descriptor(img, inner, error))
                return false;
        } else {
            VmdkExtent *e = add_extent(s);
            e->io = img->io;
            e->filename = g_strdup(img->io->name);
            if (!open_sparse_store(img, e, false, error))
                return false;
            s->create_type = g_strdup(e->compressed ? "streamOptimized" : "monolithicSparse");
        }
        desc = read_text(img->io, VMDK_SECTOR, VMDK_DESC_SIZE, error);
    } else {
        if (!open_descriptor(img, head, error))
            return false;
        desc = read_text(img->io, 0, VMDK_DESC_SIZE, error);
    }
    return desc && read_ids(img, desc, error);
}

static void vmdk_close(PdImage *img)
{
    VmdkState *s = state(img);
    if (!s)
        return;
    for (size_t i = 0; i < s->n_extents; i++)
        vmdk_extent_clear(&s->extents[i]);
    g_free(s->extents);
    g_free(s->create_type);
    g_free(s);
    img->priv = NULL;
}

/* The driver's open: the image layer calls no close after a failed open (image.c), so what a
 * failed open made is freed here. */
static bool vmdk_open(PdImage *img, GError **error)
{
    if (vmdk_open_state(img, error))
        return true;
    vmdk_close(img);
    return false;
}

/* The extent holding guest byte @offset (< img->size). */
static VmdkExtent *find_extent(VmdkState *s, uint64_t offset)
{
    size_t lo = 0, hi = s->n_extents;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->extents[mid].start <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return &s->extents[lo];
}

static bool grain_allocated(const VmdkExtent *e, uint64_t sector)
{
    return sector != 0 && !(e->zero_grain && sector == VMDK_GTE_ZEROED);
}

/* qemu reads unallocated grains from the parent only while its CID is the child's
 * parentCID. */
static bool check_parent(PdImage *img, GError **error)
{
    VmdkState *s = state(img);
    if (s->parent_checked)
        return true;
    PdImage *b = img->backing;
    if (b->driver->format != PD_FORMAT_VMDK || state(b)->cid != s->parent_cid) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "Image '%s': its parent '%s' is not the image it was made from (parentCID "
                    "%08x, the parent's CID %08x)",
                    img->io->name, img->backing_name, s->parent_cid,
                    b->driver->format == PD_FORMAT_VMDK ? state(b)->cid : 0);
        return false;
    }
    s->parent_checked = true;
    return true;
}

static bool read_unallocated(PdImage *img, uint64_t offset, uint8_t *buf, size_t len,
                             GError **error)
{
    if (!img->backing) {
        memset(buf, 0, len);
        return true;
    }
    return check_parent(img, error) && pd_image_read_backing(img, offset, buf, len, error);
}

/* Guest bytes [rel, rel + len) of a sparse extent. Runs of allocated compressed grains are
 * read together (and inflated in parallel). */
static bool read_sparse(PdImage *img, VmdkExtent *e, uint64_t rel, uint8_t *buf, size_t len,
                        GError **error)
{
    uint64_t run_start = rel, done = 0;
    size_t run_len = 0;
    while (done < len) {
        uint64_t at = rel + done;
        size_t n = (size_t)MIN(len - done, e->grain_bytes - at % e->grain_bytes);
        uint64_t sector;
        if (!vmdk_sparse_lookup(e, at, &sector, error))
            return false;
        bool alloc = grain_allocated(e, sector);
        if (alloc && e->compressed) {
            if (run_len == 0)
                run_start = at;
            run_len += n;
            done += n;
            continue;
        }
        if (run_len &&
            !vmdk_sparse_read_compressed(e, run_start, buf + (run_start - rel), run_len, error))
            return false;
        run_len = 0;
        bool ok;
        if (alloc)
            ok = vmdk_sparse_read_grain(e, sector, at, buf + done, n, error);
        else if (sector == 0)
            ok = read_unallocated(img, e->start + at, buf + done, n, error);
        else
            ok = (memset(buf + done, 0, n), true);
        if (!ok)
            return false;
        done += n;
    }
    return !run_len ||
           vmdk_sparse_read_compressed(e, run_start, buf + (run_start - rel), run_len, error);
}

static bool vmdk_read(PdImage *img, uint64_t offset, void *vbuf, size_t len, GError **error)
{
    VmdkState *s = state(img);
    uint8_t *buf = vbuf;
    while (len > 0) {
        VmdkExtent *e = find_extent(s, offset);
        uint64_t rel = offset - e->start;
        size_t n = (size_t)MIN((uint64_t)len, e->length - rel);
        if (n == 0) {
            g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                        "Image '%s': no extent holds offset %" G_GUINT64_FORMAT, img->io->name,
                        offset);
            return false;
        }
        bool ok = e->flat ? pd_io_pread_full(e->io, buf, n, e->flat_offset + rel, error)
                          : read_sparse(img, e, rel, buf, n, error);
        if (!ok)
            return false;
        buf += n;
        offset += n;
        len -= n;
    }
    return true;
}

static bool flat_status(VmdkExtent *e, uint64_t rel, uint64_t len, PdBlockStatus *ret,
                        GError **error)
{
    uint64_t host = e->flat_offset + rel, run = len;
    int r = e->io->ops->data_status ? e->io->ops->data_status(e->io, host, len, &run) : -ENOTSUP;
    if (r == -ENOTSUP) {
        r = 1;
        run = len;
    } else if (r < 0) {
        pd_error_set_errno(error, -r, "Could not get block status of '%s'", e->filename);
        return false;
    }
    ret->length = MIN(run, len);
    ret->flags =
        PD_BLOCK_ALLOCATED | PD_BLOCK_DATA | PD_BLOCK_OFFSET_VALID | (r ? 0 : PD_BLOCK_ZERO);
    ret->host_offset = host;
    return true;
}

static unsigned grain_flags(const VmdkExtent *e, uint64_t sector)
{
    if (sector == 0)
        return 0;
    if (!grain_allocated(e, sector))
        return PD_BLOCK_ZERO | PD_BLOCK_ALLOCATED;
    return PD_BLOCK_DATA | PD_BLOCK_ALLOCATED |
           (e->compressed ? PD_BLOCK_COMPRESSED : PD_BLOCK_OFFSET_VALID);
}

/* The status of the grain at @rel, extended over the following grains of the same kind
 * (contiguous in the store for plain data). */
static bool sparse_status(VmdkExtent *e, uint64_t rel, uint64_t len, PdBlockStatus *ret,
                          GError **error)
{
    uint64_t sector;
    if (!vmdk_sparse_lookup(e, rel, &sector, error))
        return false;
    unsigned flags = grain_flags(e, sector);
    uint64_t in = rel % e->grain_bytes;
    uint64_t n = MIN(len, e->grain_bytes - in);
    uint64_t next_sector = sector + e->grain_bytes / VMDK_SECTOR;
    for (int steps = 0; n < len && steps < 4096; steps++) {
        uint64_t s2;
        if (!vmdk_sparse_lookup(e, rel + n, &s2, error))
            return false;
        if (grain_flags(e, s2) != flags || ((flags & PD_BLOCK_OFFSET_VALID) && s2 != next_sector))
            break;
        n = MIN(len, n + e->grain_bytes);
        next_sector = s2 + e->grain_bytes / VMDK_SECTOR;
    }
    ret->length = n;
    ret->flags = flags;
    ret->host_offset = (flags & PD_BLOCK_OFFSET_VALID) ? sector * VMDK_SECTOR + in : 0;
    return true;
}

static bool vmdk_block_status(PdImage *img, uint64_t offset, uint64_t len, PdBlockStatus *ret,
                              GError **error)
{
    VmdkExtent *e = find_extent(state(img), offset);
    uint64_t rel = offset - e->start;
    len = MIN(len, e->length - rel);
    if (len == 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "Image '%s': no extent holds offset %" G_GUINT64_FORMAT, img->io->name, offset);
        return false;
    }
    bool ok =
        e->flat ? flat_status(e, rel, len, ret, error) : sparse_status(e, rel, len, ret, error);
    if (ok && (ret->flags & PD_BLOCK_OFFSET_VALID) && e->own_io)
        ret->file = e->filename;
    return ok;
}

static bool vmdk_get_info(PdImage *img, PdImageInfo *ret, GError **error)
{
    VmdkState *s = state(img);
    ret->create_type = g_strdup(s->create_type);
    ret->cid = s->cid;
    ret->parent_cid = s->parent_cid;
    ret->extents = g_array_new(FALSE, TRUE, sizeof(PdExtentInfo));
    uint64_t actual = ret->actual_size;
    for (size_t i = 0; i < s->n_extents; i++) {
        VmdkExtent *e = &s->extents[i];
        PdExtentInfo x = {
            .filename = g_strdup(e->filename),
            .format = g_strdup(e->type ? e->type : ""),
            .virtual_size = e->length,
            .cluster_size = e->flat ? 0 : e->grain_bytes,
            .compressed = e->compressed,
        };
        g_array_append_val(ret->extents, x);
        if (e->own_io) {
            int64_t a = e->io->ops->allocated(e->io);
            actual += a > 0 ? (uint64_t)a : 0;
        }
    }
    ret->actual_size = actual;
    if (s->n_extents && !s->extents[0].flat)
        ret->cluster_size = s->extents[0].grain_bytes;
    return true;
}

const PdImageDriver pd_vmdk_driver = {
    .name = "vmdk",
    .format = PD_FORMAT_VMDK,
    .flags = PD_DRIVER_READ_ONLY,
    .probe = vmdk_probe,
    .open = vmdk_open,
    .close = vmdk_close,
    .read = vmdk_read,
    .block_status = vmdk_block_status,
    .get_info = vmdk_get_info,
};
