/* The path rule of the pools made of files (pools/pool-path.h), run on a real dir pool in a
 * temporary directory with what a tenant who can write into the pool directory plants there:
 * symbolic links to a root-only file outside the pool (absolute, relative, a chain escaping
 * through ".." and through a subdirectory), to a block device outside (a loop device, as root),
 * a FIFO, a socket, a character device, a directory, and a listed volume swapped for each of
 * those after refresh. Every operation through such a name must fail naming the volume and the
 * file type or the link, and the outside file must be unchanged (content, size, mtime); a FIFO
 * must not block. Links that stay inside the pool are volumes. The same with openat2 turned off
 * (the fallback of kernels without it: no link is followed at all). */
#include "common/pd-error.h"
#include "pools/backend.h"
#include "pools/pool-path.h"
#include "tests/interop/interop-util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#define KiB    1024
#define MiB    (1024 * 1024)
#define SECRET "VICTIM-OUTSIDE-CONTENT"

typedef struct {
    char *tmp;
    char *dir;    /* the pool directory */
    char *victim; /* TMP/outside/victim: root 0600, 64 KiB starting with SECRET */
    uint8_t *victim_bytes;
    struct stat victim_st;
    PdPool *pool;
    const PdPoolBackend *be;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    pd_pool_path_set_openat2(GPOINTER_TO_INT(data) == 0);
    f->tmp = it_mkdtemp_fast("pool-path");
    f->dir = g_build_filename(f->tmp, "pool", NULL);
    g_autofree char *outside = g_build_filename(f->tmp, "outside", NULL);
    g_assert_cmpint(mkdir(outside, 0700), ==, 0);
    f->victim = g_build_filename(outside, "victim", NULL);
    f->victim_bytes = g_malloc0(64 * KiB);
    memcpy(f->victim_bytes, SECRET, strlen(SECRET));
    it_write_file(f->victim, f->victim_bytes, 64 * KiB);
    g_assert_cmpint(chmod(f->victim, 0600), ==, 0);
    g_assert_cmpint(stat(f->victim, &f->victim_st), ==, 0);

    PdPoolDef *def = pd_pool_def_new(PD_POOL_DIR);
    def->name = g_strdup("p1");
    def->target_path = g_strdup(f->dir);
    f->pool = pd_pool_new(def);
    f->be = pd_pool_backend_for_type(PD_POOL_DIR, &error);
    g_assert_true(pd_pool_backend_build(f->be, f->pool, 0, &error));
    g_assert_true(pd_pool_backend_start(f->be, f->pool, &error));
    g_assert_no_error(error);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    pd_pool_path_set_openat2(true);
    pd_pool_free(f->pool);
    it_rmtree(f->tmp);
    g_free(f->tmp);
    g_free(f->dir);
    g_free(f->victim);
    g_free(f->victim_bytes);
}

static char *in_pool(Fixture *f, const char *name)
{
    return g_build_filename(f->dir, name, NULL);
}

/* The outside file is as it was: same bytes, size and mtime. */
static void assert_victim_unchanged(Fixture *f)
{
    struct stat st;
    g_assert_cmpint(stat(f->victim, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 64 * KiB);
    g_assert_cmpint(st.st_mtim.tv_sec, ==, f->victim_st.st_mtim.tv_sec);
    g_assert_cmpint(st.st_mtim.tv_nsec, ==, f->victim_st.st_mtim.tv_nsec);
    size_t len = 0;
    g_autofree uint8_t *now = it_read_file(f->victim, &len);
    g_assert_cmpuint(len, ==, 64 * KiB);
    g_assert_true(memcmp(now, f->victim_bytes, len) == 0);
}

static PdVol *refresh_find(Fixture *f, const char *name)
{
    g_autoptr(GError) error = NULL;
    PdPoolRefresh r = {0};
    g_assert_true(pd_pool_backend_refresh(f->be, f->pool, NULL, &r, &error));
    g_assert_no_error(error);
    pd_pool_refresh_apply(f->pool, &r);
    return pd_pool_find_vol(f->pool, name);
}

/* A regular raw volume NAME of 1 MiB, created and listed (a copy the test owns). */
static PdVol *make_volume(Fixture *f, const char *name)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdVolDef) def = pd_vol_def_new(PD_POOL_DIR);
    def->name = g_strdup(name);
    def->target_format = g_strdup("raw");
    def->capacity = MiB;
    def->has_capacity = true;
    PdVol *vol = NULL;
    g_assert_true(pd_pool_backend_vol_create(f->be, f->pool, def, 0, NULL, &vol, &error));
    g_assert_no_error(error);
    return vol;
}

/* An error of a refused name: INVALID_ARGUMENT (or NO_SUCH_VOLUME for @gone), naming the pool,
 * the volume and @what. */
static void assert_refused(GError *error, const char *name, const char *what)
{
    g_assert_nonnull(error);
    g_autofree char *ctx = g_strdup_printf("pool 'p1': volume '%s': ", name);
    if (!strstr(error->message, ctx) || !strstr(error->message, what))
        g_error("unexpected error for '%s': %s (wanted '%s')", name, error->message, what);
}

/* Every volume operation on @vol must fail with @what in the error and leave the victim as it
 * was. The FIFO case must not block: the test process has an alarm. */
static void assert_every_op_refused(Fixture *f, const PdVol *vol, const char *what)
{
    GError *error = NULL;
    PdVol *nv = NULL;
    alarm(20);
    g_assert_false(pd_pool_backend_vol_wipe(f->be, f->pool, vol, PD_WIPE_ZERO, 0, NULL, &error));
    assert_refused(error, vol->name, what);
    g_clear_error(&error);
    int up = open(f->victim, O_RDONLY | O_CLOEXEC); /* any readable stream: its own bytes */
    g_assert_false(pd_pool_backend_vol_upload(f->be, f->pool, vol, up, 0, 0, 0, NULL, &error));
    (void)close(up);
    assert_refused(error, vol->name, what);
    g_clear_error(&error);
    g_assert_false(pd_pool_backend_vol_resize(f->be, f->pool, vol, 2 * MiB, 0, NULL, &nv, &error));
    assert_refused(error, vol->name, what);
    g_clear_error(&error);
    g_autofree char *out = g_build_filename(f->tmp, "download.out", NULL);
    int down = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    g_assert_false(pd_pool_backend_vol_download(f->be, f->pool, vol, down, 0, 0, 0, NULL, &error));
    (void)close(down);
    assert_refused(error, vol->name, what);
    g_clear_error(&error);
    size_t len = 99;
    g_autofree uint8_t *got = it_read_file(out, &len);
    g_assert_cmpuint(len, ==, 0); /* nothing of the victim read */
    g_assert_false(pd_pool_backend_vol_refresh(f->be, f->pool, vol, &nv, &error));
    assert_refused(error, vol->name, what);
    g_clear_error(&error);
    PdImage *img = pd_pool_backend_vol_open(f->be, f->pool, vol, PD_OPEN_RDONLY, &error);
    g_assert_null(img);
    assert_refused(error, vol->name, what);
    g_clear_error(&error);
    GArray *snaps = NULL;
    PdVol qcow = *vol;
    qcow.format = (char *)"qcow2";
    g_assert_false(pd_pool_backend_vol_snapshot_list(f->be, f->pool, &qcow, &snaps, &error));
    assert_refused(error, vol->name, what);
    g_clear_error(&error);

    /* as a clone source: nothing made under the new name */
    g_autoptr(PdVolDef) def = pd_vol_def_new(PD_POOL_DIR);
    def->name = g_strdup("copy");
    def->target_format = g_strdup("raw");
    g_assert_false(
        pd_pool_backend_vol_create_from(f->be, f->pool, def, f->pool, vol, 0, NULL, &nv, &error));
    assert_refused(error, vol->name, what);
    g_clear_error(&error);
    g_autofree char *copy = in_pool(f, "copy");
    g_assert_false(g_file_test(copy, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK));
    alarm(0);
    assert_victim_unchanged(f);
}

/* Replaces the file of volume @name by what @plant makes at its path. */
typedef void (*Plant)(Fixture *f, const char *path);

static void plant_abs_link(Fixture *f, const char *path)
{
    g_assert_cmpint(symlink(f->victim, path), ==, 0);
}

static void plant_rel_link(Fixture *f, const char *path)
{
    g_assert_cmpint(symlink("../outside/victim", path), ==, 0);
}

/* sub/../../outside/victim through a subdirectory of the pool */
static void plant_dotdot_chain(Fixture *f, const char *path)
{
    g_autofree char *sub = in_pool(f, "sub");
    (void)mkdir(sub, 0755);
    g_assert_cmpint(symlink("sub/../../outside/victim", path), ==, 0);
}

/* a chain of links inside the pool whose last one leaves it */
static void plant_link_chain(Fixture *f, const char *path)
{
    g_autofree char *hop = g_strconcat(path, ".hop", NULL);
    g_assert_cmpint(symlink("../outside/victim", hop), ==, 0);
    g_autofree char *base = g_path_get_basename(hop);
    g_assert_cmpint(symlink(base, path), ==, 0);
}

static void plant_fifo(Fixture *f, const char *path)
{
    g_assert_cmpint(mkfifo(path, 0666), ==, 0);
}

static void plant_socket(Fixture *f, const char *path)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_assert_cmpuint(strlen(path), <, sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    g_assert_cmpint(bind(s, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    (void)close(s);
}

static void plant_chardev(Fixture *f, const char *path)
{
    g_assert_cmpint(mknod(path, S_IFCHR | 0666, makedev(1, 3)), ==, 0); /* /dev/null */
}

static void plant_dir(Fixture *f, const char *path)
{
    g_assert_cmpint(mkdir(path, 0755), ==, 0);
}

static const struct {
    const char *name;
    Plant plant;
    const char *what;          /* in the error with openat2 */
    const char *what_fallback; /* without it */
    bool needs_root;
} plants[] = {
    {"abs-link", plant_abs_link, "symbolic link leading out of the pool", "a symbolic link"},
    {"rel-link", plant_rel_link, "symbolic link leading out of the pool", "a symbolic link"},
    {"dotdot-chain", plant_dotdot_chain, "symbolic link leading out of the pool",
     "a symbolic link"},
    {"link-chain", plant_link_chain, "symbolic link leading out of the pool", "a symbolic link"},
    {"fifo", plant_fifo, "is a FIFO, not a regular file or block device", "is a FIFO"},
    {"socket", plant_socket, "is a socket, not a regular file", "is a socket"},
    {"chardev", plant_chardev, "is a character device, not a regular file", "is a character device",
     true},
    {"dir", plant_dir, "is a directory, not a regular file", "is a directory"},
};

/* A listed volume swapped for each planted thing after refresh (the catalog still has it):
 * every operation is refused and the victim unchanged; refresh then drops the name. */
static void test_swapped(Fixture *f, gconstpointer data)
{
    bool fallback = GPOINTER_TO_INT(data) != 0;
    for (size_t i = 0; i < G_N_ELEMENTS(plants); i++) {
        if (plants[i].needs_root && geteuid() != 0)
            continue;
        g_autoptr(PdVol) vol = make_volume(f, plants[i].name);
        g_assert_cmpint(unlink(vol->path), ==, 0);
        plants[i].plant(f, vol->path);
        assert_every_op_refused(f, vol, fallback ? plants[i].what_fallback : plants[i].what);
        g_assert_null(refresh_find(f, plants[i].name));
    }
    /* the links and the FIFO are still there, untouched by any of it */
    g_autofree char *fifo = in_pool(f, "fifo");
    struct stat st;
    g_assert_cmpint(lstat(fifo, &st), ==, 0);
    g_assert_true(S_ISFIFO(st.st_mode));
}

/* Refresh of a directory holding every planted thing lists only the volumes: a regular file, a
 * link that stays inside (with openat2), nothing else; the victim is not read. */
static void test_refresh_lists(Fixture *f, gconstpointer data)
{
    bool fallback = GPOINTER_TO_INT(data) != 0;
    g_autoptr(PdVol) inside = make_volume(f, "inside.raw");
    g_autofree char *in_link = in_pool(f, "in-link");
    g_assert_cmpint(symlink("inside.raw", in_link), ==, 0);
    for (size_t i = 0; i < G_N_ELEMENTS(plants); i++) {
        if (plants[i].needs_root && geteuid() != 0)
            continue;
        g_autofree char *path = in_pool(f, plants[i].name);
        plants[i].plant(f, path);
    }
    g_autofree char *magic = in_pool(f, "magic");
    g_assert_cmpint(symlink("/proc/self/fd/0", magic), ==, 0);
    g_autofree char *loop = in_pool(f, "loop");
    g_assert_cmpint(symlink("loop", loop), ==, 0);

    g_assert_nonnull(refresh_find(f, "inside.raw"));
    g_assert_cmpuint(f->pool->volumes->len, ==, fallback ? 1 : 2);
    PdVol *l = pd_pool_find_vol(f->pool, "in-link");
    if (fallback) {
        g_assert_null(l);
    } else {
        g_assert_nonnull(l);
        g_assert_cmpuint(l->capacity, ==, MiB);
        /* a link inside the pool is a volume like any other: download reads the file */
        g_autoptr(GError) error = NULL;
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        g_assert_true(pd_pool_backend_vol_download(f->be, f->pool, l, fd, 0, 0, 0, NULL, &error));
        g_assert_no_error(error);
        (void)close(fd);
    }
    assert_victim_unchanged(f);
}

/* Delete of a link removes the link, never its target. */
static void test_delete_link(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdVol) vol = make_volume(f, "del");
    g_assert_cmpint(unlink(vol->path), ==, 0);
    plant_abs_link(f, vol->path);
    g_assert_true(pd_pool_backend_vol_delete(f->be, f->pool, vol, 0, &error));
    g_assert_no_error(error);
    struct stat st;
    g_assert_cmpint(lstat(vol->path, &st), <, 0);
    assert_victim_unchanged(f);
}

/* A create whose name is taken by a planted link (dangling or not) fails and leaves the link
 * and its target alone; the new file is made with O_EXCL|O_NOFOLLOW under the directory. */
static void test_create_over_link(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *link = in_pool(f, "taken");
    plant_abs_link(f, link);
    g_autofree char *dangling = in_pool(f, "dangling");
    g_autofree char *nowhere = g_build_filename(f->tmp, "outside", "new-file", NULL);
    g_assert_cmpint(symlink(nowhere, dangling), ==, 0);
    const char *names[] = {"taken", "dangling"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autoptr(PdVolDef) def = pd_vol_def_new(PD_POOL_DIR);
        def->name = g_strdup(names[i]);
        def->target_format = g_strdup("raw");
        def->capacity = MiB;
        def->has_capacity = true;
        PdVol *vol = NULL;
        g_assert_false(pd_pool_backend_vol_create(f->be, f->pool, def, 0, NULL, &vol, &error));
        g_assert_error(error, PD_ERROR, PD_ERROR_EXISTS);
        g_clear_error(&error);
    }
    g_assert_false(g_file_test(nowhere, G_FILE_TEST_EXISTS));
    assert_victim_unchanged(f);
}

/* A link to a block device outside the pool (a loop device over a file holding a secret): not
 * listed, and nothing reads or writes the device through it. */
static void test_block_link(Fixture *f, gconstpointer data)
{
    g_autofree char *losetup = g_find_program_in_path("losetup");
    if (geteuid() != 0 || !losetup) {
        g_test_skip("needs root and losetup");
        return;
    }
    g_autofree char *backing = g_build_filename(f->tmp, "outside", "lo.img", NULL);
    g_autofree uint8_t *pattern = g_malloc0(MiB);
    memcpy(pattern, "LOOP-DEVICE-SECRET", 18);
    it_write_file(backing, pattern, MiB);
    g_autofree char *dev = NULL;
    if (it_runv(&dev, NULL, "losetup", "-f", "--show", backing, NULL) != 0) {
        g_test_skip("no free loop device");
        return;
    }
    g_strstrip(dev);
    g_autoptr(PdVol) vol = make_volume(f, "hostblk");
    g_assert_cmpint(unlink(vol->path), ==, 0);
    g_assert_cmpint(symlink(dev, vol->path), ==, 0);
    bool listed = refresh_find(f, "hostblk") != NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *out = g_build_filename(f->tmp, "blk.out", NULL);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool downloaded = pd_pool_backend_vol_download(f->be, f->pool, vol, fd, 0, 0, 0, NULL, &error);
    (void)close(fd);
    bool wiped = pd_pool_backend_vol_wipe(f->be, f->pool, vol, PD_WIPE_ZERO, 0, NULL, NULL);
    size_t len = 0;
    g_autofree uint8_t *now = it_read_file(backing, &len);
    (void)it_runv(NULL, NULL, "losetup", "-d", dev, NULL);
    g_assert_false(listed);
    g_assert_false(downloaded);
    g_assert_false(wiped);
    assert_refused(error, "hostblk", "symbolic link");
    g_assert_true(len == MiB && memcmp(now, pattern, MiB) == 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn)                                                                              \
    g_test_add("/pools/path/" path, Fixture, GINT_TO_POINTER(0), fixture_setup, fn,                \
               fixture_teardown);                                                                  \
    g_test_add("/pools/path/no-openat2/" path, Fixture, GINT_TO_POINTER(1), fixture_setup, fn,     \
               fixture_teardown)
    ADD("swapped", test_swapped);
    ADD("refresh", test_refresh_lists);
    ADD("delete-link", test_delete_link);
    ADD("create-over-link", test_create_over_link);
    ADD("block-link", test_block_link);
#undef ADD
    return g_test_run();
}
