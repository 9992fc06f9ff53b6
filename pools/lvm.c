/* lvm2 argv builders, runner and JSON report parsers (see lvm.h). */
#include "pools/lvm.h"

#include "common/pd-error.h"
#include "pools/cmd-util.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

/* ---- argv builders ----------------------------------------------------------------------- */

/* The report options shared by vgs, lvs and pvs. */
#define REPORT_ARGS "--reportformat", "json", "--units", "b", "--nosuffix", "-o"

#define VGS_FIELDS "vg_name,vg_uuid,vg_size,vg_free,vg_extent_size,pv_count,lv_count"
#define LVS_FIELDS                                                                                 \
    "lv_name,lv_uuid,lv_path,lv_size,lv_attr,segtype,pool_lv,origin,data_percent,lv_tags,"         \
    "lv_time"
#define PVS_FIELDS "pv_name,vg_name,pv_size,pv_free,pv_uuid"

/* A new argv: the NULL-terminated @words, then @list (may be NULL). */
static char **argv_new(const char *const *words, const char *const *list)
{
    GPtrArray *argv = g_ptr_array_new();
    for (const char *const *w = words; *w; w++)
        g_ptr_array_add(argv, g_strdup(*w));
    for (const char *const *w = list; w && *w; w++)
        g_ptr_array_add(argv, g_strdup(*w));
    g_ptr_array_add(argv, NULL);
    return (char **)g_ptr_array_free(argv, false);
}

#define ARGV(list, ...) argv_new((const char *const[]){__VA_ARGS__, NULL}, (list))

/* "VG/LV". Caller frees. */
static char *lv_ref(const char *vg, const char *lv)
{
    return g_strdup_printf("%s/%s", vg, lv);
}

/* "-L"'s value: @size rounded up to 512, in bytes ("1048576b"). Caller frees. */
static char *size_arg(uint64_t size)
{
    uint64_t rounded = size > UINT64_MAX - 511 ? UINT64_MAX - 511 : (size + 511) / 512 * 512;
    return g_strdup_printf("%" G_GUINT64_FORMAT "b", rounded);
}

char **pd_lvm_argv_pvcreate(const char *device, bool force_wipe)
{
    if (force_wipe)
        return ARGV(NULL, "lvm", "pvcreate", "--yes", device);
    return ARGV(NULL, "lvm", "pvcreate", device);
}

char **pd_lvm_argv_pvremove(const char *const *devices)
{
    return ARGV(devices, "lvm", "pvremove", "--yes");
}

char **pd_lvm_argv_vgcreate(const char *vg, const char *const *devices)
{
    return ARGV(devices, "lvm", "vgcreate", vg);
}

char **pd_lvm_argv_vgremove(const char *vg)
{
    return ARGV(NULL, "lvm", "vgremove", "--yes", vg);
}

char **pd_lvm_argv_vgchange(const char *vg, bool activate)
{
    return ARGV(NULL, "lvm", "vgchange", activate ? "-ay" : "-an", vg);
}

char **pd_lvm_argv_vgs(const char *vg)
{
    const char *const list[] = {vg, NULL};
    return ARGV(list, "lvm", "vgs", REPORT_ARGS, VGS_FIELDS);
}

char **pd_lvm_argv_lvs(const char *vg, const char *lv)
{
    g_autofree char *ref = lv ? lv_ref(vg, lv) : g_strdup(vg);
    const char *const list[] = {ref, NULL};
    return ARGV(list, "lvm", "lvs", REPORT_ARGS, LVS_FIELDS);
}

char **pd_lvm_argv_pvs(const char *const *devices)
{
    return ARGV(devices, "lvm", "pvs", REPORT_ARGS, PVS_FIELDS);
}

char **pd_lvm_argv_lvcreate_linear(const char *vg, const char *name, uint64_t size)
{
    g_autofree char *bytes = size_arg(size);
    return ARGV(NULL, "lvm", "lvcreate", "--yes", "--wipesignatures", "y", "--zero", "y", "-n",
                name, "-L", bytes, vg);
}

char **pd_lvm_argv_lvcreate_thin(const char *vg, const char *thin_pool, const char *name,
                                 uint64_t size)
{
    g_autofree char *bytes = size_arg(size);
    g_autofree char *pool = lv_ref(vg, thin_pool);
    return ARGV(NULL, "lvm", "lvcreate", "--yes", "-n", name, "-V", bytes, "--thinpool", pool);
}

char **pd_lvm_argv_lvcreate_snapshot(const char *vg, const char *origin, const char *name,
                                     bool thin)
{
    g_autofree char *ref = lv_ref(vg, origin);
    if (thin)
        return ARGV(NULL, "lvm", "lvcreate", "--yes", "-s", "--setactivationskip", "n", "--addtag",
                    PD_LVM_SNAPSHOT_TAG, "-n", name, ref);
    return ARGV(NULL, "lvm", "lvcreate", "--yes", "-s", "-l", "100%ORIGIN", "--addtag",
                PD_LVM_SNAPSHOT_TAG, "-n", name, ref);
}

char **pd_lvm_argv_lvremove(const char *vg, const char *lv)
{
    g_autofree char *ref = lv_ref(vg, lv);
    return ARGV(NULL, "lvm", "lvremove", "--yes", ref);
}

char **pd_lvm_argv_lvrename(const char *vg, const char *from, const char *to)
{
    return ARGV(NULL, "lvm", "lvrename", vg, from, to);
}

char **pd_lvm_argv_lvresize(const char *vg, const char *lv, uint64_t size, bool shrink)
{
    g_autofree char *ref = lv_ref(vg, lv);
    g_autofree char *bytes = size_arg(size);
    if (shrink)
        return ARGV(NULL, "lvm", "lvresize", "--yes", "--force", "-L", bytes, ref);
    return ARGV(NULL, "lvm", "lvresize", "--yes", "-L", bytes, ref);
}

char **pd_lvm_argv_lvchange_activate(const char *vg, const char *lv, bool activate)
{
    g_autofree char *ref = lv_ref(vg, lv);
    return ARGV(NULL, "lvm", "lvchange", activate ? "-ay" : "-an", ref);
}

char **pd_lvm_argv_lvconvert_merge(const char *vg, const char *snapshot)
{
    g_autofree char *ref = lv_ref(vg, snapshot);
    return ARGV(NULL, "lvm", "lvconvert", "--merge", ref);
}

char **pd_lvm_argv_blkid_probe(const char *device)
{
    return ARGV(NULL, "blkid", "-p", "-o", "export", device);
}

char *pd_lvm_argv_to_string(const char *const *argv)
{
    return g_strjoinv(" ", (char **)argv);
}

/* ---- running ----------------------------------------------------------------------------- */

/* lvm2's udev settings for a system without udevd (a container, the test VM without it). */
#define NO_UDEV_CONFIG "activation { udev_sync = 0 udev_rules = 0 }"

/* @argv, with --config NO_UDEV_CONFIG after the command when it is an lvm2 command and udevd
 * does not run. Caller frees the array (not the strings, borrowed from @argv). */
static const char **effective_argv(const char *const *argv)
{
    GPtrArray *out = g_ptr_array_new();
    bool no_udev = access("/run/udev/control", F_OK) != 0;
    for (guint i = 0; argv[i]; i++) {
        g_ptr_array_add(out, (char *)argv[i]);
        if (i == 1 && no_udev && strcmp(argv[0], "lvm") == 0) {
            g_ptr_array_add(out, "--config");
            g_ptr_array_add(out, NO_UDEV_CONFIG);
        }
    }
    g_ptr_array_add(out, NULL);
    return (const char **)g_ptr_array_free(out, false);
}

int pd_lvm_error_code(const char *text)
{
    if (!text)
        return PD_ERROR_FAILED;
    if (strstr(text, "insufficient free space") || strstr(text, "Insufficient free space"))
        return PD_ERROR_NO_SPACE;
    if (strstr(text, "already exists"))
        return PD_ERROR_EXISTS;
    if (strstr(text, "not found") || strstr(text, "Failed to find"))
        return PD_ERROR_NOT_FOUND;
    if (strstr(text, "in use") || strstr(text, " open"))
        return PD_ERROR_BUSY;
    return PD_ERROR_FAILED;
}

static int lvm_code(int status, const char *err)
{
    (void)status;
    return pd_lvm_error_code(err);
}

bool pd_lvm_run(const char *const *argv, unsigned timeout_ms, char **ret_stdout,
                int *ret_exit_status, GError **error)
{
    g_autofree const char **run_argv = effective_argv(argv);
    if (ret_exit_status)
        *ret_exit_status = -1;
    PdCmdCheck check = {
        .name = strcmp(argv[0], "lvm") == 0 && argv[1] ? argv[1] : argv[0],
        .timeout_ms = timeout_ms,
        .timeout_hint = " (killed)",
        .whole_stderr = true,
        .code = lvm_code,
    };
    PdCmdResult result = {0};
    g_autoptr(GError) local = NULL;
    bool ok = pd_cmd_run_checked(run_argv, &check, &result, &local);
    if (!ok && !result.out) {
        /* it did not run; not NOT_FOUND: callers read that as "no such VG/LV" */
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED, "%s", local->message);
        return false;
    }
    if (ret_exit_status)
        *ret_exit_status = result.exit_status;
    if (!ok)
        g_propagate_error(error, g_steal_pointer(&local));
    else if (ret_stdout)
        *ret_stdout = g_steal_pointer(&result.out);
    pd_cmd_result_clear(&result);
    return ok;
}

/* ---- reports ----------------------------------------------------------------------------- */

void pd_lvm_vg_free(PdLvmVg *vg)
{
    if (!vg)
        return;
    g_free(vg->name);
    g_free(vg->uuid);
    g_free(vg);
}

void pd_lvm_lv_free(PdLvmLv *lv)
{
    if (!lv)
        return;
    g_free(lv->name);
    g_free(lv->uuid);
    g_free(lv->path);
    g_free(lv->attr);
    g_free(lv->segtype);
    g_free(lv->pool_lv);
    g_free(lv->origin);
    g_free(lv->tags);
    g_free(lv->time);
    g_free(lv);
}

void pd_lvm_pv_free(PdLvmPv *pv)
{
    if (!pv)
        return;
    g_free(pv->name);
    g_free(pv->vg_name);
    g_free(pv->uuid);
    g_free(pv);
}

/* Reads one row's fields; the first error sticks (later reads do nothing). */
typedef struct {
    JsonObject *row;
    const char *kind; /* "vg", "lv", "pv": for messages */
    GError **error;
    bool failed;
} RowReader;

static const char *row_string(RowReader *r, const char *field)
{
    if (r->failed)
        return "";
    JsonNode *node = json_object_get_member(r->row, field);
    if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
        g_set_error(r->error, PD_ERROR, PD_ERROR_CORRUPT,
                    "lvm2 report: a %s row has no string field '%s'", r->kind, field);
        r->failed = true;
        return "";
    }
    return json_node_get_string(node);
}

static uint64_t row_u64(RowReader *r, const char *field)
{
    const char *text = row_string(r, field);
    guint64 value = 0;
    if (!r->failed && !g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, &value, NULL)) {
        g_set_error(r->error, PD_ERROR, PD_ERROR_CORRUPT,
                    "lvm2 report: field '%s' of a %s row is not a byte count: '%s'", field, r->kind,
                    text);
        r->failed = true;
    }
    return value;
}

/* A percentage ("3.00"), or -1 when empty. */
static double row_percent(RowReader *r, const char *field)
{
    const char *text = row_string(r, field);
    if (r->failed || !*text)
        return -1;
    char *end = NULL;
    double value = g_ascii_strtod(text, &end);
    if (end == text || *end || !(value >= 0 && value <= 100)) {
        g_set_error(r->error, PD_ERROR, PD_ERROR_CORRUPT,
                    "lvm2 report: field '%s' of a %s row is not a percentage: '%s'", field, r->kind,
                    text);
        r->failed = true;
        return -1;
    }
    return value;
}

typedef gpointer (*RowParser)(RowReader *r);
typedef void (*RowFree)(gpointer row);

static gpointer parse_vg_row(RowReader *r)
{
    PdLvmVg *vg = g_new0(PdLvmVg, 1);
    vg->name = g_strdup(row_string(r, "vg_name"));
    vg->uuid = g_strdup(row_string(r, "vg_uuid"));
    vg->size = row_u64(r, "vg_size");
    vg->free = row_u64(r, "vg_free");
    vg->extent_size = row_u64(r, "vg_extent_size");
    vg->pv_count = (unsigned)MIN(row_u64(r, "pv_count"), G_MAXUINT);
    vg->lv_count = (unsigned)MIN(row_u64(r, "lv_count"), G_MAXUINT);
    return vg;
}

static gpointer parse_lv_row(RowReader *r)
{
    PdLvmLv *lv = g_new0(PdLvmLv, 1);
    lv->name = g_strdup(row_string(r, "lv_name"));
    lv->uuid = g_strdup(row_string(r, "lv_uuid"));
    lv->path = g_strdup(row_string(r, "lv_path"));
    lv->attr = g_strdup(row_string(r, "lv_attr"));
    lv->segtype = g_strdup(row_string(r, "segtype"));
    lv->pool_lv = g_strdup(row_string(r, "pool_lv"));
    lv->origin = g_strdup(row_string(r, "origin"));
    lv->tags = g_strdup(row_string(r, "lv_tags"));
    lv->time = g_strdup(row_string(r, "lv_time"));
    lv->size = row_u64(r, "lv_size");
    lv->data_percent = row_percent(r, "data_percent");
    return lv;
}

static gpointer parse_pv_row(RowReader *r)
{
    PdLvmPv *pv = g_new0(PdLvmPv, 1);
    pv->name = g_strdup(row_string(r, "pv_name"));
    pv->vg_name = g_strdup(row_string(r, "vg_name"));
    pv->uuid = g_strdup(row_string(r, "pv_uuid"));
    pv->size = row_u64(r, "pv_size");
    pv->free = row_u64(r, "pv_free");
    return pv;
}

/* The rows under @kind of every report in @json ({"report": [{"KIND": [{...}, ...]}, ...]}),
 * each parsed with @parse. */
static GPtrArray *parse_report(const char *json, const char *kind, RowParser parse,
                               RowFree row_free, GError **error)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) local = NULL;
    if (!json_parser_load_from_data(parser, json ? json : "", -1, &local)) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT, "lvm2 report is not JSON: %s",
                    local->message);
        return NULL;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (!root) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT, "lvm2 report is empty");
        return NULL;
    }
    JsonObject *top = JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    JsonNode *reports = top ? json_object_get_member(top, "report") : NULL;
    if (!reports || !JSON_NODE_HOLDS_ARRAY(reports)) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT, "lvm2 report has no 'report' array");
        return NULL;
    }
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(row_free);
    JsonArray *list = json_node_get_array(reports);
    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonNode *report = json_array_get_element(list, i);
        JsonObject *obj = JSON_NODE_HOLDS_OBJECT(report) ? json_node_get_object(report) : NULL;
        JsonNode *items = obj ? json_object_get_member(obj, kind) : NULL;
        if (!items || !JSON_NODE_HOLDS_ARRAY(items)) {
            g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT, "lvm2 report has no '%s' array", kind);
            return NULL;
        }
        JsonArray *array = json_node_get_array(items);
        for (guint j = 0; j < json_array_get_length(array); j++) {
            JsonNode *item = json_array_get_element(array, j);
            if (!JSON_NODE_HOLDS_OBJECT(item)) {
                g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                            "lvm2 report: a %s row is not an object", kind);
                return NULL;
            }
            RowReader r = {.row = json_node_get_object(item), .kind = kind, .error = error};
            gpointer row = parse(&r);
            if (r.failed) {
                row_free(row);
                return NULL;
            }
            g_ptr_array_add(rows, row);
        }
    }
    return g_steal_pointer(&rows);
}

GPtrArray *pd_lvm_parse_vgs(const char *json, GError **error)
{
    return parse_report(json, "vg", parse_vg_row, (RowFree)pd_lvm_vg_free, error);
}

GPtrArray *pd_lvm_parse_lvs(const char *json, GError **error)
{
    GPtrArray *lvs = parse_report(json, "lv", parse_lv_row, (RowFree)pd_lvm_lv_free, error);
    /* segtype is a segment field: an LV of several segments (a grown linear LV) comes once
     * per segment, the LV fields repeated. Keep its first row. */
    for (guint i = 1; lvs && i < lvs->len;) {
        bool repeated = false;
        for (guint j = 0; j < i && !repeated; j++)
            repeated =
                strcmp(((PdLvmLv *)lvs->pdata[j])->uuid, ((PdLvmLv *)lvs->pdata[i])->uuid) == 0;
        if (repeated)
            g_ptr_array_remove_index(lvs, i);
        else
            i++;
    }
    return lvs;
}

GPtrArray *pd_lvm_parse_pvs(const char *json, GError **error)
{
    return parse_report(json, "pv", parse_pv_row, (RowFree)pd_lvm_pv_free, error);
}

bool pd_lvm_lv_has_tag(const PdLvmLv *lv, const char *tag)
{
    g_auto(GStrv) tags = g_strsplit(lv->tags ? lv->tags : "", ",", -1);
    return g_strv_contains((const char *const *)tags, tag);
}
