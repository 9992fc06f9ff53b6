/* The backing chain of a catalog volume, checked without opening files (model.h,
 * pd_model_backing_chain_check). The rule itself is pd_backing_policy_resolve's. */
#include "daemon/model/backing-policy.h"
#include "daemon/model/model.h"
#include "common/pd-error.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The catalog volume stored at @file, in a pool whose directory holds it: by name when
 * @real is false (no system call), else comparing with each pool's resolved directory. */
static const PdVol *find_in_pools(PdDaemon *daemon, const char *file, bool real)
{
    g_autofree char *dir = g_path_get_dirname(file);
    g_autofree char *base = g_path_get_basename(file);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, daemon->pools);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const PdPoolObj *o = value;
        const char *target = o->pool->def->target_path;
        char target_real[PATH_MAX];
        if (!target || (real ? !realpath(target, target_real) || strcmp(target_real, dir) != 0
                             : strcmp(target, dir) != 0))
            continue;
        const PdVol *v = pd_pool_find_vol(o->pool, base);
        if (v)
            return v;
    }
    return NULL;
}

/* The catalog volume that backing file @path (resolved: @real) is: as named (an overlay of a
 * volume of the pools, the usual case), else by its real path (named through a link). */
static const PdVol *find_volume(PdDaemon *daemon, const char *path, const char *real)
{
    g_autofree char *canon = g_canonicalize_filename(path, "/");
    const PdVol *v = find_in_pools(daemon, canon, false);
    return v ? v : find_in_pools(daemon, real, true);
}

static bool seen_before(GArray *seen, const struct stat *st)
{
    for (guint i = 0; i < seen->len; i++) {
        const struct stat *s = &g_array_index(seen, struct stat, i);
        if (s->st_dev == st->st_dev && s->st_ino == st->st_ino)
            return true;
    }
    g_array_append_val(seen, *st);
    return false;
}

bool pd_model_backing_chain_check(PdDaemon *daemon, const PdPoolObj *obj, const PdVol *vol,
                                  GError **error)
{
    g_autoptr(GArray) seen = g_array_new(false, false, sizeof(struct stat));
    struct stat st;
    if (vol->path && stat(vol->path, &st) == 0)
        (void)seen_before(seen, &st);
    const PdVol *v = vol;
    (void)obj;
    for (int depth = 0; depth < PD_MAX_BACKING_DEPTH; depth++) {
        /* a network volume's backing file is opened on its own export, which is its pool */
        if (!v->backing_path || !v->path || v->type == PD_VOL_NETWORK)
            return true;
        g_autofree char *dir = g_path_get_dirname(v->path);
        g_autofree char *path = g_path_is_absolute(v->backing_path)
                                    ? g_strdup(v->backing_path)
                                    : g_build_filename(dir, v->backing_path, NULL);
        g_autofree char *real = NULL;
        int fd =
            pd_backing_policy_resolve(daemon->backing_policy, path, vol->name, &st, &real, error);
        if (fd < 0)
            return false;
        (void)close(fd);
        if (seen_before(seen, &st)) {
            g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                        "backing chain of volume '%s' loops: backing file '%s' is in it twice; "
                        "a backing chain must end",
                        vol->name, path);
            return false;
        }
        const PdVol *next = find_volume(daemon, path, real);
        if (!next)
            return true;
        v = next;
    }
    g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                "backing chain of volume '%s' is deeper than %d files", vol->name,
                PD_MAX_BACKING_DEPTH);
    return false;
}

const char *pd_model_backing_mark(PdDaemon *daemon, const PdPoolObj *obj, const PdVol *vol)
{
    if (!vol->backing_path)
        return NULL;
    if (!daemon->backing_marks)
        daemon->backing_marks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autofree char *key = g_strconcat(pd_pool_obj_name(obj), "\x1f", vol->name, NULL);
    gpointer value;
    if (g_hash_table_lookup_extended(daemon->backing_marks, key, NULL, &value))
        return value;
    g_autoptr(GError) error = NULL;
    char *mark =
        pd_model_backing_chain_check(daemon, obj, vol, &error) ? NULL : g_strdup(error->message);
    g_hash_table_insert(daemon->backing_marks, g_steal_pointer(&key), mark);
    return mark;
}
