/* The iscsi-direct backend run directly (no daemon) against a real tgtd on loopback: several
 * targets, LUNs of different sizes and a 4 KiB-sector LUN listed with the right capacities
 * (the controller LUN skipped), CHAP right, wrong and missing, unknown target, unreachable
 * portal, upload/download round trips checked in the LUN files, wipe (zero, random, trim) and
 * a qcow2 volume on a LUN judged by qemu-img, a read-only LUN, create/delete refused, the
 * domain disk source, discovery, and the target killed in the middle of an upload. Exits 77
 * without tgtd or qemu-img. */
#include "common/pd-error.h"
#include "formats/io/iscsi/io-iscsi.h"
#include "pools/backend.h"
#include "tests/backends/iscsi-fixture.h"
#include "tests/interop/interop-util.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define MiB (1024 * 1024)

static TgtFixture *fx;
static const PdPoolBackend *be = &pd_pool_backend_iscsi_direct;

/* A pool definition on the fixture's portal; @chap_usage adds CHAP auth. */
static PdPool *make_pool(const char *name, const char *iqn, unsigned port, const char *secret)
{
    g_autofree char *auth =
        secret ? g_strdup_printf("<auth type='chap' username='%s'><secret usage='tgtchap'/></auth>",
                                 TGT_CHAP_USER)
               : g_strdup("");
    g_autofree char *xml = g_strdup_printf(
        "<pool type='iscsi-direct'><name>%s</name><source><host name='127.0.0.1' port='%u'/>"
        "<device path='%s'/><initiator><iqn name='%s'/></initiator>%s</source></pool>",
        name, port, iqn, TGT_INITIATOR, auth);
    g_autoptr(GError) error = NULL;
    PdPoolDef *def = pd_pool_def_parse(xml, &error);
    g_assert_no_error(error);
    PdPool *pool = pd_pool_new(def);
    if (secret && *secret)
        pool->auth_secret = g_strdup(secret);
    return pool;
}

/* Starts and refreshes @pool; asserts success. */
static void start_pool(PdPool *pool)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_pool_backend_start(be, pool, &error));
    g_assert_no_error(error);
    PdPoolRefresh r = {0};
    g_assert_true(pd_pool_backend_refresh(be, pool, pool->volumes, &r, &error));
    g_assert_no_error(error);
    pd_pool_refresh_apply(pool, &r);
}

static void stop_pool(PdPool *pool)
{
    g_assert_true(pd_pool_backend_stop(be, pool, NULL));
    g_assert_null(pool->backend_data);
    pd_pool_free(pool);
}

static void assert_error(const GError *error, int code, const char *const *words)
{
    g_assert_nonnull(error);
    if (error->domain != PD_ERROR || error->code != code)
        g_error("expected code %d, got %d: %s", code, error->code, error->message);
    for (; *words; words++) {
        if (!strstr(error->message, *words))
            g_error("'%s' missing in: %s", *words, error->message);
    }
    g_assert_null(strstr(error->message, TGT_CHAP_SECRET));
}

static void test_refresh(void)
{
    PdPool *pool = make_pool("p1", TGT_IQN_PLAIN, fx->port, NULL);
    start_pool(pool);
    const struct {
        const char *name;
        uint64_t capacity;
    } want[] = {{"unit:0:0:1", 64 * MiB},
                {"unit:0:0:2", 128 * MiB},
                {"unit:0:0:3", 32 * MiB},
                {"unit:0:0:4", 16 * MiB}};
    g_assert_cmpuint(pool->volumes->len, ==, G_N_ELEMENTS(want));
    uint64_t total = 0;
    for (guint i = 0; i < pool->volumes->len; i++) {
        PdVol *v = g_ptr_array_index(pool->volumes, i);
        g_assert_cmpstr(v->name, ==, want[i].name);
        g_assert_cmpuint(v->capacity, ==, want[i].capacity);
        g_assert_cmpuint(v->allocation, ==, want[i].capacity);
        g_assert_cmpint(v->type, ==, PD_VOL_NETWORK);
        g_assert_cmpstr(v->format, ==, "raw");
        g_autofree char *path =
            g_strdup_printf("ip-127.0.0.1:%u-iscsi-%s-lun-%u", fx->port, TGT_IQN_PLAIN, i + 1);
        g_assert_cmpstr(v->path, ==, path);
        g_assert_nonnull(v->key);
        for (guint j = 0; j < i; j++)
            g_assert_cmpstr(((PdVol *)g_ptr_array_index(pool->volumes, j))->key, !=, v->key);
        g_test_message("%s key %s", v->name, v->key);
        total += want[i].capacity;
    }
    g_assert_cmpuint(pool->capacity, ==, total);
    g_assert_true(pd_pool_find_vol(pool, "unit:0:0:0") == NULL);

    /* a second target: other keys */
    PdPool *other = make_pool("p2", TGT_IQN_OTHER, fx->port, NULL);
    start_pool(other);
    g_assert_cmpuint(other->volumes->len, ==, 1);
    PdVol *o = g_ptr_array_index(other->volumes, 0);
    g_assert_cmpuint(o->capacity, ==, 8 * MiB);
    for (guint i = 0; i < pool->volumes->len; i++)
        g_assert_cmpstr(((PdVol *)g_ptr_array_index(pool->volumes, i))->key, !=, o->key);

    /* a recorded format survives refresh and vol_refresh */
    PdVol *v1 = g_ptr_array_index(pool->volumes, 0);
    g_free(v1->format);
    v1->format = g_strdup("qcow2");
    PdPoolRefresh r = {0};
    g_assert_true(pd_pool_backend_refresh(be, pool, pool->volumes, &r, NULL));
    g_assert_cmpstr(((PdVol *)g_ptr_array_index(r.volumes, 0))->format, ==, "qcow2");
    g_assert_cmpstr(((PdVol *)g_ptr_array_index(r.volumes, 1))->format, ==, "raw");
    pd_pool_refresh_clear(&r);
    g_autoptr(PdVol) fresh = NULL;
    g_assert_true(pd_pool_backend_vol_refresh(be, pool, v1, &fresh, NULL));
    g_assert_cmpstr(fresh->format, ==, "qcow2");
    g_assert_cmpuint(fresh->capacity, ==, 64 * MiB);
    g_assert_cmpstr(fresh->key, ==, v1->key);

    /* a LUN that is not there */
    g_autoptr(GError) error = NULL;
    g_autoptr(PdVol) ghost = pd_vol_copy(v1);
    g_free(ghost->name);
    ghost->name = g_strdup("unit:0:0:9");
    g_autoptr(PdVol) none = NULL;
    g_assert_false(pd_pool_backend_vol_refresh(be, pool, ghost, &none, &error));
    assert_error(error, PD_ERROR_NOT_FOUND,
                 (const char *const[]){"pool 'p1'", "unit:0:0:9", "LUN 9", NULL});
    stop_pool(other);
    stop_pool(pool);
}

static void expect_start_error(PdPool *pool, int code, const char *const *words)
{
    g_autoptr(GError) error = NULL;
    g_assert_false(pd_pool_backend_start(be, pool, &error));
    assert_error(error, code, words);
    g_assert_null(pool->backend_data);
    pd_pool_free(pool);
}

static void test_start_errors(void)
{
    PdPool *chap = make_pool("pc", TGT_IQN_CHAP, fx->port, TGT_CHAP_SECRET);
    start_pool(chap);
    g_assert_cmpuint(chap->volumes->len, ==, 1);
    g_assert_cmpuint(((PdVol *)g_ptr_array_index(chap->volumes, 0))->capacity, ==, 48 * MiB);
    stop_pool(chap);

    expect_start_error(make_pool("pc", TGT_IQN_CHAP, fx->port, "not-the-secret"),
                       PD_ERROR_PERMISSION_DENIED,
                       (const char *const[]){"pool 'pc'", "authentication failure", NULL});
    expect_start_error(make_pool("pc", TGT_IQN_CHAP, fx->port, ""), PD_ERROR_INVALID_ARGUMENT,
                       (const char *const[]){"pool 'pc'", "secret", NULL});
    expect_start_error(make_pool("pc", TGT_IQN_CHAP, fx->port, NULL), PD_ERROR_PERMISSION_DENIED,
                       (const char *const[]){"pool 'pc'", "authentication failure", NULL});
    expect_start_error(
        make_pool("pw", "iqn.2026-11.io.poold.test:wrong", fx->port, NULL), PD_ERROR_NOT_FOUND,
        (const char *const[]){"pool 'pw'", "iqn.2026-11.io.poold.test:wrong", "not found", NULL});
    expect_start_error(make_pool("pu", TGT_IQN_PLAIN, fx->port == 65535 ? 1 : fx->port + 1, NULL),
                       PD_ERROR_IO,
                       (const char *const[]){"pool 'pu'", "cannot reach iSCSI portal", NULL});
}

static PdVol *vol_named(PdPool *pool, const char *name)
{
    PdVol *v = pd_pool_find_vol(pool, name);
    g_assert_nonnull(v);
    return v;
}

/* Upload at an offset from a file, then download everything: byte for byte what the LUN file
 * holds. */
static void test_upload_download(void)
{
    PdPool *pool = make_pool("p1", TGT_IQN_PLAIN, fx->port, NULL);
    start_pool(pool);
    PdVol *vol = vol_named(pool, "unit:0:0:3"); /* 4 KiB sectors */
    g_autofree char *tmp = it_mkdtemp_fast("iscsi-direct");
    g_autofree char *src = g_build_filename(tmp, "src", NULL);
    size_t len = 3 * MiB + 7;
    g_autofree uint8_t *data = g_malloc(len);
    ItRand r;
    it_rand_seed(&r, 11);
    it_rand_fill(&r, data, len);
    it_write_file(src, data, len);
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_pool_backend_vol_upload(be, pool, vol, fd, 5000, 0, 0, NULL, &error));
    g_assert_no_error(error);
    close(fd);
    g_autofree char *lun_file = tgt_lun_file(fx, "plain3.img");
    size_t flen;
    g_autofree uint8_t *stored = it_read_file(lun_file, &flen);
    g_assert_cmpuint(flen, ==, 32 * MiB);
    g_assert_cmpint(it_first_difference(stored + 5000, data, len), ==, -1);

    /* too big for the LUN */
    fd = open(src, O_RDONLY | O_CLOEXEC);
    g_assert_false(
        pd_pool_backend_vol_upload(be, pool, vol, fd, 32 * MiB - 100, 0, 0, NULL, &error));
    assert_error(error, PD_ERROR_NO_SPACE, (const char *const[]){"unit:0:0:3", NULL});
    g_clear_error(&error);
    close(fd);

    for (int sparse = 0; sparse < 2; sparse++) {
        g_autofree char *dst = g_build_filename(tmp, sparse ? "dst-sparse" : "dst", NULL);
        fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        g_assert_true(pd_pool_backend_vol_download(be, pool, vol, fd, 0, 0,
                                                   sparse ? PD_VOL_XFER_SPARSE : 0, NULL, &error));
        g_assert_no_error(error);
        close(fd);
        size_t dlen;
        g_autofree uint8_t *down = it_read_file(dst, &dlen);
        g_assert_cmpuint(dlen, ==, flen);
        g_assert_cmpint(it_first_difference(down, stored, flen), ==, -1);
    }
    it_rmtree(tmp);
    stop_pool(pool);
}

static bool file_all(const char *name, uint8_t byte, uint64_t len)
{
    g_autofree char *path = tgt_lun_file(fx, name);
    size_t flen;
    g_autofree uint8_t *all = it_read_file(path, &flen);
    if (flen < len)
        return false;
    for (uint64_t i = 0; i < len; i++) {
        if (all[i] != byte)
            return false;
    }
    return true;
}

static void test_wipe(void)
{
    PdPool *pool = make_pool("p1", TGT_IQN_PLAIN, fx->port, NULL);
    start_pool(pool);
    g_autoptr(GError) error = NULL;
    g_autofree char *f2 = tgt_lun_file(fx, "plain2.img");
    g_autofree uint8_t *junk = g_malloc(128 * MiB);
    memset(junk, 0x5a, 128 * MiB);
    /* in place: tgtd holds the file open (a rename would give it a different inode) */
    int jfd = open(f2, O_WRONLY | O_CLOEXEC);
    g_assert_cmpint(pwrite(jfd, junk, 128 * MiB, 0), ==, 128 * MiB);
    close(jfd);
    g_assert_true(file_all("plain2.img", 0x5a, 128 * MiB));
    PdVol *v2 = vol_named(pool, "unit:0:0:2");
    g_assert_true(pd_pool_backend_vol_wipe(be, pool, v2, PD_WIPE_ZERO, 0, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(file_all("plain2.img", 0, 128 * MiB));
    g_assert_true(pd_pool_backend_vol_wipe(be, pool, v2, PD_WIPE_RANDOM, 0, NULL, &error));
    g_assert_false(file_all("plain2.img", 0, 4096));
    g_assert_true(pd_pool_backend_vol_wipe(be, pool, v2, PD_WIPE_TRIM, 0, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(file_all("plain2.img", 0, 128 * MiB));
    /* a thick LUN cannot trim */
    g_assert_false(pd_pool_backend_vol_wipe(be, pool, vol_named(pool, "unit:0:0:1"), PD_WIPE_TRIM,
                                            0, NULL, &error));
    assert_error(error, PD_ERROR_UNSUPPORTED,
                 (const char *const[]){"pool 'p1'", "unit:0:0:1", "trim", NULL});
    g_clear_error(&error);

    /* the read-only LUN: wipe and upload refused, naming it */
    PdVol *v4 = vol_named(pool, "unit:0:0:4");
    g_assert_false(pd_pool_backend_vol_wipe(be, pool, v4, PD_WIPE_ZERO, 0, NULL, &error));
    assert_error(error, PD_ERROR_READ_ONLY,
                 (const char *const[]){"pool 'p1'", "volume 'unit:0:0:4'", "read-only", NULL});
    g_clear_error(&error);
    int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    g_assert_false(pd_pool_backend_vol_upload(be, pool, v4, fd, 0, 4096, 0, NULL, &error));
    assert_error(error, PD_ERROR_READ_ONLY,
                 (const char *const[]){"pool 'p1'", "volume 'unit:0:0:4'", "read-only", NULL});
    close(fd);
    stop_pool(pool);
}

/* A qcow2 made by the engine on the 4 KiB-sector LUN, recorded as qcow2: written through the
 * backend's image, wiped keeping its structure; qemu-img check and compare judge the LUN file. */
static void test_qcow2(void)
{
    g_autoptr(GError) error = NULL;
    PdIscsiTarget t = tgt_target(fx, TGT_IQN_PLAIN);
    PdIO *io = pd_io_iscsi_open(&t, 3, PD_IO_RDWR, &error);
    g_assert_no_error(error);
    PdCreateOptions opts = {.format = PD_FORMAT_QCOW2, .size = 100 * MiB};
    g_assert_true(pd_image_create_io(io, &opts, &error));
    g_assert_no_error(error);
    pd_io_close(io);

    PdPool *pool = make_pool("p1", TGT_IQN_PLAIN, fx->port, NULL);
    start_pool(pool);
    PdVol *vol = vol_named(pool, "unit:0:0:3");
    g_free(vol->format);
    vol->format = g_strdup("qcow2");
    g_autoptr(PdImage) img = pd_pool_backend_vol_open(be, pool, vol, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(pd_image_size(img), ==, 100 * MiB); /* bigger than the LUN: thin */
    g_autofree uint8_t *buf = g_malloc(MiB);
    memset(buf, 0xc3, MiB);
    (void)pd_image_write(img, 50 * MiB + 3, buf, MiB, &error);
    g_assert_no_error(error);
    g_assert_true(pd_image_flush(img, &error));
    g_assert_no_error(error);
    g_clear_pointer(&img, pd_image_close);

    g_autofree char *lun_file = tgt_lun_file(fx, "plain3.img");
    g_autofree char *out = NULL;
    int rc = it_qemu_img_check(lun_file, &out);
    if (rc != 0)
        g_error("qemu-img check: %d\n%s", rc, out);
    g_clear_pointer(&out, g_free);
    g_autofree char *cmd_out = NULL;
    g_assert_cmpint(
        it_runv(&cmd_out, NULL, "qemu-img", "map", "--output=json", "-f", "qcow2", lun_file, NULL),
        ==, 0);
    g_assert_nonnull(strstr(cmd_out, "\"data\": true"));

    g_assert_true(pd_pool_backend_vol_wipe(be, pool, vol, PD_WIPE_ZERO, 0, NULL, &error));
    g_assert_no_error(error);
    rc = it_qemu_img_check(lun_file, &out);
    if (rc != 0)
        g_error("qemu-img check after wipe: %d\n%s", rc, out);
    g_autofree char *tmp = it_mkdtemp_fast("iscsi-direct");
    g_autofree char *zero = g_build_filename(tmp, "zero.raw", NULL);
    it_run_ok("qemu-img", "create", "-q", "-f", "raw", zero, "100M", NULL);
    g_clear_pointer(&out, g_free);
    rc = it_qemu_img_compare(lun_file, "qcow2", zero, "raw", &out);
    if (rc != 0)
        g_error("qemu-img compare after wipe: %d\n%s", rc, out);
    it_rmtree(tmp);
    stop_pool(pool);
}

static void test_refused_and_sources(void)
{
    PdPool *pool = make_pool("p1", TGT_IQN_PLAIN, fx->port, NULL);
    start_pool(pool);
    g_autoptr(GError) error = NULL;
    g_autoptr(PdVolDef) def = pd_vol_def_new(PD_POOL_ISCSI_DIRECT);
    def->name = g_strdup("new");
    PdVol *made = NULL;
    g_assert_false(pd_pool_backend_vol_create(be, pool, def, 0, NULL, &made, &error));
    assert_error(error, PD_ERROR_UNSUPPORTED,
                 (const char *const[]){"pool 'p1'", "cannot be created", "'new'", NULL});
    g_clear_error(&error);
    PdVol *v1 = vol_named(pool, "unit:0:0:1");
    g_assert_false(pd_pool_backend_vol_delete(be, pool, v1, 0, &error));
    assert_error(error, PD_ERROR_UNSUPPORTED,
                 (const char *const[]){"pool 'p1'", "cannot be deleted", "unit:0:0:1", NULL});
    g_clear_error(&error);
    g_assert_false(pd_pool_backend_vol_resize(be, pool, v1, MiB, 0, NULL, NULL, &error));
    assert_error(error, PD_ERROR_UNSUPPORTED, (const char *const[]){"iscsi-direct", NULL});
    g_clear_error(&error);

    g_autoptr(PdDiskSource) src = NULL;
    g_assert_true(pd_pool_backend_vol_disk_source(be, pool, v1, &src, &error));
    g_assert_cmpint(src->type, ==, PD_DISK_SOURCE_NETWORK);
    g_assert_cmpstr(src->protocol, ==, "iscsi");
    g_assert_cmpstr(src->name, ==, TGT_IQN_PLAIN "/1");
    g_assert_cmpstr(src->host_name, ==, "127.0.0.1");
    g_assert_cmpuint(src->host_port, ==, fx->port);
    g_assert_null(src->auth_username);
    stop_pool(pool);

    PdPool *chap = make_pool("pc", TGT_IQN_CHAP, fx->port, TGT_CHAP_SECRET);
    start_pool(chap);
    g_clear_pointer(&src, pd_disk_source_free);
    g_assert_true(pd_pool_backend_vol_disk_source(be, chap, g_ptr_array_index(chap->volumes, 0),
                                                  &src, &error));
    g_assert_cmpstr(src->auth_username, ==, TGT_CHAP_USER);
    g_assert_cmpstr(src->auth_secret_usage, ==, "tgtchap");
    stop_pool(chap);

    g_autoptr(PdPoolDef) spec = pd_pool_def_new(PD_POOL_ISCSI_DIRECT);
    spec->source.host_name = g_strdup("127.0.0.1");
    spec->source.host_port = fx->port;
    g_autoptr(GPtrArray) sources = NULL;
    g_assert_true(pd_pool_backend_find_sources(be, spec, 0, &sources, &error));
    g_assert_no_error(error);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    for (guint i = 0; i < sources->len; i++) {
        PdPoolDef *s = g_ptr_array_index(sources, i);
        g_assert_cmpstr(s->source.host_name, ==, "127.0.0.1");
        g_assert_cmpuint(s->source.host_port, ==, fx->port);
        g_ptr_array_add(names, g_ptr_array_index(s->source.devices, 0));
    }
    g_assert_cmpuint(names->len, ==, 3);
    const char *want[] = {TGT_IQN_PLAIN, TGT_IQN_CHAP, TGT_IQN_OTHER};
    for (size_t i = 0; i < 3; i++)
        g_assert_true(g_ptr_array_find_with_equal_func(names, want[i], g_str_equal, NULL));
    /* HOST:PORT in one word */
    g_free(spec->source.host_name);
    spec->source.host_name = g_strdup_printf("127.0.0.1:%u", fx->port);
    spec->source.host_port = 0;
    g_clear_pointer(&sources, g_ptr_array_unref);
    g_assert_true(pd_pool_backend_find_sources(be, spec, 0, &sources, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(sources->len, ==, 3);
    PdPoolDef *first = g_ptr_array_index(sources, 0);
    g_assert_cmpstr(first->source.host_name, ==, "127.0.0.1");
    g_assert_cmpuint(first->source.host_port, ==, fx->port);
    g_free(spec->source.host_name);
    spec->source.host_name = g_strdup("127.0.0.1");
    spec->source.host_port = fx->port == 65535 ? 1 : fx->port + 1;
    g_clear_pointer(&sources, g_ptr_array_unref);
    g_assert_false(pd_pool_backend_find_sources(be, spec, 0, &sources, &error));
    assert_error(error, PD_ERROR_IO, (const char *const[]){"cannot reach iSCSI portal", NULL});
}

typedef struct {
    PdPool *pool;
    PdVol *vol;
    int fd;
    GError *error;
    bool ok;
    gint done;
} UploadRun;

static gpointer upload_thread(gpointer data)
{
    UploadRun *u = data;
    u->ok = pd_pool_backend_vol_upload(be, u->pool, u->vol, u->fd, 0, 0, 0, NULL, &u->error);
    g_atomic_int_set(&u->done, 1);
    return NULL;
}

/* The target is killed while an upload streams into a LUN: the upload fails soon, naming the
 * pool, the volume and the lost connection; the pool's next refresh says the portal is gone. */
static void test_target_killed(void)
{
    PdPool *pool = make_pool("p1", TGT_IQN_PLAIN, fx->port, NULL);
    start_pool(pool);
    int pipefd[2];
    g_assert_cmpint(pipe(pipefd), ==, 0);
    UploadRun u = {.pool = pool, .vol = vol_named(pool, "unit:0:0:2"), .fd = pipefd[0]};
    GThread *thread = g_thread_new("upload", upload_thread, &u);
    g_autofree uint8_t *chunk = g_malloc0(MiB);
    g_assert_cmpint(write(pipefd[1], chunk, MiB), ==, MiB);
    g_usleep(300 * 1000);
    tgt_fixture_do(fx, "kill");
    gint64 t0 = g_get_monotonic_time();
    /* the reader fails and stops reading: never block on the full pipe */
    g_assert_cmpint(fcntl(pipefd[1], F_SETFL, O_NONBLOCK), ==, 0);
    for (int i = 0; i < 40 && !g_atomic_int_get(&u.done); i++) {
        (void)write(pipefd[1], chunk, MiB);
        g_usleep(50 * 1000);
    }
    close(pipefd[1]);
    g_thread_join(thread);
    double secs = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    close(pipefd[0]);
    g_assert_false(u.ok);
    g_test_message("upload after the kill failed after %.2f s: %s", secs, u.error->message);
    assert_error(u.error, PD_ERROR_IO,
                 (const char *const[]){"pool 'p1'", "volume 'unit:0:0:2'", NULL});
    g_assert_cmpfloat(secs, <, PD_ISCSI_DEFAULT_TIMEOUT + 2);
    g_clear_error(&u.error);
    PdPoolRefresh r = {0};
    g_autoptr(GError) error = NULL;
    g_assert_false(pd_pool_backend_refresh(be, pool, NULL, &r, &error));
    assert_error(error, PD_ERROR_IO, (const char *const[]){"pool 'p1'", "cannot reach", NULL});
    stop_pool(pool);
    tgt_fixture_restart(fx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    it_require_tool("qemu-img", "the oracle of the qcow2 test");
    fx = tgt_fixture_start();
    g_test_add_func("/iscsi-direct/refresh", test_refresh);
    g_test_add_func("/iscsi-direct/start-errors", test_start_errors);
    g_test_add_func("/iscsi-direct/upload-download", test_upload_download);
    g_test_add_func("/iscsi-direct/wipe", test_wipe);
    g_test_add_func("/iscsi-direct/qcow2", test_qcow2);
    g_test_add_func("/iscsi-direct/refused-and-sources", test_refused_and_sources);
    g_test_add_func("/iscsi-direct/target-killed", test_target_killed);
    return g_test_run();
}
