/* PdIO over libnfs against a real nfs-ganesha (run by nfs-server.sh, which sets NFS_SERVER,
 * NFS_EXPORT and NFS_GANESHA_PID): bytes in and out, size, truncate, flush, allocation,
 * reopen on a second connection, qcow2 images and a backing chain written over NFS and checked
 * with qemu-img on the server's own directory, and the errors: wrong export, nothing
 * listening, a path leaving the export, and a frozen server (SIGSTOP) that must fail within
 * the timeout. Without the fixture's environment the test exits 77. */
#include "common/pd-error.h"
#include "formats/image/image.h"
#include "formats/io/nfs/io-nfs.h"
#include "tests/interop/interop-util.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#define MiB (1024 * 1024)

static const char *server, *export_dir;

static PdNfsConn *connect_export(const char *export, unsigned nfs_port, unsigned timeout_ms,
                                 GError **error)
{
    PdNfsTarget t = {.server = server,
                     .export = export,
                     .nfs_port = nfs_port,
                     .mount_port = nfs_port ? 20048 : 0,
                     .timeout_ms = timeout_ms};
    return pd_nfs_connect(&t, error);
}

static PdNfsConn *connect_ok(unsigned timeout_ms)
{
    g_autoptr(GError) error = NULL;
    PdNfsConn *c = connect_export(export_dir, 0, timeout_ms, &error);
    g_assert_no_error(error);
    return c;
}

static char *server_path(const char *name)
{
    return g_build_filename(export_dir, name, NULL);
}

static void test_bytes(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdNfsConn) c = connect_ok(0);
    g_autoptr(PdIO) io =
        pd_io_nfs_open(c, "bytes.bin", PD_IO_RDWR | PD_IO_CREATE | PD_IO_EXCL, 0600, &error);
    g_assert_no_error(error);
    g_autofree char *url = g_strdup_printf("nfs://%s%s/bytes.bin", server, export_dir);
    g_assert_cmpstr(io->name, ==, url);

    /* 3 MiB of a pattern across the server's transfer size, at an odd offset */
    size_t len = 3 * MiB;
    g_autofree uint8_t *out = g_malloc(len), *in = g_malloc(len);
    ItRand r;
    it_rand_seed(&r, 7);
    it_rand_fill(&r, out, len);
    g_assert_true(pd_io_pwrite_full(io, out, len, 4097, &error));
    g_assert_true(pd_io_flush(io, &error));
    g_assert_no_error(error);
    uint64_t size = 0;
    g_assert_true(pd_io_get_size(io, &size, &error));
    g_assert_cmpuint(size, ==, len + 4097);
    g_assert_true(pd_io_pread_full(io, in, len, 4097, &error));
    g_assert_cmpmem(in, len, out, len);
    /* what the server stored is what was written */
    g_autofree char *path = server_path("bytes.bin");
    size_t file_len = 0;
    g_autofree uint8_t *file = it_read_file(path, &file_len);
    g_assert_cmpuint(file_len, ==, len + 4097);
    g_assert_cmpmem(file + 4097, len, out, len);

    /* truncate grows sparsely and reads back zeroes; allocation stays small */
    g_assert_true(pd_io_truncate(io, 1024ull * MiB, &error));
    g_assert_cmpint(io->ops->size(io), ==, 1024ll * MiB);
    int64_t allocated = io->ops->allocated(io);
    g_assert_cmpint(allocated, >=, (int64_t)len);
    g_assert_cmpint(allocated, <, 64ll * MiB);
    g_assert_true(pd_io_pread_full(io, in, 4096, 512ull * MiB, &error));
    for (int i = 0; i < 4096; i++)
        g_assert_cmpuint(in[i], ==, 0);
    /* reads past the end are short, then zero-filled by the helper */
    g_assert_cmpint(io->ops->pread(io, in, 8192, 1024ull * MiB - 100), ==, 100);
    g_assert_cmpint(io->ops->discard(io, 0, 4096), ==, -ENOTSUP);

    /* a second connection reads the same bytes */
    g_autoptr(PdIO) again = io->ops->reopen(io, &error);
    g_assert_no_error(error);
    g_assert_true(again->read_only);
    g_assert_true(pd_io_pread_full(again, in, len, 4097, &error));
    g_assert_cmpmem(in, len, out, len);

    /* an exclusive create of an existing file fails, naming it */
    g_autoptr(PdIO) dup =
        pd_io_nfs_open(c, "bytes.bin", PD_IO_RDWR | PD_IO_CREATE | PD_IO_EXCL, 0600, &error);
    g_assert_null(dup);
    g_assert_error(error, PD_ERROR, PD_ERROR_EXISTS);
    g_assert_nonnull(strstr(error->message, url));
    g_clear_error(&error);
    g_assert_true(pd_nfs_unlink(c, "bytes.bin", &error));
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

/* qcow2 images and a backing chain written over NFS are valid for qemu-img on the server. */
static void test_qcow2_chain(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdNfsConn) c = connect_ok(0);
    g_assert_true(pd_nfs_mkdir(c, "chain", 0755, &error));
    g_assert_no_error(error);

    PdIO *base_io = pd_io_nfs_open(c, "chain/base.raw", PD_IO_RDWR | PD_IO_CREATE, 0644, &error);
    g_assert_no_error(error);
    PdCreateOptions raw = {.format = PD_FORMAT_RAW, .size = 16 * MiB};
    g_assert_true(pd_image_create_io(base_io, &raw, &error));
    g_autoptr(PdImage) base = pd_image_open_io(base_io, PD_FORMAT_RAW, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    uint8_t block[65536];
    memset(block, 0xb1, sizeof(block));
    g_assert_true(pd_image_write(base, 0, block, sizeof(block), &error));
    g_assert_true(pd_image_write(base, 8 * MiB, block, sizeof(block), &error));
    g_assert_true(pd_image_flush(base, &error));
    g_clear_pointer(&base, pd_image_close);

    PdIO *top_io = pd_io_nfs_open(c, "chain/top.qcow2", PD_IO_RDWR | PD_IO_CREATE, 0644, &error);
    g_assert_no_error(error);
    PdCreateOptions qcow2 = {
        .format = PD_FORMAT_QCOW2, .backing_file = "base.raw", .backing_format = PD_FORMAT_RAW};
    g_assert_true(pd_image_create_io(top_io, &qcow2, &error));
    g_assert_no_error(error);
    g_autoptr(PdImage) top = pd_image_open_io(top_io, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(pd_image_size(top), ==, 16 * MiB);
    g_assert_nonnull(pd_image_backing(top));
    memset(block, 0x70, sizeof(block));
    g_assert_true(pd_image_write(top, 8 * MiB, block, sizeof(block), &error));
    g_assert_true(pd_image_flush(top, &error));
    uint8_t check[65536];
    g_assert_true(pd_image_read(top, 0, check, sizeof(check), &error));
    g_assert_cmpuint(check[0], ==, 0xb1); /* from the backing file, over NFS */
    g_assert_true(pd_image_read(top, 8 * MiB, check, sizeof(check), &error));
    g_assert_cmpuint(check[100], ==, 0x70);
    g_clear_pointer(&top, pd_image_close);

    g_autofree char *top_path = server_path("chain/top.qcow2");
    g_autofree char *info = NULL;
    g_assert_cmpint(it_qemu_img_check(top_path, &info), ==, 0);
    g_clear_pointer(&info, g_free);
    it_run_ok("qemu-img", "info", "--backing-chain", top_path, NULL);
    g_assert_cmpint(it_runv(&info, NULL, "qemu-img", "info", "-U", top_path, NULL), ==, 0);
    g_assert_nonnull(strstr(info, "backing file: base.raw"));
    g_assert_nonnull(strstr(info, "backing file format: raw"));

    /* a backing file outside the export is refused */
    PdIO *evil_io = pd_io_nfs_open(c, "chain/evil.qcow2", PD_IO_RDWR | PD_IO_CREATE, 0644, &error);
    g_assert_no_error(error);
    PdCreateOptions evil = {.format = PD_FORMAT_QCOW2,
                            .size = MiB,
                            .backing_file = "../../../../etc/passwd",
                            .backing_format = PD_FORMAT_RAW};
    g_assert_false(pd_image_create_io(evil_io, &evil, &error));
    g_test_message("backing outside: %s", error->message);
    g_assert_nonnull(strstr(error->message, "outside the NFS export"));
    g_clear_error(&error);
    pd_io_close(evil_io);
    for (const char *const *n =
             (const char *const[]){"chain/evil.qcow2", "chain/top.qcow2", "chain/base.raw", NULL};
         *n; n++)
        g_assert_true(pd_nfs_unlink(c, *n, &error));
    g_assert_true(pd_nfs_rmdir(c, "chain", &error));
    g_assert_no_error(error);
}

/* Listing, stat, statvfs, rename. */
static void test_dir_ops(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdNfsConn) c = connect_ok(0);
    g_autofree char *a = server_path("b-file");
    it_write_file(a, "hello", 5);
    g_assert_true(pd_nfs_rename(c, "b-file", "a-file", &error));
    g_assert_no_error(error);
    GArray *list = NULL;
    g_assert_true(pd_nfs_list_dir(c, "/", &list, &error));
    g_assert_cmpuint(list->len, ==, 1);
    PdNfsDirent *e = &g_array_index(list, PdNfsDirent, 0);
    g_assert_cmpstr(e->name, ==, "a-file");
    g_assert_cmpuint(e->st.size, ==, 5);
    g_assert_true(S_ISREG(e->st.mode));
    g_array_unref(list);
    PdNfsStat st;
    g_assert_true(pd_nfs_stat(c, "a-file", &st, &error));
    g_assert_cmpuint(st.size, ==, 5);
    g_assert_false(pd_nfs_stat(c, "missing", &st, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_NOT_FOUND);
    g_clear_error(&error);
    uint64_t capacity = 0, allocation = 0, available = 0;
    g_assert_true(pd_nfs_statvfs(c, &capacity, &allocation, &available, &error));
    g_assert_cmpuint(allocation, <=, capacity);
    g_assert_cmpuint(capacity, >, 0);
    g_assert_cmpuint(available, <=, capacity);
    g_assert_false(pd_nfs_stat(c, "../../etc", &st, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_assert_true(pd_nfs_unlink(c, "a-file", &error));

    g_auto(GStrv) exports = NULL;
    g_assert_true(pd_nfs_list_exports(server, 5000, &exports, &error));
    g_assert_no_error(error);
    g_assert_true(g_strv_contains((const char *const *)exports, export_dir));
}

static void test_errors(void)
{
    g_autoptr(GError) error = NULL;
    /* an export the server does not have */
    g_autoptr(PdNfsConn) c = connect_export("/no/such/export", 0, 5000, &error);
    g_assert_null(c);
    g_test_message("wrong export: %s", error->message);
    g_assert_nonnull(strstr(error->message, "/no/such/export"));
    g_assert_nonnull(strstr(error->message, server));
    g_clear_error(&error);
    /* nothing listening */
    gint64 t0 = g_get_monotonic_time();
    c = connect_export(export_dir, 2999, 5000, &error);
    g_assert_null(c);
    g_test_message("nothing listening: %s", error->message);
    g_assert_nonnull(strstr(error->message, server));
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
    g_clear_error(&error);
    /* a host with no route (the namespace has loopback only) */
    PdNfsTarget t = {.server = "192.0.2.1", .export = "/e", .timeout_ms = 2000};
    t0 = g_get_monotonic_time();
    c = pd_nfs_connect(&t, &error);
    g_assert_null(c);
    g_test_message("unreachable: %s", error->message);
    g_assert_nonnull(strstr(error->message, "192.0.2.1"));
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 4 * G_USEC_PER_SEC);
    g_clear_error(&error);
    /* a malformed export */
    t = (PdNfsTarget){.server = server, .export = "/e?version=4"};
    g_assert_null(pd_nfs_connect(&t, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
}

/* A frozen server: every call fails after the timeout (2 s here), naming the server. */
static void test_frozen_server(void)
{
    const char *pid_text = g_getenv("NFS_GANESHA_PID");
    g_assert_nonnull(pid_text);
    pid_t pid = (pid_t)g_ascii_strtoll(pid_text, NULL, 10);
    g_autoptr(GError) error = NULL;
    g_autoptr(PdNfsConn) c = connect_ok(2000);
    g_autoptr(PdIO) io = pd_io_nfs_open(c, "frozen.bin", PD_IO_RDWR | PD_IO_CREATE, 0600, &error);
    g_assert_no_error(error);
    uint8_t buf[4096] = {1};

    g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);
    gint64 t0 = g_get_monotonic_time();
    bool ok = pd_io_pwrite_full(io, buf, sizeof(buf), 0, &error) && pd_io_flush(io, &error);
    gint64 write_us = g_get_monotonic_time() - t0;
    g_assert_false(ok);
    g_test_message("frozen write after %.1f s: %s", write_us / 1e6, error->message);
    g_assert_nonnull(strstr(error->message, "timed out"));
    g_clear_error(&error);

    t0 = g_get_monotonic_time();
    PdNfsTarget t = {.server = server, .export = export_dir, .timeout_ms = 2000};
    g_autoptr(PdNfsConn) c2 = pd_nfs_connect(&t, &error);
    gint64 mount_us = g_get_monotonic_time() - t0;
    g_assert_null(c2);
    g_test_message("frozen mount after %.1f s: %s", mount_us / 1e6, error->message);
    g_assert_nonnull(strstr(error->message, "did not answer within 2 s"));
    g_assert_nonnull(strstr(error->message, server));
    g_clear_error(&error);

    t0 = g_get_monotonic_time();
    g_auto(GStrv) exports = NULL;
    g_assert_false(pd_nfs_list_exports(server, 2000, &exports, &error));
    gint64 exports_us = g_get_monotonic_time() - t0;
    g_test_message("frozen export list after %.1f s: %s", exports_us / 1e6, error->message);
    g_clear_error(&error);
    g_assert_cmpint(kill(pid, SIGCONT), ==, 0);

    /* each call ends after its timeout (2 s), with slack for a loaded machine */
    g_assert_cmpint(write_us, >=, 1500000);
    g_assert_cmpint(write_us, <, 5 * G_USEC_PER_SEC);
    g_assert_cmpint(mount_us, <, 5 * G_USEC_PER_SEC);
    g_assert_cmpint(exports_us, <, 5 * G_USEC_PER_SEC);

    /* the server answers again on a fresh connection */
    g_autoptr(PdNfsConn) c3 = connect_ok(5000);
    g_assert_true(pd_nfs_unlink(c3, "frozen.bin", &error));
    g_assert_no_error(error);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    server = g_getenv("NFS_SERVER");
    export_dir = g_getenv("NFS_EXPORT");
    if (!server || !export_dir) {
        g_print("1..0 # SKIP needs the NFS server of tests/backends/nfs-server.sh\n");
        return TEST_EXIT_SKIP;
    }
    it_require_tool("qemu-img", "the oracle for images written over NFS");
    g_test_add_func("/io-nfs/bytes", test_bytes);
    g_test_add_func("/io-nfs/qcow2-chain", test_qcow2_chain);
    g_test_add_func("/io-nfs/dir-ops", test_dir_ops);
    g_test_add_func("/io-nfs/errors", test_errors);
    g_test_add_func("/io-nfs/frozen-server", test_frozen_server);
    return g_test_run();
}
