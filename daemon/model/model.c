/* The daemon's pools and volume catalogs, and the policy checks shared by the methods. */
#include "daemon/model/model.h"
#include "daemon/model/backing-policy.h"

#include "daemon/model/secrets.h"

#include "common/json-text.h"
#include "common/pd-error.h"
#include "daemon/observe/events.h"
#include "daemon/core/heap.h"
#include "daemon/jobs/jobs.h"
#include "xml/pool-xml.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

/* A refresh listing this many volumes or more frees enough to trim the heap afterwards. */
#define TRIM_AFTER_REFRESH_VOLUMES 1000

void pd_pool_obj_free(PdPoolObj *obj)
{
    if (!obj)
        return;
    if (obj->active && obj->pool->backend_data)
        (void)pd_pool_backend_stop(obj->backend, obj->pool, NULL);
    pd_pool_free(obj->pool);
    pd_pool_def_free(obj->next_def);
    if (obj->touched)
        g_hash_table_unref(obj->touched);
    g_free(obj);
}

const char *pd_pool_obj_name(const PdPoolObj *obj)
{
    return obj->pool->def->name;
}

PdPool *pd_pool_view(const PdPool *pool)
{
    PdPool *view = g_new0(PdPool, 1);
    *view = *pool;
    view->volumes = g_ptr_array_new();
    return view;
}

void pd_pool_view_free(PdPool *view)
{
    if (!view)
        return;
    g_ptr_array_unref(view->volumes);
    g_free(view);
}

PdPoolObj *pd_model_pool(PdDaemon *daemon, const char *name_or_uuid, GError **error)
{
    PdPoolObj *obj = g_hash_table_lookup(daemon->pools, name_or_uuid);
    if (obj)
        return obj;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, daemon->pools);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        PdPoolObj *o = value;
        if (g_ascii_strcasecmp(o->pool->def->uuid, name_or_uuid) == 0)
            return o;
    }
    g_set_error(error, PD_ERROR, PD_ERROR_NO_SUCH_POOL,
                "Storage pool not found: no storage pool with matching name '%s'", name_or_uuid);
    return NULL;
}

bool pd_model_check_idle(PdPoolObj *obj, GError **error)
{
    if (!obj->operation)
        return true;
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_STATE,
                "storage pool '%s' is busy: %s is running on it; try again when it ends",
                pd_pool_obj_name(obj), obj->operation);
    return false;
}

PdPoolObj *pd_model_active_pool(PdDaemon *daemon, const char *name_or_uuid, GError **error)
{
    PdPoolObj *obj = pd_model_pool(daemon, name_or_uuid, error);
    if (!obj)
        return NULL;
    if (!obj->active) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_STATE,
                    "Requested operation is not valid: storage pool '%s' is not active "
                    "(start it with pool-start %s)",
                    pd_pool_obj_name(obj), pd_pool_obj_name(obj));
        return NULL;
    }
    if (obj->operation && !g_str_equal(obj->operation, "pool-refresh")) {
        pd_model_check_idle(obj, error);
        return NULL;
    }
    return obj;
}

/* The volume whose key or path is @text, over active pools. */
static PdVol *volume_by_key_or_path(PdDaemon *daemon, const char *text, PdPoolObj **ret_obj)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, daemon->pools);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        PdPoolObj *o = value;
        if (!o->active)
            continue;
        for (guint i = 0; i < o->pool->volumes->len; i++) {
            PdVol *v = o->pool->volumes->pdata[i];
            if (g_strcmp0(v->key, text) == 0 || g_strcmp0(v->path, text) == 0) {
                *ret_obj = o;
                return v;
            }
        }
    }
    return NULL;
}

PdVol *pd_model_volume(PdDaemon *daemon, const char *pool_name, const char *volume,
                       PdPoolObj **ret_obj, GError **error)
{
    PdPoolObj *obj = NULL;
    PdVol *vol = NULL;
    if (pool_name) {
        obj = pd_model_active_pool(daemon, pool_name, error);
        if (!obj)
            return NULL;
        vol = pd_pool_find_vol(obj->pool, volume);
        if (!vol) /* virsh also takes a key or path with --pool */
            for (guint i = 0; i < obj->pool->volumes->len && !vol; i++) {
                PdVol *v = obj->pool->volumes->pdata[i];
                if (g_strcmp0(v->key, volume) == 0 || g_strcmp0(v->path, volume) == 0)
                    vol = v;
            }
    } else {
        vol = volume_by_key_or_path(daemon, volume, &obj);
    }
    if (!vol) {
        if (pool_name)
            g_set_error(error, PD_ERROR, PD_ERROR_NO_SUCH_VOLUME,
                        "Storage volume not found: no storage vol with matching name '%s' "
                        "in pool '%s'",
                        volume, pool_name);
        else
            g_set_error(error, PD_ERROR, PD_ERROR_NO_SUCH_VOLUME,
                        "Storage volume not found: no storage vol with matching path or key "
                        "'%s' (give the pool with --pool to look it up by name)",
                        volume);
        return NULL;
    }
    *ret_obj = obj;
    return vol;
}

PdVol *pd_model_idle_volume(PdDaemon *daemon, const char *pool_name, const char *volume,
                            PdPoolObj **ret_obj, GError **error)
{
    PdPoolObj *obj = NULL;
    PdVol *vol = pd_model_volume(daemon, pool_name, volume, &obj, error);
    if (!vol)
        return NULL;
    PdJob *job = pd_jobs_volume_busy(daemon->jobs, pd_pool_obj_name(obj), vol->name);
    if (job) {
        pd_job_set_busy_error(job, pd_pool_obj_name(obj), vol->name, error);
        return NULL;
    }
    *ret_obj = obj;
    return vol;
}

bool pd_model_check_new_volume(PdDaemon *daemon, PdPoolObj *obj, const char *name, GError **error)
{
    if (!pd_vol_name_check(name, error))
        return false;
    PdJob *job = pd_jobs_volume_busy(daemon->jobs, pd_pool_obj_name(obj), name);
    if (job) {
        pd_job_set_busy_error(job, pd_pool_obj_name(obj), name, error);
        return false;
    }
    if (pd_pool_find_vol(obj->pool, name)) {
        g_set_error(error, PD_ERROR, PD_ERROR_EXISTS,
                    "storage volume '%s' already exists in pool '%s'", name, pd_pool_obj_name(obj));
        return false;
    }
    return true;
}

/* Sorts @vols by name unless they are already (a backend's refresh lists them sorted). */
static void sort_by_name(GPtrArray *vols)
{
    for (guint i = 1; i < vols->len; i++) {
        if (pd_vol_compare_name(&vols->pdata[i - 1], &vols->pdata[i]) > 0) {
            g_ptr_array_sort(vols, pd_vol_compare_name);
            return;
        }
    }
}

/* Binary search of @name in @vols (sorted by name): true with *@at its index, or false with
 * *@at where it would be inserted. */
static bool vol_index(GPtrArray *vols, const char *name, guint *at)
{
    guint lo = 0, hi = vols->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        int c = strcmp(((PdVol *)vols->pdata[mid])->name, name);
        if (c == 0) {
            *at = mid;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return false;
}

/* ---- backing file index ---- */

/* The index key of what @v of @o names as its backing file (NULL: none). Caller frees. */
static char *backing_key_of_user(const PdPoolObj *o, const PdVol *v)
{
    if (!v->backing_path)
        return NULL;
    if (!v->path) /* a network volume names another volume of its pool */
        return g_strconcat(pd_pool_obj_name(o), "\x1f", v->backing_path, NULL);
    if (g_path_is_absolute(v->backing_path))
        return g_canonicalize_filename(v->backing_path, NULL);
    g_autofree char *dir = g_path_get_dirname(v->path);
    return g_canonicalize_filename(v->backing_path, dir);
}

/* The index key under which @v of @o is found when it is a backing file. Caller frees. */
static char *backing_key_of_file(const PdPoolObj *o, const PdVol *v)
{
    return v->path ? g_canonicalize_filename(v->path, NULL)
                   : g_strconcat(pd_pool_obj_name(o), "\x1f", v->name, NULL);
}

static void index_count(PdDaemon *daemon, const PdPoolObj *o, const PdVol *v, int delta)
{
    if (!daemon->backing_index)
        return; /* invalid: rebuilt on next use */
    g_autofree char *key = backing_key_of_user(o, v);
    if (!key)
        return;
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(daemon->backing_index, key));
    if (delta < 0 && n <= 1)
        g_hash_table_remove(daemon->backing_index, key);
    else
        g_hash_table_insert(daemon->backing_index, g_steal_pointer(&key),
                            GUINT_TO_POINTER(delta < 0 ? n - 1 : n + 1));
}

void pd_model_update_backing_roots(PdDaemon *daemon)
{
    g_clear_pointer(&daemon->backing_marks, g_hash_table_unref);
    if (!daemon->backing_policy || !daemon->pools)
        return;
    g_autoptr(GPtrArray) roots = g_ptr_array_new();
    g_autoptr(GPtrArray) devices = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, daemon->pools);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const PdPoolObj *o = value;
        const PdPoolDef *defs[] = {o->pool->def, o->next_def};
        for (size_t i = 0; i < G_N_ELEMENTS(defs); i++) {
            const PdPoolDef *d = defs[i];
            /* file pools: what lies beneath their directory is theirs; logical pools: the
             * links in /dev/VG; not iSCSI's /dev/disk/by-path and the like, which hold every
             * disk of the host */
            if (!d || !d->target_path || !*d->target_path)
                continue;
            if (d->type == PD_POOL_DIR || d->type == PD_POOL_FS || d->type == PD_POOL_NETFS)
                g_ptr_array_add(roots, d->target_path);
            else if (d->type == PD_POOL_LOGICAL)
                g_ptr_array_add(devices, d->target_path);
        }
    }
    g_ptr_array_add(roots, NULL);
    g_ptr_array_add(devices, NULL);
    pd_backing_policy_set_roots(daemon->backing_policy, (const char *const *)roots->pdata,
                                (const char *const *)devices->pdata);
}

void pd_model_backing_invalidate(PdDaemon *daemon)
{
    pd_model_update_backing_roots(daemon);
    g_clear_pointer(&daemon->backing_index, g_hash_table_unref);
}

static void backing_index_build(PdDaemon *daemon)
{
    daemon->backing_index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, daemon->pools);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        PdPoolObj *o = value;
        for (guint i = 0; i < o->pool->volumes->len; i++)
            index_count(daemon, o, o->pool->volumes->pdata[i], +1);
    }
}

PdVol *pd_model_backing_user(PdDaemon *daemon, const PdPoolObj *obj, const PdVol *vol,
                             PdPoolObj **ret_obj)
{
    if (!daemon->backing_index)
        backing_index_build(daemon);
    g_autofree char *key = backing_key_of_file(obj, vol);
    if (!g_hash_table_contains(daemon->backing_index, key))
        return NULL;
    /* in use: find by whom, for the message (rare) */
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, daemon->pools);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        PdPoolObj *o = value;
        for (guint i = 0; i < o->pool->volumes->len; i++) {
            PdVol *v = o->pool->volumes->pdata[i];
            g_autofree char *k = backing_key_of_user(o, v);
            if (k && g_str_equal(k, key)) {
                *ret_obj = o;
                return v;
            }
        }
    }
    return NULL;
}

/* ---- catalog ---- */

bool pd_model_volume_put(PdDaemon *daemon, PdPoolObj *obj, PdVol *vol, GError **error)
{
    g_autoptr(PdVol) owned = vol;
    if (!pd_store_volume_put(daemon->store, pd_pool_obj_name(obj), vol, error))
        return false;
    if (obj->touched)
        g_hash_table_add(obj->touched, g_strdup(vol->name));
    GPtrArray *vols = obj->pool->volumes;
    guint at;
    g_clear_pointer(&daemon->backing_marks, g_hash_table_unref);
    index_count(daemon, obj, vol, +1);
    if (vol_index(vols, vol->name, &at)) {
        index_count(daemon, obj, vols->pdata[at], -1);
        pd_vol_free(vols->pdata[at]);
        vols->pdata[at] = g_steal_pointer(&owned);
    } else {
        g_ptr_array_insert(vols, (gint)at, g_steal_pointer(&owned));
    }
    return true;
}

bool pd_model_volume_remove(PdDaemon *daemon, PdPoolObj *obj, const char *name, GError **error)
{
    if (!pd_store_volume_delete(daemon->store, pd_pool_obj_name(obj), name, error))
        return false;
    if (obj->touched)
        g_hash_table_add(obj->touched, g_strdup(name));
    guint at;
    g_clear_pointer(&daemon->backing_marks, g_hash_table_unref);
    if (vol_index(obj->pool->volumes, name, &at)) {
        index_count(daemon, obj, obj->pool->volumes->pdata[at], -1);
        g_ptr_array_remove_index(obj->pool->volumes, at);
    }
    return true;
}

/* Replaces, in @refresh, the volumes named in obj->touched by the daemon's own state. */
static void keep_touched(PdPoolObj *obj, PdPoolRefresh *refresh)
{
    if (!obj->touched || g_hash_table_size(obj->touched) == 0)
        return;
    GPtrArray *vols = refresh->volumes;
    for (guint i = vols->len; i > 0; i--)
        if (g_hash_table_contains(obj->touched, ((PdVol *)vols->pdata[i - 1])->name))
            g_ptr_array_remove_index(vols, i - 1);
    GHashTableIter it;
    gpointer name;
    g_hash_table_iter_init(&it, obj->touched);
    while (g_hash_table_iter_next(&it, &name, NULL)) {
        PdVol *mine = pd_pool_find_vol(obj->pool, name);
        if (mine)
            g_ptr_array_add(vols, pd_vol_copy(mine));
    }
    sort_by_name(vols);
    g_hash_table_remove_all(obj->touched);
}

bool pd_model_apply_refresh(PdDaemon *daemon, PdPoolObj *obj, PdPoolRefresh *refresh,
                            GError **error)
{
    keep_touched(obj, refresh);
    pd_model_backing_invalidate(daemon);
    if (!refresh->volumes) { /* nothing listed: the catalog stays (pd_pool_refresh_apply) */
        pd_pool_refresh_apply(obj->pool, refresh);
        return true;
    }
    sort_by_name(refresh->volumes);
    bool large = refresh->volumes->len >= TRIM_AFTER_REFRESH_VOLUMES;
    /* obj->pool->volumes is what the store holds for this pool (every change writes the store
     * first, then the model): write only the differences, not the whole catalog. */
    if (!pd_store_volume_sync(daemon->store, pd_pool_obj_name(obj), obj->pool->volumes,
                              refresh->volumes, error))
        return false;
    pd_pool_refresh_apply(obj->pool, refresh);
    /* the old catalog goes now, the worker's lists and the job's data when its job ends:
     * trimming before those went left ~3 MB resident in the workers' arena (10,000 volumes) */
    if (large)
        pd_heap_trim_later();
    return true;
}

bool pd_model_save_pool(PdDaemon *daemon, PdPoolObj *obj, GError **error)
{
    const PdPoolDef *def = obj->next_def ? obj->next_def : obj->pool->def;
    g_autofree char *xml = pd_pool_def_format(def);
    PdStorePool row = {
        .name = def->name,
        .uuid = def->uuid,
        .type = (char *)pd_pool_type_info(def->type)->name,
        .xml = xml,
        .autostart = obj->autostart,
        .active = obj->active,
        .persistent = obj->persistent,
    };
    return pd_store_pool_put(daemon->store, &row, error);
}

void pd_model_set_def(PdPoolObj *obj, PdPoolDef *def)
{
    const PdPoolBackend *backend = pd_pool_backend_for_def(def, NULL);
    pd_pool_def_free(obj->pool->def);
    obj->pool->def = def;
    if (backend)
        obj->backend = backend;
}

void pd_model_take_next_def(PdPoolObj *obj)
{
    if (obj->next_def)
        pd_model_set_def(obj, g_steal_pointer(&obj->next_def));
}

PdPoolObj *pd_model_add_pool(PdDaemon *daemon, PdPoolDef *def, bool persistent, GError **error)
{
    g_autoptr(PdPoolDef) owned = def;
    const PdPoolBackend *backend = pd_pool_backend_for_def(def, error);
    if (!backend)
        return NULL;
    PdPoolObj *obj = g_new0(PdPoolObj, 1);
    obj->pool = pd_pool_new(g_steal_pointer(&owned));
    obj->backend = backend;
    obj->persistent = persistent;
    g_hash_table_insert(daemon->pools, g_strdup(obj->pool->def->name), obj);
    pd_model_update_backing_roots(daemon);
    return obj;
}

static gint pool_cmp_name(gconstpointer a, gconstpointer b)
{
    return strcmp(pd_pool_obj_name(*(PdPoolObj *const *)a),
                  pd_pool_obj_name(*(PdPoolObj *const *)b));
}

GPtrArray *pd_model_pools_sorted(PdDaemon *daemon)
{
    GPtrArray *list = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, daemon->pools);
    while (g_hash_table_iter_next(&it, NULL, &value))
        g_ptr_array_add(list, value);
    g_ptr_array_sort(list, pool_cmp_name);
    return list;
}

JsonObject *pd_model_pool_json(PdDaemon *daemon, PdPoolObj *obj)
{
    const PdPoolDef *def = obj->pool->def;
    JsonObject *o = json_object_new();
    json_object_set_string_member(o, "name", def->name);
    json_object_set_string_member(o, "uuid", def->uuid);
    json_object_set_string_member(o, "type", pd_pool_type_info(def->type)->name);
    const char *state = "inactive";
    if (obj->operation && g_str_equal(obj->operation, "pool-build"))
        state = "building";
    else if (obj->active)
        state = "running";
    json_object_set_string_member(o, "state", state);
    json_object_set_boolean_member(o, "active", obj->active);
    json_object_set_boolean_member(o, "persistent", obj->persistent);
    json_object_set_boolean_member(o, "autostart", obj->autostart);
    json_object_set_int_member(o, "capacity", obj->active ? (int64_t)obj->pool->capacity : 0);
    json_object_set_int_member(o, "allocation", obj->active ? (int64_t)obj->pool->allocation : 0);
    json_object_set_int_member(o, "available", obj->active ? (int64_t)obj->pool->available : 0);
    if (def->target_path)
        json_object_set_string_member(o, "target", def->target_path);
    json_object_set_int_member(o, "volumes", obj->active ? obj->pool->volumes->len : 0);
    return o;
}

void pd_model_volume_json_text(GString *out, PdDaemon *daemon, PdPoolObj *obj, const PdVol *vol)
{
    const char *type = pd_vol_type_name(vol->type);
    g_string_append_c(out, '{');
    pd_json_text_member_string(out, "name", vol->name);
    g_string_append_c(out, ',');
    pd_json_text_member_string(out, "pool", pd_pool_obj_name(obj));
    g_string_append_c(out, ',');
    pd_json_text_member_string(out, "key", vol->key ? vol->key : vol->name);
    g_string_append_c(out, ',');
    pd_json_text_member_string(out, "path", vol->path ? vol->path : "");
    g_string_append_c(out, ',');
    pd_json_text_member_string(out, "type", type ? type : "file");
    if (vol->format) {
        g_string_append_c(out, ',');
        pd_json_text_member_string(out, "format", vol->format);
    }
    g_string_append_c(out, ',');
    pd_json_text_member_int(out, "capacity", (int64_t)vol->capacity);
    g_string_append_c(out, ',');
    pd_json_text_member_int(out, "allocation", (int64_t)vol->allocation);
    g_string_append_c(out, ',');
    pd_json_text_member_int(out, "physical", (int64_t)vol->physical);
    if (vol->backing_path) {
        g_string_append_c(out, ',');
        pd_json_text_member_string(out, "backing_path", vol->backing_path);
        const char *untrusted = pd_model_backing_mark(daemon, obj, vol);
        if (untrusted) {
            g_string_append_c(out, ',');
            pd_json_text_member_string(out, "untrusted_backing", untrusted);
        }
    }
    PdJob *job = pd_jobs_volume_busy(daemon->jobs, pd_pool_obj_name(obj), vol->name);
    if (job) {
        g_string_append_c(out, ',');
        pd_json_text_member_int(out, "busy_job", pd_job_id(job));
    }
    g_string_append_c(out, '}');
}

JsonObject *pd_model_volume_json(PdDaemon *daemon, PdPoolObj *obj, const PdVol *vol)
{
    /* one writer of the members (the text one, which vol-list uses), read back */
    g_autoptr(GString) text = g_string_new(NULL);
    pd_model_volume_json_text(text, daemon, obj, vol);
    g_autoptr(JsonNode) node = json_from_string(text->str, NULL);
    if (!node) { /* not UTF-8: refresh leaves such names out, a store of old may hold one */
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "name", vol->name);
        return o;
    }
    return json_object_ref(json_node_get_object(node));
}

bool pd_model_load(PdDaemon *daemon, GError **error)
{
    g_autoptr(GPtrArray) rows = pd_store_pool_list(daemon->store, error);
    if (!rows)
        return false;
    for (guint i = 0; i < rows->len; i++) {
        PdStorePool *row = rows->pdata[i];
        g_autoptr(GError) local = NULL;
        PdPoolDef *def = pd_pool_def_parse(row->xml, &local);
        PdPoolObj *obj = def ? pd_model_add_pool(daemon, def, row->persistent, &local) : NULL;
        if (!obj) {
            g_warning("pool '%s' in the state database cannot be loaded: %s", row->name,
                      local->message);
            continue;
        }
        obj->autostart = row->autostart;
        obj->active = row->active; /* the last state; reconciliation restarts it */
        g_autoptr(GPtrArray) vols = pd_store_volume_list(daemon->store, row->name, error);
        if (!vols)
            return false;
        for (guint j = 0; j < vols->len; j++)
            g_ptr_array_add(obj->pool->volumes, g_steal_pointer(&vols->pdata[j]));
    }
    pd_model_backing_invalidate(daemon);
    return true;
}

/* Removes hidden partial files a crash left in the directory of a pool that stays inactive
 * (volumes are built under those names; nothing builds one before the daemon serves calls).
 * Started pools have their backend's cleanup_partial run instead (start_up_storage). */
static void remove_partials(PdPoolObj *obj)
{
    const char *dir_path = obj->pool->def->target_path;
    if (!dir_path || obj->pool->def->type == PD_POOL_LOGICAL)
        return;
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name(dir))) {
        if (!pd_pool_util_is_partial_name(name))
            continue;
        g_autofree char *path = g_build_filename(dir_path, name, NULL);
        if (g_unlink(path) == 0)
            g_message("pool '%s': removed %s, left by an interrupted job", pd_pool_obj_name(obj),
                      path);
        else
            g_warning("pool '%s': cannot remove %s: %s", pd_pool_obj_name(obj), path,
                      g_strerror(errno));
    }
}

/* One pool being started at start-up: the storage part runs on a thread (a pool on a dead
 * network server takes its whole timeout), the store part on the main thread. */
typedef struct {
    PdPoolObj *obj;
    PdPoolRefresh refresh;
    unsigned removed; /* leftover partial files removed */
    GError *error;
} StartUp;

/* Thread: backend start, leftover partial files (the backend's cleanup_partial: nothing of
 * this process is in flight yet), refresh. On failure the pool is stopped again. */
static void start_up_storage(StartUp *s)
{
    PdPoolObj *obj = s->obj;
    if (s->error || !pd_pool_backend_start(obj->backend, obj->pool, &s->error))
        return;
    g_autoptr(GError) cleanup_error = NULL;
    if (!pd_pool_backend_cleanup_partial(obj->backend, obj->pool, &s->removed, &cleanup_error))
        g_warning("%s", cleanup_error->message);
    if (!pd_pool_backend_refresh(obj->backend, obj->pool, obj->pool->volumes, &s->refresh,
                                 &s->error))
        (void)pd_pool_backend_stop(obj->backend, obj->pool, NULL);
}

/* Worker: the storage part of one pool's start, as a job (pool-start-up). Its error is kept
 * for start_pools, which applies every start in order, and reported as the job's. */
static bool start_up_run(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    StartUp *s = data;
    start_up_storage(s);
    if (s->error) {
        g_propagate_error(error, g_error_copy(s->error));
        return false;
    }
    return true;
}

/* Main thread: the started pool's catalog, state and event, in one transaction. */
static bool start_up_apply(PdDaemon *daemon, StartUp *s, GError **error)
{
    PdPoolObj *obj = s->obj;
    if (s->error) {
        g_propagate_error(error, g_steal_pointer(&s->error));
        return false;
    }
    if (s->removed)
        g_message("pool '%s': removed %u partial file(s) left by interrupted jobs",
                  pd_pool_obj_name(obj), s->removed);
    obj->active = true;
    bool ok = pd_store_begin(daemon->store, error) &&
              pd_model_apply_refresh(daemon, obj, &s->refresh, error) &&
              pd_model_save_pool(daemon, obj, error) &&
              pd_events_emit(daemon->events, "pool-started", pd_pool_obj_name(obj), NULL,
                             "start-up", error) &&
              pd_store_commit(daemon->store, error);
    if (!ok) {
        pd_store_rollback(daemon->store);
        pd_events_discard(daemon->events);
        obj->active = false;
        (void)pd_pool_backend_stop(obj->backend, obj->pool, NULL);
        return false;
    }
    pd_events_flush(daemon->events);
    return true;
}

static void start_up_clear(StartUp *s)
{
    pd_pool_refresh_clear(&s->refresh);
    g_clear_error(&s->error);
}

/* Main thread, before the storage part: the definition in effect and the secret of its
 * <auth> (the store is the main thread's). A failure is kept in s->error. */
static void start_up_prepare(PdDaemon *daemon, StartUp *s)
{
    pd_model_take_next_def(s->obj);
    (void)pd_secret_resolve_pool(daemon, s->obj->pool, &s->error);
}

bool pd_model_start_pool_now(PdDaemon *daemon, PdPoolObj *obj, GError **error)
{
    StartUp s = {.obj = obj};
    start_up_prepare(daemon, &s);
    start_up_storage(&s);
    bool ok = start_up_apply(daemon, &s, error);
    start_up_clear(&s);
    return ok;
}

/* Starts @pools (PdPoolObj *) at once as jobs (bounded by the workers), so that start-up
 * waits for the slowest pool (a dead NFS server: one timeout), not for the sum; then applies
 * each in order. The jobs complete on a context of their own: no call is served meanwhile. */
static void start_pools(PdDaemon *daemon, GPtrArray *pools)
{
    g_autofree StartUp *starts = g_new0(StartUp, MAX(pools->len, 1));
    g_autofree int64_t *ids = g_new0(int64_t, MAX(pools->len, 1));
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    for (guint i = 0; i < pools->len; i++) {
        starts[i].obj = pools->pdata[i];
        start_up_prepare(daemon, &starts[i]);
        PdJobSpec spec = {.kind = "pool-start-up",
                          .pool = pd_pool_obj_name(starts[i].obj),
                          .run = start_up_run,
                          .data = &starts[i]};
        g_autoptr(GError) error = NULL;
        PdJob *job = daemon->jobs ? pd_jobs_start(daemon->jobs, &spec, NULL, false, &error) : NULL;
        if (job)
            ids[i] = pd_job_id(job);
        else
            start_up_storage(&starts[i]);
    }
    for (guint i = 0; i < pools->len; i++) {
        PdJob *job;
        while (ids[i] && (job = pd_jobs_lookup(daemon->jobs, ids[i])) && pd_job_running(job))
            g_main_context_iteration(ctx, true);
    }
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
    for (guint i = 0; i < pools->len; i++) {
        PdPoolObj *obj = starts[i].obj;
        g_autoptr(GError) error = NULL;
        if (start_up_apply(daemon, &starts[i], &error)) {
            g_message("pool '%s' started (%u volumes)", pd_pool_obj_name(obj),
                      obj->pool->volumes->len);
        } else {
            g_warning("pool '%s' could not be started: %s", pd_pool_obj_name(obj), error->message);
            g_clear_error(&error);
            if (!pd_model_save_pool(daemon, obj, &error))
                g_warning("%s", error->message);
        }
        start_up_clear(&starts[i]);
    }
}

void pd_model_reconcile(PdDaemon *daemon)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) interrupted = pd_store_job_fail_interrupted(daemon->store, &error);
    if (!interrupted)
        g_warning("%s", error->message);
    for (guint i = 0; interrupted && i < interrupted->len; i++) {
        PdStoreJob *j = interrupted->pdata[i];
        g_message("job %" G_GINT64_FORMAT " (%s of '%s' in pool '%s') was interrupted: "
                  "marked failed",
                  j->id, j->kind, j->volume ? j->volume : "-", j->pool ? j->pool : "-");
    }
    g_autoptr(GPtrArray) pools = pd_model_pools_sorted(daemon);
    g_autoptr(GPtrArray) to_start = g_ptr_array_new();
    for (guint i = 0; i < pools->len; i++) {
        PdPoolObj *obj = pools->pdata[i];
        bool want = obj->active || obj->autostart;
        obj->active = false;
        if (want)
            g_ptr_array_add(to_start, obj);
        else
            remove_partials(obj);
    }
    start_pools(daemon, to_start);
}
