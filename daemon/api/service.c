/* org.varlink.service (GetInfo, GetInterfaceDescription from the IDL files built into the
 * daemon as a GResource) and io.poold.Daemon. */
#include "common/pd-error.h"
#include "daemon/model/daemon.h"
#include "daemon/jobs/jobs.h"
#include "daemon/api/methods.h"
#include "daemon/observe/metrics.h"
#include "daemon/model/model.h"
#include "daemon/store/store.h"
#include "poold-resources.h" /* generated: the IDL files */

#include <gio/gio.h>
#include <unistd.h>

#define IDL_PREFIX "/io/poold/varlink/"

static const char *const interfaces[] = {
    "org.varlink.service", "io.poold.Daemon", "io.poold.Pool",   "io.poold.Volume", "io.poold.Job",
    "io.poold.Event",      "io.poold.Error",  "io.poold.Domain", "io.poold.Secret", NULL,
};

PD_HANDLER(pd_method_get_info)
{
    JsonObject *reply = json_object_new();
    json_object_set_string_member(reply, "vendor", "poold");
    json_object_set_string_member(reply, "product", "poold");
    json_object_set_string_member(reply, "version", POOLD_VERSION);
    json_object_set_string_member(reply, "url", "https://github.com/poold/poold");
    JsonArray *array = json_array_new();
    for (const char *const *i = interfaces; *i; i++)
        json_array_add_string_element(array, *i);
    json_object_set_array_member(reply, "interfaces", array);
    pd_call_reply(call, reply);
}

PD_HANDLER(pd_method_get_interface_description)
{
    const char *name = pd_param_string(params, "interface");
    bool known = g_strv_contains(interfaces, name);
    g_autofree char *path = g_strconcat(IDL_PREFIX, name, ".varlink", NULL);
    g_autoptr(GBytes) idl = known ? g_resource_lookup_data(poold_varlink_get_resource(), path,
                                                           G_RESOURCE_LOOKUP_FLAGS_NONE, NULL)
                                  : NULL;
    if (!idl) {
        JsonObject *eparams = json_object_new();
        json_object_set_string_member(eparams, "interface", name);
        pd_call_fail_name(call, "org.varlink.service.InterfaceNotFound", eparams);
        return;
    }
    gsize len = 0;
    const char *text = g_bytes_get_data(idl, &len);
    g_autofree char *copy = g_strndup(text, len);
    JsonObject *reply = json_object_new();
    json_object_set_string_member(reply, "description", copy);
    pd_call_reply(call, reply);
}

PD_HANDLER(pd_method_daemon_info)
{
    unsigned n_volumes = 0;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, daemon->pools);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        n_volumes += ((PdPoolObj *)value)->pool->volumes->len;
    }
    JsonObject *info = json_object_new();
    json_object_set_string_member(info, "version", POOLD_VERSION);
    json_object_set_int_member(info, "pid", getpid());
    json_object_set_int_member(info, "uptime",
                               (g_get_monotonic_time() - daemon->start_time) / G_USEC_PER_SEC);
    json_object_set_string_member(info, "runtime_dir", daemon->config.runtime_dir);
    json_object_set_string_member(info, "state_dir", daemon->config.state_dir);
    json_object_set_int_member(info, "pools", g_hash_table_size(daemon->pools));
    json_object_set_int_member(info, "volumes", n_volumes);
    json_object_set_int_member(info, "jobs_running", pd_jobs_n_running(daemon->jobs));
    json_object_set_int_member(info, "clients", pd_server_n_clients(daemon->server));
    json_object_set_int_member(info, "schema_version", pd_store_schema_version(daemon->store));
    JsonObject *reply = json_object_new();
    json_object_set_object_member(reply, "info", info);
    pd_call_reply(call, reply);
}

PD_HANDLER(pd_method_daemon_metrics)
{
    g_autofree char *text = pd_metrics_format(daemon->metrics);
    JsonObject *reply = json_object_new();
    json_object_set_string_member(reply, "text", text);
    pd_call_reply(call, reply);
}
