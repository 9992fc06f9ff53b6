/* Jobs: every operation that does storage I/O runs on a worker thread (GThreadPool) as a job
 * with an id, a kind, the pool and volume it works on, bytes done/total, rate, ETA and a
 * GCancellable (udisks' job signature: (job, cancellable, data, GError **)).
 *
 * While a job runs, the volume it works on is busy: pd_jobs_volume_busy() names the job, and
 * policy answers VolumeBusy instead of waiting or racing. Jobs of long kinds are journaled in
 * the store (start-up marks those interrupted by a crash failed). A finished job stays
 * listed for a while. Everything but the run function happens on the main loop thread; a job
 * completes on the thread-default main context of the code that started it.
 *
 * It is the one way off the main loop: volume and pool work, attachments, find-sources,
 * libvirt import/export, attachment reconciliation scans and start-up pool starts are all
 * jobs (listed by Job.List, cancellable by Job.Cancel, bounded by the workers, counted in
 * the metrics by kind and state). */
#pragma once

#include "daemon/rpc/call.h"
#include "daemon/jobs/group-commit.h"
#include "daemon/observe/events.h"
#include "daemon/store/store.h"

#include <gio/gio.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct PdJobs PdJobs;
typedef struct PdJob PdJob;

typedef enum {
    PD_JOB_RUNNING,
    PD_JOB_DONE,
    PD_JOB_FAILED,
    PD_JOB_CANCELLED,
} PdJobState;

/* Runs on a worker thread: the storage work. Returns false with @error set on failure. */
typedef bool (*PdJobRunFunc)(PdJob *job, GCancellable *cancellable, gpointer data, GError **error);
/* Runs on the main loop after a successful run: applies the result (store, catalog, events)
 * and returns the reply parameters (owned by the caller), or NULL with @error set. */
typedef JsonObject *(*PdJobApplyFunc)(PdDaemon *daemon, PdJob *job, gpointer data, GError **error);

typedef struct {
    const char *kind; /* "vol-create" ... */
    const char *pool;
    const char *volume;                /* the volume made busy; NULL for pool-level work */
    const char *src_pool, *src_volume; /* a second volume made busy (a copy's source) */
    bool journal;                      /* keep a row in the store's job table */
    uint64_t bytes_total;              /* known size of the work (0: the job reports it) */
    PdJobRunFunc run;
    PdJobApplyFunc apply; /* NULL: reply {} */
    /* @apply opens its own transactions (one per pool it defines, say) instead of running in
     * the job's; only for a job without a journal row. */
    bool apply_owns_txn;
    gpointer data;
    GDestroyNotify data_free;
    /* @data_free touches nothing but @data (no daemon state): it also runs at exit for a job
     * whose completion never ran. Else such data is left as it is, as after a crash. */
    bool data_free_at_exit;
    /* Group commit (group-commit.h), for quick changes a client may pipeline: when @sync is
     * set and the starting call is plain (not async, not "more", not oneway), the job is
     * grouped (pd_job_grouped): its run may leave the change undurable, the store commits it
     * lazily, the call is released, and the next barrier calls @sync(@sync_data) once per
     * @sync_key before the answer. @sync_data is freed with @sync_data_free in any case. */
    PdGroupSyncFunc sync;
    const char *sync_key;
    gpointer sync_data;
    GDestroyNotify sync_data_free;
    /* A grouped job of a PD_METHOD_OVERLAP call releases its call when it starts, unless this
     * is set (a create on a backing volume: a delete of that base, coming next, must see the
     * new overlay as its user, so the client waits until it is made). */
    bool no_overlap;
    /* Streams a client's descriptor (upload, download): runs on the stream pool, never on
     * the storage workers, and is cancelled when it moves no byte for the stall timeout
     * (docs/security.md, attack 1.8). */
    bool stream;
    /* A read of metadata a read-only client may ask for (SnapshotList): runs on the one-thread
     * read pool, never on the storage workers, makes no volume busy (the run opens what it
     * reads read-only and shared), and a connection runs one at a time (docs/security.md,
     * attack 2 R1). */
    bool read;
} PdJobSpec;

/* docs/security.md, rule W. */
typedef struct {
    unsigned stream_workers;  /* threads of the stream pool */
    unsigned stall_timeout_s; /* a stream that moves nothing for that long fails; 0: never */
    unsigned max_per_client;  /* running jobs one connection may have started */
} PdJobLimits;

/* Jobs on @workers threads, journaled in @store and applied with @events (the apply
 * functions get @ctx, which the engine does not look into). */
PdJobs *pd_jobs_new(PdDaemon *ctx, PdStore *store, PdEvents *events, unsigned workers);
/* Before any job starts (defaults: 4 stream workers, 60 s, 32 jobs per client). */
void pd_jobs_set_limits(PdJobs *jobs, const PdJobLimits *limits);
/* Cancels running jobs, waits for the workers, frees. */
void pd_jobs_free(PdJobs *jobs);

/* Starts a job. If @call is given it is answered when the job ends (with the apply result or
 * the error), with progress replies if it was made with "more"; with @async the call is
 * answered at once with {"job": id}. Returns the job (owned by @jobs), or NULL with an error
 * (the store refused the journal row). */
PdJob *pd_jobs_start(PdJobs *jobs, const PdJobSpec *spec, PdCall *call, bool async, GError **error);

/* pd_jobs_start for a handler: @call (not async) gets the job's answer, or at once the error
 * when the job cannot start. */
void pd_jobs_start_or_fail(PdJobs *jobs, const PdJobSpec *spec, PdCall *call);

/* The running job working on @volume of @pool, or NULL. */
PdJob *pd_jobs_volume_busy(PdJobs *jobs, const char *pool, const char *volume);
/* Sets PD_ERROR_VOLUME_BUSY naming @volume of @pool and @job. */
void pd_job_set_busy_error(PdJob *job, const char *pool, const char *volume, GError **error);
/* True when a job runs on any volume of @pool. */
bool pd_jobs_pool_busy(PdJobs *jobs, const char *pool);
unsigned pd_jobs_n_running(PdJobs *jobs);

PdJob *pd_jobs_lookup(PdJobs *jobs, int64_t id);
int64_t pd_job_id(PdJob *job);
const char *pd_job_kind(PdJob *job);
bool pd_job_running(PdJob *job);
/* True for a grouped job (see PdJobSpec.sync): its run may skip its own syncs. Any thread. */
bool pd_job_grouped(PdJob *job);
/* Thread-safe: the worker reports its progress. */
void pd_job_progress(PdJob *job, uint64_t done, uint64_t total);
/* For backend callbacks: a PdBackendProgressFunc whose user data is the job. */
void pd_job_progress_cb(uint64_t done, uint64_t total, void *job);

/* For run functions: true, with PD_ERROR_CANCELLED naming the job in @error (which must be
 * unset), when @job was cancelled. */
bool pd_job_cancelled(PdJob *job, GCancellable *cancellable, GError **error);
/* Cancels a running job (its run function sees the cancellable). */
bool pd_job_cancel(PdJob *job, GError **error);
/* Adds @call as a waiter: answered with the job when it ends (progress with "more"). */
void pd_job_wait(PdJob *job, PdCall *call);

/* JSON of a job (io.poold.Job.JobInfo). */
JsonObject *pd_job_to_json(PdJob *job);
/* Jobs in memory (running and recently finished) and the journal, newest first. */
JsonArray *pd_jobs_list_json(PdJobs *jobs);
/* A finished job that is only in the journal, or NULL. */
JsonObject *pd_jobs_journal_lookup(PdJobs *jobs, int64_t id);

G_END_DECLS
