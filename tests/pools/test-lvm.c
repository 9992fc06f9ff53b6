/* The lvm2 layer of the logical backend without LVM (the kernel here has no device-mapper; the
 * real thing runs in tests/vm/logical.sh): the exact argv of every command, the JSON report
 * parsers on reports captured from lvm2 2.03.16 (Debian 12) and on broken ones, and the
 * runner's errors (with sh standing in for lvm). */
#include "common/pd-error.h"
#include "pools/lvm.h"

#include <string.h>

/* argv as one line; frees @argv */
static char *line(char **argv)
{
    char *s = pd_lvm_argv_to_string((const char *const *)argv);
    g_strfreev(argv);
    return s;
}

#define ASSERT_ARGV(argv, expected)                                                                \
    do {                                                                                           \
        g_autofree char *got_ = line(argv);                                                        \
        g_assert_cmpstr(got_, ==, expected);                                                       \
    } while (0)

static void test_argv_pool(void)
{
    const char *const devs[] = {"/dev/loop0", "/dev/loop1", NULL};
    ASSERT_ARGV(pd_lvm_argv_pvcreate("/dev/loop0", false), "lvm pvcreate /dev/loop0");
    ASSERT_ARGV(pd_lvm_argv_pvcreate("/dev/loop0", true), "lvm pvcreate --yes /dev/loop0");
    ASSERT_ARGV(pd_lvm_argv_pvremove(devs), "lvm pvremove --yes /dev/loop0 /dev/loop1");
    ASSERT_ARGV(pd_lvm_argv_vgcreate("vg1", devs), "lvm vgcreate vg1 /dev/loop0 /dev/loop1");
    ASSERT_ARGV(pd_lvm_argv_vgremove("vg1"), "lvm vgremove --yes vg1");
    ASSERT_ARGV(pd_lvm_argv_vgchange("vg1", true), "lvm vgchange -ay vg1");
    ASSERT_ARGV(pd_lvm_argv_vgchange("vg1", false), "lvm vgchange -an vg1");
    ASSERT_ARGV(pd_lvm_argv_blkid_probe("/dev/loop2"), "blkid -p -o export /dev/loop2");
}

static void test_argv_reports(void)
{
    const char *const devs[] = {"/dev/loop0", NULL};
    ASSERT_ARGV(pd_lvm_argv_vgs("vg1"),
                "lvm vgs --reportformat json --units b --nosuffix -o "
                "vg_name,vg_uuid,vg_size,vg_free,vg_extent_size,pv_count,lv_count vg1");
    ASSERT_ARGV(pd_lvm_argv_vgs(NULL),
                "lvm vgs --reportformat json --units b --nosuffix -o "
                "vg_name,vg_uuid,vg_size,vg_free,vg_extent_size,pv_count,lv_count");
    ASSERT_ARGV(pd_lvm_argv_lvs("vg1", NULL),
                "lvm lvs --reportformat json --units b --nosuffix -o "
                "lv_name,lv_uuid,lv_path,lv_size,lv_attr,segtype,pool_lv,origin,data_percent,"
                "lv_tags,lv_time vg1");
    ASSERT_ARGV(pd_lvm_argv_lvs("vg1", "lv1"),
                "lvm lvs --reportformat json --units b --nosuffix -o "
                "lv_name,lv_uuid,lv_path,lv_size,lv_attr,segtype,pool_lv,origin,data_percent,"
                "lv_tags,lv_time vg1/lv1");
    ASSERT_ARGV(pd_lvm_argv_pvs(devs), "lvm pvs --reportformat json --units b --nosuffix -o "
                                       "pv_name,vg_name,pv_size,pv_free,pv_uuid /dev/loop0");
}

static void test_argv_volumes(void)
{
    ASSERT_ARGV(pd_lvm_argv_lvcreate_linear("vg1", "lv1", 8388608),
                "lvm lvcreate --yes --wipesignatures y --zero y -n lv1 -L 8388608b vg1");
    /* lvm2 refuses byte counts that are not multiples of 512: rounded up */
    ASSERT_ARGV(pd_lvm_argv_lvcreate_linear("vg1", "lv1", 10000000),
                "lvm lvcreate --yes --wipesignatures y --zero y -n lv1 -L 10000384b vg1");
    ASSERT_ARGV(pd_lvm_argv_lvcreate_thin("vg1", "tpool", "t1", 1),
                "lvm lvcreate --yes -n t1 -V 512b --thinpool vg1/tpool");
    ASSERT_ARGV(pd_lvm_argv_lvcreate_snapshot("vg1", "lv1", "lv1.s1", false),
                "lvm lvcreate --yes -s -l 100%ORIGIN --addtag poold_snapshot -n lv1.s1 vg1/lv1");
    ASSERT_ARGV(pd_lvm_argv_lvcreate_snapshot("vg1", "t1", "t1.s1", true),
                "lvm lvcreate --yes -s --setactivationskip n --addtag poold_snapshot -n t1.s1 "
                "vg1/t1");
    ASSERT_ARGV(pd_lvm_argv_lvremove("vg1", "lv1"), "lvm lvremove --yes vg1/lv1");
    ASSERT_ARGV(pd_lvm_argv_lvrename("vg1", ".a.partial-1-0", "a"),
                "lvm lvrename vg1 .a.partial-1-0 a");
    ASSERT_ARGV(pd_lvm_argv_lvresize("vg1", "lv1", 16777216, false),
                "lvm lvresize --yes -L 16777216b vg1/lv1");
    ASSERT_ARGV(pd_lvm_argv_lvresize("vg1", "lv1", 4194304, true),
                "lvm lvresize --yes --force -L 4194304b vg1/lv1");
    ASSERT_ARGV(pd_lvm_argv_lvchange_activate("vg1", "t1", false), "lvm lvchange -an vg1/t1");
    ASSERT_ARGV(pd_lvm_argv_lvconvert_merge("vg1", "t1.s1"), "lvm lvconvert --merge vg1/t1.s1");
}

/* Captured in the test VM: `lvm vgs ...` as built above. */
static const char vgs_sample[] =
    "  {\n"
    "      \"report\": [\n"
    "          {\n"
    "              \"vg\": [\n"
    "                  {\"vg_name\":\"vgt\", "
    "\"vg_uuid\":\"7nOgBA-BH6u-8iIf-0y43-IorQ-lqpN-Gwezqu\", "
    "\"vg_size\":\"528482304\", \"vg_free\":\"444596224\", \"vg_extent_size\":\"4194304\", "
    "\"pv_count\":\"2\", \"lv_count\":\"4\"}\n"
    "              ]\n"
    "          }\n"
    "      ]\n"
    "  }\n";

static const char lvs_sample[] =
    "{\"report\": [{\"lv\": [\n"
    "{\"lv_name\":\".hidden\", \"lv_uuid\":\"yv2iit-xOUZ-8T3K-9wK3-RTKN-u3jx-ZWRctg\", "
    "\"lv_path\":\"/dev/vgt/.hidden\", \"lv_size\":\"8388608\", \"lv_attr\":\"-wi-a-----\", "
    "\"segtype\":\"linear\", \"pool_lv\":\"\", \"origin\":\"\", \"data_percent\":\"\", "
    "\"lv_tags\":\"\", \"lv_time\":\"2026-11-30 01:41:08 +0000\"},\n"
    "{\"lv_name\":\"thin1\", \"lv_uuid\":\"Yzh6WA-rpDt-a80X-MGbB-lMa7-fbNC-fuyNdk\", "
    "\"lv_path\":\"/dev/vgt/thin1\", \"lv_size\":\"104857600\", \"lv_attr\":\"Vwi-a-tz--\", "
    "\"segtype\":\"thin\", \"pool_lv\":\"tpool\", \"origin\":\"\", \"data_percent\":\"3.00\", "
    "\"lv_tags\":\"poold_partial_12\", \"lv_time\":\"2026-11-30 01:41:29 +0000\"},\n"
    "{\"lv_name\":\"thin1.s1\", \"lv_uuid\":\"HPjWY0-z4A8-1ZNu-CGzO-mT2S-XE6K-lfpgWn\", "
    "\"lv_path\":\"/dev/vgt/thin1.s1\", \"lv_size\":\"104857600\", \"lv_attr\":\"Vwi-a-tz--\", "
    "\"segtype\":\"thin\", \"pool_lv\":\"tpool\", \"origin\":\"thin1\", \"data_percent\":\"3.00\", "
    "\"lv_tags\":\"a,poold_snapshot\", \"lv_time\":\"2026-11-30 01:41:46 +0000\"},\n"
    "{\"lv_name\":\"tpool\", \"lv_uuid\":\"2IJBdM-AJ3k-ftSJ-DzAK-ELEn-0uSY-Sh1VH9\", "
    "\"lv_path\":\"\", \"lv_size\":\"67108864\", \"lv_attr\":\"twi-aotz--\", "
    "\"segtype\":\"thin-pool\", \"pool_lv\":\"\", \"origin\":\"\", \"data_percent\":\"4.69\", "
    "\"lv_tags\":\"\", \"lv_time\":\"2026-11-30 01:41:21 +0000\"}\n"
    "]}]}";

static const char pvs_sample[] =
    "{\"report\": [{\"pv\": [\n"
    "{\"pv_name\":\"/dev/loop0\", \"vg_name\":\"vgt\", \"pv_size\":\"264241152\", "
    "\"pv_free\":\"184549376\", \"pv_uuid\":\"g75Q41-5gA7-xiRF-ur8n-cMTz-6hJD-BoWQF1\"},\n"
    "{\"pv_name\":\"/dev/loop2\", \"vg_name\":\"\", \"pv_size\":\"268435456\", "
    "\"pv_free\":\"268435456\", \"pv_uuid\":\"ayTiUx-Ejaw-qRkJ-fp2P-KdFO-focL-nNA0FG\"}\n"
    "]}]}";

static void test_parse_samples(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) vgs = pd_lvm_parse_vgs(vgs_sample, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(vgs->len, ==, 1);
    PdLvmVg *vg = vgs->pdata[0];
    g_assert_cmpstr(vg->name, ==, "vgt");
    g_assert_cmpstr(vg->uuid, ==, "7nOgBA-BH6u-8iIf-0y43-IorQ-lqpN-Gwezqu");
    g_assert_cmpuint(vg->size, ==, 528482304);
    g_assert_cmpuint(vg->free, ==, 444596224);
    g_assert_cmpuint(vg->extent_size, ==, 4194304);
    g_assert_cmpuint(vg->pv_count, ==, 2);
    g_assert_cmpuint(vg->lv_count, ==, 4);

    g_autoptr(GPtrArray) lvs = pd_lvm_parse_lvs(lvs_sample, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(lvs->len, ==, 4);
    PdLvmLv *hidden = lvs->pdata[0], *thin = lvs->pdata[1], *snap = lvs->pdata[2],
            *pool = lvs->pdata[3];
    g_assert_cmpstr(hidden->path, ==, "/dev/vgt/.hidden");
    g_assert_cmpfloat(hidden->data_percent, <, 0);
    g_assert_cmpstr(thin->segtype, ==, "thin");
    g_assert_cmpstr(thin->pool_lv, ==, "tpool");
    g_assert_cmpuint(thin->size, ==, 104857600);
    g_assert_cmpfloat_with_epsilon(thin->data_percent, 3.0, 1e-9);
    g_assert_false(pd_lvm_lv_has_tag(thin, "poold_snapshot"));
    g_assert_true(pd_lvm_lv_has_tag(snap, PD_LVM_SNAPSHOT_TAG));
    g_assert_true(pd_lvm_lv_has_tag(snap, "a"));
    g_assert_false(pd_lvm_lv_has_tag(snap, "poold"));
    g_assert_cmpstr(snap->origin, ==, "thin1");
    g_assert_cmpstr(snap->time, ==, "2026-11-30 01:41:46 +0000");
    g_assert_cmpstr(pool->attr, ==, "twi-aotz--");
    g_assert_cmpstr(pool->path, ==, "");

    g_autoptr(GPtrArray) pvs = pd_lvm_parse_pvs(pvs_sample, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(pvs->len, ==, 2);
    PdLvmPv *pv0 = pvs->pdata[0], *pv2 = pvs->pdata[1];
    g_assert_cmpstr(pv0->vg_name, ==, "vgt");
    g_assert_cmpuint(pv0->free, ==, 184549376);
    g_assert_cmpstr(pv2->name, ==, "/dev/loop2");
    g_assert_cmpstr(pv2->vg_name, ==, "");

    /* an LV of two segments comes twice (segtype is a segment field): listed once */
    g_autofree char *segments = g_strdup(lvs_sample);
    char *thin_row = strstr(segments, "{\"lv_name\":\"thin1\"");
    char *snap_row = strstr(segments, "{\"lv_name\":\"thin1.s1\"");
    g_autofree char *row = g_strndup(thin_row, snap_row - thin_row);
    g_autofree char *twice =
        g_strdup_printf("%.*s%s%s", (int)(snap_row - segments), segments, row, snap_row);
    g_autoptr(GPtrArray) merged = pd_lvm_parse_lvs(twice, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(merged->len, ==, 4);
    g_assert_cmpstr(((PdLvmLv *)merged->pdata[2])->name, ==, "thin1.s1");

    /* an empty report (lvs of a VG without LVs) */
    g_autoptr(GPtrArray) none = pd_lvm_parse_lvs("{\"report\":[{\"lv\":[]}]}", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(none->len, ==, 0);
}

static void expect_corrupt(GPtrArray *(*parse)(const char *, GError **), const char *json,
                           const char *message_part)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *rows = parse(json, &error);
    g_assert_null(rows);
    g_assert_error(error, PD_ERROR, PD_ERROR_CORRUPT);
    if (!strstr(error->message, message_part))
        g_error("'%s' does not contain '%s'", error->message, message_part);
}

static void test_parse_broken(void)
{
    expect_corrupt(pd_lvm_parse_vgs, "", "empty");
    expect_corrupt(pd_lvm_parse_vgs, "{\"report\": [", "not JSON");
    expect_corrupt(pd_lvm_parse_vgs, "[]", "no 'report' array");
    expect_corrupt(pd_lvm_parse_vgs, "{\"report\": {}}", "no 'report' array");
    expect_corrupt(pd_lvm_parse_vgs, "{\"report\": [{\"lv\": []}]}", "no 'vg' array");
    expect_corrupt(pd_lvm_parse_vgs, "{\"report\": [{\"vg\": [1]}]}", "not an object");
    expect_corrupt(pd_lvm_parse_vgs, "{\"report\": [{\"vg\": [{\"vg_name\":\"x\"}]}]}",
                   "no string field 'vg_uuid'");
    expect_corrupt(pd_lvm_parse_pvs,
                   "{\"report\":[{\"pv\":[{\"pv_name\":\"a\",\"vg_name\":\"\",\"pv_uuid\":\"u\","
                   "\"pv_size\":\"12x\",\"pv_free\":\"0\"}]}]}",
                   "'pv_size' of a pv row is not a byte count: '12x'");
    expect_corrupt(pd_lvm_parse_pvs,
                   "{\"report\":[{\"pv\":[{\"pv_name\":\"a\",\"vg_name\":\"\",\"pv_uuid\":\"u\","
                   "\"pv_size\":\"-1\",\"pv_free\":\"0\"}]}]}",
                   "not a byte count");
    expect_corrupt(pd_lvm_parse_pvs,
                   "{\"report\":[{\"pv\":[{\"pv_name\":\"a\",\"vg_name\":\"\",\"pv_uuid\":\"u\","
                   "\"pv_size\":\"99999999999999999999\",\"pv_free\":\"0\"}]}]}",
                   "not a byte count");
    expect_corrupt(pd_lvm_parse_pvs,
                   "{\"report\":[{\"pv\":[{\"pv_name\":7,\"vg_name\":\"\",\"pv_uuid\":\"u\","
                   "\"pv_size\":\"1\",\"pv_free\":\"0\"}]}]}",
                   "no string field 'pv_name'");
    g_autofree char *bad_percent = g_strdup(lvs_sample);
    char *p = strstr(bad_percent, "\"3.00\"");
    memcpy(p, "\"3%00\"", 6);
    expect_corrupt(pd_lvm_parse_lvs, bad_percent, "not a percentage: '3%00'");
}

static void test_error_codes(void)
{
    g_assert_cmpint(pd_lvm_error_code("  Volume group \"vgt\" has insufficient free space (124 "
                                      "extents): 512 required."),
                    ==, PD_ERROR_NO_SPACE);
    g_assert_cmpint(pd_lvm_error_code("  A volume group called vgt already exists."), ==,
                    PD_ERROR_EXISTS);
    g_assert_cmpint(pd_lvm_error_code("  Failed to find logical volume \"vgt/x\""), ==,
                    PD_ERROR_NOT_FOUND);
    g_assert_cmpint(pd_lvm_error_code("  Volume group \"nope\" not found"), ==, PD_ERROR_NOT_FOUND);
    g_assert_cmpint(pd_lvm_error_code("  Logical volume vgt/lv1 in use."), ==, PD_ERROR_BUSY);
    g_assert_cmpint(pd_lvm_error_code("  Can't initialize physical volume \"/dev/loop0\" of "
                                      "volume group \"vgt\" without -ff"),
                    ==, PD_ERROR_FAILED);
    g_assert_cmpint(pd_lvm_error_code(NULL), ==, PD_ERROR_FAILED);
}

/* The runner, with sh in lvm's place (same path through the code but for --config). */
static void test_run(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    int status = 0;
    const char *const ok[] = {"sh", "-c", "echo report; echo warning >&2", NULL};
    g_assert_true(pd_lvm_run(ok, 10000, &out, &status, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(out, ==, "report\n");
    g_assert_cmpint(status, ==, 0);

    const char *const fail[] = {
        "sh", "-c",
        "printf '  Volume group \"vgx\" not found\\n  Cannot process volume group "
        "vgx\\n' >&2; exit 5",
        NULL};
    g_assert_false(pd_lvm_run(fail, 10000, NULL, &status, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_NOT_FOUND);
    g_assert_cmpstr(error->message, ==,
                    "sh failed: Volume group \"vgx\" not found; Cannot process volume group vgx");
    g_assert_cmpint(status, ==, 5);
    g_clear_error(&error);

    const char *const stdin_closed[] = {"sh", "-c", "read x && exit 1; exit 0", NULL};
    g_assert_true(pd_lvm_run(stdin_closed, 10000, NULL, NULL, &error));
    g_assert_no_error(error);

    const char *const missing[] = {"/nonexistent/lvm", "vgs", NULL};
    g_assert_false(pd_lvm_run(missing, 10000, NULL, &status, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, "not installed"));
    g_assert_cmpint(status, ==, -1);
    g_clear_error(&error);

    const char *const slow[] = {"sleep", "10", NULL};
    g_assert_false(pd_lvm_run(slow, 200, NULL, &status, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_FAILED);
    g_assert_cmpstr(error->message, ==, "sleep did not finish within 0 s (killed)");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pools/lvm/argv-pool", test_argv_pool);
    g_test_add_func("/pools/lvm/argv-reports", test_argv_reports);
    g_test_add_func("/pools/lvm/argv-volumes", test_argv_volumes);
    g_test_add_func("/pools/lvm/parse-samples", test_parse_samples);
    g_test_add_func("/pools/lvm/parse-broken", test_parse_broken);
    g_test_add_func("/pools/lvm/error-codes", test_error_codes);
    g_test_add_func("/pools/lvm/run", test_run);
    return g_test_run();
}
