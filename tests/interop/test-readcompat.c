/* Read compatibility: every image qemu-img (and qemu-io) writes reads back identically
 * through the engine.
 *
 * For each case the image is built in a temporary directory by qemu's own tools: every
 * create option (compat 0.10/1.1, cluster sizes, refcount_bits, preallocation modes,
 * lazy_refcounts left dirty by a killed qemu-io, extended_l2 with subcluster writes,
 * compressed by `convert -c` with zlib and zstd, internal snapshots, backing chains with
 * relative paths and backing formats, a raw backing file shorter than its overlay). Then:
 *   - the engine reads the whole image (pd_image_read) and it must equal
 *     `qemu-img convert -O raw` byte for byte;
 *   - pd_image_block_status must agree with `qemu-img map --output=json`: never ZERO where
 *     qemu says not zero; ZERO where qemu says zero and no data; DATA exactly where qemu says
 *     data -- and every range called ZERO reads as zeroes;
 *   - each internal snapshot, applied by the engine on a copy, must equal
 *     `qemu-img convert -l snapshot.name=N`, and the engine must list the same snapshots;
 *   - a dirty lazy-refcounts image opened read-write by the engine is repaired: qemu-img
 *     check then finds nothing, and the data is unchanged;
 *   - reading the header alone (pd_image_read_info, as a pool refresh does) gives the same
 *     info as the full open;
 *   - once poolimg works, `poolimg convert -O raw` must give the same bytes;
 *   - some images are then written by the engine (over compressed clusters, clusters shared
 *     with a snapshot, next to persistent bitmaps): qemu-img check stays clean, qemu-img
 *     reads what the engine wrote, and the bitmaps are still there.
 *
 * Usage: test-readcompat [CASE...]  (POOLD_TEST_KEEP=1 keeps the directory) */
#include "formats/image/image.h"
#include "interop-util.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* The writes every case gets through qemu-io: patterns at unaligned offsets and lengths,
 * zero writes with and without unmap, a discard, data at the very end. Size: 8 MiB. */
#define QEMU_IO_WRITES                                                                             \
    "-c 'write -P 0xa1 0 4k' -c 'write -P 0xb2 3000 70001' -c 'write -P 0xc3 1000001 12345' "      \
    "-c 'write -P 0xd4 2M 600k' -c 'write -z 2200k 300k' -c 'write -z -u 64k 64k' "                \
    "-c 'discard 2500k 100k' -c 'write -P 0xe5 4M 1M' -c 'write -P 0xf6 8388000 608'"

typedef struct {
    const char *name;
    const char *image;       /* relative to the case directory */
    const char *const *cmds; /* shell commands run in the case directory, in order */
    const char *snapshots;   /* space-separated names to check, or NULL */
    bool dirty;              /* lazy refcounts left dirty: the dirty bit must be set */
    const char *needs;       /* an extra tool the case needs (qemu-io) */
    bool engine_writes;      /* then written by the engine: still valid for qemu-img */
} Case;

#define CMDS(...)    ((const char *const[]){__VA_ARGS__, NULL})
#define CREATE(opts) "qemu-img create -q -f qcow2 -o " opts " img.qcow2 8M"
#define WRITES       "qemu-io -f qcow2 " QEMU_IO_WRITES " img.qcow2 >/dev/null"

static const Case cases[] = {
    {"v2-64k", "img.qcow2", CMDS(CREATE("compat=0.10"), WRITES), NULL, false, "qemu-io"},
    {"v3-64k", "img.qcow2", CMDS(CREATE("compat=1.1"), WRITES), NULL, false, "qemu-io"},
    {"v3-512", "img.qcow2", CMDS(CREATE("cluster_size=512"), WRITES), NULL, false, "qemu-io"},
    {"v2-4k", "img.qcow2", CMDS(CREATE("compat=0.10,cluster_size=4k"), WRITES), NULL, false,
     "qemu-io"},
    {"v3-2m", "img.qcow2", CMDS(CREATE("cluster_size=2M"), WRITES), NULL, false, "qemu-io"},
    {"refcount-1", "img.qcow2", CMDS(CREATE("refcount_bits=1,cluster_size=4k"), WRITES), NULL,
     false, "qemu-io"},
    {"refcount-2", "img.qcow2", CMDS(CREATE("refcount_bits=2"), WRITES), NULL, false, "qemu-io"},
    {"refcount-8", "img.qcow2", CMDS(CREATE("refcount_bits=8"), WRITES), NULL, false, "qemu-io"},
    {"refcount-32", "img.qcow2", CMDS(CREATE("refcount_bits=32"), WRITES), NULL, false, "qemu-io"},
    {"refcount-64", "img.qcow2", CMDS(CREATE("refcount_bits=64,cluster_size=512"), WRITES), NULL,
     false, "qemu-io"},
    {"prealloc-metadata", "img.qcow2", CMDS(CREATE("preallocation=metadata"), WRITES), NULL, false,
     "qemu-io"},
    {"prealloc-metadata-v2", "img.qcow2",
     CMDS(CREATE("preallocation=metadata,compat=0.10"), WRITES), NULL, false, "qemu-io"},
    {"prealloc-falloc", "img.qcow2", CMDS(CREATE("preallocation=falloc"), WRITES), NULL, false,
     "qemu-io"},
    {"prealloc-full", "img.qcow2", CMDS(CREATE("preallocation=full,cluster_size=4k"), WRITES), NULL,
     false, "qemu-io"},
    {"lazy-clean", "img.qcow2", CMDS(CREATE("lazy_refcounts=on"), WRITES), NULL, false, "qemu-io"},
    {"lazy-dirty", "img.qcow2",
     CMDS(CREATE("lazy_refcounts=on,cluster_size=4k"),
          "qemu-io -f qcow2 " QEMU_IO_WRITES " -c 'sigraise 9' img.qcow2 >/dev/null 2>&1; true"),
     NULL, true, "qemu-io"},
    {"extended-l2", "img.qcow2",
     CMDS(CREATE("extended_l2=on"), WRITES,
          "qemu-io -f qcow2 -c 'write -P 0x17 6M 2k' -c 'write -z 6M 1k' "
          "-c 'write -P 0x18 6300k 4k' -c 'discard 6300k 2k' img.qcow2 >/dev/null"),
     NULL, false, "qemu-io"},
    {"extended-l2-128k", "img.qcow2", CMDS(CREATE("extended_l2=on,cluster_size=128k"), WRITES),
     NULL, false, "qemu-io"},
    {"compressed-zlib", "img.qcow2",
     CMDS("qemu-img convert -q -c -f raw -O qcow2 ../src.raw img.qcow2"), NULL, false, NULL},
    {"compressed-zlib-4k", "img.qcow2",
     CMDS("qemu-img convert -q -c -f raw -O qcow2 -o cluster_size=4k ../src.raw img.qcow2"), NULL,
     false, NULL},
    {"compressed-zstd", "img.qcow2",
     CMDS("qemu-img convert -q -c -f raw -O qcow2 -o compression_type=zstd ../src.raw "
          "img.qcow2"),
     NULL, false, NULL},
    {"compressed-then-written", "img.qcow2",
     CMDS("qemu-img convert -q -c -f raw -O qcow2 ../src.raw img.qcow2", WRITES), NULL, false,
     "qemu-io"},
    {"snapshots", "img.qcow2",
     CMDS(CREATE("cluster_size=4k"),
          "qemu-io -f qcow2 -c 'write -P 0x41 0 1M' -c 'write -P 0x42 3M 100k' img.qcow2 "
          ">/dev/null",
          "qemu-img snapshot -c first img.qcow2", WRITES, "qemu-img snapshot -c second img.qcow2",
          "qemu-io -f qcow2 -c 'write -P 0x43 512k 1M' -c 'write -z 0 64k' img.qcow2 >/dev/null",
          "qemu-img snapshot -c third img.qcow2", "qemu-img snapshot -d second img.qcow2",
          "qemu-img resize -q img.qcow2 12M",
          "qemu-io -f qcow2 -c 'write -P 0x44 11M 1M' img.qcow2 >/dev/null"),
     "first third", false, "qemu-io"},
    {"snapshots-v2", "img.qcow2",
     CMDS(CREATE("compat=0.10"), WRITES, "qemu-img snapshot -c s1 img.qcow2",
          "qemu-io -f qcow2 -c 'write -P 0x55 0 3M' img.qcow2 >/dev/null"),
     "s1", false, "qemu-io"},
    {"backing-raw-shorter", "top/img.qcow2",
     CMDS("mkdir -p base top", "cp ../src.raw base/base.raw", "truncate -s 3000000 base/base.raw",
          "cd top && qemu-img create -q -f qcow2 -b ../base/base.raw -F raw img.qcow2 8M",
          "cd top && qemu-io -f qcow2 -c 'write -P 0x61 1M 5k' -c 'write -z 2M 64k' "
          "-c 'write -P 0x62 2999000 4000' -c 'discard 0 128k' img.qcow2 >/dev/null"),
     NULL, false, "qemu-io"},
    {"backing-chain", "a/top.qcow2",
     CMDS("mkdir -p a b c", "cp ../src.raw c/base.raw",
          "cd b && qemu-img create -q -f qcow2 -o cluster_size=4k -b ../c/base.raw -F raw "
          "mid.qcow2 8M",
          "cd b && qemu-io -f qcow2 " QEMU_IO_WRITES " mid.qcow2 >/dev/null",
          "cd a && qemu-img create -q -f qcow2 -o compat=0.10 -b ../b/mid.qcow2 -F qcow2 "
          "top.qcow2 10M",
          "cd a && qemu-io -f qcow2 -c 'write -P 0x71 100k 10k' -c 'write -z 4M 512k' "
          "-c 'write -P 0x72 9M 1M' top.qcow2 >/dev/null"),
     NULL, false, "qemu-io"},
    {"bitmaps-kept", "img.qcow2",
     CMDS(CREATE("cluster_size=4k"), WRITES, "qemu-img bitmap --add img.qcow2 b0",
          "qemu-img bitmap --add -g 512k img.qcow2 b1"),
     NULL, false, "qemu-io", true},
    {"compressed-engine-writes", "img.qcow2",
     CMDS("qemu-img convert -q -c -f raw -O qcow2 -o cluster_size=4k ../src.raw img.qcow2"), NULL,
     false, NULL, true},
    {"snapshots-engine-writes", "img.qcow2",
     CMDS(CREATE("compat=0.10,cluster_size=4k"), WRITES, "qemu-img snapshot -c s1 img.qcow2"), NULL,
     false, "qemu-io", true},
    {"backing-qcow2-v3-zero-over", "top.qcow2",
     CMDS("qemu-img convert -q -f raw -O qcow2 ../src.raw base.qcow2",
          "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2",
          "qemu-io -f qcow2 -c 'write -z 0 1M' -c 'write -z -u 2M 1M' -c 'discard 4M 1M' "
          "-c 'write -P 0x81 5M 3000' top.qcow2 >/dev/null"),
     NULL, false, "qemu-io"},
};

/* ---- helpers ------------------------------------------------------------------------- */

static int run_sh(const char *dir, const char *cmd, char **ret_err)
{
    const char *argv[] = {"sh", "-c", cmd, NULL};
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    int status = 0;
    if (!g_spawn_sync(dir, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, ret_err,
                      &status, &error))
        g_error("cannot run sh: %s", error->message);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool fail(const Case *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static bool fail(const Case *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    printf("#   %s: %s\n", c->name, msg);
    return false;
}

/* Reads the whole image through the engine. NULL (reported) on failure. */
static uint8_t *engine_read_all(const Case *c, PdImage *img)
{
    uint64_t size = pd_image_size(img);
    g_autofree uint8_t *buf = g_malloc(MAX(size, 1));
    for (uint64_t off = 0; off < size; off += 1 << 20) {
        g_autoptr(GError) error = NULL;
        uint64_t n = MIN((uint64_t)1 << 20, size - off);
        if (!pd_image_read(img, off, buf + off, n, &error))
            return (fail(c, "pd_image_read at %" G_GUINT64_FORMAT ": %s", off, error->message),
                    NULL);
    }
    return g_steal_pointer(&buf);
}

static bool compare_bytes(const Case *c, const char *what, const uint8_t *got, size_t got_len,
                          const uint8_t *want, size_t want_len)
{
    if (got_len != want_len)
        return fail(c, "%s: %zu bytes, qemu-img says %zu", what, got_len, want_len);
    int64_t d = it_first_difference(got, want, got_len);
    if (d >= 0)
        return fail(c, "%s: byte %" G_GINT64_FORMAT " is 0x%02x, qemu-img reads 0x%02x", what, d,
                    got[d], want[d]);
    return true;
}

/* qemu-img convert -O raw [-l snapshot.name=SNAP] IMAGE OUT; returns the bytes. */
static uint8_t *qemu_read_all(const Case *c, const char *dir, const char *snap, size_t *ret_len)
{
    g_autofree char *cmd =
        g_strdup_printf("qemu-img convert -f qcow2 -O raw %s%s %s qemu.raw",
                        snap ? "-l snapshot.name=" : "", snap ? snap : "", c->image);
    g_autofree char *err = NULL;
    if (run_sh(dir, cmd, &err) != 0)
        return (fail(c, "%s failed: %s", cmd, err), NULL);
    g_autofree char *path = g_build_filename(dir, "qemu.raw", NULL);
    return it_read_file(path, ret_len);
}

/* ---- block status against qemu-img map ------------------------------------------------ */

static bool check_map(const Case *c, const char *dir, PdImage *img, const uint8_t *data)
{
    g_autofree char *cmd = g_strdup_printf("qemu-img map -f qcow2 --output=json %s", c->image);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status = 0;
    g_assert_true(g_spawn_sync(dir, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                               &err, &status, NULL));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail(c, "qemu-img map failed: %s", err);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = NULL;
    if (!json_parser_load_from_data(parser, out, -1, &error))
        return fail(c, "qemu-img map output is not JSON: %s", error->message);
    JsonArray *arr = json_node_get_array(json_parser_get_root(parser));
    uint64_t covered = 0;
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonObject *o = json_array_get_object_element(arr, i);
        uint64_t start = (uint64_t)json_object_get_int_member(o, "start");
        uint64_t len = (uint64_t)json_object_get_int_member(o, "length");
        bool q_zero = json_object_get_boolean_member(o, "zero");
        bool q_data = json_object_get_boolean_member(o, "data");
        if (start != covered)
            return fail(c, "qemu-img map skips from %" G_GUINT64_FORMAT, covered);
        covered = start + len;
        for (uint64_t off = start; off < start + len;) {
            PdBlockStatus st;
            if (!pd_image_block_status(img, off, start + len - off, &st, &error))
                return fail(c, "pd_image_block_status at %" G_GUINT64_FORMAT ": %s", off,
                            error->message);
            bool zero = st.flags & PD_BLOCK_ZERO, isdata = st.flags & PD_BLOCK_DATA;
            if (zero && !q_zero)
                return fail(c,
                            "block status calls %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
                            " zero, qemu-img map says not zero",
                            off, st.length);
            if (q_zero && !q_data && !zero)
                return fail(c,
                            "block status does not call %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
                            " zero, qemu-img map says zero, no data",
                            off, st.length);
            if (isdata != q_data)
                return fail(c,
                            "block status at %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
                            " says data=%d, qemu-img map says data=%d",
                            off, st.length, isdata, q_data);
            for (uint64_t k = off; zero && k < off + st.length; k++)
                if (data[k])
                    return fail(c,
                                "block status calls %" G_GUINT64_FORMAT " zero, it reads "
                                "0x%02x",
                                k, data[k]);
            off += st.length;
        }
    }
    if (covered != pd_image_size(img))
        return fail(c, "qemu-img map covers %" G_GUINT64_FORMAT " bytes of %" G_GUINT64_FORMAT,
                    covered, pd_image_size(img));
    return true;
}

/* ---- snapshots and repair -------------------------------------------------------------- */

static bool check_snapshots(const Case *c, const char *dir)
{
    g_autofree char *path = g_build_filename(dir, c->image, NULL);
    g_auto(GStrv) names = g_strsplit(c->snapshots, " ", -1);
    {
        g_autoptr(GError) error = NULL;
        g_autoptr(PdImage) img = pd_image_open(path, PD_FORMAT_QCOW2, PD_OPEN_RDONLY, &error);
        if (!img)
            return fail(c, "open: %s", error->message);
        GArray *list = pd_image_snapshot_list(img, &error);
        if (!list)
            return fail(c, "snapshot list: %s", error->message);
        guint n = list->len;
        bool all = true;
        for (char **nm = names; *nm; nm++) {
            bool found = false;
            for (guint i = 0; i < list->len; i++)
                found = found || !strcmp(g_array_index(list, PdSnapshotInfo, i).name, *nm);
            all = all && found;
        }
        for (guint i = 0; i < list->len; i++)
            pd_snapshot_info_clear(&g_array_index(list, PdSnapshotInfo, i));
        g_array_unref(list);
        if (n != g_strv_length(names) || !all)
            return fail(c, "the engine lists %u snapshots, not exactly: %s", n, c->snapshots);
    }
    for (char **nm = names; *nm; nm++) {
        /* The oracle: qemu-img snapshot -a on one copy (convert -l would keep the current
         * virtual size), the engine's apply on another. */
        g_autofree char *cmd = g_strdup_printf("cp %s qemucopy.qcow2 && cp %s snapcopy.qcow2 && "
                                               "qemu-img snapshot -a %s qemucopy.qcow2 && "
                                               "qemu-img convert -f qcow2 -O raw qemucopy.qcow2 "
                                               "qemu.raw",
                                               c->image, c->image, *nm);
        g_autofree char *err = NULL;
        if (run_sh(dir, cmd, &err) != 0)
            return fail(c, "%s: %s", cmd, err);
        g_autofree char *raw = g_build_filename(dir, "qemu.raw", NULL);
        size_t want_len;
        g_autofree uint8_t *want = it_read_file(raw, &want_len);
        g_autofree char *copy = g_build_filename(dir, "snapcopy.qcow2", NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(PdImage) img = pd_image_open(copy, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
        if (!img)
            return fail(c, "open copy: %s", error->message);
        if (!pd_image_snapshot_apply(img, *nm, &error))
            return fail(c, "snapshot apply %s: %s", *nm, error->message);
        g_autofree uint8_t *got = engine_read_all(c, img);
        g_autofree char *what = g_strdup_printf("snapshot %s applied", *nm);
        if (!got || !compare_bytes(c, what, got, pd_image_size(img), want, want_len))
            return false;
        if (!pd_image_flush(img, &error))
            return fail(c, "flush after apply: %s", error->message);
        pd_image_close(g_steal_pointer(&img));
        g_autofree char *out = NULL;
        int rc = it_qemu_img_check(copy, &out);
        if (rc != 0)
            return fail(c, "after the engine applied %s, qemu-img check exits %d:\n%s", *nm, rc,
                        out);
    }
    return true;
}

static bool header_dirty(const char *path)
{
    size_t len;
    g_autofree uint8_t *h = it_read_file(path, &len);
    return len >= 80 && (h[79] & 1);
}

/* A dirty lazy-refcounts image: read-write open repairs it. */
static bool check_repair(const Case *c, const char *dir, const uint8_t *want, size_t want_len)
{
    g_autofree char *path = g_build_filename(dir, c->image, NULL);
    if (!header_dirty(path))
        return fail(c, "the dirty bit is not set: the case does not test what it claims");
    g_autofree char *out = NULL;
    if (it_qemu_img_check(path, &out) == 0)
        return fail(c, "qemu-img check finds a dirty image clean: the case tests nothing");
    {
        g_autoptr(GError) error = NULL;
        g_autoptr(PdImage) img = pd_image_open(path, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
        if (!img)
            return fail(c, "read-write open (repair) failed: %s", error->message);
        g_autofree uint8_t *got = engine_read_all(c, img);
        if (!got || !compare_bytes(c, "after repair", got, pd_image_size(img), want, want_len))
            return false;
        if (!pd_image_flush(img, &error))
            return fail(c, "flush after repair: %s", error->message);
    }
    g_free(out);
    out = NULL;
    int rc = it_qemu_img_check(path, &out);
    if (rc != 0)
        return fail(c, "after the engine's repair qemu-img check exits %d:\n%s", rc, out);
    if (header_dirty(path))
        return fail(c, "the dirty bit is still set after repair");
    return true;
}

/* The engine writes into an image qemu made (over compressed clusters, shared clusters,
 * next to bitmaps): qemu-img check must stay clean, the bitmaps must still be there, and
 * qemu-img must read what the engine wrote. */
static bool check_engine_writes(const Case *c, const char *dir, const uint8_t *before, size_t len)
{
    g_autofree char *path = g_build_filename(dir, c->image, NULL);
    g_autofree char *info_before = NULL;
    g_autofree char *cmd = g_strdup_printf("qemu-img info --output=json %s", c->image);
    g_assert_cmpint(run_sh(dir, cmd, NULL), ==, 0);
    int bitmaps_before = 0;
    {
        const char *argv[] = {"sh", "-c", cmd, NULL};
        g_assert_true(g_spawn_sync(dir, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                                   &info_before, NULL, NULL, NULL));
        for (const char *p = info_before; (p = strstr(p, "\"granularity\"")); p++)
            bitmaps_before++;
    }
    if (g_str_has_prefix(c->name, "bitmaps") && bitmaps_before == 0)
        return fail(c, "qemu-img info shows no bitmap: the case does not test what it claims");
    g_autofree uint8_t *want = g_memdup2(before, len);
    {
        g_autoptr(GError) error = NULL;
        g_autoptr(PdImage) img = pd_image_open(path, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
        if (!img)
            return fail(c, "read-write open: %s", error->message);
        ItRand r;
        it_rand_seed(&r, 77);
        /* partial clusters, whole clusters, zeroes, a discard, all over written data */
        static const struct {
            uint64_t off, len;
            int kind; /* 0 write, 1 zero, 2 zero+unmap */
        } ops[] = {{100, 5000, 0},       {65536, 65536, 0},  {200000, 3000, 1},
                   {1 << 20, 300000, 2}, {2200000, 7000, 0}, {8388000, 608, 0}};
        for (size_t i = 0; i < G_N_ELEMENTS(ops); i++) {
            uint64_t off = ops[i].off, n = MIN(ops[i].len, len - MIN(off, len));
            if (n == 0)
                continue;
            bool ok;
            if (ops[i].kind == 0) {
                g_autofree uint8_t *buf = g_malloc(n);
                it_rand_fill(&r, buf, n);
                ok = pd_image_write(img, off, buf, n, &error);
                memcpy(want + off, buf, n);
            } else {
                ok = pd_image_write_zeroes(img, off, n, ops[i].kind == 2 ? PD_ZERO_MAY_UNMAP : 0,
                                           &error);
                memset(want + off, 0, n);
            }
            if (!ok)
                return fail(c, "engine write at %" G_GUINT64_FORMAT ": %s", off, error->message);
        }
        if (!pd_image_flush(img, &error))
            return fail(c, "flush: %s", error->message);
    }
    g_autofree char *out = NULL;
    int rc = it_qemu_img_check(path, &out);
    if (rc != 0)
        return fail(c, "after the engine wrote, qemu-img check exits %d:\n%s", rc, out);
    size_t got_len;
    g_autofree uint8_t *got = qemu_read_all(c, dir, NULL, &got_len);
    if (!got ||
        !compare_bytes(c, "qemu-img reading what the engine wrote", want, len, got, got_len))
        return false;
    g_autofree char *info_after = NULL;
    const char *argv[] = {"sh", "-c", cmd, NULL};
    g_assert_true(g_spawn_sync(dir, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &info_after, NULL, NULL, NULL));
    int bitmaps_after = 0;
    for (const char *p = info_after; (p = strstr(p, "\"granularity\"")); p++)
        bitmaps_after++;
    if (bitmaps_after != bitmaps_before)
        return fail(c, "%d bitmaps before the engine wrote, %d after", bitmaps_before,
                    bitmaps_after);
    return true;
}

/* ---- one case -------------------------------------------------------------------------- */

static const char *poolimg; /* set when it converts a valid image */

static bool check_poolimg(const Case *c, const char *dir, const uint8_t *want, size_t want_len)
{
    if (!poolimg)
        return true;
    g_autofree char *cmd =
        g_strdup_printf("'%s' convert -f qcow2 -O raw %s poolimg.raw", poolimg, c->image);
    g_autofree char *err = NULL;
    if (run_sh(dir, cmd, &err) != 0)
        return fail(c, "%s failed: %s", cmd, err);
    g_autofree char *path = g_build_filename(dir, "poolimg.raw", NULL);
    size_t len;
    g_autofree uint8_t *got = it_read_file(path, &len);
    return compare_bytes(c, "poolimg convert -O raw", got, len, want, want_len);
}

/* pd_image_read_info (the header alone, what a pool refresh reads) says what
 * pd_image_get_info of the fully opened @img says. */
static bool check_header_info(const Case *c, PdImage *img, const char *path)
{
    g_autoptr(GError) error = NULL;
    PdImageInfo full, head;
    if (!pd_image_get_info(img, &full, &error))
        return fail(c, "pd_image_get_info: %s", error->message);
    if (!pd_image_read_info(path, PD_FORMAT_UNKNOWN, &head, &error)) {
        pd_image_info_clear(&full);
        return fail(c, "pd_image_read_info: %s", error->message);
    }
    bool same = full.format == head.format && full.virtual_size == head.virtual_size &&
                g_strcmp0(full.backing_file, head.backing_file) == 0 &&
                full.backing_format == head.backing_format &&
                full.cluster_size == head.cluster_size && full.compat == head.compat &&
                full.lazy_refcounts == head.lazy_refcounts &&
                full.refcount_bits == head.refcount_bits && full.extended_l2 == head.extended_l2 &&
                full.snapshot_count == head.snapshot_count &&
                full.bitmap_count == head.bitmap_count && full.dirty == head.dirty;
    pd_image_info_clear(&full);
    pd_image_info_clear(&head);
    return same || fail(c, "pd_image_read_info differs from pd_image_get_info");
}

static bool run_case(const Case *c, const char *root)
{
    if (c->needs) {
        g_autofree char *tool = g_find_program_in_path(c->needs);
        if (!tool) {
            printf("ok - %s # SKIP %s not found\n", c->name, c->needs);
            return true;
        }
    }
    g_autofree char *dir = g_build_filename(root, c->name, NULL);
    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    for (const char *const *cmd = c->cmds; *cmd; cmd++) {
        g_autofree char *err = NULL;
        if (run_sh(dir, *cmd, &err) != 0)
            return fail(c, "building the image: `%s` failed: %s", *cmd, err);
    }
    int64_t t0 = g_get_monotonic_time();
    size_t want_len;
    g_autofree uint8_t *want = qemu_read_all(c, dir, NULL, &want_len);
    if (!want)
        return false;
    g_autofree char *path = g_build_filename(dir, c->image, NULL);
    bool ok;
    {
        g_autoptr(GError) error = NULL;
        g_autoptr(PdImage) img = pd_image_open(path, PD_FORMAT_QCOW2, PD_OPEN_RDONLY, &error);
        if (!img)
            return fail(c, "pd_image_open: %s", error->message);
        g_autofree uint8_t *got = engine_read_all(c, img);
        ok = got && compare_bytes(c, "pd_image_read of the whole image", got, pd_image_size(img),
                                  want, want_len);
        ok = ok && check_map(c, dir, img, got);
        ok = ok && check_header_info(c, img, path);
    }
    ok = ok && check_poolimg(c, dir, want, want_len);
    ok = ok && (!c->snapshots || check_snapshots(c, dir));
    ok = ok && (!c->dirty || check_repair(c, dir, want, want_len));
    ok = ok && (!c->engine_writes || check_engine_writes(c, dir, want, want_len));
    if (ok)
        printf("ok - %s (%.2f s)\n", c->name, (double)(g_get_monotonic_time() - t0) / 1e6);
    return ok;
}

/* Source data for the compressed and backing cases: text, random bytes, zeroes, runs. */
static void make_source(const char *root)
{
    const uint64_t size = 8 << 20;
    g_autofree uint8_t *buf = g_malloc0(size);
    ItRand r;
    it_rand_seed(&r, 4242);
    for (uint64_t off = 0; off < size; off += 65536) {
        switch ((off / 65536) % 5) {
        case 0:
            for (uint64_t i = 0; i < 65536; i++)
                buf[off + i] = "qcow2 read compatibility, compressible text. "[i % 46];
            break;
        case 1:
            it_rand_fill(&r, buf + off, 65536);
            break;
        case 2:
            break; /* zeroes */
        case 3:
            memset(buf + off, (int)(off >> 16), 65536);
            break;
        default:
            it_rand_fill(&r, buf + off, 4096); /* mostly zero, partly random */
        }
    }
    g_autofree char *path = g_build_filename(root, "src.raw", NULL);
    it_write_file(path, buf, size);
}

static void detect_poolimg(const char *root)
{
    const char *p = g_getenv("POOLIMG");
    if (!p || !g_file_test(p, G_FILE_TEST_IS_EXECUTABLE))
        return;
    g_autofree char *cmd = g_strdup_printf(
        "qemu-img create -q -f qcow2 probe.qcow2 1M && '%s' convert -f qcow2 -O raw "
        "probe.qcow2 probe.raw && test \"$(stat -c %%s probe.raw)\" = 1048576",
        p);
    if (run_sh(root, cmd, NULL) == 0) {
        poolimg = p;
        printf("# poolimg convert checked too (%s)\n", p);
    } else {
        printf("# %s cannot convert yet: engine checks only\n", p);
    }
}

/* Random cases: qemu-io applies a seeded random mix of writes (byte-granular), zero writes
 * (with and without unmap) and discards to images of several layouts -- extended L2 above
 * all, where subclusters make partial states -- and the engine must read what qemu reads. */
static const char *const random_layouts[] = {
    "extended_l2=on",  "extended_l2=on,cluster_size=32k", "extended_l2=on,cluster_size=256k",
    "cluster_size=4k", "compat=0.10,cluster_size=512",
};

static char *random_qemu_io(uint64_t seed)
{
    ItRand r;
    it_rand_seed(&r, seed);
    GString *cmd = g_string_new("qemu-io -f qcow2");
    const uint64_t size = 8 << 20;
    for (int i = 0; i < 80; i++) {
        uint64_t len = 1 + it_rand_below(&r, it_rand_below(&r, 8) ? 20000 : 400000);
        uint64_t off = it_rand_below(&r, size - 1);
        if (it_rand_below(&r, 2))
            off &= ~(uint64_t)511; /* zero writes and discards want sectors */
        len = MIN(len, size - off);
        switch (it_rand_below(&r, 5)) {
        case 0:
        case 1:
            g_string_append_printf(
                cmd, " -c 'write -P 0x%02x %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "'",
                (unsigned)(1 + it_rand_below(&r, 254)), off, len);
            break;
        case 2:
            g_string_append_printf(cmd,
                                   " -c 'write -z %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "'",
                                   off & ~(uint64_t)511, (len + 511) & ~(uint64_t)511);
            break;
        case 3:
            g_string_append_printf(cmd,
                                   " -c 'write -z -u %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "'",
                                   off & ~(uint64_t)511, (len + 511) & ~(uint64_t)511);
            break;
        default:
            g_string_append_printf(cmd, " -c 'discard %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "'",
                                   off & ~(uint64_t)511, (len + 511) & ~(uint64_t)511);
        }
    }
    g_string_append(cmd, " img.qcow2 >/dev/null");
    return g_string_free(cmd, FALSE);
}

static int run_random_cases(const char *root, uint64_t base_seed, int per_layout)
{
    int failed = 0;
    g_autofree char *qemu_io = g_find_program_in_path("qemu-io");
    if (!qemu_io) {
        printf("ok - random cases # SKIP qemu-io not found\n");
        return 0;
    }
    for (size_t l = 0; l < G_N_ELEMENTS(random_layouts); l++) {
        for (int k = 0; k < per_layout; k++) {
            uint64_t seed = base_seed + l * 1000 + (uint64_t)k;
            g_autofree char *name =
                g_strdup_printf("random-%s-seed%" G_GUINT64_FORMAT, random_layouts[l], seed);
            g_autofree char *create = g_strdup_printf(
                "qemu-img create -q -f qcow2 -o %s img.qcow2 8M", random_layouts[l]);
            g_autofree char *writes = random_qemu_io(seed);
            const char *cmds[] = {create, writes, NULL};
            Case c = {.name = name, .image = "img.qcow2", .cmds = cmds};
            if (!run_case(&c, root)) {
                printf("not ok - %s (replay: POOLD_TEST_SEED=%" G_GUINT64_FORMAT ")\n", name,
                       base_seed);
                failed++;
            }
            fflush(stdout);
        }
    }
    return failed;
}

int main(int argc, char **argv)
{
    it_require_tool("qemu-img", "qemu-img writes the images this test reads "
                                "(apt-get install qemu-utils)");
    g_autofree char *root = it_mkdtemp_fast("poold-readcompat");
    make_source(root);
    detect_poolimg(root);
    int failed = 0, ran = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        bool selected = argc <= 1;
        for (int a = 1; a < argc; a++)
            selected = selected || !strcmp(argv[a], cases[i].name);
        if (!selected)
            continue;
        ran++;
        if (!run_case(&cases[i], root)) {
            printf("not ok - %s\n", cases[i].name);
            failed++;
        }
        fflush(stdout);
    }
    if (argc <= 1) {
        uint64_t seed = it_pick_seed(20261130);
        printf("# random cases, seed %" G_GUINT64_FORMAT "\n", seed);
        failed += run_random_cases(root, seed, 3);
        ran += 3 * (int)G_N_ELEMENTS(random_layouts);
    }
    printf("# %d of %d cases failed\n", failed, ran);
    if (failed)
        printf("# images kept in %s\n", root);
    else
        it_rmtree(root);
    return failed ? 1 : 0;
}
