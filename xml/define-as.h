/* Definitions from virsh-style command arguments, as `pool-define-as` / `pool-create-as` and
 * `vol-create-as` take them. Pure functions: arguments in, a validated PdPoolDef / PdVolDef
 * out (poolctl sends it as XML; `--print-xml` prints pd_*_args_xml, virsh's minimal XML).
 *
 *   pool-define-as NAME TYPE [SOURCE-HOST] [SOURCE-PATH] [SOURCE-DEV] [SOURCE-NAME] [TARGET]
 *       [--source-host H] [--source-path P] [--source-dev D] [--source-name N] [--target T]
 *       [--source-format F] [--auth-type chap] [--auth-username U] [--secret-usage S |
 *       --secret-uuid UUID] [--source-initiator IQN] [--source-protocol-ver V] [--print-xml]
 *       [--build] [--overwrite | --no-overwrite]
 *   vol-create-as POOL NAME CAPACITY [--allocation A] [--format F] [--backing-vol PATH]
 *       [--backing-vol-format F] [--prealloc-metadata] [--print-xml]
 *
 * An argument "-" means "not given" (so `pool-define-as p dir - - - - /srv/p` works as with
 * virsh). Options may be written "--opt value" or "--opt=value". --adapter-* options are
 * refused: poold has no scsi pools. */
#pragma once

#include "xml/pool-xml.h"
#include "xml/vol-xml.h"

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* Strings point into the caller's argv (or wherever the caller filled them from). */
typedef struct {
    const char *name;
    const char *type;
    const char *source_host;
    const char *source_path;
    const char *source_dev;
    const char *source_name;
    const char *target;
    const char *source_format;
    const char *auth_type;
    const char *auth_username;
    const char *secret_usage;
    const char *secret_uuid;
    const char *source_initiator;
    const char *source_protocol_ver;
    const char *netfs_mode;    /* poold extension: auto, mount, userspace */
    const char *netfs_timeout; /* poold extension: seconds */
    bool print_xml;
    bool build; /* pool-create-as flags, kept for the caller */
    bool overwrite;
    bool no_overwrite;
} PdPoolDefineArgs;

typedef struct {
    const char *pool;
    const char *name;
    const char *capacity; /* "20G": virsh units (K = KiB, KB = 1000...) */
    const char *allocation;
    const char *format;
    const char *backing_vol; /* a path or volume name; the caller resolves it to a path */
    const char *backing_vol_format;
    bool prealloc_metadata;
    bool print_xml;
} PdVolCreateArgs;

/* Fills @args from a pool-define-as / pool-create-as argument vector (without the command
 * name). Returns false with PD_ERROR_INVALID_ARGUMENT on an unknown option, a missing value, a
 * repeated option or too many positional arguments. */
bool pd_pool_define_args_parse(int argc, char *const *argv, PdPoolDefineArgs *args, GError **error);

/* Builds and validates a pool definition (a fresh UUID) from @args. Errors as
 * pd_pool_def_validate, plus conflicting options (--secret-usage with --secret-uuid, auth
 * options without a username or secret). Caller frees. */
PdPoolDef *pd_pool_def_from_args(const PdPoolDefineArgs *args, GError **error);

/* Fills @args from a vol-create-as argument vector (without the command name). */
bool pd_vol_create_args_parse(int argc, char *const *argv, PdVolCreateArgs *args, GError **error);

/* Builds and validates a volume definition for a pool of @pool_type from @args (the pool name
 * in @args is not used). Caller frees. */
PdVolDef *pd_vol_def_from_args(PdPoolType pool_type, const PdVolCreateArgs *args, GError **error);

/* The XML virsh's --print-xml shows for these arguments: only what was given (no UUID, no
 * sizes or defaults made up), in virsh's element order. Caller frees. */
char *pd_pool_define_args_xml(const PdPoolDefineArgs *args);
/* The same for vol-create-as: @capacity and @allocation (used when args->allocation is given)
 * in bytes, @backing_path the backing volume's path (NULL: none). */
char *pd_vol_create_args_xml(const PdVolCreateArgs *args, uint64_t capacity, uint64_t allocation,
                             const char *backing_path);

G_END_DECLS
