/* poolimg convert: the convert engine with qemu-img's options. */
#include "client/poolimg.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const struct option convert_long[] = {
    {"help", no_argument, NULL, 'h'},
    {"target-is-zero", no_argument, NULL, PI_OPT_TARGET_IS_ZERO},
    {"object", required_argument, NULL, PI_OPT_OBJECT},
    {"image-opts", no_argument, NULL, PI_OPT_IMAGE_OPTS},
    {"force-share", no_argument, NULL, 'U'},
    {NULL, 0, NULL, 0},
};

typedef struct {
    const char *src_fmt, *out_fmt, *backing, *backing_fmt;
    GString *options;
    bool compress, progress, quiet, no_create, target_is_zero, out_of_order;
    bool durable; /* -t other than "unsafe": flush the target at the end */
    uint64_t sparse;
    unsigned threads;
} ConvertArgs;

static int parse_args(ConvertArgs *a, int argc, char **argv)
{
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":hf:O:B:CcF:o:l:S:pt:T:qnm:WUr:", convert_long, NULL)) !=
           -1) {
        switch (c) {
        case 'f':
            a->src_fmt = optarg;
            break;
        case 'O':
            a->out_fmt = optarg;
            break;
        case 'B':
            a->backing = optarg;
            break;
        case 'F':
            a->backing_fmt = optarg;
            break;
        case 'c':
            a->compress = true;
            break;
        case 'p':
            a->progress = true;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'n':
            a->no_create = true;
            break;
        case 'W':
            a->out_of_order = true;
            break;
        case 'o':
            g_string_append_printf(a->options, "%s%s", a->options->len ? "," : "", optarg);
            break;
        case 'S': {
            uint64_t s;
            if (!pd_parse_size(optarg, &s, NULL) || s % 512 || s > 1024ULL * 1024 * 1024) {
                pi_error("Invalid buffer size for sparse output specified. Use a multiple of "
                         "512 bytes up to 1G; you may use k, M, G suffixes.");
                return 1;
            }
            a->sparse = s;
            break;
        }
        case 'm': {
            char *end = NULL;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 16) {
                pi_error("Invalid number of coroutines. Allowed number of coroutines is "
                         "between 1 and 16");
                return 1;
            }
            a->threads = (unsigned)n;
            break;
        }
        case PI_OPT_TARGET_IS_ZERO:
            a->target_is_zero = true;
            break;
        case 'l':
            pi_error("Converting from internal snapshots (-l) is not supported");
            return 1;
        case 't':
            if (strcmp(optarg, "unsafe") != 0 && strcmp(optarg, "writeback") != 0 &&
                strcmp(optarg, "none") != 0 && strcmp(optarg, "writethrough") != 0 &&
                strcmp(optarg, "directsync") != 0) {
                pi_error("Invalid cache option: %s", optarg);
                return 1;
            }
            a->durable = strcmp(optarg, "unsafe") != 0;
            break;
        case 'C':
        case 'T':
        case 'U':
        case 'r':
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
    return -1;
}

static int convert_existing(PdImage *src, const char *out, PdFormat out_format,
                            PdConvertOptions *copts)
{
    /* -n without -O: probe the target rather than risk writing raw data over a qcow2. */
    g_autoptr(PdImage) dst = pi_open(out, out_format, PD_OPEN_RDWR);
    if (!dst)
        return 1;
    /* Whatever the target's backing file holds, every byte of the source is written (zero
     * ranges as zeroes), as qemu-img does without -B. */
    copts->target_has_backing = false;
    if (copts->compress && pd_image_cluster_size(dst) == 0) {
        pi_error("Compression not supported for this file format");
        return 1;
    }
    GError *error = NULL;
    if (!pd_convert_copy(src, dst, copts, &error))
        return pi_fail(error, 1);
    return 0;
}

int pi_cmd_convert(int argc, char **argv)
{
    g_autoptr(GString) options = g_string_new(NULL);
    ConvertArgs a = {.options = options, .sparse = PD_CONVERT_DEFAULT_SPARSE_SIZE};
    int r = parse_args(&a, argc, argv);
    if (r >= 0)
        return r;
    g_auto(PiCreateOpts) o = {0};
    PdFormat src_format, out_format = PD_FORMAT_RAW;
    if (!pi_parse_format(a.src_fmt, &src_format) ||
        (a.out_fmt && !pi_parse_format(a.out_fmt, &out_format)))
        return 1;
    o.create.format = out_format;
    GError *error = NULL;
    if (!pi_create_opts_parse(&o, a.options->str, false, &error))
        return pi_fail(error, 1);
    if (o.help) {
        pi_create_opts_help(out_format, false);
        return 0;
    }
    if (argc - optind < 2)
        return pi_usage_error("Expecting image file name");
    if (argc - optind > 2) {
        pi_error("Converting several source images into one is not supported");
        return 1;
    }
    if (a.target_is_zero && !a.no_create) {
        pi_error("--target-is-zero requires use of -n flag");
        return 1;
    }
    if (a.no_create && (a.options->len || a.backing)) {
        pi_error("-o and -B have no effect with -n (the target exists already)");
        return 1;
    }
    if (a.compress && out_format == PD_FORMAT_RAW && !a.no_create) {
        pi_error("Compression not supported for this file format");
        return 1;
    }
    if (a.backing) {
        if (!a.backing_fmt && !(o.set & PI_SET_BACKING_FMT)) {
            pi_error("Use of backing file requires explicit backing format");
            return 1;
        }
        g_free(o.backing_file);
        o.backing_file = g_strdup(a.backing);
        o.create.backing_file = o.backing_file;
    }
    if (a.backing_fmt && !pi_parse_format(a.backing_fmt, &o.create.backing_format))
        return 1;
    if (o.backing_file && out_format == PD_FORMAT_RAW) {
        pi_error("Backing file not supported for file format 'raw'");
        return 1;
    }
    if (!pi_create_opts_validate(&o, &error))
        return pi_fail(error, 1);

    const char *src_name = argv[optind], *out = argv[optind + 1];
    g_autoptr(PdImage) src = pi_open(src_name, src_format, PD_OPEN_RDONLY);
    if (!src)
        return 1;
    PiProgress progress = {.enabled = a.progress && !a.quiet, .last = -1};
    PdConvertOptions copts = {
        .compress = a.compress,
        .target_is_zero = a.target_is_zero,
        .out_of_order = a.out_of_order,
        .sparse_size = a.sparse,
        .threads = a.threads,
        .no_flush = !a.durable,
        .progress = pi_progress_cb,
        .progress_data = &progress,
        .cancel = pi_cancel_flag_install(),
    };
    pi_progress_cb(0, pd_image_size(src), &progress);
    if (a.no_create) {
        int status = convert_existing(src, out, a.out_fmt ? out_format : PD_FORMAT_UNKNOWN, &copts);
        if (status == 0)
            pi_progress_end(&progress);
        return status;
    }
    if (!(o.set & PI_SET_SIZE))
        o.create.size = 0; /* the source's, rounded as the format needs */
    if (!pd_convert_to_new(src, out, &o.create, &copts, &error)) {
        if (progress.enabled)
            printf("\n");
        return pi_fail(error, 1);
    }
    pi_progress_end(&progress);
    return 0;
}
