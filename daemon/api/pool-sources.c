/* io.poold.Pool.FindSources (find-storage-pool-sources-as): the sources a host offers (NFS
 * exports, iSCSI targets), asked by the pool type's backend on a thread: the host may be slow
 * or dead, and the backend's own timeout bounds the wait. */
#include "common/pd-error.h"
#include "daemon/api/methods.h"
#include "pools/backend.h"
#include "xml/pool-xml.h"

#include <gio/gio.h>

typedef struct {
    PdCall *call;
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

static void run_find(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    FindOp *op = data;
    GError *error = NULL;
    g_autoptr(GPtrArray) sources = NULL;
    const PdPoolBackend *be = pd_pool_backend_for_def(op->spec, &error);
    if (be && pd_pool_backend_find_sources(be, op->spec, 0, &sources, &error)) {
        op->xml = pd_pool_sources_format(sources);
        g_task_return_boolean(task, true);
    } else {
        g_task_return_error(task, error);
    }
}

static void find_done(GObject *source, GAsyncResult *result, gpointer data)
{
    FindOp *op = g_task_get_task_data(G_TASK(result));
    g_autoptr(GError) error = NULL;
    if (!g_task_propagate_boolean(G_TASK(result), &error)) {
        pd_call_fail(op->call, error);
        return;
    }
    JsonObject *reply = json_object_new();
    json_object_set_string_member(reply, "xml", op->xml);
    pd_call_reply(op->call, reply);
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
    op->call = call;
    op->spec = pd_pool_def_new(info->type);
    op->spec->name = g_strdup(type);
    op->spec->source.host_name = g_strdup(pd_param_string(params, "host"));
    op->spec->source.host_port = (unsigned)port;
    op->spec->source.initiator_iqn = g_strdup(pd_param_string(params, "initiator"));
    g_autoptr(GTask) task = g_task_new(NULL, NULL, find_done, NULL);
    g_task_set_task_data(task, op, find_op_free);
    g_task_run_in_thread(task, run_find);
}
