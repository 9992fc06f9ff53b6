/* The dir backend, run directly (no daemon) on a pool in a temporary directory: build, start,
 * refresh (incremental), volume create (raw and qcow2, each preallocation, overlays), clone,
 * resize, wipe, upload/download, snapshots and delete, with qemu-img check as the oracle on
 * every qcow2 volume the backend writes. Without qemu-img the test prints why and exits 77. */
#include "common/pd-error.h"
#include "pools/backend.h"
#include "pools/pool-util.h"
#include "tests/interop/interop-util.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MiB (1024 * 1024)

typedef struct {
    char *tmp;
    PdPool *pool;
    const PdPoolBackend *be;
} Fixture;

static PdPool *make_pool(const char *name, const char *target)
{
    PdPoolDef *def = pd_pool_def_new(PD_POOL_DIR);
    def->name = g_strdup(name);
    def->target_path = g_strdup(target);
    return pd_pool_new(def);
}

/* A started, refreshed pool "p1" at TMP/pool. */
static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    f->tmp = it_mkdtemp_fast("pool-dir");
    g_autofree char *target = g_build_filename(f->tmp, "pool", NULL);
    f->pool = make_pool("p1", target);
    f->be = pd_pool_backend_for_type(PD_POOL_DIR, &error);
    g_assert_no_error(error);
    g_assert_true(pd_pool_backend_build(f->be, f->pool, 0, &error));
    g_assert_no_error(error);
    g_assert_true(pd_pool_backend_start(f->be, f->pool, &error));
    g_assert_no_error(error);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    pd_pool_free(f->pool);
    it_rmtree(f->tmp);
    g_free(f->tmp);
}

static PdVolDef *vol_def(const char *name, const char *format, uint64_t capacity,
                         uint64_t allocation)
{
    PdVolDef *def = pd_vol_def_new(PD_POOL_DIR);
    def->name = g_strdup(name);
    def->target_format = g_strdup(format);
    def->capacity = capacity;
    def->has_capacity = true;
    def->allocation = allocation;
    def->has_allocation = true;
    return def;
}

/* Creates a volume and adds it to the pool's list (as the daemon's catalog would). */
static PdVol *create_vol(Fixture *f, const PdVolDef *def, unsigned flags)
{
    g_autoptr(GError) error = NULL;
    PdVol *vol = NULL;
    g_assert_true(pd_pool_backend_vol_create(f->be, f->pool, def, flags, NULL, &vol, &error));
    g_assert_no_error(error);
    g_assert_nonnull(vol);
    g_ptr_array_add(f->pool->volumes, vol);
    return vol;
}

static PdVol *create_simple(Fixture *f, const char *name, const char *format, uint64_t capacity)
{
    g_autoptr(PdVolDef) def = vol_def(name, format, capacity, 0);
    return create_vol(f, def, 0);
}

static uint64_t allocated_bytes(const char *path)
{
    struct stat st;
    g_assert_cmpint(stat(path, &st), ==, 0);
    return (uint64_t)st.st_blocks * 512;
}

/* Bytes in data extents (SEEK_DATA/SEEK_HOLE): unlike st_blocks, not counting the blocks
 * some filesystems (XFS) preallocate speculatively, which read as holes. */
static uint64_t data_bytes(const char *path)
{
    int fd = open(path, O_RDONLY);
    g_assert_cmpint(fd, >=, 0);
    off_t end = lseek(fd, 0, SEEK_END), pos = 0;
    uint64_t total = 0;
    while (pos < end) {
        off_t data = lseek(fd, pos, SEEK_DATA);
        if (data < 0)
            break;
        off_t hole = lseek(fd, data, SEEK_HOLE);
        total += (uint64_t)(hole - data);
        pos = hole;
    }
    close(fd);
    return total;
}

static void assert_qemu_check(const char *path)
{
    g_autofree char *out = NULL;
    int status = it_qemu_img_check(path, &out);
    if (status != 0)
        g_printerr("qemu-img check %s:\n%s\n", path, out);
    g_assert_cmpint(status, ==, 0);
}

/* Writes @len bytes of @byte at guest offset @off through the engine. */
static void write_guest(const PdVol *vol, uint64_t off, size_t len, int byte)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdImage) img =
        pd_image_open(vol->path, pd_format_from_name(vol->format), PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    g_autofree char *buf = g_malloc(len);
    memset(buf, byte, len);
    g_assert_true(pd_image_write(img, off, buf, len, &error));
    g_assert_true(pd_image_flush(img, &error));
    g_assert_no_error(error);
}

/* Whether every guest byte of [off, off+len) equals @byte. */
static bool guest_is(const char *path, const char *format, uint64_t off, size_t len, int byte)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdImage) img =
        pd_image_open(path, pd_format_from_name(format), PD_OPEN_RDONLY, &error);
    g_assert_no_error(error);
    g_autofree unsigned char *buf = g_malloc(len);
    g_assert_true(pd_image_read(img, off, buf, len, &error));
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != byte)
            return false;
    }
    return true;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in the pool directory, hidden ones included, sorted, joined with spaces. */
static char *dir_listing(const PdPool *pool)
{
    g_autoptr(GDir) dir = g_dir_open(pool->def->target_path, 0, NULL);
    g_assert_nonnull(dir);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *n;
    while ((n = g_dir_read_name(dir)))
        g_ptr_array_add(names, g_strdup(n));
    g_ptr_array_sort(names, compare_names);
    g_ptr_array_add(names, NULL);
    return g_strjoinv(" ", (char **)names->pdata);
}

/* ---- lookup, build, start, delete ---------------------------------------------------------- */

static void test_lookup(void)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_pool_backend_for_type(PD_POOL_DIR, &error) == &pd_pool_backend_dir);
    g_assert_true(pd_pool_backend_for_type(PD_POOL_ISCSI_DIRECT, &error) ==
                  &pd_pool_backend_iscsi_direct);
    g_assert_null(pd_pool_backend_for_type(PD_POOL_TYPE_COUNT, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_clear_error(&error);

    /* dir has no find_sources: the answer names the pool type */
    GPtrArray *sources = NULL;
    g_assert_false(pd_pool_backend_find_sources(&pd_pool_backend_dir, NULL, 0, &sources, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, "'dir'"));
    g_assert_cmpint(pd_wipe_algorithm_from_name("trim"), ==, PD_WIPE_TRIM);
    g_assert_cmpint(pd_wipe_algorithm_from_name("dod"), ==, -1);
}

/* A backend without a callback: the wrappers answer Unsupported naming the pool type, or
 * succeed where NULL means nothing to do. */
static void test_unsupported(void)
{
    g_autoptr(GError) error = NULL;
    static const PdPoolBackend empty = {.type = PD_POOL_LOGICAL};
    PdPoolDef *def = pd_pool_def_new(PD_POOL_LOGICAL);
    def->name = g_strdup("vg1");
    g_autoptr(PdPool) pool = pd_pool_new(def);
    g_autoptr(PdVol) vol = pd_vol_new();
    vol->name = g_strdup("lv1");
    unsigned removed = 7;

    g_assert_true(pd_pool_backend_build(&empty, pool, 0, &error));
    g_assert_true(pd_pool_backend_start(&empty, pool, &error));
    g_assert_true(pd_pool_backend_stop(&empty, pool, &error));
    g_assert_true(pd_pool_backend_cleanup_partial(&empty, pool, &removed, &error));
    g_assert_cmpuint(removed, ==, 0);
    g_assert_no_error(error);

    g_assert_false(pd_pool_backend_vol_resize(&empty, pool, vol, 1, 0, NULL, NULL, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_assert_cmpstr(error->message, ==,
                    "pool 'vg1': pool type 'logical' does not support volume resize");
    g_clear_error(&error);
    g_assert_false(pd_pool_backend_delete(&empty, pool, 0, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_clear_error(&error);
    GArray *snaps = NULL;
    g_assert_false(pd_pool_backend_vol_snapshot_list(&empty, pool, vol, &snaps, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_clear_error(&error);
    /* a volume without a path and no vol_open cannot be read */
    g_assert_null(pd_pool_backend_vol_open(&empty, pool, vol, PD_OPEN_RDONLY, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_clear_error(&error);
    g_assert_false(pd_pool_backend_vol_wipe(&empty, pool, vol, PD_WIPE_COUNT, 0, NULL, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
}

static void test_build(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *tmp = it_mkdtemp_fast("pool-build");
    g_autofree char *target = g_build_filename(tmp, "a", "b", "pool", NULL);
    g_autoptr(PdPool) pool = make_pool("bp", target);
    const PdPoolBackend *be = &pd_pool_backend_dir;

    /* start before build: a clear error naming the pool and what to do */
    g_assert_false(pd_pool_backend_start(be, pool, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(error->message, "pool 'bp'"));
    g_assert_nonnull(strstr(error->message, "pool-build"));
    g_clear_error(&error);

    g_assert_false(pd_pool_backend_build(
        be, pool, PD_POOL_BUILD_OVERWRITE | PD_POOL_BUILD_NO_OVERWRITE, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);

    pool->def->target_perms.mode = 0750;
    g_assert_true(pd_pool_backend_build(be, pool, 0, &error));
    g_assert_no_error(error);
    struct stat st;
    g_assert_cmpint(stat(target, &st), ==, 0);
    g_assert_true(S_ISDIR(st.st_mode));
    g_assert_cmpint(st.st_mode & 07777, ==, 0750);

    /* again: fine (permissions applied), but not with --no-overwrite, nor (as libvirt: there
     * is no device to format) with --overwrite */
    pool->def->target_perms.mode = 0755;
    g_assert_false(pd_pool_backend_build(be, pool, PD_POOL_BUILD_OVERWRITE, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_STATE);
    g_assert_nonnull(strstr(error->message, "No source device specified"));
    g_clear_error(&error);
    g_assert_true(pd_pool_backend_build(be, pool, 0, &error));
    g_assert_cmpint(stat(target, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 07777, ==, 0755);
    g_assert_false(pd_pool_backend_build(be, pool, PD_POOL_BUILD_NO_OVERWRITE, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_EXISTS);
    g_assert_nonnull(strstr(error->message, "--no-overwrite"));
    g_clear_error(&error);
    g_assert_true(pd_pool_backend_start(be, pool, &error));
    g_assert_true(pd_pool_backend_stop(be, pool, &error));

    /* delete refuses a directory that holds something */
    g_autofree char *file = g_build_filename(target, "v", NULL);
    it_write_file(file, "x", 1);
    g_assert_false(pd_pool_backend_delete(be, pool, 0, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_BUSY);
    g_assert_nonnull(strstr(error->message, "not empty"));
    g_assert_nonnull(strstr(error->message, "pool 'bp'"));
    g_clear_error(&error);
    g_assert_cmpint(unlink(file), ==, 0);
    g_assert_true(pd_pool_backend_delete(be, pool, 0, &error));
    g_assert_no_error(error);
    g_assert_false(g_file_test(target, G_FILE_TEST_EXISTS));

    /* a target that is a file: build and start refuse it */
    it_write_file(target, "x", 1);
    g_assert_false(pd_pool_backend_build(be, pool, 0, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_EXISTS);
    g_clear_error(&error);
    g_assert_false(pd_pool_backend_start(be, pool, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
    it_rmtree(tmp);
}

/* A build that fails half way (the last component cannot be created) removes the parents it
 * created. */
static void test_build_undo(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *tmp = it_mkdtemp_fast("pool-build-undo");
    g_autofree char *leaf = g_strnfill(300, 'x'); /* longer than NAME_MAX */
    g_autofree char *target = g_build_filename(tmp, "a", "b", leaf, NULL);
    g_autoptr(PdPool) pool = make_pool("bp", target);
    g_assert_false(pd_pool_backend_build(&pd_pool_backend_dir, pool, 0, &error));
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, "pool 'bp'"));
    g_autofree char *parent = g_build_filename(tmp, "a", NULL);
    g_assert_false(g_file_test(parent, G_FILE_TEST_EXISTS));
    it_rmtree(tmp);
}

/* ---- create ----------------------------------------------------------------------------------- */

static void test_create_raw(Fixture *f, gconstpointer data)
{
    PdVol *sparse = create_simple(f, "sparse.img", "raw", 64 * MiB);
    g_assert_cmpstr(sparse->format, ==, "raw");
    g_assert_cmpuint(sparse->capacity, ==, 64 * MiB);
    g_assert_cmpstr(sparse->key, ==, sparse->path);
    g_assert_cmpuint(sparse->mode, ==, 0600);
    g_assert_cmpuint(allocated_bytes(sparse->path), <, MiB);

    g_autoptr(PdVolDef) full = vol_def("falloc.img", "raw", 16 * MiB, 16 * MiB);
    PdVol *v = create_vol(f, full, 0);
    g_assert_cmpuint(allocated_bytes(v->path), >=, 16 * MiB);
    g_assert_cmpuint(v->allocation, >=, 16 * MiB);

    g_autoptr(PdVolDef) part = vol_def("part.img", "raw", 16 * MiB, 4 * MiB);
    part->target_perms.mode = 0640;
    v = create_vol(f, part, 0);
    g_assert_cmpuint(allocated_bytes(v->path), >=, 4 * MiB);
    g_assert_cmpuint(allocated_bytes(v->path), <, 8 * MiB);
    g_assert_cmpuint(v->mode, ==, 0640);

    g_autoptr(PdVolDef) written = vol_def("full.img", "raw", 8 * MiB, 0);
    v = create_vol(f, written, PD_VOL_CREATE_PREALLOC_FULL);
    g_assert_cmpuint(allocated_bytes(v->path), >=, 8 * MiB);
    g_assert_true(guest_is(v->path, "raw", 0, 8 * MiB, 0));
}

static void test_create_qcow2(Fixture *f, gconstpointer data)
{
    PdVol *v = create_simple(f, "off.qcow2", "qcow2", 1024 * MiB);
    g_assert_cmpstr(v->format, ==, "qcow2");
    g_assert_cmpstr(v->compat, ==, "1.1");
    g_assert_cmpuint(v->cluster_size, ==, 65536);
    g_assert_cmpuint(v->capacity, ==, 1024 * MiB);
    g_assert_cmpuint(allocated_bytes(v->path), <, MiB);
    assert_qemu_check(v->path);

    g_autoptr(PdVolDef) meta = vol_def("meta.qcow2", "qcow2", 64 * MiB, 0);
    meta->prealloc_metadata = true;
    meta->compat = g_strdup("0.10");
    v = create_vol(f, meta, 0);
    g_assert_cmpstr(v->compat, ==, "0.10");
    assert_qemu_check(v->path);

    g_autoptr(PdVolDef) falloc = vol_def("falloc.qcow2", "qcow2", 32 * MiB, 32 * MiB);
    falloc->prealloc_metadata = true;
    falloc->cluster_size = 4096;
    falloc->lazy_refcounts = true;
    v = create_vol(f, falloc, 0);
    g_assert_cmpuint(v->cluster_size, ==, 4096);
    g_assert_true(v->lazy_refcounts);
    g_assert_cmpuint(allocated_bytes(v->path), >=, 32 * MiB);
    assert_qemu_check(v->path);

    g_autoptr(PdVolDef) full = vol_def("full.qcow2", "qcow2", 8 * MiB, 0);
    v = create_vol(f, full, PD_VOL_CREATE_PREALLOC_FULL);
    g_assert_cmpuint(allocated_bytes(v->path), >=, 8 * MiB);
    assert_qemu_check(v->path);
}

static void test_create_backing(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    PdVol *base = create_simple(f, "base.qcow2", "qcow2", 16 * MiB);
    write_guest(base, 0, 65536, 0xab);

    /* format given */
    g_autoptr(PdVolDef) def = vol_def("overlay.qcow2", "qcow2", 0, 0);
    def->has_capacity = false;
    def->backing = pd_vol_backing_new();
    def->backing->path = g_strdup(base->path);
    def->backing->format = g_strdup("qcow2");
    def->backing->format_given = true;
    PdVol *ov = create_vol(f, def, 0);
    g_assert_cmpuint(ov->capacity, ==, 16 * MiB);
    g_assert_cmpstr(ov->backing_path, ==, base->path);
    g_assert_cmpstr(ov->backing_format, ==, "qcow2");
    g_assert_true(guest_is(ov->path, "qcow2", 0, 65536, 0xab));
    assert_qemu_check(ov->path);

    /* format probed (libvirt's behaviour without <format>), bigger capacity */
    g_autoptr(PdVolDef) def2 = vol_def("overlay2.qcow2", "qcow2", 32 * MiB, 0);
    def2->backing = pd_vol_backing_new();
    def2->backing->path = g_strdup(base->path);
    def2->backing->format = g_strdup("raw");
    PdVol *ov2 = create_vol(f, def2, 0);
    g_assert_cmpuint(ov2->capacity, ==, 32 * MiB);
    g_assert_cmpstr(ov2->backing_format, ==, "qcow2");

    /* the volume XML shows the backing store */
    g_autoptr(PdVolDef) xmldef = pd_vol_to_def(f->pool, ov2);
    g_autofree char *xml = pd_vol_def_format(xmldef);
    g_assert_nonnull(strstr(xml, "<backingStore>"));
    g_assert_nonnull(strstr(xml, base->path));
    g_assert_nonnull(strstr(xml, "<name>overlay2.qcow2</name>"));
    if (g_getenv("POOLD_TEST_VERBOSE"))
        g_printerr("%s", xml);
    /* laid out as libvirtd's vol-dumpxml (tests/xml/in/libvirtd-vol-dir-backing.xml) */
    g_assert_nonnull(strstr(xml, "<volume type='file'>"));
    g_assert_nonnull(strstr(xml, "<physical unit='bytes'>"));
    g_assert_nonnull(strstr(xml, "<mode>0600</mode>"));
    g_assert_nonnull(strstr(xml, "<btime>0</btime>"));
    g_assert_null(strstr(xml, "<compat>"));
    const char *bs = strstr(xml, "<backingStore>");
    g_assert_nonnull(strstr(bs, "<permissions>"));
    g_assert_nonnull(strstr(bs, "<timestamps>"));
    g_assert_nonnull(strstr(bs, "<format type='qcow2'/>"));
    /* and it parses back */
    g_autoptr(PdVolDef) parsed = pd_vol_def_parse(xml, PD_POOL_DIR, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(parsed->capacity, ==, ov2->capacity);
    g_assert_cmpstr(parsed->backing->path, ==, base->path);

    /* raw has no backing files: refused, nothing left behind */
    g_autoptr(PdVolDef) bad = vol_def("bad.img", "raw", 0, 0);
    bad->backing = pd_vol_backing_new();
    bad->backing->path = g_strdup(base->path);
    bad->backing->format = g_strdup("qcow2");
    bad->backing->format_given = true;
    PdVol *vol = NULL;
    g_assert_false(pd_pool_backend_vol_create(f->be, f->pool, bad, 0, NULL, &vol, &error));
    g_assert_nonnull(strstr(error->message, "pool 'p1': volume 'bad.img'"));
    g_autofree char *ls = dir_listing(f->pool);
    g_assert_cmpstr(ls, ==, "base.qcow2 overlay.qcow2 overlay2.qcow2");
}

/* Failed creates name the pool and volume and leave nothing behind. */
static void test_create_errors(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    PdVol *vol = NULL;
    create_simple(f, "taken", "raw", MiB);

    g_autoptr(PdVolDef) dup = vol_def("taken", "qcow2", MiB, 0);
    g_assert_false(pd_pool_backend_vol_create(f->be, f->pool, dup, 0, NULL, &vol, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_EXISTS);
    g_assert_nonnull(strstr(error->message, "pool 'p1': volume 'taken'"));
    g_clear_error(&error);

    g_autoptr(PdVolDef) badcl = vol_def("badcluster", "qcow2", MiB, 0);
    badcl->cluster_size = 3000;
    g_assert_false(pd_pool_backend_vol_create(f->be, f->pool, badcl, 0, NULL, &vol, &error));
    g_assert_nonnull(strstr(error->message, "pool 'p1': volume 'badcluster'"));
    g_clear_error(&error);

    g_autoptr(PdVolDef) vmdk = vol_def("disk.vmdk", "vmdk", MiB, 0);
    g_assert_false(pd_pool_backend_vol_create(f->be, f->pool, vmdk, 0, NULL, &vol, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, "vmdk"));
    g_clear_error(&error);

    const char *bad_names[] = {"../escape", "a/b", "..", ".x.partial-1-2"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad_names); i++) {
        g_autoptr(PdVolDef) bad = vol_def(bad_names[i], "raw", MiB, 0);
        g_assert_false(pd_pool_backend_vol_create(f->be, f->pool, bad, 0, NULL, &vol, &error));
        g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
        g_clear_error(&error);
    }
    g_autofree char *escaped = g_build_filename(f->tmp, "escape", NULL);
    g_assert_false(g_file_test(escaped, G_FILE_TEST_EXISTS));

    /* cancelled before it starts */
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    g_cancellable_cancel(cancel);
    PdBackendJob job = {.cancellable = cancel};
    g_autoptr(PdVolDef) c = vol_def("cancelled", "qcow2", MiB, 0);
    g_assert_false(pd_pool_backend_vol_create(f->be, f->pool, c, 0, &job, &vol, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_CANCELLED);
    g_assert_null(vol);

    g_autofree char *ls = dir_listing(f->pool);
    g_assert_cmpstr(ls, ==, "taken");
}

/* ---- clone ------------------------------------------------------------------------------------- */

static void count_progress(uint64_t done, uint64_t total, void *data)
{
    uint64_t *last = data;
    g_assert_cmpuint(done, <=, total);
    *last = done;
}

static PdVol *clone_vol(Fixture *f, const PdVol *src, const char *name, const char *format,
                        uint64_t capacity, unsigned flags, GError **error)
{
    g_autoptr(PdVolDef) def = vol_def(name, format, capacity, 0);
    PdVol *vol = NULL;
    uint64_t done = 0;
    PdBackendJob job = {.progress = count_progress, .progress_data = &done};
    if (!pd_pool_backend_vol_create_from(f->be, f->pool, def, f->pool, src, flags, &job, &vol,
                                         error))
        return NULL;
    g_assert_cmpuint(done, ==, src->capacity);
    g_ptr_array_add(f->pool->volumes, vol);
    return vol;
}

static void test_clone(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    PdVol *raw = create_simple(f, "src.img", "raw", 64 * MiB);
    write_guest(raw, 0, MiB, 0x11);
    write_guest(raw, 40 * MiB, MiB, 0x22);

    /* raw -> raw: sparse (about 2 MiB allocated of 64), same data */
    PdVol *c1 = clone_vol(f, raw, "c1.img", "raw", 0, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(c1->capacity, ==, 64 * MiB);
    g_assert_cmpuint(allocated_bytes(c1->path), <=, 4 * MiB);
    g_assert_true(guest_is(c1->path, "raw", 0, MiB, 0x11));
    g_assert_true(guest_is(c1->path, "raw", 40 * MiB, MiB, 0x22));
    g_assert_true(guest_is(c1->path, "raw", MiB, 39 * MiB, 0));

    /* raw -> qcow2 (conversion), bigger */
    PdVol *c2 = clone_vol(f, raw, "c2.qcow2", "qcow2", 128 * MiB, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c2->format, ==, "qcow2");
    g_assert_cmpuint(c2->capacity, ==, 128 * MiB);
    g_assert_cmpuint(allocated_bytes(c2->path), <=, 4 * MiB);
    g_assert_true(guest_is(c2->path, "qcow2", 40 * MiB, MiB, 0x22));
    assert_qemu_check(c2->path);

    /* qcow2 -> qcow2, format taken from the source when the definition has none */
    g_autoptr(PdVolDef) d3 = vol_def("c3", NULL, 0, 0);
    PdVol *c3 = NULL;
    g_assert_true(
        pd_pool_backend_vol_create_from(f->be, f->pool, d3, f->pool, c2, 0, NULL, &c3, &error));
    g_assert_no_error(error);
    g_ptr_array_add(f->pool->volumes, c3);
    g_assert_cmpstr(c3->format, ==, "qcow2");
    g_assert_true(guest_is(c3->path, "qcow2", 0, MiB, 0x11));
    assert_qemu_check(c3->path);

    /* linked clone: an overlay on the source */
    PdVol *c4 = clone_vol(f, c3, "c4.qcow2", "qcow2", 0, PD_VOL_CREATE_LINKED, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c4->backing_path, ==, c3->path);
    g_assert_cmpuint(allocated_bytes(c4->path), <, MiB);
    g_assert_true(guest_is(c4->path, "qcow2", 40 * MiB, MiB, 0x22));
    assert_qemu_check(c4->path);

    /* smaller than the source: refused, nothing left */
    g_assert_null(clone_vol(f, raw, "small.img", "raw", MiB, 0, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(error->message, "volume 'small.img'"));
    g_clear_error(&error);

    /* --reflink: done where the filesystem shares extents, else a clear refusal */
    PdVol *r = clone_vol(f, raw, "reflink.img", "raw", 0, PD_VOL_CREATE_REFLINK, &error);
    if (r) {
        g_assert_true(guest_is(r->path, "raw", 0, MiB, 0x11));
    } else {
        g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
        g_assert_nonnull(strstr(error->message, "reflink"));
        g_clear_error(&error);
    }
    g_autofree char *ls = dir_listing(f->pool);
    g_assert_null(strstr(ls, "small"));
    g_assert_null(strstr(ls, "partial"));
}

/* A cancelled copy leaves nothing behind. */
static void cancel_on_progress(uint64_t done, uint64_t total, void *data)
{
    g_cancellable_cancel(data);
}

static void test_clone_cancel(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdVolDef) def = vol_def("src.img", "raw", 64 * MiB, 64 * MiB);
    PdVol *src = create_vol(f, def, PD_VOL_CREATE_PREALLOC_FULL);
    write_guest(src, 0, 32 * MiB, 0x5a);
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    PdBackendJob job = {
        .progress = cancel_on_progress, .progress_data = cancel, .cancellable = cancel};
    g_autoptr(PdVolDef) cdef = vol_def("copy.qcow2", "qcow2", 0, 0);
    PdVol *vol = NULL;
    g_assert_false(
        pd_pool_backend_vol_create_from(f->be, f->pool, cdef, f->pool, src, 0, &job, &vol, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_CANCELLED);
    g_autofree char *ls = dir_listing(f->pool);
    g_assert_cmpstr(ls, ==, "src.img");
}

/* ---- reflink --------------------------------------------------------------------------------- */

static uint64_t available_bytes(const char *path)
{
    uint64_t cap, alloc, avail;
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_pool_util_statvfs(path, &cap, &alloc, &avail, &error));
    return avail;
}

/* Run in a subprocess on a filesystem with reflink (see test_reflink). */
static void test_reflink_body(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    if (!g_test_subprocess()) {
        g_test_skip("run by /pools/dir/reflink");
        return;
    }
    const char *target = f->pool->def->target_path;
    g_autoptr(PdVolDef) def = vol_def("src.img", "raw", 64 * MiB, 0);
    PdVol *raw = create_vol(f, def, 0);
    write_guest(raw, 0, 32 * MiB, 0x33);
    sync();

    /* --reflink: shares the 32 MiB instead of copying them */
    uint64_t before = available_bytes(target);
    PdVol *c = clone_vol(f, raw, "c.img", "raw", 0, PD_VOL_CREATE_REFLINK, &error);
    g_assert_no_error(error);
    sync();
    g_assert_cmpuint(before - available_bytes(target), <, 8 * MiB);
    g_assert_true(guest_is(c->path, "raw", 0, 32 * MiB, 0x33));
    write_guest(c, 0, MiB, 0x44); /* copy on write: the source keeps its data */
    g_assert_true(guest_is(raw->path, "raw", 0, MiB, 0x33));

    /* without the flag reflink is still used where possible; a bigger clone is grown */
    PdVol *big = clone_vol(f, raw, "big.img", "raw", 128 * MiB, 0, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(big->capacity, ==, 128 * MiB);
    g_assert_true(guest_is(big->path, "raw", 0, 32 * MiB, 0x33));

    /* qcow2 to qcow2, grown through the engine */
    PdVol *q = create_simple(f, "q.qcow2", "qcow2", 64 * MiB);
    write_guest(q, 8 * MiB, 4 * MiB, 0x55);
    PdVol *qc = clone_vol(f, q, "qc.qcow2", "qcow2", 96 * MiB, PD_VOL_CREATE_REFLINK, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(qc->capacity, ==, 96 * MiB);
    g_assert_true(guest_is(qc->path, "qcow2", 8 * MiB, 4 * MiB, 0x55));
    assert_qemu_check(qc->path);

    /* a conversion cannot be a reflink: refused with --reflink, nothing left */
    g_assert_null(clone_vol(f, raw, "conv.qcow2", "qcow2", 0, PD_VOL_CREATE_REFLINK, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, "formats differ"));
    g_autofree char *ls = dir_listing(f->pool);
    g_assert_cmpstr(ls, ==, "big.img c.img q.qcow2 qc.qcow2 src.img");
}

/* Reflink clones need a filesystem that shares extents (XFS, btrfs): POOLD_TEST_REFLINK_DIR
 * names a directory on one; else, as root with mkfs.xfs and a loop device, the test makes an
 * XFS on /dev/shm for its duration. The checks run in a subprocess, so that the mount is
 * removed whatever they do. Skipped when neither is possible. */
static void test_reflink(void)
{
    g_autofree char *mnt = NULL, *img = NULL;
    const char *dir = g_getenv("POOLD_TEST_REFLINK_DIR");
    if (!dir) {
        g_autofree char *mkfs = g_find_program_in_path("mkfs.xfs");
        if (geteuid() != 0 || !mkfs || !g_file_test("/dev/loop-control", G_FILE_TEST_EXISTS)) {
            g_test_skip("no filesystem with reflink (set POOLD_TEST_REFLINK_DIR, or run as "
                        "root with mkfs.xfs)");
            return;
        }
        mnt = it_mkdtemp("pool-reflink");
        img = g_strdup_printf("/dev/shm/pool-reflink-%d.img", (int)getpid());
        int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(ftruncate(fd, 400 * MiB), ==, 0);
        close(fd);
        if (it_runv(NULL, NULL, "mkfs.xfs", "-q", "-f", img, NULL) != 0 ||
            it_runv(NULL, NULL, "mount", "-o", "loop", img, mnt, NULL) != 0) {
            (void)unlink(img);
            it_rmtree(mnt);
            g_test_skip("could not make and mount an XFS on a loop device");
            return;
        }
        dir = mnt;
    }
    g_autofree char *saved = g_strdup(g_getenv("POOLD_TEST_TMPDIR"));
    g_setenv("POOLD_TEST_TMPDIR", dir, TRUE);
    g_test_trap_subprocess("/pools/dir/reflink/run", 120 * G_USEC_PER_SEC,
                           G_TEST_SUBPROCESS_INHERIT_STDERR);
    if (saved)
        g_setenv("POOLD_TEST_TMPDIR", saved, TRUE);
    else
        g_unsetenv("POOLD_TEST_TMPDIR");
    if (mnt) {
        (void)it_runv(NULL, NULL, "umount", mnt, NULL);
        (void)rmdir(mnt);
        (void)unlink(img);
    }
    g_test_trap_assert_passed();
}

/* ---- resize ------------------------------------------------------------------------------------ */

static void test_resize(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    const char *formats[] = {"raw", "qcow2"};
    for (size_t i = 0; i < G_N_ELEMENTS(formats); i++) {
        g_autofree char *name = g_strdup_printf("r.%s", formats[i]);
        PdVol *v = create_simple(f, name, formats[i], 16 * MiB);
        write_guest(v, 10 * MiB, 65536, 0x77);
        PdVol *nv = NULL;

        g_assert_true(
            pd_pool_backend_vol_resize(f->be, f->pool, v, 32 * MiB, 0, NULL, &nv, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(nv->capacity, ==, 32 * MiB);
        pd_vol_free(nv);

        /* no --shrink */
        g_assert_false(
            pd_pool_backend_vol_resize(f->be, f->pool, v, 8 * MiB, 0, NULL, NULL, &error));
        g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(error->message, "--shrink"));
        g_clear_error(&error);

        /* data at 10 MiB would be cut: refused, naming the offset; capacity unchanged */
        g_assert_false(pd_pool_backend_vol_resize(f->be, f->pool, v, 8 * MiB, PD_VOL_RESIZE_SHRINK,
                                                  NULL, NULL, &error));
        g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(error->message, "10485760"));
        g_assert_nonnull(strstr(error->message, "pool 'p1': volume 'r."));
        g_clear_error(&error);
        g_assert_true(pd_pool_backend_vol_refresh(f->be, f->pool, v, &nv, &error));
        g_assert_cmpuint(nv->capacity, ==, 32 * MiB);
        pd_vol_free(nv);

        /* nothing past 12 MiB: allowed */
        g_assert_true(pd_pool_backend_vol_resize(f->be, f->pool, v, 12 * MiB, PD_VOL_RESIZE_SHRINK,
                                                 NULL, &nv, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(nv->capacity, ==, 12 * MiB);
        g_assert_true(guest_is(v->path, formats[i], 10 * MiB, 65536, 0x77));
        pd_vol_free(nv);

        /* grow with --allocate reserves the new space */
        g_assert_true(pd_pool_backend_vol_resize(f->be, f->pool, v, 48 * MiB,
                                                 PD_VOL_RESIZE_ALLOCATE, NULL, &nv, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(nv->capacity, ==, 48 * MiB);
        g_assert_cmpuint(allocated_bytes(v->path), >=, 36 * MiB);
        pd_vol_free(nv);
        if (strcmp(formats[i], "qcow2") == 0)
            assert_qemu_check(v->path);
    }
}

/* ---- wipe -------------------------------------------------------------------------------------- */

static void test_wipe(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    const char *formats[] = {"raw", "qcow2"};
    for (size_t i = 0; i < G_N_ELEMENTS(formats); i++) {
        for (int alg = 0; alg < PD_WIPE_COUNT; alg++) {
            g_autofree char *name =
                g_strdup_printf("w-%s.%s", pd_wipe_algorithm_name(alg), formats[i]);
            PdVol *v = create_simple(f, name, formats[i], 8 * MiB);
            write_guest(v, MiB, MiB, 0xee);
            uint64_t before = allocated_bytes(v->path);
            uint64_t done = 0;
            PdBackendJob job = {.progress = count_progress, .progress_data = &done};
            g_assert_true(pd_pool_backend_vol_wipe(f->be, f->pool, v, alg, 0, &job, &error));
            g_assert_no_error(error);
            g_assert_cmpuint(done, ==, 8 * MiB);
            if (alg == PD_WIPE_RANDOM) {
                g_assert_false(guest_is(v->path, formats[i], MiB, 4096, 0xee));
                g_assert_false(guest_is(v->path, formats[i], 0, 4096, 0));
            } else {
                g_assert_true(guest_is(v->path, formats[i], 0, 8 * MiB, 0));
            }
            if (alg == PD_WIPE_ZERO) /* the old bytes are overwritten in place */
                g_assert_cmpuint(allocated_bytes(v->path), ==, before);
            if (alg == PD_WIPE_TRIM && strcmp(formats[i], "raw") == 0)
                g_assert_cmpuint(allocated_bytes(v->path), ==, 0);
            if (strcmp(formats[i], "qcow2") == 0)
                assert_qemu_check(v->path);
        }
    }
    /* cancelled: fails as such, and the image stays valid */
    PdVol *c = create_simple(f, "cancel.qcow2", "qcow2", 8 * MiB);
    write_guest(c, 0, MiB, 0x99);
    g_autoptr(GCancellable) cancel = g_cancellable_new();
    g_cancellable_cancel(cancel);
    PdBackendJob cjob = {.cancellable = cancel};
    g_assert_false(pd_pool_backend_vol_wipe(f->be, f->pool, c, PD_WIPE_RANDOM, 0, &cjob, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_CANCELLED);
    g_assert_nonnull(strstr(error->message, "volume 'cancel.qcow2'"));
    g_clear_error(&error);
    assert_qemu_check(c->path);

    /* an overlay wiped with zeroes reads zeroes, not its backing file */
    PdVol *base = f->pool->volumes->pdata[0];
    write_guest(base, 0, MiB, 0x42);
    PdVol *ov = clone_vol(f, base, "ov.qcow2", "qcow2", 0, PD_VOL_CREATE_LINKED, &error);
    g_assert_no_error(error);
    g_assert_true(guest_is(ov->path, "qcow2", 0, MiB, 0x42));
    g_assert_true(pd_pool_backend_vol_wipe(f->be, f->pool, ov, PD_WIPE_ZERO, 0, NULL, &error));
    g_assert_true(guest_is(ov->path, "qcow2", 0, MiB, 0));
    g_assert_true(guest_is(base->path, base->format, 0, MiB, 0x42));
    assert_qemu_check(ov->path);
}

/* ---- upload, download ---------------------------------------------------------------------------- */

typedef struct {
    int fd;
    const unsigned char *data;
    size_t len;
} Feeder;

static gpointer feed_pipe(gpointer p)
{
    Feeder *fd = p;
    size_t off = 0;
    while (off < fd->len) {
        ssize_t n = write(fd->fd, fd->data + off, MIN(fd->len - off, 100000));
        g_assert_cmpint(n, >, 0);
        off += (size_t)n;
    }
    close(fd->fd);
    return NULL;
}

static gpointer drain_pipe(gpointer p)
{
    int fd = GPOINTER_TO_INT(p);
    GByteArray *out = g_byte_array_new();
    unsigned char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        g_byte_array_append(out, buf, (guint)n);
    close(fd);
    return out;
}

static void test_upload_download(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    PdVol *v = create_simple(f, "up.img", "raw", 8 * MiB);
    size_t len = 3 * MiB + 123;
    g_autofree unsigned char *payload = g_malloc(len);
    for (size_t i = 0; i < len; i++)
        payload[i] = (unsigned char)(i * 7 + 1);
    memset(payload + MiB, 0, MiB); /* a zero run: a hole with --sparse */
    /* and an unaligned one inside data: its whole 4 KiB blocks become a hole too */
    memset(payload + 2 * MiB + 65536 + 100, 0, 128 * 1024);

    /* upload through a pipe at offset 1 MiB */
    int p[2];
    g_assert_cmpint(pipe(p), ==, 0);
    /* the daemon may get a non-blocking descriptor: the backend waits on it */
    g_assert_cmpint(fcntl(p[0], F_SETFL, O_NONBLOCK), ==, 0);
    Feeder feeder = {p[1], payload, len};
    GThread *t = g_thread_new("feed", feed_pipe, &feeder);
    g_assert_true(pd_pool_backend_vol_upload(f->be, f->pool, v, p[0], MiB, 0, PD_VOL_XFER_SPARSE,
                                             NULL, &error));
    g_assert_no_error(error);
    g_thread_join(t);
    close(p[0]);
    g_assert_cmpuint(allocated_bytes(v->path), <=, 2 * MiB + 8192 - 120 * 1024);

    /* download the same range through a pipe: identical */
    g_assert_cmpint(pipe(p), ==, 0);
    g_assert_cmpint(fcntl(p[1], F_SETFL, O_NONBLOCK), ==, 0);
    t = g_thread_new("drain", drain_pipe, GINT_TO_POINTER(p[0]));
    g_assert_true(pd_pool_backend_vol_download(f->be, f->pool, v, p[1], MiB, len,
                                               PD_VOL_XFER_SPARSE, NULL, &error));
    g_assert_no_error(error);
    close(p[1]);
    g_autoptr(GByteArray) got = g_thread_join(t);
    g_assert_cmpmem(got->data, got->len, payload, len);

    /* download the whole volume into a file, sparse: holes stay holes */
    g_autofree char *out = g_build_filename(f->tmp, "download", NULL);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_true(pd_pool_backend_vol_download(f->be, f->pool, v, fd, 0, 0, PD_VOL_XFER_SPARSE,
                                               NULL, &error));
    g_assert_no_error(error);
    close(fd);
    size_t dlen;
    g_autofree uint8_t *whole = it_read_file(out, &dlen);
    g_assert_cmpuint(dlen, ==, 8 * MiB);
    g_assert_cmpmem(whole + MiB, len, payload, len);
    /* 2 MiB of data (ext4, tmpfs); XFS reports its speculative preallocation next to written
     * data as data for a while, so allow that much more */
    g_assert_cmpuint(data_bytes(out), <=, 4 * MiB + 8192);

    /* upload that file back into a second volume (file fd, no length) */
    PdVol *v2 = create_simple(f, "up2.img", "raw", 8 * MiB);
    fd = open(out, O_RDONLY);
    g_assert_true(pd_pool_backend_vol_upload(f->be, f->pool, v2, fd, 0, 0, 0, NULL, &error));
    g_assert_no_error(error);
    close(fd);
    size_t l2;
    g_autofree uint8_t *back = it_read_file(v2->path, &l2);
    g_assert_cmpmem(back, l2, whole, dlen);

    /* past the end: refused */
    g_assert_false(pd_pool_backend_vol_download(f->be, f->pool, v, 1, 8 * MiB, 1, 0, NULL, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(error->message, "volume 'up.img'"));
}

/* ---- snapshots ------------------------------------------------------------------------------------ */

static void test_snapshots(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    PdVol *v = create_simple(f, "snap.qcow2", "qcow2", 16 * MiB);
    write_guest(v, 0, 65536, 0x01);
    g_assert_true(pd_pool_backend_vol_snapshot_create(f->be, f->pool, v, "s1", &error));
    g_assert_no_error(error);
    write_guest(v, 0, 65536, 0x02);
    g_assert_true(pd_pool_backend_vol_snapshot_create(f->be, f->pool, v, "s2", &error));
    write_guest(v, 0, 65536, 0x03);

    GArray *list = NULL;
    g_assert_true(pd_pool_backend_vol_snapshot_list(f->be, f->pool, v, &list, &error));
    g_assert_cmpuint(list->len, ==, 2);
    g_assert_cmpstr(g_array_index(list, PdSnapshotInfo, 0).name, ==, "s1");
    g_assert_cmpstr(g_array_index(list, PdSnapshotInfo, 1).name, ==, "s2");
    g_array_unref(list);

    g_assert_true(pd_pool_backend_vol_snapshot_revert(f->be, f->pool, v, "s1", &error));
    g_assert_no_error(error);
    g_assert_true(guest_is(v->path, "qcow2", 0, 65536, 0x01));
    assert_qemu_check(v->path);

    g_assert_true(pd_pool_backend_vol_snapshot_delete(f->be, f->pool, v, "s1", &error));
    g_assert_no_error(error);
    g_assert_false(pd_pool_backend_vol_snapshot_delete(f->be, f->pool, v, "s1", &error));
    g_assert_nonnull(strstr(error->message, "volume 'snap.qcow2'"));
    g_clear_error(&error);
    g_assert_true(pd_pool_backend_vol_snapshot_list(f->be, f->pool, v, &list, &error));
    g_assert_cmpuint(list->len, ==, 1);
    g_array_unref(list);
    assert_qemu_check(v->path);

    PdVol *raw = create_simple(f, "raw.img", "raw", MiB);
    g_assert_false(pd_pool_backend_vol_snapshot_create(f->be, f->pool, raw, "s", &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, "pool 'p1': volume 'raw.img'"));
    g_assert_nonnull(strstr(error->message, "'raw'"));
}

/* ---- refresh ------------------------------------------------------------------------------------- */

static void refresh(Fixture *f, const GPtrArray *previous, PdPoolRefresh *r)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_pool_backend_refresh(f->be, f->pool, previous, r, &error));
    g_assert_no_error(error);
}

static void test_refresh(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    for (int i = 0; i < 20; i++) {
        g_autofree char *name = g_strdup_printf("v%02d.qcow2", i);
        create_simple(f, name, "qcow2", MiB);
    }
    /* a file dropped in behind the daemon's back, a partial file, a directory */
    g_autofree char *extra = g_build_filename(f->pool->def->target_path, "extra.iso", NULL);
    it_write_file(extra, "CD001", 5);
    g_autofree char *partial =
        g_build_filename(f->pool->def->target_path, ".v99.partial-1-0", NULL);
    it_write_file(partial, "x", 1);
    g_autofree char *sub = g_build_filename(f->pool->def->target_path, "subdir", NULL);
    g_assert_cmpint(mkdir(sub, 0700), ==, 0);

    /* a partial file of this process (a create in progress) survives the cleanup */
    g_autofree char *ours_name = g_strdup_printf(".v98.partial-%d-7", (int)getpid());
    g_autofree char *ours = g_build_filename(f->pool->def->target_path, ours_name, NULL);
    it_write_file(ours, "x", 1);

    /* first refresh without a catalog: everything opened and probed */
    PdPoolRefresh r = {0};
    refresh(f, NULL, &r);
    g_assert_cmpuint(r.n_volumes, ==, 21);
    g_assert_cmpuint(r.n_reopened, ==, 21);
    g_assert_cmpuint(r.n_probed, ==, 21);
    g_assert_cmpuint(r.capacity, >, 0);
    g_assert_cmpuint(r.available, <=, r.capacity);
    pd_pool_refresh_apply(f->pool, &r);
    g_assert_cmpuint(f->pool->volumes->len, ==, 21);
    PdVol *x = pd_pool_find_vol(f->pool, "extra.iso");
    g_assert_nonnull(x);
    g_assert_cmpstr(x->format, ==, "raw");
    g_assert_cmpuint(x->capacity, ==, 5);
    g_assert_null(pd_pool_find_vol(f->pool, ".v99.partial-1-0"));
    g_assert_null(pd_pool_find_vol(f->pool, "subdir"));

    /* leftovers of a crashed poold go, a create in progress here stays */
    unsigned removed = 0;
    g_assert_true(pd_pool_backend_cleanup_partial(f->be, f->pool, &removed, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(removed, ==, 1);
    g_assert_false(g_file_test(partial, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_test(ours, G_FILE_TEST_EXISTS));
    g_assert_cmpint(unlink(ours), ==, 0);
    g_assert_cmpstr(pd_pool_find_vol(f->pool, "v07.qcow2")->format, ==, "qcow2");

    /* with the catalog: nothing reopened */
    refresh(f, f->pool->volumes, &r);
    g_assert_cmpuint(r.n_volumes, ==, 21);
    g_assert_cmpuint(r.n_reopened, ==, 0);
    pd_pool_refresh_apply(f->pool, &r);

    /* one volume changed (resized): only it is reopened, and its new capacity is seen */
    PdVol *v3 = pd_pool_find_vol(f->pool, "v03.qcow2");
    g_assert_true(pd_pool_backend_vol_resize(f->be, f->pool, v3, 4 * MiB, 0, NULL, NULL, &error));
    g_assert_no_error(error);
    refresh(f, f->pool->volumes, &r);
    g_assert_cmpuint(r.n_reopened, ==, 1);
    g_assert_cmpuint(r.n_probed, ==, 0);
    pd_pool_refresh_apply(f->pool, &r);
    g_assert_cmpuint(pd_pool_find_vol(f->pool, "v03.qcow2")->capacity, ==, 4 * MiB);

    /* the recorded format wins: a qcow2 header written into a raw volume stays raw */
    PdVol *raw = pd_pool_find_vol(f->pool, "extra.iso");
    size_t qlen;
    g_autofree uint8_t *qhead = it_read_file(pd_pool_find_vol(f->pool, "v00.qcow2")->path, &qlen);
    it_write_file(raw->path, qhead, qlen);
    refresh(f, f->pool->volumes, &r);
    g_assert_cmpuint(r.n_reopened, ==, 1);
    g_assert_cmpuint(r.n_probed, ==, 0);
    pd_pool_refresh_apply(f->pool, &r);
    raw = pd_pool_find_vol(f->pool, "extra.iso");
    g_assert_cmpstr(raw->format, ==, "raw");
    g_assert_cmpuint(raw->capacity, ==, qlen);

    /* deleted behind the daemon's back: gone from the list */
    g_assert_cmpint(unlink(pd_pool_find_vol(f->pool, "v10.qcow2")->path), ==, 0);
    refresh(f, f->pool->volumes, &r);
    g_assert_cmpuint(r.n_volumes, ==, 20);
    g_assert_cmpuint(r.n_reopened, ==, 0);
    pd_pool_refresh_apply(f->pool, &r);
    g_assert_null(pd_pool_find_vol(f->pool, "v10.qcow2"));
}

/* Block devices in a dir pool (a symbolic link to a loop device): listed with the device's
 * size, re-read at every refresh, downloadable. Root only. */
static void test_block_device(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *losetup = g_find_program_in_path("losetup");
    if (geteuid() != 0 || !losetup) {
        g_test_skip("needs root and losetup");
        return;
    }
    g_autofree char *backing = g_build_filename(f->tmp, "lo.img", NULL);
    g_autofree uint8_t *pattern = g_malloc(4 * MiB);
    memset(pattern, 0x3c, 4 * MiB);
    it_write_file(backing, pattern, 4 * MiB);
    g_autofree char *dev = NULL;
    if (it_runv(&dev, NULL, "losetup", "-f", "--show", backing, NULL) != 0) {
        g_test_skip("no free loop device");
        return;
    }
    g_strstrip(dev);
    /* a device node in the pool directory: a symbolic link to /dev/loopN would lead out of the
     * pool, and the path rule refuses such links (test-pool-path.c) */
    g_autofree char *node = g_build_filename(f->pool->def->target_path, "lun0", NULL);
    struct stat dst;
    g_assert_cmpint(stat(dev, &dst), ==, 0);
    g_assert_cmpint(mknod(node, S_IFBLK | 0600, dst.st_rdev), ==, 0);

    PdPoolRefresh r = {0};
    bool ok = pd_pool_backend_refresh(f->be, f->pool, NULL, &r, &error);
    pd_pool_refresh_apply(f->pool, &r);
    PdVol *v = ok ? pd_pool_find_vol(f->pool, "lun0") : NULL;
    bool listed = v && v->type == PD_VOL_BLOCK && v->capacity == 4 * MiB;
    bool reread = false, downloaded = false;
    if (listed) {
        refresh(f, f->pool->volumes, &r);
        reread = r.n_reopened == 1; /* devices are always re-read */
        pd_pool_refresh_apply(f->pool, &r);
        v = pd_pool_find_vol(f->pool, "lun0");
        g_autofree char *out = g_build_filename(f->tmp, "lun0.out", NULL);
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        downloaded = pd_pool_backend_vol_download(f->be, f->pool, v, fd, MiB, MiB, 0, NULL, &error);
        close(fd);
        size_t len = 0;
        g_autofree uint8_t *got = downloaded ? it_read_file(out, &len) : NULL;
        downloaded = downloaded && len == MiB && memcmp(got, pattern, MiB) == 0;
    }
    (void)it_runv(NULL, NULL, "losetup", "-d", dev, NULL);
    g_assert_no_error(error);
    g_assert_true(listed);
    g_assert_true(reread);
    g_assert_true(downloaded);
}

/* ---- delete ---------------------------------------------------------------------------------------- */

static void test_delete(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    PdVol *v = create_simple(f, "gone.qcow2", "qcow2", MiB);
    g_assert_true(pd_pool_backend_vol_delete(f->be, f->pool, v, 0, &error));
    g_assert_no_error(error);
    g_assert_false(g_file_test(v->path, G_FILE_TEST_EXISTS));
    g_assert_false(pd_pool_backend_vol_delete(f->be, f->pool, v, 0, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_NO_SUCH_VOLUME);
    g_assert_nonnull(strstr(error->message, "pool 'p1': volume 'gone.qcow2'"));
    g_clear_error(&error);

    /* the pool can go once it is empty */
    g_assert_true(pd_pool_backend_stop(f->be, f->pool, &error));
    g_assert_true(pd_pool_backend_delete(f->be, f->pool, 0, &error));
    g_assert_no_error(error);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    it_require_tool("qemu-img", "the oracle that checks every qcow2 volume the backend writes");

    /* first: it sets an environment variable, which is safe only before any thread exists */
    g_test_add_func("/pools/dir/reflink", test_reflink);
    g_test_add_func("/pools/dir/lookup", test_lookup);
    g_test_add_func("/pools/dir/unsupported", test_unsupported);
    g_test_add_func("/pools/dir/build", test_build);
    g_test_add_func("/pools/dir/build-undo", test_build_undo);
#define ADD(path, fn)                                                                              \
    g_test_add("/pools/dir/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("create-raw", test_create_raw);
    ADD("create-qcow2", test_create_qcow2);
    ADD("create-backing", test_create_backing);
    ADD("create-errors", test_create_errors);
    ADD("clone", test_clone);
    ADD("clone-cancel", test_clone_cancel);
    ADD("reflink/run", test_reflink_body);
    ADD("resize", test_resize);
    ADD("wipe", test_wipe);
    ADD("upload-download", test_upload_download);
    ADD("snapshots", test_snapshots);
    ADD("refresh", test_refresh);
    ADD("block-device", test_block_device);
    ADD("delete", test_delete);
#undef ADD
    return g_test_run();
}
