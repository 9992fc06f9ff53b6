/* poolimg resize FILE [+|-]SIZE. */
#include "client/poolimg-args.h"
#include "client/poolimg.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <stdio.h>
#include <string.h>

/* The new size from "+5G", "-1G" or "20G", checked for overflow and for staying positive. */
static bool new_size_from(const char *text, uint64_t current, uint64_t *ret)
{
    g_autoptr(GError) error = NULL;
    int sign;
    uint64_t delta;
    if (!pd_parse_size_delta(text, &sign, &delta, &error)) {
        pi_error("%s", error->message);
        return false;
    }
    uint64_t size = delta;
    if (sign > 0 && !pd_add_u64(current, delta, &size)) {
        pi_error("New image size is too large: %" G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT
                 " bytes does not fit in 2^64",
                 current, delta);
        return false;
    }
    if (sign < 0)
        size = delta >= current ? 0 : current - delta;
    if (size == 0) {
        pi_error("New image size must be positive");
        return false;
    }
    if (size > (uint64_t)INT64_MAX) {
        pi_error("New image size is too large: at most %" G_GINT64_FORMAT " bytes", INT64_MAX);
        return false;
    }
    *ret = size;
    return true;
}

static bool parse_prealloc(const char *value, void *dest)
{
    g_autoptr(GError) error = NULL;
    if (!pd_prealloc_from_name(value, dest, &error)) {
        pi_error("Invalid preallocation mode '%s'", value);
        return false;
    }
    return true;
}

int pi_cmd_resize(int argc, char **argv)
{
    const char *fmt = NULL;
    bool quiet = false, shrink = false;
    PdPrealloc prealloc = PD_PREALLOC_OFF;
    const PiArg table[] = {
        PI_STRING('f', NULL, &fmt),
        PI_FLAG('q', NULL, &quiet),
        PI_FLAG(0, "shrink", &shrink),
        PI_CALL(0, "preallocation", parse_prealloc, &prealloc),
        PI_OBJECT,
        PI_IMAGE_OPTS,
        PI_FORCE_SHARE,
    };
    /* "-5G" as the last argument is a size, not an option (as in qemu-img). */
    const PiArgSpec spec = {table, G_N_ELEMENTS(table), .last = PI_LAST_SIZE};
    PiArgs args;
    int r = pi_args_parse(&spec, argc, argv, &args);
    if (r >= 0)
        return r;
    const char *size_text = args.size;
    if (args.n_pos != (size_text ? 1 : 2))
        return pi_usage_error("Expecting image file name and size");
    if (!size_text)
        size_text = args.pos[1];
    PdFormat format;
    if (!pi_parse_format(fmt, &format))
        return 1;
    g_autoptr(PdImage) img = pi_open(args.pos[0], format, PD_OPEN_RDWR | PD_OPEN_NO_BACKING);
    if (!img)
        return 1;
    uint64_t current = pd_image_size(img), size;
    if (!new_size_from(size_text, current, &size))
        return 1;
    if (size < current && !shrink) {
        pi_error("Use the --shrink option to perform a shrink operation.");
        return 1;
    }
    if (size < current)
        fprintf(stderr, "poolimg: warning: Shrinking an image will delete all data beyond the "
                        "shrunken image's end. Before performing such an operation, make sure "
                        "there is no important data there.\n");
    if (size < current && prealloc != PD_PREALLOC_OFF) {
        pi_error("Preallocation can only be used for growing images");
        return 1;
    }
    GError *error = NULL;
    if (!pd_image_resize(img, size, prealloc, shrink, &error) || !pd_image_flush(img, &error))
        return pi_fail(error, 1);
    if (!quiet)
        printf("Image resized.\n");
    return 0;
}
