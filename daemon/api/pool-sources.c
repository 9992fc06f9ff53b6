/* io.poold.Pool.FindSources (find-storage-pool-sources-as): the sources a host offers (NFS
 * exports, iSCSI targets), asked by the pool type's backend in a job (pool-find-sources: listed,
 * cancellable, bounded by the workers): the host may be slow or dead, and the backend's own
 * timeout bounds the wait. */
#include "common/pd-error.h"
#include "daemon/api/methods.h"
#include "daemon/jobs/jobs.h"
#include "pools/backend.h"
#include "xml/pool-xml.h"

typedef struct {
    PdPoolDef *spec;
    char *xml;
} FindOp;

static void find_op_free(gpointer data)
{
    FindOp *op = data;
    pd_pool_def_free(op->spec);
    g_free(op->xml);
    g_free(op);
}

/* Worker: asks the host. A cancel cannot stop the backend's request (its own timeout bounds
 * it), but its answer is then dropped. */
static bool run_find(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    FindOp *op = data;
    g_autoptr(GPtrArray) sources = NULL;
    const PdPoolBackend *be = pd_pool_backend_for_def(op->spec, error);
    bool ok = be && pd_pool_backend_find_sources(be, op->spec, 0, &sources, error);
    if (g_cancellable_is_cancelled(cancellable)) {
        g_clear_error(error); /* whatever the host said: the caller asked to stop */
        return !pd_job_cancelled(job, cancellable, error);
    }
    if (!ok)
        return false;
    op->xml = pd_pool_sources_format(sources);
    return true;
}

static JsonObject *find_done(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    FindOp *op = data;
    JsonObject *reply = json_object_new();
    json_object_set_string_member(reply, "xml", op->xml);
    return reply;
}

PD_HANDLER(pd_method_pool_find_sources)
{
    const char *type = pd_param_string(params, "type");
    const PdPoolTypeInfo *info = pd_pool_type_info_by_name(type);
    int64_t port = pd_param_int(params, "port", 0);
    if (!info) {
        g_autoptr(GError) error =
            g_error_new(PD_ERROR, PD_ERROR_UNSUPPORTED, "pool type '%s' is not supported", type);
        pd_call_fail(call, error);
        return;
    }
    if (port < 0 || port > 65535) {
        g_autoptr(GError) error =
            g_error_new(PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "port %" G_GINT64_FORMAT " is not a port number (1-65535)", port);
        pd_call_fail(call, error);
        return;
    }
    FindOp *op = g_new0(FindOp, 1);
    op->spec = pd_pool_def_new(info->type);
    op->spec->name = g_strdup(type);
    op->spec->source.host_name = g_strdup(pd_param_string(params, "host"));
    op->spec->source.host_port = (unsigned)port;
    op->spec->source.initiator_iqn = g_strdup(pd_param_string(params, "initiator"));
    PdJobSpec spec = {
        .kind = "pool-find-sources",
        .run = run_find,
        .apply = find_done,
        .data = op,
        .data_free = find_op_free,
        .data_free_at_exit = true,
    };
    pd_jobs_start_or_fail(daemon->jobs, &spec, call);
}
