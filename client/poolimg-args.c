/* The command-line parser every poolimg command uses (see poolimg-args.h). */
#include "client/poolimg-args.h"
#include "client/poolimg.h"
#include "common/size.h"

#include <getopt.h>
#include <string.h>

/* getopt_long's value for a long-only option: past every character. */
#define LONG_ONLY_BASE 0x100

/* The getopt string (":" first: a missing value comes back as ':', and getopt prints
 * nothing) and the long options of @spec, -h/--help first. */
static char *build_short(const PiArgSpec *spec)
{
    GString *s = g_string_new(":h");
    for (size_t i = 0; i < spec->n_args; i++) {
        const PiArg *a = &spec->args[i];
        if (!a->short_name)
            continue;
        g_string_append_c(s, a->short_name);
        if (a->has_value)
            g_string_append_c(s, ':');
    }
    return g_string_free(s, FALSE);
}

static struct option *build_long(const PiArgSpec *spec)
{
    struct option *longs = g_new0(struct option, spec->n_args + 2);
    size_t n = 0;
    longs[n++] = (struct option){"help", no_argument, NULL, 'h'};
    for (size_t i = 0; i < spec->n_args; i++) {
        const PiArg *a = &spec->args[i];
        if (!a->long_name)
            continue;
        int val = a->short_name ? a->short_name : LONG_ONLY_BASE + (int)i;
        longs[n++] = (struct option){a->long_name, a->has_value ? required_argument : no_argument,
                                     NULL, val};
    }
    return longs;
}

/* The table entry getopt_long's @c stands for, or NULL. */
static const PiArg *find_arg(const PiArgSpec *spec, int c)
{
    if (c >= LONG_ONLY_BASE && (size_t)(c - LONG_ONLY_BASE) < spec->n_args)
        return &spec->args[c - LONG_ONLY_BASE];
    for (size_t i = 0; i < spec->n_args; i++)
        if (spec->args[i].short_name && spec->args[i].short_name == c)
            return &spec->args[i];
    return NULL;
}

/* Applies one option's value. False after printing the error. */
static bool apply(const PiArg *a, const char *value, PiArgs *ret)
{
    switch (a->kind) {
    case PI_ARG_FLAG:
        *(bool *)a->dest = true;
        return true;
    case PI_ARG_STRING:
        *(const char **)a->dest = value;
        return true;
    case PI_ARG_JOIN: {
        GString *s = a->dest;
        g_string_append_printf(s, "%s%s", s->len ? "," : "", value);
        return true;
    }
    case PI_ARG_OUTPUT:
        return pi_parse_output(value, a->dest);
    case PI_ARG_SIZE: {
        g_autoptr(GError) error = NULL;
        if (!pd_parse_size(value, a->dest, &error)) {
            pi_error("Invalid %s specified: %s", a->text, error->message);
            return false;
        }
        return true;
    }
    case PI_ARG_CALL:
        return a->call(value, a->dest);
    case PI_ARG_REFUSE:
        pi_error("%s", a->text);
        return false;
    case PI_ARG_FORCE_SHARE:
        ret->force_share = true;
        pi_force_share = true;
        return true;
    case PI_ARG_IMAGE_OPTS:
        ret->image_opts = true;
        return true;
    case PI_ARG_IGNORE:
    default:
        return true;
    }
}

/* qemu-img's message for what getopt_long returned for a bad option (':' or '?'). */
static void bad_option(int c, char **argv)
{
    if (c == ':')
        pi_usage_error("missing argument for option '%s'", argv[optind - 1]);
    else if (optopt && optopt < LONG_ONLY_BASE)
        pi_usage_error("unrecognized option '-%c'", optopt);
    else
        pi_usage_error("unrecognized option '%s'", argv[optind - 1]);
}

/* A last argument such as "-5G" (a dash and a digit). */
static bool negative_last(int argc, char **argv)
{
    return argc >= 3 && argv[argc - 1][0] == '-' && g_ascii_isdigit(argv[argc - 1][1]);
}

int pi_args_parse(const PiArgSpec *spec, int argc, char **argv, PiArgs *ret)
{
    PiArgs out = {0};
    if (spec->last == PI_LAST_POSITIVE && negative_last(argc, argv)) {
        pi_error("Invalid image size '%s': the size must not be negative", argv[argc - 1]);
        return 1;
    }
    if (spec->last == PI_LAST_SIZE && negative_last(argc, argv))
        out.size = argv[--argc];
    g_autofree char *shorts = build_short(spec);
    g_autofree struct option *longs = build_long(spec);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        if (c == 'h') {
            pi_help();
            return 0;
        }
        const PiArg *a = find_arg(spec, c);
        if (!a) {
            bad_option(c, argv);
            return 1;
        }
        if (!apply(a, optarg, &out))
            return 1;
    }
    out.pos = argv + optind;
    out.n_pos = argc - optind;
    *ret = out;
    return -1;
}
