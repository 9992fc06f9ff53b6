/* The netfs backend in userspace mode (libnfs), run directly against a real nfs-ganesha started
 * by nfs-server.sh (NFS_SERVER, NFS_EXPORT, NFS_GANESHA_PID). Every file the backend writes is
 * judged on the server side, in the export directory, by qemu-img (check, compare, info,
 * snapshot -l): create raw and qcow2, clone and convert (within the pool and from and to a dir
 * pool), linked clone (a backing chain over NFS), resize, snapshots, wipe, upload/download,
 * incremental refresh, leftover partial files, delete, the domain disk source, the export
 * list; and the errors: wrong export, unreachable host, a frozen server (SIGSTOP) failing
 * within the pool's timeout. Without the fixture's environment it exits 77. */
#include "common/pd-error.h"
#include "pools/backend.h"
#include "pools/pool-util.h"
#include "tests/interop/interop-util.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MiB (1024 * 1024)

static const char *server, *export_dir;

typedef struct {
    PdPool *pool;
    const PdPoolBackend *be;
    char *tmp; /* scratch directory on the client side (a dir pool, downloads) */
} Fixture;

static PdPoolDef *netfs_def(const char *name, const char *host, const char *export,
                            unsigned timeout)
{
    PdPoolDef *def = pd_pool_def_new(PD_POOL_NETFS);
    def->name = g_strdup(name);
    def->source.host_name = g_strdup(host);
    def->source.dir = g_strdup(export);
    def->target_path = g_strdup("/mnt/unused");
    def->netfs_mode = PD_NETFS_MODE_USERSPACE;
    def->netfs_timeout = timeout;
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_pool_def_validate(def, &error));
    return def;
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    f->pool = pd_pool_new(netfs_def("nfs1", server, export_dir, 2));
    f->be = pd_pool_backend_for_def(f->pool->def, &error);
    g_assert_no_error(error);
    g_assert_true(f->be == &pd_pool_backend_netfs_nfs);
    g_assert_true(pd_pool_backend_build(f->be, f->pool, 0, &error));
    g_assert_true(pd_pool_backend_start(f->be, f->pool, &error));
    g_assert_no_error(error);
    g_assert_nonnull(f->pool->backend_data);
    f->tmp = it_mkdtemp("netfs-nfs");
}

/* Stops the pool and empties the export for the next test. */
static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_pool_backend_stop(f->be, f->pool, &error));
    g_assert_null(f->pool->backend_data);
    pd_pool_free(f->pool);
    it_rmtree(f->tmp);
    g_free(f->tmp);
    g_autoptr(GDir) dir = g_dir_open(export_dir, 0, NULL);
    for (const char *n; dir && (n = g_dir_read_name(dir));) {
        g_autofree char *p = g_build_filename(export_dir, n, NULL);
        (void)unlink(p);
    }
}

static char *server_path(const char *name)
{
    return g_build_filename(export_dir, name, NULL);
}

static PdVolDef *vol_def(const char *name, const char *format, uint64_t capacity)
{
    PdVolDef *def = pd_vol_def_new(PD_POOL_NETFS);
    def->name = g_strdup(name);
    def->target_format = g_strdup(format);
    def->capacity = capacity;
    def->has_capacity = true;
    return def;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp((*(PdVol *const *)a)->name, (*(PdVol *const *)b)->name);
}

/* Creates a volume and adds it to the pool's list (sorted), as the daemon's catalog would. */
static PdVol *create(Fixture *f, const char *name, const char *format, uint64_t capacity)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdVolDef) def = vol_def(name, format, capacity);
    PdVol *vol = NULL;
    g_assert_true(pd_pool_backend_vol_create(f->be, f->pool, def, 0, NULL, &vol, &error));
    g_assert_no_error(error);
    g_ptr_array_add(f->pool->volumes, vol);
    g_ptr_array_sort(f->pool->volumes, compare_names);
    return vol;
}

static void assert_check(const char *name)
{
    g_autofree char *path = server_path(name);
    g_autofree char *out = NULL;
    int status = it_qemu_img_check(path, &out);
    if (status != 0)
        g_printerr("qemu-img check %s:\n%s\n", path, out);
    g_assert_cmpint(status, ==, 0);
}

/* `qemu-img info` of a file in the export must contain @needle. */
static void assert_info(const char *name, const char *needle)
{
    g_autofree char *path = server_path(name);
    g_autofree char *out = NULL;
    g_assert_cmpint(it_runv(&out, NULL, "qemu-img", "info", "-U", path, NULL), ==, 0);
    if (!strstr(out, needle))
        g_error("qemu-img info %s lacks '%s':\n%s", name, needle, out);
}

/* Writes @len bytes of @byte at @offset of the volume's guest data through the engine. */
static void write_guest(Fixture *f, PdVol *vol, uint64_t offset, uint8_t byte, size_t len)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdImage) img = pd_pool_backend_vol_open(f->be, f->pool, vol, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    g_autofree uint8_t *buf = g_malloc(len);
    memset(buf, byte, len);
    g_assert_true(pd_image_write(img, offset, buf, len, &error));
    g_assert_true(pd_image_flush(img, &error));
    g_assert_no_error(error);
}

static void test_create(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    PdVol *raw = create(f, "disk.raw", "raw", 64 * MiB);
    PdVol *q = create(f, "disk.qcow2", "qcow2", 64 * MiB);
    g_autofree char *key = g_strdup_printf("nfs://%s%s/disk.qcow2", server, export_dir);
    g_assert_cmpstr(q->key, ==, key);
    g_assert_null(q->path);
    g_assert_cmpint(q->type, ==, PD_VOL_NETWORK);
    g_assert_cmpstr(q->format, ==, "qcow2");
    g_assert_cmpuint(q->capacity, ==, 64 * MiB);
    g_assert_cmpstr(raw->format, ==, "raw");
    g_assert_cmpuint(raw->capacity, ==, 64 * MiB);
    g_assert_cmpuint(raw->mode, ==, 0600);
    assert_check("disk.qcow2");
    assert_info("disk.qcow2", "virtual size: 64 MiB");
    assert_info("disk.raw", "file format: raw");
    struct stat st;
    g_autofree char *raw_path = server_path("disk.raw");
    g_assert_cmpint(stat(raw_path, &st), ==, 0);
    g_assert_cmpuint(st.st_size, ==, 64 * MiB);
    g_assert_cmpuint(st.st_mode & 0777, ==, 0600);

    /* the name is taken now; nothing partial is left over */
    g_autoptr(PdVolDef) again = vol_def("disk.raw", "raw", MiB);
    PdVol *none = NULL;
    g_assert_false(pd_pool_backend_vol_create(f->be, f->pool, again, 0, NULL, &none, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_EXISTS);
    g_assert_nonnull(strstr(error->message, "pool 'nfs1': volume 'disk.raw'"));
    g_clear_error(&error);
    g_autoptr(PdVolDef) bad = vol_def("bad.vmdk", "vmdk", MiB);
    g_assert_false(pd_pool_backend_vol_create(f->be, f->pool, bad, 0, NULL, &none, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_clear_error(&error);
    g_autoptr(GDir) dir = g_dir_open(export_dir, 0, NULL);
    unsigned n = 0;
    for (const char *name; (name = g_dir_read_name(dir));)
        n++;
    g_assert_cmpuint(n, ==, 2);

    /* the domain sees a network disk */
    g_autoptr(PdDiskSource) src = NULL;
    g_assert_true(pd_pool_backend_vol_disk_source(f->be, f->pool, q, &src, &error));
    g_assert_cmpint(src->type, ==, PD_DISK_SOURCE_NETWORK);
    g_assert_cmpstr(src->protocol, ==, "nfs");
    g_autofree char *name = g_strdup_printf("%s/disk.qcow2", export_dir);
    g_assert_cmpstr(src->name, ==, name);
    g_assert_cmpstr(src->host_name, ==, server);
}

static void test_clone_convert(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    PdVol *raw = create(f, "src.raw", "raw", 32 * MiB);
    write_guest(f, raw, 0, 0xa1, MiB);
    write_guest(f, raw, 20 * MiB, 0xa2, 3 * MiB);

    /* raw -> qcow2 in the same pool (convert) */
    g_autoptr(PdVolDef) def = vol_def("copy.qcow2", "qcow2", 0);
    PdVol *copy = NULL;
    g_assert_true(
        pd_pool_backend_vol_create_from(f->be, f->pool, def, f->pool, raw, 0, NULL, &copy, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(copy->format, ==, "qcow2");
    g_assert_cmpuint(copy->capacity, ==, 32 * MiB);
    assert_check("copy.qcow2");
    g_autofree char *a = server_path("src.raw");
    g_autofree char *b = server_path("copy.qcow2");
    g_assert_cmpint(it_qemu_img_compare(a, "raw", b, "qcow2", NULL), ==, 0);
    /* sparse: the copy holds the data, not 32 MiB */
    g_assert_cmpuint(copy->allocation, <, 12 * MiB);

    /* into a dir pool on the client, and back as raw */
    g_autofree char *dir_target = g_build_filename(f->tmp, "dirpool", NULL);
    PdPoolDef *ddef = pd_pool_def_new(PD_POOL_DIR);
    ddef->name = g_strdup("local");
    ddef->target_path = g_strdup(dir_target);
    g_autoptr(PdPool) local = pd_pool_new(ddef);
    g_assert_true(pd_pool_backend_build(&pd_pool_backend_dir, local, 0, &error));
    g_assert_true(pd_pool_backend_start(&pd_pool_backend_dir, local, &error));
    g_autoptr(PdVolDef) ldef = vol_def("local.qcow2", "qcow2", 0);
    g_autoptr(PdVol) lvol = NULL;
    g_assert_true(pd_pool_backend_vol_create_from(&pd_pool_backend_dir, local, ldef, f->pool, copy,
                                                  0, NULL, &lvol, &error));
    g_assert_no_error(error);
    g_assert_cmpint(it_qemu_img_compare(a, "raw", lvol->path, "qcow2", NULL), ==, 0);
    g_autoptr(PdVolDef) back = vol_def("back.raw", "raw", 48 * MiB);
    PdVol *bvol = NULL;
    g_assert_true(
        pd_pool_backend_vol_create_from(f->be, f->pool, back, local, lvol, 0, NULL, &bvol, &error));
    g_assert_no_error(error);
    g_ptr_array_add(f->pool->volumes, bvol);
    g_assert_cmpuint(bvol->capacity, ==, 48 * MiB); /* grown */
    g_autofree char *c = server_path("back.raw");
    g_autofree char *out = NULL;
    /* -s: the 16 MiB the copy grew by read as zeroes */
    g_assert_cmpint(
        it_runv(&out, NULL, "qemu-img", "compare", "-f", "raw", "-F", "raw", a, c, NULL), ==, 0);
    pd_vol_free(copy);
}

/* A linked clone and a create with a backing volume: qcow2 overlays whose backing file is a
 * volume of the same pool, read through NFS and by qemu-img on the server. */
static void test_backing_chain(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    PdVol *base = create(f, "base.raw", "raw", 16 * MiB);
    write_guest(f, base, 0, 0xb1, MiB);
    g_autoptr(PdVolDef) def = vol_def("linked.qcow2", "qcow2", 0);
    def->has_capacity = false;
    PdVol *linked = NULL;
    g_assert_true(pd_pool_backend_vol_create_from(f->be, f->pool, def, f->pool, base,
                                                  PD_VOL_CREATE_LINKED, NULL, &linked, &error));
    g_assert_no_error(error);
    g_ptr_array_add(f->pool->volumes, linked);
    g_assert_cmpstr(linked->backing_path, ==, "base.raw");
    g_assert_cmpstr(linked->backing_format, ==, "raw");
    g_assert_cmpuint(linked->capacity, ==, 16 * MiB);
    assert_check("linked.qcow2");
    g_autofree char *lpath = server_path("linked.qcow2");
    it_run_ok("qemu-img", "info", "--backing-chain", lpath, NULL);

    /* the guest reads the base through the overlay; a write stays in the overlay */
    write_guest(f, linked, 8 * MiB, 0x70, MiB);
    g_autoptr(PdImage) img =
        pd_pool_backend_vol_open(f->be, f->pool, linked, PD_OPEN_RDONLY, &error);
    g_assert_no_error(error);
    uint8_t byte = 0;
    g_assert_true(pd_image_read(img, 100, &byte, 1, &error));
    g_assert_cmpuint(byte, ==, 0xb1);
    g_assert_true(pd_image_read(img, 8 * MiB, &byte, 1, &error));
    g_assert_cmpuint(byte, ==, 0x70);
    g_clear_pointer(&img, pd_image_close);

    /* vol-create with a backing store named by volume name (the daemon's form) */
    g_autoptr(PdVolDef) odef = vol_def("overlay.qcow2", "qcow2", 0);
    odef->has_capacity = false;
    odef->backing = pd_vol_backing_new();
    odef->backing->path = g_strdup("base.raw");
    odef->backing->format = g_strdup("raw");
    odef->backing->format_given = true;
    PdVol *overlay = NULL;
    g_assert_true(pd_pool_backend_vol_create(f->be, f->pool, odef, 0, NULL, &overlay, &error));
    g_assert_no_error(error);
    g_ptr_array_add(f->pool->volumes, overlay);
    assert_info("overlay.qcow2", "backing file: base.raw");
    assert_check("overlay.qcow2");
    PdVol *none = NULL;

    /* an absolute path inside the export is recorded relative; one outside is refused */
    g_autoptr(PdVolDef) adef = vol_def("abs.qcow2", "qcow2", 0);
    adef->has_capacity = false;
    adef->backing = pd_vol_backing_new();
    adef->backing->path = server_path("base.raw");
    adef->backing->format = g_strdup("raw");
    adef->backing->format_given = true;
    PdVol *abs = NULL;
    g_assert_true(pd_pool_backend_vol_create(f->be, f->pool, adef, 0, NULL, &abs, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(abs->backing_path, ==, "base.raw");
    pd_vol_free(abs);
    g_free(adef->name);
    adef->name = g_strdup("evil.qcow2");
    g_free(adef->backing->path);
    adef->backing->path = g_strdup("/etc/passwd");
    g_assert_false(pd_pool_backend_vol_create(f->be, f->pool, adef, 0, NULL, &none, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(error->message, "is not a volume of this pool"));
    g_clear_error(&error);
    g_autofree char *evil = server_path("evil.qcow2");
    g_assert_false(g_file_test(evil, G_FILE_TEST_EXISTS));

    /* a linked clone across pools is refused: its backing file would not be on the export */
    PdPoolDef *other_def = netfs_def("nfs2", server, export_dir, 2);
    g_autoptr(PdPool) other = pd_pool_new(other_def);
    g_autoptr(PdVolDef) xdef = vol_def("x.qcow2", "qcow2", 0);
    g_assert_false(pd_pool_backend_vol_create_from(f->be, f->pool, xdef, other, base,
                                                   PD_VOL_CREATE_LINKED, NULL, &none, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
}

static void test_resize_snapshot_wipe(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    PdVol *q = create(f, "v.qcow2", "qcow2", 16 * MiB);
    write_guest(f, q, 10 * MiB, 0x55, MiB);
    PdVol *resized = NULL;
    g_assert_true(
        pd_pool_backend_vol_resize(f->be, f->pool, q, 32 * MiB, 0, NULL, &resized, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(resized->capacity, ==, 32 * MiB);
    pd_vol_free(resized);
    assert_info("v.qcow2", "virtual size: 32 MiB");
    /* a shrink that would cut data is refused, naming the offset */
    g_assert_false(pd_pool_backend_vol_resize(f->be, f->pool, q, 8 * MiB, PD_VOL_RESIZE_SHRINK,
                                              NULL, NULL, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(error->message, "10485760"));
    g_clear_error(&error);
    assert_check("v.qcow2");

    /* snapshots */
    g_assert_true(pd_pool_backend_vol_snapshot_create(f->be, f->pool, q, "s1", &error));
    g_assert_no_error(error);
    write_guest(f, q, 10 * MiB, 0x66, MiB);
    g_autoptr(GArray) snaps = NULL;
    g_assert_true(pd_pool_backend_vol_snapshot_list(f->be, f->pool, q, &snaps, &error));
    g_assert_cmpuint(snaps->len, ==, 1);
    g_assert_cmpstr(g_array_index(snaps, PdSnapshotInfo, 0).name, ==, "s1");
    g_autofree char *qpath = server_path("v.qcow2");
    g_autofree char *out = NULL;
    g_assert_cmpint(it_runv(&out, NULL, "qemu-img", "snapshot", "-U", "-l", qpath, NULL), ==, 0);
    g_assert_nonnull(strstr(out, "s1"));
    g_assert_true(pd_pool_backend_vol_snapshot_revert(f->be, f->pool, q, "s1", &error));
    g_assert_no_error(error);
    g_autoptr(PdImage) img = pd_pool_backend_vol_open(f->be, f->pool, q, PD_OPEN_RDONLY, &error);
    uint8_t byte = 0;
    g_assert_true(pd_image_read(img, 10 * MiB, &byte, 1, &error));
    g_assert_cmpuint(byte, ==, 0x55);
    g_clear_pointer(&img, pd_image_close);
    g_assert_true(pd_pool_backend_vol_snapshot_delete(f->be, f->pool, q, "s1", &error));
    assert_check("v.qcow2");
    PdVol *raw = create(f, "r.raw", "raw", 4 * MiB);
    g_assert_false(pd_pool_backend_vol_snapshot_create(f->be, f->pool, raw, "s", &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_clear_error(&error);

    /* wipe: the raw file holds zeroes only; trim is refused on NFSv3 raw files */
    write_guest(f, raw, 0, 0x77, 4 * MiB);
    g_assert_true(pd_pool_backend_vol_wipe(f->be, f->pool, raw, PD_WIPE_ZERO, 0, NULL, &error));
    g_assert_no_error(error);
    g_autofree char *rpath = server_path("r.raw");
    size_t len = 0;
    g_autofree uint8_t *content = it_read_file(rpath, &len);
    g_assert_cmpuint(len, ==, 4 * MiB);
    g_assert_true(pd_pool_util_is_zero(content, len));
    g_assert_false(pd_pool_backend_vol_wipe(f->be, f->pool, raw, PD_WIPE_TRIM, 0, NULL, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_clear_error(&error);
    g_assert_true(pd_pool_backend_vol_wipe(f->be, f->pool, q, PD_WIPE_ZERO, 0, NULL, &error));
    g_assert_no_error(error);
    assert_check("v.qcow2");
    img = pd_pool_backend_vol_open(f->be, f->pool, q, PD_OPEN_RDONLY, &error);
    g_assert_true(pd_image_read(img, 10 * MiB, &byte, 1, &error));
    g_assert_cmpuint(byte, ==, 0);
}

static void test_upload_download(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    PdVol *v = create(f, "u.raw", "raw", 8 * MiB);
    size_t len = 3 * MiB;
    g_autofree uint8_t *pattern = g_malloc(len);
    ItRand r;
    it_rand_seed(&r, 11);
    it_rand_fill(&r, pattern, len);
    memset(pattern + MiB, 0, MiB); /* a hole for the sparse upload */
    g_autofree char *in = g_build_filename(f->tmp, "in", NULL);
    it_write_file(in, pattern, len);
    int fd = open(in, O_RDONLY);
    g_assert_true(pd_pool_backend_vol_upload(f->be, f->pool, v, fd, MiB, 0, PD_VOL_XFER_SPARSE,
                                             NULL, &error));
    g_assert_no_error(error);
    close(fd);
    g_autofree char *path = server_path("u.raw");
    size_t got_len = 0;
    g_autofree uint8_t *stored = it_read_file(path, &got_len);
    g_assert_cmpuint(got_len, ==, 8 * MiB);
    g_assert_cmpmem(stored + MiB, len, pattern, len);

    g_autofree char *outp = g_build_filename(f->tmp, "out", NULL);
    fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    g_assert_true(pd_pool_backend_vol_download(f->be, f->pool, v, fd, MiB, len, 0, NULL, &error));
    g_assert_no_error(error);
    close(fd);
    g_autofree uint8_t *down = it_read_file(outp, &got_len);
    g_assert_cmpuint(got_len, ==, len);
    g_assert_cmpmem(down, len, pattern, len);
    /* past the end is refused */
    g_assert_false(pd_pool_backend_vol_download(f->be, f->pool, v, 1, 8 * MiB, 1, 0, NULL, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT);
}

static void test_refresh(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    create(f, "a.qcow2", "qcow2", 8 * MiB);
    create(f, "b.raw", "raw", 4 * MiB);
    /* files made behind poold's back: an image, a leftover partial file, a directory */
    g_autofree char *c = server_path("c.qcow2");
    it_run_ok("qemu-img", "create", "-q", "-f", "qcow2", c, "5M", NULL);
    g_autofree char *partial = server_path(".gone.partial-1-1");
    it_write_file(partial, "x", 1);
    g_autofree char *sub = server_path("subdir");
    g_assert_cmpint(mkdir(sub, 0755), ==, 0);

    PdPoolRefresh r = {0};
    g_assert_true(pd_pool_backend_refresh(f->be, f->pool, f->pool->volumes, &r, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(r.n_volumes, ==, 3);
    g_assert_cmpuint(r.n_reopened, ==, 1); /* only the unknown one */
    g_assert_cmpuint(r.n_probed, ==, 1);
    g_assert_cmpuint(r.capacity, >, 0);
    g_assert_cmpuint(r.available, <=, r.capacity);
    PdVol *cv = g_ptr_array_index(r.volumes, 2);
    g_assert_cmpstr(cv->name, ==, "c.qcow2");
    g_assert_cmpstr(cv->format, ==, "qcow2");
    g_assert_cmpuint(cv->capacity, ==, 5 * MiB);
    pd_pool_refresh_apply(f->pool, &r);

    /* nothing changed: nothing reopened; a changed file is reopened with its format */
    g_assert_true(pd_pool_backend_refresh(f->be, f->pool, f->pool->volumes, &r, &error));
    g_assert_cmpuint(r.n_reopened, ==, 0);
    pd_pool_refresh_apply(f->pool, &r);
    it_run_ok("qemu-img", "resize", "-q", c, "7M", NULL);
    g_assert_true(pd_pool_backend_refresh(f->be, f->pool, f->pool->volumes, &r, &error));
    g_assert_cmpuint(r.n_reopened, ==, 1);
    g_assert_cmpuint(r.n_probed, ==, 0);
    g_assert_cmpuint(((PdVol *)g_ptr_array_index(r.volumes, 2))->capacity, ==, 7 * MiB);
    pd_pool_refresh_apply(f->pool, &r);

    /* the leftover partial file goes; delete removes the file */
    unsigned removed = 0;
    g_assert_true(pd_pool_backend_cleanup_partial(f->be, f->pool, &removed, &error));
    g_assert_cmpuint(removed, ==, 1);
    g_assert_false(g_file_test(partial, G_FILE_TEST_EXISTS));
    PdVol *b = pd_pool_find_vol(f->pool, "b.raw");
    g_assert_true(pd_pool_backend_vol_delete(f->be, f->pool, b, 0, &error));
    g_autofree char *bpath = server_path("b.raw");
    g_assert_false(g_file_test(bpath, G_FILE_TEST_EXISTS));
    g_assert_false(pd_pool_backend_vol_delete(f->be, f->pool, b, 0, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_NO_SUCH_VOLUME);
    g_clear_error(&error);
    (void)rmdir(sub);

    /* the export list */
    g_autoptr(GPtrArray) sources = NULL;
    g_autoptr(PdPoolDef) spec = pd_pool_def_new(PD_POOL_NETFS);
    spec->source.host_name = g_strdup(server);
    g_assert_true(pd_pool_backend_find_sources(f->be, spec, 0, &sources, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(sources->len, ==, 1);
    g_assert_cmpstr(((PdPoolDef *)sources->pdata[0])->source.dir, ==, export_dir);
}

static void test_bad_start(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdPool) wrong = pd_pool_new(netfs_def("wrong", server, "/no/such/export", 2));
    g_assert_false(pd_pool_backend_start(&pd_pool_backend_netfs_nfs, wrong, &error));
    g_test_message("wrong export: %s", error->message);
    g_assert_true(g_str_has_prefix(error->message, "pool 'wrong': "));
    g_assert_nonnull(strstr(error->message, "/no/such/export"));
    g_assert_nonnull(strstr(error->message, server));
    g_assert_null(wrong->backend_data);
    g_clear_error(&error);

    g_autoptr(PdPool) away = pd_pool_new(netfs_def("away", "192.0.2.7", "/e", 2));
    gint64 t0 = g_get_monotonic_time();
    g_assert_false(pd_pool_backend_start(&pd_pool_backend_netfs_nfs, away, &error));
    g_test_message("unreachable: %s", error->message);
    g_assert_true(g_str_has_prefix(error->message, "pool 'away': "));
    g_assert_nonnull(strstr(error->message, "192.0.2.7"));
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
    g_clear_error(&error);

    g_autoptr(PdPool) v4 = pd_pool_new(netfs_def("v4", server, export_dir, 2));
    v4->def->source.protocol_ver = 4;
    g_assert_false(pd_pool_backend_start(&pd_pool_backend_netfs_nfs, v4, &error));
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, "NFSv3"));
}

/* A frozen server: pool calls fail after the pool's timeout (2 s), naming pool and server. */
static void test_frozen(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    PdVol *v = create(f, "f.qcow2", "qcow2", 8 * MiB);
    pid_t pid = (pid_t)g_ascii_strtoll(g_getenv("NFS_GANESHA_PID"), NULL, 10);
    g_assert_cmpint(kill(pid, SIGSTOP), ==, 0);

    gint64 t0 = g_get_monotonic_time();
    g_autoptr(PdVolDef) def = vol_def("n.qcow2", "qcow2", MiB);
    PdVol *none = NULL;
    bool ok = pd_pool_backend_vol_create(f->be, f->pool, def, 0, NULL, &none, &error);
    gint64 create_us = g_get_monotonic_time() - t0;
    g_assert_false(ok);
    g_test_message("frozen create after %.1f s: %s", create_us / 1e6, error->message);
    g_assert_true(g_str_has_prefix(error->message, "pool 'nfs1': volume 'n.qcow2': "));
    g_assert_nonnull(strstr(error->message, "timed out"));
    g_assert_nonnull(strstr(error->message, server));
    g_clear_error(&error);

    t0 = g_get_monotonic_time();
    PdPoolRefresh r = {0};
    ok = pd_pool_backend_refresh(f->be, f->pool, f->pool->volumes, &r, &error);
    gint64 refresh_us = g_get_monotonic_time() - t0;
    g_assert_false(ok);
    g_test_message("frozen refresh after %.1f s: %s", refresh_us / 1e6, error->message);
    g_assert_nonnull(strstr(error->message, "pool 'nfs1'"));
    g_clear_error(&error);

    t0 = g_get_monotonic_time();
    ok = pd_pool_backend_vol_snapshot_create(f->be, f->pool, v, "s", &error);
    gint64 snap_us = g_get_monotonic_time() - t0;
    g_assert_false(ok);
    g_clear_error(&error);
    g_assert_cmpint(kill(pid, SIGCONT), ==, 0);

    g_assert_cmpint(create_us, <, 5 * G_USEC_PER_SEC);
    g_assert_cmpint(refresh_us, <, 5 * G_USEC_PER_SEC);
    g_assert_cmpint(snap_us, <, 5 * G_USEC_PER_SEC);
    /* the server answers again: the pool works without a restart, nothing half-made */
    g_assert_true(pd_pool_backend_refresh(f->be, f->pool, f->pool->volumes, &r, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(r.n_volumes, ==, 1);
    pd_pool_refresh_clear(&r);
    unsigned removed = 0;
    g_assert_true(pd_pool_backend_cleanup_partial(f->be, f->pool, &removed, &error));
    assert_check("f.qcow2");
}

/* Freezes the server at the first progress report of a copy. */
static void freeze_on_progress(uint64_t done, uint64_t total, void *data)
{
    pid_t *pid = data;
    if (*pid > 0 && done > 0) {
        g_assert_cmpint(kill(*pid, SIGSTOP), ==, 0);
        *pid = 0;
    }
}

/* Counts the hidden partial files in the export. */
static unsigned count_partials(void)
{
    g_autoptr(GDir) dir = g_dir_open(export_dir, 0, NULL);
    unsigned n = 0;
    for (const char *name; (name = g_dir_read_name(dir));)
        n += pd_pool_util_is_partial_name(name);
    return n;
}

/* The server freezes in the middle of a copy: the copy fails after one timeout (its undo does
 * not wait a second one), and the partial file it could not remove goes at the next refresh
 * once the server answers again. */
static void test_frozen_mid_copy(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    PdVol *src = create(f, "big.raw", "raw", 64 * MiB);
    write_guest(f, src, 0, 0x11, 48 * MiB);
    pid_t pid = (pid_t)g_ascii_strtoll(g_getenv("NFS_GANESHA_PID"), NULL, 10);
    pid_t freeze = pid;
    PdBackendJob job = {.progress = freeze_on_progress, .progress_data = &freeze};
    g_autoptr(PdVolDef) def = vol_def("copy.qcow2", "qcow2", 0);
    PdVol *none = NULL;
    gint64 t0 = g_get_monotonic_time();
    bool ok =
        pd_pool_backend_vol_create_from(f->be, f->pool, def, f->pool, src, 0, &job, &none, &error);
    gint64 us = g_get_monotonic_time() - t0;
    g_assert_cmpint(freeze, ==, 0); /* it did freeze */
    g_assert_false(ok);
    g_test_message("copy frozen midway failed after %.1f s: %s", us / 1e6, error->message);
    g_assert_true(g_str_has_prefix(error->message, "pool 'nfs1': volume 'copy.qcow2': "));
    g_assert_nonnull(strstr(error->message, "timed out"));
    g_clear_error(&error);
    g_assert_cmpuint(count_partials(), ==, 1); /* could not be removed meanwhile */
    g_assert_cmpint(kill(pid, SIGCONT), ==, 0);
    g_assert_cmpint(us, <, 3800000); /* one timeout (2 s), not one per connection */
    PdPoolRefresh r = {0};
    g_assert_true(pd_pool_backend_refresh(f->be, f->pool, f->pool->volumes, &r, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(r.n_volumes, ==, 1);
    pd_pool_refresh_clear(&r);
    g_assert_cmpuint(count_partials(), ==, 0);
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
    it_require_tool("qemu-img", "the oracle for the files on the export");
#define ADD(name, fn)                                                                              \
    g_test_add("/netfs-nfs/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("create", test_create);
    ADD("clone-convert", test_clone_convert);
    ADD("backing-chain", test_backing_chain);
    ADD("resize-snapshot-wipe", test_resize_snapshot_wipe);
    ADD("upload-download", test_upload_download);
    ADD("refresh", test_refresh);
    ADD("frozen-server", test_frozen);
    ADD("frozen-mid-copy", test_frozen_mid_copy);
    g_test_add_func("/netfs-nfs/bad-start", test_bad_start);
    return g_test_run();
}
