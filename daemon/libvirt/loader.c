/* Loading poold's libvirt module (libvirt-module.h). */
#include "daemon/libvirt/module.h"

#include "common/module.h"
#include "common/pd-error.h"

/* Defined when the process links the module's code (tests), else NULL: then it is loaded. */
extern const PdLibvirtModule pd_libvirt_module_table __attribute__((weak));

const PdLibvirtModule *pd_libvirt_module_load(GError **error)
{
    static GMutex lock;
    static const PdLibvirtModule *loaded;
    if (&pd_libvirt_module_table)
        return &pd_libvirt_module_table;
    g_mutex_lock(&lock);
    const PdLibvirtModule *module = loaded;
    if (!module) {
        module =
            pd_module_load(PD_LIBVIRT_MODULE_NAME, "libvirt", "pd_libvirt_module_table", error);
        if (module && module->abi != PD_LIBVIRT_MODULE_ABI) {
            g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                        "cannot load poold's libvirt module %s: it was built for another "
                        "version of poold",
                        PD_LIBVIRT_MODULE_NAME);
            module = NULL;
        }
        loaded = module;
    }
    g_mutex_unlock(&lock);
    return module;
}
