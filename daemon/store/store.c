/* The SQLite store: schema, migrations, and the rows of pools, volumes, jobs and events. */
#include "daemon/store/store.h"

#include "common/pd-error.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct PdStore {
    sqlite3 *db;
    char *path;
    char *wal_path; /* path + "-wal" */
    /* Every statement, by its SQL text: prepared once (SQLITE_PREPARE_PERSISTENT), on first
     * use, and reset after each. Parsing SQL cost more than running it for the small
     * statements of one call (a delete made four) and for the rows of a refresh. */
    GHashTable *stmts;
    /* A transaction was rolled back: the daemon's in-memory catalog may hold changes the store
     * lost, so pd_store_volume_sync compares with the rows themselves from then on. */
    bool rolled_back;
};

/* One step per schema version: migrations[v - 1] brings a database from v - 1 to v.
 * Never edit a step that shipped; add one. */
static const char *const migrations[] = {
    /* 1: pools, the volume catalog, the job journal, the event log */
    "CREATE TABLE pools ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  uuid TEXT NOT NULL UNIQUE,"
    "  type TEXT NOT NULL,"
    "  xml TEXT NOT NULL,"
    "  autostart INTEGER NOT NULL DEFAULT 0,"
    "  active INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE volumes ("
    "  pool TEXT NOT NULL REFERENCES pools(name) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  path TEXT,"
    "  type INTEGER NOT NULL,"
    "  format TEXT,"
    "  capacity INTEGER NOT NULL,"
    "  allocation INTEGER NOT NULL,"
    "  physical INTEGER NOT NULL,"
    "  backing_path TEXT,"
    "  backing_format TEXT,"
    "  compat TEXT,"
    "  cluster_size INTEGER NOT NULL DEFAULT 0,"
    "  lazy_refcounts INTEGER NOT NULL DEFAULT 0,"
    "  mode INTEGER NOT NULL DEFAULT 0,"
    "  uid INTEGER NOT NULL DEFAULT 0,"
    "  gid INTEGER NOT NULL DEFAULT 0,"
    "  stat_size INTEGER NOT NULL DEFAULT 0,"
    "  stat_mtime_ns INTEGER NOT NULL DEFAULT 0,"
    "  stat_inode INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (pool, name));"
    "CREATE TABLE jobs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL,"
    "  pool TEXT,"
    "  volume TEXT,"
    "  state TEXT NOT NULL,"
    "  bytes_done INTEGER NOT NULL DEFAULT 0,"
    "  bytes_total INTEGER NOT NULL DEFAULT 0,"
    "  started INTEGER NOT NULL,"
    "  finished INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT);"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  pool TEXT,"
    "  volume TEXT,"
    "  detail TEXT);",
    /* 2: transient pools (pool-create) are stored too, to restart them after a crash;
     * start-up finds running jobs without a scan */
    "ALTER TABLE pools ADD COLUMN persistent INTEGER NOT NULL DEFAULT 1;"
    "CREATE INDEX jobs_state ON jobs(state);",
    /* 3: secrets (CHAP passwords of iSCSI pools; value NULL until set) and the disks attached
     * to libvirt domains (one row per domain, target, and libvirt URI) */
    "CREATE TABLE secrets ("
    "  uuid TEXT PRIMARY KEY NOT NULL,"
    "  usage_type TEXT NOT NULL,"
    "  usage_id TEXT NOT NULL,"
    "  description TEXT,"
    "  ephemeral INTEGER NOT NULL DEFAULT 0,"
    "  private INTEGER NOT NULL DEFAULT 0,"
    "  value BLOB,"
    "  UNIQUE (usage_type, usage_id));"
    "CREATE TABLE attachments ("
    "  uri TEXT NOT NULL,"
    "  domain TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  pool TEXT NOT NULL,"
    "  volume TEXT NOT NULL,"
    "  mode TEXT,"
    "  live INTEGER NOT NULL DEFAULT 0,"
    "  config INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY (uri, domain, target));"
    "CREATE INDEX attachments_volume ON attachments(pool, volume);",
};
G_STATIC_ASSERT(G_N_ELEMENTS(migrations) == PD_STORE_SCHEMA_VERSION);

static bool store_fail(PdStore *store, GError **error, const char *what)
{
    g_set_error(error, PD_ERROR, PD_ERROR_IO, "state database %s: %s: %s", store->path, what,
                sqlite3_errmsg(store->db));
    return false;
}

static bool exec(PdStore *store, const char *sql, const char *what, GError **error)
{
    if (sqlite3_exec(store->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(store, error, what);
    return true;
}

/* A statement of the cache, lent to one caller: reset and unbound when the caller's
 * g_autoptr goes out of scope, ready for the next. */
typedef sqlite3_stmt PdStoreStmt;

static void stmt_give_back(PdStoreStmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdStoreStmt, stmt_give_back)

static void stmt_finalize(gpointer st)
{
    (void)sqlite3_finalize(st);
}

/* The cached statement for @sql (one statement), prepared on first use. */
static PdStoreStmt *prepare(PdStore *store, const char *sql, GError **error)
{
    sqlite3_stmt *st = g_hash_table_lookup(store->stmts, sql);
    if (st)
        return st;
    if (sqlite3_prepare_v3(store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        store_fail(store, error, "preparing a statement");
        return NULL;
    }
    g_hash_table_insert(store->stmts, g_strdup(sql), st);
    return st;
}

/* Runs one cached statement that returns no rows (BEGIN, COMMIT, a PRAGMA that sets). */
static bool run(PdStore *store, const char *sql, const char *what, GError **error)
{
    g_autoptr(PdStoreStmt) st = prepare(store, sql, error);
    int r = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (r != SQLITE_DONE && r != SQLITE_ROW)
        return st ? store_fail(store, error, what) : false;
    return true;
}

/* Runs a statement that returns no rows. */
static bool step_done(PdStore *store, sqlite3_stmt *st, const char *what, GError **error)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        return store_fail(store, error, what);
    return true;
}

static int user_version(PdStore *store)
{
    g_autoptr(PdStoreStmt) st = prepare(store, "PRAGMA user_version", NULL);
    if (!st || sqlite3_step(st) != SQLITE_ROW)
        return -1;
    return sqlite3_column_int(st, 0);
}

int pd_store_schema_version(PdStore *store)
{
    return user_version(store);
}

/* Brings the schema to PD_STORE_SCHEMA_VERSION, one transaction per step. */
static bool migrate(PdStore *store, GError **error)
{
    int version = user_version(store);
    if (version < 0)
        return store_fail(store, error, "reading the schema version");
    if (version > PD_STORE_SCHEMA_VERSION) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "state database %s has schema version %d, newer than this poold's (%d): "
                    "run the newer poold or move the state directory aside",
                    store->path, version, PD_STORE_SCHEMA_VERSION);
        return false;
    }
    for (int v = version + 1; v <= PD_STORE_SCHEMA_VERSION; v++) {
        g_autofree char *bump = g_strdup_printf("PRAGMA user_version = %d", v);
        if (!exec(store, "BEGIN IMMEDIATE", "starting a migration", error))
            return false;
        if (!exec(store, migrations[v - 1], "migrating the schema", error) ||
            !exec(store, bump, "setting the schema version", error) ||
            !exec(store, "COMMIT", "committing a migration", error)) {
            (void)sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
            return false;
        }
        if (version > 0)
            g_message("state database %s migrated to schema version %d", store->path, v);
    }
    return true;
}

/* The database holds secrets: it and SQLite's -wal and -shm files (created with the
 * database's mode) are for the owner only, also when an older poold made them 0644. */
static bool restrict_files(const char *path, GError **error)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0)) {
        pd_error_set_errno(error, errno, "state database %s: making it private (mode 0600)", path);
        if (fd >= 0)
            (void)close(fd);
        return false;
    }
    (void)close(fd);
    static const char *const sides[] = {"-wal", "-shm"};
    for (size_t i = 0; i < G_N_ELEMENTS(sides); i++) {
        g_autofree char *side = g_strconcat(path, sides[i], NULL);
        if (chmod(side, 0600) < 0 && errno != ENOENT) {
            pd_error_set_errno(error, errno, "state database %s: making it private", side);
            return false;
        }
    }
    return true;
}

PdStore *pd_store_open(const char *path, GError **error)
{
    if (!restrict_files(path, error))
        return NULL;
    g_autoptr(PdStore) store = g_new0(PdStore, 1);
    store->path = g_strdup(path);
    store->wal_path = g_strconcat(path, "-wal", NULL);
    store->stmts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, stmt_finalize);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &store->db, flags, NULL) != SQLITE_OK) {
        store_fail(store, error, "opening");
        return NULL;
    }
    (void)sqlite3_busy_timeout(store->db, 5000);
    if (!exec(store, "PRAGMA journal_mode = WAL", "switching to WAL", error) ||
        !exec(store, "PRAGMA synchronous = FULL", "setting synchronous", error) ||
        !exec(store, "PRAGMA foreign_keys = ON", "enabling foreign keys", error) ||
        !migrate(store, error))
        return NULL;
    return g_steal_pointer(&store);
}

void pd_store_free(PdStore *store)
{
    if (!store)
        return;
    if (store->stmts)
        g_hash_table_unref(store->stmts);
    if (store->db)
        (void)sqlite3_close(store->db);
    g_free(store->path);
    g_free(store->wal_path);
    g_free(store);
}

bool pd_store_begin(PdStore *store, GError **error)
{
    return run(store, "BEGIN IMMEDIATE", "starting a transaction", error);
}

bool pd_store_begin_lazy(PdStore *store, GError **error)
{
    return run(store, "PRAGMA synchronous = NORMAL", "setting synchronous", error) &&
           pd_store_begin(store, error);
}

bool pd_store_commit(PdStore *store, GError **error)
{
    bool ok = run(store, "COMMIT", "committing", error);
    if (!ok)
        pd_store_rollback(store);
    /* back from a lazy transaction (a no-op after a normal one) */
    (void)run(store, "PRAGMA synchronous = FULL", "setting synchronous", NULL);
    return ok;
}

const char *pd_store_wal_path(PdStore *store)
{
    return store->wal_path;
}

bool pd_store_sync_wal(const char *wal_path, GError **error)
{
    int fd = open(wal_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return true;
    if (fd < 0 || fdatasync(fd) < 0) {
        int e = errno;
        if (fd >= 0)
            (void)close(fd);
        g_set_error(error, PD_ERROR, PD_ERROR_IO, "Could not sync the store's log '%s': %s",
                    wal_path, g_strerror(e));
        return false;
    }
    (void)close(fd);
    return true;
}

void pd_store_rollback(PdStore *store)
{
    if (!sqlite3_get_autocommit(store->db)) {
        (void)run(store, "ROLLBACK", "rolling back", NULL);
        store->rolled_back = true;
    }
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static char *column_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? g_strdup((const char *)s) : NULL;
}

/* ---- pools ---- */

void pd_store_pool_free(PdStorePool *pool)
{
    if (!pool)
        return;
    g_free(pool->name);
    g_free(pool->uuid);
    g_free(pool->type);
    g_free(pool->xml);
    g_free(pool);
}

bool pd_store_pool_put(PdStore *store, const PdStorePool *pool, GError **error)
{
    g_autoptr(PdStoreStmt) st =
        prepare(store,
                "INSERT INTO pools(name, uuid, type, xml, autostart, active, persistent) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(name) DO UPDATE SET "
                "uuid = ?2, type = ?3, xml = ?4, autostart = ?5, active = ?6, persistent = ?7",
                error);
    if (!st)
        return false;
    bind_text(st, 1, pool->name);
    bind_text(st, 2, pool->uuid);
    bind_text(st, 3, pool->type);
    bind_text(st, 4, pool->xml);
    sqlite3_bind_int(st, 5, pool->autostart);
    sqlite3_bind_int(st, 6, pool->active);
    sqlite3_bind_int(st, 7, pool->persistent);
    return step_done(store, st, "saving a pool", error);
}

static bool pool_set(PdStore *store, const char *sql, const char *name, int value, GError **error)
{
    g_autoptr(PdStoreStmt) st = prepare(store, sql, error);
    if (!st)
        return false;
    sqlite3_bind_int(st, 1, value);
    bind_text(st, 2, name);
    return step_done(store, st, "updating a pool", error);
}

bool pd_store_pool_set_active(PdStore *store, const char *name, bool active, GError **error)
{
    return pool_set(store, "UPDATE pools SET active = ?1 WHERE name = ?2", name, active, error);
}

bool pd_store_pool_set_autostart(PdStore *store, const char *name, bool autostart, GError **error)
{
    return pool_set(store, "UPDATE pools SET autostart = ?1 WHERE name = ?2", name, autostart,
                    error);
}

bool pd_store_pool_delete(PdStore *store, const char *name, GError **error)
{
    g_autoptr(PdStoreStmt) st = prepare(store, "DELETE FROM pools WHERE name = ?1", error);
    if (!st)
        return false;
    bind_text(st, 1, name);
    return step_done(store, st, "removing a pool", error);
}

GPtrArray *pd_store_pool_list(PdStore *store, GError **error)
{
    g_autoptr(PdStoreStmt) st = prepare(store,
                                        "SELECT name, uuid, type, xml, autostart, active, "
                                        "persistent FROM pools ORDER BY name",
                                        error);
    if (!st)
        return NULL;
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)pd_store_pool_free);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        PdStorePool *p = g_new0(PdStorePool, 1);
        p->name = column_text(st, 0);
        p->uuid = column_text(st, 1);
        p->type = column_text(st, 2);
        p->xml = column_text(st, 3);
        p->autostart = sqlite3_column_int(st, 4);
        p->active = sqlite3_column_int(st, 5);
        p->persistent = sqlite3_column_int(st, 6);
        g_ptr_array_add(list, p);
    }
    if (r != SQLITE_DONE) {
        store_fail(store, error, "listing pools");
        return NULL;
    }
    return g_steal_pointer(&list);
}

/* ---- volumes ---- */

#define VOL_COLUMNS                                                                                \
    "name, key, path, type, format, capacity, allocation, physical, backing_path, "                \
    "backing_format, compat, cluster_size, lazy_refcounts, mode, uid, gid, stat_size, "            \
    "stat_mtime_ns, stat_inode"

bool pd_store_volume_put(PdStore *store, const char *pool, const PdVol *vol, GError **error)
{
    g_autoptr(PdStoreStmt) st = prepare(
        store,
        "INSERT OR REPLACE INTO volumes(pool, " VOL_COLUMNS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, "
        "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
        error);
    if (!st)
        return false;
    bind_text(st, 1, pool);
    bind_text(st, 2, vol->name);
    bind_text(st, 3, vol->key ? vol->key : vol->name);
    bind_text(st, 4, vol->path);
    sqlite3_bind_int(st, 5, vol->type);
    bind_text(st, 6, vol->format);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)vol->capacity);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)vol->allocation);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)vol->physical);
    bind_text(st, 10, vol->backing_path);
    bind_text(st, 11, vol->backing_format);
    bind_text(st, 12, vol->compat);
    sqlite3_bind_int64(st, 13, (sqlite3_int64)vol->cluster_size);
    sqlite3_bind_int(st, 14, vol->lazy_refcounts);
    sqlite3_bind_int64(st, 15, vol->mode);
    sqlite3_bind_int64(st, 16, vol->uid);
    sqlite3_bind_int64(st, 17, vol->gid);
    sqlite3_bind_int64(st, 18, (sqlite3_int64)vol->stat_size);
    sqlite3_bind_int64(st, 19, vol->stat_mtime_ns);
    sqlite3_bind_int64(st, 20, (sqlite3_int64)vol->stat_inode);
    return step_done(store, st, "saving a volume", error);
}

bool pd_store_volume_delete(PdStore *store, const char *pool, const char *name, GError **error)
{
    g_autoptr(PdStoreStmt) st =
        prepare(store, "DELETE FROM volumes WHERE pool = ?1 AND name = ?2", error);
    if (!st)
        return false;
    bind_text(st, 1, pool);
    bind_text(st, 2, name);
    return step_done(store, st, "removing a volume", error);
}

/* Whether @a and @b have the same row: every stored column (not the timestamps). */
static bool vol_row_equal(const PdVol *a, const PdVol *b)
{
    if (a == b)
        return true; /* shared by a refresh (pd_vol_ref) */
    return g_strcmp0(a->name, b->name) == 0 &&
           g_strcmp0(a->key ? a->key : a->name, b->key ? b->key : b->name) == 0 &&
           g_strcmp0(a->path, b->path) == 0 && a->type == b->type &&
           g_strcmp0(a->format, b->format) == 0 && a->capacity == b->capacity &&
           a->allocation == b->allocation && a->physical == b->physical &&
           g_strcmp0(a->backing_path, b->backing_path) == 0 &&
           g_strcmp0(a->backing_format, b->backing_format) == 0 &&
           g_strcmp0(a->compat, b->compat) == 0 && a->cluster_size == b->cluster_size &&
           a->lazy_refcounts == b->lazy_refcounts && a->mode == b->mode && a->uid == b->uid &&
           a->gid == b->gid && a->stat_size == b->stat_size &&
           a->stat_mtime_ns == b->stat_mtime_ns && a->stat_inode == b->stat_inode;
}

bool pd_store_volume_sync(PdStore *store, const char *pool, GPtrArray *old_vols,
                          GPtrArray *new_vols, GError **error)
{
    /* A merge of the two sorted lists: rows of unchanged volumes are not touched. */
    g_autoptr(GPtrArray) rows = NULL;
    if (store->rolled_back) {
        rows = pd_store_volume_list(store, pool, error);
        if (!rows)
            return false;
        old_vols = rows;
    }
    bool own_txn = false;
    guint i = 0, j = 0;
    while (i < old_vols->len || j < new_vols->len) {
        const PdVol *o = i < old_vols->len ? old_vols->pdata[i] : NULL;
        const PdVol *n = j < new_vols->len ? new_vols->pdata[j] : NULL;
        int c = !o ? 1 : !n ? -1 : strcmp(o->name, n->name);
        if (c == 0 && vol_row_equal(o, n)) {
            i++, j++;
            continue;
        }
        /* The first write: outside a caller's transaction, open one for all of them. */
        if (!own_txn && sqlite3_get_autocommit(store->db)) {
            if (!pd_store_begin(store, error))
                return false;
            own_txn = true;
        }
        bool ok;
        if (c < 0) { /* gone */
            ok = pd_store_volume_delete(store, pool, o->name, error);
            i++;
        } else { /* new (c > 0) or changed (c == 0) */
            ok = pd_store_volume_put(store, pool, n, error);
            j++;
            if (c == 0)
                i++;
        }
        if (!ok) {
            if (own_txn)
                pd_store_rollback(store);
            return false;
        }
    }
    return !own_txn || pd_store_commit(store, error);
}

int pd_store_total_changes(PdStore *store)
{
    return sqlite3_total_changes(store->db);
}

static PdVol *volume_from_row(sqlite3_stmt *st)
{
    PdVol *v = pd_vol_new();
    v->name = column_text(st, 0);
    v->key = column_text(st, 1);
    v->path = column_text(st, 2);
    v->type = (PdVolType)sqlite3_column_int(st, 3);
    v->format = column_text(st, 4);
    v->capacity = (uint64_t)sqlite3_column_int64(st, 5);
    v->allocation = (uint64_t)sqlite3_column_int64(st, 6);
    v->physical = (uint64_t)sqlite3_column_int64(st, 7);
    v->backing_path = column_text(st, 8);
    v->backing_format = column_text(st, 9);
    v->compat = column_text(st, 10);
    v->cluster_size = (uint64_t)sqlite3_column_int64(st, 11);
    v->lazy_refcounts = sqlite3_column_int(st, 12);
    v->mode = (uint32_t)sqlite3_column_int64(st, 13);
    v->uid = (uint32_t)sqlite3_column_int64(st, 14);
    v->gid = (uint32_t)sqlite3_column_int64(st, 15);
    v->stat_size = (uint64_t)sqlite3_column_int64(st, 16);
    v->stat_mtime_ns = sqlite3_column_int64(st, 17);
    v->stat_inode = (uint64_t)sqlite3_column_int64(st, 18);
    return v;
}

GPtrArray *pd_store_volume_list(PdStore *store, const char *pool, GError **error)
{
    g_autoptr(PdStoreStmt) st =
        prepare(store, "SELECT " VOL_COLUMNS " FROM volumes WHERE pool = ?1 ORDER BY name", error);
    if (!st)
        return NULL;
    bind_text(st, 1, pool);
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)pd_vol_free);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        g_ptr_array_add(list, volume_from_row(st));
    if (r != SQLITE_DONE) {
        store_fail(store, error, "listing volumes");
        return NULL;
    }
    return g_steal_pointer(&list);
}

/* ---- jobs ---- */

void pd_store_job_free(PdStoreJob *job)
{
    if (!job)
        return;
    g_free(job->kind);
    g_free(job->pool);
    g_free(job->volume);
    g_free(job->state);
    g_free(job->error);
    g_free(job);
}

bool pd_store_job_insert(PdStore *store, int64_t id, const char *kind, const char *pool,
                         const char *volume, uint64_t bytes_total, GError **error)
{
    g_autoptr(PdStoreStmt) st =
        prepare(store,
                "INSERT INTO jobs(id, kind, pool, volume, state, bytes_total, started) "
                "VALUES(?1, ?2, ?3, ?4, 'running', ?5, ?6)",
                error);
    if (!st)
        return false;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, kind);
    bind_text(st, 3, pool);
    bind_text(st, 4, volume);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)bytes_total);
    sqlite3_bind_int64(st, 6, g_get_real_time() / G_USEC_PER_SEC);
    /* Not synced on its own: the job's own commit (its result, or failed) syncs the WAL with
     * this row in it. A crash before that may lose the row; reconciliation still removes the
     * job's partial file, it only cannot report the job. */
    (void)run(store, "PRAGMA synchronous = NORMAL", "setting synchronous", NULL);
    bool ok = step_done(store, st, "journaling a job", error);
    (void)run(store, "PRAGMA synchronous = FULL", "setting synchronous", NULL);
    return ok;
}

int64_t pd_store_job_max_id(PdStore *store)
{
    g_autoptr(PdStoreStmt) st = prepare(store, "SELECT MAX(id) FROM jobs", NULL);
    if (!st || sqlite3_step(st) != SQLITE_ROW)
        return 0;
    return sqlite3_column_int64(st, 0);
}

bool pd_store_job_finish(PdStore *store, int64_t id, const char *state, uint64_t bytes_done,
                         uint64_t bytes_total, const char *error_text, GError **error)
{
    g_autoptr(PdStoreStmt) st = prepare(store,
                                        "UPDATE jobs SET state = ?2, bytes_done = ?3, "
                                        "bytes_total = ?4, error = ?5, finished = ?6 "
                                        "WHERE id = ?1",
                                        error);
    if (!st)
        return false;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, state);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)bytes_done);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)bytes_total);
    bind_text(st, 5, error_text);
    sqlite3_bind_int64(st, 6, g_get_real_time() / G_USEC_PER_SEC);
    return step_done(store, st, "finishing a job", error);
}

static GPtrArray *job_rows(PdStore *store, sqlite3_stmt *st, GError **error)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)pd_store_job_free);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        PdStoreJob *j = g_new0(PdStoreJob, 1);
        j->id = sqlite3_column_int64(st, 0);
        j->kind = column_text(st, 1);
        j->pool = column_text(st, 2);
        j->volume = column_text(st, 3);
        j->state = column_text(st, 4);
        j->bytes_done = (uint64_t)sqlite3_column_int64(st, 5);
        j->bytes_total = (uint64_t)sqlite3_column_int64(st, 6);
        j->started = sqlite3_column_int64(st, 7);
        j->finished = sqlite3_column_int64(st, 8);
        j->error = column_text(st, 9);
        g_ptr_array_add(list, j);
    }
    if (r != SQLITE_DONE) {
        store_fail(store, error, "listing jobs");
        return NULL;
    }
    return g_steal_pointer(&list);
}

#define JOB_COLUMNS                                                                                \
    "id, kind, pool, volume, state, bytes_done, bytes_total, started, finished, error"

GPtrArray *pd_store_job_list(PdStore *store, unsigned limit, GError **error)
{
    g_autoptr(PdStoreStmt) st =
        prepare(store, "SELECT " JOB_COLUMNS " FROM jobs ORDER BY id DESC LIMIT ?1", error);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, limit);
    return job_rows(store, st, error);
}

PdStoreJob *pd_store_job_get(PdStore *store, int64_t id)
{
    g_autoptr(PdStoreStmt) st =
        prepare(store, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1", NULL);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    g_autoptr(GPtrArray) rows = job_rows(store, st, NULL);
    if (!rows || rows->len == 0)
        return NULL;
    return g_ptr_array_steal_index(rows, 0);
}

GPtrArray *pd_store_job_fail_interrupted(PdStore *store, GError **error)
{
    g_autoptr(PdStoreStmt) st = prepare(
        store, "SELECT " JOB_COLUMNS " FROM jobs WHERE state = 'running' ORDER BY id", error);
    if (!st)
        return NULL;
    g_autoptr(GPtrArray) list = job_rows(store, st, error);
    if (!list)
        return NULL;
    for (guint i = 0; i < list->len; i++) {
        PdStoreJob *j = list->pdata[i];
        if (!pd_store_job_finish(store, j->id, "failed", j->bytes_done, j->bytes_total,
                                 "interrupted: the daemon stopped while the job ran", error))
            return NULL;
    }
    return g_steal_pointer(&list);
}

/* ---- events ---- */

void pd_store_event_free(PdStoreEvent *event)
{
    if (!event)
        return;
    g_free(event->kind);
    g_free(event->pool);
    g_free(event->volume);
    g_free(event->detail);
    g_free(event);
}

int64_t pd_store_event_append(PdStore *store, const char *kind, const char *pool,
                              const char *volume, const char *detail, int64_t time, GError **error)
{
    g_autoptr(PdStoreStmt) st = prepare(
        store, "INSERT INTO events(time, kind, pool, volume, detail) VALUES(?1, ?2, ?3, ?4, ?5)",
        error);
    if (!st)
        return 0;
    sqlite3_bind_int64(st, 1, time);
    bind_text(st, 2, kind);
    bind_text(st, 3, pool);
    bind_text(st, 4, volume);
    bind_text(st, 5, detail);
    if (!step_done(store, st, "logging an event", error))
        return 0;
    return sqlite3_last_insert_rowid(store->db);
}

GPtrArray *pd_store_event_list(PdStore *store, int64_t since, unsigned limit, GError **error)
{
    g_autoptr(PdStoreStmt) st = prepare(store,
                                        "SELECT id, time, kind, pool, volume, detail FROM "
                                        "events WHERE id > ?1 ORDER BY id LIMIT ?2",
                                        error);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, since);
    sqlite3_bind_int64(st, 2, limit);
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)pd_store_event_free);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        PdStoreEvent *e = g_new0(PdStoreEvent, 1);
        e->id = sqlite3_column_int64(st, 0);
        e->time = sqlite3_column_int64(st, 1);
        e->kind = column_text(st, 2);
        e->pool = column_text(st, 3);
        e->volume = column_text(st, 4);
        e->detail = column_text(st, 5);
        g_ptr_array_add(list, e);
    }
    if (r != SQLITE_DONE) {
        store_fail(store, error, "listing events");
        return NULL;
    }
    return g_steal_pointer(&list);
}

/* ---- attachments ---- */

void pd_store_attachment_free(PdStoreAttachment *row)
{
    if (!row)
        return;
    g_free(row->uri);
    g_free(row->domain);
    g_free(row->target);
    g_free(row->pool);
    g_free(row->volume);
    g_free(row->mode);
    g_free(row);
}

bool pd_store_attachment_put(PdStore *store, const PdStoreAttachment *row, GError **error)
{
    g_autoptr(PdStoreStmt) st = prepare(store,
                                        "INSERT OR REPLACE INTO attachments(uri, domain, target, "
                                        "pool, volume, mode, live, config, created) "
                                        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                                        error);
    if (!st)
        return false;
    bind_text(st, 1, row->uri);
    bind_text(st, 2, row->domain);
    bind_text(st, 3, row->target);
    bind_text(st, 4, row->pool);
    bind_text(st, 5, row->volume);
    bind_text(st, 6, row->mode);
    sqlite3_bind_int(st, 7, row->live);
    sqlite3_bind_int(st, 8, row->config);
    sqlite3_bind_int64(st, 9, row->created ? row->created : g_get_real_time() / G_USEC_PER_SEC);
    return step_done(store, st, "recording an attachment", error);
}

bool pd_store_attachment_delete(PdStore *store, const char *uri, const char *domain,
                                const char *target, GError **error)
{
    g_autoptr(PdStoreStmt) st = prepare(
        store, "DELETE FROM attachments WHERE uri = ?1 AND domain = ?2 AND target = ?3", error);
    if (!st)
        return false;
    bind_text(st, 1, uri);
    bind_text(st, 2, domain);
    bind_text(st, 3, target);
    return step_done(store, st, "removing an attachment", error);
}

GPtrArray *pd_store_attachment_list(PdStore *store, const char *uri, const char *pool,
                                    const char *volume, GError **error)
{
    g_autoptr(PdStoreStmt) st =
        prepare(store,
                "SELECT uri, domain, target, pool, volume, mode, live, config, created "
                "FROM attachments WHERE (?1 IS NULL OR uri = ?1) AND (?2 IS NULL OR pool = ?2) "
                "AND (?3 IS NULL OR volume = ?3) ORDER BY uri, domain, target",
                error);
    if (!st)
        return NULL;
    bind_text(st, 1, uri);
    bind_text(st, 2, pool);
    bind_text(st, 3, volume);
    g_autoptr(GPtrArray) list =
        g_ptr_array_new_with_free_func((GDestroyNotify)pd_store_attachment_free);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        PdStoreAttachment *a = g_new0(PdStoreAttachment, 1);
        a->uri = column_text(st, 0);
        a->domain = column_text(st, 1);
        a->target = column_text(st, 2);
        a->pool = column_text(st, 3);
        a->volume = column_text(st, 4);
        a->mode = column_text(st, 5);
        a->live = sqlite3_column_int(st, 6) != 0;
        a->config = sqlite3_column_int(st, 7) != 0;
        a->created = sqlite3_column_int64(st, 8);
        g_ptr_array_add(list, a);
    }
    if (r != SQLITE_DONE) {
        store_fail(store, error, "listing attachments");
        return NULL;
    }
    return g_steal_pointer(&list);
}

/* ---- secrets ---- */

void pd_store_secret_free(PdStoreSecret *secret)
{
    if (!secret)
        return;
    g_free(secret->uuid);
    g_free(secret->usage_type);
    g_free(secret->usage_id);
    g_free(secret->description);
    g_free(secret);
}

bool pd_store_secret_put(PdStore *store, const PdStoreSecret *secret, GError **error)
{
    g_autoptr(PdStoreStmt) st =
        prepare(store,
                "INSERT INTO secrets(uuid, usage_type, usage_id, description, ephemeral, private) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(uuid) DO UPDATE SET "
                "usage_type = ?2, usage_id = ?3, description = ?4, ephemeral = ?5, private = ?6",
                error);
    if (!st)
        return false;
    bind_text(st, 1, secret->uuid);
    bind_text(st, 2, secret->usage_type);
    bind_text(st, 3, secret->usage_id);
    bind_text(st, 4, secret->description);
    sqlite3_bind_int(st, 5, secret->ephemeral);
    sqlite3_bind_int(st, 6, secret->private_);
    return step_done(store, st, "storing a secret", error);
}

GPtrArray *pd_store_secret_list(PdStore *store, GError **error)
{
    g_autoptr(PdStoreStmt) st = prepare(store,
                                        "SELECT uuid, usage_type, usage_id, description, "
                                        "ephemeral, private, value IS NOT NULL FROM secrets "
                                        "ORDER BY uuid",
                                        error);
    if (!st)
        return NULL;
    g_autoptr(GPtrArray) list =
        g_ptr_array_new_with_free_func((GDestroyNotify)pd_store_secret_free);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        PdStoreSecret *s = g_new0(PdStoreSecret, 1);
        s->uuid = column_text(st, 0);
        s->usage_type = column_text(st, 1);
        s->usage_id = column_text(st, 2);
        s->description = column_text(st, 3);
        s->ephemeral = sqlite3_column_int(st, 4);
        s->private_ = sqlite3_column_int(st, 5);
        s->has_value = sqlite3_column_int(st, 6);
        g_ptr_array_add(list, s);
    }
    if (r != SQLITE_DONE) {
        store_fail(store, error, "listing secrets");
        return NULL;
    }
    return g_steal_pointer(&list);
}

bool pd_store_secret_delete(PdStore *store, const char *uuid, GError **error)
{
    g_autoptr(PdStoreStmt) st = prepare(store, "DELETE FROM secrets WHERE uuid = ?1", error);
    if (!st)
        return false;
    bind_text(st, 1, uuid);
    return step_done(store, st, "removing a secret", error);
}

bool pd_store_secret_set_value(PdStore *store, const char *uuid, const void *value, size_t len,
                               GError **error)
{
    g_autoptr(PdStoreStmt) st =
        prepare(store, "UPDATE secrets SET value = ?2 WHERE uuid = ?1", error);
    if (!st)
        return false;
    bind_text(st, 1, uuid);
    sqlite3_bind_blob64(st, 2, len ? value : "", len, SQLITE_TRANSIENT);
    return step_done(store, st, "setting a secret value", error);
}

static void wipe_free(gpointer data)
{
    GBytes *copy = data;
    gsize len;
    gpointer mem = (gpointer)g_bytes_get_data(copy, &len);
    explicit_bzero(mem, len);
    g_bytes_unref(copy);
}

GBytes *pd_store_secret_get_value(PdStore *store, const char *uuid, GError **error)
{
    g_autoptr(PdStoreStmt) st =
        prepare(store, "SELECT value FROM secrets WHERE uuid = ?1 AND value IS NOT NULL", error);
    if (!st)
        return NULL;
    bind_text(st, 1, uuid);
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE)
        return NULL;
    if (r != SQLITE_ROW) {
        store_fail(store, error, "reading a secret value");
        return NULL;
    }
    const void *blob = sqlite3_column_blob(st, 0);
    int len = sqlite3_column_bytes(st, 0);
    GBytes *inner = g_bytes_new(blob ? blob : "", (gsize)len);
    const void *data = g_bytes_get_data(inner, NULL);
    return g_bytes_new_with_free_func(data, (gsize)len, wipe_free, inner);
}
