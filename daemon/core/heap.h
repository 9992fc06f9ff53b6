/* Giving freed heap memory back to the kernel after large, rare work (a refresh or an answer
 * of thousands of volumes): glibc keeps freed memory in its arenas, and poold's resident size
 * would stay at the peak. Main loop thread only. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Trims the heap from a low-priority idle of the main loop: after the work's data went and
 * its answer was sent, off the answer's path. Several requests before it runs make one. */
void pd_heap_trim_later(void);

G_END_DECLS
