/* poold's libvirt connections: the libvirt event loop, errors, and a cache of connections by
 * URI.
 *
 * libvirt needs an event loop implementation for keepalives, close callbacks, domain events
 * and the embedded QEMU driver (qemu:///embed?root=DIR). libvirt's default implementation is
 * built on GLib: its watches and timers are sources of GLib's default main context, and
 * virEventRunDefaultImpl() is one iteration of that context. So poold registers it once
 * (pd_libvirt_init) and lets its own main loop, which runs the default context, dispatch
 * libvirt's events: libvirt's callbacks run on the main loop thread, and must stay short.
 * A process without a GLib main loop (a test) asks for a thread that iterates the default
 * context instead; such a process must then not attach its own sources to that context.
 *
 * Opening a connection and every call on one may block (a remote libvirtd, a hung QEMU
 * monitor): the daemon makes them on worker threads only, never on the main loop. A cached
 * connection is shared between workers (libvirt connections are thread-safe); libvirt's close
 * callback drops a dead one from the cache, and the next call opens a new one.
 *
 * Errors: every failure is a PD_ERROR GError whose message names the URI and, where there is
 * one, the domain, followed by poold's words for libvirt's error code. libvirt's own message
 * goes to poold's log only: it may quote a file libvirt read as root (docs/security.md). */
#pragma once

#include "daemon/libvirt/module.h"

#include <glib.h>
#include <libvirt/libvirt.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* Registers libvirt's default event loop implementation, once; with @run_thread (the first
 * call decides), also starts a thread iterating GLib's default main context until the process
 * exits. Thread-safe. Returns false with an error when libvirt refuses the registration. */
bool pd_libvirt_init(bool run_thread, GError **error);

/* Sets @error (code @code, PD_ERROR domain) to "@what: " followed by poold's words for the
 * code of libvirt's last error of this thread, and logs libvirt's own message with @what.
 * Returns false, for "return pd_libvirt_fail(...)". */
bool pd_libvirt_fail(GError **error, int code, const char *what_fmt, ...) G_GNUC_PRINTF(3, 4);

typedef struct PdLibvirtConn PdLibvirtConn;

/* A cache of connections by URI. @changed (may be NULL) is registered on every connection the
 * cache opens. */
PdLibvirtConns *pd_libvirt_conns_new(PdLibvirtDomainChangedFunc changed, void *user_data);
/* Closes every cached connection. The callers of pd_libvirt_conns_get must have released
 * theirs. */
void pd_libvirt_conns_free(PdLibvirtConns *conns);

/* The connection to @uri: the cached one when it is alive, else a new one (which blocks:
 * worker threads only). Returns a reference (release with pd_libvirt_conn_unref), or NULL
 * with PD_ERROR_IO "cannot connect to libvirt at URI: ...". Thread-safe. */
PdLibvirtConn *pd_libvirt_conns_get(PdLibvirtConns *conns, const char *uri, GError **error);

/* Opens an uncached connection to @uri (tests; blocking). Same errors. */
PdLibvirtConn *pd_libvirt_conn_open(const char *uri, GError **error);

void pd_libvirt_conn_unref(PdLibvirtConn *conn); /* NULL is fine */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdLibvirtConn, pd_libvirt_conn_unref)

/* The libvirt connection (borrowed) and its URI as given. */
virConnectPtr pd_libvirt_conn_ptr(PdLibvirtConn *conn);
const char *pd_libvirt_conn_uri(PdLibvirtConn *conn);

/* Domain lookup by name (or UUID): a reference the caller frees with virDomainFree, or NULL
 * with PD_ERROR_NO_SUCH_DOMAIN "Domain not found: no domain with matching name 'X' (URI)". */
virDomainPtr pd_libvirt_domain_lookup(PdLibvirtConn *conn, const char *name, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)

G_END_DECLS
