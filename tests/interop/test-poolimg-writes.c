/* Every image poolimg writes passes `qemu-img check` and holds what it should.
 *
 *   - `poolimg create` with each create option: qemu-img check finds nothing, and
 *     `qemu-img info` reports the options (compat, cluster size, refcount bits, lazy
 *     refcounts, extended L2, compression type, backing file and format);
 *   - `poolimg convert` raw -> qcow2 (plain, -c zlib, -c zstd, other cluster sizes, v2) and
 *     qcow2 -> raw: qemu-img check finds nothing and `qemu-img compare` finds the output
 *     identical to the source;
 *   - `poolimg snapshot -c/-d` and `poolimg resize`: qemu-img lists the snapshot, check
 *     finds no leak after the delete, qemu-img sees the new size.
 * Exits 77 when qemu-img is missing or poolimg cannot create an image yet. */
#include "interop-util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *poolimg;
static char *dir;
static int failed, ran;

static void report(bool ok, const char *name, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void report(bool ok, const char *name, const char *fmt, ...)
{
    ran++;
    if (ok) {
        printf("ok %d - %s\n", ran, name);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    printf("not ok %d - %s\n#   %s\n", ran, name, msg);
    failed++;
}

/* Runs a shell command in the work directory; its output (stdout+stderr) in *ret_out. */
static int sh(char **ret_out, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static int sh(char **ret_out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *full = g_strdup_printf("cd '%s' && { %s; } 2>&1", dir, cmd);
    g_autofree char *out = NULL;
    int rc = it_runv(&out, NULL, "sh", "-c", full, NULL);
    if (ret_out)
        *ret_out = g_strdup_printf("$ %s\n%s", cmd, out ? out : "");
    return rc;
}

static bool check_clean(const char *name, const char *image)
{
    g_autofree char *out = NULL;
    int rc = sh(&out, "qemu-img check -f qcow2 %s", image);
    if (rc != 0 || strstr(out, "leaked")) {
        report(false, name, "qemu-img check exit %d:\n%s", rc, out);
        return false;
    }
    return true;
}

static const struct {
    const char *opts;
    const char *expect[4]; /* substrings of `qemu-img info` */
} creates[] = {
    {"compat=0.10", {"compat: 0.10"}},
    {"compat=1.1", {"compat: 1.1"}},
    {"cluster_size=512", {"cluster_size: 512"}},
    {"cluster_size=2M", {"cluster_size: 2097152"}},
    {"refcount_bits=1", {"refcount bits: 1"}},
    {"refcount_bits=64", {"refcount bits: 64"}},
    {"lazy_refcounts=on", {"lazy refcounts: true"}},
    {"preallocation=metadata", {"compat: 1.1"}},
    {"preallocation=metadata,compat=0.10", {"compat: 0.10"}},
    {"preallocation=falloc", {"compat: 1.1"}},
    {"preallocation=full,cluster_size=4k", {"cluster_size: 4096"}},
    {"extended_l2=on", {"extended l2: true"}},
    {"compression_type=zstd", {"compression type: zstd"}},
    {"backing_file=base.raw,backing_fmt=raw", {"backing file: base.raw", "format: raw"}},
    {"backing_file=base.qcow2,backing_fmt=qcow2",
     {"backing file: base.qcow2", "backing file format: qcow2"}},
};

static void test_creates(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(creates); i++) {
        g_autofree char *name = g_strdup_printf("create -o %s", creates[i].opts);
        g_autofree char *out = NULL;
        (void)sh(NULL, "rm -f new.qcow2");
        int rc = sh(&out, "'%s' create -f qcow2 -o %s new.qcow2 8M", poolimg, creates[i].opts);
        if (rc != 0) {
            report(false, name, "poolimg create exit %d:\n%s", rc, out);
            continue;
        }
        if (!check_clean(name, "new.qcow2"))
            continue;
        g_free(out);
        out = NULL;
        rc = sh(&out, "qemu-img info -f qcow2 new.qcow2");
        bool ok = rc == 0 && strstr(out, "virtual size: 8 MiB");
        for (int k = 0; ok && creates[i].expect[k]; k++)
            ok = strstr(out, creates[i].expect[k]) != NULL;
        report(ok, name, "qemu-img info does not show the options:\n%s", out);
    }
}

static const char *const converts[] = {
    "-O qcow2",
    "-O qcow2 -c",
    "-O qcow2 -c -o compression_type=zstd",
    "-O qcow2 -o cluster_size=512",
    "-O qcow2 -o cluster_size=2M",
    "-O qcow2 -o compat=0.10",
    "-O qcow2 -c -o cluster_size=4k,compat=0.10",
    "-O qcow2 -o preallocation=metadata",
};

static void test_converts(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(converts); i++) {
        g_autofree char *name = g_strdup_printf("convert -f raw %s", converts[i]);
        g_autofree char *out = NULL;
        (void)sh(NULL, "rm -f conv.qcow2");
        int rc = sh(&out, "'%s' convert -f raw %s src.raw conv.qcow2", poolimg, converts[i]);
        if (rc != 0) {
            report(false, name, "poolimg convert exit %d:\n%s", rc, out);
            continue;
        }
        if (!check_clean(name, "conv.qcow2"))
            continue;
        g_free(out);
        out = NULL;
        rc = sh(&out, "qemu-img compare -f raw -F qcow2 src.raw conv.qcow2");
        report(rc == 0, name, "qemu-img compare exit %d:\n%s", rc, out);
    }
    /* and back to raw, from a qcow2 image qemu made */
    g_autofree char *out = NULL;
    int rc = sh(&out,
                "qemu-img convert -c -f raw -O qcow2 src.raw q.qcow2 && rm -f back.raw && "
                "'%s' convert -f qcow2 -O raw q.qcow2 back.raw && cmp src.raw back.raw",
                poolimg);
    report(rc == 0, "convert -f qcow2 -O raw", "exit %d:\n%s", rc, out);
}

static void test_snapshot_resize(void)
{
    g_autofree char *out = NULL;
    int rc =
        sh(&out,
           "rm -f s.qcow2 && qemu-img convert -f raw -O qcow2 src.raw s.qcow2 && "
           "'%s' snapshot -c backup1 s.qcow2 && qemu-img snapshot -l s.qcow2 | grep -q backup1 "
           "&& qemu-io -f qcow2 -c 'write -P 0x5a 0 1M' s.qcow2 >/dev/null && "
           "'%s' snapshot -a backup1 s.qcow2 && qemu-img compare -f raw -F qcow2 src.raw "
           "s.qcow2 && '%s' snapshot -d backup1 s.qcow2",
           poolimg, poolimg, poolimg);
    if (rc != 0)
        report(false, "snapshot -c/-a/-d", "exit %d:\n%s", rc, out);
    else if (check_clean("snapshot -c/-a/-d", "s.qcow2"))
        report(true, "snapshot -c/-a/-d", "%s", "");
    g_free(out);
    out = NULL;
    rc = sh(&out,
            "'%s' resize s.qcow2 +5M && qemu-img info s.qcow2 | grep -q 'virtual size: 13 MiB'",
            poolimg);
    if (rc != 0)
        report(false, "resize +5M", "exit %d:\n%s", rc, out);
    else if (check_clean("resize +5M", "s.qcow2"))
        report(true, "resize +5M", "%s", "");
}

int main(void)
{
    it_require_tool("qemu-img", "qemu-img judges what poolimg writes (apt-get install qemu-utils)");
    poolimg = g_getenv("POOLIMG");
    dir = it_mkdtemp_fast("poold-poolimg-writes");
    if (!poolimg || sh(NULL, "'%s' create -f qcow2 probe.qcow2 1M", poolimg) != 0) {
        printf("SKIP: poolimg (%s) cannot create an image yet\n", poolimg ? poolimg : "unset");
        it_rmtree(dir);
        return TEST_EXIT_SKIP;
    }
    /* source: text, random and zero stretches; backing files for the create cases */
    const size_t size = 8 << 20;
    g_autofree uint8_t *buf = g_malloc0(size);
    ItRand r;
    it_rand_seed(&r, 99);
    for (size_t off = 0; off < size; off += 65536) {
        if ((off / 65536) % 3 == 0)
            it_rand_fill(&r, buf + off, 65536);
        else if ((off / 65536) % 3 == 1)
            for (size_t i = 0; i < 65536; i++)
                buf[off + i] = "poolimg writes, qemu-img judges. "[i % 33];
    }
    g_autofree char *src = g_build_filename(dir, "src.raw", NULL);
    it_write_file(src, buf, size);
    g_assert_cmpint(sh(NULL, "head -c 3000000 src.raw > base.raw && qemu-img convert -f raw "
                             "-O qcow2 base.raw base.qcow2"),
                    ==, 0);
    test_creates();
    test_converts();
    g_autofree char *qemu_io = g_find_program_in_path("qemu-io");
    if (qemu_io)
        test_snapshot_resize();
    printf("1..%d\n# %d of %d failed\n", ran, failed, ran);
    if (failed)
        printf("# kept %s\n", dir);
    else
        it_rmtree(dir);
    return failed ? 1 : 0;
}
