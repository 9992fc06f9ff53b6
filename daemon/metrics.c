/* Prometheus text exposition of the daemon's state and counters. */
#include "daemon/metrics.h"

#include "daemon/daemon.h"
#include "daemon/jobs.h"
#include "daemon/model.h"

typedef struct {
    uint64_t count;
    uint64_t errors;
    double seconds;
} Counter;

static GHashTable *rpc_counters; /* method -> Counter */
static GHashTable *job_counters; /* "kind\nstate" -> Counter */

static Counter *counter(GHashTable **table, const char *key)
{
    if (!*table)
        *table = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    Counter *c = g_hash_table_lookup(*table, key);
    if (!c) {
        c = g_new0(Counter, 1);
        g_hash_table_insert(*table, g_strdup(key), c);
    }
    return c;
}

void pd_metrics_call(const char *method, bool failed, int64_t usec)
{
    Counter *c = counter(&rpc_counters, method);
    c->count++;
    c->errors += failed;
    c->seconds += (double)usec / G_USEC_PER_SEC;
}

void pd_metrics_job(const char *kind, const char *state, int64_t usec)
{
    g_autofree char *key = g_strdup_printf("%s\n%s", kind, state);
    Counter *c = counter(&job_counters, key);
    c->count++;
    c->seconds += (double)usec / G_USEC_PER_SEC;
}

/* A label value with \, " and newline escaped. Caller frees. */
static char *esc(const char *value)
{
    GString *s = g_string_new(NULL);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            g_string_append_c(s, '\\');
        if (*p == '\n')
            g_string_append(s, "\\n");
        else
            g_string_append_c(s, *p);
    }
    return g_string_free(s, false);
}

static void header(GString *out, const char *name, const char *type, const char *help)
{
    g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void format_pools(GString *out, PdDaemon *daemon)
{
    static const struct {
        const char *name, *help;
    } gauges[] = {
        {"poold_pool_active", "1 when the pool is active"},
        {"poold_pool_capacity_bytes", "Pool capacity"},
        {"poold_pool_allocation_bytes", "Pool allocation"},
        {"poold_pool_available_bytes", "Pool free space"},
        {"poold_pool_volumes", "Volumes in the pool's catalog"},
    };
    g_autoptr(GPtrArray) pools = pd_model_pools_sorted(daemon);
    for (unsigned g = 0; g < G_N_ELEMENTS(gauges); g++) {
        header(out, gauges[g].name, "gauge", gauges[g].help);
        for (guint i = 0; i < pools->len; i++) {
            PdPoolObj *obj = pools->pdata[i];
            g_autofree char *name = esc(pd_pool_obj_name(obj));
            uint64_t values[] = {obj->active, obj->pool->capacity, obj->pool->allocation,
                                 obj->pool->available, obj->pool->volumes->len};
            g_string_append_printf(out, "%s{pool=\"%s\"} %" G_GUINT64_FORMAT "\n", gauges[g].name,
                                   name, obj->active || g == 0 ? values[g] : 0);
        }
    }
    header(out, "poold_volume_capacity_bytes", "gauge", "Volume capacity");
    GString *alloc = g_string_new(NULL);
    for (guint i = 0; i < pools->len; i++) {
        PdPoolObj *obj = pools->pdata[i];
        if (!obj->active)
            continue;
        g_autofree char *pool = esc(pd_pool_obj_name(obj));
        for (guint j = 0; j < obj->pool->volumes->len; j++) {
            PdVol *v = obj->pool->volumes->pdata[j];
            g_autofree char *vol = esc(v->name);
            g_string_append_printf(out,
                                   "poold_volume_capacity_bytes{pool=\"%s\",volume=\"%s\"} "
                                   "%" G_GUINT64_FORMAT "\n",
                                   pool, vol, v->capacity);
            g_string_append_printf(alloc,
                                   "poold_volume_allocation_bytes{pool=\"%s\",volume=\"%s\"} "
                                   "%" G_GUINT64_FORMAT "\n",
                                   pool, vol, v->allocation);
        }
    }
    header(out, "poold_volume_allocation_bytes", "gauge", "Volume allocation");
    g_string_append(out, alloc->str);
    g_string_free(alloc, true);
}

static void format_counters(GString *out)
{
    header(out, "poold_rpc_calls_total", "counter", "Calls answered, by method");
    GString *errors = g_string_new(NULL), *seconds = g_string_new(NULL);
    GHashTableIter it;
    gpointer key, value;
    if (rpc_counters) {
        g_hash_table_iter_init(&it, rpc_counters);
        while (g_hash_table_iter_next(&it, &key, &value)) {
            Counter *c = value;
            g_string_append_printf(out,
                                   "poold_rpc_calls_total{method=\"%s\"} %" G_GUINT64_FORMAT "\n",
                                   (char *)key, c->count);
            g_string_append_printf(errors,
                                   "poold_rpc_errors_total{method=\"%s\"} %" G_GUINT64_FORMAT "\n",
                                   (char *)key, c->errors);
            g_string_append_printf(seconds, "poold_rpc_duration_seconds_sum{method=\"%s\"} %.6f\n",
                                   (char *)key, c->seconds);
        }
    }
    header(out, "poold_rpc_errors_total", "counter", "Calls answered with an error");
    g_string_append(out, errors->str);
    header(out, "poold_rpc_duration_seconds_sum", "counter", "Time from call to answer");
    g_string_append(out, seconds->str);
    g_string_truncate(seconds, 0);
    header(out, "poold_jobs_total", "counter", "Finished jobs by kind and state");
    if (job_counters) {
        g_hash_table_iter_init(&it, job_counters);
        while (g_hash_table_iter_next(&it, &key, &value)) {
            Counter *c = value;
            g_auto(GStrv) parts = g_strsplit(key, "\n", 2);
            g_string_append_printf(
                out, "poold_jobs_total{kind=\"%s\",state=\"%s\"} %" G_GUINT64_FORMAT "\n", parts[0],
                parts[1], c->count);
            g_string_append_printf(seconds,
                                   "poold_job_duration_seconds_sum{kind=\"%s\","
                                   "state=\"%s\"} %.6f\n",
                                   parts[0], parts[1], c->seconds);
        }
    }
    header(out, "poold_job_duration_seconds_sum", "counter", "Time jobs ran");
    g_string_append(out, seconds->str);
    g_string_free(errors, true);
    g_string_free(seconds, true);
}

char *pd_metrics_format(PdDaemon *daemon)
{
    GString *out = g_string_new(NULL);
    format_pools(out, daemon);
    format_counters(out);
    header(out, "poold_jobs_running", "gauge", "Jobs running now");
    g_string_append_printf(out, "poold_jobs_running %u\n", pd_jobs_n_running(daemon->jobs));
    header(out, "poold_clients", "gauge", "Connected clients");
    g_string_append_printf(out, "poold_clients %u\n", pd_server_n_clients(daemon->server));
    header(out, "poold_uptime_seconds", "gauge", "Seconds since poold started");
    g_string_append_printf(out, "poold_uptime_seconds %" G_GINT64_FORMAT "\n",
                           (g_get_monotonic_time() - daemon->start_time) / G_USEC_PER_SEC);
    return g_string_free(out, false);
}
