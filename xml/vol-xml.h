/* Storage volume definitions in libvirt's volume XML (formatstorage): name, key,
 * capacity/allocation/physical with units, target (path, format, permissions, compat,
 * clusterSize, features/lazy_refcounts, nocow) and backingStore (path, format, permissions).
 *
 * <timestamps> (atime, mtime, ctime, btime) of the target and backing store are read and written
 * too. <encryption> is refused: poold does not create encrypted volumes.
 *
 * Which formats a volume may have depends on its pool's type (pool-types.h), so parsing and
 * formatting take the pool type, as libvirt's do. Formatting follows libvirt's layout; poold
 * also writes <nocow/> back (libvirt reads it but drops it), so a definition survives a round
 * trip between client and daemon. */
#pragma once

#include "xml/perms.h"
#include "xml/pool-types.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef enum {
    PD_VOL_FILE = 0,
    PD_VOL_BLOCK,
    PD_VOL_DIR,
    PD_VOL_NETWORK,
    PD_VOL_NETDIR,
    PD_VOL_PLOOP,
    PD_VOL_TYPE_COUNT
} PdVolType;

/* One extent of <source><device path='/dev/sdb'><extent start='S' end='E'/></device></source>:
 * where an LVM volume lives on its physical volumes, as vol-dumpxml shows it (the daemon fills
 * it; read back so a dumpxml survives a round trip; creating ignores it). */
typedef struct {
    char *device;
    uint64_t start;
    uint64_t end;
} PdVolExtent;

/* One of <atime>, <mtime>, <ctime>, <btime>: seconds and nanoseconds; nsec -1 when absent.
 * Written as libvirt does: "SEC" when nsec is 0, else "SEC.NNNNNNNNN". */
typedef struct {
    int64_t sec;
    int64_t nsec;
} PdTimestamp;

/* <timestamps> of a volume or backing file, as vol-dumpxml shows them (the daemon fills them
 * from stat). Read back on input so a dumpxml survives a round trip; creating ignores them. */
typedef struct {
    bool present;
    PdTimestamp atime, mtime, ctime, btime;
} PdVolTimestamps;

/* All four absent, <timestamps> not written. */
void pd_vol_timestamps_init(PdVolTimestamps *ts);

typedef struct {
    char *path;
    /* One of the pool type's volume formats, or NULL when the pool type has none. When the XML
     * gives no format, libvirt's default for the pool type ("raw") is filled in and
     * format_given is false: callers that care (creating an overlay) may refuse or probe. */
    char *format;
    bool format_given;
    PdPerms perms;
    PdVolTimestamps timestamps;
    /* Output only (never parsed): why poold does not trust this backing chain, written as
     * <poold:untrusted-backing reason='...'/> in poold's volume namespace; NULL = trusted. */
    char *untrusted;
} PdVolBacking;

typedef struct {
    PdPoolType pool_type; /* decides which formats are valid and whether <format> is written */
    PdVolType type;
    char *name;
    char *key;
    GArray *extents; /* PdVolExtent in document order; never NULL */
    uint64_t capacity;
    bool has_capacity;
    uint64_t allocation; /* equals capacity when the XML has no <allocation> */
    bool has_allocation;
    uint64_t physical; /* written only when not 0 */
    char *target_path;
    char *target_format; /* NULL when the pool type has no volume formats */
    PdPerms target_perms;
    PdVolTimestamps target_timestamps;
    char *compat;          /* qcow2 "0.10" or "1.1"; "1.1" when <features> is given alone */
    uint64_t cluster_size; /* bytes, 0 when absent */
    bool has_features;     /* <features> present (possibly empty) */
    bool lazy_refcounts;
    bool nocow;
    PdVolBacking *backing; /* NULL without <backingStore> */
    /* Not XML: virsh's vol-create-as --prealloc-metadata, a flag of the create call. */
    bool prealloc_metadata;
} PdVolDef;

typedef enum {
    PD_VOL_PARSE_DEFAULT = 0,
    PD_VOL_PARSE_OPT_CAPACITY = 1 << 0, /* capacity may be left out when a backing store is
                                           given (it is then the backing file's size) */
    PD_VOL_PARSE_NO_CAPACITY = 1 << 1,  /* capacity may always be left out (create-from) */
} PdVolParseFlags;

/* A definition for a volume in a pool of @pool_type, every optional field unset. */
PdVolDef *pd_vol_def_new(PdPoolType pool_type);
void pd_vol_def_free(PdVolDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdVolDef, pd_vol_def_free)

/* poold's namespace in volume XML (<poold:untrusted-backing/>). */
#define PD_VOL_NS_POOLD "http://poold.io/schemas/storagevol/1.0"

/* A backing store with every optional field unset. */
PdVolBacking *pd_vol_backing_new(void);
void pd_vol_backing_free(PdVolBacking *backing);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdVolBacking, pd_vol_backing_free)

/* Parses and validates volume XML for a pool of @pool_type. Returns a new definition (caller
 * frees) or NULL with PD_ERROR_INVALID_ARGUMENT / PD_ERROR_UNSUPPORTED naming the volume, the
 * element and the cause. Does no I/O. */
PdVolDef *pd_vol_def_parse(const char *xml, PdPoolType pool_type, unsigned flags, GError **error);

/* True for the hidden names under which volumes are built (".NAME.partial*"): refresh skips
 * them, cleanup_partial removes them, and no volume may be named so. */
bool pd_vol_name_is_partial(const char *name);

/* The one check of a volume name, wherever one comes in (XML, a call, a backend's defence in
 * depth): a plain file name (pd_xml_name_valid: 1 to 255 bytes, no '/', not "." or "..") that
 * is not a hidden partial name. False with PD_ERROR_INVALID_ARGUMENT "volume 'NAME': invalid
 * name (...)" (the one message). */
bool pd_vol_name_check(const char *name, GError **error);

/* Checks @def (name, formats against the pool type, qcow2-only options, sizes) and fills
 * defaults (formats, compat, allocation). pd_vol_def_parse calls it; builders call it too. */
bool pd_vol_def_validate(PdVolDef *def, unsigned flags, GError **error);

/* Volume XML in libvirt's canonical layout. Caller frees. */
char *pd_vol_def_format(const PdVolDef *def);

/* A deep copy of a validated definition, including what is not XML (prealloc_metadata,
 * backing format_given). Caller frees. */
PdVolDef *pd_vol_def_copy(const PdVolDef *def);

/* "file", "block"...; NULL for an invalid value. */
const char *pd_vol_type_name(PdVolType type);

G_END_DECLS
