/* The job engine alone (daemon/jobs/, linked with only the layers below it): a job is listed
 * while it runs, a cancel ends it cancelled (and a second cancel is refused), the workers
 * bound how many run at once, and a job completes on the context that started it. */
#include "common/pd-error.h"
#include "daemon/jobs/jobs.h"

#include <glib/gstdio.h>

typedef struct {
    PdStore *store;
    PdEvents *events;
    PdJobs *jobs;
    char *dir;
} Fixture;

static void fixture_init(Fixture *fx, unsigned workers)
{
    g_autoptr(GError) error = NULL;
    fx->dir = g_dir_make_tmp("test-jobs-XXXXXX", &error);
    g_assert_no_error(error);
    g_autofree char *db = g_build_filename(fx->dir, "poold.db", NULL);
    fx->store = pd_store_open(db, &error);
    g_assert_no_error(error);
    fx->events = pd_events_new(fx->store);
    fx->jobs = pd_jobs_new(NULL, fx->store, fx->events, workers);
}

static void fixture_clear(Fixture *fx)
{
    pd_jobs_free(fx->jobs);
    pd_events_free(fx->events);
    pd_store_free(fx->store);
    g_autofree char *db = g_build_filename(fx->dir, "poold.db", NULL);
    g_autofree char *wal = g_strconcat(db, "-wal", NULL);
    g_autofree char *shm = g_strconcat(db, "-shm", NULL);
    (void)g_unlink(db);
    (void)g_unlink(wal);
    (void)g_unlink(shm);
    (void)g_rmdir(fx->dir);
    g_free(fx->dir);
}

/* What the runs of a test share. */
typedef struct {
    gint running, max_running;
    gint release; /* set: blocking runs return */
} Gate;

/* Runs until cancelled or released; counts how many run at once. */
static bool run_blocking(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    Gate *gate = data;
    gint now = g_atomic_int_add(&gate->running, 1) + 1;
    gint max;
    while ((max = g_atomic_int_get(&gate->max_running)) < now &&
           !g_atomic_int_compare_and_exchange(&gate->max_running, max, now))
        ;
    for (int i = 0; i < 1000 && !g_atomic_int_get(&gate->release); i++) {
        if (pd_job_cancelled(job, cancellable, error)) {
            g_atomic_int_add(&gate->running, -1);
            return false;
        }
        g_usleep(10 * 1000);
    }
    g_atomic_int_add(&gate->running, -1);
    return true;
}

static PdJob *start(Fixture *fx, Gate *gate, const char *kind)
{
    PdJobSpec spec = {.kind = kind, .run = run_blocking, .data = gate};
    g_autoptr(GError) error = NULL;
    PdJob *job = pd_jobs_start(fx->jobs, &spec, NULL, false, &error);
    g_assert_no_error(error);
    return job;
}

static void wait_done(GMainContext *ctx, Fixture *fx, int64_t id)
{
    PdJob *job;
    while ((job = pd_jobs_lookup(fx->jobs, id)) && pd_job_running(job))
        g_main_context_iteration(ctx, true);
}

static const char *state_of(PdJob *job)
{
    static char state[32];
    g_autoptr(JsonObject) o = pd_job_to_json(job);
    g_strlcpy(state, json_object_get_string_member(o, "state"), sizeof(state));
    return state;
}

static void test_cancel(void)
{
    Fixture fx;
    fixture_init(&fx, 2);
    Gate gate = {0};
    PdJob *job = start(&fx, &gate, "test-block");
    int64_t id = pd_job_id(job);
    g_autoptr(JsonArray) list = pd_jobs_list_json(fx.jobs);
    g_assert_cmpuint(json_array_get_length(list), ==, 1);
    JsonObject *listed = json_array_get_object_element(list, 0);
    g_assert_cmpstr(json_object_get_string_member(listed, "kind"), ==, "test-block");
    g_assert_cmpstr(json_object_get_string_member(listed, "state"), ==, "running");
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_job_cancel(job, &error));
    wait_done(NULL, &fx, id);
    job = pd_jobs_lookup(fx.jobs, id);
    g_assert_nonnull(job);
    g_assert_cmpstr(state_of(job), ==, "cancelled");
    g_assert_false(pd_job_cancel(job, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_STATE);
    g_assert_cmpuint(pd_jobs_n_running(fx.jobs), ==, 0);
    fixture_clear(&fx);
}

static void test_bounded(void)
{
    Fixture fx;
    fixture_init(&fx, 1);
    Gate gate = {0};
    int64_t a = pd_job_id(start(&fx, &gate, "test-a"));
    int64_t b = pd_job_id(start(&fx, &gate, "test-b"));
    g_assert_cmpuint(pd_jobs_n_running(fx.jobs), ==, 2); /* both listed as running... */
    g_usleep(100 * 1000);
    g_assert_cmpint(g_atomic_int_get(&gate.max_running), ==, 1); /* ...one at a time */
    g_atomic_int_set(&gate.release, 1);
    wait_done(NULL, &fx, a);
    wait_done(NULL, &fx, b);
    g_assert_cmpint(g_atomic_int_get(&gate.max_running), ==, 1);
    g_assert_cmpstr(state_of(pd_jobs_lookup(fx.jobs, a)), ==, "done");
    g_assert_cmpstr(state_of(pd_jobs_lookup(fx.jobs, b)), ==, "done");
    fixture_clear(&fx);
}

static void test_context(void)
{
    Fixture fx;
    fixture_init(&fx, 1);
    Gate gate = {.release = 1};
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    int64_t id = pd_job_id(start(&fx, &gate, "test-ctx"));
    g_main_context_pop_thread_default(ctx);
    /* the default context does not complete it, however long it runs */
    for (int i = 0; i < 20; i++) {
        g_usleep(5 * 1000);
        while (g_main_context_iteration(NULL, false))
            ;
    }
    g_assert_true(pd_job_running(pd_jobs_lookup(fx.jobs, id)));
    wait_done(ctx, &fx, id);
    g_assert_cmpstr(state_of(pd_jobs_lookup(fx.jobs, id)), ==, "done");
    g_main_context_unref(ctx);
    fixture_clear(&fx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/jobs/cancel", test_cancel);
    g_test_add_func("/jobs/bounded-by-workers", test_bounded);
    g_test_add_func("/jobs/completes-on-its-context", test_context);
    return g_test_run();
}
