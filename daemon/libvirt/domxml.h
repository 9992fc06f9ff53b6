/* The disks of a libvirt domain XML document (virDomainGetXMLDesc), as poold needs them:
 * target, bus, device, the source in each of libvirt's forms, driver type, mode and alias.
 * Pure parsing of a string (libxml2 without network or entities): unit-tested and fuzzed. */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef struct {
    char *type;   /* "file", "block", "network", "volume", "dir"; never NULL */
    char *device; /* "disk", "cdrom", ...; never NULL */
    char *target; /* never NULL */
    char *bus;    /* NULL when absent */
    char *driver_type;
    /* source: file=, dev= or dir= (local), protocol= and name= (network), pool= and
     * volume= (volume); all NULL for an empty cdrom drive */
    char *path;
    char *protocol;
    char *name;
    char *host_name; /* the first <host> of a network source */
    unsigned host_port;
    char *pool;
    char *volume;
    bool readonly;
    bool shareable;
    char *alias; /* <alias name=> of a live domain, NULL in inactive XML */
    char *xml;   /* the <disk> element itself, as detach-disk hands it back to libvirt */
} PdDomainDisk;

void pd_domain_disk_free(PdDomainDisk *disk); /* NULL is fine */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdDomainDisk, pd_domain_disk_free)

/* The disks of @xml (PdDomainDisk *, document order), or NULL with
 * PD_ERROR_INVALID_ARGUMENT on malformed XML, a root other than <domain>, or a <disk> without
 * a target. @what names the document in errors ("domain 'vm1'"). */
GPtrArray *pd_domain_disks_parse(const char *xml, const char *what, GError **error);

/* The disk with target @target in @disks, or NULL. Not owned. */
PdDomainDisk *pd_domain_disks_find(GPtrArray *disks, const char *target);

/* What virsh domblklist shows as the source: the path, the network name, "pool/volume", or
 * "-" for none. Caller frees. */
char *pd_domain_disk_source_text(const PdDomainDisk *disk);

/* "readonly", "shareable" or NULL: the mode as attach-disk's --mode names it. */
const char *pd_domain_disk_mode(const PdDomainDisk *disk);

G_END_DECLS
