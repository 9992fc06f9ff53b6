/* poolimg compare: guest-visible contents of two images.
 * Exit status as qemu-img: 0 identical, 1 different, 2 error. */
#include "client/poolimg-args.h"
#include "client/poolimg.h"
#include "common/pd-error.h"

#include <stdio.h>
#include <string.h>

#define COMPARE_CHUNK (2 * 1024 * 1024)

/* Offset of the first differing 512-byte sector of @a and @b, or UINT64_MAX. */
static uint64_t first_mismatch(const uint8_t *a, const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i += 512) {
        size_t n = MIN((size_t)512, len - i);
        if (memcmp(a + i, b + i, n) != 0)
            return i;
    }
    return UINT64_MAX;
}

static uint64_t first_nonzero(const uint8_t *a, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (a[i])
            return i - i % 512;
    return UINT64_MAX;
}

typedef struct {
    PdImage *img[2];
    bool strict, quiet;
    uint8_t *buf[2];
    PiProgress progress;
} Compare;

/* Returns 0 identical so far, 1 different (reported), 2 error (reported). */
static int compare_common(Compare *c, uint64_t size)
{
    for (uint64_t off = 0; off < size;) {
        PdBlockStatus st[2];
        GError *error = NULL;
        uint64_t want = MIN(size - off, (uint64_t)COMPARE_CHUNK);
        for (int i = 0; i < 2; i++)
            if (!pd_image_block_status(c->img[i], off, want, &st[i], &error))
                return pi_fail(error, 2);
        uint64_t len = MIN(st[0].length, st[1].length);
        unsigned mask = PD_BLOCK_DATA | PD_BLOCK_ZERO;
        if (c->strict && (st[0].flags & mask) != (st[1].flags & mask)) {
            if (!c->quiet)
                printf("Strict mode: Offset %" G_GUINT64_FORMAT " block status mismatch!\n", off);
            return 1;
        }
        if (!((st[0].flags & PD_BLOCK_ZERO) && (st[1].flags & PD_BLOCK_ZERO))) {
            for (int i = 0; i < 2; i++)
                if (!pd_image_read(c->img[i], off, c->buf[i], len, &error))
                    return pi_fail(error, 2);
            uint64_t m = first_mismatch(c->buf[0], c->buf[1], len);
            if (m != UINT64_MAX) {
                if (!c->quiet)
                    printf("Content mismatch at offset %" G_GUINT64_FORMAT "!\n", off + m);
                return 1;
            }
        }
        off += len;
        pi_progress_cb(off, size, &c->progress);
    }
    return 0;
}

/* The part of the larger image past the smaller one's end must read as zeroes. */
static int compare_tail(Compare *c, PdImage *img, uint64_t from)
{
    uint64_t size = pd_image_size(img);
    for (uint64_t off = from; off < size;) {
        PdBlockStatus st;
        GError *error = NULL;
        if (!pd_image_block_status(img, off, MIN(size - off, (uint64_t)COMPARE_CHUNK), &st, &error))
            return pi_fail(error, 2);
        if (!(st.flags & PD_BLOCK_ZERO)) {
            if (!pd_image_read(img, off, c->buf[0], st.length, &error))
                return pi_fail(error, 2);
            uint64_t m = first_nonzero(c->buf[0], st.length);
            if (m != UINT64_MAX) {
                if (!c->quiet)
                    printf("Content mismatch at offset %" G_GUINT64_FORMAT "!\n", off + m);
                return 1;
            }
        }
        off += st.length;
    }
    return 0;
}

int pi_cmd_compare(int argc, char **argv)
{
    const char *fmt[2] = {NULL, NULL};
    Compare c = {0};
    bool show_progress = false;
    const PiArg table[] = {
        PI_STRING('f', NULL, &fmt[0]),
        PI_STRING('F', NULL, &fmt[1]),
        PI_FLAG('p', NULL, &show_progress),
        PI_FLAG('q', NULL, &c.quiet),
        PI_FLAG('s', NULL, &c.strict),
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
    if (args.n_pos != 2)
        return pi_usage_error("Expecting two image file names");
    g_autoptr(PdImage) a = NULL;
    g_autoptr(PdImage) b = NULL;
    PdFormat f[2];
    if (!pi_parse_format(fmt[0], &f[0]) || !pi_parse_format(fmt[1], &f[1]))
        return 2;
    a = pi_open(args.pos[0], f[0], PD_OPEN_RDONLY);
    if (!a)
        return 2;
    b = pi_open(args.pos[1], f[1], PD_OPEN_RDONLY);
    if (!b)
        return 2;
    c.img[0] = a;
    c.img[1] = b;
    c.progress = (PiProgress){.enabled = show_progress && !c.quiet, .last = -1};
    g_autofree uint8_t *buf0 = g_malloc(COMPARE_CHUNK);
    g_autofree uint8_t *buf1 = g_malloc(COMPARE_CHUNK);
    c.buf[0] = buf0;
    c.buf[1] = buf1;
    uint64_t s0 = pd_image_size(a), s1 = pd_image_size(b);
    r = compare_common(&c, MIN(s0, s1));
    if (r == 0 && s0 != s1) {
        if (c.strict) {
            if (!c.quiet)
                printf("Strict mode: Image size mismatch!\n");
            return 1;
        }
        if (!c.quiet)
            printf("Warning: Image size mismatch!\n");
        r = compare_tail(&c, s0 > s1 ? a : b, MIN(s0, s1));
    }
    if (r == 0) {
        pi_progress_end(&c.progress);
        if (!c.quiet)
            printf("Images are identical.\n");
    }
    return r;
}
