/* The event log and its subscribers. */
#include "daemon/observe/events.h"

#include "daemon/store/store.h"

struct PdEvents {
    PdStore *store;
    GList *subscribers; /* PdCall * */
    GPtrArray *queued;  /* JsonObject *: emitted, not yet sent */
};

PdEvents *pd_events_new(PdStore *store)
{
    PdEvents *events = g_new0(PdEvents, 1);
    events->store = store;
    events->queued = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
    return events;
}

void pd_events_free(PdEvents *events)
{
    if (!events)
        return;
    while (events->subscribers) {
        PdCall *call = events->subscribers->data;
        events->subscribers = g_list_delete_link(events->subscribers, events->subscribers);
        call->on_abandon = NULL;
        pd_call_reply(call, NULL);
    }
    g_ptr_array_unref(events->queued);
    g_free(events);
}

JsonObject *pd_event_to_json(int64_t id, int64_t time, const char *kind, const char *pool,
                             const char *volume, const char *detail)
{
    JsonObject *o = json_object_new();
    json_object_set_int_member(o, "id", id);
    json_object_set_int_member(o, "time", time);
    json_object_set_string_member(o, "kind", kind);
    if (pool)
        json_object_set_string_member(o, "pool", pool);
    if (volume)
        json_object_set_string_member(o, "volume", volume);
    if (detail)
        json_object_set_string_member(o, "detail", detail);
    return o;
}

bool pd_events_emit(PdEvents *events, const char *kind, const char *pool, const char *volume,
                    const char *detail, GError **error)
{
    int64_t now = g_get_real_time() / G_USEC_PER_SEC;
    int64_t id = pd_store_event_append(events->store, kind, pool, volume, detail, now, error);
    if (id <= 0)
        return false;
    g_ptr_array_add(events->queued, pd_event_to_json(id, now, kind, pool, volume, detail));
    return true;
}

void pd_events_flush(PdEvents *events)
{
    for (guint i = 0; i < events->queued->len; i++) {
        for (GList *l = events->subscribers; l; l = l->next) {
            JsonObject *params = json_object_new();
            json_object_set_object_member(params, "event",
                                          json_object_ref(events->queued->pdata[i]));
            pd_call_progress(l->data, params);
        }
    }
    g_ptr_array_set_size(events->queued, 0);
}

void pd_events_discard(PdEvents *events)
{
    g_ptr_array_set_size(events->queued, 0);
}

static void subscriber_gone(PdCall *call, gpointer data)
{
    PdEvents *events = data;
    events->subscribers = g_list_remove(events->subscribers, call);
    pd_call_reply(call, NULL);
}

void pd_events_subscribe(PdEvents *events, PdCall *call)
{
    call->on_abandon = subscriber_gone;
    call->abandon_data = events;
    events->subscribers = g_list_prepend(events->subscribers, call);
    pd_call_progress(call, json_object_new());
}
