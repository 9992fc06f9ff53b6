/* The libvirt event loop thread, libvirt errors as GErrors, and the connection cache. */
#include "daemon/libvirt/conn.h"

#include "common/pd-error.h"

#include <libvirt/virterror.h>
#include <stdarg.h>
#include <string.h>

struct PdLibvirtConn {
    gint ref;
    virConnectPtr ptr;
    char *uri;
    gint dead;             /* libvirt's close callback ran: the cache opens a new connection */
    PdLibvirtConns *owner; /* NULL for uncached connections */
    int event_ids[3];      /* domain event callbacks (cached connections), -1 when none */
};

struct PdLibvirtConns {
    GMutex lock;
    GHashTable *by_uri; /* uri -> PdLibvirtConn * (one reference) */
    PdLibvirtDomainChangedFunc changed;
    void *user_data;
};

/* libvirt prints every error on stderr unless a handler is set: poold reports them itself. */
static void ignore_error(void *data, virErrorPtr error)
{
}

static gpointer event_loop_thread(gpointer data)
{
    for (;;)
        if (virEventRunDefaultImpl() < 0)
            g_usleep(G_USEC_PER_SEC / 10); /* never spin on a failing loop */
    return NULL;
}

bool pd_libvirt_init(bool run_thread, GError **error)
{
    static gsize done = 0;
    static bool ok = false;
    if (g_once_init_enter(&done)) {
        virSetErrorFunc(NULL, ignore_error);
        ok = virInitialize() == 0 && virEventRegisterDefaultImpl() == 0;
        if (ok && run_thread)
            g_thread_unref(g_thread_new("libvirt-events", event_loop_thread, NULL));
        g_once_init_leave(&done, 1);
    }
    if (!ok)
        pd_libvirt_fail(error, PD_ERROR_FAILED, "cannot start libvirt's event loop");
    return ok;
}

/* poold's words for a libvirt error code (docs/security.md, rule L): libvirt's own text may
 * quote a file it read as root, so it goes to poold's log only. */
static const char *cause_of(int code)
{
    switch (code) {
    case VIR_ERR_NO_DOMAIN:
        return "libvirt has no such domain";
    case VIR_ERR_NO_STORAGE_POOL:
        return "libvirt has no such storage pool";
    case VIR_ERR_OPERATION_INVALID:
        return "libvirt says the operation is not valid in the domain's or pool's current state";
    case VIR_ERR_OPERATION_DENIED:
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_CANCELLED:
    case VIR_ERR_AUTH_UNAVAILABLE:
    case VIR_ERR_ACCESS_DENIED:
        return "libvirt denied access";
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_RPC:
    case VIR_ERR_SYSTEM_ERROR:
        return "libvirt could not be reached or failed to talk to its daemon";
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_OPERATION_UNSUPPORTED:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
        return "the libvirt driver does not support this";
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_INVALID_ARG:
        return "libvirt refused the definition or an argument";
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
        return "libvirt timed out";
    case VIR_ERR_OPERATION_FAILED:
        return "the operation failed in libvirt";
    default:
        return "libvirt reported an error";
    }
}

bool pd_libvirt_fail(GError **error, int code, const char *what_fmt, ...)
{
    va_list ap;
    va_start(ap, what_fmt);
    g_autofree char *what = g_strdup_vprintf(what_fmt, ap);
    va_end(ap);
    virErrorPtr last = virGetLastError();
    int vcode = last ? last->code : VIR_ERR_OK;
    g_message("%s: libvirt error %d: %s", what, vcode,
              last && last->message ? last->message : "unknown libvirt error");
    g_set_error(error, PD_ERROR, code,
                "%s: %s (libvirt error %d; libvirt's own message is in poold's log)", what,
                cause_of(vcode), vcode);
    virResetLastError();
    return false;
}
static void on_close(virConnectPtr ptr, int reason, void *opaque)
{
    PdLibvirtConn *conn = opaque;
    g_atomic_int_set(&conn->dead, 1);
}

static void conn_changed(PdLibvirtConn *conn, virDomainPtr dom)
{
    PdLibvirtConns *conns = conn->owner;
    if (conns && conns->changed)
        conns->changed(conn->uri, virDomainGetName(dom), conns->user_data);
}

static void on_device_removed(virConnectPtr ptr, virDomainPtr dom, const char *alias, void *opaque)
{
    conn_changed(opaque, dom);
}

/* A disk hot-plugged outside poold (virsh attach-disk --live) shows up here. */
static void on_device_added(virConnectPtr ptr, virDomainPtr dom, const char *alias, void *opaque)
{
    conn_changed(opaque, dom);
}

static void on_lifecycle(virConnectPtr ptr, virDomainPtr dom, int event, int detail, void *opaque)
{
    /* Undefined (config gone), stopped (live gone), defined (config replaced). */
    if (event == VIR_DOMAIN_EVENT_UNDEFINED || event == VIR_DOMAIN_EVENT_STOPPED ||
        event == VIR_DOMAIN_EVENT_DEFINED)
        conn_changed(opaque, dom);
}

PdLibvirtConn *pd_libvirt_conn_open(const char *uri, GError **error)
{
    if (!pd_libvirt_init(false, error))
        return NULL;
    virConnectPtr ptr = virConnectOpen(uri);
    if (!ptr) {
        pd_libvirt_fail(error, PD_ERROR_IO, "cannot connect to libvirt at %s", uri);
        return NULL;
    }
    PdLibvirtConn *conn = g_new0(PdLibvirtConn, 1);
    conn->ref = 1;
    conn->ptr = ptr;
    conn->uri = g_strdup(uri);
    conn->event_ids[0] = conn->event_ids[1] = conn->event_ids[2] = -1;
    /* A remote libvirtd that stops answering is noticed in about 30 s: the connection closes,
     * the calls waiting on it fail, and the cache opens a new one. Local drivers have no
     * keepalive (an error, ignored). */
    (void)virConnectSetKeepAlive(ptr, 5, 5);
    virResetLastError();
    /* The connection owns no reference to @conn: the callback is removed before it goes. */
    (void)virConnectRegisterCloseCallback(ptr, on_close, conn, NULL);
    return conn;
}

void pd_libvirt_conn_unref(PdLibvirtConn *conn)
{
    if (!conn || !g_atomic_int_dec_and_test(&conn->ref))
        return;
    for (unsigned i = 0; i < G_N_ELEMENTS(conn->event_ids); i++)
        if (conn->event_ids[i] >= 0)
            (void)virConnectDomainEventDeregisterAny(conn->ptr, conn->event_ids[i]);
    (void)virConnectUnregisterCloseCallback(conn->ptr, on_close);
    (void)virConnectClose(conn->ptr);
    virResetLastError();
    g_free(conn->uri);
    g_free(conn);
}

virConnectPtr pd_libvirt_conn_ptr(PdLibvirtConn *conn)
{
    return conn->ptr;
}

const char *pd_libvirt_conn_uri(PdLibvirtConn *conn)
{
    return conn->uri;
}

PdLibvirtConns *pd_libvirt_conns_new(PdLibvirtDomainChangedFunc changed, void *user_data)
{
    PdLibvirtConns *conns = g_new0(PdLibvirtConns, 1);
    g_mutex_init(&conns->lock);
    conns->by_uri = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify)pd_libvirt_conn_unref);
    conns->changed = changed;
    conns->user_data = user_data;
    return conns;
}

void pd_libvirt_conns_free(PdLibvirtConns *conns)
{
    if (!conns)
        return;
    g_hash_table_unref(conns->by_uri);
    g_mutex_clear(&conns->lock);
    g_free(conns);
}

/* Registers the cache's domain event callbacks on @conn. A failure only loses reconciliation
 * on events (start-up reconciliation still runs), so it is not an error. */
static void watch_domains(PdLibvirtConns *conns, PdLibvirtConn *conn)
{
    conn->owner = conns;
    if (!conns->changed)
        return;
    conn->event_ids[0] =
        virConnectDomainEventRegisterAny(conn->ptr, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_device_removed), conn, NULL);
    conn->event_ids[1] =
        virConnectDomainEventRegisterAny(conn->ptr, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), conn, NULL);
    conn->event_ids[2] =
        virConnectDomainEventRegisterAny(conn->ptr, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_device_added), conn, NULL);
    virResetLastError();
}

PdLibvirtConn *pd_libvirt_conns_get(PdLibvirtConns *conns, const char *uri, GError **error)
{
    g_mutex_lock(&conns->lock);
    PdLibvirtConn *conn = g_hash_table_lookup(conns->by_uri, uri);
    if (conn && (g_atomic_int_get(&conn->dead) || virConnectIsAlive(conn->ptr) != 1)) {
        g_hash_table_remove(conns->by_uri, uri);
        conn = NULL;
    }
    if (conn) {
        g_atomic_int_inc(&conn->ref);
        g_mutex_unlock(&conns->lock);
        return conn;
    }
    g_mutex_unlock(&conns->lock);
    /* Opening blocks: not under the lock. Two workers may both open; the second one keeps
     * its own connection for this call and the cache keeps the first. */
    conn = pd_libvirt_conn_open(uri, error);
    if (!conn)
        return NULL;
    g_mutex_lock(&conns->lock);
    if (!g_hash_table_contains(conns->by_uri, uri)) {
        watch_domains(conns, conn);
        g_atomic_int_inc(&conn->ref);
        g_hash_table_insert(conns->by_uri, g_strdup(uri), conn);
    }
    g_mutex_unlock(&conns->lock);
    return conn;
}

virDomainPtr pd_libvirt_domain_lookup(PdLibvirtConn *conn, const char *name, GError **error)
{
    virDomainPtr dom = virDomainLookupByName(conn->ptr, name);
    if (!dom && strlen(name) == VIR_UUID_STRING_BUFLEN - 1) /* virsh also takes a UUID */
        dom = virDomainLookupByUUIDString(conn->ptr, name);
    if (dom)
        return dom;
    virErrorPtr last = virGetLastError();
    if (!last || last->code == VIR_ERR_NO_DOMAIN) {
        g_set_error(error, PD_ERROR, PD_ERROR_NO_SUCH_DOMAIN,
                    "Domain not found: no domain with matching name '%s' at %s", name, conn->uri);
        virResetLastError();
        return NULL;
    }
    pd_libvirt_fail(error, PD_ERROR_IO, "domain '%s' at %s", name, conn->uri);
    return NULL;
}
