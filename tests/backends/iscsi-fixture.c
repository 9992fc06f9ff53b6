/* The tgtd fixture of the iSCSI tests in C (see iscsi-fixture.h). */
#include "tests/backends/iscsi-fixture.h"

#include "tests/interop/interop-util.h"

#include <stdio.h>
#include <stdlib.h>

static TgtFixture *active;

static const char *script(void)
{
    const char *s = g_getenv("TGT_FIXTURE");
    return s ? s : "tests/backends/tgt-fixture.sh";
}

static void stop_at_exit(void)
{
    if (active) {
        (void)it_runv(NULL, NULL, "bash", script(), "stop", active->dir, NULL);
        it_rmtree(active->dir);
    }
}

static void start_in(TgtFixture *fx)
{
    g_autofree char *out = NULL, *err = NULL;
    int rc = it_runv(&out, &err, "bash", script(), "start", fx->dir, NULL);
    if (rc == TEST_EXIT_SKIP) {
        printf("%s%s", out ? out : "", err ? err : "");
        exit(TEST_EXIT_SKIP);
    }
    if (rc != 0)
        g_error("tgt fixture failed to start (%d): %s %s", rc, out, err);
    fx->port = (unsigned)g_ascii_strtoull(out, NULL, 10);
    g_assert_cmpuint(fx->port, >, 0);
}

TgtFixture *tgt_fixture_start(void)
{
    TgtFixture *fx = g_new0(TgtFixture, 1);
    fx->dir = it_mkdtemp_fast("pd-tgt");
    active = fx;
    atexit(stop_at_exit);
    start_in(fx);
    return fx;
}

void tgt_fixture_do(TgtFixture *fx, const char *what)
{
    it_run_ok("bash", script(), what, fx->dir, NULL);
}

void tgt_fixture_restart(TgtFixture *fx)
{
    tgt_fixture_do(fx, "stop");
    start_in(fx);
}

PdIscsiTarget tgt_target(TgtFixture *fx, const char *iqn)
{
    return (PdIscsiTarget){
        .host = "127.0.0.1",
        .port = fx->port,
        .target_iqn = iqn,
        .initiator_iqn = TGT_INITIATOR,
        .timeout = 3,
    };
}

char *tgt_lun_file(TgtFixture *fx, const char *name)
{
    return g_build_filename(fx->dir, name, NULL);
}
