/* Backends in loadable modules. The backends that bring a large library of their own are
 * shared objects poold loads the first time a pool of theirs needs them (common/module.h):
 *   poold-iscsi.so  iscsi-direct (pool-iscsi-direct.c, formats/iscsi.c, formats/io-iscsi.c:
 *                   libiscsi, which brings libibverbs, librdmacm and libnl)
 *   poold-nfs.so    netfs in userspace (pool-netfs-nfs.c, formats/io-nfs.c: libnfs)
 * poold's table for such a type is a proxy with the same callbacks as the real backend (the
 * daemon reads which are NULL without loading anything): each loads the module on its first
 * call, then forwards. So nothing is loaded to define, list or undefine such a pool; it is
 * when one is built, started, deleted or its find-sources runs. A process that links a
 * backend's code (the tests) gets the real table instead of the proxy.
 *
 * A module that cannot be loaded makes that call fail with PD_ERROR_UNSUPPORTED "cannot load
 * poold's TYPE module PATH: REASON" (common/module.h); the next call tries again. */
#pragma once

#include "pools/backend.h"

G_BEGIN_DECLS

/* The version of what a backend module exports, bumped on every change to PdPoolBackend or to
 * the types its callbacks take (a module of another version is refused). */
#define PD_POOL_BACKEND_MODULE_ABI 1

typedef struct {
    unsigned abi;  /* PD_POOL_BACKEND_MODULE_ABI */
    unsigned size; /* sizeof(PdPoolBackend) */
    const PdPoolBackend *backend;
} PdPoolBackendModule;

/* What a backend module exports (pools/backend-module-entry.c). */
extern const PdPoolBackendModule pd_pool_backend_module_table;

/* Whether @a and @b are of one type and have their callbacks in the same places (the NULL ones
 * NULL in both): what a module's table must share with its proxy, checked when it is loaded and
 * by tests/pools/test-backend-module.c, which compares each proxy with the real table. */
bool pd_pool_backend_same_callbacks(const PdPoolBackend *a, const PdPoolBackend *b);

/* The proxy of module @file ("poold-nfs.so", "poold-iscsi.so"), which poold uses when it does
 * not link that backend; NULL for another name. */
const PdPoolBackend *pd_pool_backend_module_proxy(const char *file);

/* The netfs userspace and iscsi-direct backends: the linked ones, else the proxies. */
const PdPoolBackend *pd_pool_backend_netfs_nfs_get(void);
const PdPoolBackend *pd_pool_backend_iscsi_direct_get(void);

G_END_DECLS
