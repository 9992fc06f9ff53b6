/* Helpers shared by the interop tests (see interop-util.h). */
#include "interop-util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void it_require_tool(const char *tool, const char *why)
{
    g_autofree char *path = g_find_program_in_path(tool);
    if (!path) {
        printf("SKIP: %s not found in PATH (%s)\n", tool, why);
        fflush(stdout);
        exit(TEST_EXIT_SKIP);
    }
}

char *it_mkdtemp(const char *prefix)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *tmpl = g_strdup_printf("%s-XXXXXX", prefix);
    char *dir = g_dir_make_tmp(tmpl, &error);
    g_assert_no_error(error);
    return dir;
}

char *it_mkdtemp_fast(const char *prefix)
{
    const char *base = g_getenv("POOLD_TEST_TMPDIR");
    if (!base && g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) && access("/dev/shm", W_OK) == 0)
        base = "/dev/shm";
    if (!base)
        return it_mkdtemp(prefix);
    g_autofree char *tmpl = g_strdup_printf("%s/%s-XXXXXX", base, prefix);
    char *dir = g_mkdtemp(g_steal_pointer(&tmpl));
    g_assert_nonnull(dir);
    return dir;
}

void it_rmtree(const char *dir)
{
    if (!dir)
        return;
    if (g_getenv("POOLD_TEST_KEEP")) {
        printf("# kept %s (POOLD_TEST_KEEP)\n", dir);
        return;
    }
    const char *argv[] = {"rm", "-rf", "--", dir, NULL};
    (void)it_run(NULL, NULL, argv);
}

int it_run(char **ret_out, char **ret_err, const char *const *argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status = 0;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                      &status, &error)) {
        if (ret_err)
            *ret_err = g_strdup(error->message);
        if (ret_out)
            *ret_out = g_strdup("");
        return -1;
    }
    if (ret_out)
        *ret_out = g_steal_pointer(&out);
    if (ret_err)
        *ret_err = g_steal_pointer(&err);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return -1;
}

int it_runv(char **ret_out, char **ret_err, const char *first, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, (gpointer)a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    return it_run(ret_out, ret_err, (const char *const *)argv->pdata);
}

void it_run_ok(const char *first, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, (gpointer)a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    g_autofree char *out = NULL, *err = NULL;
    int r = it_run(&out, &err, (const char *const *)argv->pdata);
    if (r != 0) {
        g_autofree char *cmd = g_strjoinv(" ", (char **)argv->pdata);
        g_printerr("%s -> %d\n%s%s\n", cmd, r, out ? out : "", err ? err : "");
    }
    g_assert_cmpint(r, ==, 0);
}

uint64_t it_file_get_be(const char *path, uint64_t offset, int bytes)
{
    g_assert(bytes >= 1 && bytes <= 8);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    uint8_t b[8] = {0};
    g_assert_cmpint(pread(fd, b, (size_t)bytes, (off_t)offset), ==, bytes);
    close(fd);
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | b[i];
    return v;
}

void it_file_put_be(const char *path, uint64_t offset, int bytes, uint64_t value)
{
    g_assert(bytes >= 1 && bytes <= 8);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    uint8_t b[8];
    for (int i = bytes - 1; i >= 0; i--, value >>= 8)
        b[i] = (uint8_t)value;
    g_assert_cmpint(pwrite(fd, b, (size_t)bytes, (off_t)offset), ==, bytes);
    close(fd);
}

int it_qemu_img_check(const char *path, char **ret_out)
{
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int rc = it_runv(&out, &err, "qemu-img", "check", "-f", "qcow2", path, NULL);
    if (ret_out)
        *ret_out = g_strconcat(out ? out : "", err ? err : "", NULL);
    return rc;
}

int it_qemu_img_compare(const char *a, const char *fmt_a, const char *b, const char *fmt_b,
                        char **ret_out)
{
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int rc = it_runv(&out, &err, "qemu-img", "compare", "-f", fmt_a, "-F", fmt_b, a, b, NULL);
    if (ret_out)
        *ret_out = g_strconcat(out ? out : "", err ? err : "", NULL);
    return rc;
}

uint8_t *it_read_file(const char *path, size_t *ret_len)
{
    g_autoptr(GError) error = NULL;
    char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, &error))
        g_error("cannot read %s: %s", path, error->message);
    *ret_len = len;
    return (uint8_t *)data;
}

void it_write_file(const char *path, const void *data, size_t len)
{
    g_autoptr(GError) error = NULL;
    if (!g_file_set_contents(path, data, (gssize)len, &error))
        g_error("cannot write %s: %s", path, error->message);
}

int64_t it_first_difference(const uint8_t *a, const uint8_t *b, size_t len)
{
    if (memcmp(a, b, len) == 0)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return (int64_t)i;
    return -1;
}

void it_rand_seed(ItRand *r, uint64_t seed)
{
    r->s = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

uint64_t it_rand(ItRand *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dULL;
}

uint64_t it_rand_below(ItRand *r, uint64_t n)
{
    return it_rand(r) % n;
}

void it_rand_fill(ItRand *r, uint8_t *buf, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = it_rand(r);
        memcpy(buf + i, &v, 8);
    }
    for (; i < len; i++)
        buf[i] = (uint8_t)(it_rand(r) | 1);
}

uint64_t it_pick_seed(uint64_t fallback)
{
    const char *env = g_getenv("POOLD_TEST_SEED");
    if (env && *env)
        return g_ascii_strtoull(env, NULL, 0);
    if (fallback)
        return fallback;
    return ((uint64_t)g_get_real_time() ^ ((uint64_t)getpid() << 32)) & 0xffffffffffffULL;
}
