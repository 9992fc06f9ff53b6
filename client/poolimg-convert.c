/* poolimg convert: the convert engine with qemu-img's options. */
#include "client/poolimg-args.h"
#include "client/poolimg.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *src_fmt, *out_fmt, *backing, *backing_fmt;
    GString *options;
    bool compress, progress, quiet, no_create, target_is_zero, out_of_order;
    bool durable; /* -t other than "unsafe": flush the target at the end */
    uint64_t sparse;
    unsigned threads;
    PiArgs args;
} ConvertArgs;

static bool parse_sparse(const char *value, void *dest)
{
    uint64_t s;
    if (!pd_parse_size(value, &s, NULL) || s % 512 || s > 1024ULL * 1024 * 1024) {
        pi_error("Invalid buffer size for sparse output specified. Use a multiple of "
                 "512 bytes up to 1G; you may use k, M, G suffixes.");
        return false;
    }
    *(uint64_t *)dest = s;
    return true;
}

static bool parse_threads(const char *value, void *dest)
{
    char *end = NULL;
    long n = strtol(value, &end, 10);
    if (*end || n < 1 || n > 16) {
        pi_error("Invalid number of coroutines. Allowed number of coroutines is "
                 "between 1 and 16");
        return false;
    }
    *(unsigned *)dest = (unsigned)n;
    return true;
}

static bool parse_cache(const char *value, void *dest)
{
    static const char *const modes[] = {"unsafe", "writeback", "none", "writethrough",
                                        "directsync"};
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        if (strcmp(value, modes[i]) == 0) {
            *(bool *)dest = i != 0;
            return true;
        }
    }
    pi_error("Invalid cache option: %s", value);
    return false;
}

static int parse_args(ConvertArgs *a, int argc, char **argv)
{
    const PiArg table[] = {
        PI_STRING('f', NULL, &a->src_fmt),
        PI_STRING('O', NULL, &a->out_fmt),
        PI_STRING('B', NULL, &a->backing),
        PI_STRING('F', NULL, &a->backing_fmt),
        PI_FLAG('c', NULL, &a->compress),
        PI_FLAG('p', NULL, &a->progress),
        PI_FLAG('q', NULL, &a->quiet),
        PI_FLAG('n', NULL, &a->no_create),
        PI_FLAG('W', NULL, &a->out_of_order),
        PI_JOIN('o', NULL, a->options),
        PI_CALL('S', NULL, parse_sparse, &a->sparse),
        PI_CALL('m', NULL, parse_threads, &a->threads),
        PI_CALL('t', NULL, parse_cache, &a->durable),
        PI_FLAG(0, "target-is-zero", &a->target_is_zero),
        PI_REFUSE('l', NULL, "Converting from internal snapshots (-l) is not supported"),
        PI_IGNORE('C', NULL),
        PI_IGNORE_VALUE('T', NULL),
        PI_IGNORE_VALUE('r', NULL),
        PI_OBJECT,
        PI_IMAGE_OPTS,
        PI_FORCE_SHARE,
    };
    const PiArgSpec spec = {table, G_N_ELEMENTS(table)};
    return pi_args_parse(&spec, argc, argv, &a->args);
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

/* -B/-F on top of -o backing_file/backing_fmt. False (message printed) on a bad one. */
static bool backing_options(const ConvertArgs *a, PiCreateOpts *o)
{
    if (a->backing) {
        if (!a->backing_fmt && !(o->set & PI_SET_BACKING_FMT)) {
            pi_error("Use of backing file requires explicit backing format");
            return false;
        }
        g_free(o->backing_file);
        o->backing_file = g_strdup(a->backing);
        o->create.backing_file = o->backing_file;
    }
    if (a->backing_fmt && !pi_parse_format(a->backing_fmt, &o->create.backing_format))
        return false;
    if (o->backing_file && o->create.format == PD_FORMAT_RAW) {
        pi_error("Backing file not supported for file format 'raw'");
        return false;
    }
    return true;
}

/* The target's format and creation options from the command line, checked as qemu-img
 * checks them. Returns -1 to go on, else the exit status (message printed). */
static int target_options(const ConvertArgs *a, PiCreateOpts *o, PdFormat *ret_src)
{
    PdFormat src_format, out_format = PD_FORMAT_RAW;
    if (!pi_parse_format(a->src_fmt, &src_format) ||
        (a->out_fmt && !pi_parse_format(a->out_fmt, &out_format)))
        return 1;
    o->create.format = out_format;
    GError *error = NULL;
    if (!pi_create_opts_parse(o, a->options->str, false, &error))
        return pi_fail(error, 1);
    if (o->help) {
        pi_create_opts_help(out_format, false);
        return 0;
    }
    if (a->args.n_pos < 2)
        return pi_usage_error("Expecting image file name");
    if (a->args.n_pos > 2) {
        pi_error("Converting several source images into one is not supported");
        return 1;
    }
    if (a->target_is_zero && !a->no_create) {
        pi_error("--target-is-zero requires use of -n flag");
        return 1;
    }
    if (a->no_create && (a->options->len || a->backing)) {
        pi_error("-o and -B have no effect with -n (the target exists already)");
        return 1;
    }
    if (a->compress && out_format == PD_FORMAT_RAW && !a->no_create) {
        pi_error("Compression not supported for this file format");
        return 1;
    }
    if (!backing_options(a, o))
        return 1;
    if (!pi_create_opts_validate(o, &error))
        return pi_fail(error, 1);
    *ret_src = src_format;
    return -1;
}

int pi_cmd_convert(int argc, char **argv)
{
    g_autoptr(GString) options = g_string_new(NULL);
    ConvertArgs a = {.options = options, .sparse = PD_CONVERT_DEFAULT_SPARSE_SIZE};
    int r = parse_args(&a, argc, argv);
    if (r >= 0)
        return r;
    if (a.out_fmt && strcmp(a.out_fmt, "vmdk") == 0 && !a.no_create && a.args.n_pos == 2) {
        PdFormat sf;
        if (!pi_parse_format(a.src_fmt, &sf))
            return 1;
        return pi_convert_vmdk(a.args.pos[0], sf, a.args.pos[1], a.options->str,
                               a.progress && !a.quiet);
    }
    g_auto(PiCreateOpts) o = {0};
    PdFormat src_format = PD_FORMAT_UNKNOWN;
    r = target_options(&a, &o, &src_format);
    if (r >= 0)
        return r;
    const char *src_name = a.args.pos[0], *out = a.args.pos[1];
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
        PdFormat out_format = a.out_fmt ? o.create.format : PD_FORMAT_UNKNOWN;
        int status = convert_existing(src, out, out_format, &copts);
        if (status == 0)
            pi_progress_end(&progress);
        return status;
    }
    if (!(o.set & PI_SET_SIZE))
        o.create.size = 0; /* the source's, rounded as the format needs */
    GError *error = NULL;
    if (!pd_convert_to_new(src, out, &o.create, &copts, &error)) {
        if (progress.enabled)
            printf("\n");
        return pi_fail(error, 1);
    }
    pi_progress_end(&progress);
    return 0;
}
