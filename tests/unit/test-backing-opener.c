/* The backing-chain opener of the image engine (formats/image.h, PdBackingOpener), on chains
 * qemu-img makes with -u (the backing file recorded, not opened):
 *   - the default opener follows qemu-img's rules (relative to the overlay) and reads what
 *     qemu-img reads;
 *   - a FIFO, a character device or a socket as backing file is refused at once (a FIFO's
 *     open would wait for a writer for good), also deeper in the chain;
 *   - a loop a -> b -> a, or a -> a, is refused as a loop (st_dev, st_ino), also when the loop
 *     goes through a second name of the same file (a hard link);
 *   - a caller's opener is called for every element with the recorded name and format and
 *     the top image, its refusal ends the open with its own message, and it applies to
 *     pd_image_create's backing file too; the process default can be replaced and restored.
 * Without qemu-img the test exits 77. */
#include "formats/image/image.h"
#include "common/pd-error.h"
#include "../interop/interop-util.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char *tmpdir;

static char *path_in(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

/* qemu-img create -f qcow2 -u -b BACKING -F FMT NAME 1M, in tmpdir (relative names work). */
static void plant(const char *name, const char *backing, const char *fmt)
{
    g_autofree char *path = path_in(name);
    it_run_ok("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", fmt, path, "1M",
              NULL);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "open of a FIFO backing file blocked\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(1);
}

/* Opens @name with its chain; expects a failure whose message holds @want. */
static void assert_open_fails(const char *name, const char *want)
{
    g_autofree char *path = path_in(name);
    g_autoptr(GError) error = NULL;
    alarm(10); /* a blocking open would never return */
    g_autoptr(PdImage) img = pd_image_open(path, PD_FORMAT_QCOW2, PD_OPEN_RDONLY, &error);
    alarm(0);
    g_assert_null(img);
    g_assert_nonnull(error);
    if (!strstr(error->message, want))
        g_printerr("message: %s\nwanted: %s\n", error->message, want);
    g_assert_nonnull(strstr(error->message, want));
}

static void test_default_reads(void)
{
    g_autofree char *base = path_in("base.raw");
    g_autofree char *data = g_strnfill(4096, 'B');
    it_write_file(base, data, 4096);
    plant("ov.qcow2", "base.raw", "raw");
    g_autofree char *ov = path_in("ov.qcow2");
    g_autoptr(GError) error = NULL;
    g_autoptr(PdImage) img = pd_image_open(ov, PD_FORMAT_QCOW2, PD_OPEN_RDONLY, &error);
    g_assert_no_error(error);
    uint8_t buf[4096];
    g_assert_true(pd_image_read(img, 0, buf, sizeof buf, &error));
    g_assert_cmpmem(buf, sizeof buf, data, 4096);
}

static void test_fifo(void)
{
    g_autofree char *fifo = path_in("fifo");
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    plant("fifo.qcow2", "fifo", "raw");
    assert_open_fails("fifo.qcow2", "is a FIFO");
    /* deeper in the chain: top -> mid -> fifo */
    plant("mid.qcow2", "fifo", "raw");
    plant("top.qcow2", "mid.qcow2", "qcow2");
    assert_open_fails("top.qcow2", "is a FIFO");
}

static void test_devices(void)
{
    plant("chr.qcow2", "/dev/zero", "raw");
    assert_open_fails("chr.qcow2", "is a character device");
    g_autofree char *sock = path_in("sock");
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    g_assert_cmpuint(strlen(sock), <, sizeof addr.sun_path);
    strcpy(addr.sun_path, sock);
    g_assert_cmpint(bind(s, (struct sockaddr *)&addr, sizeof addr), ==, 0);
    plant("sock.qcow2", "sock", "raw");
    assert_open_fails("sock.qcow2", "is a socket");
    close(s);
}

static void test_loops(void)
{
    plant("la.qcow2", "lb.qcow2", "qcow2");
    plant("lb.qcow2", "la.qcow2", "qcow2");
    assert_open_fails("la.qcow2", "the backing chain loops");
    plant("self.qcow2", "self.qcow2", "qcow2");
    assert_open_fails("self.qcow2", "the backing chain loops");
    /* the same file under a second name: a name check would not see it */
    plant("hl.qcow2", "hl-other-name.qcow2", "qcow2");
    g_autofree char *a = path_in("hl.qcow2");
    g_autofree char *b = path_in("hl-other-name.qcow2");
    g_assert_cmpint(link(a, b), ==, 0);
    assert_open_fails("hl.qcow2", "the backing chain loops");
}

typedef struct {
    int calls;
    GPtrArray *names;
    const char *refuse; /* a name to refuse */
} Seen;

static PdIO *recording_open(PdIO *overlay, const char *name, PdFormat format, PdIO *top, void *data,
                            GError **error)
{
    Seen *seen = data;
    seen->calls++;
    g_ptr_array_add(seen->names, g_strdup_printf("%s|%s|%s", name, pd_format_name(format),
                                                 strrchr(top->name, '/') + 1));
    if (seen->refuse && g_str_equal(name, seen->refuse)) {
        g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED, "policy says no to '%s'", name);
        return NULL;
    }
    return pd_backing_open_default(overlay, name, format, top, NULL, error);
}

static void test_caller_opener(void)
{
    g_autofree char *base = path_in("cbase.raw");
    g_autofree char *bytes = g_strnfill(4096, 'x');
    it_write_file(base, bytes, 4096);
    plant("c1.qcow2", "cbase.raw", "raw");
    plant("c2.qcow2", "c1.qcow2", "qcow2");
    Seen seen = {.names = g_ptr_array_new_with_free_func(g_free)};
    PdBackingOpener opener = {recording_open, &seen};
    g_autofree char *c2 = path_in("c2.qcow2");
    g_autoptr(GError) error = NULL;
    PdImage *img = pd_image_open_io_with(pd_io_file_open(c2, PD_IO_RDONLY, 0, &error),
                                         PD_FORMAT_QCOW2, PD_OPEN_RDONLY, &opener, &error);
    g_assert_no_error(error);
    pd_image_close(img);
    g_assert_cmpint(seen.calls, ==, 2);
    g_assert_cmpstr(seen.names->pdata[0], ==, "c1.qcow2|qcow2|c2.qcow2");
    g_assert_cmpstr(seen.names->pdata[1], ==, "cbase.raw|raw|c2.qcow2");

    /* a refusal deeper in the chain: the policy's sentence, not a wrapped errno */
    seen.refuse = "cbase.raw";
    img = pd_image_open_io_with(pd_io_file_open(c2, PD_IO_RDONLY, 0, NULL), PD_FORMAT_QCOW2,
                                PD_OPEN_RDONLY, &opener, &error);
    g_assert_null(img);
    g_assert_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED);
    g_assert_nonnull(strstr(error->message, "policy says no to 'cbase.raw'"));
    g_clear_error(&error);

    /* as the process default: pd_image_open and pd_image_create use it */
    pd_image_set_default_backing_opener(&opener);
    g_autofree char *c1 = path_in("c1.qcow2");
    img = pd_image_open(c1, PD_FORMAT_QCOW2, PD_OPEN_RDONLY, &error);
    g_assert_null(img);
    g_clear_error(&error);
    g_autofree char *nv = path_in("new.qcow2");
    PdCreateOptions opts = {
        .format = PD_FORMAT_QCOW2, .backing_file = "cbase.raw", .backing_format = PD_FORMAT_RAW};
    g_assert_false(pd_image_create(nv, &opts, false, &error));
    g_assert_nonnull(strstr(error->message, "policy says no"));
    g_assert_false(g_file_test(nv, G_FILE_TEST_EXISTS));
    g_clear_error(&error);
    pd_image_set_default_backing_opener(NULL);
    bool created = pd_image_create(nv, &opts, false, &error);
    g_assert_no_error(error);
    g_assert_true(created);
    g_ptr_array_unref(seen.names);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    it_require_tool("qemu-img", "makes the planted chains");
    signal(SIGALRM, on_alarm);
    tmpdir = it_mkdtemp("test-backing-opener");
    g_test_add_func("/backing-opener/default-reads", test_default_reads);
    g_test_add_func("/backing-opener/fifo", test_fifo);
    g_test_add_func("/backing-opener/devices", test_devices);
    g_test_add_func("/backing-opener/loops", test_loops);
    g_test_add_func("/backing-opener/caller", test_caller_opener);
    int r = g_test_run();
    it_rmtree(tmpdir);
    return r;
}
