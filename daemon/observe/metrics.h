/* Metrics in Prometheus' text exposition format (io.poold.Daemon.Metrics, poolctl metrics):
 * pool and volume sizes, jobs by kind and state with durations, RPC counts, errors and
 * latency. Counters live in memory since the start. Main loop thread only. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct PdDaemon PdDaemon;

/* One answered call of @method (a known method name), @usec after it arrived. */
void pd_metrics_call(const char *method, bool failed, int64_t usec);
/* One finished job. */
void pd_metrics_job(const char *kind, const char *state, int64_t usec);
/* The exposition text. Caller frees. */
char *pd_metrics_format(PdDaemon *daemon);

/* An HTTP listener on @address ("127.0.0.1:9750") answering every GET with the metrics
 * (Prometheus scrapes it), asynchronously on the main loop. Returns false with an error
 * naming the address. Stopped by pd_metrics_http_stop. */
bool pd_metrics_http_start(PdDaemon *daemon, const char *address, GError **error);
void pd_metrics_http_stop(void);

G_END_DECLS
