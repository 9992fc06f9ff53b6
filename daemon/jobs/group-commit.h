/* Group commit: one durability barrier for a burst of small changes.
 *
 * A change made by a plain call (vol-create, vol-delete) is applied at once, in memory and in
 * the store (committed without a sync), and its call is released: the client goes on with
 * its next message while the answer waits. When the burst ends (no group job runs any more),
 * after a few answers while jobs still run (EARLY_GROUP) or after a short deadline, and when
 * no other barrier runs, a barrier runs on a thread of its own:
 * the sync of each pool touched (one fsync of a directory for any number of renames and
 * unlinks) and one sync of the store's WAL. Then every waiting call is answered, in order: a
 * reply that says done still means durable, but a client that pipelines its calls (poolctl
 * reading commands from a file) pays one sync per burst instead of three per call. A client
 * that waits for each answer sees no difference: its burst is one call long.
 *
 * Main loop thread only, except the sync functions, which run on the barrier's thread. */
#pragma once

#include "daemon/rpc/call.h"
#include "daemon/store/store.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef struct PdGroupCommit PdGroupCommit;

/* Makes durable what a group job left undurable; any thread. */
typedef bool (*PdGroupSyncFunc)(gpointer data, GError **error);

PdGroupCommit *pd_group_commit_new(PdStore *store);
/* Finishes what waits (joins a running barrier, runs the open one inline, answers), frees. */
void pd_group_commit_free(PdGroupCommit *gc);

/* The next barrier calls @sync(@data) once for @key (a pool name); @data is freed with
 * @data_free afterwards, or at once when @key is already in the group. */
void pd_group_commit_add_sync(PdGroupCommit *gc, const char *key, PdGroupSyncFunc sync,
                              gpointer data, GDestroyNotify data_free);
/* @call gets @params (taken) after the next barrier, or the error of @key's sync or of the
 * store's. Calls are answered in the order they were added. */
void pd_group_commit_add_answer(PdGroupCommit *gc, PdCall *call, JsonObject *params,
                                const char *key);
/* How many group jobs run now: while some do (and the group is small and young), the barrier
 * waits for them to join it. Call after each start and completion. */
void pd_group_commit_set_running(PdGroupCommit *gc, unsigned n_running);

G_END_DECLS
