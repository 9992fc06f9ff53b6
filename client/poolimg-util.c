/* Helpers every poolimg command shares: messages, option errors, opening images,
 * progress, cancellation. */
#include "client/poolimg.h"
#include "common/json-text.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void pi_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "poolimg: %s\n", msg);
}

int pi_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "poolimg: %s\nTry 'poolimg --help' for more information\n", msg);
    return 1;
}

int pi_fail(GError *error, int status)
{
    pi_error("%s", error ? error->message : "unknown error");
    if (error)
        g_error_free(error);
    return status;
}

bool pi_parse_format(const char *name, PdFormat *ret)
{
    if (!name) {
        *ret = PD_FORMAT_UNKNOWN;
        return true;
    }
    PdFormat f = pd_format_from_name(name);
    if (f == PD_FORMAT_UNKNOWN) {
        pi_error("Unknown file format '%s'", name);
        return false;
    }
    *ret = f;
    return true;
}

bool pi_parse_output(const char *arg, bool *ret_json)
{
    if (strcmp(arg, "json") == 0) {
        *ret_json = true;
        return true;
    }
    if (strcmp(arg, "human") == 0) {
        *ret_json = false;
        return true;
    }
    pi_error("--output must be used with human or json as argument.");
    return false;
}

bool pi_force_share;

PdImage *pi_open(const char *path, PdFormat format, PdOpenFlags flags)
{
    GError *error = NULL;
    if (pi_force_share && (flags & PD_OPEN_RDWR)) {
        pi_error("Could not open '%s': force-share=on can only be used with read-only images",
                 path);
        return NULL;
    }
    /* QEMU's image locks, as qemu-img takes them: a running QEMU keeps us out and we keep
     * it out (-U: a read-only open shares everything). */
    flags |= PD_OPEN_LOCK | (pi_force_share ? PD_OPEN_FORCE_SHARE : 0);
    PdImage *img = pd_image_open(path, format, flags, &error);
    if (!img) {
        /* The engine's message names the file already when the store failed to open. */
        if (g_str_has_prefix(error->message, "Could not open"))
            pi_error("%s", error->message);
        else
            pi_error("Could not open '%s': %s", path, error->message);
        g_error_free(error);
        return NULL;
    }
    /* qemu's warning for a guessed raw image opened for writing. */
    if ((flags & PD_OPEN_RDWR) && pd_image_probed(img) && pd_image_format(img) == PD_FORMAT_RAW)
        fprintf(stderr,
                "WARNING: Image format was not specified for '%s' and probing guessed raw.\n"
                "         Automatically detecting the format is dangerous for raw images, "
                "write operations on block 0 will be restricted.\n"
                "         Specify the 'raw' format explicitly to remove the restrictions.\n",
                path);
    return img;
}

void pi_progress_cb(uint64_t done, uint64_t total, void *user_data)
{
    PiProgress *p = user_data;
    if (!p || !p->enabled)
        return;
    double pct = total ? (double)done * 100.0 / (double)total : 100.0;
    if (pct < p->last + 1.0 && pct < 100.0 && p->last >= 0)
        return;
    p->last = pct;
    printf("    (%.2f/100%%)\r", pct);
    fflush(stdout);
}

void pi_progress_end(PiProgress *p)
{
    if (p && p->enabled) {
        printf("    (100.00/100%%)\n");
        fflush(stdout);
    }
}

static gint cancel_flag;

static void on_signal(int sig)
{
    g_atomic_int_set(&cancel_flag, 1);
}

gint *pi_cancel_flag_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGHUP, &sa, NULL);
    return &cancel_flag;
}

char *pi_size_str(uint64_t bytes)
{
    return pd_format_size(bytes);
}

/* The bucket qemu's QDict puts a key in (its tdb_hash modulo 512 buckets). qemu-img prints
 * the members of an object bucket by bucket, and within a bucket the latest added first. */
static unsigned qdict_bucket(const char *key)
{
    size_t len = strlen(key);
    uint32_t value = 0x238F13AFu * (uint32_t)len;
    for (size_t i = 0; i < len; i++)
        value += (uint32_t)(unsigned char)key[i] << (i * 5 % 24);
    return (1103515243u * value + 12345u) % 512;
}

typedef struct {
    const char *key;
    unsigned bucket;
    unsigned index;
} JsonMember;

static int json_member_cmp(const void *a, const void *b)
{
    const JsonMember *x = a, *y = b;
    if (x->bucket != y->bucket)
        return x->bucket < y->bucket ? -1 : 1;
    return x->index > y->index ? -1 : 1;
}

/* Pretty JSON laid out as qemu-img prints it ('"key": value', 4-space indent), so scripts
 * written against qemu-img's text keep working. */
static void json_write(GString *out, JsonNode *node, int level)
{
    switch (json_node_get_node_type(node)) {
    case JSON_NODE_OBJECT: {
        JsonObject *obj = json_node_get_object(node);
        g_autoptr(GList) members = json_object_get_members(obj);
        if (!members) {
            g_string_append(out, "{}");
            break;
        }
        guint n = g_list_length(members);
        g_autofree JsonMember *order = g_new(JsonMember, n);
        guint i = 0;
        for (GList *m = members; m; m = m->next, i++)
            order[i] = (JsonMember){m->data, qdict_bucket(m->data), i};
        qsort(order, n, sizeof *order, json_member_cmp);
        g_string_append(out, "{\n");
        for (i = 0; i < n; i++) {
            g_string_append_printf(out, "%*s", (level + 1) * 4, "");
            pd_json_text_string(out, order[i].key);
            g_string_append(out, ": ");
            json_write(out, json_object_get_member(obj, order[i].key), level + 1);
            g_string_append(out, i + 1 < n ? ",\n" : "\n");
        }
        g_string_append_printf(out, "%*s}", level * 4, "");
        break;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *arr = json_node_get_array(node);
        guint n = json_array_get_length(arr);
        if (n == 0) {
            g_string_append(out, "[]");
            break;
        }
        g_string_append(out, "[\n");
        for (guint i = 0; i < n; i++) {
            g_string_append_printf(out, "%*s", (level + 1) * 4, "");
            json_write(out, json_array_get_element(arr, i), level + 1);
            g_string_append(out, i + 1 < n ? ",\n" : "\n");
        }
        g_string_append_printf(out, "%*s]", level * 4, "");
        break;
    }
    case JSON_NODE_NULL:
        g_string_append(out, "null");
        break;
    case JSON_NODE_VALUE:
        switch (json_node_get_value_type(node)) {
        case G_TYPE_BOOLEAN:
            g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
            break;
        case G_TYPE_DOUBLE:
            g_string_append_printf(out, "%.17g", json_node_get_double(node));
            break;
        case G_TYPE_STRING:
            pd_json_text_string(out, json_node_get_string(node));
            break;
        default:
            g_string_append_printf(out, "%" G_GINT64_FORMAT, json_node_get_int(node));
        }
        break;
    }
}

void pi_json_print(JsonNode *root)
{
    g_autoptr(GString) out = g_string_new(NULL);
    json_write(out, root, 0);
    printf("%s\n", out->str);
    json_node_unref(root);
}
