/* The daemon's SQLite store: one file (poold.db) in the state directory, WAL mode,
 * synchronous=FULL, so a transaction that committed survives a crash or power loss: a reply
 * that says done is sent after the commit.
 *
 * The schema is versioned with PRAGMA user_version; migrations are code (store.c, one step per
 * version, each in its own transaction). A database written by a newer poold is refused.
 * Used from the main loop thread only. All functions return true/non-NULL on success or
 * false/NULL with a PD_ERROR_IO error naming the database and the statement's purpose. */
#pragma once

#include "pools/backend.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct PdStore PdStore;

/* The schema version this poold writes. */
#define PD_STORE_SCHEMA_VERSION 3

/* Opens (creating) @path and migrates it to PD_STORE_SCHEMA_VERSION. */
PdStore *pd_store_open(const char *path, GError **error);
void pd_store_free(PdStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdStore, pd_store_free)

int pd_store_schema_version(PdStore *store);

/* Explicit transactions grouping several changes (a volume row and its event). Changes made
 * outside one commit on their own. */
bool pd_store_begin(PdStore *store, GError **error);
/* Group commit: the same, but its COMMIT does not sync (SQLite's synchronous=NORMAL for this
 * transaction): the change survives a crash of poold but not yet a power loss. The daemon
 * answers such a change only after pd_store_sync_wal. */
bool pd_store_begin_lazy(PdStore *store, GError **error);
bool pd_store_commit(PdStore *store, GError **error);
void pd_store_rollback(PdStore *store);
/* The WAL file: syncing it makes every commit so far durable (in WAL mode with
 * synchronous=NORMAL SQLite syncs the WAL before each checkpoint and the database after it,
 * so a committed change is either in the WAL or already synced into the database). */
const char *pd_store_wal_path(PdStore *store);
/* fdatasync of @wal_path. Thread-safe (any thread; it only opens the file). A missing WAL
 * (nothing written since the last checkpoint reset) is success. */
bool pd_store_sync_wal(const char *wal_path, GError **error);

typedef struct {
    char *name;
    char *uuid;
    char *type;
    char *xml;
    bool autostart;
    bool active; /* the last state: active pools are restarted at start-up */
    bool persistent;
} PdStorePool;

void pd_store_pool_free(PdStorePool *pool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdStorePool, pd_store_pool_free)

/* Inserts or replaces the pool named pool->name. */
bool pd_store_pool_put(PdStore *store, const PdStorePool *pool, GError **error);
bool pd_store_pool_set_active(PdStore *store, const char *name, bool active, GError **error);
bool pd_store_pool_set_autostart(PdStore *store, const char *name, bool autostart, GError **error);
/* Removes the pool and its catalog. */
bool pd_store_pool_delete(PdStore *store, const char *name, GError **error);
/* Every pool (PdStorePool *), by name. */
GPtrArray *pd_store_pool_list(PdStore *store, GError **error);

/* The volume catalog: one row per volume with the fields of PdVol (pools/backend.h) but the
 * timestamps. */
bool pd_store_volume_put(PdStore *store, const char *pool, const PdVol *vol, GError **error);
bool pd_store_volume_delete(PdStore *store, const char *pool, const char *name, GError **error);
/* Makes the catalog of @pool, which holds @old_vols, hold @new_vols (both PdVol *, sorted by
 * name with strcmp): inserts, replaces or deletes only the rows of volumes added, changed (any
 * stored field) or removed; nothing is written when nothing changed. The writes are in one
 * transaction: the caller's, or one of its own when called outside a transaction. */
bool pd_store_volume_sync(PdStore *store, const char *pool, GPtrArray *old_vols,
                          GPtrArray *new_vols, GError **error);
/* Rows changed (inserted, updated, deleted) through this store since it was opened
 * (sqlite3_total_changes): lets tests check that a refresh wrote nothing. */
int pd_store_total_changes(PdStore *store);
/* The catalog of @pool (PdVol *), by name. */
GPtrArray *pd_store_volume_list(PdStore *store, const char *pool, GError **error);

typedef struct {
    int64_t id;
    char *kind;
    char *pool;
    char *volume;
    char *state; /* "running", "done", "failed", "cancelled" */
    uint64_t bytes_done, bytes_total;
    int64_t started, finished; /* seconds since the epoch; finished 0 while running */
    char *error;
} PdStoreJob;

void pd_store_job_free(PdStoreJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdStoreJob, pd_store_job_free)

/* Journals a job that starts, under the id the daemon gave it. */
bool pd_store_job_insert(PdStore *store, int64_t id, const char *kind, const char *pool,
                         const char *volume, uint64_t bytes_total, GError **error);
/* The highest job id journaled (0 when none): ids are never reused. */
int64_t pd_store_job_max_id(PdStore *store);
bool pd_store_job_finish(PdStore *store, int64_t id, const char *state, uint64_t bytes_done,
                         uint64_t bytes_total, const char *error_text, GError **error);
/* Job @id from the journal, or NULL (also on error). */
PdStoreJob *pd_store_job_get(PdStore *store, int64_t id);
/* The last @limit jobs, newest first. */
GPtrArray *pd_store_job_list(PdStore *store, unsigned limit, GError **error);
/* Marks every job still "running" failed (start-up); returns them (PdStoreJob *, as they
 * were, state "running"). */
GPtrArray *pd_store_job_fail_interrupted(PdStore *store, GError **error);

typedef struct {
    int64_t id;
    int64_t time;
    char *kind;
    char *pool;
    char *volume;
    char *detail;
} PdStoreEvent;

void pd_store_event_free(PdStoreEvent *event);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdStoreEvent, pd_store_event_free)

/* Appends an event; returns its id (> 0) or 0 on error. */
int64_t pd_store_event_append(PdStore *store, const char *kind, const char *pool,
                              const char *volume, const char *detail, int64_t time, GError **error);
/* Events with id > @since, oldest first, at most @limit. */
GPtrArray *pd_store_event_list(PdStore *store, int64_t since, unsigned limit, GError **error);

/* Disks attached to libvirt domains (attach-disk): one row per (URI, domain, target). live and
 * config say which definitions hold the disk; a row with neither is an attach in progress
 * (written before libvirt is asked, so a crash after libvirt's answer leaves a trace that
 * reconciliation resolves). mode: NULL (read-write), "readonly" or "shareable". */
typedef struct {
    char *uri;
    char *domain;
    char *target;
    char *pool;
    char *volume;
    char *mode;
    bool live;
    bool config;
    int64_t created; /* seconds since the epoch */
} PdStoreAttachment;

void pd_store_attachment_free(PdStoreAttachment *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdStoreAttachment, pd_store_attachment_free)

/* Inserts or replaces the row of (uri, domain, target). */
bool pd_store_attachment_put(PdStore *store, const PdStoreAttachment *row, GError **error);
bool pd_store_attachment_delete(PdStore *store, const char *uri, const char *domain,
                                const char *target, GError **error);
/* Rows (PdStoreAttachment *) matching every non-NULL filter, by uri, domain, target. */
GPtrArray *pd_store_attachment_list(PdStore *store, const char *uri, const char *pool,
                                    const char *volume, GError **error);

/* ---- secrets ----------------------------------------------------------------------------
 * Definitions (libvirt's secret XML fields) and write-only values. The value never leaves the
 * store but through pd_store_secret_get_value, which the daemon uses to start a pool. The
 * database file is 0600 (pd_store_open), as are SQLite's -wal and -shm files next to it. */

typedef struct {
    char *uuid;
    char *usage_type;
    char *usage_id;
    char *description;
    bool ephemeral;
    bool private_;
    bool has_value; /* set by pd_store_secret_list only */
} PdStoreSecret;

void pd_store_secret_free(PdStoreSecret *secret);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdStoreSecret, pd_store_secret_free)

/* Inserts the secret, or updates the definition of the one with this UUID (its value kept). */
bool pd_store_secret_put(PdStore *store, const PdStoreSecret *secret, GError **error);
/* Every secret (PdStoreSecret *), by UUID. */
GPtrArray *pd_store_secret_list(PdStore *store, GError **error);
bool pd_store_secret_delete(PdStore *store, const char *uuid, GError **error);
bool pd_store_secret_set_value(PdStore *store, const char *uuid, const void *value, size_t len,
                               GError **error);
/* The value of secret @uuid (a GBytes whose memory is wiped when freed), or NULL: with
 * @error set on a database failure, without when the secret has no value. */
GBytes *pd_store_secret_get_value(PdStore *store, const char *uuid, GError **error);

G_END_DECLS
