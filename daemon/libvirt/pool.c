/* Reading and writing libvirt's storage pool definitions. */
#include "daemon/libvirt/pool.h"

#include "common/pd-error.h"

#include <libvirt/virterror.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virStoragePool, virStoragePoolFree)

void pd_libvirt_pool_xml_free(PdLibvirtPoolXml *p)
{
    if (!p)
        return;
    g_free(p->name);
    g_free(p->xml);
    g_free(p);
}

static PdLibvirtPoolXml *pool_xml(virStoragePoolPtr pool, const char *uri, GError **error)
{
    const char *name = virStoragePoolGetName(pool);
    char *xml = virStoragePoolGetXMLDesc(pool, VIR_STORAGE_XML_INACTIVE);
    if (!xml && virGetLastErrorCode() == VIR_ERR_INVALID_ARG) {
        /* a driver without the flag (libvirt's test driver): its only definition then */
        virResetLastError();
        xml = virStoragePoolGetXMLDesc(pool, 0);
    }
    if (!xml) {
        pd_libvirt_fail(error, PD_ERROR_IO, "reading the definition of pool '%s' at %s", name, uri);
        return NULL;
    }
    PdLibvirtPoolXml *p = g_new0(PdLibvirtPoolXml, 1);
    p->name = g_strdup(name);
    p->xml = g_strdup(xml);
    free(xml);
    return p;
}

GPtrArray *pd_libvirt_pool_xmls(PdLibvirtConn *conn, const char *name, GError **error)
{
    virConnectPtr ptr = pd_libvirt_conn_ptr(conn);
    const char *uri = pd_libvirt_conn_uri(conn);
    g_autoptr(GPtrArray) list =
        g_ptr_array_new_with_free_func((GDestroyNotify)pd_libvirt_pool_xml_free);
    if (name) {
        g_autoptr(virStoragePool) pool = virStoragePoolLookupByName(ptr, name);
        if (!pool) {
            virErrorPtr last = virGetLastError();
            if (last && last->code == VIR_ERR_NO_STORAGE_POOL) {
                virResetLastError();
                g_set_error(error, PD_ERROR, PD_ERROR_NO_SUCH_POOL,
                            "libvirt at %s has no storage pool named '%s'", uri, name);
            } else {
                pd_libvirt_fail(error, PD_ERROR_IO, "looking up pool '%s' at %s", name, uri);
            }
            return NULL;
        }
        PdLibvirtPoolXml *p = pool_xml(pool, uri, error);
        if (!p)
            return NULL;
        g_ptr_array_add(list, p);
        return g_steal_pointer(&list);
    }
    virStoragePoolPtr *pools = NULL;
    int n = virConnectListAllStoragePools(ptr, &pools, 0);
    if (n < 0) {
        pd_libvirt_fail(error, PD_ERROR_IO, "listing the storage pools of %s", uri);
        return NULL;
    }
    bool ok = true;
    for (int i = 0; i < n; i++) {
        PdLibvirtPoolXml *p = ok ? pool_xml(pools[i], uri, error) : NULL;
        if (p)
            g_ptr_array_add(list, p);
        else
            ok = false;
        virStoragePoolFree(pools[i]);
    }
    free(pools);
    return ok ? g_steal_pointer(&list) : NULL;
}

bool pd_libvirt_pool_export(PdLibvirtConn *conn, const char *name, const char *xml, bool start,
                            bool *ret_started, GError **error)
{
    const char *uri = pd_libvirt_conn_uri(conn);
    g_autoptr(virStoragePool) pool = virStoragePoolDefineXML(pd_libvirt_conn_ptr(conn), xml, 0);
    if (!pool)
        return pd_libvirt_fail(error, PD_ERROR_IO, "defining pool '%s' in libvirt at %s", name,
                               uri);
    int active = virStoragePoolIsActive(pool);
    if (active < 0)
        return pd_libvirt_fail(error, PD_ERROR_IO, "pool '%s' at %s", name, uri);
    if (start && !active && virStoragePoolCreate(pool, 0) < 0)
        return pd_libvirt_fail(error, PD_ERROR_IO,
                               "pool '%s' is defined in libvirt at %s, but starting it failed",
                               name, uri);
    if (start && active && virStoragePoolRefresh(pool, 0) < 0)
        return pd_libvirt_fail(error, PD_ERROR_IO, "refreshing pool '%s' in libvirt at %s", name,
                               uri);
    *ret_started = start || active;
    return true;
}
