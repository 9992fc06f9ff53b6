/* Writing vmdk streamOptimized images (what an OVA holds): the guest data of any PdImage,
 * read in order, written as compressed grains with markers, grain tables after their grains,
 * the grain directory and the footer at the end (VMware's layout; qemu-img reads it). */
#pragma once

#include "formats/image/image.h"

G_BEGIN_DECLS

typedef struct {
    const char *adapter_type;  /* "ide" (default), "lsilogic", "buslogic", "legacyESX" */
    const char *hw_version;    /* ddb.virtualHWVersion; NULL = "4" */
    const char *tools_version; /* ddb.toolsVersion; NULL = "2147483647" */
    void (*progress)(uint64_t done, uint64_t total, void *data);
    void *progress_data;
    gint *cancel; /* non-zero (g_atomic_int_set) stops with PD_ERROR_CANCELLED */
} PdVmdkStreamOptions;

/* Writes @src as a new streamOptimized vmdk at @path, built under a hidden name in the same
 * directory and renamed into place when complete: on failure nothing is left at @path. */
bool pd_vmdk_stream_write(PdImage *src, const char *path, const PdVmdkStreamOptions *opts,
                          GError **error);

G_END_DECLS
