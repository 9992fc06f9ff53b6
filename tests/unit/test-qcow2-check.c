/* qcow2 check and repair, cross-checked against `qemu-img check`: clean images (with
 * snapshots, compressed clusters, bitmaps, several geometries) give no error and the same
 * statistics as qemu-img; images damaged on purpose (a raised refcount, a zeroed refcount, a
 * lost refcount block, a wrong COPIED flag, an L2 entry past the end of the file) give the
 * same corruption and leak counts as qemu-img, and after repair qemu-img finds them clean
 * with the guest data intact. Without qemu-img the test says why and exits 77. */
#include "formats/image/image.h"
#include "common/pd-error.h"
#include "../interop/interop-util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MiB (1024 * 1024)

static char *tmpdir;

static char *path_in_tmp(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

/* ---- qemu-img check --output=json, the fields we compare ------------------------- */

typedef struct {
    int rc;
    uint64_t corruptions, leaks, image_end_offset, total, allocated, fragmented, compressed;
    char *text;
} QemuCheck;

static uint64_t json_field(const char *json, const char *name)
{
    g_autofree char *key = g_strdup_printf("\"%s\": ", name);
    const char *p = strstr(json, key);
    return p ? g_ascii_strtoull(p + strlen(key), NULL, 10) : 0;
}

static QemuCheck qemu_check(const char *path)
{
    QemuCheck q = {0};
    g_autofree char *out = NULL, *err = NULL;
    q.rc = it_runv(&out, &err, "qemu-img", "check", "--output=json", "-f", "qcow2", path, NULL);
    g_assert_nonnull(out);
    q.corruptions = json_field(out, "corruptions");
    q.leaks = json_field(out, "leaks");
    q.image_end_offset = json_field(out, "image-end-offset");
    q.total = json_field(out, "total-clusters");
    q.allocated = json_field(out, "allocated-clusters");
    q.fragmented = json_field(out, "fragmented-clusters");
    q.compressed = json_field(out, "compressed-clusters");
    q.text = g_strconcat(out, err ? err : "", NULL);
    return q;
}

static PdCheckResult our_check(const char *path, PdCheckFix fix)
{
    g_autoptr(GError) error = NULL;
    PdImage *img =
        pd_image_open(path, PD_FORMAT_QCOW2,
                      fix ? PD_OPEN_RDWR | PD_OPEN_CHECK_ONLY : PD_OPEN_CHECK_ONLY, &error);
    g_assert_no_error(error);
    g_assert_nonnull(img);
    PdCheckResult res;
    g_assert_true(pd_image_check(img, fix, &res, &error));
    g_assert_no_error(error);
    for (guint i = 0; i < res.messages->len; i++)
        g_test_message("  %s", (char *)g_ptr_array_index(res.messages, i));
    pd_image_close(img);
    return res;
}

/* Our check without repair must count what qemu-img counts. */
static void assert_same_as_qemu(const char *path, bool stats)
{
    QemuCheck q = qemu_check(path);
    PdCheckResult r = our_check(path, PD_CHECK_NO_FIX);
    g_test_message("qemu-img: %s", q.text);
    g_assert_cmpuint(r.corruptions, ==, q.corruptions);
    g_assert_cmpuint(r.leaks, ==, q.leaks);
    if (stats) {
        g_assert_cmpuint(r.image_end_offset, ==, q.image_end_offset);
        g_assert_cmpuint(r.total_clusters, ==, q.total);
        g_assert_cmpuint(r.allocated_clusters, ==, q.allocated);
        g_assert_cmpuint(r.fragmented_clusters, ==, q.fragmented);
        g_assert_cmpuint(r.compressed_clusters, ==, q.compressed);
    }
    pd_check_result_clear(&r);
    g_free(q.text);
}

static void assert_qemu_clean(const char *path)
{
    QemuCheck q = qemu_check(path);
    if (q.rc != 0 || q.leaks || q.corruptions)
        g_error("qemu-img check %s: exit %d\n%s", path, q.rc, q.text);
    g_free(q.text);
}

static void assert_same_data(const char *path, const char *raw)
{
    g_autofree char *out = NULL;
    int rc = it_qemu_img_compare(path, "qcow2", raw, "raw", &out);
    if (rc != 0)
        g_error("qemu-img compare %s %s: exit %d\n%s", path, raw, rc, out);
}

/* ---- images --------------------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *options; /* qemu-img -o */
    bool compressed;
    bool snapshot;
    bool bitmap;
} Kind;

static const Kind kinds[] = {
    {"v3-64k", "cluster_size=65536", false, false, false},
    {"v2-64k-snap", "compat=0.10", false, true, false},
    {"v3-4k-snap-compressed", "cluster_size=4096", true, true, false},
    {"v3-512-rc64", "cluster_size=512,refcount_bits=64", false, true, false},
    {"v3-64k-rc1", "refcount_bits=1", false, false, false},
    {"v3-64k-rc4", "refcount_bits=4", false, true, false},
    {"v3-extl2", "extended_l2=on,cluster_size=65536", false, true, false},
    {"v3-bitmap", "cluster_size=65536", false, false, true},
};

/* Builds an image of kind @k with 6 MiB of data in a 16 MiB disk; @raw gets the guest view. */
static void make_image(const Kind *k, const char *path, const char *raw)
{
    g_autofree uint8_t *data = g_malloc0(16 * MiB);
    ItRand r;
    it_rand_seed(&r, 42);
    for (uint64_t off = 0; off < 16 * MiB; off += MiB) {
        if (it_rand_below(&r, 3) == 0)
            continue;
        if (k->compressed && (off / MiB) % 2)
            for (size_t i = 0; i < MiB; i++)
                data[off + i] = (uint8_t)(i / 512);
        else
            it_rand_fill(&r, data + off, MiB / 2);
    }
    it_write_file(raw, data, 16 * MiB);
    it_run_ok("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", k->options,
              k->compressed ? "-c" : "-q", raw, path, NULL);
    if (k->snapshot) {
        it_run_ok("qemu-img", "snapshot", "-c", "s1", path, NULL);
        it_run_ok("qemu-io", "-t", "unsafe", "-f", "qcow2", "-c", "write -P 0x5a 1M 2M", path,
                  NULL);
        it_run_ok("qemu-img", "snapshot", "-c", "s2", path, NULL);
        it_run_ok("qemu-io", "-t", "unsafe", "-f", "qcow2", "-c", "write -P 0x6b 3M 64k", path,
                  NULL);
        it_run_ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", path, raw, NULL);
    }
    if (k->bitmap) {
        it_run_ok("qemu-img", "bitmap", "--add", path, "b0", NULL);
        it_run_ok("qemu-io", "-t", "unsafe", "-f", "qcow2", "-c", "write -P 0x7c 9M 3M", path,
                  NULL);
        it_run_ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", path, raw, NULL);
    }
}

static void test_clean(gconstpointer data)
{
    const Kind *k = data;
    g_autofree char *path = path_in_tmp("clean.qcow2");
    g_autofree char *raw = path_in_tmp("clean.raw");
    make_image(k, path, raw);
    assert_qemu_clean(path);
    assert_same_as_qemu(path, true);
    PdCheckResult r = our_check(path, PD_CHECK_NO_FIX);
    g_assert_cmpuint(r.corruptions + r.leaks + r.check_errors, ==, 0);
    g_assert_cmpuint(r.messages->len, ==, 0);
    pd_check_result_clear(&r);
    /* a repair of a clean image changes nothing */
    r = our_check(path, PD_CHECK_FIX_LEAKS | PD_CHECK_FIX_ERRORS);
    g_assert_cmpuint(r.corruptions_fixed + r.leaks_fixed, ==, 0);
    pd_check_result_clear(&r);
    assert_qemu_clean(path);
    assert_same_data(path, raw);
    unlink(path);
    unlink(raw);
}

/* ---- metadata lookup in the raw file ------------------------------------------- */

typedef struct {
    uint32_t cluster_bits;
    uint64_t cluster_size;
    uint32_t refcount_order;
    uint64_t l1_offset;
    uint64_t reftable_offset;
} Geo;

static Geo geo_of(const char *path)
{
    Geo g;
    g.cluster_bits = (uint32_t)it_file_get_be(path, 20, 4);
    g.cluster_size = 1ULL << g.cluster_bits;
    g.l1_offset = it_file_get_be(path, 40, 8);
    g.reftable_offset = it_file_get_be(path, 48, 8);
    g.refcount_order = it_file_get_be(path, 4, 4) >= 3 ? (uint32_t)it_file_get_be(path, 96, 4) : 4;
    return g;
}

/* File offset of the 16-bit refcount of cluster @index (refcount_order 4 only). */
static uint64_t refcount_pos(const char *path, const Geo *g, uint64_t index)
{
    g_assert_cmpuint(g->refcount_order, ==, 4);
    uint64_t per_block = g->cluster_size / 2;
    uint64_t block = it_file_get_be(path, g->reftable_offset + (index / per_block) * 8, 8);
    g_assert_cmpuint(block, !=, 0);
    return block + (index % per_block) * 2;
}

/* Host offset of the first allocated data cluster of the active image, and its L2 entry's
 * file offset. */
static uint64_t first_data_cluster(const char *path, const Geo *g, uint64_t *ret_l2e_pos)
{
    uint64_t l2 = it_file_get_be(path, g->l1_offset, 8) & 0x00fffffffffffe00ULL;
    g_assert_cmpuint(l2, !=, 0);
    for (uint64_t i = 0; i < g->cluster_size / 8; i++) {
        uint64_t e = it_file_get_be(path, l2 + i * 8, 8);
        if (!(e & (1ULL << 62)) && (e & 0x00fffffffffffe00ULL)) {
            if (ret_l2e_pos)
                *ret_l2e_pos = l2 + i * 8;
            return e & 0x00fffffffffffe00ULL;
        }
    }
    g_assert_not_reached();
}

/* ---- damage and repair ---------------------------------------------------------- */

typedef enum {
    DAMAGE_RAISE_REFCOUNT,    /* leak */
    DAMAGE_UNUSED_REFCOUNT,   /* leak of a cluster nobody uses */
    DAMAGE_ZERO_REFCOUNT,     /* referenced with refcount 0: corruption (+ COPIED) */
    DAMAGE_CLEAR_COPIED,      /* wrong COPIED flag in an L2 entry */
    DAMAGE_SET_COPIED_SHARED, /* COPIED on a data cluster shared with a snapshot */
    DAMAGE_LOSE_REFBLOCK,     /* refcount table entry zeroed: rebuild needed */
    DAMAGE_L2_PAST_EOF,       /* L2 entry points past the end of the file */
} Damage;

typedef struct {
    const char *name;
    Damage damage;
    bool snapshot;
    bool repairable;  /* qemu-img check -r all makes it clean */
    bool data_intact; /* the guest data is unchanged by damage+repair */
} DamageCase;

static const DamageCase damages[] = {
    {"raise-refcount", DAMAGE_RAISE_REFCOUNT, false, true, true},
    {"unused-refcount", DAMAGE_UNUSED_REFCOUNT, false, true, true},
    {"zero-refcount", DAMAGE_ZERO_REFCOUNT, false, true, true},
    {"zero-refcount-snapshot", DAMAGE_ZERO_REFCOUNT, true, true, true},
    {"clear-copied", DAMAGE_CLEAR_COPIED, false, true, true},
    {"set-copied-shared", DAMAGE_SET_COPIED_SHARED, true, true, true},
    {"lose-refblock", DAMAGE_LOSE_REFBLOCK, false, true, true},
    {"l2-past-eof", DAMAGE_L2_PAST_EOF, false, false, false},
};

static void apply_damage(const DamageCase *d, const char *path)
{
    Geo g = geo_of(path);
    uint64_t l2e_pos = 0;
    uint64_t data = first_data_cluster(path, &g, &l2e_pos);
    switch (d->damage) {
    case DAMAGE_RAISE_REFCOUNT: {
        uint64_t pos = refcount_pos(path, &g, data >> g.cluster_bits);
        it_file_put_be(path, pos, 2, it_file_get_be(path, pos, 2) + 1);
        break;
    }
    case DAMAGE_UNUSED_REFCOUNT: {
        /* one more cluster at the end of the file, with refcount 1 */
        size_t len;
        g_autofree uint8_t *f = it_read_file(path, &len);
        uint64_t end = (len + g.cluster_size - 1) & ~(g.cluster_size - 1);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        g_assert_cmpint(ftruncate(fd, (off_t)(end + g.cluster_size)), ==, 0);
        close(fd);
        it_file_put_be(path, refcount_pos(path, &g, end >> g.cluster_bits), 2, 1);
        break;
    }
    case DAMAGE_ZERO_REFCOUNT:
        it_file_put_be(path, refcount_pos(path, &g, data >> g.cluster_bits), 2, 0);
        break;
    case DAMAGE_CLEAR_COPIED:
        it_file_put_be(path, l2e_pos, 8, it_file_get_be(path, l2e_pos, 8) & ~(1ULL << 63));
        break;
    case DAMAGE_SET_COPIED_SHARED: {
        /* a data cluster shared with a snapshot (COPIED clear) gets the flag */
        uint64_t l2 = it_file_get_be(path, g.l1_offset, 8) & 0x00fffffffffffe00ULL;
        uint64_t i = 0, e = 0;
        for (; i < g.cluster_size / 8; i++) {
            e = it_file_get_be(path, l2 + i * 8, 8);
            if ((e & 0x00fffffffffffe00ULL) && !(e & (3ULL << 62)))
                break;
        }
        g_assert_cmpuint(i, <, g.cluster_size / 8);
        it_file_put_be(path, l2 + i * 8, 8, e | (1ULL << 63));
        break;
    }
    case DAMAGE_LOSE_REFBLOCK:
        it_file_put_be(path, g.reftable_offset, 8, 0);
        break;
    case DAMAGE_L2_PAST_EOF:
        it_file_put_be(path, l2e_pos, 8, (1ULL << 63) | (1ULL << 40));
        break;
    }
}

static void test_damage(gconstpointer data)
{
    const DamageCase *d = data;
    static const Kind plain = {"v3", "cluster_size=65536", false, false, false};
    static const Kind snap = {"v3-snap", "cluster_size=65536", false, true, false};
    g_autofree char *path = path_in_tmp("damaged.qcow2");
    g_autofree char *raw = path_in_tmp("damaged.raw");
    make_image(d->snapshot ? &snap : &plain, path, raw);
    apply_damage(d, path);

    /* detection: the same counts as qemu-img, and something found */
    assert_same_as_qemu(path, false);
    PdCheckResult r = our_check(path, PD_CHECK_NO_FIX);
    g_assert_cmpuint(r.corruptions + r.leaks, >, 0);
    uint64_t leaks = r.leaks, corruptions = r.corruptions;
    pd_check_result_clear(&r);

    /* leaks only: leaks go, corruptions stay */
    g_autofree char *copy = path_in_tmp("damaged-leaks.qcow2");
    it_run_ok("cp", path, copy, NULL);
    r = our_check(copy, PD_CHECK_FIX_LEAKS);
    g_assert_cmpuint(r.leaks, ==, 0);
    g_assert_cmpuint(r.leaks_fixed, ==, leaks);
    pd_check_result_clear(&r);
    QemuCheck q = qemu_check(copy);
    g_assert_cmpuint(q.leaks, ==, 0);
    g_free(q.text);
    if (corruptions == 0)
        assert_qemu_clean(copy);
    unlink(copy);

    /* everything */
    r = our_check(path, PD_CHECK_FIX_LEAKS | PD_CHECK_FIX_ERRORS);
    if (d->repairable) {
        g_assert_cmpuint(r.corruptions, ==, 0);
        g_assert_cmpuint(r.leaks, ==, 0);
        /* a fixed refcount may also fix the COPIED error it caused: not one for one */
        g_assert_cmpuint(r.corruptions_fixed + r.leaks_fixed, >, 0);
    }
    pd_check_result_clear(&r);
    if (d->repairable) {
        assert_qemu_clean(path);
        r = our_check(path, PD_CHECK_NO_FIX);
        g_assert_cmpuint(r.corruptions + r.leaks, ==, 0);
        pd_check_result_clear(&r);
    }
    if (d->data_intact)
        assert_same_data(path, raw);
    unlink(path);
    unlink(raw);
}

/* A refcount table pointing past the end of the file, or garbage sizes: a clear result, no
 * crash, no allocation from the header's numbers. */
static void test_garbage_refcount_table(void)
{
    g_autofree char *path = path_in_tmp("garbage.qcow2");
    g_autofree char *raw = path_in_tmp("garbage.raw");
    make_image(&kinds[0], path, raw);
    Geo g = geo_of(path);
    it_file_put_be(path, g.reftable_offset + 8, 8, 0x7fffffff0000ULL); /* block 1: outside */
    it_file_put_be(path, g.reftable_offset + 16, 8, 0x10200);          /* block 2: misaligned */
    PdCheckResult r = our_check(path, PD_CHECK_NO_FIX);
    g_assert_cmpuint(r.corruptions, >=, 2);
    pd_check_result_clear(&r);
    r = our_check(path, PD_CHECK_FIX_LEAKS | PD_CHECK_FIX_ERRORS);
    g_assert_cmpuint(r.corruptions, ==, 0);
    pd_check_result_clear(&r);
    assert_qemu_clean(path);
    assert_same_data(path, raw);
    unlink(path);
    unlink(raw);
}

/* A dirty image (lazy refcounts, crashed writer) is repaired by a read-write open; an image
 * marked corrupt is repaired by check -r all and loses the corrupt bit. */
static void test_dirty_and_corrupt_bits(void)
{
    static const Kind lazy = {"lazy", "lazy_refcounts=on,cluster_size=65536", false, false, false};
    g_autofree char *path = path_in_tmp("dirty.qcow2");
    g_autofree char *raw = path_in_tmp("dirty.raw");
    g_autoptr(GError) error = NULL;
    make_image(&lazy, path, raw);
    Geo g = geo_of(path);
    uint64_t data = first_data_cluster(path, &g, NULL);
    it_file_put_be(path, refcount_pos(path, &g, data >> g.cluster_bits), 2, 0);
    it_file_put_be(path, 72, 8, it_file_get_be(path, 72, 8) | 1); /* dirty */
    PdImage *img = pd_image_open(path, PD_FORMAT_QCOW2, PD_OPEN_RDWR, &error);
    g_assert_no_error(error);
    pd_image_close(img);
    g_assert_cmpuint(it_file_get_be(path, 72, 8) & 1, ==, 0);
    assert_qemu_clean(path);
    assert_same_data(path, raw);

    /* corrupt bit + a leak: check -r all clears both */
    uint64_t pos = refcount_pos(path, &g, data >> g.cluster_bits);
    it_file_put_be(path, pos, 2, it_file_get_be(path, pos, 2) + 1);
    it_file_put_be(path, 72, 8, it_file_get_be(path, 72, 8) | 2); /* corrupt */
    PdCheckResult r = our_check(path, PD_CHECK_FIX_LEAKS | PD_CHECK_FIX_ERRORS);
    g_assert_cmpuint(r.leaks_fixed, ==, 1);
    g_assert_cmpuint(r.corruptions + r.leaks, ==, 0);
    pd_check_result_clear(&r);
    g_assert_cmpuint(it_file_get_be(path, 72, 8) & 3, ==, 0);
    assert_qemu_clean(path);
    assert_same_data(path, raw);
    unlink(path);
    unlink(raw);
}

/* A v3 snapshot entry without the disk size in its extra data: a corruption for qemu-img
 * ("is incomplete"), repaired by rewriting the table. */
static void test_incomplete_snapshot_entry(void)
{
    g_autofree char *path = path_in_tmp("incomplete.qcow2");
    g_autofree char *raw = path_in_tmp("incomplete.raw");
    static const Kind snap = {"v3-snap", "cluster_size=65536", false, true, false};
    make_image(&snap, path, raw);
    uint64_t table = it_file_get_be(path, 64, 8);
    size_t len;
    g_autofree uint8_t *file = it_read_file(path, &len);
    uint8_t *e = file + table;
    uint32_t extra = (uint32_t)it_file_get_be(path, table + 36, 4);
    uint16_t id_len = (uint16_t)(e[12] << 8 | e[13]), name_len = (uint16_t)(e[14] << 8 | e[15]);
    uint64_t old_size = (40 + extra + id_len + name_len + 7) & ~7ULL;
    /* first entry without extra data, the rest of the table moved up behind it */
    g_autoptr(GByteArray) t = g_byte_array_new();
    g_byte_array_append(t, e, 36);
    g_byte_array_append(t, (const guint8 *)"\0\0\0\0", 4);
    g_byte_array_append(t, e + 40 + extra, id_len + name_len);
    while (t->len % 8)
        g_byte_array_append(t, (const guint8 *)"", 1);
    g_byte_array_append(t, e + old_size, 4096);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    g_assert_cmpint(pwrite(fd, t->data, t->len, table), ==, (ssize_t)t->len);
    close(fd);

    assert_same_as_qemu(path, true);
    PdCheckResult r = our_check(path, PD_CHECK_NO_FIX);
    g_assert_cmpuint(r.corruptions, ==, 1);
    pd_check_result_clear(&r);
    r = our_check(path, PD_CHECK_FIX_LEAKS | PD_CHECK_FIX_ERRORS);
    g_assert_cmpuint(r.corruptions, ==, 0);
    g_assert_cmpuint(r.corruptions_fixed, ==, 1);
    pd_check_result_clear(&r);
    assert_qemu_clean(path);
    assert_same_data(path, raw);
    g_autofree char *list = NULL;
    g_assert_cmpint(it_runv(&list, NULL, "qemu-img", "snapshot", "-l", path, NULL), ==, 0);
    g_assert_nonnull(strstr(list, "s1"));
    g_assert_nonnull(strstr(list, "s2"));
    unlink(path);
    unlink(raw);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    it_require_tool("qemu-img", "the oracle for check results");
    it_require_tool("qemu-io", "writes data into images qemu-img created");
    tmpdir = it_mkdtemp("test-qcow2-check");
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        g_autofree char *name = g_strdup_printf("/qcow2-check/clean/%s", kinds[i].name);
        g_test_add_data_func(name, &kinds[i], test_clean);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(damages); i++) {
        g_autofree char *name = g_strdup_printf("/qcow2-check/damage/%s", damages[i].name);
        g_test_add_data_func(name, &damages[i], test_damage);
    }
    g_test_add_func("/qcow2-check/garbage-refcount-table", test_garbage_refcount_table);
    g_test_add_func("/qcow2-check/dirty-and-corrupt-bits", test_dirty_and_corrupt_bits);
    g_test_add_func("/qcow2-check/incomplete-snapshot-entry", test_incomplete_snapshot_entry);
    int rc = g_test_run();
    it_rmtree(tmpdir);
    return rc;
}
