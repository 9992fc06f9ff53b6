/* Heap trims off the answers' path (heap.h). */
#include "daemon/core/heap.h"

#ifdef __GLIBC__
#include <malloc.h>

static guint trim_source;

static gboolean trim_heap(gpointer data)
{
    trim_source = 0;
    (void)malloc_trim(0);
    return G_SOURCE_REMOVE;
}
#endif

void pd_heap_trim_later(void)
{
#ifdef __GLIBC__
    if (!trim_source)
        trim_source = g_idle_add_full(G_PRIORITY_LOW, trim_heap, NULL, NULL);
#endif
}
