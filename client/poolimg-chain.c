/* poolimg commit and rebase: moving data along a backing chain. */
#include "client/poolimg-args.h"
#include "client/poolimg.h"
#include "common/pd-error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_CHUNK (2 * 1024 * 1024)

static bool same_file(const char *a, const char *b)
{
    g_autofree char *ra = realpath(a, NULL);
    g_autofree char *rb = realpath(b, NULL);
    return ra && rb && strcmp(ra, rb) == 0;
}

/* ---- commit ----------------------------------------------------------------------- */

/* Copies into @base every range that a layer above it (depth < @base_depth) allocates. */
static bool commit_data(PdImage *top, PdImage *base, int base_depth, PiProgress *progress,
                        GError **error)
{
    uint64_t size = pd_image_size(top);
    g_autofree uint8_t *buf = g_malloc(CHAIN_CHUNK);
    for (uint64_t off = 0; off < size;) {
        PdBlockStatus st;
        if (!pd_image_block_status(top, off, MIN(size - off, (uint64_t)CHAIN_CHUNK), &st, error))
            return false;
        bool above = (st.flags & PD_BLOCK_ALLOCATED) && st.depth < base_depth;
        if (above && (st.flags & PD_BLOCK_ZERO)) {
            if (!pd_image_write_zeroes(base, off, st.length, 0, error))
                return false;
        } else if (above) {
            if (!pd_image_read(top, off, buf, st.length, error) ||
                !pd_image_write(base, off, buf, st.length, error))
                return false;
        }
        off += st.length;
        pi_progress_cb(off, size, progress);
    }
    return pd_image_flush(base, error);
}

int pi_cmd_commit(int argc, char **argv)
{
    const char *fmt = NULL, *base_name = NULL;
    bool quiet = false, drop = false, show_progress = false;
    const PiArg table[] = {
        PI_STRING('f', NULL, &fmt),
        PI_STRING('b', NULL, &base_name),
        PI_FLAG('d', NULL, &drop),
        PI_FLAG('p', NULL, &show_progress),
        PI_FLAG('q', NULL, &quiet),
        PI_IGNORE_VALUE('t', NULL),
        PI_IGNORE_VALUE('r', NULL),
        PI_IGNORE(0, "force-share"),
        PI_OBJECT,
        PI_IMAGE_OPTS,
    };
    const PiArgSpec spec = {table, G_N_ELEMENTS(table)};
    PiArgs args;
    int r = pi_args_parse(&spec, argc, argv, &args);
    if (r >= 0)
        return r;
    if (base_name)
        drop = true; /* -b implies -d, as qemu-img */
    if (args.n_pos != 1)
        return pi_usage_error("Expecting one image file name");
    PdFormat format;
    if (!pi_parse_format(fmt, &format))
        return 1;
    g_autoptr(PdImage) top = pi_open(args.pos[0], format, PD_OPEN_RDWR);
    if (!top)
        return 1;
    PdImage *layer = pd_image_backing(top);
    int depth = 1;
    if (!layer) {
        pi_error("Image does not have a backing file");
        return 1;
    }
    while (base_name && layer && !same_file(pd_image_name(layer), base_name)) {
        layer = pd_image_backing(layer);
        depth++;
    }
    if (!layer) {
        pi_error("Did not find '%s' in the backing chain of '%s'", base_name, args.pos[0]);
        return 1;
    }
    /* The base is opened with its own backing chain: a write that allocates only part of
     * one of its clusters completes the cluster from what the base reads through there. */
    g_autoptr(PdImage) base = pi_open(pd_image_name(layer), pd_image_format(layer), PD_OPEN_RDWR);
    if (!base)
        return 1;
    GError *error = NULL;
    if (pd_image_size(base) < pd_image_size(top) &&
        !pd_image_resize(base, pd_image_size(top), PD_PREALLOC_OFF, false, &error))
        return pi_fail(error, 1);
    PiProgress progress = {.enabled = show_progress && !quiet, .last = -1};
    pi_progress_cb(0, pd_image_size(top), &progress);
    if (!commit_data(top, base, depth, &progress, &error))
        return pi_fail(error, 1);
    g_clear_pointer(&base, pd_image_close);
    /* The overlay's data is in the base now: it is emptied in place (its inode, owner and
     * mode stay; internal snapshots are kept), as qemu-img's commit does. */
    if (!drop && (!pd_image_make_empty(top, &error) || !pd_image_flush(top, &error)))
        return pi_fail(error, 1);
    pi_progress_end(&progress);
    if (!quiet)
        printf("Image committed.\n");
    return 0;
}

/* ---- rebase ----------------------------------------------------------------------- */

/* Safe rebase: where @img's own layer does not allocate, what it reads through the old
 * chain must still read the same over @new_backing (NULL: none, zeroes). Writes the
 * differing blocks (of @block bytes) into @img. */
static bool rebase_copy(PdImage *img, PdImage *new_backing, PiProgress *progress, GError **error)
{
    uint64_t size = pd_image_size(img);
    uint64_t nsize = new_backing ? pd_image_size(new_backing) : 0;
    size_t block = pd_image_cluster_size(img) ? pd_image_cluster_size(img) : 65536;
    size_t chunk = (size_t)MAX((size_t)CHAIN_CHUNK, block);
    g_autofree uint8_t *old_buf = g_malloc(chunk);
    g_autofree uint8_t *new_buf = g_malloc(chunk);
    for (uint64_t off = 0; off < size;) {
        PdBlockStatus st;
        uint64_t want = MIN(size - off, (uint64_t)chunk - off % chunk);
        if (!pd_image_block_status_layer(img, off, want, &st, error))
            return false;
        uint64_t len = st.length;
        if (!(st.flags & PD_BLOCK_ALLOCATED)) {
            if (!pd_image_read(img, off, old_buf, len, error))
                return false;
            memset(new_buf, 0, len);
            if (off < nsize &&
                !pd_image_read(new_backing, off, new_buf, MIN(len, nsize - off), error))
                return false;
            /* Write differing blocks, aligned to the image's clusters. */
            for (uint64_t p = off; p < off + len;) {
                uint64_t n = MIN(off + len, (p / block + 1) * block) - p;
                size_t i = (size_t)(p - off);
                if (memcmp(old_buf + i, new_buf + i, n) != 0 &&
                    !pd_image_write(img, p, old_buf + i, n, error))
                    return false;
                p += n;
            }
        }
        off += len;
        pi_progress_cb(off, size, progress);
    }
    return true;
}

typedef struct {
    const char *fmt, *backing, *backing_fmt;
    bool unsafe, quiet, progress;
} RebaseArgs;

/* Opens the new backing file relative to @filename's directory, as the image will. */
static PdImage *open_new_backing(const char *filename, const char *backing, PdFormat *format)
{
    g_autofree char *dir = g_path_get_dirname(filename);
    g_autofree char *path =
        g_path_is_absolute(backing) ? g_strdup(backing) : g_build_filename(dir, backing, NULL);
    PdImage *b = pi_open(path, *format, PD_OPEN_RDONLY);
    if (b)
        *format = pd_image_format(b);
    return b;
}

int pi_cmd_rebase(int argc, char **argv)
{
    RebaseArgs a = {0};
    const PiArg table[] = {
        PI_STRING('f', NULL, &a.fmt),
        PI_STRING('b', NULL, &a.backing),
        PI_STRING('F', NULL, &a.backing_fmt),
        PI_FLAG('u', NULL, &a.unsafe),
        PI_FLAG('p', NULL, &a.progress),
        PI_FLAG('q', NULL, &a.quiet),
        PI_IGNORE_VALUE('t', NULL),
        PI_IGNORE_VALUE('T', NULL),
        PI_OBJECT,
        PI_IMAGE_OPTS,
        PI_FORCE_SHARE,
    };
    const PiArgSpec spec = {table, G_N_ELEMENTS(table)};
    PiArgs args;
    int r = pi_args_parse(&spec, argc, argv, &args);
    if (r >= 0)
        return r;
    if (args.n_pos != 1)
        return pi_usage_error("Expecting one image file name");
    if (!a.backing)
        return pi_usage_error("Must specify backing file (-b) or use -b \"\" to remove it");
    PdFormat format, bformat = PD_FORMAT_UNKNOWN;
    if (!pi_parse_format(a.fmt, &format) ||
        (a.backing_fmt && !pi_parse_format(a.backing_fmt, &bformat)))
        return 1;
    const char *filename = args.pos[0];
    bool remove = a.backing[0] == '\0';
    PdOpenFlags flags = PD_OPEN_RDWR | (a.unsafe ? PD_OPEN_NO_BACKING : 0);
    g_autoptr(PdImage) img = pi_open(filename, format, flags);
    if (!img)
        return 1;
    g_autoptr(PdImage) nb = NULL;
    if (!remove && (!a.unsafe || bformat == PD_FORMAT_UNKNOWN)) {
        nb = open_new_backing(filename, a.backing, &bformat);
        if (!nb) {
            pi_error("Could not change the backing file to '%s'", a.backing);
            return 1;
        }
    }
    GError *error = NULL;
    PiProgress progress = {.enabled = a.progress && !a.quiet, .last = -1};
    if (!a.unsafe) {
        pi_progress_cb(0, pd_image_size(img), &progress);
        if (!rebase_copy(img, nb, &progress, &error))
            return pi_fail(error, 1);
    }
    if (!pd_image_set_backing(img, remove ? NULL : a.backing, remove ? PD_FORMAT_UNKNOWN : bformat,
                              &error) ||
        !pd_image_flush(img, &error)) {
        pi_error("Could not change the backing file to '%s': %s", a.backing, error->message);
        g_error_free(error);
        return 1;
    }
    if (!a.unsafe)
        pi_progress_end(&progress);
    return 0;
}
