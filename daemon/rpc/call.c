/* The answers of a call: reply, error, progress, release (group commit), defer (overlap). */
#include "daemon/rpc/call.h"

#include "common/pd-error.h"
#include "daemon/core/heap.h"

#include <unistd.h>

/* A reply above this size (a vol-list of thousands of volumes) leaves free memory behind. */
#define TRIM_AFTER_REPLY_BYTES (1024 * 1024)

PdCall *pd_call_new(PdClient *client, const PdMethod *method, const char *name, bool more,
                    bool oneway, PdCallObserver observer)
{
    PdCall *call = g_new0(PdCall, 1);
    call->client = pd_client_ref(client);
    call->method = method;
    call->method_name = g_strdup(name);
    call->more = more;
    call->oneway = oneway;
    call->observer = observer;
    call->start_us = g_get_monotonic_time();
    call->slot = pd_client_reserve(client);
    call->fd = (method->flags & PD_METHOD_TAKES_FD) ? pd_client_take_fd(client) : -1;
    pd_client_set_running_call(client, call);
    return call;
}

/* @call is no longer its client's running call. */
static void not_running(PdCall *call)
{
    if (pd_client_running_call(call->client) == call)
        pd_client_set_running_call(call->client, NULL);
}

/* Its handler runs now (dispatch): only then may it be deferred. */
static bool handling(PdCall *call)
{
    return pd_client_dispatching(call->client) && pd_client_running_call(call->client) == call;
}

static void call_free(PdCall *call)
{
    pd_client_unref(call->client);
    g_free(call->method_name);
    g_free(call);
}

bool pd_call_releasable(PdCall *call)
{
    return !call->released && !call->oneway && !call->more;
}

void pd_call_release(PdCall *call)
{
    g_assert(pd_call_releasable(call));
    not_running(call);
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
    g_assert(handling(call) && !call->released && pd_call_overlapping(call) &&
             !(call->method->flags & PD_METHOD_TAKES_FD));
    not_running(call);
    pd_client_defer_current(call->client, call->slot);
    call_free(call);
}

bool pd_call_abandoned(PdCall *call)
{
    return pd_client_closed(call->client);
}

void pd_call_abandon(PdCall *call)
{
    if (!call->on_abandon)
        return;
    void (*fn)(PdCall *, gpointer) = call->on_abandon;
    call->on_abandon = NULL;
    fn(call, call->abandon_data);
}

/* Sends the final message: @msg, or @text (serialized already) when @msg is NULL. Returns
 * the size of the reply sent (0 for a oneway call). */
static gsize call_finish(PdCall *call, JsonObject *msg, const GString *text)
{
    gsize sent = 0;
    if (call->observer)
        call->observer(call->method->name, msg && json_object_has_member(msg, "error"),
                       g_get_monotonic_time() - call->start_us);
    if (msg || call->oneway)
        sent = pd_client_send(call->client, call->slot, call->oneway ? NULL : msg, true);
    else
        sent = pd_client_send_text(call->client, call->slot, text->str, text->len, true);
    call->slot = NULL;
    not_running(call);
    if (call->fd >= 0)
        (void)close(call->fd);
    if (!call->released)
        pd_client_call_done(call->client);
    call_free(call);
    return sent;
}

/* After a large reply (a vol-list of thousands of volumes): the text, and for a json-glib
 * reply its tree, are freed now; give the memory back once the loop is idle. */
static void trim_after(gsize sent)
{
    if (sent > TRIM_AFTER_REPLY_BYTES)
        pd_heap_trim_later();
}

void pd_call_reply(PdCall *call, JsonObject *params)
{
    g_autoptr(JsonObject) msg = json_object_new();
    json_object_set_object_member(msg, "parameters", params ? params : json_object_new());
    gsize sent = call_finish(call, msg, NULL);
    g_clear_pointer(&msg, json_object_unref);
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

void pd_call_progress(PdCall *call, JsonObject *params)
{
    if (!call->more) {
        if (params)
            json_object_unref(params);
        return;
    }
    g_autoptr(JsonObject) msg = json_object_new();
    json_object_set_object_member(msg, "parameters", params ? params : json_object_new());
    json_object_set_boolean_member(msg, "continues", true);
    pd_client_send(call->client, call->slot, msg, false);
}

/* Refusals (PermissionDenied) are logged without --verbose, at most REFUSALS_PER_WINDOW in
 * each REFUSAL_WINDOW_US, then one line counting those left out: a client cannot flood the
 * log with them (attack 7.6). Any thread. */
#define REFUSALS_PER_WINDOW 20
#define REFUSAL_WINDOW_US   (10 * G_USEC_PER_SEC)
G_LOCK_DEFINE_STATIC(refusal_log);

void pd_call_log_refusal(const char *method, const char *who, const char *error, const char *text)
{
    static gint64 window_start;
    static unsigned logged, dropped;
    gint64 now = g_get_monotonic_time();
    unsigned dropped_before = 0;
    G_LOCK(refusal_log);
    if (now - window_start >= REFUSAL_WINDOW_US) {
        window_start = now;
        dropped_before = dropped;
        logged = dropped = 0;
    }
    bool log = logged < REFUSALS_PER_WINDOW;
    if (log)
        logged++;
    else
        dropped++;
    G_UNLOCK(refusal_log);
    if (dropped_before)
        g_message("%u refusals not logged in the last %d s", dropped_before,
                  (int)(REFUSAL_WINDOW_US / G_USEC_PER_SEC));
    if (log)
        g_message("refused: %s from %s: %s %s", method, who, error, text ? text : "");
}

void pd_call_fail_name(PdCall *call, const char *error, JsonObject *params)
{
    g_autoptr(JsonObject) msg = json_object_new();
    json_object_set_string_member(msg, "error", error);
    json_object_set_object_member(msg, "parameters", params ? params : json_object_new());
    if (g_str_has_suffix(error, ".PermissionDenied"))
        pd_call_log_refusal(call->method_name, pd_client_describe(call->client), error,
                            json_object_get_string_member_with_default(
                                json_object_get_object_member(msg, "parameters"), "message", ""));
    else
        g_info("%s from %s: %s", call->method_name, pd_client_describe(call->client), error);
    call_finish(call, msg, NULL);
}

void pd_call_fail(PdCall *call, const GError *error)
{
    if (handling(call) && (call->method->flags & PD_METHOD_OVERLAP) && !call->released &&
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
