/* Secrets policy: finding a secret by UUID or usage, and giving a pool the value of the secret
 * its <source><auth> names before it starts. Values never leave the daemon: no method returns
 * one and nothing logs one. Main loop thread only. */
#pragma once

#include "daemon/model/daemon.h"
#include "pools/backend.h"

G_BEGIN_DECLS

/* The secret whose UUID (any case, dashes or not) or usage id is @key; NULL with
 * PD_ERROR_NOT_FOUND in virsh's words. Caller frees. */
PdStoreSecret *pd_secret_lookup(PdDaemon *daemon, const char *key, GError **error);

/* Sets pool->auth_secret from the secret named by the pool's <auth> (usage or UUID), or clears
 * it when the pool has no <auth>. False with an error naming the pool and the secret when the
 * secret is not defined, has no value, or its value is not text. */
bool pd_secret_resolve_pool(PdDaemon *daemon, PdPool *pool, GError **error);

G_END_DECLS
