/* qcow2 internal snapshots, with qemu-img as the oracle: snapshots we take are listed and
 * applied by qemu-img, snapshots qemu-img takes are listed, applied and deleted by us, on v2
 * and v3 images, with compressed clusters; `qemu-img check` finds nothing afterwards; bad
 * snapshot tables are refused with PD_ERROR_CORRUPT at open, never a crash.
 * Without qemu-img the test says why and exits 77. */
#include "formats/image/image.h"
#include "common/pd-error.h"
#include "../interop/interop-util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MiB      (1024 * 1024)
#define IMG_SIZE (8 * MiB)
#define U        (MiB / 2) /* unit of the writes of ours-to-qemu (our writes flush a lot) */

static char *tmpdir;

static char *path_in_tmp(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

/* ---- raw file patching ---------------------------------------------------------- */

/* ---- helpers -------------------------------------------------------------------- */

static void assert_qemu_check_clean(const char *path)
{
    g_autofree char *out = NULL;
    int rc = it_qemu_img_check(path, &out);
    if (rc != 0)
        g_error("qemu-img check %s: exit %d\n%s", path, rc, out);
    g_assert_null(strstr(out, "leaked"));
}

/* Guest contents of the image (or of one of its snapshots) through qemu-img convert. */
static uint8_t *qemu_contents(const char *path, const char *snapshot, size_t *ret_len)
{
    g_autofree char *raw = path_in_tmp("contents.raw");
    if (snapshot) {
        g_autofree char *opt = g_strdup_printf("snapshot.name=%s", snapshot);
        it_run_ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", "-l", opt, path, raw, NULL);
    } else {
        it_run_ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", path, raw, NULL);
    }
    uint8_t *data = it_read_file(raw, ret_len);
    unlink(raw);
    return data;
}

static void assert_qemu_contents(const char *path, const char *snapshot, const uint8_t *want,
                                 size_t len)
{
    size_t got_len;
    g_autofree uint8_t *got = qemu_contents(path, snapshot, &got_len);
    g_assert_cmpuint(got_len, ==, len);
    g_assert_cmpint(it_first_difference(got, want, len), ==, -1);
}

static void assert_our_contents(PdImage *img, const uint8_t *want, size_t len)
{
    g_autoptr(GError) error = NULL;
    g_assert_cmpuint(pd_image_size(img), ==, len);
    g_autofree uint8_t *got = g_malloc(len);
    g_assert_true(pd_image_read(img, 0, got, len, &error));
    g_assert_no_error(error);
    g_assert_cmpint(it_first_difference(got, want, len), ==, -1);
}

static PdImage *open_rw(const char *path)
{
    g_autoptr(GError) error = NULL;
    PdImage *img = pd_image_open(path, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    g_assert_nonnull(img);
    return img;
}

/* Writes @len bytes of @pattern-derived data at @offset into the image and the reference. */
static void write_both(PdImage *img, uint8_t *ref, uint64_t offset, size_t len, uint64_t seed)
{
    g_autoptr(GError) error = NULL;
    ItRand r;
    it_rand_seed(&r, seed);
    it_rand_fill(&r, ref + offset, len);
    g_assert_true(pd_image_write(img, offset, ref + offset, len, &error));
    g_assert_no_error(error);
}

static void create_ours(const char *path, int compat, uint32_t cluster_size)
{
    g_autoptr(GError) error = NULL;
    PdCreateOptions opts = {
        .format = PD_FORMAT_QCOW2,
        .size = IMG_SIZE,
        .compat = compat,
        .cluster_size = cluster_size,
    };
    g_assert_true(pd_image_create(path, &opts, true, &error));
    g_assert_no_error(error);
}

/* ---- ours -> qemu --------------------------------------------------------------- */

typedef struct {
    int compat;
    uint32_t cluster_size;
} Geometry;

static void test_ours_to_qemu(gconstpointer data)
{
    const Geometry *g = data;
    g_autofree char *path = path_in_tmp("ours.qcow2");
    g_autoptr(GError) error = NULL;
    create_ours(path, g->compat, g->cluster_size);

    g_autofree uint8_t *cur = g_malloc0(IMG_SIZE);
    PdImage *img = open_rw(path);
    write_both(img, cur, 0, 3 * U, 1);
    write_both(img, cur, 5 * U + 512, 4096, 2);
    g_assert_true(pd_image_snapshot_create(img, "first", &error));
    g_assert_no_error(error);
    g_autofree uint8_t *first = g_memdup2(cur, IMG_SIZE);

    /* duplicate names are refused */
    g_assert_false(pd_image_snapshot_create(img, "first", &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_EXISTS);
    g_clear_error(&error);

    write_both(img, cur, U, U, 3); /* copy-on-write over shared clusters */
    write_both(img, cur, 7 * U, 65536, 4);
    g_assert_true(pd_image_snapshot_create(img, "second", &error));
    g_assert_no_error(error);
    g_autofree uint8_t *second = g_memdup2(cur, IMG_SIZE);
    write_both(img, cur, 0, 2 * U, 5);
    g_assert_true(pd_image_flush(img, &error));
    pd_image_close(img);

    assert_qemu_check_clean(path);
    g_autofree char *list = NULL;
    g_assert_cmpint(it_runv(&list, NULL, "qemu-img", "snapshot", "-l", path, NULL), ==, 0);
    g_assert_nonnull(strstr(list, "first"));
    g_assert_nonnull(strstr(list, "second"));
    g_assert_nonnull(strstr(list, "\n1 "));
    g_assert_nonnull(strstr(list, "\n2 "));
    assert_qemu_contents(path, NULL, cur, IMG_SIZE);
    assert_qemu_contents(path, "first", first, IMG_SIZE);
    assert_qemu_contents(path, "second", second, IMG_SIZE);

    /* qemu applies ours (on a copy) */
    g_autofree char *copy = path_in_tmp("ours-copy.qcow2");
    it_run_ok("cp", path, copy, NULL);
    it_run_ok("qemu-img", "snapshot", "-a", "first", copy, NULL);
    assert_qemu_contents(copy, NULL, first, IMG_SIZE);
    assert_qemu_check_clean(copy);
    unlink(copy);

    /* we apply ours, by name and by id */
    img = open_rw(path);
    g_assert_true(pd_image_snapshot_apply(img, "first", &error));
    g_assert_no_error(error);
    assert_our_contents(img, first, IMG_SIZE);
    g_autofree uint8_t *scratch = g_memdup2(first, IMG_SIZE);
    write_both(img, scratch, 2 * U, 65536, 6); /* writes after apply must not leak into it */
    g_assert_true(pd_image_snapshot_apply(img, "2", &error));
    g_assert_no_error(error);
    assert_our_contents(img, second, IMG_SIZE);
    g_assert_true(pd_image_snapshot_apply(img, "nope", &error) == false);
    g_assert_error(error, PD_ERROR, PD_ERROR_NOT_FOUND);
    g_clear_error(&error);
    pd_image_close(img);
    assert_qemu_check_clean(path);
    assert_qemu_contents(path, NULL, second, IMG_SIZE);
    assert_qemu_contents(path, "first", first, IMG_SIZE); /* the snapshot itself unchanged */

    /* delete both: no leak, no snapshot left, data intact */
    img = open_rw(path);
    g_assert_true(pd_image_snapshot_delete(img, "first", &error));
    g_assert_no_error(error);
    assert_our_contents(img, second, IMG_SIZE);
    g_autoptr(GArray) snaps = pd_image_snapshot_list(img, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(snaps->len, ==, 1);
    g_assert_cmpstr(g_array_index(snaps, PdSnapshotInfo, 0).id, ==, "2");
    g_assert_cmpstr(g_array_index(snaps, PdSnapshotInfo, 0).name, ==, "second");
    g_assert_cmpuint(g_array_index(snaps, PdSnapshotInfo, 0).disk_size, ==, IMG_SIZE);
    g_assert_true(pd_image_snapshot_delete(img, "second", &error));
    g_assert_no_error(error);
    /* COPIED flags are back: a write in place must not allocate (qemu-img check agrees) */
    write_both(img, second, 0, 4096, 7);
    PdCheckResult res;
    g_assert_true(pd_image_check(img, PD_CHECK_NO_FIX, &res, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(res.corruptions, ==, 0);
    g_assert_cmpuint(res.leaks, ==, 0);
    pd_check_result_clear(&res);
    pd_image_close(img);
    assert_qemu_check_clean(path);
    g_clear_pointer(&list, g_free);
    g_assert_cmpint(it_runv(&list, NULL, "qemu-img", "snapshot", "-l", path, NULL), ==, 0);
    g_assert_null(strstr(list, "second"));
    assert_qemu_contents(path, NULL, second, IMG_SIZE);
    unlink(path);
}

/* ---- qemu -> ours --------------------------------------------------------------- */

static void qemu_io_write(const char *path, int pattern, const char *offset, const char *len)
{
    g_autofree char *cmd = g_strdup_printf("write -P %d %s %s", pattern, offset, len);
    it_run_ok("qemu-io", "-t", "unsafe", "-f", "qcow2", "-c", cmd, path, NULL);
}

static void test_qemu_to_ours(gconstpointer data)
{
    const Geometry *g = data;
    g_autofree char *path = path_in_tmp("theirs.qcow2");
    g_autoptr(GError) error = NULL;
    g_autofree char *opts = g_strdup_printf("compat=%s,cluster_size=%u",
                                            g->compat == 2 ? "0.10" : "1.1", g->cluster_size);
    it_run_ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", opts, path, "8M", NULL);
    qemu_io_write(path, 0x11, "0", "3M");
    it_run_ok("qemu-img", "snapshot", "-c", "alpha", path, NULL);
    size_t len;
    g_autofree uint8_t *alpha = qemu_contents(path, NULL, &len);
    qemu_io_write(path, 0x22, "1M", "3M");
    it_run_ok("qemu-img", "snapshot", "-c", "beta", path, NULL);
    g_autofree uint8_t *beta = qemu_contents(path, NULL, &len);
    qemu_io_write(path, 0x33, "6M", "1M");
    g_autofree uint8_t *now = qemu_contents(path, NULL, &len);

    PdImage *img = open_rw(path);
    g_autoptr(GArray) snaps = pd_image_snapshot_list(img, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(snaps->len, ==, 2);
    PdSnapshotInfo *a = &g_array_index(snaps, PdSnapshotInfo, 0);
    g_assert_cmpstr(a->id, ==, "1");
    g_assert_cmpstr(a->name, ==, "alpha");
    g_assert_cmpuint(a->disk_size, ==, IMG_SIZE);
    g_assert_cmpuint(a->vm_state_size, ==, 0);
    g_assert_cmpuint(a->date_sec, >, 1500000000u);
    g_assert_cmpstr(g_array_index(snaps, PdSnapshotInfo, 1).name, ==, "beta");
    assert_our_contents(img, now, IMG_SIZE);

    g_assert_true(pd_image_snapshot_apply(img, "alpha", &error));
    g_assert_no_error(error);
    assert_our_contents(img, alpha, IMG_SIZE);
    g_assert_true(pd_image_snapshot_create(img, "gamma", &error));
    g_assert_no_error(error);
    g_assert_true(pd_image_snapshot_delete(img, "1", &error)); /* by id */
    g_assert_no_error(error);
    pd_image_close(img);
    assert_qemu_check_clean(path);
    assert_qemu_contents(path, NULL, alpha, IMG_SIZE);
    assert_qemu_contents(path, "beta", beta, IMG_SIZE);
    assert_qemu_contents(path, "gamma", alpha, IMG_SIZE);
    g_autofree char *list = NULL;
    g_assert_cmpint(it_runv(&list, NULL, "qemu-img", "snapshot", "-l", path, NULL), ==, 0);
    g_assert_null(strstr(list, "alpha"));
    g_assert_nonnull(strstr(list, "\n3 ")); /* new ids continue after the largest */

    /* qemu deletes ours, we delete theirs */
    it_run_ok("qemu-img", "snapshot", "-d", "gamma", path, NULL);
    img = open_rw(path);
    g_assert_true(pd_image_snapshot_delete(img, "beta", &error));
    g_assert_no_error(error);
    pd_image_close(img);
    assert_qemu_check_clean(path);
    assert_qemu_contents(path, NULL, alpha, IMG_SIZE);
    unlink(path);
}

/* Compressed clusters are shared by snapshots too (one reference per host cluster touched). */
static void test_compressed(void)
{
    g_autofree char *raw = path_in_tmp("c.raw");
    g_autofree char *path = path_in_tmp("c.qcow2");
    g_autoptr(GError) error = NULL;
    g_autofree uint8_t *data = g_malloc0(IMG_SIZE);
    for (size_t i = 0; i < 6 * MiB; i++)
        data[i] = (uint8_t)((i / 1000) * 7 + (i % 13)); /* compressible */
    it_write_file(raw, data, IMG_SIZE);
    it_run_ok("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=4096",
              raw, path, NULL);
    PdImage *img = open_rw(path);
    g_assert_true(pd_image_snapshot_create(img, "c1", &error));
    g_assert_no_error(error);
    write_both(img, data, 4096, 3 * 4096 + 100, 9);
    pd_image_close(img);
    assert_qemu_check_clean(path);
    img = open_rw(path);
    g_autofree uint8_t *orig = it_read_file(raw, &(size_t){0});
    g_assert_true(pd_image_snapshot_apply(img, "c1", &error));
    g_assert_no_error(error);
    assert_our_contents(img, orig, IMG_SIZE);
    g_assert_true(pd_image_snapshot_delete(img, "c1", &error));
    g_assert_no_error(error);
    pd_image_close(img);
    assert_qemu_check_clean(path);
    assert_qemu_contents(path, NULL, orig, IMG_SIZE);
    unlink(raw);
    unlink(path);
}

/* Applying a snapshot taken at another virtual size restores that size. */
static void test_apply_restores_size(void)
{
    g_autofree char *path = path_in_tmp("size.qcow2");
    g_autoptr(GError) error = NULL;
    it_run_ok("qemu-img", "create", "-q", "-f", "qcow2", path, "8M", NULL);
    qemu_io_write(path, 0x44, "0", "1M");
    it_run_ok("qemu-img", "snapshot", "-c", "small", path, NULL);
    it_run_ok("qemu-img", "resize", "-q", path, "24M", NULL);
    qemu_io_write(path, 0x55, "20M", "1M");
    PdImage *img = open_rw(path);
    g_assert_cmpuint(pd_image_size(img), ==, 24 * MiB);
    g_assert_true(pd_image_snapshot_apply(img, "small", &error));
    g_assert_no_error(error);
    g_assert_cmpuint(pd_image_size(img), ==, 8 * MiB);
    pd_image_close(img);
    assert_qemu_check_clean(path);
    g_autofree char *out = NULL;
    g_assert_cmpint(it_runv(&out, NULL, "qemu-img", "info", path, NULL), ==, 0);
    g_assert_nonnull(strstr(out, "virtual size: 8 MiB"));
    unlink(path);
}

/* Extra data we do not understand survives a rewrite of the table. */
static void test_unknown_extra_kept(void)
{
    g_autofree char *path = path_in_tmp("extra.qcow2");
    g_autoptr(GError) error = NULL;
    it_run_ok("qemu-img", "create", "-q", "-f", "qcow2", path, "8M", NULL);
    it_run_ok("qemu-img", "snapshot", "-c", "x", path, NULL);
    /* rewrite the single entry in place with 8 more bytes of extra data */
    uint64_t table = it_file_get_be(path, 64, 8);
    uint32_t extra = (uint32_t)it_file_get_be(path, table + 36, 4);
    g_assert_cmpuint(extra, >=, 16);
    size_t len;
    g_autofree uint8_t *file = it_read_file(path, &len);
    uint8_t *e = file + table;
    uint16_t id_len = (uint16_t)(e[12] << 8 | e[13]), name_len = (uint16_t)(e[14] << 8 | e[15]);
    uint8_t entry[256] = {0};
    memcpy(entry, e, 40 + extra);
    memcpy(entry + 40 + extra, "\xde\xad\xbe\xef\x01\x02\x03\x04", 8);
    memcpy(entry + 48 + extra, e + 40 + extra, id_len + name_len);
    entry[36] = 0, entry[37] = 0, entry[38] = 0, entry[39] = (uint8_t)(extra + 8);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    g_assert_cmpint(pwrite(fd, entry, sizeof entry, table), ==, (ssize_t)sizeof entry);
    close(fd);

    PdImage *img = open_rw(path);
    g_assert_true(pd_image_snapshot_create(img, "y", &error));
    g_assert_no_error(error);
    pd_image_close(img);
    assert_qemu_check_clean(path);
    table = it_file_get_be(path, 64, 8);
    g_assert_cmpuint(it_file_get_be(path, table + 36, 4), ==, extra + 8);
    g_assert_cmphex(it_file_get_be(path, table + 40 + extra, 8), ==, 0xdeadbeef01020304ULL);
    unlink(path);
}

/* ---- bad tables ----------------------------------------------------------------- */

typedef struct {
    const char *what;
    int field_offset; /* in the header (<0) or in the first entry (>=0) */
    int bytes;
    uint64_t value;
} BadTable;

#define HDR(off) (-(off)-1)
static const BadTable bad_tables[] = {
    {"nb_snapshots too large", HDR(60), 4, 70000},
    {"nb_snapshots past the file", HDR(60), 4, 60000},
    {"table past end of file", HDR(64), 8, 0x100000000ULL},
    {"table misaligned", HDR(64), 8, 0x10008},
    {"table at offset 0", HDR(64), 8, 0},
    {"extra data too large", 36, 4, 4096},
    {"id length past the file", 12, 2, 65535},
    {"name length past the file", 14, 2, 65535},
    {"L1 misaligned", 0, 8, 0x30008},
    {"L1 past end of file", 0, 8, 0x7fff0000ULL},
    {"L1 size too large", 8, 4, 0x7fffffff},
    {"L1 size past the file", 8, 4, 0x100000},
};

static void test_bad_table(gconstpointer data)
{
    const BadTable *b = data;
    g_autofree char *path = path_in_tmp("bad.qcow2");
    g_autoptr(GError) error = NULL;
    it_run_ok("qemu-img", "create", "-q", "-f", "qcow2", path, "8M", NULL);
    it_run_ok("qemu-img", "snapshot", "-c", "x", path, NULL);
    uint64_t table = it_file_get_be(path, 64, 8);
    uint64_t where =
        b->field_offset < 0 ? (uint64_t)(-b->field_offset - 1) : table + (uint64_t)b->field_offset;
    it_file_put_be(path, where, b->bytes, b->value);
    PdImage *img = pd_image_open(path, PD_FORMAT_QCOW2, PD_OPEN_RDONLY, &error);
    if (img) {
        /* some damage only shows when the snapshot is used */
        pd_image_close(img);
        img = pd_image_open(path, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
        g_assert_nonnull(img);
        g_assert_false(pd_image_snapshot_apply(img, "x", &error));
        pd_image_close(img);
    }
    g_assert_error(error, PD_ERROR, PD_ERROR_CORRUPT);
    g_test_message("%s: %s", b->what, error->message);
    unlink(path);
}

/* ---- crash points --------------------------------------------------------------- */

/* A store that fails every write after the first @budget ones, like a machine that stopped
 * there: what is on disk is what a crash at that point leaves. */
typedef struct {
    PdIO io;
    PdIO *inner;
    long budget;
} CutIO;

static ssize_t cut_pread(PdIO *io, void *buf, size_t len, uint64_t offset)
{
    CutIO *c = (CutIO *)io;
    return c->inner->ops->pread(c->inner, buf, len, offset);
}
static ssize_t cut_pwrite(PdIO *io, const void *buf, size_t len, uint64_t offset)
{
    CutIO *c = (CutIO *)io;
    if (c->budget <= 0)
        return -EIO;
    c->budget--;
    return c->inner->ops->pwrite(c->inner, buf, len, offset);
}
static int cut_flush(PdIO *io)
{
    return ((CutIO *)io)->budget <= 0 ? -EIO : 0;
}
static int cut_truncate(PdIO *io, uint64_t size)
{
    CutIO *c = (CutIO *)io;
    if (c->budget <= 0)
        return -EIO;
    c->budget--;
    return c->inner->ops->truncate(c->inner, size);
}
static int64_t cut_size(PdIO *io)
{
    CutIO *c = (CutIO *)io;
    return c->inner->ops->size(c->inner);
}
static int64_t cut_allocated(PdIO *io)
{
    CutIO *c = (CutIO *)io;
    return c->inner->ops->allocated(c->inner);
}
static int cut_discard(PdIO *io, uint64_t offset, uint64_t len)
{
    return -ENOTSUP;
}
static void cut_close(PdIO *io)
{
    CutIO *c = (CutIO *)io;
    pd_io_close(c->inner);
    g_free(c->io.name);
    g_free(c);
}
static const PdIOOps cut_ops = {
    .pread = cut_pread,
    .pwrite = cut_pwrite,
    .flush = cut_flush,
    .truncate = cut_truncate,
    .size = cut_size,
    .allocated = cut_allocated,
    .discard = cut_discard,
    .close = cut_close,
};

/* Runs @op ("create", "apply", "delete") on @path with writes cut after @budget. True if it
 * completed. */
static bool run_cut(const char *path, const char *op, const char *arg, long budget)
{
    g_autoptr(GError) error = NULL;
    CutIO *c = g_new0(CutIO, 1);
    c->io.ops = &cut_ops;
    c->io.name = g_strdup(path);
    c->budget = budget;
    c->inner = pd_io_file_open(path, PD_IO_RDWR, 0, &error);
    g_assert_no_error(error);
    PdImage *img = pd_image_open_io(&c->io, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    bool ok = strcmp(op, "create") == 0  ? pd_image_snapshot_create(img, arg, &error)
              : strcmp(op, "apply") == 0 ? pd_image_snapshot_apply(img, arg, &error)
                                         : pd_image_snapshot_delete(img, arg, &error);
    ok = ok && pd_image_flush(img, &error);
    pd_image_close(img);
    return ok;
}

/* Cuts the power after every write of a snapshot create, apply and delete: no cluster is
 * ever referenced with a refcount below its references (only leaks and COPIED flags to
 * repair, harmless both ways), the active guest data is intact or fully switched, and a
 * repair leaves an image qemu-img finds clean. */
static void test_crash_points(void)
{
    g_autofree char *base = path_in_tmp("crash-base.qcow2");
    g_autofree char *path = path_in_tmp("crash.qcow2");
    it_run_ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", base, "8M",
              NULL);
    qemu_io_write(base, 0x21, "0", "2M");
    it_run_ok("qemu-img", "snapshot", "-c", "q1", base, NULL);
    size_t len;
    g_autofree uint8_t *at_q1 = qemu_contents(base, NULL, &len);
    qemu_io_write(base, 0x43, "1M", "2M");
    g_autofree uint8_t *now = qemu_contents(base, NULL, &len);
    static const char *const ops[][2] = {{"create", "new"}, {"apply", "q1"}, {"delete", "q1"}};
    for (size_t o = 0; o < G_N_ELEMENTS(ops); o++) {
        bool done = false;
        for (long n = 0; !done && n < 200; n++) {
            it_run_ok("cp", base, path, NULL);
            done = run_cut(path, ops[o][0], ops[o][1], n);
            g_autofree char *out = NULL;
            (void)it_qemu_img_check(path, &out);
            g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
            for (char **l = lines; *l; l++)
                if (g_str_has_prefix(*l, "ERROR") && !strstr(*l, "OFLAG_COPIED"))
                    g_error("%s cut after %ld writes: %s\n%s", ops[o][0], n, *l, out);
            g_autoptr(GError) error = NULL;
            PdImage *img =
                pd_image_open(path, PD_FORMAT_QCOW2, PD_OPEN_RDWR | PD_OPEN_CHECK_ONLY, &error);
            g_assert_no_error(error);
            g_autofree uint8_t *got = g_malloc(len);
            g_assert_true(pd_image_read(img, 0, got, len, &error));
            bool switched = strcmp(ops[o][0], "apply") == 0 && memcmp(got, at_q1, len) == 0;
            g_assert_true(switched || memcmp(got, now, len) == 0);
            PdCheckResult res;
            g_assert_true(
                pd_image_check(img, PD_CHECK_FIX_LEAKS | PD_CHECK_FIX_ERRORS, &res, &error));
            g_assert_cmpuint(res.corruptions + res.leaks, ==, 0);
            pd_check_result_clear(&res);
            /* repaired: clean for us at once, for qemu-img below (it is the slow part) */
            g_assert_true(pd_image_check(img, PD_CHECK_NO_FIX, &res, &error));
            g_assert_cmpuint(res.corruptions + res.leaks + res.check_errors, ==, 0);
            pd_check_result_clear(&res);
            pd_image_close(img);
            if (n % 4 == 0)
                assert_qemu_check_clean(path);
        }
        g_assert_true(done);
        assert_qemu_check_clean(path);
    }
    unlink(base);
    unlink(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    it_require_tool("qemu-img", "the oracle for snapshot compatibility");
    it_require_tool("qemu-io", "writes data into images qemu-img created");
    tmpdir = it_mkdtemp("test-qcow2-snapshot");

    static const Geometry geometries[] = {
        {3, 65536}, {2, 65536}, {2, 512}}; /* 4096: crash-points */
    for (size_t i = 0; i < G_N_ELEMENTS(geometries); i++) {
        const Geometry *g = &geometries[i];
        g_autofree char *a =
            g_strdup_printf("/qcow2-snapshot/ours-to-qemu/v%d-%u", g->compat, g->cluster_size);
        g_autofree char *b =
            g_strdup_printf("/qcow2-snapshot/qemu-to-ours/v%d-%u", g->compat, g->cluster_size);
        g_test_add_data_func(a, g, test_ours_to_qemu);
        g_test_add_data_func(b, g, test_qemu_to_ours);
    }
    g_test_add_func("/qcow2-snapshot/compressed", test_compressed);
    g_test_add_func("/qcow2-snapshot/apply-restores-size", test_apply_restores_size);
    g_test_add_func("/qcow2-snapshot/unknown-extra-kept", test_unknown_extra_kept);
    g_test_add_func("/qcow2-snapshot/crash-points", test_crash_points);
    for (size_t i = 0; i < G_N_ELEMENTS(bad_tables); i++) {
        g_autofree char *name = g_strdup_printf("/qcow2-snapshot/bad-table/%zu", i);
        g_test_add_data_func(name, &bad_tables[i], test_bad_table);
    }
    int rc = g_test_run();
    it_rmtree(tmpdir);
    return rc;
}
