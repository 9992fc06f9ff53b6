/* Prometheus text exposition: the writers registered by main.c, and the HTTP listener. */
#include "daemon/observe/metrics.h"

#include <gio/gio.h>
#include <string.h>

typedef struct {
    PdMetricsWriter write;
    gpointer data;
} Writer;

struct PdMetrics {
    GArray *writers; /* Writer */
    GSocketService *http_service;
    unsigned n_http;   /* connections open now */
    bool http_stopped; /* not accepting: HTTP_CLIENTS_MAX reached */
};

PdMetrics *pd_metrics_new(void)
{
    PdMetrics *metrics = g_new0(PdMetrics, 1);
    metrics->writers = g_array_new(false, false, sizeof(Writer));
    return metrics;
}

void pd_metrics_free(PdMetrics *metrics)
{
    if (!metrics)
        return;
    pd_metrics_http_stop(metrics);
    g_array_unref(metrics->writers);
    g_free(metrics);
}

void pd_metrics_add_writer(PdMetrics *metrics, PdMetricsWriter write, gpointer data)
{
    Writer w = {write, data};
    g_array_append_val(metrics->writers, w);
}

/* A label value with \, " and newline escaped. Caller frees. */
char *pd_metrics_escape(const char *value)
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

void pd_metrics_header(GString *out, const char *name, const char *type, const char *help)
{
    g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *pd_metrics_format(PdMetrics *metrics)
{
    GString *out = g_string_new(NULL);
    for (guint i = 0; i < metrics->writers->len; i++) {
        Writer *w = &g_array_index(metrics->writers, Writer, i);
        w->write(out, w->data);
    }
    return g_string_free(out, false);
}

/* ---- the HTTP listener ---- */

#define HTTP_REQUEST_MAX 8192
/* docs/security.md, attack round 2 R4: any local user may connect; each connection is a
 * descriptor, so they are capped (at the cap poold accepts no more: the kernel's backlog
 * holds the rest, no descriptor is used), and one must end within HTTP_TIMEOUT_S. */
#define HTTP_CLIENTS_MAX 16
#define HTTP_TIMEOUT_S   10

typedef struct {
    PdMetrics *metrics;
    GSocketConnection *conn;
    GCancellable *cancel; /* cancelled by the timeout */
    guint timer;
    char buf[HTTP_REQUEST_MAX];
    gsize len;
    char *response;
} HttpClient;

static void http_client_free(HttpClient *client)
{
    PdMetrics *metrics = client->metrics;
    if (client->timer)
        g_source_remove(client->timer);
    (void)g_io_stream_close(G_IO_STREAM(client->conn), NULL, NULL);
    g_object_unref(client->conn);
    g_object_unref(client->cancel);
    g_free(client->response);
    g_free(client);
    metrics->n_http--;
    if (metrics->http_stopped && metrics->http_service && metrics->n_http < HTTP_CLIENTS_MAX) {
        metrics->http_stopped = false;
        g_socket_service_start(metrics->http_service);
    }
}

static gboolean http_timeout(gpointer data)
{
    HttpClient *client = data;
    client->timer = 0;
    g_cancellable_cancel(client->cancel); /* the pending read or write ends, then the free */
    return G_SOURCE_REMOVE;
}

static void http_written(GObject *source, GAsyncResult *result, gpointer data)
{
    HttpClient *client = data;
    (void)g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, NULL);
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
                                  G_PRIORITY_DEFAULT, client->cancel, http_read, client);
        return;
    }
    g_autofree char *text = pd_metrics_format(client->metrics);
    bool get = g_str_has_prefix(client->buf, "GET ");
    client->response =
        get ? g_strdup_printf("HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                              "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                              strlen(text), text)
            : g_strdup("HTTP/1.0 405 Method Not Allowed\r\nConnection: close\r\n\r\n");
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(client->conn));
    g_output_stream_write_all_async(out, client->response, strlen(client->response),
                                    G_PRIORITY_DEFAULT, client->cancel, http_written, client);
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
    PdMetrics *metrics = data;
    HttpClient *client = g_new0(HttpClient, 1);
    client->metrics = metrics;
    client->conn = g_object_ref(conn);
    client->cancel = g_cancellable_new();
    client->timer = g_timeout_add_seconds(HTTP_TIMEOUT_S, http_timeout, client);
    if (++metrics->n_http >= HTTP_CLIENTS_MAX && !metrics->http_stopped) {
        metrics->http_stopped = true;
        g_socket_service_stop(service);
    }
    http_continue(client);
    return true;
}

bool pd_metrics_http_start(PdMetrics *metrics, const char *address, GError **error)
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
    g_autoptr(GSocketService) service = g_socket_service_new();
    if (!g_socket_listener_add_address(G_SOCKET_LISTENER(service), sa, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_TCP, NULL, NULL, error)) {
        g_prefix_error(error, "metrics listener %s: ", address);
        return false;
    }
    g_signal_connect(service, "incoming", G_CALLBACK(http_incoming), metrics);
    g_socket_service_start(service);
    metrics->http_service = g_steal_pointer(&service);
    return true;
}

void pd_metrics_http_stop(PdMetrics *metrics)
{
    if (!metrics->http_service)
        return;
    g_socket_service_stop(metrics->http_service);
    g_socket_listener_close(G_SOCKET_LISTENER(metrics->http_service));
    g_clear_object(&metrics->http_service);
}
