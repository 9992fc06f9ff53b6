/* The metric counters: a leaf that every layer may feed (calls through the router's observer,
 * jobs directly), read only by the exposition (metrics.h). Main loop thread only. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

/* One answered call of @method (a known method name), @usec after it arrived. */
void pd_counters_call(const char *method, bool failed, int64_t usec);
/* One finished job. */
void pd_counters_job(const char *kind, const char *state, int64_t usec);
/* Writes the counters in the exposition format (a PdMetricsWriter; @unused is ignored). */
void pd_counters_write(GString *out, gpointer unused);

G_END_DECLS
