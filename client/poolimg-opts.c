/* -o options ("cluster_size=64k,compat=1.1") into PdCreateOptions, with qemu-img's names,
 * messages and help text. */
#include "client/poolimg.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <stdio.h>
#include <string.h>

/* One option: its name, which formats take it, whether amend may change it, help text. */
typedef struct {
    const char *name;
    const char *type; /* for help: "str", "size", "num", "bool (on/off)" */
    const char *help;
    bool raw;   /* raw takes it too */
    bool amend; /* amend may change it */
    PiSetFields field;
} PiOptDesc;

/* Sorted by name, as qemu-img lists them. */
static const PiOptDesc option_table[] = {
    {"backing_file", "str", "File name of a base image", false, false, PI_SET_BACKING_FILE},
    {"backing_fmt", "str", "Image format of the base image", false, false, PI_SET_BACKING_FMT},
    {"cluster_size", "size", "qcow2 cluster size", false, false, PI_SET_CLUSTER_SIZE},
    {"compat", "str", "Compatibility level (v2 [0.10] or v3 [1.1])", false, true, PI_SET_COMPAT},
    {"compression_type", "str", "Compression method used for image cluster compression", false,
     false, PI_SET_COMPRESSION},
    {"extended_l2", "bool (on/off)", "Extended L2 tables", false, false, PI_SET_EXTENDED_L2},
    {"lazy_refcounts", "bool (on/off)", "Postpone refcount updates", false, true,
     PI_SET_LAZY_REFCOUNTS},
    {"preallocation", "str", "Preallocation mode (allowed values: off, metadata, falloc, full)",
     true, false, PI_SET_PREALLOC},
    {"refcount_bits", "num", "Width of a reference count entry in bits", false, false,
     PI_SET_REFCOUNT_BITS},
    {"size", "size", "Virtual disk size", true, false, PI_SET_SIZE},
};

void pi_create_opts_clear(PiCreateOpts *o)
{
    g_free(o->backing_file);
    g_free(o->compat_text);
    memset(o, 0, sizeof *o);
}

static bool parse_bool(const char *key, const char *value, bool *ret, GError **error)
{
    static const char *const yes[] = {"on", "yes", "true", "y"};
    static const char *const no[] = {"off", "no", "false", "n"};
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (strcmp(value, yes[i]) == 0) {
            *ret = true;
            return true;
        }
        if (strcmp(value, no[i]) == 0) {
            *ret = false;
            return true;
        }
    }
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "Parameter '%s' expects 'on' or 'off'",
                key);
    return false;
}

static bool bad_value(const char *key, const char *value, GError **error)
{
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                "Parameter '%s' does not accept value '%s'", key, value);
    return false;
}

/* Applies one key=value. */
static bool apply_option(PiCreateOpts *o, const PiOptDesc *d, const char *value, GError **error)
{
    PdCreateOptions *c = &o->create;
    uint64_t n;
    switch (d->field) {
    case PI_SET_BACKING_FILE:
        g_free(o->backing_file);
        o->backing_file = g_strdup(value);
        break;
    case PI_SET_BACKING_FMT:
        c->backing_format = pd_format_from_name(value);
        if (c->backing_format == PD_FORMAT_UNKNOWN)
            return bad_value(d->name, value, error);
        break;
    case PI_SET_CLUSTER_SIZE:
        if (!pd_parse_size(value, &n, NULL) || n < 512 || n > 2 * 1024 * 1024 || (n & (n - 1))) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "Cluster size must be a power of two between 512 and 2048k");
            return false;
        }
        c->cluster_size = (uint32_t)n;
        break;
    case PI_SET_COMPAT:
        if (strcmp(value, "0.10") == 0 || strcmp(value, "v2") == 0)
            c->compat = 2;
        else if (strcmp(value, "1.1") == 0 || strcmp(value, "v3") == 0)
            c->compat = 3;
        else
            return bad_value(d->name, value, error);
        g_free(o->compat_text);
        o->compat_text = g_strdup(value);
        break;
    case PI_SET_COMPRESSION:
        if (strcmp(value, "zlib") == 0)
            c->compression_type = PD_COMPRESSION_ZLIB;
        else if (strcmp(value, "zstd") == 0)
            c->compression_type = PD_COMPRESSION_ZSTD;
        else
            return bad_value(d->name, value, error);
        break;
    case PI_SET_EXTENDED_L2:
        return parse_bool(d->name, value, &c->extended_l2, error);
    case PI_SET_LAZY_REFCOUNTS:
        return parse_bool(d->name, value, &c->lazy_refcounts, error);
    case PI_SET_PREALLOC:
        if (!pd_prealloc_from_name(value, &c->prealloc, NULL) ||
            (c->format == PD_FORMAT_RAW && c->prealloc == PD_PREALLOC_METADATA))
            return bad_value(d->name, value, error);
        break;
    case PI_SET_REFCOUNT_BITS: {
        char *end = NULL;
        guint64 bits = g_ascii_strtoull(value, &end, 10);
        if (!g_ascii_isdigit(value[0]) || *end || bits == 0 || bits > 64 || (bits & (bits - 1))) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "Refcount width must be a power of two and may not exceed 64 bits");
            return false;
        }
        c->refcount_bits = (int)bits;
        break;
    }
    case PI_SET_SIZE:
        if (!pd_parse_size(value, &c->size, error))
            return false;
        break;
    default:
        break;
    }
    return true;
}

/* Splits at commas, ",," being a literal comma. */
static GPtrArray *split_options(const char *text)
{
    GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);
    for (const char *p = text; *p; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
        } else if (*p == ',') {
            g_ptr_array_add(parts, g_string_free(cur, FALSE));
            cur = g_string_new(NULL);
        } else {
            g_string_append_c(cur, *p);
        }
    }
    g_ptr_array_add(parts, g_string_free(cur, FALSE));
    return parts;
}

bool pi_create_opts_parse(PiCreateOpts *o, const char *text, bool amend, GError **error)
{
    g_autoptr(GPtrArray) parts = split_options(text);
    for (guint i = 0; i < parts->len; i++) {
        char *item = parts->pdata[i];
        if (*item == '\0')
            continue;
        if (strcmp(item, "help") == 0 || strcmp(item, "?") == 0) {
            o->help = true;
            continue;
        }
        char *eq = strchr(item, '=');
        if (!eq) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "Invalid parameter '%s': expected name=value", item);
            return false;
        }
        *eq = '\0';
        const PiOptDesc *d = NULL;
        for (size_t k = 0; k < G_N_ELEMENTS(option_table); k++)
            if (strcmp(option_table[k].name, item) == 0)
                d = &option_table[k];
        bool allowed = d && (o->create.format != PD_FORMAT_RAW || d->raw);
        if (!allowed) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "Invalid parameter '%s'", item);
            return false;
        }
        if (amend && !d->amend) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "Invalid parameter '%s'\nThis option is only supported for image "
                        "creation",
                        item);
            return false;
        }
        if (!apply_option(o, d, eq + 1, error))
            return false;
        o->set |= d->field;
    }
    o->create.backing_file = o->backing_file;
    return true;
}

static bool need_v3(const char *what, GError **error)
{
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                "%s only supported with compatibility level 1.1 and above (use compat=1.1 or "
                "greater)",
                what);
    return false;
}

bool pi_create_opts_validate(PiCreateOpts *o, GError **error)
{
    const PdCreateOptions *c = &o->create;
    if (c->format != PD_FORMAT_QCOW2)
        return true;
    if (c->compat == 2) {
        if (c->lazy_refcounts)
            return need_v3("Lazy refcounts", error);
        if (c->compression_type != PD_COMPRESSION_ZLIB)
            return need_v3("Non-zlib compression type is", error);
        if (c->extended_l2)
            return need_v3("Extended L2 entries are", error);
        if (c->refcount_bits && c->refcount_bits != 16)
            return need_v3("Different refcount widths than 16 bits are", error);
    }
    if (c->extended_l2 && c->cluster_size && c->cluster_size < 16384) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Extended L2 entries are only supported with cluster sizes of at least "
                    "16384 bytes");
        return false;
    }
    if ((o->set & PI_SET_BACKING_FMT) && !o->backing_file) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Backing format cannot be used without backing file");
        return false;
    }
    return true;
}

void pi_create_opts_help(PdFormat format, bool amend)
{
    if (amend)
        printf("Amend options for '%s':\n", pd_format_name(format));
    else
        printf("Supported %s options:\n", pd_format_name(format));
    for (size_t i = 0; i < G_N_ELEMENTS(option_table); i++) {
        const PiOptDesc *d = &option_table[i];
        if ((format == PD_FORMAT_RAW && !d->raw) || (amend && !d->amend))
            continue;
        g_autofree char *left = g_strdup_printf("%s=<%s>", d->name, d->type);
        printf("  %-22s - %s\n", left, d->help);
    }
}

char *pi_create_opts_describe(const PiCreateOpts *o, const char *filename)
{
    const PdCreateOptions *c = &o->create;
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "Formatting '%s', fmt=%s ", filename, pd_format_name(c->format));
    if (c->format == PD_FORMAT_RAW) {
        g_string_append_printf(s, "size=%" G_GUINT64_FORMAT, c->size);
        if (o->set & PI_SET_PREALLOC)
            g_string_append_printf(s, " preallocation=%s", pd_prealloc_name(c->prealloc));
        return g_string_free(s, FALSE);
    }
    g_string_append_printf(s, "cluster_size=%u extended_l2=%s",
                           c->cluster_size ? c->cluster_size : 65536,
                           c->extended_l2 ? "on" : "off");
    if (o->set & PI_SET_PREALLOC)
        g_string_append_printf(s, " preallocation=%s", pd_prealloc_name(c->prealloc));
    g_string_append_printf(s, " compression_type=%s size=%" G_GUINT64_FORMAT,
                           c->compression_type == PD_COMPRESSION_ZSTD ? "zstd" : "zlib", c->size);
    if (c->backing_file)
        g_string_append_printf(s, " backing_file=%s", c->backing_file);
    if (c->backing_file && c->backing_format != PD_FORMAT_UNKNOWN)
        g_string_append_printf(s, " backing_fmt=%s", pd_format_name(c->backing_format));
    if (o->set & PI_SET_COMPAT)
        g_string_append_printf(s, " compat=%s", o->compat_text);
    g_string_append_printf(s, " lazy_refcounts=%s refcount_bits=%d",
                           c->lazy_refcounts ? "on" : "off",
                           c->refcount_bits ? c->refcount_bits : 16);
    return g_string_free(s, FALSE);
}

bool pi_parse_image_size(const char *text, uint64_t *ret)
{
    g_autoptr(GError) error = NULL;
    uint64_t size;
    if (!pd_parse_size(text, &size, &error)) {
        pi_error("%s", error->message);
        return false;
    }
    if (size > (uint64_t)INT64_MAX) {
        pi_error("Invalid image size specified. Must be between 0 and %" G_GINT64_FORMAT ".",
                 INT64_MAX);
        return false;
    }
    *ret = size;
    return true;
}
