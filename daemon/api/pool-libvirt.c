/* io.poold.Pool.ImportLibvirt and ExportLibvirt: pool definitions copied from and to libvirt.
 * libvirt is called in a job (pool-import-libvirt, pool-export-libvirt: listed, cancellable
 * until libvirt has answered, bounded by the workers); definitions change on the main loop. */
#include "common/pd-error.h"
#include "daemon/attach/attachments.h"
#include "daemon/api/methods.h"
#include "daemon/jobs/jobs.h"
#include "xml/pool-xml.h"

typedef struct {
    const PdLibvirtModule *module;
    PdLibvirtConns *conns;
    char *uri;
    char *pool;
    char *xml;
    bool start;
    bool started;
    GPtrArray *pools; /* import: PdLibvirtPoolXml * */
} LibvirtPoolOp;

static void op_free(gpointer data)
{
    LibvirtPoolOp *op = data;
    g_free(op->uri);
    g_free(op->pool);
    g_free(op->xml);
    if (op->pools)
        g_ptr_array_unref(op->pools);
    g_free(op);
}

/* Starts @op as a job of @kind answering @call. */
static void start_job(PdDaemon *daemon, PdCall *call, const char *kind, PdJobRunFunc run,
                      PdJobApplyFunc apply, LibvirtPoolOp *op)
{
    PdJobSpec spec = {
        .kind = kind,
        .pool = op->pool,
        .run = run,
        .apply = apply,
        .apply_owns_txn = true,
        .data = op,
        .data_free = op_free,
    };
    pd_jobs_start_or_fail(daemon->jobs, &spec, call);
}

/* The operation on @pool (may be NULL) of libvirt at @uri, with the loaded module. */
static LibvirtPoolOp *op_new(PdDaemon *daemon, const char *uri, const char *pool)
{
    LibvirtPoolOp *op = g_new0(LibvirtPoolOp, 1);
    op->module = pd_attach_module(daemon);
    op->conns = pd_attach_conns(daemon);
    op->uri = g_strdup(uri);
    op->pool = g_strdup(pool);
    return op;
}

/* Worker: reads the definitions; a cancel drops them (nothing is defined). */
static bool run_import(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    LibvirtPoolOp *op = data;
    GError *local = NULL;
    op->pools = op->module->pool_xmls(op->conns, op->uri, op->pool, &local);
    if (g_cancellable_is_cancelled(cancellable)) {
        g_clear_error(&local); /* whatever libvirt said: the caller asked to stop */
        return !pd_job_cancelled(job, cancellable, error);
    }
    if (local) {
        g_propagate_error(error, local);
        return false;
    }
    return true;
}

/* Defines each pool read from libvirt; a failure skips that pool with the reason. */
static JsonObject *import_done(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    LibvirtPoolOp *op = data;
    JsonArray *imported = json_array_new();
    JsonArray *skipped = json_array_new();
    for (guint i = 0; i < op->pools->len; i++) {
        PdLibvirtPoolXml *p = op->pools->pdata[i];
        g_autoptr(GError) local = NULL;
        if (pd_pool_define_xml(daemon, p->xml, &local)) {
            json_array_add_string_element(imported, p->name);
            continue;
        }
        JsonObject *s = json_object_new();
        json_object_set_string_member(s, "pool", p->name);
        json_object_set_string_member(s, "reason", local->message);
        json_array_add_object_element(skipped, s);
    }
    JsonObject *reply = json_object_new();
    json_object_set_array_member(reply, "imported", imported);
    json_object_set_array_member(reply, "skipped", skipped);
    return reply;
}

PD_HANDLER(pd_method_pool_import_libvirt)
{
    g_autoptr(GError) error = NULL;
    const char *uri = pd_attach_uri(daemon, pd_param_string(params, "uri"), &error);
    if (!uri || !pd_attach_load(daemon, &error)) {
        pd_call_fail(call, error);
        return;
    }
    LibvirtPoolOp *op = op_new(daemon, uri, pd_param_string(params, "pool"));
    start_job(daemon, call, "pool-import-libvirt", run_import, import_done, op);
}

/* Worker: defines (and starts) the pool in libvirt; once libvirt has it, a cancel comes too
 * late and the job reports what was done. */
static bool run_export(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    LibvirtPoolOp *op = data;
    if (pd_job_cancelled(job, cancellable, error))
        return false;
    return op->module->pool_export(op->conns, op->uri, op->pool, op->xml, op->start, &op->started,
                                   error);
}

static JsonObject *export_done(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    LibvirtPoolOp *op = data;
    JsonObject *reply = json_object_new();
    json_object_set_boolean_member(reply, "started", op->started);
    return reply;
}

/* The definition as libvirt takes it: poold's own extension (<poold:netfs>) left out. */
static char *libvirt_xml(const PdPoolDef *def)
{
    g_autoptr(PdPoolDef) copy = pd_pool_def_copy(def);
    copy->netfs_mode = PD_NETFS_MODE_AUTO;
    copy->netfs_timeout = 0;
    copy->capacity = copy->allocation = copy->available = 0;
    return pd_pool_def_format(copy);
}

PD_HANDLER(pd_method_pool_export_libvirt)
{
    g_autoptr(GError) error = NULL;
    PdPoolObj *obj = pd_model_pool(daemon, pd_param_string(params, "pool"), &error);
    const char *uri = obj ? pd_attach_uri(daemon, pd_param_string(params, "uri"), &error) : NULL;
    if (!uri || !pd_attach_load(daemon, &error)) {
        pd_call_fail(call, error);
        return;
    }
    LibvirtPoolOp *op = op_new(daemon, uri, pd_pool_obj_name(obj));
    op->xml = libvirt_xml(obj->next_def ? obj->next_def : obj->pool->def);
    op->start = obj->active;
    start_job(daemon, call, "pool-export-libvirt", run_export, export_done, op);
}
