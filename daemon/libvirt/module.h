/* poold's libvirt module: the boundary between the daemon and the code that calls libvirt.
 *
 * libvirt's client library brings some thirty shared libraries (gnutls, libcrypto, curl, ssh,
 * sasl, krb5, libnl...) whose mapped pages cost ~7 MB of resident memory in every poold, most
 * of which never talks to libvirt. So the code that calls libvirt (libvirt-conn.c,
 * libvirt-domain.c, libvirt-pool.c) is a loadable module, poold-libvirt.so, installed in
 * LIBDIR/poold/; poold links none of it and loads it (dlopen, once, never unloaded) the first
 * time something needs libvirt: attach-disk, detach-disk, domblklist, pool-import-libvirt,
 * pool-export-libvirt, and the reconciliation of a configured [libvirt] uri or of recorded
 * attachments at start-up. What the daemon and the module exchange is plain data (the types
 * below, PdDomainDisk of libvirt-domxml.h) and this table of functions; the <disk> XML
 * (libvirt-disk.c) and the parsing of domain XML (libvirt-domxml.c) need no libvirt and are
 * in poold itself.
 *
 * Where the module is looked for, first found wins: $POOLD_MODULE_DIR, the directory of the
 * running executable (a build tree: build/daemon/), then LIBDIR/poold. A process that links
 * the module's code (the tests in tests/libvirt) uses that copy and loads nothing.
 *
 * Every function of the table blocks on libvirt (worker threads only) and fails as described
 * in libvirt-conn.h and libvirt-domain.h. */
#pragma once

#include "daemon/libvirt/domxml.h"

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* The URI when neither the call nor the configuration gives one (virsh's default as root). */
#define PD_LIBVIRT_DEFAULT_URI "qemu:///system"

/* The module's file name, and the version of the table below (bumped on every change to it or
 * to the types it uses: a module of another version is refused). */
#define PD_LIBVIRT_MODULE_NAME "poold-libvirt.so"
#define PD_LIBVIRT_MODULE_ABI  1

/* A cache of libvirt connections by URI (libvirt-conn.h). */
typedef struct PdLibvirtConns PdLibvirtConns;

/* Called on libvirt's event loop thread when a domain of a cached connection changes in a way
 * that may add or remove disks (a device was removed, the domain was undefined, stopped or
 * defined). Must be quick and thread-safe: the daemon only schedules work on its main loop. */
typedef void (*PdLibvirtDomainChangedFunc)(const char *uri, const char *domain, void *user_data);

/* virsh's --live, --config, --persistent, --current. */
typedef struct {
    bool live;
    bool config;
    bool persistent;
    bool current;
} PdAffectFlags;

/* What a change affected (resolved from PdAffectFlags and the domain's state). */
typedef enum {
    PD_AFFECT_LIVE = 1 << 0,
    PD_AFFECT_CONFIG = 1 << 1,
} PdAffected;

/* One domain as reconciliation sees it. */
typedef struct {
    char *name;
    GPtrArray *live;   /* PdDomainDisk *; NULL when the domain does not run */
    GPtrArray *config; /* PdDomainDisk *; NULL for a transient domain */
} PdDomainScan;

/* A libvirt storage pool's definition. */
typedef struct {
    char *name;
    char *xml; /* the persistent definition (VIR_STORAGE_XML_INACTIVE) */
} PdLibvirtPoolXml;

/* The module's functions. Each takes the connection cache and the URI, and uses (or opens)
 * the cached connection to it. Arrays returned own their elements (free with
 * g_ptr_array_unref). */
typedef struct {
    unsigned abi; /* PD_LIBVIRT_MODULE_ABI */
    PdLibvirtConns *(*conns_new)(PdLibvirtDomainChangedFunc changed, void *user_data);
    void (*conns_free)(PdLibvirtConns *conns);
    /* pd_libvirt_attach_disk, pd_libvirt_detach_disk, pd_libvirt_domain_disks,
     * pd_libvirt_scan_domains (libvirt-domain.h) */
    bool (*attach_disk)(PdLibvirtConns *conns, const char *uri, const char *domain,
                        const char *disk_xml, const char *target, const PdAffectFlags *flags,
                        unsigned *ret_affected, GError **error);
    bool (*detach_disk)(PdLibvirtConns *conns, const char *uri, const char *domain,
                        const char *target, const PdAffectFlags *flags, unsigned timeout_ms,
                        unsigned *ret_affected, PdDomainDisk **ret_disk, GError **error);
    GPtrArray *(*domain_disks)(PdLibvirtConns *conns, const char *uri, const char *domain,
                               bool inactive, GError **error);
    GPtrArray *(*scan_domains)(PdLibvirtConns *conns, const char *uri, GError **error);
    /* pd_libvirt_pool_xmls, pd_libvirt_pool_export (libvirt-pool.h) */
    GPtrArray *(*pool_xmls)(PdLibvirtConns *conns, const char *uri, const char *name,
                            GError **error);
    bool (*pool_export)(PdLibvirtConns *conns, const char *uri, const char *name, const char *xml,
                        bool start, bool *ret_started, GError **error);
} PdLibvirtModule;

/* The module's table: defined by the module (libvirt-module.c), looked up by name in it. */
extern const PdLibvirtModule pd_libvirt_module_table;

/* The module, loaded on the first call (thread-safe; a failure is not remembered, the next
 * call tries again). NULL with PD_ERROR_UNSUPPORTED naming the file and dlerror()'s message
 * when it cannot be loaded. */
const PdLibvirtModule *pd_libvirt_module_load(GError **error);

G_END_DECLS
