/* The metric counters: calls answered by method, jobs finished by kind and state. */
#include "daemon/observe/counters.h"

#include "daemon/observe/metrics.h"

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

void pd_counters_call(const char *method, bool failed, int64_t usec)
{
    Counter *c = counter(&rpc_counters, method);
    c->count++;
    c->errors += failed;
    c->seconds += (double)usec / G_USEC_PER_SEC;
}

void pd_counters_job(const char *kind, const char *state, int64_t usec)
{
    g_autofree char *key = g_strdup_printf("%s\n%s", kind, state);
    Counter *c = counter(&job_counters, key);
    c->count++;
    c->seconds += (double)usec / G_USEC_PER_SEC;
}

void pd_counters_write(GString *out, gpointer unused)
{
    pd_metrics_header(out, "poold_rpc_calls_total", "counter", "Calls answered, by method");
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
    pd_metrics_header(out, "poold_rpc_errors_total", "counter", "Calls answered with an error");
    g_string_append(out, errors->str);
    pd_metrics_header(out, "poold_rpc_duration_seconds_sum", "counter", "Time from call to answer");
    g_string_append(out, seconds->str);
    g_string_truncate(seconds, 0);
    pd_metrics_header(out, "poold_jobs_total", "counter", "Finished jobs by kind and state");
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
    pd_metrics_header(out, "poold_job_duration_seconds_sum", "counter", "Time jobs ran");
    g_string_append(out, seconds->str);
    g_string_free(errors, true);
    g_string_free(seconds, true);
}
