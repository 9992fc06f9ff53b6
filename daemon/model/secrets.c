/* Secrets policy (see secrets.h). */
#include "daemon/model/secrets.h"

#include "common/pd-error.h"
#include "xml/xml-util.h"

#include <string.h>

PdStoreSecret *pd_secret_lookup(PdDaemon *daemon, const char *key, GError **error)
{
    g_autoptr(GPtrArray) all = pd_store_secret_list(daemon->store, error);
    if (!all)
        return NULL;
    g_autofree char *uuid = pd_xml_uuid_canonical(key);
    for (guint i = 0; i < all->len; i++) {
        PdStoreSecret *s = g_ptr_array_index(all, i);
        if ((uuid && g_str_equal(s->uuid, uuid)) || g_str_equal(s->usage_id, key))
            return g_steal_pointer(&all->pdata[i]);
    }
    g_set_error(error, PD_ERROR, PD_ERROR_NOT_FOUND,
                "Secret not found: no secret with matching uuid or usage '%s'", key);
    return NULL;
}

/* The secret an <auth> names: by UUID, or by usage id (of usage type iscsi, or the type given
 * on <secret type=>). */
static PdStoreSecret *auth_secret(PdDaemon *daemon, const PdPoolAuth *auth, GError **error)
{
    g_autoptr(GPtrArray) all = pd_store_secret_list(daemon->store, error);
    if (!all)
        return NULL;
    const char *type = auth->secret_type ? auth->secret_type : "iscsi";
    for (guint i = 0; i < all->len; i++) {
        PdStoreSecret *s = g_ptr_array_index(all, i);
        bool match = auth->secret_uuid ? g_str_equal(s->uuid, auth->secret_uuid)
                                       : g_str_equal(s->usage_id, auth->secret_usage) &&
                                             g_str_equal(s->usage_type, type);
        if (match)
            return g_steal_pointer(&all->pdata[i]);
    }
    return NULL;
}

static void clear_secret(PdPool *pool)
{
    if (pool->auth_secret) {
        explicit_bzero(pool->auth_secret, strlen(pool->auth_secret));
        g_clear_pointer(&pool->auth_secret, g_free);
    }
}

bool pd_secret_resolve_pool(PdDaemon *daemon, PdPool *pool, GError **error)
{
    const PdPoolAuth *auth = pool->def->source.auth;
    clear_secret(pool);
    if (!auth)
        return true;
    const char *name = auth->secret_uuid ? auth->secret_uuid : auth->secret_usage;
    const char *by = auth->secret_uuid ? "uuid" : "usage";
    g_autoptr(GError) local = NULL;
    g_autoptr(PdStoreSecret) secret = auth_secret(daemon, auth, &local);
    if (!secret) {
        if (local)
            g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                       "pool '%s': ", pool->def->name);
        else
            g_set_error(error, PD_ERROR, PD_ERROR_NOT_FOUND,
                        "pool '%s': the secret with %s '%s' of CHAP user '%s' is not defined: "
                        "define it with secret-define and set its value with secret-set-value",
                        pool->def->name, by, name, auth->username);
        return false;
    }
    g_autoptr(GBytes) value = pd_store_secret_get_value(daemon->store, secret->uuid, &local);
    gsize len = 0;
    const char *data = value ? g_bytes_get_data(value, &len) : NULL;
    if (!value || len == 0 || memchr(data, 0, len)) {
        if (local) {
            g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                       "pool '%s': ", pool->def->name);
            return false;
        }
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_STATE,
                    "pool '%s': the secret %s (%s '%s') %s: set it with secret-set-value",
                    pool->def->name, secret->uuid, by, name,
                    !value || len == 0 ? "has no value" : "holds a NUL byte, not a CHAP password");
        return false;
    }
    pool->auth_secret = g_strndup(data, len);
    return true;
}
