/* Finding and loading poold's modules (module.h). */
#include "common/module.h"

#include "common/pd-error.h"

#include <dlfcn.h>

/* The directories to look in, in order (see module.h). */
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

const void *pd_module_load(const char *file, const char *what, const char *symbol, GError **error)
{
    g_autoptr(GPtrArray) dirs = module_dirs();
    g_autofree char *path = NULL;
    for (guint i = 0; i < dirs->len && !path; i++) {
        g_autofree char *p = g_build_filename(dirs->pdata[i], file, NULL);
        if (g_file_test(p, G_FILE_TEST_EXISTS))
            path = g_steal_pointer(&p);
    }
    if (!path) {
        g_ptr_array_add(dirs, NULL);
        g_autofree char *where = g_strjoinv(", ", (char **)dirs->pdata);
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "cannot load poold's %s module %s: not found in %s "
                    "($POOLD_MODULE_DIR names another directory)",
                    what, file, where);
        return NULL;
    }
    /* never closed: the libraries it brings keep threads and callbacks of their own */
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    const void *table = handle ? dlsym(handle, symbol) : NULL;
    if (!table) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED, "cannot load poold's %s module %s: %s",
                    what, path, dlerror());
        if (handle)
            (void)dlclose(handle);
    }
    return table;
}
