/* The iSCSI PdIO (formats/io-iscsi.c) against a real tgtd on loopback: sizes of LUNs with
 * 512-byte and 4 KiB sectors (READ CAPACITY(16) done right), unaligned reads and writes
 * checked byte for byte in the LUN's backing file, UNMAP, CHAP right and wrong, unknown
 * target, missing LUN, the controller LUN, a read-only LUN, an unreachable portal, a qcow2
 * image made by the engine on a LUN and judged by qemu-img, and a target that stops answering
 * or vanishes mid-operation (an error within the timeout, no hang). Exits 77 without tgtd or
 * qemu-img. */
#include "common/pd-error.h"
#include "formats/image/image.h"
#include "formats/io/iscsi/io-iscsi.h"
#include "tests/backends/iscsi-fixture.h"
#include "tests/interop/interop-util.h"

#include <errno.h>
#include <string.h>

#define MiB (1024 * 1024)

static TgtFixture *fx;

static PdIO *open_lun(const char *iqn, int lun, PdIOFlags flags)
{
    g_autoptr(GError) error = NULL;
    PdIscsiTarget t = tgt_target(fx, iqn);
    PdIO *io = pd_io_iscsi_open(&t, lun, flags, &error);
    g_assert_no_error(error);
    g_assert_nonnull(io);
    return io;
}

/* The bytes [offset, offset+len) of a LUN's backing file. */
static uint8_t *file_bytes(const char *lun_file, uint64_t offset, size_t len)
{
    g_autofree char *path = tgt_lun_file(fx, lun_file);
    size_t size;
    g_autofree uint8_t *all = it_read_file(path, &size);
    g_assert_cmpuint(offset + len, <=, size);
    return g_memdup2(all + offset, len);
}

static void test_sizes(void)
{
    struct {
        int lun;
        uint64_t size;
        uint32_t block;
    } want[] = {{1, 64 * MiB, 512}, {2, 128 * MiB, 512}, {3, 32 * MiB, 4096}, {4, 16 * MiB, 512}};
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        g_autoptr(PdIO) io = open_lun(TGT_IQN_PLAIN, want[i].lun, PD_IO_RDONLY);
        uint64_t size = 0;
        g_assert_true(pd_io_get_size(io, &size, NULL));
        g_assert_cmpuint(size, ==, want[i].size);
        g_assert_cmpuint(pd_io_iscsi_block_size(io), ==, want[i].block);
        g_assert_cmpint(io->ops->allocated(io), ==, (int64_t)want[i].size);
        g_autofree char *name =
            g_strdup_printf("iscsi://127.0.0.1:%u/%s/%d", fx->port, TGT_IQN_PLAIN, want[i].lun);
        g_assert_cmpstr(io->name, ==, name);
    }
}

/* Unaligned writes land exactly where asked in the backing file, neighbours untouched, and
 * read back the same through the LUN. */
static void check_unaligned(int lun, const char *file)
{
    g_autoptr(PdIO) io = open_lun(TGT_IQN_PLAIN, lun, PD_IO_RDWR);
    ItRand r;
    it_rand_seed(&r, 42 + (uint64_t)lun);
    const struct {
        uint64_t offset;
        size_t len;
    } cases[] = {{0, 1}, {4095, 3}, {1000, 5000}, {8191, 70001}, {3 * MiB - 7, 2 * MiB + 9}};
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint64_t off = cases[i].offset;
        size_t len = cases[i].len;
        g_autofree uint8_t *before = file_bytes(file, off - (off ? 1 : 0), len + 2);
        g_autofree uint8_t *data = g_malloc(len);
        it_rand_fill(&r, data, len);
        g_autoptr(GError) error = NULL;
        g_assert_true(pd_io_pwrite_full(io, data, len, off, &error));
        g_assert_no_error(error);
        g_assert_true(pd_io_flush(io, &error));
        g_autofree uint8_t *back = g_malloc(len);
        g_assert_true(pd_io_pread_full(io, back, len, off, &error));
        g_assert_cmpint(it_first_difference(back, data, len), ==, -1);
        g_autofree uint8_t *after = file_bytes(file, off - (off ? 1 : 0), len + 2);
        size_t lead = off ? 1 : 0;
        g_assert_cmpint(it_first_difference(after + lead, data, len), ==, -1);
        if (lead)
            g_assert_cmpuint(after[0], ==, before[0]);
        g_assert_cmpuint(after[lead + len], ==, before[lead + len]);
    }
    /* past the end: reads are short, writes refused */
    uint8_t buf[16];
    uint64_t size = (uint64_t)io->ops->size(io);
    g_assert_cmpint(io->ops->pread(io, buf, sizeof buf, size - 4), ==, 4);
    g_assert_cmpint(io->ops->pread(io, buf, sizeof buf, size), ==, 0);
    g_assert_cmpint(io->ops->pwrite(io, buf, sizeof buf, size - 4), ==, -ENOSPC);
    g_assert_cmpint(io->ops->truncate(io, size), ==, 0);
    g_assert_cmpint(io->ops->truncate(io, size + 512), ==, -ENOSPC);
}

static void test_unaligned_512(void)
{
    check_unaligned(1, "plain1.img");
}

static void test_unaligned_4k(void)
{
    check_unaligned(3, "plain3.img");
}

/* UNMAP on the thin LUN: the range reads as zeroes, the edges keep their bytes; the thick
 * LUN answers ENOTSUP. */
static void test_discard(void)
{
    g_autoptr(PdIO) io = open_lun(TGT_IQN_PLAIN, 2, PD_IO_RDWR);
    g_autofree uint8_t *data = g_malloc(4 * MiB);
    memset(data, 0xa5, 4 * MiB);
    g_assert_true(pd_io_pwrite_full(io, data, 4 * MiB, 0, NULL));
    g_assert_cmpint(io->ops->discard(io, 100, 3 * MiB), ==, 0);
    g_autofree uint8_t *back = file_bytes("plain2.img", 0, 4 * MiB);
    for (size_t i = 0; i < 4 * MiB; i++) {
        uint8_t want = (i >= 100 && i < 100 + 3 * MiB) ? 0 : 0xa5;
        if (back[i] != want)
            g_error("byte %zu after discard: 0x%02x, expected 0x%02x", i, back[i], want);
    }
    g_autoptr(PdIO) thick = open_lun(TGT_IQN_PLAIN, 1, PD_IO_RDWR);
    g_assert_cmpint(thick->ops->discard(thick, 0, MiB), ==, -ENOTSUP);
}

static void expect_open_error(PdIscsiTarget *t, int lun, PdIOFlags flags, int code,
                              const char *const *words)
{
    g_autoptr(GError) error = NULL;
    PdIO *io = pd_io_iscsi_open(t, lun, flags, &error);
    g_assert_null(io);
    g_assert_error(error, PD_ERROR, code);
    for (; *words; words++) {
        if (!strstr(error->message, *words))
            g_error("'%s' missing in: %s", *words, error->message);
    }
    g_assert_null(strstr(error->message, TGT_CHAP_SECRET));
}

/* With the right CHAP user and secret the LUN opens and takes writes. */
static void test_chap(void)
{
    g_autoptr(GError) error = NULL;
    PdIscsiTarget t = tgt_target(fx, TGT_IQN_CHAP);
    t.username = TGT_CHAP_USER;
    t.password = TGT_CHAP_SECRET;
    g_autoptr(PdIO) io = pd_io_iscsi_open(&t, 1, PD_IO_RDWR, &error);
    g_assert_no_error(error);
    g_assert_cmpint(io->ops->size(io), ==, 48 * MiB);
    g_assert_null(strstr(io->name, TGT_CHAP_SECRET));
    g_assert_true(pd_io_pwrite_full(io, "chap!", 5, 12345, &error));
    g_assert_true(pd_io_flush(io, &error));
    g_autofree uint8_t *back = file_bytes("chap1.img", 12345, 5);
    g_assert_cmpmem(back, 5, "chap!", 5);
}

static void test_errors(void)
{
    PdIscsiTarget t = tgt_target(fx, TGT_IQN_CHAP);
    expect_open_error(&t, 1, PD_IO_RDONLY, PD_ERROR_PERMISSION_DENIED,
                      (const char *const[]){TGT_IQN_CHAP, "authentication failure", NULL});
    t.username = TGT_CHAP_USER;
    t.password = "wrong-secret";
    expect_open_error(&t, 1, PD_IO_RDONLY, PD_ERROR_PERMISSION_DENIED,
                      (const char *const[]){"authentication failure", "wrong CHAP", NULL});
    t = tgt_target(fx, "iqn.2026-11.io.poold.test:nosuch");
    expect_open_error(&t, 1, PD_IO_RDONLY, PD_ERROR_NOT_FOUND,
                      (const char *const[]){"iqn.2026-11.io.poold.test:nosuch", "not found", NULL});
    t = tgt_target(fx, TGT_IQN_PLAIN);
    expect_open_error(&t, 9, PD_IO_RDONLY, PD_ERROR_NOT_FOUND,
                      (const char *const[]){TGT_IQN_PLAIN, "no LUN 9", NULL});
    expect_open_error(&t, 0, PD_IO_RDONLY, PD_ERROR_UNSUPPORTED,
                      (const char *const[]){"/0", "not a disk", NULL});
    expect_open_error(&t, 4, PD_IO_RDWR, PD_ERROR_READ_ONLY,
                      (const char *const[]){TGT_IQN_PLAIN "/4", "read-only", NULL});
    t.port = fx->port == 65535 ? 1 : fx->port + 1; /* nothing listens there */
    expect_open_error(&t, 1, PD_IO_RDONLY, PD_ERROR_IO,
                      (const char *const[]){"cannot reach iSCSI portal 127.0.0.1", NULL});
    /* the read-only LUN reads fine */
    g_autoptr(PdIO) ro = open_lun(TGT_IQN_PLAIN, 4, PD_IO_RDONLY);
    uint8_t buf[512];
    g_assert_true(pd_io_pread_full(ro, buf, sizeof buf, 0, NULL));
}

/* The engine makes a qcow2 image on a LUN; qemu-img finds it clean and equal to a raw file
 * written with the same data. 512-byte clusters: a refcount block covers 128 KiB, so the
 * writes need new ones, which must land inside the LUN (not past its end, where a file would
 * grow). */
static void test_qcow2(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *tmp = it_mkdtemp_fast("io-iscsi");
    g_autofree char *ref = g_build_filename(tmp, "ref.raw", NULL);
    PdCreateOptions raw_opts = {.format = PD_FORMAT_RAW, .size = 40 * MiB};
    g_assert_true(pd_image_create(ref, &raw_opts, false, &error));
    g_autoptr(PdImage) want = pd_image_open(ref, PD_FORMAT_RAW, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);

    PdIO *io = open_lun(TGT_IQN_PLAIN, 1, PD_IO_RDWR);
    /* a LUN is not empty like a new file: old bytes everywhere must not leak into the image */
    g_autofree uint8_t *old = g_malloc(4 * MiB);
    memset(old, 0xff, 4 * MiB);
    for (uint64_t off = 0; off < 64 * MiB; off += 4 * MiB)
        g_assert_true(pd_io_pwrite_full(io, old, 4 * MiB, off, &error));
    PdCreateOptions opts = {.format = PD_FORMAT_QCOW2, .size = 40 * MiB, .cluster_size = 512};
    g_assert_true(pd_image_create_io(io, &opts, &error));
    g_assert_no_error(error);
    g_autoptr(PdImage) img = pd_image_open_io(io, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    ItRand r;
    it_rand_seed(&r, 7);
    g_autofree uint8_t *buf = g_malloc(300000);
    for (int i = 0; i < 12; i++) {
        uint64_t off = it_rand_below(&r, 40 * MiB - 300000);
        size_t len = 1 + it_rand_below(&r, 300000);
        it_rand_fill(&r, buf, len);
        g_assert_true(pd_image_write(img, off, buf, len, &error));
        g_assert_true(pd_image_write(want, off, buf, len, &error));
        g_assert_no_error(error);
    }
    g_assert_true(pd_image_flush(img, &error));
    g_assert_no_error(error);
    g_clear_pointer(&img, pd_image_close);
    g_clear_pointer(&want, pd_image_close);

    g_autofree char *lun_file = tgt_lun_file(fx, "plain1.img");
    g_autofree char *out = NULL;
    int rc = it_qemu_img_check(lun_file, &out);
    if (rc != 0)
        g_error("qemu-img check of the qcow2 made on the LUN: %d\n%s", rc, out);
    g_clear_pointer(&out, g_free);
    rc = it_qemu_img_compare(lun_file, "qcow2", ref, "raw", &out);
    if (rc != 0)
        g_error("qemu-img compare: %d\n%s", rc, out);
    /* and our engine reads it back through the LUN */
    PdIO *again = open_lun(TGT_IQN_PLAIN, 1, PD_IO_RDONLY);
    g_autoptr(PdImage) ro = pd_image_open_io(again, PD_FORMAT_QCOW2, PD_OPEN_RDONLY, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(pd_image_size(ro), ==, 40 * MiB);
    it_rmtree(tmp);
}

/* A target that stops answering fails the command within the timeout (3 s); one that
 * vanishes fails it at once; later calls fail too, without hanging. */
static void test_target_gone(void)
{
    g_autoptr(PdIO) io = open_lun(TGT_IQN_PLAIN, 1, PD_IO_RDWR);
    uint8_t buf[4096];
    g_assert_cmpint(io->ops->pread(io, buf, sizeof buf, 0), ==, sizeof buf);
    tgt_fixture_do(fx, "freeze");
    gint64 t0 = g_get_monotonic_time();
    ssize_t r = io->ops->pread(io, buf, sizeof buf, 0);
    double secs = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    tgt_fixture_do(fx, "thaw");
    g_test_message("frozen target: read failed with %zd after %.2f s", r, secs);
    g_assert_cmpint(r, ==, -ETIMEDOUT);
    g_assert_cmpfloat(secs, <, 3 + 2.5);
    g_assert_cmpint(io->ops->pwrite(io, buf, sizeof buf, 0), <, 0);

    g_autoptr(PdIO) io2 = open_lun(TGT_IQN_PLAIN, 2, PD_IO_RDWR);
    g_assert_cmpint(io2->ops->pread(io2, buf, sizeof buf, 0), ==, sizeof buf);
    tgt_fixture_do(fx, "kill");
    t0 = g_get_monotonic_time();
    r = io2->ops->pwrite(io2, buf, sizeof buf, 0);
    secs = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    g_test_message("killed target: write failed with %zd after %.2f s", r, secs);
    g_assert_true(r == -ENOTCONN || r == -ETIMEDOUT);
    g_assert_cmpfloat(secs, <, 3 + 2.5);
    g_autoptr(GError) error = NULL;
    g_assert_false(pd_io_flush(io2, &error));
    g_assert_nonnull(strstr(error->message, io2->name));
    tgt_fixture_restart(fx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    it_require_tool("qemu-img", "the oracle of the qcow2 test");
    fx = tgt_fixture_start();
    g_test_add_func("/io-iscsi/sizes", test_sizes);
    g_test_add_func("/io-iscsi/unaligned-512", test_unaligned_512);
    g_test_add_func("/io-iscsi/unaligned-4k", test_unaligned_4k);
    g_test_add_func("/io-iscsi/discard", test_discard);
    g_test_add_func("/io-iscsi/chap", test_chap);
    g_test_add_func("/io-iscsi/errors", test_errors);
    g_test_add_func("/io-iscsi/qcow2", test_qcow2);
    g_test_add_func("/io-iscsi/target-gone", test_target_gone);
    return g_test_run();
}
