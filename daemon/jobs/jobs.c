/* Jobs on a thread pool: accounting, busy volumes, progress, cancel, wait. */
#include "daemon/jobs/jobs.h"

#include "common/pd-error.h"
#include "daemon/observe/events.h"
#include "daemon/observe/counters.h"
#include "daemon/rpc/server.h"
#include "daemon/store/store.h"

#include <unistd.h>

#define KEEP_FINISHED     64  /* finished jobs kept in memory for job-info / job-wait */
#define PROGRESS_INTERVAL 500 /* ms between progress replies */

struct PdJob {
    PdJobs *jobs;
    int64_t id;
    char *kind, *pool, *volume;
    char *src_key; /* busy key of the second volume, or NULL */
    bool journal;
    PdJobState state;
    GMutex lock; /* guards done and total */
    uint64_t done, total;
    int64_t started, finished; /* seconds since the epoch */
    int64_t started_mono;      /* µs */
    int64_t finished_mono;     /* µs, once finished: the rate is over the job's own time */
    char *error_text;
    GCancellable *cancellable;
    GMainContext *context; /* where it completes: the thread-default one of its start */
    bool apply_owns_txn;
    PdJobRunFunc run;
    PdJobApplyFunc apply;
    gpointer data;
    GDestroyNotify data_free;
    bool ok;                  /* set by the worker */
    GError *error;            /* set by the worker */
    GList *calls;             /* PdCall *: the starting call (unless async) and waiters */
    bool grouped;             /* group commit (PdJobSpec.sync) */
    bool data_free_at_exit;   /* PdJobSpec.data_free_at_exit */
    PdClient *overlap_client; /* its call was released at the start (PD_METHOD_OVERLAP) */
    PdGroupSyncFunc sync;
    char *sync_key;
    gpointer sync_data;
    GDestroyNotify sync_data_free;
    bool stream;         /* PdJobSpec.stream: on the stream pool, with a stall timeout */
    uint64_t stall_done; /* done when it last moved */
    int64_t stall_since; /* monotonic µs of that */
    bool stalled;        /* cancelled by the stall timeout */
    bool read;           /* PdJobSpec.read: on the read pool, busies no volume */
    gint on_worker;      /* atomic: its run began (a queued stream's stall clock waits) */
    PdClient *owner;     /* the client that started it (max_jobs_per_client), referenced */
};

struct PdJobs {
    PdDaemon *ctx;  /* given to the apply functions, opaque here */
    PdStore *store; /* NULL in tests that journal nothing */
    PdEvents *events;
    GThreadPool *threads;
    GThreadPool *stream_threads; /* upload, download: never on the storage workers */
    GThreadPool *read_threads;   /* PdJobSpec.read: one thread, never the storage workers */
    GHashTable *reads_by_client; /* PdClient * -> its running read job (at most one) */
    PdJobLimits limits;
    GHashTable *by_client; /* PdClient * -> running jobs it started */
    GHashTable *by_id;     /* int64 id -> PdJob * (running and recently finished) */
    GHashTable *busy;      /* "pool/volume" -> PdJob * */
    GQueue finished;       /* PdJob *, oldest first */
    int64_t last_id;
    unsigned n_running;
    gint active_workers; /* run functions executing now (atomic) */
    guint timer;
    PdGroupCommit *group; /* NULL without a store */
    unsigned n_grouped;   /* grouped jobs running */
};

static void job_free(PdJob *job)
{
    if (job->data_free)
        job->data_free(job->data);
    g_free(job->kind);
    g_free(job->pool);
    g_free(job->volume);
    g_free(job->src_key);
    g_free(job->sync_key);
    if (job->sync_data_free)
        job->sync_data_free(job->sync_data);
    g_free(job->error_text);
    if (job->owner)
        pd_client_unref(job->owner);
    if (job->overlap_client)
        pd_client_unref(job->overlap_client);
    g_clear_object(&job->cancellable);
    g_main_context_unref(job->context);
    g_clear_error(&job->error);
    g_mutex_clear(&job->lock);
    g_free(job);
}

static char *busy_key(const char *pool, const char *volume)
{
    return g_strdup_printf("%s/%s", pool, volume);
}

static gboolean job_complete(gpointer data);

static void worker(gpointer data, gpointer user_data)
{
    PdJob *job = data;
    PdJobs *jobs = user_data;
    g_atomic_int_inc(&jobs->active_workers);
    g_atomic_int_set(&job->on_worker, 1);
    job->ok = job->run(job, job->cancellable, job->data, &job->error);
    /* Queued for the main loop, never run here: g_main_context_invoke would run it on this
     * thread when no loop iterates (poold stopping, its loop quit), alongside pd_jobs_free,
     * which leaves completions unrun. */
    GSource *done = g_idle_source_new(); /* as invoke did, on the job's context */
    g_source_set_priority(done, G_PRIORITY_DEFAULT);
    g_source_set_callback(done, job_complete, job, NULL);
    (void)g_source_attach(done, job->context);
    g_source_unref(done);
    (void)g_atomic_int_dec_and_test(&jobs->active_workers);
}

PdJobs *pd_jobs_new(PdDaemon *ctx, PdStore *store, PdEvents *events, unsigned workers)
{
    PdJobs *jobs = g_new0(PdJobs, 1);
    jobs->ctx = ctx;
    jobs->store = store;
    jobs->events = events;
    jobs->threads = g_thread_pool_new(worker, jobs, (gint)MAX(workers, 1u), false, NULL);
    jobs->limits = (PdJobLimits){.stream_workers = 4, .stall_timeout_s = 60, .max_per_client = 32};
    jobs->stream_threads = g_thread_pool_new(worker, jobs, 4, false, NULL);
    jobs->read_threads = g_thread_pool_new(worker, jobs, 1, false, NULL);
    jobs->reads_by_client = g_hash_table_new(NULL, NULL);
    jobs->by_client = g_hash_table_new(NULL, NULL);
    jobs->by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
    jobs->busy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_queue_init(&jobs->finished);
    jobs->last_id = store ? pd_store_job_max_id(store) : 0;
    jobs->group = store ? pd_group_commit_new(store) : NULL;
    return jobs;
}

void pd_jobs_set_limits(PdJobs *jobs, const PdJobLimits *limits)
{
    jobs->limits = *limits;
    g_thread_pool_set_max_threads(jobs->stream_threads, (gint)MAX(limits->stream_workers, 1u),
                                  NULL);
}

void pd_jobs_free(PdJobs *jobs)
{
    if (!jobs)
        return;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, jobs->by_id);
    while (g_hash_table_iter_next(&it, NULL, &value))
        g_cancellable_cancel(((PdJob *)value)->cancellable);
    /* Jobs see the cancel at their next piece; one blocked on a client's pipe may not: after
     * a while poold leaves without it, as after a crash (start-up marks it failed). */
    g_thread_pool_set_max_threads(jobs->threads, 0, NULL); /* queued jobs do not start */
    g_thread_pool_set_max_threads(jobs->stream_threads, 0, NULL);
    g_thread_pool_set_max_threads(jobs->read_threads, 0, NULL);
    for (int i = 0; i < 200 && g_atomic_int_get(&jobs->active_workers) > 0; i++)
        g_usleep(50 * 1000);
    if (g_atomic_int_get(&jobs->active_workers) > 0) {
        g_warning("%d job(s) did not stop within 10 s; leaving them: they are journaled and "
                  "start-up marks them failed",
                  g_atomic_int_get(&jobs->active_workers));
        _exit(0);
    }
    g_thread_pool_free(jobs->threads, true, true);
    g_thread_pool_free(jobs->stream_threads, true, true);
    g_thread_pool_free(jobs->read_threads, true, true);
    g_hash_table_unref(jobs->by_client);
    g_hash_table_unref(jobs->reads_by_client);
    pd_group_commit_free(jobs->group); /* what waits for a barrier: synced and answered */
    /* Completions queued by the workers run no more: the jobs stay "running" in the
     * journal and start-up marks them failed, as after a crash. */
    if (jobs->timer)
        g_source_remove(jobs->timer);
    g_hash_table_iter_init(&it, jobs->by_id);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        PdJob *job = value;
        /* Calls still waiting for a job whose completion never runs: every client is closed
         * by now (pd_server_free), but a call released when its job started (overlap) was
         * not abandoned with its client; drop them (the answers go nowhere). */
        while (job->calls) {
            PdCall *call = job->calls->data;
            job->calls = g_list_delete_link(job->calls, job->calls);
            call->on_abandon = NULL;
            pd_call_reply(call, NULL);
        }
        if (!job->data_free_at_exit)
            job->data_free = NULL; /* a running job's data stays: its completion never ran */
        job_free(job);
    }
    g_hash_table_unref(jobs->busy);
    g_hash_table_unref(jobs->by_id);
    g_queue_clear(&jobs->finished);
    g_free(jobs);
}

bool pd_job_grouped(PdJob *job)
{
    return job->grouped;
}

int64_t pd_job_id(PdJob *job)
{
    return job->id;
}

const char *pd_job_kind(PdJob *job)
{
    return job->kind;
}

bool pd_job_running(PdJob *job)
{
    return job->state == PD_JOB_RUNNING;
}

unsigned pd_jobs_n_running(PdJobs *jobs)
{
    return jobs->n_running;
}

PdJob *pd_jobs_lookup(PdJobs *jobs, int64_t id)
{
    return g_hash_table_lookup(jobs->by_id, &id);
}

PdJob *pd_jobs_volume_busy(PdJobs *jobs, const char *pool, const char *volume)
{
    g_autofree char *key = busy_key(pool, volume);
    return g_hash_table_lookup(jobs->busy, key);
}

void pd_job_set_busy_error(PdJob *job, const char *pool, const char *volume, GError **error)
{
    g_set_error(error, PD_ERROR, PD_ERROR_VOLUME_BUSY,
                "volume '%s' in pool '%s' is busy: job %" G_GINT64_FORMAT
                " (%s) works on it; wait for it (job-wait %" G_GINT64_FORMAT
                ") or cancel it (job-cancel %" G_GINT64_FORMAT ")",
                volume, pool, job->id, job->kind, job->id, job->id);
}

bool pd_jobs_pool_busy(PdJobs *jobs, const char *pool)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, jobs->busy);
    while (g_hash_table_iter_next(&it, NULL, &value))
        if (g_strcmp0(((PdJob *)value)->pool, pool) == 0)
            return true;
    return false;
}

void pd_job_progress(PdJob *job, uint64_t done, uint64_t total)
{
    g_mutex_lock(&job->lock);
    job->done = done;
    if (total)
        job->total = total;
    g_mutex_unlock(&job->lock);
}

void pd_job_progress_cb(uint64_t done, uint64_t total, void *job)
{
    pd_job_progress(job, done, total);
}

static const char *state_name(PdJobState state)
{
    static const char *const names[] = {"running", "done", "failed", "cancelled"};
    return names[state];
}

JsonObject *pd_job_to_json(PdJob *job)
{
    g_mutex_lock(&job->lock);
    uint64_t done = job->done, total = job->total;
    g_mutex_unlock(&job->lock);
    int64_t end = job->state == PD_JOB_RUNNING ? g_get_real_time() / G_USEC_PER_SEC : job->finished;
    int64_t until = job->state == PD_JOB_RUNNING ? g_get_monotonic_time() : job->finished_mono;
    double secs = (double)(until - job->started_mono) / G_USEC_PER_SEC;
    int64_t rate = secs > 0.05 ? (int64_t)((double)done / secs) : 0;
    int64_t eta = -1;
    if (job->state != PD_JOB_RUNNING)
        eta = 0;
    else if (rate > 0 && total >= done)
        eta = (int64_t)((total - done) / (uint64_t)rate);
    JsonObject *o = json_object_new();
    json_object_set_int_member(o, "id", job->id);
    json_object_set_string_member(o, "kind", job->kind);
    if (job->pool)
        json_object_set_string_member(o, "pool", job->pool);
    if (job->volume)
        json_object_set_string_member(o, "volume", job->volume);
    json_object_set_string_member(o, "state", state_name(job->state));
    json_object_set_int_member(o, "bytes_done", (int64_t)done);
    json_object_set_int_member(o, "bytes_total", (int64_t)total);
    json_object_set_int_member(o, "rate", rate);
    json_object_set_int_member(o, "eta", eta);
    json_object_set_int_member(o, "started", job->started);
    if (job->state != PD_JOB_RUNNING)
        json_object_set_int_member(o, "finished", end);
    if (job->error_text)
        json_object_set_string_member(o, "error", job->error_text);
    return o;
}

static JsonObject *journal_to_json(const PdStoreJob *j)
{
    JsonObject *o = json_object_new();
    json_object_set_int_member(o, "id", j->id);
    json_object_set_string_member(o, "kind", j->kind);
    if (j->pool)
        json_object_set_string_member(o, "pool", j->pool);
    if (j->volume)
        json_object_set_string_member(o, "volume", j->volume);
    json_object_set_string_member(o, "state", j->state);
    json_object_set_int_member(o, "bytes_done", (int64_t)j->bytes_done);
    json_object_set_int_member(o, "bytes_total", (int64_t)j->bytes_total);
    json_object_set_int_member(o, "rate", 0);
    json_object_set_int_member(o, "eta", 0);
    json_object_set_int_member(o, "started", j->started);
    if (j->finished)
        json_object_set_int_member(o, "finished", j->finished);
    if (j->error)
        json_object_set_string_member(o, "error", j->error);
    return o;
}

static gint compare_id_desc(gconstpointer a, gconstpointer b)
{
    int64_t ia = json_object_get_int_member(*(JsonObject **)a, "id");
    int64_t ib = json_object_get_int_member(*(JsonObject **)b, "id");
    return ia < ib ? 1 : ia > ib ? -1 : 0;
}

JsonArray *pd_jobs_list_json(PdJobs *jobs)
{
    g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, jobs->by_id);
    while (g_hash_table_iter_next(&it, NULL, &value))
        g_ptr_array_add(all, pd_job_to_json(value));
    g_autoptr(GPtrArray) journal = pd_store_job_list(jobs->store, 100, NULL);
    for (guint i = 0; journal && i < journal->len; i++) {
        PdStoreJob *j = journal->pdata[i];
        if (!pd_jobs_lookup(jobs, j->id))
            g_ptr_array_add(all, journal_to_json(j));
    }
    g_ptr_array_sort(all, compare_id_desc);
    JsonArray *array = json_array_new();
    for (guint i = 0; i < all->len; i++)
        json_array_add_object_element(array, json_object_ref(all->pdata[i]));
    return array;
}

JsonObject *pd_jobs_journal_lookup(PdJobs *jobs, int64_t id)
{
    g_autoptr(PdStoreJob) row = pd_store_job_get(jobs->store, id);
    return row ? journal_to_json(row) : NULL;
}

/* A stream whose descriptor moved no byte for stall_timeout is cancelled (attack 1.8): a
 * client that stops reading (or writing) holds no stream worker and no volume for good. */
static void check_stall(PdJobs *jobs, PdJob *job)
{
    if (!job->stream || job->stalled || jobs->limits.stall_timeout_s == 0)
        return;
    /* queued behind other streams: its clock starts when it does (attack 2 W3) */
    if (!g_atomic_int_get(&job->on_worker))
        return;
    g_mutex_lock(&job->lock);
    uint64_t done = job->done;
    g_mutex_unlock(&job->lock);
    int64_t now = g_get_monotonic_time();
    if (done != job->stall_done || job->stall_since == 0) {
        job->stall_done = done;
        job->stall_since = now;
        return;
    }
    if (now - job->stall_since < (int64_t)jobs->limits.stall_timeout_s * G_USEC_PER_SEC)
        return;
    job->stalled = true;
    g_cancellable_cancel(job->cancellable);
}

/* The stall's error in place of the cancel it caused. */
static void stall_error(PdJobs *jobs, PdJob *job, GError **error)
{
    if (!job->stalled || !g_error_matches(*error, PD_ERROR, PD_ERROR_CANCELLED))
        return;
    g_clear_error(error);
    g_set_error(error, PD_ERROR, PD_ERROR_IO,
                "%s of volume '%s' of pool '%s' (job %" G_GINT64_FORMAT ") stopped: its stream "
                "moved no byte for %u s (stream_stall_timeout); the client must keep reading "
                "(or writing) the descriptor it passed",
                job->kind, job->volume ? job->volume : "?", job->pool ? job->pool : "?", job->id,
                jobs->limits.stall_timeout_s);
}

/* The client of @call runs max_jobs_per_client jobs already: refused with PD_ERROR_BUSY. */
static bool check_client_cap(PdJobs *jobs, const PdJobSpec *spec, PdCall *call, GError **error)
{
    if (!call)
        return true;
    if (spec->read && g_hash_table_contains(jobs->reads_by_client, call->client)) {
        g_set_error(error, PD_ERROR, PD_ERROR_BUSY,
                    "cannot start %s: this connection runs one already (a connection runs one "
                    "read job at a time); wait for its answer before asking again",
                    spec->kind);
        return false;
    }
    unsigned n = GPOINTER_TO_UINT(g_hash_table_lookup(jobs->by_client, call->client));
    if (n < jobs->limits.max_per_client)
        return true;
    g_set_error(error, PD_ERROR, PD_ERROR_BUSY,
                "cannot start %s: this connection runs %u jobs already (max_jobs_per_client); "
                "wait for one to end (job-wait) or cancel one",
                spec->kind, n);
    return false;
}

static void client_jobs_add(PdJobs *jobs, PdClient *client, int delta)
{
    unsigned n = GPOINTER_TO_UINT(g_hash_table_lookup(jobs->by_client, client));
    n = (unsigned)((int)n + delta);
    if (n > 0)
        g_hash_table_insert(jobs->by_client, client, GUINT_TO_POINTER(n));
    else
        g_hash_table_remove(jobs->by_client, client);
}

static gboolean progress_tick(gpointer data)
{
    PdJobs *jobs = data;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, jobs->by_id);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        PdJob *job = value;
        if (job->state != PD_JOB_RUNNING)
            continue;
        check_stall(jobs, job);
        for (GList *l = job->calls; l; l = l->next) {
            PdCall *call = l->data;
            bool streams = (call->method->flags & PD_METHOD_JOB) ||
                           g_str_equal(call->method_name, "io.poold.Job.Wait");
            if (!call->more || !streams)
                continue;
            JsonObject *params = json_object_new();
            json_object_set_object_member(params, "progress", pd_job_to_json(job));
            pd_call_progress(call, params);
        }
    }
    if (jobs->n_running > 0)
        return G_SOURCE_CONTINUE;
    jobs->timer = 0;
    return G_SOURCE_REMOVE;
}

static void call_abandoned(PdCall *call, gpointer data)
{
    PdJob *job = data;
    job->calls = g_list_remove(job->calls, call);
    pd_call_reply(call, NULL); /* dropped: the client is gone; the job goes on */
}

static void add_call(PdJob *job, PdCall *call)
{
    call->on_abandon = call_abandoned;
    call->abandon_data = job;
    job->calls = g_list_append(job->calls, call);
}

/* The client of @call may go on while @job runs (PD_METHOD_OVERLAP): its answer waits for
 * the job and the next barrier as any grouped answer does. */
static void overlap(PdJob *job, PdCall *call)
{
    job->overlap_client = pd_client_ref(call->client);
    pd_client_overlap_begin(job->overlap_client);
    pd_call_release(call);
}

/* After the job's answer is given or queued: a call the client deferred may run now. */
static void overlap_end(PdJob *job)
{
    if (!job->overlap_client)
        return;
    pd_client_overlap_end(job->overlap_client);
    g_clear_pointer(&job->overlap_client, pd_client_unref);
}

/* A job that does not start frees what its spec handed over: its data and its sync data. */
static void spec_free_data(const PdJobSpec *spec)
{
    if (spec->data_free)
        spec->data_free(spec->data);
    if (spec->sync_data_free)
        spec->sync_data_free(spec->sync_data);
}

PdJob *pd_jobs_start(PdJobs *jobs, const PdJobSpec *spec, PdCall *call, bool async, GError **error)
{
    int64_t id = jobs->last_id + 1;
    if (!check_client_cap(jobs, spec, call, error)) {
        spec_free_data(spec);
        return NULL;
    }
    if (spec->journal && !pd_store_job_insert(jobs->store, id, spec->kind, spec->pool, spec->volume,
                                              spec->bytes_total, error)) {
        spec_free_data(spec);
        return NULL;
    }
    jobs->last_id = id;
    PdJob *job = g_new0(PdJob, 1);
    g_mutex_init(&job->lock);
    job->jobs = jobs;
    job->id = id;
    job->kind = g_strdup(spec->kind);
    job->pool = g_strdup(spec->pool);
    job->volume = g_strdup(spec->volume);
    job->journal = spec->journal;
    job->state = PD_JOB_RUNNING;
    job->total = spec->bytes_total;
    job->started = g_get_real_time() / G_USEC_PER_SEC;
    job->started_mono = g_get_monotonic_time();
    job->cancellable = g_cancellable_new();
    job->context = g_main_context_ref_thread_default();
    job->apply_owns_txn = spec->apply_owns_txn && !spec->journal;
    job->run = spec->run;
    job->apply = spec->apply;
    job->data = spec->data;
    job->data_free = spec->data_free;
    job->data_free_at_exit = spec->data_free_at_exit;
    job->grouped = spec->sync && jobs->group && call && !async && pd_call_releasable(call);
    job->sync = spec->sync;
    job->sync_key = g_strdup(spec->sync_key);
    job->sync_data = spec->sync_data;
    job->sync_data_free = spec->sync_data_free;
    job->stream = spec->stream;
    job->read = spec->read;
    if (call) {
        job->owner = pd_client_ref(call->client);
        client_jobs_add(jobs, job->owner, 1);
        if (job->read)
            g_hash_table_insert(jobs->reads_by_client, job->owner, job);
    }
    if (job->grouped)
        pd_group_commit_set_running(jobs->group, ++jobs->n_grouped);
    g_hash_table_insert(jobs->by_id, &job->id, job);
    if (job->volume && job->pool && !job->read)
        g_hash_table_insert(jobs->busy, busy_key(job->pool, job->volume), job);
    if (spec->src_pool && spec->src_volume) {
        job->src_key = busy_key(spec->src_pool, spec->src_volume);
        g_hash_table_insert(jobs->busy, g_strdup(job->src_key), job);
    }
    jobs->n_running++;
    if (call && async) {
        JsonObject *params = json_object_new();
        json_object_set_int_member(params, "job", id);
        pd_call_reply(call, params);
    } else if (call) {
        add_call(job, call);
    }
    if (!jobs->timer)
        jobs->timer = g_timeout_add(PROGRESS_INTERVAL, progress_tick, jobs);
    g_thread_pool_push(job->stream ? jobs->stream_threads
                       : job->read ? jobs->read_threads
                                   : jobs->threads,
                       job, NULL);
    if (job->grouped && (call->method->flags & PD_METHOD_OVERLAP) && !spec->no_overlap)
        overlap(job, call);
    return job;
}

void pd_jobs_start_or_fail(PdJobs *jobs, const PdJobSpec *spec, PdCall *call)
{
    g_autoptr(GError) error = NULL;
    if (!pd_jobs_start(jobs, spec, call, false, &error))
        pd_call_fail(call, error);
}

bool pd_job_cancelled(PdJob *job, GCancellable *cancellable, GError **error)
{
    if (!g_cancellable_is_cancelled(cancellable))
        return false;
    g_set_error(error, PD_ERROR, PD_ERROR_CANCELLED, "job %" G_GINT64_FORMAT " (%s) cancelled",
                job->id, job->kind);
    return true;
}

bool pd_job_cancel(PdJob *job, GError **error)
{
    if (job->state != PD_JOB_RUNNING) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_STATE,
                    "job %" G_GINT64_FORMAT " (%s) has already finished: it is %s", job->id,
                    job->kind, state_name(job->state));
        return false;
    }
    g_cancellable_cancel(job->cancellable);
    return true;
}

void pd_job_wait(PdJob *job, PdCall *call)
{
    if (job->state != PD_JOB_RUNNING) {
        JsonObject *params = json_object_new();
        json_object_set_object_member(params, "job", pd_job_to_json(job));
        pd_call_reply(call, params);
        return;
    }
    add_call(job, call);
}

/* Applies a successful run in one transaction with the job's journal row; returns the reply
 * parameters or NULL with @error. */
static JsonObject *job_apply(PdJobs *jobs, PdJob *job, GError **error)
{
    if (job->apply_owns_txn)
        return job->apply(jobs->ctx, job, job->data, error);
    if (!(job->grouped ? pd_store_begin_lazy(jobs->store, error)
                       : pd_store_begin(jobs->store, error)))
        return NULL;
    g_autoptr(JsonObject) reply =
        job->apply ? job->apply(jobs->ctx, job, job->data, error) : json_object_new();
    if (!reply ||
        (job->journal &&
         !pd_store_job_finish(jobs->store, job->id, "done", job->done, job->total, NULL, error)) ||
        !pd_store_commit(jobs->store, error)) {
        pd_store_rollback(jobs->store);
        pd_events_discard(jobs->events);
        return NULL;
    }
    pd_events_flush(jobs->events);
    return g_steal_pointer(&reply);
}

/* The answer of @call (the starting call or a Job.Wait waiter) to a successful job. */
static JsonObject *success_params(PdJob *job, PdCall *call, JsonObject *reply)
{
    JsonObject *params = json_object_new();
    if (g_str_equal(call->method_name, "io.poold.Job.Wait")) {
        json_object_set_object_member(params, "job", pd_job_to_json(job));
        return params;
    }
    g_autoptr(GList) members = json_object_get_members(reply);
    for (GList *l = members; l; l = l->next)
        json_object_set_member(params, l->data,
                               json_node_copy(json_object_get_member(reply, l->data)));
    if (call->method->flags & PD_METHOD_JOB)
        json_object_set_int_member(params, "job", job->id);
    return params;
}

/* Answers the calls of a finished job. */
static void answer_calls(PdJob *job, JsonObject *reply, const GError *error)
{
    while (job->calls) {
        PdCall *call = job->calls->data;
        job->calls = g_list_delete_link(job->calls, job->calls);
        call->on_abandon = NULL;
        if (error && !g_str_equal(call->method_name, "io.poold.Job.Wait"))
            pd_call_fail(call, error);
        else
            pd_call_reply(call, success_params(job, call, reply));
    }
}

/* Group commit of a successful grouped job: its calls are answered after the next barrier,
 * and the starting call is released now (its client goes on). */
static void defer_calls(PdJobs *jobs, PdJob *job, JsonObject *reply)
{
    pd_group_commit_add_sync(jobs->group, job->sync_key, job->sync,
                             g_steal_pointer(&job->sync_data), job->sync_data_free);
    job->sync_data_free = NULL;
    while (job->calls) {
        PdCall *call = job->calls->data;
        job->calls = g_list_delete_link(job->calls, job->calls);
        call->on_abandon = NULL;
        JsonObject *params = success_params(job, call, reply);
        if (pd_call_releasable(call) && !g_str_equal(call->method_name, "io.poold.Job.Wait"))
            pd_call_release(call);
        pd_group_commit_add_answer(jobs->group, call, params, job->sync_key);
    }
}

static void forget_finished(PdJobs *jobs, PdJob *job)
{
    g_queue_push_tail(&jobs->finished, job);
    while (g_queue_get_length(&jobs->finished) > KEEP_FINISHED) {
        PdJob *old = g_queue_pop_head(&jobs->finished);
        g_hash_table_remove(jobs->by_id, &old->id);
        job_free(old);
    }
}

static gboolean job_complete(gpointer data)
{
    PdJob *job = data;
    PdJobs *jobs = job->jobs;
    g_autoptr(GError) error = g_steal_pointer(&job->error);
    g_autoptr(JsonObject) reply = NULL;
    if (job->ok && job->done < job->total)
        job->done = job->total; /* finished: all of it, whatever the last report said */
    if (job->ok)
        reply = job_apply(jobs, job, &error);
    else if (!error)
        g_set_error(&error, PD_ERROR, PD_ERROR_FAILED, "job %" G_GINT64_FORMAT " failed", job->id);
    if (error)
        stall_error(jobs, job, &error);
    job->finished = g_get_real_time() / G_USEC_PER_SEC;
    job->finished_mono = g_get_monotonic_time();
    if (error && g_error_matches(error, PD_ERROR, PD_ERROR_CANCELLED)) {
        /* the engine's own words ("Conversion cancelled") name no job: say which was */
        g_clear_error(&error);
        g_set_error(&error, PD_ERROR, PD_ERROR_CANCELLED, "job %" G_GINT64_FORMAT " (%s) cancelled",
                    job->id, job->kind);
    }
    if (error) {
        job->state =
            g_error_matches(error, PD_ERROR, PD_ERROR_CANCELLED) ? PD_JOB_CANCELLED : PD_JOB_FAILED;
        job->error_text = g_strdup(error->message);
        g_autoptr(GError) store_error = NULL;
        if (job->journal &&
            !pd_store_job_finish(jobs->store, job->id, state_name(job->state), job->done,
                                 job->total, job->error_text, &store_error))
            g_warning("job %" G_GINT64_FORMAT ": %s", job->id, store_error->message);
        g_info("job %" G_GINT64_FORMAT " (%s) %s: %s", job->id, job->kind, state_name(job->state),
               error->message);
    } else {
        job->state = PD_JOB_DONE;
        if (job->total == 0)
            job->total = job->done;
    }
    if (job->volume && job->pool) {
        g_autofree char *key = busy_key(job->pool, job->volume);
        if (g_hash_table_lookup(jobs->busy, key) == job)
            g_hash_table_remove(jobs->busy, key);
    }
    if (job->src_key && g_hash_table_lookup(jobs->busy, job->src_key) == job)
        g_hash_table_remove(jobs->busy, job->src_key);
    jobs->n_running--;
    if (job->owner)
        client_jobs_add(jobs, job->owner, -1);
    if (job->owner && job->read && g_hash_table_lookup(jobs->reads_by_client, job->owner) == job)
        g_hash_table_remove(jobs->reads_by_client, job->owner);
    pd_counters_job(job->kind, state_name(job->state), g_get_monotonic_time() - job->started_mono);
    if (job->grouped)
        pd_group_commit_set_running(jobs->group, --jobs->n_grouped);
    if (job->grouped && !error)
        defer_calls(jobs, job, reply);
    else
        answer_calls(job, reply, error);
    overlap_end(job);
    if (job->data_free)
        job->data_free(job->data);
    job->data = NULL;
    job->data_free = NULL;
    forget_finished(jobs, job);
    return G_SOURCE_REMOVE;
}
