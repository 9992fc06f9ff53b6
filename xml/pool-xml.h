/* Storage pool definitions in libvirt's pool XML (formatstorage): parse, validate per pool
 * type from the table in pool-types.h, and format back in libvirt's canonical layout (two-space
 * indentation, libvirt's element order, sizes as <capacity unit='bytes'>N</capacity>).
 *
 * Supported types: dir, fs, netfs, logical, iscsi, iscsi-direct. As libvirt does, elements a
 * pool type does not use are ignored on input and not written back: <source> children outside
 * the type's row of the table (virsh's `pool-define-as p dir - - - - /srv/p --print-xml` puts
 * <host name='-'/> in a dir pool), the <target> of iscsi-direct, and what poold has no use for
 * (<adapter>, <features>, <refresh>, vendor/product, namespaces). */
#pragma once

#include "xml/perms.h"
#include "xml/pool-types.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

/* <auth type='chap' username='u'><secret usage='x'/> or <secret uuid='...'/></auth> */
typedef struct {
    char *type; /* "chap" (the only type poold's pools use) */
    char *username;
    char *secret_type;  /* optional type= on <secret>, kept as given */
    char *secret_usage; /* exactly one of usage and uuid is set */
    char *secret_uuid;  /* canonical form */
} PdPoolAuth;

typedef struct {
    char *host_name;    /* <host name=>; NULL when absent */
    unsigned host_port; /* 0 when absent */
    GPtrArray *devices; /* char *: <device path=> in order; never NULL */
    char *dir;          /* <dir path=> */
    char *name;         /* <name> (LVM volume group) */
    char *format;       /* one of the type's source formats; NULL if the type has none */
    PdPoolAuth *auth;   /* NULL when absent */
    char *initiator_iqn;
    unsigned protocol_ver; /* 0 when absent */
} PdPoolSource;

/* How a netfs pool reaches its export (poold extension; libvirt always mounts). */
typedef enum {
    PD_NETFS_MODE_AUTO = 0,  /* mount where the kernel has NFS, else userspace */
    PD_NETFS_MODE_MOUNT,     /* mount -t nfs at the target path, then the dir pool's code */
    PD_NETFS_MODE_USERSPACE, /* NFSv3 through libnfs: volumes are nfs:// files */
} PdNetfsMode;

typedef struct {
    PdPoolType type;
    char *name;
    char *uuid; /* canonical 8-4-4-4-12 lower case; generated when the XML has none */
    uint64_t capacity, allocation, available;
    PdPoolSource source;
    char *target_path; /* NULL for types without a target */
    PdPerms target_perms;
    /* netfs only: how to reach the export (see PdNetfsMode); written back only when not AUTO */
    PdNetfsMode netfs_mode;
    /* netfs only: seconds after which an NFS call to an unresponsive server fails (userspace
     * mode); 0 = the backend's default. <poold:netfs timeout='N'/> */
    unsigned netfs_timeout;
    /* fs and netfs (mount mode): extra mount options, libvirt's
     * <fs:mount_opts><fs:option name='...'/></fs:mount_opts>; char *, never NULL */
    GPtrArray *mount_opts;
} PdPoolDef;

/* A definition of @type with every optional field unset and a fresh random UUID. */
PdPoolDef *pd_pool_def_new(PdPoolType type);
void pd_pool_def_free(PdPoolDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdPoolDef, pd_pool_def_free)

void pd_pool_auth_free(PdPoolAuth *auth);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdPoolAuth, pd_pool_auth_free)

/* Parses and validates pool XML. Returns a new definition (caller frees) or NULL with a
 * PD_ERROR_INVALID_ARGUMENT (malformed, missing or inconsistent values) or
 * PD_ERROR_UNSUPPORTED (a pool type or format poold does not have) error that names the pool,
 * the element and the cause. Does no I/O. */
PdPoolDef *pd_pool_def_parse(const char *xml, GError **error);

/* Checks @def against its type's row in the pool type table and fills defaults (source name,
 * source format, LVM target path). pd_pool_def_parse calls it; builders call it too.
 * Returns false with an error naming the pool and the element. */
bool pd_pool_def_validate(PdPoolDef *def, GError **error);

/* Pool XML in libvirt's canonical layout. Caller frees. */
char *pd_pool_def_format(const PdPoolDef *def);

/* find-storage-pool-sources output, libvirt's <sources> list: one <source> per definition
 * (PdPoolDef *, only their <source> is written, in the layout of pool XML). Caller frees. */
char *pd_pool_sources_format(const GPtrArray *sources);

/* A deep copy of a validated definition (through its canonical XML). Caller frees. */
PdPoolDef *pd_pool_def_copy(const PdPoolDef *def);

/* XML namespaces of the pool extensions: libvirt's fs/netfs mount options and poold's own
 * (<poold:netfs mode= timeout=/>). Elements are matched by namespace URI, not prefix. */
#define PD_XML_NS_FS    "http://libvirt.org/schemas/storagepool/fs/1.0"
#define PD_XML_NS_POOLD "http://poold.io/schemas/storagepool/1.0"

/* "auto", "mount", "userspace" <-> PdNetfsMode; -1 when unknown. */
const char *pd_netfs_mode_name(PdNetfsMode mode);
int pd_netfs_mode_from_name(const char *name);

/* The longest netfs timeout poold accepts, in seconds. */
#define PD_NETFS_TIMEOUT_MAX 3600

/* True when @name is usable as a pool or volume name: not empty, no '/', not "." or "..",
 * at most 255 bytes. */
bool pd_xml_name_valid(const char *name);

G_END_DECLS
