/* The SQLite store: a new database gets the current schema, an old one is migrated keeping
 * its rows, a newer one is refused; rows round-trip; interrupted jobs are failed. */
#include "common/pd-error.h"
#include "daemon/store.h"

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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/store/new", test_new);
    g_test_add_func("/store/migrate-v1", test_migrate_v1);
    g_test_add_func("/store/newer-refused", test_newer_refused);
    g_test_add_func("/store/rows", test_rows);
    return g_test_run();
}
