/* The table poold-libvirt.so exports (libvirt-module.h): each entry takes the connection to
 * its URI from the cache, calls libvirt-domain.c or libvirt-pool.c, and lets the connection go. */
#include "daemon/libvirt/domain.h"
#include "daemon/libvirt/pool.h"

static bool attach_disk(PdLibvirtConns *conns, const char *uri, const char *domain,
                        const char *disk_xml, const char *target, const PdAffectFlags *flags,
                        unsigned *ret_affected, GError **error)
{
    g_autoptr(PdLibvirtConn) conn = pd_libvirt_conns_get(conns, uri, error);
    return conn &&
           pd_libvirt_attach_disk(conn, domain, disk_xml, target, flags, ret_affected, error);
}

static bool detach_disk(PdLibvirtConns *conns, const char *uri, const char *domain,
                        const char *target, const PdAffectFlags *flags, unsigned timeout_ms,
                        unsigned *ret_affected, PdDomainDisk **ret_disk, GError **error)
{
    g_autoptr(PdLibvirtConn) conn = pd_libvirt_conns_get(conns, uri, error);
    return conn && pd_libvirt_detach_disk(conn, domain, target, flags, timeout_ms, ret_affected,
                                          ret_disk, error);
}

static GPtrArray *domain_disks(PdLibvirtConns *conns, const char *uri, const char *domain,
                               bool inactive, GError **error)
{
    g_autoptr(PdLibvirtConn) conn = pd_libvirt_conns_get(conns, uri, error);
    return conn ? pd_libvirt_domain_disks(conn, domain, inactive, error) : NULL;
}

static GPtrArray *scan_domains(PdLibvirtConns *conns, const char *uri, GError **error)
{
    g_autoptr(PdLibvirtConn) conn = pd_libvirt_conns_get(conns, uri, error);
    return conn ? pd_libvirt_scan_domains(conn, error) : NULL;
}

static GPtrArray *pool_xmls(PdLibvirtConns *conns, const char *uri, const char *name,
                            GError **error)
{
    g_autoptr(PdLibvirtConn) conn = pd_libvirt_conns_get(conns, uri, error);
    return conn ? pd_libvirt_pool_xmls(conn, name, error) : NULL;
}

static bool pool_export(PdLibvirtConns *conns, const char *uri, const char *name, const char *xml,
                        bool start, bool *ret_started, GError **error)
{
    g_autoptr(PdLibvirtConn) conn = pd_libvirt_conns_get(conns, uri, error);
    return conn && pd_libvirt_pool_export(conn, name, xml, start, ret_started, error);
}

/* Exported (the module's only public symbol; see meson.build) */
__attribute__((visibility("default"))) const PdLibvirtModule pd_libvirt_module_table = {
    .abi = PD_LIBVIRT_MODULE_ABI,
    .conns_new = pd_libvirt_conns_new,
    .conns_free = pd_libvirt_conns_free,
    .attach_disk = attach_disk,
    .detach_disk = detach_disk,
    .domain_disks = domain_disks,
    .scan_domains = scan_domains,
    .pool_xmls = pool_xmls,
    .pool_export = pool_export,
};
