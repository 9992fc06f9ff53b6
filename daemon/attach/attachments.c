/* The daemon's libvirt state, the URI default, the protection check and source matching. */
#include "daemon/attach/attachments.h"

#include "common/pd-error.h"
#include "daemon/attach/attach-private.h"

#include <string.h>

/* libvirt's event thread: a domain of @uri changed; reconcile it from the main loop. */
typedef struct {
    PdDaemon *daemon;
    char *uri;
} ChangedCall;

static gboolean changed_on_main_loop(gpointer data)
{
    ChangedCall *c = data;
    if (c->daemon->libvirt)
        pd_reconcile_schedule(c->daemon, c->uri);
    g_free(c->uri);
    g_free(c);
    return G_SOURCE_REMOVE;
}

void pd_attach_invoke(PdLibvirt *state, GSourceFunc func, gpointer data)
{
    GSource *source = g_idle_source_new();
    g_source_set_callback(source, func, data, NULL);
    (void)g_source_attach(source, state->context);
    g_source_unref(source);
}

static void on_domain_changed(const char *uri, const char *domain, void *user_data)
{
    PdDaemon *daemon = user_data;
    ChangedCall *c = g_new0(ChangedCall, 1);
    c->daemon = daemon;
    c->uri = g_strdup(uri);
    pd_attach_invoke(daemon->libvirt, changed_on_main_loop, c);
}

PdLibvirt *pd_attach_state_new(PdDaemon *daemon)
{
    PdLibvirt *state = g_new0(PdLibvirt, 1);
    state->context = g_main_context_ref_thread_default();
    state->reconciling = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return state;
}

void pd_attach_state_free(PdLibvirt *state)
{
    if (!state)
        return;
    if (state->conns)
        state->module->conns_free(state->conns);
    g_hash_table_unref(state->reconciling);
    if (state->starting)
        g_hash_table_unref(state->starting);
    g_main_context_unref(state->context);
    g_free(state);
}

bool pd_attach_load(PdDaemon *daemon, GError **error)
{
    PdLibvirt *state = daemon->libvirt;
    if (!state) {
        g_set_error(error, PD_ERROR, PD_ERROR_FAILED, "poold's libvirt state is not set up");
        return false;
    }
    if (state->conns)
        return true;
    state->module = pd_libvirt_module_load(error);
    if (!state->module)
        return false;
    state->conns = state->module->conns_new(on_domain_changed, daemon);
    return true;
}

const PdLibvirtModule *pd_attach_module(PdDaemon *daemon)
{
    g_autoptr(GError) error = NULL;
    if (!pd_attach_load(daemon, &error))
        g_warning("%s", error->message);
    return daemon->libvirt->module;
}

bool pd_attach_state_busy(PdLibvirt *state)
{
    return g_hash_table_size(state->reconciling) > 0;
}

PdLibvirtConns *pd_attach_conns(PdDaemon *daemon)
{
    return pd_attach_module(daemon) ? daemon->libvirt->conns : NULL;
}

static const char *default_uri(PdDaemon *daemon)
{
    const char *uri = daemon->config.libvirt_uri;
    return uri && *uri ? uri : PD_LIBVIRT_DEFAULT_URI;
}

/* The configured URI @given equals or names, or NULL. */
static const char *configured_uri(PdDaemon *daemon, const char *given, bool by_name)
{
    const PdDaemonConfig *c = &daemon->config;
    if (g_str_equal(given, default_uri(daemon)))
        return default_uri(daemon);
    for (unsigned i = 0; c->libvirt_allowed_uris && c->libvirt_allowed_uris[i]; i++) {
        const char *name = c->libvirt_allowed_names[i];
        if (g_str_equal(given, c->libvirt_allowed_uris[i]) ||
            (by_name && *name && g_str_equal(given, name)))
            return c->libvirt_allowed_uris[i];
    }
    return NULL;
}

const char *pd_attach_uri(PdDaemon *daemon, const char *given, GError **error)
{
    if (!given || !*given)
        return default_uri(daemon);
    const char *uri = configured_uri(daemon, given, true);
    if (uri)
        return uri;
    g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                "libvirt URI '%s' is not allowed: poold opens only the URIs of its "
                "configuration ([libvirt] uri, now '%s', and [libvirt] allowed_uris in %s); use "
                "one of them or its name, or ask the administrator to add it to allowed_uris",
                given, default_uri(daemon),
                daemon->config.config_path ? daemon->config.config_path
                                           : "poold.conf (none loaded)");
    return NULL;
}

bool pd_attach_uri_allowed(PdDaemon *daemon, const char *uri)
{
    return configured_uri(daemon, uri, false) != NULL;
}

bool pd_attach_check_unattached(PdDaemon *daemon, const char *pool, const char *volume,
                                const char *action, GError **error)
{
    PdLibvirt *state = daemon->libvirt;
    if (state && state->starting && g_hash_table_size(state->starting) > 0) {
        GHashTableIter it;
        gpointer uri = NULL;
        g_hash_table_iter_init(&it, state->starting);
        (void)g_hash_table_iter_next(&it, &uri, NULL);
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_STATE,
                    "cannot %s %s '%s' yet: poold is still reading which disks libvirt's "
                    "domains use (%s) after its start; try again in a moment",
                    action, volume ? "volume" : "pool", volume ? volume : pool, (char *)uri);
        return false;
    }
    g_autoptr(GPtrArray) rows = pd_store_attachment_list(daemon->store, NULL, pool, volume, error);
    if (!rows)
        return false;
    if (rows->len == 0)
        return true;
    PdStoreAttachment *a = rows->pdata[0];
    g_set_error(error, PD_ERROR, PD_ERROR_VOLUME_ATTACHED,
                "cannot %s %s '%s'%s%s%s: volume '%s' is attached to domain '%s' as %s (%s); "
                "detach it first (detach-disk %s %s)",
                action, volume ? "volume" : "pool", volume ? volume : pool,
                volume ? " of pool '" : "", volume ? pool : "", volume ? "'" : "", a->volume,
                a->domain, a->target, a->uri, a->domain, a->target);
    return false;
}

/* True when the network source of @disk is that of @vol in @obj. */
static bool network_matches(PdPoolObj *obj, const PdVol *vol, const PdDomainDisk *disk)
{
    g_autoptr(PdDiskSource) src = NULL;
    if (!pd_pool_backend_vol_disk_source(obj->backend, obj->pool, vol, &src, NULL))
        return false;
    return src->type == PD_DISK_SOURCE_NETWORK && g_strcmp0(src->protocol, disk->protocol) == 0 &&
           g_strcmp0(src->name, disk->name) == 0 &&
           (!disk->host_name || g_strcmp0(src->host_name, disk->host_name) == 0);
}

static bool disk_matches(PdPoolObj *obj, const PdVol *vol, const PdDomainDisk *disk)
{
    if (disk->pool && disk->volume) /* <disk type='volume'>: a pool exported to libvirt */
        return g_str_equal(disk->pool, pd_pool_obj_name(obj)) &&
               g_str_equal(disk->volume, vol->name);
    if (disk->path)
        return g_strcmp0(vol->path, disk->path) == 0 || g_strcmp0(vol->key, disk->path) == 0;
    if (disk->protocol && disk->name && !vol->path)
        return network_matches(obj, vol, disk);
    return false;
}

bool pd_attach_match_volume(PdDaemon *daemon, const PdDomainDisk *disk, PdPoolObj **ret_obj,
                            PdVol **ret_vol)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, daemon->pools);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        PdPoolObj *obj = value;
        for (guint i = 0; obj->active && i < obj->pool->volumes->len; i++) {
            PdVol *vol = obj->pool->volumes->pdata[i];
            if (disk_matches(obj, vol, disk)) {
                *ret_obj = obj;
                *ret_vol = vol;
                return true;
            }
        }
    }
    return false;
}
