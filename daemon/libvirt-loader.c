/* Finding and loading poold's libvirt module (libvirt-module.h). */
#include "daemon/libvirt-module.h"

#include "common/pd-error.h"

#include <dlfcn.h>

/* Defined when the process links the module's code (tests), else NULL: then it is loaded. */
extern const PdLibvirtModule pd_libvirt_module_table __attribute__((weak));

/* The directories to look in, in order (see libvirt-module.h). */
static GPtrArray *module_dirs(void)
{
    GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
    const char *env = g_getenv("POOLD_MODULE_DIR");
    if (env && *env) { /* an explicit choice: only there */
        g_ptr_array_add(dirs, g_strdup(env));
        return dirs;
    }
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    if (exe)
        g_ptr_array_add(dirs, g_path_get_dirname(exe));
    g_ptr_array_add(dirs, g_strdup(POOLD_MODULE_DIR));
    return dirs;
}

/* Opens the module at @path and checks its table. NULL with @error naming @path. */
static const PdLibvirtModule *open_module(const char *path, GError **error)
{
    /* never closed: libvirt keeps threads and callbacks of its own */
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!handle) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "cannot load poold's libvirt module %s: %s", path, dlerror());
        return NULL;
    }
    const PdLibvirtModule *module = dlsym(handle, "pd_libvirt_module_table");
    if (!module || module->abi != PD_LIBVIRT_MODULE_ABI) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "cannot load poold's libvirt module %s: %s", path,
                    module ? "it was built for another version of poold" : dlerror());
        (void)dlclose(handle);
        return NULL;
    }
    return module;
}

const PdLibvirtModule *pd_libvirt_module_load(GError **error)
{
    static GMutex lock;
    static const PdLibvirtModule *loaded;
    if (&pd_libvirt_module_table)
        return &pd_libvirt_module_table;
    g_mutex_lock(&lock);
    const PdLibvirtModule *module = loaded;
    if (!module) {
        g_autoptr(GPtrArray) dirs = module_dirs();
        g_autofree char *path = NULL;
        for (guint i = 0; i < dirs->len && !path; i++) {
            g_autofree char *p = g_build_filename(dirs->pdata[i], PD_LIBVIRT_MODULE_NAME, NULL);
            if (g_file_test(p, G_FILE_TEST_EXISTS))
                path = g_steal_pointer(&p);
        }
        if (!path) {
            g_ptr_array_add(dirs, NULL);
            g_autofree char *where = g_strjoinv(", ", (char **)dirs->pdata);
            g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                        "cannot load poold's libvirt module %s: not found in %s "
                        "($POOLD_MODULE_DIR names another directory)",
                        PD_LIBVIRT_MODULE_NAME, where);
        } else {
            module = loaded = open_module(path, error);
        }
    }
    g_mutex_unlock(&lock);
    return module;
}
