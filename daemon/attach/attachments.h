/* Volumes attached to libvirt domains: the daemon's policy around poold's libvirt module.
 *
 * The store holds one row per (URI, domain, target) (store.h, PdStoreAttachment). attach-disk
 * writes the row as "in progress" before asking libvirt, and completes it in the transaction
 * of its "vol-attached" event; a failed attach removes it, so nothing stays recorded; a crash
 * in between leaves the in-progress row, and reconciliation settles it from the domain's XML.
 * detach-disk waits for the disk to be gone (libvirt's device-removed event, then the XML) and
 * updates or removes the row with its "vol-detached" event.
 *
 * Reconciliation compares the rows of a URI with the disks of every domain there, matching
 * disk sources against the volumes poold knows (path or key; a network source's protocol and
 * name; a <disk type='volume'> by pool and volume name): disks attached outside poold get a
 * row, rows of disks detached outside poold (or of domains undefined or stopped) go, each with
 * its event. It runs at start-up (for the configured URI and every URI that has rows) and after
 * libvirt's domain events (device removed, domain undefined, stopped, defined).
 *
 * Protection (pd_attach_check_unattached): a volume with a row cannot be deleted, wiped,
 * shrunk or reverted to a snapshot, and a pool with one cannot be deleted; the error names the
 * domain and the target. pool-undefine and pool-stop are allowed, as in libvirt (which keeps
 * no such record at all): the rows stay, and protect the volumes again when the pool returns.
 *
 * Threads: the prepare/apply/free functions and the checks run on the main loop; the run
 * functions block on libvirt and run on a worker (a job). Tests call them in that order on
 * one thread. */
#pragma once

#include "daemon/model/daemon.h"
#include "daemon/libvirt/module.h"
#include "daemon/model/model.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* How long detach-disk waits for the guest to release a disk, unless configured. */
#define PD_DETACH_TIMEOUT_MS_DEFAULT 30000

/* The daemon's libvirt state (daemon->libvirt): the module, the connection cache and the
 * reconciliation schedule. Created at start-up without loading the module; freeing it closes
 * the connections. */
PdLibvirt *pd_attach_state_new(PdDaemon *daemon);
void pd_attach_state_free(PdLibvirt *state);
/* Whether a reconciliation thread still runs (then the state must stay). */
bool pd_attach_state_busy(PdLibvirt *state);
/* Main loop: loads the libvirt module (libvirt-module.h) and creates the connection cache,
 * the first time; false with the module's error when it cannot be loaded. */
bool pd_attach_load(PdDaemon *daemon, GError **error);
/* The module and the connection cache once pd_attach_load succeeded (it is called when
 * needed: NULL when the module cannot be loaded, with a warning). */
const PdLibvirtModule *pd_attach_module(PdDaemon *daemon);
PdLibvirtConns *pd_attach_conns(PdDaemon *daemon);

/* The libvirt URI a call uses (docs/security.md, rule U: the one place that decides which
 * URIs poold opens). @given NULL or "": the default ([libvirt] uri, else
 * PD_LIBVIRT_DEFAULT_URI). Else @given must equal the default or an entry of [libvirt]
 * allowed_uris, or be an entry's name. Returns the URI (owned by the configuration), or NULL
 * with PD_ERROR_PERMISSION_DENIED naming @given, the rule and the configuration keys. */
const char *pd_attach_uri(PdDaemon *daemon, const char *given, GError **error);
/* Whether poold's configuration allows @uri as it is (a URI, not a name). */
bool pd_attach_uri_allowed(PdDaemon *daemon, const char *uri);

/* Refuses (PD_ERROR_VOLUME_ATTACHED) when volume @volume of pool @pool (every volume of the
 * pool when @volume is NULL) is attached to a domain: "cannot ACTION volume 'v' of pool 'p':
 * it is attached to domain 'vm1' as sdb (URI); detach it first". */
bool pd_attach_check_unattached(PdDaemon *daemon, const char *pool, const char *volume,
                                const char *action, GError **error);

/* The volume a domain's disk uses, among the active pools' volumes; false when none. */
bool pd_attach_match_volume(PdDaemon *daemon, const PdDomainDisk *disk, PdPoolObj **ret_obj,
                            PdVol **ret_vol);

/* ---- attach-disk ---- */

typedef struct {
    const char *uri;    /* NULL: pd_attach_uri's default */
    const char *domain; /* name or UUID */
    const char *pool;   /* NULL: volume is a key or a path */
    const char *volume;
    const char *target;
    const char *driver, *subdriver, *cache, *bus, *device, *mode; /* virsh's options */
    PdAffectFlags flags;
} PdAttachRequest;

typedef struct PdAttachOp PdAttachOp;

/* Checks the request (volume exists in an active pool and no job works on it, options valid,
 * not attached read-write elsewhere unless --mode shareable, and the reverse) and builds the
 * <disk> XML. Unless @print_only, writes the in-progress row. NULL with an error. */
PdAttachOp *pd_attach_prepare(PdDaemon *daemon, const PdAttachRequest *req, bool print_only,
                              GError **error);
const char *pd_attach_op_xml(const PdAttachOp *op);
/* The pool and volume names the operation works on (for the job that makes it busy). */
const char *pd_attach_op_pool(const PdAttachOp *op);
const char *pd_attach_op_volume(const PdAttachOp *op);
/* Worker: asks libvirt. */
bool pd_attach_run(PdAttachOp *op, GError **error);
/* Main loop, inside the caller's transaction: completes the row and emits "vol-attached".
 * Returns the reply parameters ({"live": b, "config": b}) or NULL. */
JsonObject *pd_attach_apply(PdDaemon *daemon, PdAttachOp *op, GError **error);
/* Frees; removes the in-progress row of an operation that was not applied. */
void pd_attach_op_free(PdAttachOp *op);

/* ---- detach-disk ---- */

typedef struct {
    const char *uri;
    const char *domain;
    const char *target;
    PdAffectFlags flags;
} PdDetachRequest;

typedef struct PdDetachOp PdDetachOp;

PdDetachOp *pd_detach_prepare(PdDaemon *daemon, const PdDetachRequest *req, GError **error);
/* The recorded volume (NULL when the disk was not attached through poold). */
const char *pd_detach_op_pool(const PdDetachOp *op);
const char *pd_detach_op_volume(const PdDetachOp *op);
bool pd_detach_run(PdDetachOp *op, GError **error);
/* Main loop, inside the caller's transaction: updates or removes the row, emits
 * "vol-detached" (when the disk was a volume poold knows). */
JsonObject *pd_detach_apply(PdDaemon *daemon, PdDetachOp *op, GError **error);
void pd_detach_op_free(PdDetachOp *op);

/* ---- reconciliation ---- */

/* Worker: the domains of @uri with their disks (PdDomainScan *). */
GPtrArray *pd_reconcile_scan(PdLibvirtConns *conns, const char *uri, GError **error);
/* Main loop: makes the rows of @uri match @scans, with events, in one transaction. Sets
 * *ret_changes (may be NULL) to the number of rows added, changed or removed. */
bool pd_reconcile_apply(PdDaemon *daemon, const char *uri, GPtrArray *scans, unsigned *ret_changes,
                        GError **error);
/* Main loop: scans @uri on a thread and applies the result on the main loop; a request while
 * one runs makes it run again afterwards. */
void pd_reconcile_schedule(PdDaemon *daemon, const char *uri);
/* Start-up: schedules the configured URI and every URI that has rows. */
void pd_reconcile_start_up(PdDaemon *daemon);

G_END_DECLS
