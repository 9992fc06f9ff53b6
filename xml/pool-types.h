/* The one table of pool types (as libvirt's poolTypeInfo): which <source> elements each type
 * reads, requires and writes, its source and volume formats, and what its <target> is.
 * Validation (pool-xml.c), formatting and `pool-capabilities` all read this table; nothing
 * else in xml/ switches on the pool type. */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef enum {
    PD_POOL_DIR = 0,
    PD_POOL_FS,
    PD_POOL_NETFS,
    PD_POOL_LOGICAL,
    PD_POOL_ISCSI,
    PD_POOL_ISCSI_DIRECT,
    PD_POOL_TYPE_COUNT
} PdPoolType;

/* The elements of a pool's <source>, as bits of PdPoolTypeInfo.allowed / .required. */
typedef enum {
    PD_SOURCE_HOST = 1 << 0,      /* <host name= port=/> */
    PD_SOURCE_DEVICE = 1 << 1,    /* <device path=/> */
    PD_SOURCE_DIR = 1 << 2,       /* <dir path=/> */
    PD_SOURCE_NAME = 1 << 3,      /* <name>; defaults to the pool name when allowed */
    PD_SOURCE_FORMAT = 1 << 4,    /* <format type=/>; defaults to default_source_format */
    PD_SOURCE_AUTH = 1 << 5,      /* <auth type='chap' username=><secret usage|uuid/> */
    PD_SOURCE_INITIATOR = 1 << 6, /* <initiator><iqn name=/></initiator> */
    PD_SOURCE_PROTOCOL = 1 << 7,  /* <protocol ver=/> */
} PdPoolSourceElement;

typedef enum {
    PD_POOL_TARGET_PATH,    /* <target><path> required, with optional <permissions> */
    PD_POOL_TARGET_DEVNAME, /* always /dev/<source name> (LVM); given paths are replaced */
    PD_POOL_TARGET_NONE,    /* no target: volumes are network LUNs (iscsi-direct) */
} PdPoolTargetKind;

typedef struct {
    PdPoolType type;
    const char *name;                  /* as in <pool type='...'> */
    unsigned allowed;                  /* PdPoolSourceElement bits kept; others dropped */
    unsigned required;                 /* bits that must be present after defaults */
    unsigned max_devices;              /* how many <device> elements (when allowed) */
    const char *const *source_formats; /* NULL-terminated, or NULL: no <format> */
    const char *default_source_format; /* when <format> is absent */
    const char *const *volume_formats; /* NULL-terminated, or NULL: volumes have no format */
    const char *default_volume_format; /* when a volume's <format> is absent */
    PdPoolTargetKind target;
} PdPoolTypeInfo;

/* The row of @type; never NULL for a valid type. */
const PdPoolTypeInfo *pd_pool_type_info(PdPoolType type);

/* The row named @name ("netfs"), or NULL when poold has no such pool type. */
const PdPoolTypeInfo *pd_pool_type_info_by_name(const char *name);

/* The index of @name in a NULL-terminated list, or -1. */
int pd_pool_format_index(const char *const *list, const char *name);

/* Human-readable name of one PdPoolSourceElement bit ("source host"). */
const char *pd_pool_source_element_name(PdPoolSourceElement element);

/* `pool-capabilities` output in libvirt's storagepoolCapabilities format, one <pool> per type
 * in table order; bit (1 << type) of @supported_types sets supported='yes'. Caller frees. */
char *pd_pool_capabilities_format(unsigned supported_types);

G_END_DECLS
