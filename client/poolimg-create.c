/* poolimg create and amend. */
#include "client/poolimg-args.h"
#include "client/poolimg.h"
#include "common/pd-error.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Opens the backing file the way the new image will (relative to its directory) to learn
 * its size and, when not given, its format. Prints the error and returns false on failure. */
static bool inspect_backing(const char *filename, PiCreateOpts *o, bool need_size)
{
    g_autofree char *dir = g_path_get_dirname(filename);
    g_autofree char *path = g_path_is_absolute(o->backing_file)
                                ? g_strdup(o->backing_file)
                                : g_build_filename(dir, o->backing_file, NULL);
    GError *error = NULL;
    g_autoptr(PdImage) b =
        pd_image_open(path, o->create.backing_format, PD_OPEN_NO_BACKING, &error);
    if (!b) {
        pi_error("%s: %s", filename, error->message);
        g_error_free(error);
        return false;
    }
    if (o->create.backing_format == PD_FORMAT_UNKNOWN) {
        o->create.backing_format = pd_image_format(b);
        fprintf(stderr,
                "poolimg: warning: %s: backing format of '%s' not given (-F); detected %s "
                "and recorded it\n",
                filename, o->backing_file, pd_format_name(o->create.backing_format));
    }
    if (need_size)
        o->create.size = pd_image_size(b);
    return true;
}

/* -u: create without a backing file, then record it without opening it. */
static bool create_unsafe(const char *filename, PiCreateOpts *o, GError **error)
{
    PdCreateOptions c = o->create;
    c.backing_file = NULL;
    c.backing_format = PD_FORMAT_UNKNOWN;
    if (!pd_image_create(filename, &c, true, error))
        return false;
    g_autoptr(PdImage) img =
        pd_image_open(filename, c.format, PD_OPEN_RDWR | PD_OPEN_NO_BACKING, error);
    if (!img || !pd_image_set_backing(img, o->backing_file, o->create.backing_format, error) ||
        !pd_image_flush(img, error)) {
        (void)unlink(filename);
        return false;
    }
    return true;
}

typedef struct {
    const char *fmt, *backing, *backing_fmt;
    bool quiet, unsafe;
    GString *options; /* every -o, joined by commas */
    PiArgs args;
} CreateArgs;

/* Parses the options. Returns -1 to go on, else the exit status. */
static int parse_create_args(CreateArgs *a, int argc, char **argv)
{
    const PiArg table[] = {
        PI_STRING('f', NULL, &a->fmt),
        PI_STRING('b', NULL, &a->backing),
        PI_STRING('F', NULL, &a->backing_fmt),
        PI_JOIN('o', NULL, a->options),
        PI_FLAG('q', NULL, &a->quiet),
        PI_FLAG('u', NULL, &a->unsafe),
        PI_OBJECT,
    };
    /* A negative size ("-5G") would otherwise read as an unknown option. */
    const PiArgSpec spec = {table, G_N_ELEMENTS(table), .last = PI_LAST_POSITIVE};
    return pi_args_parse(&spec, argc, argv, &a->args);
}

/* Prints "poolimg: FILE: message", frees @error, returns 1. */
static int create_fail(const char *filename, GError *error)
{
    pi_error("%s: %s", filename, error->message);
    g_error_free(error);
    return 1;
}

/* -b/-F on top of -o backing_file/backing_fmt. False (message printed) on a bad format. */
static bool apply_backing_args(const CreateArgs *a, PiCreateOpts *o)
{
    if (a->backing) {
        g_free(o->backing_file);
        o->backing_file = g_strdup(a->backing);
        o->create.backing_file = o->backing_file;
    }
    if (a->backing_fmt) {
        if (!pi_parse_format(a->backing_fmt, &o->create.backing_format))
            return false;
        o->set |= PI_SET_BACKING_FMT;
    }
    return true;
}

/* Prints qemu-img's "Formatting ..." line, with the size as the user gave it. */
static void print_formatting(PiCreateOpts *o, const char *filename, uint64_t given_size)
{
    uint64_t real_size = o->create.size;
    if (real_size - given_size < 512)
        o->create.size = given_size;
    g_autofree char *line = pi_create_opts_describe(o, filename);
    o->create.size = real_size;
    printf("%s\n", line);
    fflush(stdout);
}

int pi_cmd_create(int argc, char **argv)
{
    g_autoptr(GString) options = g_string_new(NULL);
    CreateArgs a = {.fmt = "raw", .options = options};
    int r = parse_create_args(&a, argc, argv);
    if (r >= 0)
        return r;
    g_auto(PiCreateOpts) o = {0};
    if (!pi_parse_format(a.fmt, &o.create.format))
        return 1;
    GError *error = NULL;
    char **pos = a.args.pos;
    int n_pos = a.args.n_pos;
    const char *filename = n_pos > 0 ? pos[0] : "";
    if (!pi_create_opts_parse(&o, options->str, false, &error))
        return create_fail(filename, error);
    if (o.help) {
        pi_create_opts_help(o.create.format, false);
        return 0;
    }
    if (n_pos < 1)
        return pi_usage_error("Expecting image file name");
    if (n_pos > 2)
        return pi_usage_error("Unexpected argument: %s", pos[2]);
    if (!apply_backing_args(&a, &o))
        return 1;
    if (o.backing_file && o.create.format == PD_FORMAT_RAW) {
        pi_error("%s: Backing file not supported for file format 'raw'", filename);
        return 1;
    }
    if (n_pos == 2 && !pi_parse_image_size(pos[1], &o.create.size))
        return 1;
    bool have_size = n_pos == 2 || (o.set & PI_SET_SIZE);
    if (!have_size && (!o.backing_file || a.unsafe)) {
        pi_error("%s: Image creation needs a size parameter", filename);
        return 1;
    }
    /* qcow2 sizes are whole sectors: round up as qemu-img does ("size=1" gives 512 B). */
    uint64_t given_size = o.create.size;
    if (o.create.format == PD_FORMAT_QCOW2 && o.create.size % 512)
        o.create.size += 512 - o.create.size % 512;
    if (!pi_create_opts_validate(&o, &error))
        return create_fail(filename, error);
    if (o.backing_file && !a.unsafe && !inspect_backing(filename, &o, !have_size))
        return 1;
    if (!a.quiet)
        print_formatting(&o, filename, given_size);
    bool ok = a.unsafe && o.backing_file ? create_unsafe(filename, &o, &error)
                                         : pd_image_create(filename, &o.create, true, &error);
    return ok ? 0 : create_fail(filename, error);
}

int pi_cmd_amend(int argc, char **argv)
{
    const char *fmt = NULL;
    g_autoptr(GString) optstr = g_string_new(NULL);
    const PiArg table[] = {
        PI_STRING('f', NULL, &fmt),
        PI_JOIN('o', NULL, optstr),
        PI_IGNORE_VALUE('t', NULL),
        PI_IGNORE('p', NULL),
        PI_IGNORE('q', NULL),
        PI_IGNORE(0, "force"),
        PI_OBJECT,
        PI_IMAGE_OPTS,
    };
    const PiArgSpec spec = {table, G_N_ELEMENTS(table)};
    PiArgs args;
    int r = pi_args_parse(&spec, argc, argv, &args);
    if (r >= 0)
        return r;
    if (optstr->len == 0)
        return pi_usage_error("Must specify options (-o)");
    PdFormat format;
    if (!pi_parse_format(fmt, &format))
        return 1;
    if (args.n_pos != 1 && !(strstr(optstr->str, "help") && args.n_pos < 1))
        return pi_usage_error("Expecting one image file name");
    g_auto(PiCreateOpts) o = {0};
    g_autoptr(PdImage) img = NULL;
    if (args.n_pos > 0) {
        img = pi_open(args.pos[0], format, PD_OPEN_RDWR | PD_OPEN_NO_BACKING);
        if (!img)
            return 1;
        format = pd_image_format(img);
    } else if (format == PD_FORMAT_UNKNOWN) {
        format = PD_FORMAT_QCOW2;
    }
    o.create.format = format;
    if (format == PD_FORMAT_RAW) {
        pi_error("Format driver 'raw' does not support option amendment");
        return 1;
    }
    GError *error = NULL;
    if (!pi_create_opts_parse(&o, optstr->str, true, &error))
        return pi_fail(error, 1);
    if (o.help) {
        pi_create_opts_help(format, true);
        return 0;
    }
    PdImageInfo info;
    if (!pd_image_get_info(img, &info, &error))
        return pi_fail(error, 1);
    bool v3 = (o.set & PI_SET_COMPAT) ? o.create.compat == 3 : info.compat >= 3;
    pd_image_info_clear(&info);
    if ((o.set & PI_SET_LAZY_REFCOUNTS) && o.create.lazy_refcounts && !v3) {
        pi_error("Lazy refcounts only supported with compatibility level 1.1 and above (use "
                 "compat=1.1 or greater)");
        return 1;
    }
    PdAmendFields set = 0;
    if (o.set & PI_SET_COMPAT)
        set |= PD_AMEND_COMPAT;
    if (o.set & PI_SET_LAZY_REFCOUNTS)
        set |= PD_AMEND_LAZY_REFCOUNTS;
    if (!pd_image_amend(img, &o.create, set, &error) || !pd_image_flush(img, &error))
        return pi_fail(error, 1);
    return 0;
}
