/* The logical backend: a pool is an LVM volume group (<source><name>, on the PVs of
 * <source><device>), its volumes are the VG's logical volumes, block devices at /dev/VG/LV
 * with the LV's UUID as key (as libvirt). Everything goes through the lvm2 tools (lvm.h);
 * data goes through the image engine (raw on the block device).
 *
 * - Linear LVs by default. Thin LVs when the definition asks for less allocation than capacity
 *   (vol-create-as --allocation 0, vol-clone of a thin LV or a sparse file, vol-create-from
 *   with a smaller <allocation>) and the VG holds a thin pool
 *   (the first thin-pool LV by name; poold does not make one: `lvcreate -T -L SIZE VG/NAME`).
 *   Without a thin pool such volumes are linear (fully allocated), as sizes are what counts.
 * - Snapshots are LVs named "VOLUME.SNAPSHOT" tagged PD_LVM_SNAPSHOT_TAG, hidden from the
 *   volume list: thin snapshots of thin LVs, COW snapshots as large as the origin otherwise.
 *   Revert merges the snapshot into the volume and takes the snapshot again (it stays, as a
 *   qcow2 internal snapshot does).
 * - Clones are built under a hidden ".NAME.partial-PID-N" LV and renamed when complete.
 * - Shrinking is refused while data lies past the new end (rounded up to the VG's extent). */
#include "pools/backend.h"

#include "common/pd-error.h"
#include "formats/convert/convert.h"
#include "pools/lvm.h"
#include "pools/pool-image.h"
#include "pools/pool-util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *vg_of(const PdPool *pool)
{
    return pool->def->source.name;
}

/* Runs @argv (taken over) for @pool (volume @vol_name, may be NULL); stdout to *ret_stdout
 * when not NULL. Errors are prefixed "pool 'P': volume 'V': ". */
static bool run_for(const PdPool *pool, const char *vol_name, char **argv, unsigned timeout_ms,
                    char **ret_stdout, GError **error)
{
    g_auto(GStrv) owned = argv;
    if (pd_lvm_run((const char *const *)owned, timeout_ms, ret_stdout, NULL, error))
        return true;
    pd_pool_util_prefix_error(error, pool, vol_name);
    return false;
}

static bool run(const PdPool *pool, const char *vol_name, char **argv, char **ret_stdout,
                GError **error)
{
    return run_for(pool, vol_name, argv, PD_LVM_TIMEOUT_MS, ret_stdout, error);
}

/* The VG row of @pool's VG, or NULL with NOT_FOUND ("does not exist: build the pool"). */
static PdLvmVg *read_vg(const PdPool *pool, GError **error)
{
    g_autofree char *out = NULL;
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) argv = pd_lvm_argv_vgs(vg_of(pool));
    if (!pd_lvm_run((const char *const *)argv, PD_LVM_TIMEOUT_MS, &out, NULL, &local)) {
        if (g_error_matches(local, PD_ERROR, PD_ERROR_NOT_FOUND))
            pd_pool_util_error(error, pool, NULL, PD_ERROR_NOT_FOUND,
                               "volume group '%s' does not exist (pool-build creates it)",
                               vg_of(pool));
        else
            pd_pool_util_error(error, pool, NULL, local->code, "%s", local->message);
        return NULL;
    }
    g_autoptr(GPtrArray) vgs = pd_lvm_parse_vgs(out, error);
    if (!vgs || vgs->len != 1) {
        if (vgs)
            pd_pool_util_error(error, pool, NULL, PD_ERROR_CORRUPT,
                               "vgs reported %u volume groups for '%s'", vgs->len, vg_of(pool));
        pd_pool_util_prefix_error(error, pool, NULL);
        return NULL;
    }
    return g_ptr_array_steal_index(vgs, 0);
}

/* The LVs of @pool's VG (@lv NULL) or that one LV, as PdLvmLv. */
static GPtrArray *read_lvs(const PdPool *pool, const char *lv, GError **error)
{
    g_autofree char *out = NULL;
    if (!run(pool, lv, pd_lvm_argv_lvs(vg_of(pool), lv), &out, error))
        return NULL;
    GPtrArray *lvs = pd_lvm_parse_lvs(out, error);
    if (!lvs)
        pd_pool_util_prefix_error(error, pool, lv);
    return lvs;
}

/* One LV, or NULL with NO_SUCH_VOLUME. */
static PdLvmLv *read_lv(const PdPool *pool, const char *lv, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(GPtrArray) lvs = read_lvs(pool, lv, &local);
    if (lvs && lvs->len == 1)
        return g_ptr_array_steal_index(lvs, 0);
    if (!lvs && !g_error_matches(local, PD_ERROR, PD_ERROR_NOT_FOUND)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    pd_pool_util_error(error, pool, lv, PD_ERROR_NO_SUCH_VOLUME,
                       "no logical volume '%s' in volume group '%s' (refresh the pool)", lv,
                       vg_of(pool));
    return NULL;
}

static bool lv_is_thin(const PdLvmLv *lv)
{
    return strcmp(lv->segtype, "thin") == 0;
}

static bool lv_is_snapshot_of(const PdLvmLv *lv, const char *origin)
{
    return pd_lvm_lv_has_tag(lv, PD_LVM_SNAPSHOT_TAG) && strcmp(lv->origin, origin) == 0 &&
           g_str_has_prefix(lv->name, origin) && lv->name[strlen(origin)] == '.';
}

/* Whether @lv is a volume of the pool: not a thin pool or hidden LV, not a partial one being
 * built, not one of poold's snapshots. */
static bool lv_is_volume(const PdLvmLv *lv)
{
    return lv->attr[0] != 't' && lv->name[0] != '[' && !pd_pool_util_is_partial_name(lv->name) &&
           !pd_lvm_lv_has_tag(lv, PD_LVM_SNAPSHOT_TAG);
}

/* lvm2's rule for VG and LV names (and what keeps a name from being read as an option):
 * a-z A-Z 0-9 + _ . -, not starting with '-'. Length and reserved words are lvm2's to refuse. */
static bool lvm_name_valid(const char *name)
{
    if (!name || !*name || name[0] == '-')
        return false;
    for (const char *c = name; *c; c++) {
        if (!g_ascii_isalnum(*c) && !strchr("+_.-", *c))
            return false;
    }
    return true;
}

/* Refuses @name (of kind @what: "volume group", "logical volume", "snapshot") that lvm2 would. */
static bool check_lvm_name(const PdPool *pool, const char *vol_name, const char *what,
                           const char *name, GError **error)
{
    if (lvm_name_valid(name))
        return true;
    pd_pool_util_error(error, pool, vol_name, PD_ERROR_INVALID_ARGUMENT,
                       "'%s' cannot be a %s name: LVM allows only letters, digits and + _ . - "
                       "(not first)",
                       name ? name : "", what);
    return false;
}

/* ---- the pool ------------------------------------------------------------------------------ */

/* Fails unless every source device exists and is a block device. */
static bool check_devices_exist(const PdPool *pool, GError **error)
{
    GPtrArray *devices = pool->def->source.devices;
    if (devices->len == 0) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_INVALID_ARGUMENT,
                           "no source device to build volume group '%s' on (give --source-dev)",
                           vg_of(pool));
        return false;
    }
    for (guint i = 0; i < devices->len; i++) {
        const char *dev = devices->pdata[i];
        struct stat st;
        if (stat(dev, &st) < 0) {
            pd_pool_util_error_errno(error, pool, NULL, errno, "source device '%s'", dev);
            return false;
        }
        if (!S_ISBLK(st.st_mode)) {
            pd_pool_util_error(error, pool, NULL, PD_ERROR_INVALID_ARGUMENT,
                               "source device '%s' is not a block device", dev);
            return false;
        }
    }
    return true;
}

/* Every PV lvm2 knows (PdLvmPv *), or NULL with @error naming the pool. */
static GPtrArray *read_pvs(const PdPool *pool, GError **error)
{
    g_autofree char *out = NULL;
    if (!run(pool, NULL, pd_lvm_argv_pvs(NULL), &out, error))
        return NULL;
    GPtrArray *pvs = pd_lvm_parse_pvs(out, error);
    if (!pvs)
        pd_pool_util_prefix_error(error, pool, NULL);
    return pvs;
}

/* Fails (EXISTS) when a VG named like the pool's exists, or (BUSY) when a source device is a
 * PV of some VG: never taken over, not even with --overwrite. */
static bool check_vg_and_pvs_free(const PdPool *pool, GError **error)
{
    g_autoptr(GPtrArray) pvs = read_pvs(pool, error);
    if (!pvs)
        return false;
    GPtrArray *devices = pool->def->source.devices;
    for (guint i = 0; i < pvs->len; i++) {
        PdLvmPv *pv = pvs->pdata[i];
        if (strcmp(pv->vg_name, vg_of(pool)) == 0) {
            pd_pool_util_error(error, pool, NULL, PD_ERROR_EXISTS,
                               "volume group '%s' already exists (on %s)", vg_of(pool), pv->name);
            return false;
        }
        g_autofree char *pv_real = realpath(pv->name, NULL);
        for (guint j = 0; *pv->vg_name && j < devices->len; j++) {
            g_autofree char *dev_real = realpath(devices->pdata[j], NULL);
            if (pv_real && dev_real && strcmp(pv_real, dev_real) == 0) {
                pd_pool_util_error(error, pool, NULL, PD_ERROR_BUSY,
                                   "device '%s' is already in volume group '%s'",
                                   (char *)devices->pdata[j], pv->vg_name);
                return false;
            }
        }
    }
    return true;
}

/* Fails (EXISTS) when @dev holds a signature blkid knows (a filesystem, a partition table, a
 * PV label): building over it needs --overwrite, as in libvirt. */
static bool check_device_blank(const PdPool *pool, const char *dev, GError **error)
{
    g_auto(GStrv) argv = pd_lvm_argv_blkid_probe(dev);
    g_autofree char *out = NULL;
    g_autoptr(GError) local = NULL;
    int status;
    if (pd_lvm_run((const char *const *)argv, PD_LVM_TIMEOUT_MS, &out, &status, &local)) {
        g_autofree char *type = NULL;
        g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
        for (char **l = lines; *l; l++) {
            if (g_str_has_prefix(*l, "TYPE=") || (!type && g_str_has_prefix(*l, "PTTYPE="))) {
                g_free(type);
                type = g_strdup(strchr(*l, '=') + 1);
            }
        }
        pd_pool_util_error(error, pool, NULL, PD_ERROR_EXISTS,
                           "device '%s' holds a %s signature; build with --overwrite to "
                           "destroy it",
                           dev, type ? type : "data");
        return false;
    }
    if (status == 2) /* nothing found */
        return true;
    pd_pool_util_error(error, pool, NULL, local->code, "cannot probe device '%s': %s", dev,
                       local->message);
    return false;
}

static void remove_pvs(const PdPool *pool, GPtrArray *devices)
{
    if (devices->len == 0)
        return;
    g_ptr_array_add(devices, NULL);
    (void)run(pool, NULL, pd_lvm_argv_pvremove((const char *const *)devices->pdata), NULL, NULL);
    g_ptr_array_remove_index(devices, devices->len - 1);
}

/* pvcreate on every source device, then vgcreate. Undo: the PVs made here are removed
 * again when a later step fails. */
static bool logical_build(PdPool *pool, unsigned flags, GError **error)
{
    bool overwrite = flags & PD_POOL_BUILD_OVERWRITE;
    GPtrArray *devices = pool->def->source.devices;
    if (!check_lvm_name(pool, NULL, "volume group", vg_of(pool), error) ||
        !check_devices_exist(pool, error) || !check_vg_and_pvs_free(pool, error))
        return false;
    for (guint i = 0; !overwrite && i < devices->len; i++) {
        if (!check_device_blank(pool, devices->pdata[i], error))
            return false;
    }
    g_autoptr(GPtrArray) made = g_ptr_array_new();
    for (guint i = 0; i < devices->len; i++) {
        if (!run(pool, NULL, pd_lvm_argv_pvcreate(devices->pdata[i], overwrite), NULL, error)) {
            remove_pvs(pool, made);
            return false;
        }
        g_ptr_array_add(made, devices->pdata[i]);
    }
    g_ptr_array_add(made, NULL);
    bool ok = run(pool, NULL, pd_lvm_argv_vgcreate(vg_of(pool), (const char *const *)made->pdata),
                  NULL, error);
    g_ptr_array_remove_index(made, made->len - 1);
    if (!ok)
        remove_pvs(pool, made);
    return ok;
}

static bool logical_start(PdPool *pool, GError **error)
{
    g_autoptr(GError) local = NULL;
    if (run(pool, NULL, pd_lvm_argv_vgchange(vg_of(pool), true), NULL, &local))
        return true;
    if (local->code == PD_ERROR_NOT_FOUND)
        pd_pool_util_error(error, pool, NULL, PD_ERROR_NOT_FOUND,
                           "volume group '%s' does not exist (pool-build creates it)", vg_of(pool));
    else
        g_propagate_error(error, g_steal_pointer(&local));
    return false;
}

static bool logical_stop(PdPool *pool, GError **error)
{
    return run(pool, NULL, pd_lvm_argv_vgchange(vg_of(pool), false), NULL, error);
}

/* vgremove and pvremove of the VG's PVs; refused while the VG holds LVs. */
static bool logical_delete(PdPool *pool, unsigned flags, GError **error)
{
    if (flags & PD_POOL_DELETE_ZEROED) {
        pd_pool_backend_unsupported(error, pool, "zeroed pool deletion");
        return false;
    }
    g_autoptr(PdLvmVg) vg = read_vg(pool, error);
    if (!vg)
        return false;
    if (vg->lv_count > 0) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_BUSY,
                           "volume group '%s' still holds %u logical volumes; delete them first",
                           vg->name, vg->lv_count);
        return false;
    }
    g_autoptr(GPtrArray) pvs = read_pvs(pool, error);
    if (!pvs)
        return false;
    g_autoptr(GPtrArray) devices = g_ptr_array_new();
    for (guint i = 0; i < pvs->len; i++) {
        PdLvmPv *pv = pvs->pdata[i];
        if (strcmp(pv->vg_name, vg->name) == 0)
            g_ptr_array_add(devices, pv->name);
    }
    g_ptr_array_add(devices, NULL);
    return run(pool, NULL, pd_lvm_argv_vgremove(vg->name), NULL, error) &&
           run(pool, NULL, pd_lvm_argv_pvremove((const char *const *)devices->pdata), NULL, error);
}

/* A PdVol for LV @lv of @pool. */
static PdVol *vol_from_lv(const PdPool *pool, const PdLvmLv *lv)
{
    PdVol *vol = pd_vol_new();
    vol->name = g_strdup(lv->name);
    vol->key = g_strdup(lv->uuid);
    vol->path =
        *lv->path ? g_strdup(lv->path) : g_strdup_printf("/dev/%s/%s", vg_of(pool), lv->name);
    vol->type = PD_VOL_BLOCK;
    vol->format = g_strdup("raw");
    vol->capacity = lv->size;
    vol->physical = lv->size;
    vol->allocation = lv->size;
    if (lv_is_thin(lv) && lv->data_percent >= 0)
        vol->allocation = (uint64_t)((double)lv->size * lv->data_percent / 100.0);
    struct stat st;
    if (stat(vol->path, &st) == 0) { /* inactive LVs have no device node */
        vol->mode = st.st_mode & 07777;
        vol->uid = st.st_uid;
        vol->gid = st.st_gid;
    }
    return vol;
}

/* Sizes from vgs (capacity = VG size, available = free, as libvirt), volumes from lvs. */
static bool logical_refresh(const PdPool *pool, const GPtrArray *previous, PdPoolRefresh *ret,
                            GError **error)
{
    g_autoptr(PdLvmVg) vg = read_vg(pool, error);
    if (!vg)
        return false;
    g_autoptr(GPtrArray) lvs = read_lvs(pool, NULL, error);
    if (!lvs)
        return false;
    GPtrArray *vols = g_ptr_array_new_with_free_func((GDestroyNotify)pd_vol_free);
    for (guint i = 0; i < lvs->len; i++) {
        if (lv_is_volume(lvs->pdata[i]))
            g_ptr_array_add(vols, vol_from_lv(pool, lvs->pdata[i]));
    }
    g_ptr_array_sort(vols, pd_vol_compare_name);
    memset(ret, 0, sizeof(*ret));
    ret->capacity = vg->size;
    ret->available = vg->free;
    ret->allocation = vg->size - MIN(vg->free, vg->size);
    ret->volumes = vols;
    ret->n_volumes = vols->len;
    return true;
}

/* Removes partial LVs that another (crashed) poold left. */
static bool logical_cleanup_partial(const PdPool *pool, unsigned *ret_removed, GError **error)
{
    g_autoptr(GPtrArray) lvs = read_lvs(pool, NULL, error);
    if (!lvs)
        return false;
    unsigned removed = 0;
    for (guint i = 0; i < lvs->len; i++) {
        PdLvmLv *lv = lvs->pdata[i];
        if (!pd_pool_util_is_partial_name(lv->name) || pd_io_partial_is_ours(lv->name))
            continue;
        if (!run(pool, NULL, pd_lvm_argv_lvremove(vg_of(pool), lv->name), NULL, error))
            return false;
        removed++;
    }
    if (ret_removed)
        *ret_removed = removed;
    return true;
}

/* Every VG with its PVs, from pvs. */
static bool logical_find_sources(const PdPoolDef *spec, unsigned flags, GPtrArray **ret_sources,
                                 GError **error)
{
    g_auto(GStrv) argv = pd_lvm_argv_pvs(NULL);
    g_autofree char *out = NULL;
    if (!pd_lvm_run((const char *const *)argv, PD_LVM_TIMEOUT_MS, &out, NULL, error))
        return false;
    g_autoptr(GPtrArray) pvs = pd_lvm_parse_pvs(out, error);
    if (!pvs)
        return false;
    GPtrArray *sources = g_ptr_array_new_with_free_func((GDestroyNotify)pd_pool_def_free);
    for (guint i = 0; i < pvs->len; i++) {
        PdLvmPv *pv = pvs->pdata[i];
        PdPoolDef *source = NULL;
        for (guint j = 0; j < sources->len && !source; j++) {
            PdPoolDef *s = sources->pdata[j];
            if (strcmp(s->source.name, pv->vg_name) == 0)
                source = s;
        }
        if (!*pv->vg_name)
            continue;
        if (!source) {
            source = pd_pool_def_new(PD_POOL_LOGICAL);
            source->source.name = g_strdup(pv->vg_name);
            source->source.format = g_strdup("lvm2");
            g_ptr_array_add(sources, source);
        }
        g_ptr_array_add(source->source.devices, g_strdup(pv->name));
    }
    *ret_sources = sources;
    return true;
}

static bool logical_vol_refresh(const PdPool *pool, const PdVol *vol, PdVol **ret_vol,
                                GError **error)
{
    g_autoptr(PdLvmLv) lv = read_lv(pool, vol->name, error);
    if (!lv)
        return false;
    *ret_vol = vol_from_lv(pool, lv);
    return true;
}

/* ---- creating -------------------------------------------------------------------------------- */

/* The thin pool new sparse volumes go to: the first thin-pool LV by name, or NULL (none). */
static char *find_thin_pool(const PdPool *pool, GError **error, bool *ret_ok)
{
    g_autoptr(GPtrArray) lvs = read_lvs(pool, NULL, error);
    *ret_ok = lvs != NULL;
    const char *best = NULL;
    for (guint i = 0; lvs && i < lvs->len; i++) {
        PdLvmLv *lv = lvs->pdata[i];
        if (strcmp(lv->segtype, "thin-pool") == 0 && (!best || strcmp(lv->name, best) < 0))
            best = lv->name;
    }
    return g_strdup(best);
}

/* Creates LV @lv_name of @capacity bytes: thin when @sparse and the VG has a thin pool, else
 * linear. *ret_thin says which. */
static bool create_lv(const PdPool *pool, const char *vol_name, const char *lv_name,
                      uint64_t capacity, bool sparse, bool *ret_thin, GError **error)
{
    g_autofree char *thin_pool = NULL;
    bool ok = true;
    if (sparse)
        thin_pool = find_thin_pool(pool, error, &ok);
    if (!ok)
        return false;
    *ret_thin = thin_pool != NULL;
    char **argv = thin_pool ? pd_lvm_argv_lvcreate_thin(vg_of(pool), thin_pool, lv_name, capacity)
                            : pd_lvm_argv_lvcreate_linear(vg_of(pool), lv_name, capacity);
    g_autoptr(GError) local = NULL;
    if (run(pool, vol_name, argv, NULL, &local))
        return true;
    if (local->code == PD_ERROR_NO_SPACE)
        pd_pool_util_error(error, pool, vol_name, PD_ERROR_NO_SPACE,
                           "%" G_GUINT64_FORMAT " bytes do not fit in volume group '%s' (%s)",
                           capacity, vg_of(pool), local->message);
    else
        g_propagate_error(error, g_steal_pointer(&local));
    return false;
}

/* Re-reads the new LV for *ret_vol; removes it again when that fails. */
static bool finish_create(const PdPool *pool, const char *name, PdVol **ret_vol, GError **error)
{
    g_autoptr(PdLvmLv) lv = read_lv(pool, name, error);
    if (!lv) {
        (void)run(pool, name, pd_lvm_argv_lvremove(vg_of(pool), name), NULL, NULL);
        return false;
    }
    *ret_vol = vol_from_lv(pool, lv);
    return true;
}

static bool refuse_backing(const PdPool *pool, const PdVolDef *def, GError **error)
{
    if (!def->backing)
        return true;
    pd_pool_util_error(error, pool, def->name, PD_ERROR_UNSUPPORTED,
                       "a logical volume cannot have a backing store (clone the volume instead)");
    return false;
}

static bool logical_vol_create(const PdPool *pool, const PdVolDef *def, unsigned flags,
                               const PdBackendJob *job, PdVol **ret_vol, GError **error)
{
    if (!refuse_backing(pool, def, error) ||
        !check_lvm_name(pool, def->name, "logical volume", def->name, error))
        return false;
    if (def->capacity == 0) {
        pd_pool_util_error(error, pool, def->name, PD_ERROR_INVALID_ARGUMENT,
                           "a logical volume needs a capacity above 0");
        return false;
    }
    bool thin;
    bool sparse = def->has_allocation && def->allocation < def->capacity;
    return create_lv(pool, def->name, def->name, def->capacity, sparse, &thin, error) &&
           finish_create(pool, def->name, ret_vol, error);
}

/* ".NAME.partial-PID-N", within lvm2's 127 bytes for an LV name. Caller frees. */
static char *partial_lv_name(const char *name)
{
    g_autofree char *base = pd_io_partial_name(name);
    const char *suffix = g_strrstr(base, ".partial-");
    size_t keep = MIN((size_t)(suffix - base), (size_t)127 - strlen(suffix));
    return g_strdup_printf("%.*s%s", (int)keep, base, suffix);
}

/* Copies @src into the raw block device @path of a new LV: zero ranges are skipped on a fresh
 * thin LV (which reads as zeroes) and written on a linear one (old data may lie there). */
static bool copy_into_lv(PdImage *src, const char *path, bool thin, const PdBackendJob *job,
                         GError **error)
{
    g_autoptr(PdImage) dst = pd_image_open(path, PD_FORMAT_RAW, PD_OPEN_RDWR, error);
    if (!dst)
        return false;
    PdCancelBridge bridge;
    pd_cancel_bridge_init(&bridge, job);
    PdConvertOptions opts = {
        .target_is_zero = thin,
        .sparse_size = PD_CONVERT_DEFAULT_SPARSE_SIZE,
        .progress = job ? job->progress : NULL,
        .progress_data = job ? job->progress_data : NULL,
        .cancel = &bridge.flag,
    };
    bool ok = pd_convert_copy(src, dst, &opts, error);
    pd_cancel_bridge_clear(&bridge);
    return ok && pd_image_flush(dst, error);
}

/* Opens @src_vol of @src_pool (any pool type) for reading, through its backend. */
static PdImage *open_source(const PdPool *src_pool, const PdVol *src_vol, GError **error)
{
    const PdPoolBackend *be = pd_pool_backend_for_def(src_pool->def, error);
    return be ? pd_pool_backend_vol_open(be, src_pool, src_vol, PD_OPEN_RDONLY, error) : NULL;
}

/* The size of a clone: @def's capacity, or the source's when 0; smaller is refused. */
static bool clone_capacity(const PdPool *pool, const PdVolDef *def, PdImage *src,
                           uint64_t *ret_capacity, GError **error)
{
    uint64_t src_size = pd_image_size(src);
    uint64_t capacity = def->has_capacity && def->capacity ? def->capacity : src_size;
    if (capacity < src_size) {
        pd_pool_util_error(error, pool, def->name, PD_ERROR_INVALID_ARGUMENT,
                           "capacity %" G_GUINT64_FORMAT
                           " is smaller than the source's (%" G_GUINT64_FORMAT " bytes)",
                           capacity, src_size);
        return false;
    }
    *ret_capacity = capacity;
    return true;
}

static bool logical_vol_create_from(const PdPool *pool, const PdVolDef *def, const PdPool *src_pool,
                                    const PdVol *src_vol, unsigned flags, const PdBackendJob *job,
                                    PdVol **ret_vol, GError **error)
{
    if (flags & (PD_VOL_CREATE_LINKED | PD_VOL_CREATE_REFLINK)) {
        pd_pool_util_error(error, pool, def->name, PD_ERROR_UNSUPPORTED,
                           "logical volumes are copied: no %s clones",
                           flags & PD_VOL_CREATE_LINKED ? "linked" : "reflink");
        return false;
    }
    if (!refuse_backing(pool, def, error) ||
        !check_lvm_name(pool, def->name, "logical volume", def->name, error))
        return false;
    g_autoptr(PdImage) src = open_source(src_pool, src_vol, error);
    uint64_t capacity;
    if (!src || !clone_capacity(pool, def, src, &capacity, error))
        return false;
    /* less allocation than capacity (vol-clone of a thin LV or a sparse file) asks for thin */
    bool sparse = def->has_allocation && def->allocation < capacity;
    g_autofree char *tmp = partial_lv_name(def->name);
    bool thin;
    if (!create_lv(pool, def->name, tmp, capacity, sparse, &thin, error))
        return false;
    g_autofree char *path = g_strdup_printf("/dev/%s/%s", vg_of(pool), tmp);
    bool ok = copy_into_lv(src, path, thin, job, error) &&
              pd_pool_util_check_cancel(job, pool, def->name, error);
    if (!ok)
        pd_pool_util_prefix_error(error, pool, def->name);
    if (!ok ||
        !run(pool, def->name, pd_lvm_argv_lvrename(vg_of(pool), tmp, def->name), NULL, error)) {
        (void)run(pool, def->name, pd_lvm_argv_lvremove(vg_of(pool), tmp), NULL, NULL);
        return false;
    }
    return finish_create(pool, def->name, ret_vol, error);
}

/* ---- delete, resize, wipe -------------------------------------------------------------------- */

/* Removes poold's snapshots of @vol first: a thin origin would leave them behind as hidden
 * orphans. */
static bool logical_vol_delete(const PdPool *pool, const PdVol *vol, unsigned flags, GError **error)
{
    g_autoptr(GPtrArray) lvs = read_lvs(pool, NULL, error);
    if (!lvs)
        return false;
    for (guint i = 0; i < lvs->len; i++) {
        PdLvmLv *lv = lvs->pdata[i];
        if (lv_is_snapshot_of(lv, vol->name) &&
            !run(pool, vol->name, pd_lvm_argv_lvremove(vg_of(pool), lv->name), NULL, error))
            return false;
    }
    g_autoptr(GError) local = NULL;
    if (run(pool, vol->name, pd_lvm_argv_lvremove(vg_of(pool), vol->name), NULL, &local))
        return true;
    if (local->code == PD_ERROR_NOT_FOUND)
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_NO_SUCH_VOLUME,
                           "logical volume '%s' does not exist anymore (refresh the pool)",
                           vol->name);
    else
        g_propagate_error(error, g_steal_pointer(&local));
    return false;
}

/* @capacity rounded up to the VG's extent size (what lvresize makes of it). */
static bool round_to_extent(const PdPool *pool, const PdVol *vol, uint64_t capacity,
                            uint64_t *ret_size, GError **error)
{
    g_autoptr(PdLvmVg) vg = read_vg(pool, error);
    if (!vg)
        return false;
    uint64_t extent = vg->extent_size ? vg->extent_size : 512;
    if (capacity > UINT64_MAX - extent) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_INVALID_ARGUMENT,
                           "capacity %" G_GUINT64_FORMAT " is too large", capacity);
        return false;
    }
    *ret_size = (capacity + extent - 1) / extent * extent;
    return true;
}

/* Grows, or shrinks when nothing but zeroes lies past the new end (rounded up to the extent
 * size first, as lvm2 does). The current size is the device's own. */
static bool logical_vol_resize(const PdPool *pool, const PdVol *vol, uint64_t capacity,
                               unsigned flags, const PdBackendJob *job, PdVol **ret_vol,
                               GError **error)
{
    uint64_t size;
    if (!round_to_extent(pool, vol, capacity, &size, error))
        return false;
    g_autoptr(PdImage) img = pd_image_open(vol->path, PD_FORMAT_RAW, PD_OPEN_RDONLY, error);
    if (!img) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    uint64_t cur = pd_image_size(img);
    if (size < cur && !pd_pool_image_check_shrink(pool, vol, img, size, flags, job, error))
        return false;
    g_clear_pointer(&img, pd_image_close);
    if (size != cur &&
        !run(pool, vol->name, pd_lvm_argv_lvresize(vg_of(pool), vol->name, size, size < cur), NULL,
             error))
        return false;
    return !ret_vol || logical_vol_refresh(pool, vol, ret_vol, error);
}

/* Zero wipes of thin LVs discard (the thin pool unmaps the blocks, which then read as
 * zeroes, and gets the space back); everything else as a raw volume of a dir pool. */
static bool logical_vol_wipe(const PdPool *pool, const PdVol *vol, PdWipeAlgorithm algorithm,
                             unsigned flags, const PdBackendJob *job, GError **error)
{
    if (algorithm == PD_WIPE_ZERO) {
        g_autoptr(PdLvmLv) lv = read_lv(pool, vol->name, error);
        if (!lv)
            return false;
        if (lv_is_thin(lv))
            algorithm = PD_WIPE_TRIM;
    }
    return pd_pool_image_wipe_at(pool, vol, vol->path, algorithm, job, error);
}

static bool logical_vol_upload(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                               uint64_t length, unsigned flags, const PdBackendJob *job,
                               GError **error)
{
    return pd_pool_util_upload_path(pool, vol, vol->path, fd, offset, length, flags, job, error);
}

static bool logical_vol_download(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                                 uint64_t length, unsigned flags, const PdBackendJob *job,
                                 GError **error)
{
    return pd_pool_util_download_path(pool, vol, vol->path, fd, offset, length, flags, job, error);
}

/* ---- snapshots ------------------------------------------------------------------------------- */

/* "VOLUME.SNAPSHOT". Caller frees. */
static char *snapshot_lv_name(const PdVol *vol, const char *name)
{
    return g_strdup_printf("%s.%s", vol->name, name);
}

/* "2026-11-30 01:41:08 +0000" (lv_time) as seconds since the epoch; 0 when unreadable. */
static uint32_t lv_time_seconds(const char *text)
{
    /* ISO 8601 wants "2026-11-30T01:41:08+0000" */
    GString *iso = g_string_new(NULL);
    for (const char *c = text; *c; c++) {
        if (*c != ' ')
            g_string_append_c(iso, *c);
        else if (!strchr(iso->str, 'T'))
            g_string_append_c(iso, 'T');
    }
    g_autofree char *compact = g_string_free(iso, false);
    g_autoptr(GDateTime) when = g_date_time_new_from_iso8601(compact, NULL);
    if (!when || g_date_time_to_unix(when) < 0)
        return 0;
    return (uint32_t)MIN(g_date_time_to_unix(when), (gint64)G_MAXUINT32);
}

static bool logical_vol_snapshot_list(const PdPool *pool, const PdVol *vol, GArray **ret_snapshots,
                                      GError **error)
{
    g_autoptr(GPtrArray) lvs = read_lvs(pool, NULL, error);
    if (!lvs)
        return false;
    GArray *snaps = g_array_new(false, true, sizeof(PdSnapshotInfo));
    g_array_set_clear_func(snaps, (GDestroyNotify)pd_snapshot_info_clear);
    for (guint i = 0; i < lvs->len; i++) {
        PdLvmLv *lv = lvs->pdata[i];
        if (!lv_is_snapshot_of(lv, vol->name))
            continue;
        PdSnapshotInfo info = {
            .id = g_strdup_printf("%u", snaps->len + 1),
            .name = g_strdup(lv->name + strlen(vol->name) + 1),
            .date_sec = lv_time_seconds(lv->time),
            .disk_size = lv->size,
            .icount = UINT64_MAX,
        };
        g_array_append_val(snaps, info);
    }
    *ret_snapshots = snaps;
    return true;
}

/* The snapshot LV @name of @vol, or NULL with NOT_FOUND. */
static PdLvmLv *read_snapshot(const PdPool *pool, const PdVol *vol, const char *name,
                              GError **error)
{
    g_autofree char *lv_name = snapshot_lv_name(vol, name);
    g_autoptr(GPtrArray) lvs = read_lvs(pool, NULL, error);
    for (guint i = 0; lvs && i < lvs->len; i++) {
        PdLvmLv *lv = lvs->pdata[i];
        if (strcmp(lv->name, lv_name) == 0 && lv_is_snapshot_of(lv, vol->name))
            return g_ptr_array_steal_index(lvs, i);
    }
    if (lvs)
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_NOT_FOUND, "no snapshot '%s'", name);
    return NULL;
}

static bool logical_vol_snapshot_create(const PdPool *pool, const PdVol *vol, const char *name,
                                        GError **error)
{
    if (!check_lvm_name(pool, vol->name, "snapshot", name, error))
        return false;
    g_autoptr(PdLvmLv) origin = read_lv(pool, vol->name, error);
    if (!origin)
        return false;
    g_autofree char *lv_name = snapshot_lv_name(vol, name);
    g_autoptr(GError) local = NULL;
    if (run(pool, vol->name,
            pd_lvm_argv_lvcreate_snapshot(vg_of(pool), vol->name, lv_name, lv_is_thin(origin)),
            NULL, &local))
        return true;
    if (local->code == PD_ERROR_EXISTS)
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_EXISTS,
                           "snapshot '%s' exists already (LV '%s')", name, lv_name);
    else if (local->code == PD_ERROR_NO_SPACE)
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_NO_SPACE,
                           "no room for snapshot '%s' (a snapshot of a linear volume takes as "
                           "much space as the volume): %s",
                           name, local->message);
    else
        g_propagate_error(error, g_steal_pointer(&local));
    return false;
}

/* Merges the snapshot into the volume, then takes it again. A thin origin is deactivated
 * for the merge (lvm2 merges thin snapshots on activation). */
static bool logical_vol_snapshot_revert(const PdPool *pool, const PdVol *vol, const char *name,
                                        GError **error)
{
    g_autoptr(PdLvmLv) snap = read_snapshot(pool, vol, name, error);
    if (!snap)
        return false;
    bool thin = lv_is_thin(snap);
    const char *vg = vg_of(pool);
    if (thin &&
        !run(pool, vol->name, pd_lvm_argv_lvchange_activate(vg, vol->name, false), NULL, error))
        return false;
    bool merged = run_for(pool, vol->name, pd_lvm_argv_lvconvert_merge(vg, snap->name),
                          PD_LVM_MERGE_TIMEOUT_MS, NULL, error);
    if (thin && !run(pool, vol->name, pd_lvm_argv_lvchange_activate(vg, vol->name, true), NULL,
                     merged ? error : NULL))
        return false;
    return merged && logical_vol_snapshot_create(pool, vol, name, error);
}

static bool logical_vol_snapshot_delete(const PdPool *pool, const PdVol *vol, const char *name,
                                        GError **error)
{
    g_autoptr(PdLvmLv) snap = read_snapshot(pool, vol, name, error);
    return snap && run(pool, vol->name, pd_lvm_argv_lvremove(vg_of(pool), snap->name), NULL, error);
}

const PdPoolBackend pd_pool_backend_logical = {
    .type = PD_POOL_LOGICAL,
    .find_sources = logical_find_sources,
    .build = logical_build,
    .start = logical_start,
    .stop = logical_stop,
    .delete = logical_delete,
    .refresh = logical_refresh,
    .cleanup_partial = logical_cleanup_partial,
    .vol_refresh = logical_vol_refresh,
    .vol_create = logical_vol_create,
    .vol_create_from = logical_vol_create_from,
    .vol_delete = logical_vol_delete,
    .vol_resize = logical_vol_resize,
    .vol_wipe = logical_vol_wipe,
    .vol_upload = logical_vol_upload,
    .vol_download = logical_vol_download,
    .vol_snapshot_list = logical_vol_snapshot_list,
    .vol_snapshot_create = logical_vol_snapshot_create,
    .vol_snapshot_revert = logical_vol_snapshot_revert,
    .vol_snapshot_delete = logical_vol_snapshot_delete,
};
