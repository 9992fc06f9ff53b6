/* The router: the checks every call passes before its handler runs, and the handler. */
#include "daemon/rpc/dispatch.h"

#include "common/pd-error.h"
#include "daemon/rpc/json-limits.h"

#include <string.h>
#include <unistd.h>

struct PdDispatch {
    const PdMethod *table;
    PdDaemon *ctx;
    PdCallObserver observer;
};

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

const PdMethod *pd_method_find(const PdMethod *table, const char *name)
{
    for (const PdMethod *m = table; m->name; m++)
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

static bool interface_known(const PdMethod *table, const char *iface)
{
    size_t len = strlen(iface);
    for (const PdMethod *m = table; m->name; m++)
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

bool pd_dispatch_parse(const PdMethod *table, const char *data, size_t len, bool read_only,
                       unsigned n_fds, PdParsedCall *pc)
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
    pc->method = pd_method_find(table, pc->name);
    if (pc->method && has_nul_escape(data, len - 1)) {
        parsed_early(pc, "org.varlink.service.InvalidParameter",
                     error_param("parameter", "(a string holding a NUL character)"));
        return true;
    }
    if (!pc->method) {
        g_autofree char *iface = interface_of(pc->name);
        if (iface && interface_known(table, iface))
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

bool pd_dispatch(PdDispatch *dispatch, PdClient *client, const char *data, size_t len)
{
    PdParsedCall pc;
    bool ok = pd_dispatch_parse(dispatch->table, data, len, pd_client_read_only(client),
                                pd_client_n_fds(client), &pc);
    return pd_dispatch_parsed(dispatch, client, &pc, ok);
}

bool pd_dispatch_parsed(PdDispatch *dispatch, PdClient *client, PdParsedCall *parsed, bool ok)
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
        const PdMethod *refused = pd_method_find(dispatch->table, pc.name);
        if (refused && g_str_has_suffix(pc.early_error, ".PermissionDenied")) {
            g_autofree char *cls =
                g_strdup_printf("(class %s)", pd_method_class_name(refused->cls));
            pd_call_log_refusal(pc.name, pd_client_describe(client), pc.early_error, cls);
        } else if (refused) {
            g_info("%s (class %s) from %s refused: %s", pc.name, pd_method_class_name(refused->cls),
                   pd_client_describe(client), pc.early_error);
        }
        if (refused) {
            if (dispatch->observer)
                dispatch->observer(refused->name, true, 0);
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
    PdCall *call = pd_call_new(client, method, pc.name, pc.more, pc.oneway, dispatch->observer);
    drop_fds(client);
    g_debug("%s from %s", pc.name, pd_client_describe(client));
    g_autoptr(JsonObject) owned = pc.params ? json_object_ref(pc.params) : json_object_new();
    pd_parsed_call_clear(&pc);
    method->handler(dispatch->ctx, call, owned);
    return true;
}

PdDispatch *pd_dispatch_new(const PdMethod *table, PdDaemon *ctx, PdCallObserver observer)
{
    PdDispatch *dispatch = g_new0(PdDispatch, 1);
    dispatch->table = table;
    dispatch->ctx = ctx;
    dispatch->observer = observer;
    return dispatch;
}

void pd_dispatch_free(PdDispatch *dispatch)
{
    g_free(dispatch);
}

static bool on_message(PdClient *client, const char *msg, size_t len, gpointer user)
{
    return pd_dispatch(user, client, msg, len);
}

/* The client is gone: the call running on it (if any) is abandoned. */
static void on_gone(PdClient *client, gpointer user)
{
    PdCall *call = pd_client_running_call(client);
    if (call)
        pd_call_abandon(call);
}

/* The peer shut its side down: a streaming call ("more") running on @client is abandoned;
 * others still get their answer. */
static void on_eof(PdClient *client, gpointer user)
{
    PdCall *call = pd_client_running_call(client);
    if (call && call->more)
        pd_call_abandon(call);
}

/* A large message, parsed on one of the server's threads. */
typedef struct {
    PdParsedCall pc;
    bool ok;
} Parsed;

static gpointer on_parse(const char *msg, size_t len, bool read_only, unsigned n_fds, gpointer user)
{
    PdDispatch *dispatch = user;
    Parsed *p = g_new0(Parsed, 1);
    p->ok = pd_dispatch_parse(dispatch->table, msg, len, read_only, n_fds, &p->pc);
    return p;
}

static bool on_parsed(PdClient *client, gpointer parsed, gpointer user)
{
    g_autofree Parsed *p = parsed;
    return pd_dispatch_parsed(user, client, &p->pc, p->ok);
}

static void free_parsed(gpointer parsed)
{
    Parsed *p = parsed;
    pd_parsed_call_clear(&p->pc);
    g_free(p);
}

const PdServerHandler *pd_dispatch_server_handler(void)
{
    static const PdServerHandler handler = {on_message, on_eof,    on_gone,
                                            on_parse,   on_parsed, free_parsed};
    return &handler;
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
