/* The scored probe (formats/image/registry.c): the best-scoring driver wins, raw only when
 * nothing matches, formats poolfmt cannot read are refused by name, a recorded format is
 * never guessed over, and a guessed raw image refuses writes that would change what block 0
 * probes as (qemu's rule). */
#include "formats/image/image.h"
#include "common/pd-error.h"

#include <glib/gstdio.h>
#include <string.h>

static char *tmpdir;

static char *file_with_head(const char *name, const void *head, size_t len, uint64_t size)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    g_autoptr(GError) error = NULL;
    PdIO *io = pd_io_file_open(path, PD_IO_RDWR | PD_IO_CREATE | PD_IO_TRUNC, 0644, &error);
    g_assert_no_error(error);
    g_assert_true(pd_io_truncate(io, size, &error));
    if (len)
        g_assert_true(pd_io_pwrite_full(io, head, len, 0, &error));
    pd_io_close(io);
    return path;
}

static PdFormat probe_path(const char *path, GError **error)
{
    PdIO *io = pd_io_file_open(path, PD_IO_RDONLY, 0, error);
    g_assert_nonnull(io);
    PdFormat f = pd_image_probe(io, error);
    pd_io_close(io);
    return f;
}

static void test_raw_when_nothing_matches(void)
{
    g_autofree char *empty = file_with_head("empty", NULL, 0, 0);
    g_autofree char *zeroes = file_with_head("zeroes", NULL, 0, 1 << 20);
    g_autofree char *text = file_with_head("text", "hello", 5, 100);
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(probe_path(empty, &error), ==, PD_FORMAT_RAW);
    g_assert_cmpint(probe_path(zeroes, &error), ==, PD_FORMAT_RAW);
    g_assert_cmpint(probe_path(text, &error), ==, PD_FORMAT_RAW);
    g_assert_no_error(error);
}

static void test_qcow2_by_magic_and_version(void)
{
    g_autofree char *q2 = file_with_head("q2", "QFI\xfb\0\0\0\3", 8, 4096);
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(probe_path(q2, &error), ==, PD_FORMAT_QCOW2);
    g_assert_no_error(error);
}

static void test_unreadable_formats_refused(void)
{
    static const struct {
        const char *head;
        size_t len;
        const char *name;
    } cases[] = {
        {"QED\0", 4, "qed"},
        {"LUKS\xba\xbe\0\1", 8, "luks"},
        {"WithoutFreeSpace\2\0\0\0", 20, "parallels"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *p = file_with_head("foreign", cases[i].head, cases[i].len, 4096);
        g_autoptr(GError) error = NULL;
        g_assert_cmpint(probe_path(p, &error), ==, PD_FORMAT_UNKNOWN);
        g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, cases[i].name));
        g_assert_nonnull(strstr(error->message, "-f raw"));
    }
    /* A luks magic with another version is not luks for qemu either: raw. */
    g_autofree char *p = file_with_head("luks2", "LUKS\xba\xbe\0\2", 8, 4096);
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(probe_path(p, &error), ==, PD_FORMAT_RAW);
}

static void test_recorded_format_not_guessed(void)
{
    /* A raw disk whose guest wrote a qcow2 magic stays raw when the caller says raw. */
    g_autofree char *p = file_with_head("guest", "QFI\xfb\0\0\0\3", 8, 1 << 20);
    g_autoptr(GError) error = NULL;
    g_autoptr(PdImage) img = pd_image_open(p, PD_FORMAT_RAW, PD_OPEN_RDONLY, &error);
    g_assert_no_error(error);
    g_assert_cmpint(pd_image_format(img), ==, PD_FORMAT_RAW);
    g_assert_false(pd_image_probed(img));
    g_assert_cmpuint(pd_image_size(img), ==, 1 << 20);
}

static void test_probed_raw_block0(void)
{
    g_autofree char *p = file_with_head("probed", NULL, 0, 1 << 20);
    g_autoptr(GError) error = NULL;
    g_autoptr(PdImage) img = pd_image_open(p, PD_FORMAT_UNKNOWN, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    g_assert_true(pd_image_probed(img));
    /* Ordinary data in block 0 is fine, and so is anything past it. */
    uint8_t buf[512] = "just data";
    g_assert_true(pd_image_write(img, 0, buf, sizeof buf, &error));
    g_assert_true(pd_image_write(img, 512, "QFI\xfb\0\0\0\3", 8, &error));
    g_assert_no_error(error);
    /* A qcow2 header in block 0 would turn the disk into a qcow2 at the next probe. */
    g_assert_false(pd_image_write(img, 0, "QFI\xfb\0\0\0\3", 8, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_READ_ONLY);
    g_assert_nonnull(strstr(error->message, "qcow2"));
    g_clear_error(&error);
    /* Opened as raw explicitly, the same write goes through. */
    g_autoptr(PdImage) raw = pd_image_open(p, PD_FORMAT_RAW, PD_OPEN_RDWR, &error);
    g_assert_true(pd_image_write(raw, 0, "QFI\xfb\0\0\0\3", 8, &error));
    g_assert_no_error(error);
}

static void test_format_names(void)
{
    g_assert_cmpint(pd_format_from_name("raw"), ==, PD_FORMAT_RAW);
    g_assert_cmpint(pd_format_from_name("qcow2"), ==, PD_FORMAT_QCOW2);
    g_assert_cmpint(pd_format_from_name("nonsense"), ==, PD_FORMAT_UNKNOWN);
    g_assert_true(pd_format_can_create(PD_FORMAT_QCOW2));
    g_assert_false(pd_format_read_only(PD_FORMAT_RAW));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("test-probe-XXXXXX", NULL);
    g_test_add_func("/probe/raw-when-nothing-matches", test_raw_when_nothing_matches);
    g_test_add_func("/probe/qcow2", test_qcow2_by_magic_and_version);
    g_test_add_func("/probe/unreadable-refused", test_unreadable_formats_refused);
    g_test_add_func("/probe/recorded-not-guessed", test_recorded_format_not_guessed);
    g_test_add_func("/probe/probed-raw-block0", test_probed_raw_block0);
    g_test_add_func("/probe/names", test_format_names);
    int rc = g_test_run();
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
    (void)!system(cmd);
    g_free(tmpdir);
    return rc;
}
