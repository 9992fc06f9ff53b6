/* Metrics in Prometheus' text exposition format (io.poold.Daemon.Metrics, poolctl metrics):
 * pool and volume sizes, jobs by kind and state with durations, RPC counts, errors and
 * latency. The exposition knows none of the subsystems: main.c registers a writer per part
 * (the model's gauges, the counters of counters.h, the daemon's gauges), in the order they
 * are written. Main loop thread only. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct PdMetrics PdMetrics;

/* Appends one part of the exposition to @out. */
typedef void (*PdMetricsWriter)(GString *out, gpointer data);

PdMetrics *pd_metrics_new(void);
/* Stops the HTTP listener, frees. */
void pd_metrics_free(PdMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdMetrics, pd_metrics_free)
void pd_metrics_add_writer(PdMetrics *metrics, PdMetricsWriter write, gpointer data);

/* The exposition text: every writer's part. Caller frees. */
char *pd_metrics_format(PdMetrics *metrics);

/* For writers: the HELP and TYPE lines of @name; a label value with \, " and newline
 * escaped (caller frees). */
void pd_metrics_header(GString *out, const char *name, const char *type, const char *help);
char *pd_metrics_escape(const char *value);

/* An HTTP listener on @address ("127.0.0.1:9750") answering every GET with the metrics
 * (Prometheus scrapes it), asynchronously on the main loop. Returns false with an error
 * naming the address. Stopped by pd_metrics_http_stop (or pd_metrics_free). */
bool pd_metrics_http_start(PdMetrics *metrics, const char *address, GError **error);
void pd_metrics_http_stop(PdMetrics *metrics);

G_END_DECLS
