/* Prometheus text exposition of the daemon's state and counters. */
#include "daemon/observe/metrics.h"

#include "daemon/core/daemon.h"
#include "daemon/jobs/jobs.h"
#include "daemon/model/model.h"

#include <gio/gio.h>
#include <string.h>

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

/* ---- the HTTP listener ---- */

#define HTTP_REQUEST_MAX 8192

typedef struct {
    PdDaemon *daemon;
    GSocketConnection *conn;
    char buf[HTTP_REQUEST_MAX];
    gsize len;
    char *response;
} HttpClient;

static GSocketService *http_service;

static void http_client_free(HttpClient *client)
{
    g_object_unref(client->conn);
    g_free(client->response);
    g_free(client);
}

static void http_written(GObject *source, GAsyncResult *result, gpointer data)
{
    HttpClient *client = data;
    (void)g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, NULL);
    (void)g_io_stream_close(G_IO_STREAM(client->conn), NULL, NULL);
    http_client_free(client);
}

static void http_read(GObject *source, GAsyncResult *result, gpointer data);

/* Reads the request until its blank line (the request itself does not matter: every path
 * answers the metrics), then writes the answer. */
static void http_continue(HttpClient *client)
{
    client->buf[client->len] = 0;
    if (!strstr(client->buf, "\r\n\r\n") && !strstr(client->buf, "\n\n") &&
        client->len < HTTP_REQUEST_MAX - 1) {
        GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(client->conn));
        g_input_stream_read_async(in, client->buf + client->len, HTTP_REQUEST_MAX - 1 - client->len,
                                  G_PRIORITY_DEFAULT, NULL, http_read, client);
        return;
    }
    g_autofree char *text = pd_metrics_format(client->daemon);
    bool get = g_str_has_prefix(client->buf, "GET ");
    client->response =
        get ? g_strdup_printf("HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                              "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                              strlen(text), text)
            : g_strdup("HTTP/1.0 405 Method Not Allowed\r\nConnection: close\r\n\r\n");
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(client->conn));
    g_output_stream_write_all_async(out, client->response, strlen(client->response),
                                    G_PRIORITY_DEFAULT, NULL, http_written, client);
}

static void http_read(GObject *source, GAsyncResult *result, gpointer data)
{
    HttpClient *client = data;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, NULL);
    if (n <= 0) {
        http_client_free(client);
        return;
    }
    client->len += (gsize)n;
    http_continue(client);
}

static gboolean http_incoming(GSocketService *service, GSocketConnection *conn, GObject *source,
                              gpointer data)
{
    HttpClient *client = g_new0(HttpClient, 1);
    client->daemon = data;
    client->conn = g_object_ref(conn);
    http_continue(client);
    return true;
}

bool pd_metrics_http_start(PdDaemon *daemon, const char *address, GError **error)
{
    g_autoptr(GSocketConnectable) addr = g_network_address_parse(address, 9750, error);
    if (!addr)
        return false;
    g_autoptr(GSocketAddressEnumerator) en = g_socket_connectable_enumerate(addr);
    g_autoptr(GSocketAddress) sa = g_socket_address_enumerator_next(en, NULL, error);
    if (!sa) {
        g_prefix_error(error, "metrics listener %s: ", address);
        return false;
    }
    http_service = g_socket_service_new();
    if (!g_socket_listener_add_address(G_SOCKET_LISTENER(http_service), sa, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_TCP, NULL, NULL, error)) {
        g_prefix_error(error, "metrics listener %s: ", address);
        g_clear_object(&http_service);
        return false;
    }
    g_signal_connect(http_service, "incoming", G_CALLBACK(http_incoming), daemon);
    g_socket_service_start(http_service);
    return true;
}

void pd_metrics_http_stop(void)
{
    if (!http_service)
        return;
    g_socket_service_stop(http_service);
    g_socket_listener_close(G_SOCKET_LISTENER(http_service));
    g_clear_object(&http_service);
}
