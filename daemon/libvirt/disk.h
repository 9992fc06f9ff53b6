/* The libvirt <disk> element poold attaches for a volume, built from how a domain reaches the
 * volume (PdDiskSource, given by the pool's backend) and virsh attach-disk's options. Pure
 * code: no libvirt call, no I/O, so it is unit-tested on constructed values. */
#pragma once

#include "pools/backend.h"

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* virsh attach-disk's options. NULL strings take libvirt's defaults. */
typedef struct {
    const PdDiskSource *source; /* required */
    const char *target;         /* required: "vdb", "sda", "hdc" */
    /* <driver type>: the volume's recorded format (virsh --subdriver overrides it); libvirt's
     * volume formats map to QEMU's ("iso" is raw). Required. */
    const char *format;
    const char *driver; /* <driver name>, default "qemu" (virsh --driver) */
    const char *cache;  /* none, writethrough, writeback, directsync, unsafe, default */
    const char *bus;    /* <target bus> (virsh --targetbus); NULL: libvirt derives it */
    const char *device; /* "disk" (default), "cdrom", "floppy", "lun" (virsh --type) */
    const char *mode;   /* NULL, "readonly" or "shareable" (virsh --mode) */
} PdDiskSpec;

/* The <disk> XML of @spec, or NULL with PD_ERROR_INVALID_ARGUMENT naming the bad option and
 * what is allowed. Caller frees. */
char *pd_libvirt_disk_xml(const PdDiskSpec *spec, GError **error);

/* True for a disk target name as libvirt derives buses from: a known prefix (vd, sd, hd, xvd,
 * fd, ubd) followed by 1 to 4 lower-case letters ("vdb", "sdaa"); no partition numbers. */
bool pd_libvirt_target_name_valid(const char *target);

/* The QEMU driver type for a libvirt volume format ("iso" -> "raw"), or NULL when a volume of
 * that format cannot be a disk ("dir", unknown names). */
const char *pd_libvirt_driver_type(const char *format);

G_END_DECLS
