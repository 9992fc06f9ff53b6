/* io.poold.Domain: attach-disk, detach-disk, domblklist. Policy in attachments.h; libvirt is
 * called from a job's worker thread, never on the main loop. */
#include "common/pd-error.h"
#include "daemon/attach/attachments.h"
#include "daemon/jobs/jobs.h"
#include "daemon/api/methods.h"

static PdAffectFlags affect_flags(JsonObject *params)
{
    return (PdAffectFlags){
        .live = pd_param_bool(params, "live", false),
        .config = pd_param_bool(params, "config", false),
        .persistent = pd_param_bool(params, "persistent", false),
        .current = pd_param_bool(params, "current", false),
    };
}

/* Runs @run then @apply as a job (no journal row: nothing to undo after a crash that
 * reconciliation does not settle); answers @call. */
static void start_job(PdDaemon *daemon, PdCall *call, const char *kind, const char *pool,
                      const char *volume, PdJobRunFunc run, PdJobApplyFunc apply, gpointer data,
                      GDestroyNotify data_free)
{
    PdJobSpec spec = {
        .kind = kind,
        .pool = pool,
        .volume = volume,
        .run = run,
        .apply = apply,
        .data = data,
        .data_free = data_free,
    };
    pd_jobs_start_or_fail(daemon->jobs, &spec, call);
}

static bool run_attach(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    return pd_attach_run(data, error);
}

/* {"affected": @affected} (taken), or NULL when the apply failed (@affected NULL). */
static JsonObject *affected_reply(JsonObject *affected)
{
    if (!affected)
        return NULL;
    JsonObject *reply = json_object_new();
    json_object_set_object_member(reply, "affected", affected);
    return reply;
}

static JsonObject *apply_attach(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    return affected_reply(pd_attach_apply(daemon, data, error));
}

PD_HANDLER(pd_method_domain_attach_disk)
{
    g_autoptr(GError) error = NULL;
    PdAttachRequest req = {
        .uri = pd_param_string(params, "uri"),
        .domain = pd_param_string(params, "domain"),
        .pool = pd_param_string(params, "pool"),
        .volume = pd_param_string(params, "volume"),
        .target = pd_param_string(params, "target"),
        .driver = pd_param_string(params, "driver"),
        .subdriver = pd_param_string(params, "subdriver"),
        .cache = pd_param_string(params, "cache"),
        .bus = pd_param_string(params, "targetbus"),
        .device = pd_param_string(params, "type"),
        .mode = pd_param_string(params, "mode"),
        .flags = affect_flags(params),
    };
    bool print_only = pd_param_bool(params, "print_xml", false);
    PdAttachOp *op = pd_attach_prepare(daemon, &req, print_only, &error);
    if (!op) {
        pd_call_fail(call, error);
        return;
    }
    if (print_only) {
        JsonObject *reply = json_object_new();
        json_object_set_string_member(reply, "xml", pd_attach_op_xml(op));
        pd_attach_op_free(op);
        pd_call_reply(call, reply);
        return;
    }
    start_job(daemon, call, "attach-disk", pd_attach_op_pool(op), pd_attach_op_volume(op),
              run_attach, apply_attach, op, (GDestroyNotify)pd_attach_op_free);
}

static bool run_detach(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    return pd_detach_run(data, error);
}

static JsonObject *apply_detach(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    return affected_reply(pd_detach_apply(daemon, data, error));
}

PD_HANDLER(pd_method_domain_detach_disk)
{
    g_autoptr(GError) error = NULL;
    PdDetachRequest req = {
        .uri = pd_param_string(params, "uri"),
        .domain = pd_param_string(params, "domain"),
        .target = pd_param_string(params, "target"),
        .flags = affect_flags(params),
    };
    PdDetachOp *op = pd_detach_prepare(daemon, &req, &error);
    if (!op) {
        pd_call_fail(call, error);
        return;
    }
    start_job(daemon, call, "detach-disk", pd_detach_op_pool(op), pd_detach_op_volume(op),
              run_detach, apply_detach, op, (GDestroyNotify)pd_detach_op_free);
}

/* ---- domblklist ---- */

typedef struct {
    const PdLibvirtModule *module;
    PdLibvirtConns *conns;
    char *uri;
    char *domain;
    bool inactive;
    GPtrArray *disks;
} BlkList;

static void blklist_free(gpointer data)
{
    BlkList *b = data;
    g_free(b->uri);
    g_free(b->domain);
    if (b->disks)
        g_ptr_array_unref(b->disks);
    g_free(b);
}

static bool run_blklist(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    BlkList *b = data;
    b->disks = b->module->domain_disks(b->conns, b->uri, b->domain, b->inactive, error);
    return b->disks != NULL;
}

static JsonObject *disk_json(PdDaemon *daemon, const PdDomainDisk *d)
{
    JsonObject *o = json_object_new();
    g_autofree char *source = pd_domain_disk_source_text(d);
    json_object_set_string_member(o, "type", d->type);
    json_object_set_string_member(o, "device", d->device);
    json_object_set_string_member(o, "target", d->target);
    if (d->bus)
        json_object_set_string_member(o, "bus", d->bus);
    json_object_set_string_member(o, "source", source);
    if (d->driver_type)
        json_object_set_string_member(o, "driver_type", d->driver_type);
    PdPoolObj *obj = NULL;
    PdVol *vol = NULL;
    if (pd_attach_match_volume(daemon, d, &obj, &vol)) {
        json_object_set_string_member(o, "pool", pd_pool_obj_name(obj));
        json_object_set_string_member(o, "volume", vol->name);
    }
    return o;
}

static JsonObject *apply_blklist(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    BlkList *b = data;
    JsonArray *array = json_array_new();
    for (guint i = 0; i < b->disks->len; i++)
        json_array_add_object_element(array, disk_json(daemon, b->disks->pdata[i]));
    JsonObject *reply = json_object_new();
    json_object_set_array_member(reply, "disks", array);
    return reply;
}

PD_HANDLER(pd_method_domain_blk_list)
{
    g_autoptr(GError) error = NULL;
    const char *uri = pd_attach_uri(daemon, pd_param_string(params, "uri"), &error);
    if (!uri || !pd_attach_load(daemon, &error)) {
        pd_call_fail(call, error);
        return;
    }
    BlkList *b = g_new0(BlkList, 1);
    b->module = pd_attach_module(daemon);
    b->conns = pd_attach_conns(daemon);
    b->uri = g_strdup(uri);
    b->domain = g_strdup(pd_param_string(params, "domain"));
    b->inactive = pd_param_bool(params, "inactive", false);
    start_job(daemon, call, "domblklist", NULL, NULL, run_blklist, apply_blklist, b, blklist_free);
}
