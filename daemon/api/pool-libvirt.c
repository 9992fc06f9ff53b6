/* io.poold.Pool.ImportLibvirt and ExportLibvirt: pool definitions copied from and to libvirt.
 * libvirt is called on a thread (GTask); definitions change on the main loop. */
#include "common/pd-error.h"
#include "daemon/attach/attachments.h"
#include "daemon/api/methods.h"
#include "xml/pool-xml.h"

#include <gio/gio.h>

typedef struct {
    PdDaemon *daemon;
    PdCall *call;
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

static void run_import(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    LibvirtPoolOp *op = data;
    GError *error = NULL;
    op->pools = op->module->pool_xmls(op->conns, op->uri, op->pool, &error);
    if (error)
        g_task_return_error(task, error);
    else
        g_task_return_boolean(task, true);
}

/* Defines each pool read from libvirt; a failure skips that pool with the reason. */
static void import_done(GObject *source, GAsyncResult *result, gpointer data)
{
    LibvirtPoolOp *op = g_task_get_task_data(G_TASK(result));
    g_autoptr(GError) error = NULL;
    if (!g_task_propagate_boolean(G_TASK(result), &error)) {
        pd_call_fail(op->call, error);
        return;
    }
    JsonArray *imported = json_array_new();
    JsonArray *skipped = json_array_new();
    for (guint i = 0; i < op->pools->len; i++) {
        PdLibvirtPoolXml *p = op->pools->pdata[i];
        g_autoptr(GError) local = NULL;
        if (pd_pool_define_xml(op->daemon, p->xml, &local)) {
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
    pd_call_reply(op->call, reply);
}

PD_HANDLER(pd_method_pool_import_libvirt)
{
    g_autoptr(GError) error = NULL;
    const char *uri = pd_attach_uri(daemon, pd_param_string(params, "uri"), &error);
    if (!uri || !pd_attach_load(daemon, &error)) {
        pd_call_fail(call, error);
        return;
    }
    LibvirtPoolOp *op = g_new0(LibvirtPoolOp, 1);
    op->daemon = daemon;
    op->call = call;
    op->module = pd_attach_module(daemon);
    op->conns = pd_attach_conns(daemon);
    op->uri = g_strdup(uri);
    op->pool = g_strdup(pd_param_string(params, "pool"));
    g_autoptr(GTask) task = g_task_new(NULL, NULL, import_done, NULL);
    g_task_set_task_data(task, op, op_free);
    g_task_run_in_thread(task, run_import);
}

static void run_export(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    LibvirtPoolOp *op = data;
    GError *error = NULL;
    if (op->module->pool_export(op->conns, op->uri, op->pool, op->xml, op->start, &op->started,
                                &error))
        g_task_return_boolean(task, true);
    else
        g_task_return_error(task, error);
}

static void export_done(GObject *source, GAsyncResult *result, gpointer data)
{
    LibvirtPoolOp *op = g_task_get_task_data(G_TASK(result));
    g_autoptr(GError) error = NULL;
    if (!g_task_propagate_boolean(G_TASK(result), &error)) {
        pd_call_fail(op->call, error);
        return;
    }
    JsonObject *reply = json_object_new();
    json_object_set_boolean_member(reply, "started", op->started);
    pd_call_reply(op->call, reply);
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
    LibvirtPoolOp *op = g_new0(LibvirtPoolOp, 1);
    op->daemon = daemon;
    op->call = call;
    op->module = pd_attach_module(daemon);
    op->conns = pd_attach_conns(daemon);
    op->uri = g_strdup(uri);
    op->pool = g_strdup(pd_pool_obj_name(obj));
    op->xml = libvirt_xml(obj->next_def ? obj->next_def : obj->pool->def);
    op->start = obj->active;
    g_autoptr(GTask) task = g_task_new(NULL, NULL, export_done, NULL);
    g_task_set_task_data(task, op, op_free);
    g_task_run_in_thread(task, run_export);
}
