/* The SQLite store: a new database gets the current schema, an old one is migrated keeping
 * its rows, a newer one is refused; rows round-trip; interrupted jobs are failed. */
#include "common/pd-error.h"
#include "daemon/store/store.h"

#include <glib/gstdio.h>
#include <sqlite3.h>

/* Schema version 1 exactly as the first poold wrote it, with one pool. */
static const char *const schema_v1 =
    "CREATE TABLE pools (name TEXT PRIMARY KEY NOT NULL, uuid TEXT NOT NULL UNIQUE,"
    " type TEXT NOT NULL, xml TEXT NOT NULL, autostart INTEGER NOT NULL DEFAULT 0,"
    " active INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE volumes (pool TEXT NOT NULL REFERENCES pools(name) ON DELETE CASCADE,"
    " name TEXT NOT NULL, key TEXT NOT NULL, path TEXT, type INTEGER NOT NULL, format TEXT,"
    " capacity INTEGER NOT NULL, allocation INTEGER NOT NULL, physical INTEGER NOT NULL,"
    " backing_path TEXT, backing_format TEXT, compat TEXT,"
    " cluster_size INTEGER NOT NULL DEFAULT 0, lazy_refcounts INTEGER NOT NULL DEFAULT 0,"
    " mode INTEGER NOT NULL DEFAULT 0, uid INTEGER NOT NULL DEFAULT 0,"
    " gid INTEGER NOT NULL DEFAULT 0, stat_size INTEGER NOT NULL DEFAULT 0,"
    " stat_mtime_ns INTEGER NOT NULL DEFAULT 0, stat_inode INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (pool, name));"
    "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, pool TEXT,"
    " volume TEXT, state TEXT NOT NULL, bytes_done INTEGER NOT NULL DEFAULT 0,"
    " bytes_total INTEGER NOT NULL DEFAULT 0, started INTEGER NOT NULL,"
    " finished INTEGER NOT NULL DEFAULT 0, error TEXT);"
    "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,"
    " kind TEXT NOT NULL, pool TEXT, volume TEXT, detail TEXT);"
    "INSERT INTO pools VALUES('old', '11111111-2222-3333-4444-555555555555', 'dir',"
    " '<pool type=''dir''><name>old</name></pool>', 1, 1);"
    "INSERT INTO volumes(pool, name, key, path, type, format, capacity, allocation, physical)"
    " VALUES('old', 'v', '/p/v', '/p/v', 0, 'qcow2', 10, 5, 6);"
    "INSERT INTO jobs(kind, pool, volume, state, started) VALUES('vol-clone', 'old', 'v',"
    " 'running', 1);"
    "PRAGMA user_version = 1;";

static char *db_path(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-store-XXXXXX", NULL);
    g_assert_nonnull(dir);
    return g_build_filename(dir, "poold.db", NULL);
}

static void remove_db(const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (unsigned i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        g_autofree char *f = g_strconcat(path, suffixes[i], NULL);
        (void)g_unlink(f);
    }
    (void)g_rmdir(dir);
}

static void write_raw(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
    sqlite3_close(db);
}

/* Secrets: definitions stored and redefined with their value kept, values write-only through
 * the store's one getter, removal; the database file private (0600) even when it was not. */
static void test_secrets(void)
{
    g_autofree char *path = db_path();
    write_raw(path, "PRAGMA user_version = 0;");
    g_assert_cmpint(chmod(path, 0644), ==, 0);
    g_autoptr(GError) error = NULL;
    g_autoptr(PdStore) store = pd_store_open(path, &error);
    g_assert_no_error(error);
    struct stat st;
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
    g_autofree char *wal = g_strconcat(path, "-wal", NULL);
    if (stat(wal, &st) == 0)
        g_assert_cmpuint(st.st_mode & 07777, ==, 0600);

    PdStoreSecret s = {.uuid = "c4b5bd5a-9a3f-4e2b-8d8e-0d7a2f1c3b4e",
                       .usage_type = "iscsi",
                       .usage_id = "san",
                       .description = "first",
                       .private_ = true};
    g_assert_true(pd_store_secret_put(store, &s, &error));
    g_assert_null(pd_store_secret_get_value(store, s.uuid, &error));
    g_assert_no_error(error);
    g_assert_true(pd_store_secret_set_value(store, s.uuid, "pw\0x", 4, &error));
    s.description = "second";
    g_assert_true(pd_store_secret_put(store, &s, &error)); /* redefinition keeps the value */
    g_autoptr(GBytes) value = pd_store_secret_get_value(store, s.uuid, &error);
    g_assert_no_error(error);
    gsize len;
    const char *data = g_bytes_get_data(value, &len);
    g_assert_cmpmem(data, len, "pw\0x", 4);
    g_autoptr(GPtrArray) all = pd_store_secret_list(store, &error);
    g_assert_cmpuint(all->len, ==, 1);
    PdStoreSecret *got = g_ptr_array_index(all, 0);
    g_assert_cmpstr(got->description, ==, "second");
    g_assert_true(got->has_value && got->private_ && !got->ephemeral);
    PdStoreSecret clash = {
        .uuid = "00000000-0000-4000-8000-000000000001", .usage_type = "iscsi", .usage_id = "san"};
    g_assert_false(pd_store_secret_put(store, &clash, &error)); /* one secret per usage */
    g_clear_error(&error);
    g_assert_true(pd_store_secret_delete(store, s.uuid, &error));
    g_clear_pointer(&all, g_ptr_array_unref);
    all = pd_store_secret_list(store, &error);
    g_assert_cmpuint(all->len, ==, 0);
    pd_store_free(g_steal_pointer(&store));
    remove_db(path);
}

static void test_new(void)
{
    g_autofree char *path = db_path();
    g_autoptr(GError) error = NULL;
    g_autoptr(PdStore) store = pd_store_open(path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(pd_store_schema_version(store), ==, PD_STORE_SCHEMA_VERSION);
    pd_store_free(g_steal_pointer(&store));
    store = pd_store_open(path, &error); /* reopening changes nothing */
    g_assert_no_error(error);
    g_assert_cmpint(pd_store_schema_version(store), ==, PD_STORE_SCHEMA_VERSION);
    pd_store_free(g_steal_pointer(&store));
    remove_db(path);
}

static void test_migrate_v1(void)
{
    g_autofree char *path = db_path();
    write_raw(path, schema_v1);
    g_autoptr(GError) error = NULL;
    g_autoptr(PdStore) store = pd_store_open(path, &error);
    g_assert_no_error(error);
    g_assert_cmpint(pd_store_schema_version(store), ==, PD_STORE_SCHEMA_VERSION);
    g_autoptr(GPtrArray) pools = pd_store_pool_list(store, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(pools->len, ==, 1);
    PdStorePool *p = pools->pdata[0];
    g_assert_cmpstr(p->name, ==, "old");
    g_assert_true(p->autostart && p->active);
    g_assert_true(p->persistent); /* the column v2 added defaults to persistent */
    g_autoptr(GPtrArray) vols = pd_store_volume_list(store, "old", &error);
    g_assert_cmpuint(vols->len, ==, 1);
    g_assert_cmpstr(((PdVol *)vols->pdata[0])->format, ==, "qcow2");
    g_assert_cmpuint(((PdVol *)vols->pdata[0])->physical, ==, 6);
    g_autoptr(GPtrArray) interrupted = pd_store_job_fail_interrupted(store, &error);
    g_assert_cmpuint(interrupted->len, ==, 1);
    g_autoptr(GPtrArray) jobs = pd_store_job_list(store, 10, &error);
    g_assert_cmpstr(((PdStoreJob *)jobs->pdata[0])->state, ==, "failed");
    g_assert_nonnull(strstr(((PdStoreJob *)jobs->pdata[0])->error, "interrupted"));
    g_assert_cmpint(pd_store_job_max_id(store), ==, 1);
    pd_store_free(g_steal_pointer(&store));
    remove_db(path);
}

static void test_newer_refused(void)
{
    g_autofree char *path = db_path();
    write_raw(path, "CREATE TABLE future(x); PRAGMA user_version = 99;");
    g_autoptr(GError) error = NULL;
    g_autoptr(PdStore) store = pd_store_open(path, &error);
    g_assert_null(store);
    g_assert_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, "99"));
    remove_db(path);
}

static void test_rows(void)
{
    g_autofree char *path = db_path();
    g_autoptr(GError) error = NULL;
    g_autoptr(PdStore) store = pd_store_open(path, &error);
    PdStorePool pool = {
        .name = "p", .uuid = "u", .type = "dir", .xml = "<pool/>", .persistent = true};
    g_assert_true(pd_store_pool_put(store, &pool, &error));
    g_assert_true(pd_store_pool_set_autostart(store, "p", true, &error));
    g_assert_true(pd_store_pool_set_active(store, "p", true, &error));
    g_autoptr(PdVol) vol = pd_vol_new();
    vol->name = g_strdup("v");
    vol->key = g_strdup("/p/v");
    vol->capacity = 1ULL << 40;
    vol->stat_mtime_ns = -5;
    g_assert_true(pd_store_begin(store, &error));
    g_assert_true(pd_store_volume_put(store, "p", vol, &error));
    g_assert_cmpint(pd_store_event_append(store, "vol-created", "p", "v", NULL, 7, &error), >, 0);
    pd_store_rollback(store); /* nothing of a rolled back transaction stays */
    g_autoptr(GPtrArray) none = pd_store_volume_list(store, "p", &error);
    g_assert_cmpuint(none->len, ==, 0);
    g_assert_true(pd_store_volume_put(store, "p", vol, &error));
    g_autoptr(GPtrArray) vols = pd_store_volume_list(store, "p", &error);
    g_assert_cmpuint(((PdVol *)vols->pdata[0])->capacity, ==, 1ULL << 40);
    g_assert_cmpint(((PdVol *)vols->pdata[0])->stat_mtime_ns, ==, -5);
    g_assert_true(pd_store_event_append(store, "pool-started", "p", NULL, "x", 9, &error) > 0);
    g_autoptr(GPtrArray) events = pd_store_event_list(store, 0, 10, &error);
    g_assert_cmpuint(events->len, ==, 1);
    g_assert_cmpstr(((PdStoreEvent *)events->pdata[0])->kind, ==, "pool-started");
    g_assert_true(pd_store_pool_delete(store, "p", &error)); /* the catalog goes with it */
    g_autoptr(GPtrArray) gone = pd_store_volume_list(store, "p", &error);
    g_assert_cmpuint(gone->len, ==, 0);
    g_assert_no_error(error);
    pd_store_free(g_steal_pointer(&store));
    remove_db(path);
}

static PdVol *sync_vol(const char *name, uint64_t capacity)
{
    PdVol *v = pd_vol_new();
    v->name = g_strdup(name);
    v->key = g_strconcat("/p/", name, NULL);
    v->path = g_strdup(v->key);
    v->format = g_strdup("qcow2");
    v->capacity = capacity;
    v->stat_inode = 42;
    return v;
}

static GPtrArray *sync_list(const char *const *names, const uint64_t *capacities)
{
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)pd_vol_free);
    for (unsigned i = 0; names[i]; i++)
        g_ptr_array_add(list, sync_vol(names[i], capacities[i]));
    return list;
}

/* The rowids and capacities of pool p's rows, "name:rowid:capacity ..." by name. */
static char *sync_rows(const char *path)
{
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
    sqlite3_stmt *st = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(db,
                                       "SELECT name, rowid, capacity FROM volumes WHERE pool = "
                                       "'p' ORDER BY name",
                                       -1, &st, NULL),
                    ==, SQLITE_OK);
    GString *out = g_string_new(NULL);
    while (sqlite3_step(st) == SQLITE_ROW)
        g_string_append_printf(out, "%s:%lld:%lld ", sqlite3_column_text(st, 0),
                               sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return g_string_free(out, false);
}

/* A refresh writes only what changed: an unchanged catalog is not written at all (no change
 * counted, rowids kept); a change, an addition and a removal are three row changes; after a
 * rolled back transaction the rows themselves are compared, not the caller's stale list. */
static void test_volume_sync(void)
{
    g_autofree char *path = db_path();
    g_autoptr(GError) error = NULL;
    g_autoptr(PdStore) store = pd_store_open(path, &error);
    PdStorePool pool = {
        .name = "p", .uuid = "u", .type = "dir", .xml = "<pool/>", .persistent = true};
    g_assert_true(pd_store_pool_put(store, &pool, &error));
    const char *const abc[] = {"a", "b", "c", NULL};
    const uint64_t caps1[] = {1, 2, 3};
    g_autoptr(GPtrArray) empty = g_ptr_array_new();
    g_autoptr(GPtrArray) v1 = sync_list(abc, caps1);
    g_assert_true(pd_store_volume_sync(store, "p", empty, v1, &error));
    g_assert_no_error(error);
    g_autofree char *rows1 = sync_rows(path);
    int changes = pd_store_total_changes(store);

    g_autoptr(GPtrArray) same = sync_list(abc, caps1); /* equal copies */
    g_assert_true(pd_store_volume_sync(store, "p", v1, same, &error));
    g_assert_cmpint(pd_store_total_changes(store), ==, changes);
    g_autofree char *rows2 = sync_rows(path);
    g_assert_cmpstr(rows2, ==, rows1);

    const char *const abd[] = {"a", "b", "d", NULL};
    const uint64_t caps2[] = {1, 20, 4};
    g_autoptr(GPtrArray) v2 = sync_list(abd, caps2);
    g_assert_true(pd_store_volume_sync(store, "p", same, v2, &error));
    g_assert_cmpint(pd_store_total_changes(store), ==, changes + 3);
    g_autoptr(GPtrArray) got = pd_store_volume_list(store, "p", &error);
    g_assert_cmpuint(got->len, ==, 3);
    for (unsigned i = 0; i < 3; i++) {
        g_assert_cmpstr(((PdVol *)got->pdata[i])->name, ==, abd[i]);
        g_assert_cmpuint(((PdVol *)got->pdata[i])->capacity, ==, caps2[i]);
        g_assert_cmpstr(((PdVol *)got->pdata[i])->key, ==, ((PdVol *)v2->pdata[i])->key);
    }
    g_autofree char *rows3 = sync_rows(path);
    g_auto(GStrv) first = g_strsplit(rows1, " ", 2);
    g_assert_true(g_str_has_prefix(rows3, first[0])); /* a, unchanged, kept its row */

    /* the caller's list goes stale when its transaction is rolled back */
    const char *const abde[] = {"a", "b", "d", "e", NULL};
    const uint64_t caps3[] = {1, 20, 4, 5};
    g_autoptr(GPtrArray) v3 = sync_list(abde, caps3);
    g_assert_true(pd_store_begin(store, &error));
    g_assert_true(pd_store_volume_sync(store, "p", v2, v3, &error));
    pd_store_rollback(store);
    g_assert_true(pd_store_volume_sync(store, "p", v3, v3, &error)); /* v3 is stale */
    g_autoptr(GPtrArray) got3 = pd_store_volume_list(store, "p", &error);
    g_assert_cmpuint(got3->len, ==, 4);
    g_assert_cmpstr(((PdVol *)got3->pdata[3])->name, ==, "e");
    pd_store_free(g_steal_pointer(&store));
    remove_db(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/store/new", test_new);
    g_test_add_func("/store/migrate-v1", test_migrate_v1);
    g_test_add_func("/store/newer-refused", test_newer_refused);
    g_test_add_func("/store/rows", test_rows);
    g_test_add_func("/store/volume-sync", test_volume_sync);
    g_test_add_func("/store/secrets", test_secrets);
    return g_test_run();
}
