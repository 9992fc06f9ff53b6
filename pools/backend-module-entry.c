/* The one symbol a backend module exports (backend-module.h); PD_MODULE_BACKEND names the
 * backend's table (meson.build). */
#include "pools/backend-module.h"

__attribute__((visibility("default"))) const PdPoolBackendModule pd_pool_backend_module_table = {
    .abi = PD_POOL_BACKEND_MODULE_ABI,
    .size = sizeof(PdPoolBackend),
    .backend = &PD_MODULE_BACKEND,
};
