/* Lifecycle events: appended to the store's event log and streamed to subscribers
 * (io.poold.Event.Subscribe calls made with "more"). Main loop thread only. */
#pragma once

#include "daemon/rpc/call.h"
#include "daemon/store/store.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef struct PdEvents PdEvents;

/* Events logged in @store. */
PdEvents *pd_events_new(PdStore *store);
/* Ends every subscription (final empty answers are not sent: the daemon is stopping). */
void pd_events_free(PdEvents *events);

/* Logs an event in the store (inside the caller's transaction, if one is open) and queues it
 * for subscribers; they get it when pd_events_flush runs (after the commit). Returns false
 * with an error if the store refused. @pool, @volume and @detail may be NULL. */
bool pd_events_emit(PdEvents *events, const char *kind, const char *pool, const char *volume,
                    const char *detail, GError **error);
/* Sends the queued events to subscribers (call after a commit). */
void pd_events_flush(PdEvents *events);
/* Drops the queued events (after a rollback). */
void pd_events_discard(PdEvents *events);

/* Adds @call as a subscriber: it gets {} now, then {"event": {...}} per event. */
void pd_events_subscribe(PdEvents *events, PdCall *call);

/* JSON of one stored event. */
JsonObject *pd_event_to_json(int64_t id, int64_t time, const char *kind, const char *pool,
                             const char *volume, const char *detail);

G_END_DECLS
