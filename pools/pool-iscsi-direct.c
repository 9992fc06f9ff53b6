/* The iscsi-direct pool (libvirt's iscsi-direct): one iSCSI target reached in userspace
 * through libiscsi (formats/iscsi.h), its disk LUNs as the volumes.
 *
 *   <pool type='iscsi-direct'>
 *     <source><host name='H' port='P'/><device path='TARGET-IQN'/>
 *       <initiator><iqn name='INITIATOR-IQN'/></initiator>
 *       <auth type='chap' username='U'><secret usage='X'/></auth></source></pool>
 *
 * Volumes are named as libvirt names them, "unit:0:0:LUN"; their key is the LUN's world-wide
 * name (VPD 0x83 NAA or EUI-64, as udev's scsi_id prints it), else its vendor, product and
 * serial (VPD 0x80), else libvirt's "ip-HOST:PORT-iscsi-IQN-lun-N", which is also the path.
 * Capacity from READ CAPACITY(16); allocation = capacity (a LUN is all there). A volume's
 * format is the one recorded, raw by default: LUN contents are never probed.
 *
 * No session lives between calls: start logs in once to check the target and the
 * credentials, and every later callback opens its own session (login on loopback takes about
 * a millisecond), so volume jobs on several threads never share a libiscsi context and a
 * target that went away and came back needs no reconnection logic. LUNs cannot be created
 * or deleted from here (that is the target's administration): vol_create and vol_delete
 * answer Unsupported, saying so. */
#include "common/pd-error.h"
#include "formats/io/iscsi/io-iscsi.h"
#include "pools/backend.h"
#include "pools/pool-image.h"
#include "pools/pool-util.h"

#include <string.h>

#define VOL_NAME_PREFIX "unit:0:0:"

/* pool->backend_data: how to reach the target. */
typedef struct {
    char *host;
    unsigned port; /* 0 = 3260 */
    char *target_iqn;
    char *initiator_iqn;
    char *username; /* CHAP, or NULL */
    char *password;
} IscsiDirect;

static void iscsi_direct_free(IscsiDirect *d)
{
    if (!d)
        return;
    if (d->password) {
        explicit_bzero(d->password, strlen(d->password));
        g_free(d->password);
    }
    g_free(d->host);
    g_free(d->target_iqn);
    g_free(d->initiator_iqn);
    g_free(d->username);
    g_free(d);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(IscsiDirect, iscsi_direct_free)

static PdIscsiTarget target_of(const IscsiDirect *d)
{
    return (PdIscsiTarget){
        .host = d->host,
        .port = d->port,
        .target_iqn = d->target_iqn,
        .initiator_iqn = d->initiator_iqn,
        .username = d->username,
        .password = d->password,
    };
}

/* What the definition and the resolved secret say; NULL with an error naming the pool when
 * they are incomplete. */
static IscsiDirect *iscsi_direct_from_pool(const PdPool *pool, GError **error)
{
    const PdPoolSource *src = &pool->def->source;
    if (!src->host_name || src->devices->len != 1 || !src->initiator_iqn) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_INVALID_ARGUMENT,
                           "an iscsi-direct pool needs <host name=>, one <device path=> (the "
                           "target IQN) and <initiator><iqn name=>");
        return NULL;
    }
    g_autoptr(IscsiDirect) d = g_new0(IscsiDirect, 1);
    d->host = g_strdup(src->host_name);
    d->port = src->host_port;
    d->target_iqn = g_strdup(g_ptr_array_index(src->devices, 0));
    d->initiator_iqn = g_strdup(src->initiator_iqn);
    if (src->auth) {
        if (g_strcmp0(src->auth->type, "chap") != 0) {
            pd_pool_util_error(error, pool, NULL, PD_ERROR_UNSUPPORTED,
                               "auth type '%s' is not supported (use chap)", src->auth->type);
            return NULL;
        }
        if (!pool->auth_secret) {
            pd_pool_util_error(error, pool, NULL, PD_ERROR_INVALID_ARGUMENT,
                               "the CHAP secret of user '%s' is not known: define the secret "
                               "and set its value (secret-define, secret-set-value)",
                               src->auth->username);
            return NULL;
        }
        d->username = g_strdup(src->auth->username);
        d->password = g_strdup(pool->auth_secret);
    }
    return g_steal_pointer(&d);
}

static const IscsiDirect *data_of(const PdPool *pool)
{
    return pool->backend_data;
}

/* A session on the pool's target; the error names the pool. */
static PdIscsi *pool_session(const PdPool *pool, GError **error)
{
    PdIscsiTarget t = target_of(data_of(pool));
    PdIscsi *s = pd_iscsi_connect(&t, error);
    if (!s)
        pd_pool_util_prefix_error(error, pool, NULL);
    return s;
}

/* The LUN number of a volume named "unit:0:0:N". */
static bool volume_lun(const PdPool *pool, const char *name, int *ret_lun, GError **error)
{
    guint64 lun;
    if (!g_str_has_prefix(name, VOL_NAME_PREFIX) ||
        !g_ascii_string_to_unsigned(name + strlen(VOL_NAME_PREFIX), 10, 0, 16383, &lun, NULL)) {
        pd_pool_util_error(error, pool, name, PD_ERROR_INVALID_ARGUMENT,
                           "not a LUN name (iscsi-direct volumes are named " VOL_NAME_PREFIX
                           "LUN)");
        return false;
    }
    *ret_lun = (int)lun;
    return true;
}

/* ---- volumes from LUNs -------------------------------------------------------------------- */

static char *lun_path(const IscsiDirect *d, int lun)
{
    return g_strdup_printf("ip-%s:%u-iscsi-%s-lun-%d", d->host,
                           d->port ? d->port : PD_ISCSI_DEFAULT_PORT, d->target_iqn, lun);
}

/* The unique key of a LUN: WWN, else vendor/product/serial as scsi_id's "S" form, else the
 * libvirt path. */
static char *lun_key(const IscsiDirect *d, const PdIscsiLun *info)
{
    if (info->wwn)
        return g_strdup(info->wwn);
    if (info->serial) {
        g_autofree char *raw = g_strdup_printf("S%s_%s_%s", info->vendor ? info->vendor : "",
                                               info->product ? info->product : "", info->serial);
        return g_strdelimit(g_steal_pointer(&raw), " ", '_');
    }
    return lun_path(d, info->lun);
}

/* A volume for a disk LUN; the format is @format (the recorded one) or raw. */
static PdVol *vol_from_lun(const IscsiDirect *d, const PdIscsiLun *info, const char *format)
{
    PdVol *vol = pd_vol_new();
    vol->name = g_strdup_printf(VOL_NAME_PREFIX "%d", info->lun);
    vol->key = lun_key(d, info);
    vol->path = lun_path(d, info->lun);
    vol->type = PD_VOL_NETWORK;
    vol->format = g_strdup(format ? format : "raw");
    vol->capacity = info->blocks * info->block_size;
    vol->allocation = vol->capacity;
    vol->physical = vol->capacity;
    vol->stat_size = vol->capacity;
    return vol;
}

/* The recorded format of the volume named @name with key @key in @previous, or NULL. */
static const char *previous_format(const GPtrArray *previous, const char *name, const char *key)
{
    for (guint i = 0; previous && i < previous->len; i++) {
        const PdVol *v = g_ptr_array_index(previous, i);
        if (g_str_equal(v->name, name) && g_strcmp0(v->key, key) == 0)
            return v->format;
    }
    return NULL;
}

/* ---- pool callbacks ----------------------------------------------------------------------- */

/* Logs in once (target, initiator, CHAP checked) and keeps what later calls need. */
static bool iscsi_direct_start(PdPool *pool, GError **error)
{
    g_autoptr(IscsiDirect) d = iscsi_direct_from_pool(pool, error);
    if (!d)
        return false;
    PdIscsiTarget t = target_of(d);
    g_autoptr(PdIscsi) s = pd_iscsi_connect(&t, error);
    if (!s) {
        pd_pool_util_prefix_error(error, pool, NULL);
        return false;
    }
    pool->backend_data = g_steal_pointer(&d);
    return true;
}

static bool iscsi_direct_stop(PdPool *pool, GError **error)
{
    g_clear_pointer((IscsiDirect **)&pool->backend_data, iscsi_direct_free);
    return true;
}

/* The volume of LUN @lun in a fresh PdVol, or NULL: *ret_skip set for a LUN that is no disk. */
static PdVol *query_lun(const PdPool *pool, PdIscsi *s, int lun, const char *format,
                        const GPtrArray *previous, bool *ret_skip, GError **error)
{
    PdIscsiLun info = {0};
    *ret_skip = false;
    if (!pd_iscsi_lun_info(s, lun, &info, error)) {
        pd_pool_util_prefix_error(error, pool, NULL);
        return NULL;
    }
    PdVol *vol = NULL;
    if (info.device_type != 0) { /* a controller (tgt's LUN 0), a tape...: not a volume */
        *ret_skip = true;
    } else {
        g_autofree char *name = g_strdup_printf(VOL_NAME_PREFIX "%d", lun);
        g_autofree char *key = lun_key(data_of(pool), &info);
        const char *recorded = format ? format : previous_format(previous, name, key);
        vol = vol_from_lun(data_of(pool), &info, recorded);
    }
    pd_iscsi_lun_clear(&info);
    return vol;
}

static bool iscsi_direct_refresh(const PdPool *pool, const GPtrArray *previous, PdPoolRefresh *ret,
                                 GError **error)
{
    g_autoptr(PdIscsi) s = pool_session(pool, error);
    if (!s)
        return false;
    g_autoptr(GArray) luns = pd_iscsi_report_luns(s, error);
    if (!luns) {
        pd_pool_util_prefix_error(error, pool, NULL);
        return false;
    }
    PdPoolRefresh r = {.volumes = g_ptr_array_new_with_free_func((GDestroyNotify)pd_vol_free)};
    for (guint i = 0; i < luns->len; i++) {
        bool skip;
        PdVol *vol = query_lun(pool, s, g_array_index(luns, int, i), NULL, previous, &skip, error);
        if (!vol && !skip) {
            pd_pool_refresh_clear(&r);
            return false;
        }
        if (skip)
            continue;
        r.capacity += vol->capacity;
        r.allocation += vol->allocation;
        r.n_reopened++;
        g_ptr_array_add(r.volumes, vol);
    }
    g_ptr_array_sort(r.volumes, pd_vol_compare_name);
    r.n_volumes = r.volumes->len;
    *ret = r;
    return true;
}

static bool iscsi_direct_vol_refresh(const PdPool *pool, const PdVol *vol, PdVol **ret_vol,
                                     GError **error)
{
    int lun;
    if (!volume_lun(pool, vol->name, &lun, error))
        return false;
    g_autoptr(PdIscsi) s = pool_session(pool, error);
    if (!s)
        return false;
    bool skip;
    g_autoptr(GError) local = NULL;
    PdVol *fresh = query_lun(pool, s, lun, vol->format, NULL, &skip, &local);
    if (!fresh) {
        if (skip || g_error_matches(local, PD_ERROR, PD_ERROR_NOT_FOUND))
            pd_pool_util_error(error, pool, vol->name, PD_ERROR_NOT_FOUND,
                               "the target has no disk at LUN %d any more: run pool-refresh", lun);
        else
            g_propagate_error(error, g_steal_pointer(&local));
        return false;
    }
    *ret_vol = fresh;
    return true;
}

/* ---- volume callbacks --------------------------------------------------------------------- */

/* Opens the volume's LUN; errors name the pool and volume (read-only LUN, missing LUN,
 * target gone). */
static PdIO *open_lun(const PdPool *pool, const PdVol *vol, PdIOFlags flags, GError **error)
{
    int lun;
    if (!volume_lun(pool, vol->name, &lun, error))
        return NULL;
    PdIscsiTarget t = target_of(data_of(pool));
    PdIO *io = pd_io_iscsi_open(&t, lun, flags, error);
    if (!io)
        pd_pool_util_prefix_error(error, pool, vol->name);
    return io;
}

static PdImage *iscsi_direct_vol_open(const PdPool *pool, const PdVol *vol, unsigned flags,
                                      GError **error)
{
    PdFormat format = pd_format_from_name(vol->format ? vol->format : "raw");
    if (format == PD_FORMAT_UNKNOWN) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_UNSUPPORTED,
                           "format '%s' cannot be read (poold reads raw and qcow2)", vol->format);
        return NULL;
    }
    PdIO *io = open_lun(pool, vol, (flags & PD_OPEN_RDWR) ? PD_IO_RDWR : PD_IO_RDONLY, error);
    if (!io)
        return NULL;
    PdImage *img = pd_image_open_io(io, format, flags, error);
    if (!img)
        pd_pool_util_prefix_error(error, pool, vol->name);
    return img;
}

static bool iscsi_direct_vol_create(const PdPool *pool, const PdVolDef *def, unsigned flags,
                                    const PdBackendJob *job, PdVol **ret_vol, GError **error)
{
    pd_pool_util_error(error, pool, NULL, PD_ERROR_UNSUPPORTED,
                       "iSCSI LUNs cannot be created through the pool (volume '%s'): create the "
                       "LUN on the target, then run pool-refresh",
                       def->name);
    return false;
}

static bool iscsi_direct_vol_delete(const PdPool *pool, const PdVol *vol, unsigned flags,
                                    GError **error)
{
    pd_pool_util_error(error, pool, NULL, PD_ERROR_UNSUPPORTED,
                       "iSCSI LUNs cannot be deleted through the pool (volume '%s'): remove the "
                       "LUN on the target, then run pool-refresh",
                       vol->name);
    return false;
}

static bool iscsi_direct_vol_wipe(const PdPool *pool, const PdVol *vol, PdWipeAlgorithm algorithm,
                                  unsigned flags, const PdBackendJob *job, GError **error)
{
    g_autoptr(PdImage) img =
        iscsi_direct_vol_open(pool, vol, PD_OPEN_RDWR | PD_OPEN_NO_BACKING, error);
    if (!img || !pd_pool_image_wipe(pool, vol, img, algorithm, job, error))
        return false;
    if (!pd_image_flush(img, error)) {
        pd_pool_util_prefix_error(error, pool, vol->name);
        return false;
    }
    return true;
}

static bool iscsi_direct_vol_upload(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                                    uint64_t length, unsigned flags, const PdBackendJob *job,
                                    GError **error)
{
    g_autoptr(PdIO) io = open_lun(pool, vol, PD_IO_RDWR, error);
    return io && pd_pool_util_upload_io(pool, vol, io, true, fd, offset, length, flags, job, error);
}

static bool iscsi_direct_vol_download(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                                      uint64_t length, unsigned flags, const PdBackendJob *job,
                                      GError **error)
{
    g_autoptr(PdIO) io = open_lun(pool, vol, PD_IO_RDONLY, error);
    return io && pd_pool_util_download_io(pool, vol, io, fd, offset, length, flags, job, error);
}

/* <disk type='network'><source protocol='iscsi' name='IQN/LUN'><host name= port=/>
 * <auth username=><secret type='iscsi' usage=/></auth>: qemu logs in itself. */
static bool iscsi_direct_vol_disk_source(const PdPool *pool, const PdVol *vol,
                                         PdDiskSource **ret_source, GError **error)
{
    int lun;
    if (!volume_lun(pool, vol->name, &lun, error))
        return false;
    const PdPoolSource *src = &pool->def->source;
    PdDiskSource *source = g_new0(PdDiskSource, 1);
    source->type = PD_DISK_SOURCE_NETWORK;
    source->protocol = g_strdup("iscsi");
    source->name = g_strdup_printf("%s/%d", (char *)g_ptr_array_index(src->devices, 0), lun);
    source->host_name = g_strdup(src->host_name);
    source->host_port = src->host_port ? src->host_port : PD_ISCSI_DEFAULT_PORT;
    if (src->auth) {
        source->auth_username = g_strdup(src->auth->username);
        source->auth_secret_usage = g_strdup(src->auth->secret_usage);
        source->auth_secret_uuid = g_strdup(src->auth->secret_uuid);
    }
    *ret_source = source;
    return true;
}

/* SendTargets discovery on HOST[:PORT]: one <source> per target, as libvirt lists them. */
static bool iscsi_direct_find_sources(const PdPoolDef *spec, unsigned flags,
                                      GPtrArray **ret_sources, GError **error)
{
    if (!spec || !spec->source.host_name) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "finding iSCSI targets needs a host (find-storage-pool-sources-as iscsi HOST "
                    "[PORT])");
        return false;
    }
    PdIscsiTarget t = {
        .host = spec->source.host_name,
        .port = spec->source.host_port,
        .initiator_iqn = spec->source.initiator_iqn ? spec->source.initiator_iqn
                                                    : "iqn.2026-11.io.poold:discovery",
    };
    /* HOST:PORT as one word (libvirt's find-storage-pool-sources-as takes it so too); an IPv6
     * address has more than one colon and keeps them */
    g_autofree char *host = NULL;
    const char *colon = strchr(t.host, ':');
    guint64 port;
    if (!t.port && colon && !strchr(colon + 1, ':') &&
        g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL)) {
        host = g_strndup(t.host, (gsize)(colon - t.host));
        t.host = host;
        t.port = (unsigned)port;
    }
    g_autoptr(GPtrArray) iqns = pd_iscsi_discover(&t, error);
    if (!iqns)
        return false;
    GPtrArray *sources = g_ptr_array_new_with_free_func((GDestroyNotify)pd_pool_def_free);
    for (guint i = 0; i < iqns->len; i++) {
        PdPoolDef *def = pd_pool_def_new(spec->type);
        def->source.host_name = g_strdup(t.host);
        def->source.host_port = t.port ? t.port : PD_ISCSI_DEFAULT_PORT;
        g_ptr_array_add(def->source.devices, g_strdup(g_ptr_array_index(iqns, i)));
        g_ptr_array_add(sources, def);
    }
    *ret_sources = sources;
    return true;
}

const PdPoolBackend pd_pool_backend_iscsi_direct = {
    .type = PD_POOL_ISCSI_DIRECT,
    .capabilities = PD_BACKEND_CAP_NO_SPACE_CHECK,
    .find_sources = iscsi_direct_find_sources,
    .start = iscsi_direct_start,
    .stop = iscsi_direct_stop,
    .refresh = iscsi_direct_refresh,
    .vol_refresh = iscsi_direct_vol_refresh,
    .vol_open = iscsi_direct_vol_open,
    .vol_create = iscsi_direct_vol_create,
    .vol_delete = iscsi_direct_vol_delete,
    .vol_wipe = iscsi_direct_vol_wipe,
    .vol_upload = iscsi_direct_vol_upload,
    .vol_download = iscsi_direct_vol_download,
    .vol_disk_source = iscsi_direct_vol_disk_source,
};
