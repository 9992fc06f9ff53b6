/* The stand-in tables of the backends in loadable modules (pools/backend-module.c) against the
 * real ones, which this test links: the daemon reads from a proxy which callbacks a backend
 * has without loading it, so a proxy that drifted from its backend answers a wrong Unsupported
 * or calls a NULL pointer. The comparison itself is checked to see a drift. */
#include "pools/backend-module.h"

#include <string.h>

static void test_same(gconstpointer data)
{
    const char *file = data;
    const PdPoolBackend *proxy = pd_pool_backend_module_proxy(file);
    const PdPoolBackend *real = strcmp(file, "poold-nfs.so") == 0 ? &pd_pool_backend_netfs_nfs
                                                                  : &pd_pool_backend_iscsi_direct;
    g_assert_nonnull(proxy);
    g_assert_true(proxy != real);
    g_assert_true(pd_pool_backend_same_callbacks(proxy, real));
    /* what the tests get through the getters is the real table */
    g_assert_true(strcmp(file, "poold-nfs.so") == 0 ? pd_pool_backend_netfs_nfs_get() == real
                                                    : pd_pool_backend_iscsi_direct_get() == real);
}

/* A table with one callback more or less, or another type, is seen as different. */
static void test_drift_seen(void)
{
    PdPoolBackend copy = pd_pool_backend_netfs_nfs;
    g_assert_true(pd_pool_backend_same_callbacks(&copy, &pd_pool_backend_netfs_nfs));
    copy.vol_snapshot_delete = NULL;
    g_assert_false(pd_pool_backend_same_callbacks(&copy, &pd_pool_backend_netfs_nfs));
    copy = pd_pool_backend_netfs_nfs;
    copy.sync = pd_pool_backend_dir.sync;
    g_assert_false(pd_pool_backend_same_callbacks(&copy, &pd_pool_backend_netfs_nfs));
    copy = pd_pool_backend_netfs_nfs;
    copy.type = PD_POOL_DIR;
    g_assert_false(pd_pool_backend_same_callbacks(&copy, &pd_pool_backend_netfs_nfs));
    g_assert_null(pd_pool_backend_module_proxy("poold-other.so"));
}

/* The tables of the pools of local files are built from one description: the same callbacks
 * in the same places, the group commit's sync included (netfs in mount mode once had none). */
static void test_posix_tables(void)
{
    const PdPoolBackend *tables[] = {&pd_pool_backend_fs, &pd_pool_backend_netfs_mount};
    for (size_t i = 0; i < G_N_ELEMENTS(tables); i++) {
        PdPoolBackend t = *tables[i];
        t.type = PD_POOL_DIR;
        t.find_sources = NULL; /* netfs has one, dir none */
        t.stop = NULL;         /* the unmount */
        g_assert_true(pd_pool_backend_same_callbacks(&t, &pd_pool_backend_dir));
        g_assert_true(t.sync == pd_pool_backend_dir.sync);
        g_assert_nonnull(t.sync);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/pools/module/proxy-nfs", "poold-nfs.so", test_same);
    g_test_add_data_func("/pools/module/proxy-iscsi", "poold-iscsi.so", test_same);
    g_test_add_func("/pools/module/drift-seen", test_drift_seen);
    g_test_add_func("/pools/module/posix-tables", test_posix_tables);
    return g_test_run();
}
