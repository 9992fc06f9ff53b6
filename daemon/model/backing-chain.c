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

/* The catalog volume stored at @real (a resolved path), in a pool whose directory holds it. */
static const PdVol *find_by_real_path(PdDaemon *daemon, const char *real, const PdPoolObj **ret_obj)
{
    g_autofree char *dir = g_path_get_dirname(real);
    g_autofree char *base = g_path_get_basename(real);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, daemon->pools);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const PdPoolObj *o = value;
        const char *target = o->pool->def->target_path;
        char target_real[PATH_MAX];
        if (!target || !realpath(target, target_real) || strcmp(target_real, dir) != 0)
            continue;
        const PdVol *v = pd_pool_find_vol(o->pool, base);
        if (v) {
            *ret_obj = o;
            return v;
        }
    }
    return NULL;
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
        const PdPoolObj *next_obj = NULL;
        const PdVol *next = find_by_real_path(daemon, real, &next_obj);
        if (!next)
            return true;
        v = next;
    }
    g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                "backing chain of volume '%s' is deeper than %d files", vol->name,
                PD_MAX_BACKING_DEPTH);
    return false;
}
