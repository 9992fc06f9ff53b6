/* Disks of libvirt domains: attach, detach (waiting for the device to be gone), list, and the
 * scan reconciliation uses. Mechanism only: no store, no policy about volumes. Every function
 * blocks on libvirt (worker threads and tests only) and returns true/non-NULL, or false/NULL
 * with a PD_ERROR GError naming the domain and the URI:
 *   PD_ERROR_NO_SUCH_DOMAIN   unknown domain
 *   PD_ERROR_INVALID_STATE    --live on a domain that is not running, --config on a transient
 *                             one, contradicting flags
 *   PD_ERROR_EXISTS           attach: the target is in use
 *   PD_ERROR_NOT_FOUND        detach: no disk with that target
 *   PD_ERROR_BUSY             detach: the guest did not release the disk in time
 *   PD_ERROR_IO               libvirt failed (its message follows). */
#pragma once

#include "daemon/libvirt/conn.h"
#include "daemon/libvirt/domxml.h"

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* PdAffectFlags, PdAffected, PdDomainScan: libvirt-module.h. */

/* Resolves @flags for @dom as virsh does: --current (or nothing) is live when the domain runs,
 * else config; --persistent is config, and live too when it runs. Sets *ret_affected
 * (PdAffected). */
bool pd_libvirt_resolve_affect(virDomainPtr dom, const char *domain, const char *uri,
                               const PdAffectFlags *flags, unsigned *ret_affected, GError **error);

/* Attaches @disk_xml (target @target) to @domain. Refuses a target already used in the live
 * or persistent definition it changes; after libvirt's answer, checks that the disk is there
 * in each. *ret_affected: what was changed. */
bool pd_libvirt_attach_disk(PdLibvirtConn *conn, const char *domain, const char *disk_xml,
                            const char *target, const PdAffectFlags *flags, unsigned *ret_affected,
                            GError **error);

/* Detaches the disk with target @target. A live detach waits up to @timeout_ms for libvirt's
 * device-removed event, then checks the live XML (the guest may still hold it: BUSY); a
 * config detach checks the inactive XML. *ret_affected: what was changed; *ret_disk (may be
 * NULL): the disk as it was (from the live XML when live was affected). */
bool pd_libvirt_detach_disk(PdLibvirtConn *conn, const char *domain, const char *target,
                            const PdAffectFlags *flags, unsigned timeout_ms, unsigned *ret_affected,
                            PdDomainDisk **ret_disk, GError **error);

/* The disks of @domain (PdDomainDisk *): of the running domain, or of its persistent
 * definition with @inactive (virsh domblklist --inactive). */
GPtrArray *pd_libvirt_domain_disks(PdLibvirtConn *conn, const char *domain, bool inactive,
                                   GError **error);

void pd_domain_scan_free(PdDomainScan *scan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdDomainScan, pd_domain_scan_free)

/* Every domain of @conn with its disks (PdDomainScan *, by name). A domain that disappears
 * while being read is left out. */
GPtrArray *pd_libvirt_scan_domains(PdLibvirtConn *conn, GError **error);

G_END_DECLS
