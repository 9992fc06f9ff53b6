/* pd_parallel_for: CPU work of one request (inflating compressed grains) spread over the
 * machine's cores. The calling thread works too; a process-wide pool supplies the others. */
#include "formats/image/image-driver.h"

typedef struct {
    void (*fn)(size_t i, void *data);
    void *data;
    size_t n;
    gint next; /* the next index to take */
    gint running;
    GMutex lock;
    GCond done;
} ParallelJob;

static void run_indices(ParallelJob *job)
{
    for (;;) {
        size_t i = (size_t)g_atomic_int_add(&job->next, 1);
        if (i >= job->n)
            break;
        job->fn(i, job->data);
    }
}

static void pool_worker(gpointer data, gpointer user_data)
{
    ParallelJob *job = data;
    run_indices(job);
    g_mutex_lock(&job->lock);
    if (--job->running == 0)
        g_cond_signal(&job->done);
    g_mutex_unlock(&job->lock);
}

static GThreadPool *shared_pool(void)
{
    static gsize once;
    static GThreadPool *pool;
    if (g_once_init_enter(&once)) {
        unsigned cpus = g_get_num_processors();
        if (cpus > 1)
            pool = g_thread_pool_new(pool_worker, NULL, (gint)MIN(cpus - 1, 15u), FALSE, NULL);
        g_once_init_leave(&once, 1);
    }
    return pool;
}

void pd_parallel_for(size_t n, void (*fn)(size_t i, void *data), void *data)
{
    GThreadPool *pool = n > 1 ? shared_pool() : NULL;
    if (!pool || n > G_MAXINT) {
        for (size_t i = 0; i < n; i++)
            fn(i, data);
        return;
    }
    ParallelJob job = {.fn = fn, .data = data, .n = n};
    g_mutex_init(&job.lock);
    g_cond_init(&job.done);
    unsigned helpers = MIN((unsigned)(n - 1), g_thread_pool_get_max_threads(pool) > 0
                                                  ? (unsigned)g_thread_pool_get_max_threads(pool)
                                                  : 1u);
    job.running = (gint)helpers;
    for (unsigned i = 0; i < helpers; i++)
        g_thread_pool_push(pool, &job, NULL);
    run_indices(&job);
    g_mutex_lock(&job.lock);
    while (job.running > 0)
        g_cond_wait(&job.done, &job.lock);
    g_mutex_unlock(&job.lock);
    g_mutex_clear(&job.lock);
    g_cond_clear(&job.done);
}
