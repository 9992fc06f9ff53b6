/* The method table and the checks every call passes before its handler runs. */
#include "daemon/dispatch.h"

#include "common/pd-error.h"
#include "daemon/daemon.h"
#include "daemon/heap.h"
#include "daemon/json-limits.h"
#include "daemon/methods.h"
#include "daemon/metrics.h"
#include "daemon/server.h"

#include <string.h>
#include <unistd.h>

#define S(n)                                                                                       \
    {                                                                                              \
        n, PD_PARAM_STRING, true                                                                   \
    }
#define SO(n)                                                                                      \
    {                                                                                              \
        n, PD_PARAM_STRING, false                                                                  \
    }
#define I(n)                                                                                       \
    {                                                                                              \
        n, PD_PARAM_INT, true                                                                      \
    }
#define IO(n)                                                                                      \
    {                                                                                              \
        n, PD_PARAM_INT, false                                                                     \
    }
#define B(n)                                                                                       \
    {                                                                                              \
        n, PD_PARAM_BOOL, true                                                                     \
    }
#define BO(n)                                                                                      \
    {                                                                                              \
        n, PD_PARAM_BOOL, false                                                                    \
    }
#define END                                                                                        \
    {                                                                                              \
        NULL, 0, false                                                                             \
    }

static const PdParamSpec p_interface[] = {S("interface"), END};
static const PdParamSpec p_pool[] = {S("pool"), END};
static const PdParamSpec p_xml[] = {S("xml"), END};
static const PdParamSpec p_pool_dumpxml[] = {S("pool"), BO("inactive"), END};
static const PdParamSpec p_pool_create[] = {S("xml"), BO("build"), BO("overwrite"), END};
static const PdParamSpec p_pool_build[] = {S("pool"), BO("overwrite"), BO("no_overwrite"), END};
static const PdParamSpec p_pool_start[] = {S("pool"), BO("build"), END};
static const PdParamSpec p_pool_autostart[] = {S("pool"), B("autostart"), END};
static const PdParamSpec p_vol[] = {SO("pool"), S("volume"), END};
static const PdParamSpec p_vol_delete[] = {SO("pool"), S("volume"), BO("delete_snapshots"), END};
static const PdParamSpec p_vol_create[] = {S("pool"), S("xml"), BO("async"), END};
static const PdParamSpec p_vol_create_from[] = {
    S("pool"), S("xml"), SO("source_pool"), S("source"), BO("reflink"), BO("async"), END};
static const PdParamSpec p_vol_clone[] = {SO("pool"),    S("volume"), S("name"),
                                          BO("reflink"), BO("async"), END};
static const PdParamSpec p_vol_resize[] = {SO("pool"),   S("volume"),    I("capacity"), BO("delta"),
                                           BO("shrink"), BO("allocate"), BO("async"),   END};
static const PdParamSpec p_vol_wipe[] = {SO("pool"), S("volume"), SO("algorithm"), BO("async"),
                                         END};
static const PdParamSpec p_vol_transfer[] = {SO("pool"),   S("volume"), IO("offset"), IO("length"),
                                             BO("sparse"), BO("async"), END};
static const PdParamSpec p_vol_snapshot[] = {SO("pool"), S("volume"), S("name"), END};
static const PdParamSpec p_job[] = {I("id"), END};
static const PdParamSpec p_attach_disk[] = {
    SO("uri"),       S("domain"),      SO("pool"),      S("volume"),     S("target"), SO("driver"),
    SO("subdriver"), SO("cache"),      SO("targetbus"), SO("type"),      SO("mode"),  BO("live"),
    BO("config"),    BO("persistent"), BO("current"),   BO("print_xml"), END};
static const PdParamSpec p_detach_disk[] = {SO("uri"),     S("domain"),  S("target"),
                                            BO("live"),    BO("config"), BO("persistent"),
                                            BO("current"), END};
static const PdParamSpec p_blklist[] = {SO("uri"), S("domain"), BO("inactive"), END};
static const PdParamSpec p_import_libvirt[] = {SO("uri"), SO("pool"), END};
static const PdParamSpec p_find_sources[] = {S("type"), SO("host"), IO("port"), SO("initiator"),
                                             END};
static const PdParamSpec p_export_libvirt[] = {SO("uri"), S("pool"), END};
static const PdParamSpec p_secret[] = {S("secret"), END};
static const PdParamSpec p_secret_value[] = {S("secret"), S("value"), END};
static const PdParamSpec p_event_list[] = {IO("since"), IO("limit"), END};

/* The class column: what the read-only socket admits (docs/security.md). */
#define READ  PD_CLASS_READ
#define WRITE PD_CLASS_WRITE
#define DATA  PD_CLASS_DATA
#define PRIV  PD_CLASS_PRIVILEGED

enum {
    J = PD_METHOD_JOB,
    M = PD_METHOD_NEEDS_MORE,
    F = PD_METHOD_TAKES_FD,
    O = PD_METHOD_OVERLAP,
};

static const PdMethod methods[] = {
    {"org.varlink.service.GetInfo", pd_method_get_info, NULL, READ, 0},
    {"org.varlink.service.GetInterfaceDescription", pd_method_get_interface_description,
     p_interface, READ, 0},
    {"io.poold.Daemon.Info", pd_method_daemon_info, NULL, READ, 0},
    {"io.poold.Daemon.Metrics", pd_method_daemon_metrics, NULL, READ, 0},

    {"io.poold.Pool.List", pd_method_pool_list, NULL, READ, 0},
    {"io.poold.Pool.Info", pd_method_pool_info, p_pool, READ, 0},
    {"io.poold.Pool.DumpXML", pd_method_pool_dumpxml, p_pool_dumpxml, READ, 0},
    {"io.poold.Pool.Capabilities", pd_method_pool_capabilities, NULL, READ, 0},
    {"io.poold.Pool.FindSources", pd_method_pool_find_sources, p_find_sources, PRIV, 0},
    {"io.poold.Pool.Define", pd_method_pool_define, p_xml, WRITE, 0},
    {"io.poold.Pool.Create", pd_method_pool_create, p_pool_create, WRITE, 0},
    {"io.poold.Pool.Undefine", pd_method_pool_undefine, p_pool, WRITE, 0},
    {"io.poold.Pool.Build", pd_method_pool_build, p_pool_build, WRITE, 0},
    {"io.poold.Pool.Start", pd_method_pool_start, p_pool_start, WRITE, 0},
    {"io.poold.Pool.Stop", pd_method_pool_stop, p_pool, WRITE, 0},
    {"io.poold.Pool.Delete", pd_method_pool_delete, p_pool, WRITE, 0},
    {"io.poold.Pool.Refresh", pd_method_pool_refresh, p_pool, WRITE, 0},
    {"io.poold.Pool.SetAutostart", pd_method_pool_set_autostart, p_pool_autostart, WRITE, 0},
    {"io.poold.Pool.ImportLibvirt", pd_method_pool_import_libvirt, p_import_libvirt, PRIV, 0},
    /* Changes nothing in poold, but defines and starts a pool in libvirt. */
    {"io.poold.Pool.ExportLibvirt", pd_method_pool_export_libvirt, p_export_libvirt, PRIV, 0},

    {"io.poold.Volume.List", pd_method_vol_list, p_pool, READ, 0},
    {"io.poold.Volume.Info", pd_method_vol_info, p_vol, READ, 0},
    {"io.poold.Volume.DumpXML", pd_method_vol_dumpxml, p_vol, READ, 0},
    {"io.poold.Volume.Create", pd_method_vol_create, p_vol_create, WRITE, J | O},
    {"io.poold.Volume.CreateFrom", pd_method_vol_create_from, p_vol_create_from, WRITE, J},
    {"io.poold.Volume.Clone", pd_method_vol_clone, p_vol_clone, WRITE, J},
    {"io.poold.Volume.Delete", pd_method_vol_delete, p_vol_delete, WRITE, O},
    {"io.poold.Volume.Resize", pd_method_vol_resize, p_vol_resize, WRITE, J},
    {"io.poold.Volume.Wipe", pd_method_vol_wipe, p_vol_wipe, WRITE, J},
    {"io.poold.Volume.Upload", pd_method_vol_upload, p_vol_transfer, DATA, J | F},
    /* Download changes no volume, but writes into a caller's descriptor from a job. */
    {"io.poold.Volume.Download", pd_method_vol_download, p_vol_transfer, DATA, J | F},
    {"io.poold.Volume.SnapshotCreate", pd_method_vol_snapshot_create, p_vol_snapshot, WRITE, 0},
    {"io.poold.Volume.SnapshotList", pd_method_vol_snapshot_list, p_vol, READ, 0},
    {"io.poold.Volume.SnapshotRevert", pd_method_vol_snapshot_revert, p_vol_snapshot, WRITE, 0},
    {"io.poold.Volume.SnapshotDelete", pd_method_vol_snapshot_delete, p_vol_snapshot, WRITE, 0},

    {"io.poold.Domain.AttachDisk", pd_method_domain_attach_disk, p_attach_disk, PRIV, 0},
    {"io.poold.Domain.DetachDisk", pd_method_domain_detach_disk, p_detach_disk, PRIV, 0},
    {"io.poold.Domain.BlkList", pd_method_domain_blklist, p_blklist, PRIV, 0},

    {"io.poold.Secret.List", pd_method_secret_list, NULL, PRIV, 0},
    {"io.poold.Secret.Define", pd_method_secret_define, p_xml, PRIV, 0},
    {"io.poold.Secret.DumpXML", pd_method_secret_dumpxml, p_secret, PRIV, 0},
    {"io.poold.Secret.SetValue", pd_method_secret_set_value, p_secret_value, PRIV, 0},
    {"io.poold.Secret.GetValue", pd_method_secret_get_value, p_secret, PRIV, 0},
    {"io.poold.Secret.Undefine", pd_method_secret_undefine, p_secret, PRIV, 0},

    {"io.poold.Job.List", pd_method_job_list, NULL, READ, 0},
    {"io.poold.Job.Get", pd_method_job_get, p_job, READ, 0},
    {"io.poold.Job.Cancel", pd_method_job_cancel, p_job, WRITE, 0},
    {"io.poold.Job.Wait", pd_method_job_wait, p_job, READ, 0},
    {"io.poold.Event.List", pd_method_event_list, p_event_list, READ, 0},
    {"io.poold.Event.Subscribe", pd_method_event_subscribe, NULL, READ, M},
    {NULL, NULL, NULL, 0, 0},
};

/* The call running on each client (main loop only). */
static GHashTable *running_calls;
/* The call whose handler runs now: only it may be deferred. */
static PdCall *handling_call;

bool pd_method_class_allowed(PdMethodClass cls, bool read_only)
{
    switch (cls) {
    case PD_CLASS_READ:
        return true;
    case PD_CLASS_WRITE:
    case PD_CLASS_DATA:
    case PD_CLASS_PRIVILEGED:
        return !read_only;
    case PD_CLASS_NONE:
        break;
    }
    return false; /* unclassed: refused on both sockets */
}

const char *pd_method_class_name(PdMethodClass cls)
{
    switch (cls) {
    case PD_CLASS_READ:
        return "read";
    case PD_CLASS_WRITE:
        return "write";
    case PD_CLASS_DATA:
        return "data";
    case PD_CLASS_PRIVILEGED:
        return "privileged";
    case PD_CLASS_NONE:
        break;
    }
    return NULL;
}

const PdMethod *pd_method_table(void)
{
    return methods;
}

const PdMethod *pd_method_lookup(const char *name)
{
    for (const PdMethod *m = methods; m->name; m++)
        if (g_str_equal(m->name, name))
            return m;
    return NULL;
}

static const PdParamSpec *find_param(const PdMethod *method, const char *name)
{
    for (const PdParamSpec *p = method->params; p && p->name; p++)
        if (g_str_equal(p->name, name))
            return p;
    if ((method->flags & PD_METHOD_JOB) && g_str_equal(name, "async"))
        return NULL; /* listed in the schema of each job method */
    return NULL;
}

/* True if @node has the JSON type @type asks for, within limits. */
static bool param_type_ok(JsonNode *node, PdParamType type)
{
    if (!JSON_NODE_HOLDS_VALUE(node))
        return false;
    GType vt = json_node_get_value_type(node);
    switch (type) {
    case PD_PARAM_STRING:
        return vt == G_TYPE_STRING && strlen(json_node_get_string(node)) <= PD_PARAM_STRING_MAX;
    case PD_PARAM_INT:
        return vt == G_TYPE_INT64 && json_node_get_int(node) >= 0;
    case PD_PARAM_BOOL:
        return vt == G_TYPE_BOOLEAN;
    }
    return false;
}

static JsonObject *error_param(const char *key, const char *value)
{
    JsonObject *o = json_object_new();
    json_object_set_string_member(o, key, value);
    return o;
}

bool pd_dispatch_check(const PdMethod *method, JsonObject *params, bool read_only, bool more,
                       unsigned n_fds, char **ret_error, JsonObject **ret_error_params)
{
    const char *err = NULL;
    JsonObject *eparams = NULL;
    if (!pd_method_class_allowed(method->cls, read_only)) {
        err = "org.varlink.service.PermissionDenied";
    } else if ((method->flags & PD_METHOD_NEEDS_MORE) && !more) {
        err = "org.varlink.service.ExpectedMore";
    } else if ((method->flags & PD_METHOD_TAKES_FD) && n_fds != 1) {
        err = "org.varlink.service.InvalidParameter";
        eparams = error_param("parameter", "fd");
    } else {
        g_autoptr(GList) names = params ? json_object_get_members(params) : NULL;
        for (GList *l = names; l && !err; l = l->next) {
            const PdParamSpec *spec = find_param(method, l->data);
            JsonNode *node = json_object_get_member(params, l->data);
            if (spec && JSON_NODE_HOLDS_NULL(node) && !spec->required)
                continue; /* varlink: null is "not given" for an optional field */
            if (!spec || !param_type_ok(node, spec->type)) {
                err = "org.varlink.service.InvalidParameter";
                eparams = error_param("parameter", l->data);
            }
        }
        for (const PdParamSpec *p = method->params; p && p->name && !err; p++) {
            if (p->required && (!params || !json_object_has_member(params, p->name) ||
                                JSON_NODE_HOLDS_NULL(json_object_get_member(params, p->name)))) {
                err = "org.varlink.service.InvalidParameter";
                eparams = error_param("parameter", p->name);
            }
        }
    }
    if (!err)
        return true;
    *ret_error = g_strdup(err);
    *ret_error_params = eparams ? eparams : json_object_new();
    return false;
}

/* Answers a call that never reached a handler. */
static void answer_early(PdClient *client, bool oneway, const char *error, JsonObject *params)
{
    g_autoptr(JsonObject) msg = json_object_new();
    json_object_set_string_member(msg, "error", error);
    json_object_set_object_member(msg, "parameters", params);
    pd_client_send(client, pd_client_reserve(client), oneway ? NULL : msg, true);
    pd_client_call_done(client);
}

/* The interface part of "a.b.c.Method", or NULL. Caller frees. */
static char *interface_of(const char *method)
{
    const char *dot = strrchr(method, '.');
    return dot && dot != method ? g_strndup(method, (gsize)(dot - method)) : NULL;
}

static bool interface_known(const char *iface)
{
    size_t len = strlen(iface);
    for (const PdMethod *m = methods; m->name; m++)
        if (strncmp(m->name, iface, len) == 0 && m->name[len] == '.' &&
            !strchr(m->name + len + 1, '.'))
            return true;
    return false;
}

/* Closes the descriptors a call did not need. */
static void drop_fds(PdClient *client)
{
    int fd;
    while ((fd = pd_client_take_fd(client)) >= 0)
        (void)close(fd);
}

/* Reads the envelope of a message. Returns false if it is no varlink call. */
static bool parse_envelope(JsonNode *root, const char **ret_method, JsonObject **ret_params,
                           bool *ret_more, bool *ret_oneway)
{
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return false;
    JsonObject *msg = json_node_get_object(root);
    JsonNode *m = json_object_get_member(msg, "method");
    JsonNode *p = json_object_get_member(msg, "parameters");
    JsonNode *more = json_object_get_member(msg, "more");
    JsonNode *oneway = json_object_get_member(msg, "oneway");
    if (!m || !JSON_NODE_HOLDS_VALUE(m) || json_node_get_value_type(m) != G_TYPE_STRING)
        return false;
    if (p && !JSON_NODE_HOLDS_OBJECT(p) && !JSON_NODE_HOLDS_NULL(p))
        return false;
    if ((more &&
         (!JSON_NODE_HOLDS_VALUE(more) || json_node_get_value_type(more) != G_TYPE_BOOLEAN)) ||
        (oneway &&
         (!JSON_NODE_HOLDS_VALUE(oneway) || json_node_get_value_type(oneway) != G_TYPE_BOOLEAN)))
        return false;
    *ret_method = json_node_get_string(m);
    *ret_params = p && JSON_NODE_HOLDS_OBJECT(p) ? json_node_get_object(p) : NULL;
    *ret_more = more && json_node_get_boolean(more);
    *ret_oneway = oneway && json_node_get_boolean(oneway);
    return true;
}

/* True if the JSON text escapes a NUL ("\\u0000" not itself escaped): such a string would be
 * cut short in C (a name "a\\u0000b" must not become "a"). */
static bool has_nul_escape(const char *data, size_t len)
{
    for (size_t i = 0; i + 6 <= len; i++) {
        if (data[i] != '\\' || g_ascii_strncasecmp(data + i + 1, "u0000", 5) != 0)
            continue;
        size_t n = 0; /* backslashes ending at i */
        while (n <= i && data[i - n] == '\\')
            n++;
        if (n % 2 == 1)
            return true;
    }
    return false;
}

void pd_parsed_call_clear(PdParsedCall *pc)
{
    g_clear_object(&pc->parser);
    g_clear_pointer(&pc->early_error, g_free);
    g_clear_pointer(&pc->early_params, json_object_unref);
    pc->method = NULL;
    pc->params = NULL;
    pc->name = NULL;
}

static void parsed_early(PdParsedCall *pc, const char *error, JsonObject *params)
{
    pc->method = NULL;
    pc->early_error = g_strdup(error);
    pc->early_params = params;
}

static PdJsonLimits json_limits = {PD_JSON_MAX_DEPTH_DEFAULT, PD_JSON_MAX_ELEMENTS_DEFAULT};

void pd_dispatch_set_json_limits(const PdJsonLimits *limits)
{
    json_limits = *limits;
}

bool pd_dispatch_parse(const char *data, size_t len, bool read_only, unsigned n_fds,
                       PdParsedCall *pc)
{
    memset(pc, 0, sizeof(*pc));
    if (len == 0 || data[len - 1] != '\0')
        return false;
    /* before json-glib sees it: its parser recurses per level and allocates per value */
    if (!pd_json_scan(data, len - 1, &json_limits, &pc->refused))
        return false;
    pc->parser = json_parser_new_immutable();
    if (!g_utf8_validate(data, (gssize)len - 1, NULL) ||
        !json_parser_load_from_data(pc->parser, data, (gssize)len - 1, NULL) ||
        !parse_envelope(json_parser_get_root(pc->parser), &pc->name, &pc->params, &pc->more,
                        &pc->oneway)) {
        pd_parsed_call_clear(pc);
        return false;
    }
    pc->method = pd_method_lookup(pc->name);
    if (pc->method && has_nul_escape(data, len - 1)) {
        parsed_early(pc, "org.varlink.service.InvalidParameter",
                     error_param("parameter", "(a string holding a NUL character)"));
        return true;
    }
    if (!pc->method) {
        g_autofree char *iface = interface_of(pc->name);
        if (iface && interface_known(iface))
            parsed_early(pc, "org.varlink.service.MethodNotFound", error_param("method", pc->name));
        else
            parsed_early(pc, "org.varlink.service.InterfaceNotFound",
                         error_param("interface", iface ? iface : pc->name));
        return true;
    }
    g_autofree char *err = NULL;
    JsonObject *eparams = NULL;
    if (!pd_dispatch_check(pc->method, pc->params, read_only, pc->more, n_fds, &err, &eparams))
        parsed_early(pc, err, eparams);
    return true;
}

bool pd_dispatch(PdDaemon *daemon, PdClient *client, const char *data, size_t len)
{
    PdParsedCall pc;
    bool parsed =
        pd_dispatch_parse(data, len, pd_client_read_only(client), pd_client_n_fds(client), &pc);
    return pd_dispatch_parsed(daemon, client, &pc, parsed);
}

bool pd_dispatch_parsed(PdDaemon *daemon, PdClient *client, PdParsedCall *parsed, bool ok)
{
    PdParsedCall pc = *parsed;
    memset(parsed, 0, sizeof(*parsed));
    if (!ok) {
        drop_fds(client);
        if (pc.refused)
            pd_client_close(client, pc.refused);
        return false;
    }
    if (pc.early_error) {
        const PdMethod *refused = pd_method_lookup(pc.name);
        if (refused) {
            g_info("%s (class %s) from %s refused: %s", pc.name, pd_method_class_name(refused->cls),
                   pd_client_describe(client), pc.early_error);
            pd_metrics_call(refused->name, true, 0);
        }
        drop_fds(client);
        answer_early(client, pc.oneway, pc.early_error, g_steal_pointer(&pc.early_params));
        pd_parsed_call_clear(&pc);
        return true;
    }
    const PdMethod *method = pc.method;
    if (!(method->flags & PD_METHOD_OVERLAP) && pd_client_overlapping(client)) {
        pd_client_defer_current(client, NULL); /* runs after the earlier calls have ended */
        pd_parsed_call_clear(&pc);
        return true;
    }
    PdCall *call = g_new0(PdCall, 1);
    call->daemon = daemon;
    call->client = pd_client_ref(client);
    call->method = method;
    call->method_name = g_strdup(pc.name);
    call->more = pc.more;
    call->oneway = pc.oneway;
    call->start_us = g_get_monotonic_time();
    call->slot = pd_client_reserve(client);
    call->fd = (method->flags & PD_METHOD_TAKES_FD) ? pd_client_take_fd(client) : -1;
    drop_fds(client);
    if (!running_calls)
        running_calls = g_hash_table_new(NULL, NULL);
    g_hash_table_insert(running_calls, client, call);
    g_debug("%s from %s", pc.name, pd_client_describe(client));
    g_autoptr(JsonObject) owned = pc.params ? json_object_ref(pc.params) : json_object_new();
    pd_parsed_call_clear(&pc);
    handling_call = call;
    method->handler(daemon, call, owned);
    handling_call = NULL;
    return true;
}

void pd_dispatch_client_gone(PdDaemon *daemon, PdClient *client)
{
    PdCall *call = running_calls ? g_hash_table_lookup(running_calls, client) : NULL;
    if (call && call->on_abandon) {
        void (*fn)(PdCall *, gpointer) = call->on_abandon;
        call->on_abandon = NULL;
        fn(call, call->abandon_data);
    }
}

void pd_dispatch_client_eof(PdDaemon *daemon, PdClient *client)
{
    PdCall *call = running_calls ? g_hash_table_lookup(running_calls, client) : NULL;
    if (call && call->more)
        pd_dispatch_client_gone(daemon, client);
}

bool pd_call_releasable(PdCall *call)
{
    return !call->released && !call->oneway && !call->more;
}

void pd_call_release(PdCall *call)
{
    g_assert(pd_call_releasable(call));
    if (running_calls && g_hash_table_lookup(running_calls, call->client) == call)
        g_hash_table_remove(running_calls, call->client);
    call->on_abandon = NULL;
    call->released = true;
    pd_client_call_done(call->client);
}

bool pd_call_overlapping(PdCall *call)
{
    return pd_client_overlapping(call->client);
}

void pd_call_defer(PdCall *call)
{
    g_assert(call == handling_call && !call->released && pd_call_overlapping(call) &&
             !(call->method->flags & PD_METHOD_TAKES_FD));
    handling_call = NULL;
    if (running_calls && g_hash_table_lookup(running_calls, call->client) == call)
        g_hash_table_remove(running_calls, call->client);
    pd_client_defer_current(call->client, call->slot);
    pd_client_unref(call->client);
    g_free(call->method_name);
    g_free(call);
}

bool pd_call_abandoned(PdCall *call)
{
    return pd_client_closed(call->client);
}

/* Sends the final message: @msg, or @text (serialized already) when @msg is NULL. Returns
 * the size of the reply sent (0 for a oneway call). */
static gsize call_finish(PdCall *call, JsonObject *msg, const GString *text)
{
    gsize sent = 0;
    if (call == handling_call)
        handling_call = NULL;
    pd_metrics_call(call->method->name, msg && json_object_has_member(msg, "error"),
                    g_get_monotonic_time() - call->start_us);
    if (msg || call->oneway)
        sent = pd_client_send(call->client, call->slot, call->oneway ? NULL : msg, true);
    else
        sent = pd_client_send_text(call->client, call->slot, text->str, text->len, true);
    call->slot = NULL;
    if (running_calls && g_hash_table_lookup(running_calls, call->client) == call)
        g_hash_table_remove(running_calls, call->client);
    if (call->fd >= 0)
        (void)close(call->fd);
    if (!call->released)
        pd_client_call_done(call->client);
    pd_client_unref(call->client);
    g_free(call->method_name);
    g_free(call);
    return sent;
}

/* A reply above this size (a vol-list of thousands of volumes) leaves free memory behind. */
#define TRIM_AFTER_REPLY_BYTES (1024 * 1024)

static void trim_after(gsize sent);

void pd_call_reply(PdCall *call, JsonObject *params)
{
    JsonObject *msg = json_object_new();
    json_object_set_object_member(msg, "parameters", params ? params : json_object_new());
    gsize sent = call_finish(call, msg, NULL);
    json_object_unref(msg);
    trim_after(sent);
}

void pd_call_reply_text(PdCall *call, GString *params)
{
    g_string_prepend(params, "{\"parameters\":");
    g_string_append_c(params, '}');
    gsize sent = call_finish(call, NULL, params);
    g_string_free(params, true);
    trim_after(sent);
}

/* After a large reply (a vol-list of thousands of volumes): the text, and for a json-glib
 * reply its tree, are freed now; give the memory back once the loop is idle. */
static void trim_after(gsize sent)
{
    if (sent > TRIM_AFTER_REPLY_BYTES)
        pd_heap_trim_later();
}

void pd_call_progress(PdCall *call, JsonObject *params)
{
    g_autoptr(JsonObject) msg = json_object_new();
    json_object_set_object_member(msg, "parameters", params ? params : json_object_new());
    if (!call->more)
        return;
    json_object_set_boolean_member(msg, "continues", true);
    pd_client_send(call->client, call->slot, msg, false);
}

void pd_call_fail_name(PdCall *call, const char *error, JsonObject *params)
{
    g_autoptr(JsonObject) msg = json_object_new();
    json_object_set_string_member(msg, "error", error);
    json_object_set_object_member(msg, "parameters", params ? params : json_object_new());
    g_info("%s from %s: %s", call->method_name, pd_client_describe(call->client), error);
    call_finish(call, msg, NULL);
}

void pd_call_fail(PdCall *call, const GError *error)
{
    if (call == handling_call && (call->method->flags & PD_METHOD_OVERLAP) && !call->released &&
        pd_call_overlapping(call)) {
        pd_call_defer(call); /* perhaps an earlier call still makes or removes its volume */
        return;
    }
    const char *name = error->domain == PD_ERROR ? pd_error_wire_name(error->code)
                                                 : pd_error_wire_name(PD_ERROR_FAILED);
    JsonObject *params = json_object_new();
    json_object_set_string_member(params, "message", error->message);
    g_info("%s: %s", call->method_name, error->message);
    pd_call_fail_name(call, name, params);
}

const char *pd_param_string(JsonObject *params, const char *name)
{
    JsonNode *n = json_object_get_member(params, name);
    return n && !JSON_NODE_HOLDS_NULL(n) ? json_node_get_string(n) : NULL;
}

int64_t pd_param_int(JsonObject *params, const char *name, int64_t dflt)
{
    JsonNode *n = json_object_get_member(params, name);
    return n && !JSON_NODE_HOLDS_NULL(n) ? json_node_get_int(n) : dflt;
}

bool pd_param_bool(JsonObject *params, const char *name, bool dflt)
{
    JsonNode *n = json_object_get_member(params, name);
    return n && !JSON_NODE_HOLDS_NULL(n) ? json_node_get_boolean(n) : dflt;
}
