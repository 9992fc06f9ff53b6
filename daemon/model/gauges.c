/* The pool and volume gauges of the metrics exposition. */
#include "daemon/model/model.h"

#include "daemon/observe/metrics.h"

void pd_model_write_metrics(GString *out, gpointer daemon)
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
        pd_metrics_header(out, gauges[g].name, "gauge", gauges[g].help);
        for (guint i = 0; i < pools->len; i++) {
            PdPoolObj *obj = pools->pdata[i];
            g_autofree char *name = pd_metrics_escape(pd_pool_obj_name(obj));
            uint64_t values[] = {obj->active, obj->pool->capacity, obj->pool->allocation,
                                 obj->pool->available, obj->pool->volumes->len};
            g_string_append_printf(out, "%s{pool=\"%s\"} %" G_GUINT64_FORMAT "\n", gauges[g].name,
                                   name, obj->active || g == 0 ? values[g] : 0);
        }
    }
    pd_metrics_header(out, "poold_volume_capacity_bytes", "gauge", "Volume capacity");
    GString *alloc = g_string_new(NULL);
    for (guint i = 0; i < pools->len; i++) {
        PdPoolObj *obj = pools->pdata[i];
        if (!obj->active)
            continue;
        g_autofree char *pool = pd_metrics_escape(pd_pool_obj_name(obj));
        for (guint j = 0; j < obj->pool->volumes->len; j++) {
            PdVol *v = obj->pool->volumes->pdata[j];
            g_autofree char *vol = pd_metrics_escape(v->name);
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
    pd_metrics_header(out, "poold_volume_allocation_bytes", "gauge", "Volume allocation");
    g_string_append(out, alloc->str);
    g_string_free(alloc, true);
}
