/* Group commit: collecting answers, running the barrier, answering in order. */
#include "daemon/jobs/group-commit.h"

#include "common/pd-error.h"

#define MAX_GROUP_WAIT_MS 20 /* the longest a group waits for running jobs to join it */
/* While jobs run, a group of this many answers goes to its barrier without waiting for them:
 * a client that pipelines (64 calls in flight) gets its first answers and sends more while
 * the rest run, instead of the whole window stopping for each barrier. Measured on 1,000
 * pipelined deletes: 145 ms with 256, 127 ms with 16, 167 ms with 1 (a sync per answer). */
#define EARLY_GROUP 16

typedef struct {
    PdGroupSyncFunc func;
    gpointer data;
    GDestroyNotify data_free;
    GError *error; /* set by the barrier thread */
} GroupSync;

typedef struct {
    PdCall *call;
    JsonObject *params;
    char *key;
} GroupAnswer;

typedef struct {
    GArray *answers;   /* GroupAnswer, in order */
    GHashTable *syncs; /* key -> GroupSync * */
    char *wal_path;
    GError *wal_error;
} Group;

struct PdGroupCommit {
    PdStore *store;
    Group *open;    /* collecting; NULL when empty */
    Group *running; /* in the barrier thread */
    GThread *thread;
    unsigned n_running_jobs;
    guint check_idle; /* a pending check */
    guint deadline;   /* forces the open group's barrier */
};

static void group_sync_free(gpointer p)
{
    GroupSync *s = p;
    if (s->data_free)
        s->data_free(s->data);
    g_clear_error(&s->error);
    g_free(s);
}

static Group *group_new(PdStore *store)
{
    Group *g = g_new0(Group, 1);
    g->answers = g_array_new(false, false, sizeof(GroupAnswer));
    g->syncs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, group_sync_free);
    g->wal_path = g_strdup(pd_store_wal_path(store));
    return g;
}

static void group_free(Group *g)
{
    g_array_unref(g->answers);
    g_hash_table_unref(g->syncs);
    g_free(g->wal_path);
    g_clear_error(&g->wal_error);
    g_free(g);
}

/* The barrier: every pool's sync, then the store's. Runs on the barrier thread. */
static void group_sync(Group *g)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, g->syncs);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        GroupSync *s = value;
        (void)s->func(s->data, &s->error);
    }
    (void)pd_store_sync_wal(g->wal_path, &g->wal_error);
}

/* Answers every call of a synced group, in order, and frees it. */
static void group_answer(Group *g)
{
    for (guint i = 0; i < g->answers->len; i++) {
        GroupAnswer *a = &g_array_index(g->answers, GroupAnswer, i);
        GroupSync *s = a->key ? g_hash_table_lookup(g->syncs, a->key) : NULL;
        const GError *error = s && s->error ? s->error : g->wal_error;
        if (error) {
            g_autoptr(GError) e = g_error_copy(error);
            g_prefix_error(&e, "the change was made but could not be made durable: ");
            pd_call_fail(a->call, e);
            json_object_unref(a->params);
        } else {
            pd_call_reply(a->call, a->params);
        }
        g_free(a->key);
    }
    group_free(g);
}

static void schedule_check(PdGroupCommit *gc);

static gboolean barrier_done(gpointer data)
{
    PdGroupCommit *gc = data;
    g_thread_join(gc->thread);
    gc->thread = NULL;
    Group *g = gc->running;
    gc->running = NULL;
    group_answer(g);
    schedule_check(gc);
    return G_SOURCE_REMOVE;
}

static gpointer barrier_thread(gpointer data)
{
    PdGroupCommit *gc = data;
    group_sync(gc->running);
    /* Queued for the main loop, never run here: g_main_context_invoke would run it on this
     * thread when no loop iterates (poold stopping with a barrier running: it joined itself,
     * "Resource deadlock avoided", and aborted); pd_group_commit_free answers that group. */
    g_idle_add_full(G_PRIORITY_DEFAULT, barrier_done, gc, NULL); /* as invoke did */
    return NULL;
}

static void start_barrier(PdGroupCommit *gc)
{
    if (gc->deadline)
        g_source_remove(gc->deadline);
    gc->deadline = 0;
    gc->running = g_steal_pointer(&gc->open);
    gc->thread = g_thread_new("pd-group-commit", barrier_thread, gc);
}

static gboolean check(gpointer data)
{
    PdGroupCommit *gc = data;
    gc->check_idle = 0;
    if (gc->running || !gc->open)
        return G_SOURCE_REMOVE;
    if (gc->n_running_jobs > 0 && gc->open->answers->len < EARLY_GROUP)
        return G_SOURCE_REMOVE; /* the next completion checks again */
    start_barrier(gc);
    return G_SOURCE_REMOVE;
}

static gboolean deadline_passed(gpointer data)
{
    PdGroupCommit *gc = data;
    gc->deadline = 0;
    if (!gc->running && gc->open)
        start_barrier(gc);
    return G_SOURCE_REMOVE;
}

/* Checks at low priority: a pipelining client's next call (an idle at default priority)
 * starts its job first, and joins this group. */
static void schedule_check(PdGroupCommit *gc)
{
    if (!gc->check_idle)
        gc->check_idle = g_idle_add_full(G_PRIORITY_LOW, check, gc, NULL);
}

static Group *open_group(PdGroupCommit *gc)
{
    if (!gc->open) {
        gc->open = group_new(gc->store);
        gc->deadline = g_timeout_add(MAX_GROUP_WAIT_MS, deadline_passed, gc);
    }
    return gc->open;
}

PdGroupCommit *pd_group_commit_new(PdStore *store)
{
    PdGroupCommit *gc = g_new0(PdGroupCommit, 1);
    gc->store = store;
    return gc;
}

void pd_group_commit_free(PdGroupCommit *gc)
{
    if (!gc)
        return;
    if (gc->thread) {
        g_thread_join(gc->thread); /* its barrier_done never runs: answer here */
        gc->thread = NULL;
        group_answer(g_steal_pointer(&gc->running));
    }
    if (gc->open) {
        group_sync(gc->open);
        group_answer(g_steal_pointer(&gc->open));
    }
    if (gc->check_idle)
        g_source_remove(gc->check_idle);
    if (gc->deadline)
        g_source_remove(gc->deadline);
    g_free(gc);
}

void pd_group_commit_add_sync(PdGroupCommit *gc, const char *key, PdGroupSyncFunc sync,
                              gpointer data, GDestroyNotify data_free)
{
    Group *g = open_group(gc);
    if (g_hash_table_contains(g->syncs, key)) {
        if (data_free)
            data_free(data);
        return;
    }
    GroupSync *s = g_new0(GroupSync, 1);
    s->func = sync;
    s->data = data;
    s->data_free = data_free;
    g_hash_table_insert(g->syncs, g_strdup(key), s);
}

void pd_group_commit_add_answer(PdGroupCommit *gc, PdCall *call, JsonObject *params,
                                const char *key)
{
    GroupAnswer a = {call, params, g_strdup(key)};
    g_array_append_val(open_group(gc)->answers, a);
    schedule_check(gc);
}

void pd_group_commit_set_running(PdGroupCommit *gc, unsigned n_running)
{
    gc->n_running_jobs = n_running;
    if (gc->open)
        schedule_check(gc);
}
