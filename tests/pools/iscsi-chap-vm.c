/* CHAP logins of the iscsi backend, run by tests/vm/iscsi-kernel.sh inside the VM (a real
 * tgtd, iscsid and the kernel's initiator) on the backend directly, with PdPool.auth_secret
 * set as the daemon sets it: the right secret logs in and shows the LUN, a wrong secret and a
 * wrong user fail with the CHAP message naming the pool and leave no session and no record.
 *
 * usage: iscsi-chap-vm HOST TARGET-IQN USER SECRET
 * TAP-style lines; exit status = number of failures. */
#include "common/pd-error.h"
#include "pools/backend.h"
#include "pools/pool-iscsi.h"

#include <stdio.h>
#include <string.h>

static int failures, n;

static void report(bool good, const char *what, const GError *error)
{
    n++;
    printf("%s %d - %s\n", good ? "ok" : "not ok", n, what);
    if (error)
        printf("#   %s\n", error->message);
    failures += !good;
}

static PdPool *chap_pool(const char *host, const char *iqn, const char *user, const char *secret)
{
    PdPoolDef *def = pd_pool_def_new(PD_POOL_ISCSI);
    def->name = g_strdup("chap");
    def->source.host_name = g_strdup(host);
    g_ptr_array_add(def->source.devices, g_strdup(iqn));
    def->source.auth = g_new0(PdPoolAuth, 1);
    def->source.auth->type = g_strdup("chap");
    def->source.auth->username = g_strdup(user);
    def->source.auth->secret_usage = g_strdup("chap-test");
    def->target_path = g_strdup("/dev/disk/by-path");
    PdPool *pool = pd_pool_new(def);
    pool->auth_secret = g_strdup(secret);
    return pool;
}

/* True when the kernel has a session to @iqn. */
static bool logged_in(const char *iqn)
{
    g_autoptr(GDir) dir = g_dir_open("/sys/class/iscsi_session", 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path =
            g_build_filename("/sys/class/iscsi_session", name, "targetname", NULL);
        g_autofree char *target = NULL;
        if (g_file_get_contents(path, &target, NULL, NULL) && strcmp(g_strstrip(target), iqn) == 0)
            return true;
    }
    return false;
}

/* A start that must fail with the CHAP message and leave nothing logged in. */
static void expect_refused(const char *host, const char *iqn, const char *user, const char *secret,
                           const char *what)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdPool) pool = chap_pool(host, iqn, user, secret);
    bool started = pd_pool_backend_start(&pd_pool_backend_iscsi, pool, &error);
    bool good = !started && error &&
                g_str_has_prefix(error->message, "pool 'chap': cannot log in to target ") &&
                strstr(error->message, "CHAP authentication failed") != NULL;
    g_autofree char *label = g_strdup_printf("%s: start fails with the CHAP message", what);
    report(good, label, error);
    g_autofree char *clean = g_strdup_printf("%s: nothing logged in", what);
    report(!logged_in(iqn), clean, NULL);
    if (started)
        (void)pd_pool_backend_stop(&pd_pool_backend_iscsi, pool, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST TARGET-IQN USER SECRET\n", argv[0]);
        return 2;
    }
    const char *host = argv[1], *iqn = argv[2], *user = argv[3], *secret = argv[4];
    g_autoptr(GError) error = NULL;
    g_autoptr(PdPool) pool = chap_pool(host, iqn, user, secret);
    bool started = pd_pool_backend_start(&pd_pool_backend_iscsi, pool, &error);
    report(started, "the right CHAP secret logs in", error);
    report(logged_in(iqn), "the kernel has the session", NULL);
    PdPoolRefresh refresh = {0};
    g_clear_error(&error);
    bool refreshed =
        started && pd_pool_backend_refresh(&pd_pool_backend_iscsi, pool, NULL, &refresh, &error);
    report(refreshed && refresh.n_volumes == 1, "the LUN behind CHAP is a volume", error);
    pd_pool_refresh_clear(&refresh);
    g_clear_error(&error);
    report(started && pd_pool_backend_stop(&pd_pool_backend_iscsi, pool, &error), "stop logs out",
           error);
    report(!logged_in(iqn), "no session after stop", NULL);

    expect_refused(host, iqn, user, "not-the-secret", "wrong secret");
    expect_refused(host, iqn, "nobody", secret, "wrong user");
    printf("1..%d\n", n);
    return failures;
}
