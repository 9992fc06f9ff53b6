/* Pool definitions shared with libvirt (pool-import-libvirt, pool-export-libvirt): reading
 * libvirt's pool XML and defining (and starting) a pool in libvirt. Mechanism only, blocking
 * (worker threads). Errors as in libvirt-conn.h; an unknown pool is PD_ERROR_NO_SUCH_POOL
 * naming the URI. */
#pragma once

#include "daemon/libvirt/conn.h"

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* PdLibvirtPoolXml: libvirt-module.h. */
void pd_libvirt_pool_xml_free(PdLibvirtPoolXml *p);

/* The definitions of pool @name, or of every pool when @name is NULL (PdLibvirtPoolXml *,
 * libvirt's order). */
GPtrArray *pd_libvirt_pool_xmls(PdLibvirtConn *conn, const char *name, GError **error);

/* Defines the pool of @xml in libvirt (a pool of that name and UUID is redefined); when
 * @start, starts it there (or refreshes it when it already runs) so its volumes are listed.
 * *ret_started: whether it runs in libvirt afterwards. */
bool pd_libvirt_pool_export(PdLibvirtConn *conn, const char *name, const char *xml, bool start,
                            bool *ret_started, GError **error);

G_END_DECLS
