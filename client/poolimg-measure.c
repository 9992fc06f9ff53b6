/* poolimg measure: space a new image needs, for a size or for an existing image's data. */
#include "client/poolimg.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const struct option measure_long[] = {
    {"help", no_argument, NULL, 'h'},
    {"output", required_argument, NULL, PI_OPT_OUTPUT},
    {"size", required_argument, NULL, PI_OPT_SIZE},
    {"object", required_argument, NULL, PI_OPT_OBJECT},
    {"image-opts", no_argument, NULL, PI_OPT_IMAGE_OPTS},
    {"force-share", no_argument, NULL, 'U'},
    {NULL, 0, NULL, 0},
};

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

int pi_cmd_measure(int argc, char **argv)
{
    const char *fmt = NULL, *out_fmt = "raw", *size_text = NULL;
    bool json = false;
    g_autoptr(GString) optstr = g_string_new(NULL);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":hf:O:o:l:U", measure_long, NULL)) != -1) {
        switch (c) {
        case 'f':
            fmt = optarg;
            break;
        case 'O':
            out_fmt = optarg;
            break;
        case 'o':
            g_string_append_printf(optstr, "%s%s", optstr->len ? "," : "", optarg);
            break;
        case PI_OPT_SIZE:
            size_text = optarg;
            break;
        case PI_OPT_OUTPUT:
            if (!pi_parse_output(optarg, &json))
                return 1;
            break;
        case 'l':
            pi_error("Measuring internal snapshots (-l) is not supported");
            return 1;
        case 'U':
        case PI_OPT_OBJECT:
        case PI_OPT_IMAGE_OPTS:
            break;
        case 'h':
            pi_help();
            return 0;
        default:
            return pi_bad_option(c, argv);
        }
    }
    g_auto(PiCreateOpts) o = {0};
    PdFormat format;
    if (!pi_parse_format(fmt, &format) || !pi_parse_format(out_fmt, &o.create.format))
        return 1;
    GError *error = NULL;
    if (!pi_create_opts_parse(&o, optstr->str, false, &error))
        return pi_fail(error, 1);
    if (o.help) {
        pi_create_opts_help(o.create.format, false);
        return 0;
    }
    if (!pi_create_opts_validate(&o, &error))
        return pi_fail(error, 1);
    if (size_text && optind < argc) {
        pi_error("--size N cannot be used together with a filename.");
        return 1;
    }
    if (!size_text && optind != argc - 1) {
        pi_error("Either --size N or one filename must be specified.");
        return 1;
    }
    if (size_text && fmt) {
        pi_error("-f requires a filename argument.");
        return 1;
    }
    g_autoptr(PdImage) src = NULL;
    if (size_text) {
        if (!pd_parse_size(size_text, &o.create.size, &error)) {
            pi_error("Invalid image size specified: %s", error->message);
            g_error_free(error);
            return 1;
        }
    } else {
        src = pi_open(argv[optind], format, PD_OPEN_RDONLY);
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
    print_measure(&m, json, show_bitmaps);
    return 0;
}
