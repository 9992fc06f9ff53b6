/* The dir backend, directly. */
#include "pools/backend.h"

static void test_lookup(void)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_pool_backend_for_type(PD_POOL_DIR, &error) == &pd_pool_backend_dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pools/lookup", test_lookup);
    return g_test_run();
}
