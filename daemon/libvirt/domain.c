/* attach-disk, detach-disk and the disk lists of domains, through the libvirt C API. */
#include "daemon/libvirt/domain.h"

#include "common/pd-error.h"

#include <libvirt/virterror.h>
#include <string.h>

bool pd_libvirt_resolve_affect(virDomainPtr dom, const char *domain, const char *uri,
                               const PdAffectFlags *flags, unsigned *ret_affected, GError **error)
{
    if (flags->current && (flags->live || flags->config || flags->persistent)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Options --current and --%s are mutually exclusive",
                    flags->live     ? "live"
                    : flags->config ? "config"
                                    : "persistent");
        return false;
    }
    int active = virDomainIsActive(dom);
    int persistent = virDomainIsPersistent(dom);
    if (active < 0 || persistent < 0)
        return pd_libvirt_fail(error, PD_ERROR_IO, "domain '%s' at %s", domain, uri);
    unsigned affected = 0;
    if (flags->live || (flags->persistent && active))
        affected |= PD_AFFECT_LIVE;
    if (flags->config || flags->persistent)
        affected |= PD_AFFECT_CONFIG;
    if (!affected)
        affected = active ? PD_AFFECT_LIVE : PD_AFFECT_CONFIG;
    if ((affected & PD_AFFECT_LIVE) && !active) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_STATE,
                    "Requested operation is not valid: domain '%s' is not running (--live "
                    "needs a running domain; use --config to change its definition)",
                    domain);
        return false;
    }
    if ((affected & PD_AFFECT_CONFIG) && !persistent) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_STATE,
                    "Requested operation is not valid: cannot change the persistent "
                    "configuration of transient domain '%s' (use --live)",
                    domain);
        return false;
    }
    *ret_affected = affected;
    return true;
}

static unsigned virt_flags(unsigned affected)
{
    return ((affected & PD_AFFECT_LIVE) ? VIR_DOMAIN_AFFECT_LIVE : 0) |
           ((affected & PD_AFFECT_CONFIG) ? VIR_DOMAIN_AFFECT_CONFIG : 0);
}

static const char *affect_name(unsigned which)
{
    return which == PD_AFFECT_LIVE ? "live" : "persistent";
}

/* The disks of the live (PD_AFFECT_LIVE) or persistent definition of @dom. */
static GPtrArray *disks_of(virDomainPtr dom, const char *domain, const char *uri, unsigned which,
                           GError **error)
{
    g_autofree char *xml =
        virDomainGetXMLDesc(dom, which == PD_AFFECT_LIVE ? 0 : VIR_DOMAIN_XML_INACTIVE);
    if (!xml) {
        pd_libvirt_fail(error, PD_ERROR_IO, "reading the %s XML of domain '%s' at %s",
                        affect_name(which), domain, uri);
        return NULL;
    }
    g_autofree char *what = g_strdup_printf("XML of domain '%s'", domain);
    return pd_domain_disks_parse(xml, what, error);
}

/* Fails with EXISTS when @target is used in a definition @affected names. */
static bool check_target_free(virDomainPtr dom, const char *domain, const char *uri,
                              const char *target, unsigned affected, GError **error)
{
    for (unsigned which = PD_AFFECT_LIVE; which <= PD_AFFECT_CONFIG; which <<= 1) {
        if (!(affected & which))
            continue;
        g_autoptr(GPtrArray) disks = disks_of(dom, domain, uri, which, error);
        if (!disks)
            return false;
        PdDomainDisk *used = pd_domain_disks_find(disks, target);
        if (used) {
            g_autofree char *source = pd_domain_disk_source_text(used);
            g_set_error(error, PD_ERROR, PD_ERROR_EXISTS,
                        "target '%s' is already used by a disk of domain '%s' (%s, in its %s "
                        "definition): choose another target",
                        target, domain, source, affect_name(which));
            return false;
        }
    }
    return true;
}

/* Checks that @target is present (or absent) in each definition of @affected. */
static bool check_target(virDomainPtr dom, const char *domain, const char *uri, const char *target,
                         unsigned affected, bool want_present, GError **error)
{
    for (unsigned which = PD_AFFECT_LIVE; which <= PD_AFFECT_CONFIG; which <<= 1) {
        if (!(affected & which))
            continue;
        g_autoptr(GPtrArray) disks = disks_of(dom, domain, uri, which, error);
        if (!disks)
            return false;
        if ((pd_domain_disks_find(disks, target) != NULL) != want_present) {
            g_set_error(error, PD_ERROR, want_present ? PD_ERROR_IO : PD_ERROR_BUSY,
                        "libvirt answered success, but disk '%s' is %s the %s definition of "
                        "domain '%s'",
                        target, want_present ? "missing from" : "still in", affect_name(which),
                        domain);
            return false;
        }
    }
    return true;
}

bool pd_libvirt_attach_disk(PdLibvirtConn *conn, const char *domain, const char *disk_xml,
                            const char *target, const PdAffectFlags *flags, unsigned *ret_affected,
                            GError **error)
{
    const char *uri = pd_libvirt_conn_uri(conn);
    g_autoptr(virDomain) dom = pd_libvirt_domain_lookup(conn, domain, error);
    unsigned affected = 0;
    if (!dom || !pd_libvirt_resolve_affect(dom, domain, uri, flags, &affected, error) ||
        !check_target_free(dom, domain, uri, target, affected, error))
        return false;
    if (virDomainAttachDeviceFlags(dom, disk_xml, virt_flags(affected)) < 0)
        return pd_libvirt_fail(error, PD_ERROR_IO, "Failed to attach disk '%s' to domain '%s'",
                               target, domain);
    if (!check_target(dom, domain, uri, target, affected, true, error))
        return false;
    *ret_affected = affected;
    return true;
}

/* ---- detach: waiting for the device-removed event ---- */

typedef struct {
    GMutex lock;
    GCond cond;
    const char *alias; /* the disk's alias; NULL: any removal of the domain counts */
    bool removed;
} RemovalWait;

static void on_removed(virConnectPtr ptr, virDomainPtr dom, const char *alias, void *opaque)
{
    RemovalWait *wait = opaque;
    g_mutex_lock(&wait->lock);
    if (!wait->alias || g_strcmp0(wait->alias, alias) == 0) {
        wait->removed = true;
        g_cond_broadcast(&wait->cond);
    }
    g_mutex_unlock(&wait->lock);
}

/* Waits until the event came or @timeout_ms passed. */
static void wait_removed(RemovalWait *wait, unsigned timeout_ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    g_mutex_lock(&wait->lock);
    while (!wait->removed)
        if (!g_cond_wait_until(&wait->cond, &wait->lock, end))
            break;
    g_mutex_unlock(&wait->lock);
}

/* Takes the disk with target @target out of @disks; NULL when there is none. */
static PdDomainDisk *take_disk(GPtrArray *disks, const char *target)
{
    for (guint i = 0; i < disks->len; i++)
        if (g_str_equal(((PdDomainDisk *)disks->pdata[i])->target, target))
            return g_ptr_array_steal_index(disks, i);
    return NULL;
}

/* The disk @target of the definitions detach changes: each must have it; the live one is
 * returned when live is affected. */
static PdDomainDisk *disk_to_detach(virDomainPtr dom, const char *domain, const char *uri,
                                    const char *target, unsigned affected, GError **error)
{
    g_autoptr(PdDomainDisk) found = NULL;
    for (unsigned which = PD_AFFECT_CONFIG; which >= PD_AFFECT_LIVE; which >>= 1) {
        if (!(affected & which))
            continue;
        g_autoptr(GPtrArray) disks = disks_of(dom, domain, uri, which, error);
        if (!disks)
            return NULL;
        pd_domain_disk_free(found);
        found = take_disk(disks, target);
        if (!found) {
            g_set_error(error, PD_ERROR, PD_ERROR_NOT_FOUND,
                        "No disk found whose source path or target is %s in the %s definition "
                        "of domain '%s'",
                        target, affect_name(which), domain);
            return NULL;
        }
    }
    return g_steal_pointer(&found);
}

bool pd_libvirt_detach_disk(PdLibvirtConn *conn, const char *domain, const char *target,
                            const PdAffectFlags *flags, unsigned timeout_ms, unsigned *ret_affected,
                            PdDomainDisk **ret_disk, GError **error)
{
    const char *uri = pd_libvirt_conn_uri(conn);
    g_autoptr(virDomain) dom = pd_libvirt_domain_lookup(conn, domain, error);
    unsigned affected = 0;
    if (!dom || !pd_libvirt_resolve_affect(dom, domain, uri, flags, &affected, error))
        return false;
    g_autoptr(PdDomainDisk) disk = disk_to_detach(dom, domain, uri, target, affected, error);
    if (!disk)
        return false;
    RemovalWait wait = {.alias = disk->alias};
    g_mutex_init(&wait.lock);
    g_cond_init(&wait.cond);
    int cb = -1;
    if (affected & PD_AFFECT_LIVE)
        cb = virConnectDomainEventRegisterAny(pd_libvirt_conn_ptr(conn), dom,
                                              VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                              VIR_DOMAIN_EVENT_CALLBACK(on_removed), &wait, NULL);
    bool ok = virDomainDetachDeviceFlags(dom, disk->xml, virt_flags(affected)) == 0;
    if (!ok)
        pd_libvirt_fail(error, PD_ERROR_IO, "Failed to detach disk '%s' from domain '%s'", target,
                        domain);
    if (ok && cb >= 0)
        wait_removed(&wait, timeout_ms);
    if (cb >= 0)
        (void)virConnectDomainEventDeregisterAny(pd_libvirt_conn_ptr(conn), cb);
    g_mutex_clear(&wait.lock);
    g_cond_clear(&wait.cond);
    /* The event is the guest's answer; the XML is the truth either way. */
    if (ok && !check_target(dom, domain, uri, target, affected, false, error)) {
        if (g_error_matches(*error, PD_ERROR, PD_ERROR_BUSY) && (affected & PD_AFFECT_LIVE))
            g_prefix_error(error, "the guest did not release the disk within %u ms: ", timeout_ms);
        return false;
    }
    if (!ok)
        return false;
    *ret_affected = affected;
    if (ret_disk)
        *ret_disk = g_steal_pointer(&disk);
    return true;
}

GPtrArray *pd_libvirt_domain_disks(PdLibvirtConn *conn, const char *domain, bool inactive,
                                   GError **error)
{
    g_autoptr(virDomain) dom = pd_libvirt_domain_lookup(conn, domain, error);
    if (!dom)
        return NULL;
    return disks_of(dom, domain, pd_libvirt_conn_uri(conn),
                    inactive ? PD_AFFECT_CONFIG : PD_AFFECT_LIVE, error);
}

void pd_domain_scan_free(PdDomainScan *scan)
{
    if (!scan)
        return;
    g_free(scan->name);
    if (scan->live)
        g_ptr_array_unref(scan->live);
    if (scan->config)
        g_ptr_array_unref(scan->config);
    g_free(scan);
}

/* One domain's scan; NULL when it went away meanwhile or cannot be read (@error set then). */
static PdDomainScan *scan_domain(virDomainPtr dom, const char *uri, GError **error)
{
    g_autoptr(PdDomainScan) scan = g_new0(PdDomainScan, 1);
    scan->name = g_strdup(virDomainGetName(dom));
    int active = virDomainIsActive(dom);
    int persistent = virDomainIsPersistent(dom);
    if (active < 0 || persistent < 0) {
        pd_libvirt_fail(error, PD_ERROR_IO, "domain '%s' at %s", scan->name, uri);
        return NULL;
    }
    if (active && !(scan->live = disks_of(dom, scan->name, uri, PD_AFFECT_LIVE, error)))
        return NULL;
    if (persistent && !(scan->config = disks_of(dom, scan->name, uri, PD_AFFECT_CONFIG, error)))
        return NULL;
    return g_steal_pointer(&scan);
}

static gint scan_cmp(gconstpointer a, gconstpointer b)
{
    const PdDomainScan *x = *(PdDomainScan *const *)a, *y = *(PdDomainScan *const *)b;
    return strcmp(x->name, y->name);
}

GPtrArray *pd_libvirt_scan_domains(PdLibvirtConn *conn, GError **error)
{
    const char *uri = pd_libvirt_conn_uri(conn);
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(pd_libvirt_conn_ptr(conn), &doms, 0);
    if (n < 0) {
        pd_libvirt_fail(error, PD_ERROR_IO, "listing the domains of %s", uri);
        return NULL;
    }
    GPtrArray *scans = g_ptr_array_new_with_free_func((GDestroyNotify)pd_domain_scan_free);
    for (int i = 0; i < n; i++) {
        g_autoptr(GError) local = NULL;
        PdDomainScan *scan = scan_domain(doms[i], uri, &local);
        if (scan)
            g_ptr_array_add(scans, scan);
        else if (virDomainIsActive(doms[i]) >= 0) { /* still there: a real failure */
            g_propagate_error(error, g_steal_pointer(&local));
            for (int j = i; j < n; j++)
                virDomainFree(doms[j]);
            g_free(doms);
            g_ptr_array_unref(scans);
            return NULL;
        }
        virResetLastError();
        virDomainFree(doms[i]);
    }
    g_free(doms);
    g_ptr_array_sort(scans, scan_cmp);
    return scans;
}
