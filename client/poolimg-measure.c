/* poolimg measure: space a new image needs, for a size or for an existing image's data. */
#include "client/poolimg-args.h"
#include "client/poolimg.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <stdio.h>
#include <string.h>

/* Prints the result as qemu-img does, human or JSON. */
static void print_measure(const PdMeasure *m, bool json, bool show_bitmaps)
{
    if (json) {
        JsonObject *obj = json_object_new();
        if (show_bitmaps)
            json_object_set_int_member(obj, "bitmaps", (gint64)m->bitmaps);
        json_object_set_int_member(obj, "required", (gint64)m->required);
        json_object_set_int_member(obj, "fully-allocated", (gint64)m->fully_allocated);
        JsonNode *root = json_node_new(JSON_NODE_OBJECT);
        json_node_take_object(root, obj);
        pi_json_print(root);
    } else {
        printf("required size: %" G_GUINT64_FORMAT "\n", m->required);
        printf("fully allocated size: %" G_GUINT64_FORMAT "\n", m->fully_allocated);
        if (show_bitmaps)
            printf("bitmaps size: %" G_GUINT64_FORMAT "\n", m->bitmaps);
    }
}

typedef struct {
    const char *fmt, *out_fmt, *size_text;
    bool json;
    GString *options;
    PiArgs args;
} MeasureArgs;

/* The target's options and where the size comes from, checked. Returns -1 to go on, else
 * the exit status (message printed). */
static int measure_options(const MeasureArgs *a, PiCreateOpts *o, PdFormat *ret_format)
{
    PdFormat format;
    if (!pi_parse_format(a->fmt, &format) || !pi_parse_format(a->out_fmt, &o->create.format))
        return 1;
    GError *error = NULL;
    if (!pi_create_opts_parse(o, a->options->str, false, &error))
        return pi_fail(error, 1);
    if (o->help) {
        pi_create_opts_help(o->create.format, false);
        return 0;
    }
    if (!pi_create_opts_validate(o, &error))
        return pi_fail(error, 1);
    if (a->size_text && a->args.n_pos > 0) {
        pi_error("--size N cannot be used together with a filename.");
        return 1;
    }
    if (!a->size_text && a->args.n_pos != 1) {
        pi_error("Either --size N or one filename must be specified.");
        return 1;
    }
    if (a->size_text && a->fmt) {
        pi_error("-f requires a filename argument.");
        return 1;
    }
    *ret_format = format;
    return -1;
}

int pi_cmd_measure(int argc, char **argv)
{
    g_autoptr(GString) optstr = g_string_new(NULL);
    MeasureArgs a = {.out_fmt = "raw", .options = optstr};
    const PiArg table[] = {
        PI_STRING('f', NULL, &a.fmt),
        PI_STRING('O', NULL, &a.out_fmt),
        PI_JOIN('o', NULL, optstr),
        PI_STRING(0, "size", &a.size_text),
        PI_OUTPUT(&a.json),
        PI_REFUSE('l', NULL, "Measuring internal snapshots (-l) is not supported"),
        PI_OBJECT,
        PI_IMAGE_OPTS,
        PI_FORCE_SHARE,
    };
    const PiArgSpec spec = {table, G_N_ELEMENTS(table)};
    int r = pi_args_parse(&spec, argc, argv, &a.args);
    if (r >= 0)
        return r;
    g_auto(PiCreateOpts) o = {0};
    PdFormat format = PD_FORMAT_UNKNOWN;
    r = measure_options(&a, &o, &format);
    if (r >= 0)
        return r;
    g_autoptr(PdImage) src = NULL;
    GError *error = NULL;
    if (a.size_text) {
        if (!pd_parse_size(a.size_text, &o.create.size, &error)) {
            pi_error("Invalid image size specified: %s", error->message);
            g_error_free(error);
            return 1;
        }
    } else {
        src = pi_open(a.args.pos[0], format, PD_OPEN_RDONLY);
        if (!src)
            return 1;
        o.create.size = pd_image_size(src);
    }
    PdMeasure m;
    if (!pd_image_measure(&o.create, src, &m, &error))
        return pi_fail(error, 1);
    /* qemu-img counts a raw target as fully required even when the source is sparse (the
     * engine answers what a sparse copy needs; qemu-img's answer is what users compare). */
    if (o.create.format == PD_FORMAT_RAW) {
        m.fully_allocated = (m.fully_allocated + 511) / 512 * 512; /* whole sectors */
        m.required = m.fully_allocated;
    }
    /* qemu-img shows the bitmaps line when source and target can both hold bitmaps. */
    bool show_bitmaps = m.bitmaps || (src && pd_image_format(src) == PD_FORMAT_QCOW2 &&
                                      o.create.format == PD_FORMAT_QCOW2);
    print_measure(&m, a.json, show_bitmaps);
    return 0;
}
