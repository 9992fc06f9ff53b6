/* Private to qcow2-snapshot.c and qcow2-check.c: the snapshot table as a whole. */
#pragma once

#include "formats/drivers/qcow2/qcow2.h"

/* Rewrites the snapshot table from s->snapshots into new clusters (every entry with the 24
 * bytes of extra data qemu writes), points the header at it and frees the old table. The
 * refcounts must be consistent (check repairs them first). */
bool qcow2_rewrite_snapshot_table(PdImage *img, GError **error);
