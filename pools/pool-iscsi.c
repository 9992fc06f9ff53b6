/* The iscsi backend: a target's LUNs through the kernel's initiator (open-iscsi's iscsiadm and
 * iscsid), as libvirt's iscsi pool. start checks that the portal offers the target (sendtargets
 * discovery, nothing written), makes a node record for it (through an interface carrying the
 * pool's initiator IQN when it has one), sets CHAP from the pool's <auth> and the secret the
 * daemon resolved, and logs in; stop logs out and deletes the record (and with it the stored
 * CHAP password). The LUNs are block devices, found through sysfs (the session's SCSI devices);
 * each volume's path is its stable link in the target directory (/dev/disk/by-path/ip-HOST:
 * PORT-iscsi-IQN-lun-N) when udev made one, else /dev/sdX. Volumes cannot be created or
 * deleted; wipe, upload and download work on the device.
 *
 * The session lives in the kernel, not in poold: a restarted poold finds it logged in and
 * keeps it. */
#include "pools/pool-iscsi.h"

#include "common/pd-error.h"
#include "pools/cmd-util.h"
#include "pools/pool-image.h"
#include "pools/pool-util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ISCSI_PORT_DEFAULT  3260
#define ISCSIADM_TIMEOUT_MS (45 * 1000) /* above the record's login timeout and retries */
#define LOGIN_TIMEOUT_S     "10"        /* node.conn[0].timeo.login_timeout of our records */
#define SETTLE_TIMEOUT_MS   (15 * 1000)
#define SESSION_CLASS       "/sys/class/iscsi_session"

/* ---- argv and output --------------------------------------------------------------------- */

char *pd_iscsi_portal(const char *host, unsigned port)
{
    bool ipv6 = strchr(host, ':') != NULL && host[0] != '[';
    return g_strdup_printf(ipv6 ? "[%s]:%u" : "%s:%u", host, port ? port : ISCSI_PORT_DEFAULT);
}

char *pd_iscsi_iface_name(const char *iqn)
{
    g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, iqn, -1);
    return g_strdup_printf("poold-%.12s", sum);
}

/* A NULL-terminated argv from @words (NULLs in @words skipped), @n of them. */
static char **argv_new(const char *const *words, unsigned n)
{
    GPtrArray *argv = g_ptr_array_new();
    for (unsigned i = 0; i < n; i++) {
        if (words[i])
            g_ptr_array_add(argv, g_strdup(words[i]));
    }
    g_ptr_array_add(argv, NULL);
    return (char **)g_ptr_array_free(argv, FALSE);
}
#define ARGV(...)                                                                                  \
    argv_new((const char *const[]){__VA_ARGS__},                                                   \
             sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

char **pd_iscsi_discovery_argv(const char *portal, const char *iface)
{
    return ARGV("iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", portal,
                iface ? "-I" : NULL, iface, "-o", "nonpersistent");
}

char **pd_iscsi_iface_new_argv(const char *iface)
{
    return ARGV("iscsiadm", "-m", "iface", "-I", iface, "-o", "new");
}

char **pd_iscsi_iface_set_iqn_argv(const char *iface, const char *iqn)
{
    return ARGV("iscsiadm", "-m", "iface", "-I", iface, "-o", "update", "-n", "iface.initiatorname",
                "-v", iqn);
}

char **pd_iscsi_node_argv(const char *target, const char *portal, const char *iface,
                          const char *const *operation)
{
    GPtrArray *argv = g_ptr_array_new();
    const char *const head[] = {"iscsiadm", "-m", "node", "-T", target, "-p", portal};
    for (unsigned i = 0; i < G_N_ELEMENTS(head); i++)
        g_ptr_array_add(argv, g_strdup(head[i]));
    if (iface) {
        g_ptr_array_add(argv, g_strdup("-I"));
        g_ptr_array_add(argv, g_strdup(iface));
    }
    for (const char *const *w = operation; *w; w++)
        g_ptr_array_add(argv, g_strdup(*w));
    g_ptr_array_add(argv, NULL);
    return (char **)g_ptr_array_free(argv, FALSE);
}

char **pd_iscsi_node_update_argv(const char *target, const char *portal, const char *iface,
                                 const char *name, const char *value)
{
    const char *const op[] = {"-o", "update", "-n", name, "-v", value, NULL};
    return pd_iscsi_node_argv(target, portal, iface, op);
}

char **pd_iscsi_logout_argv(unsigned sid)
{
    g_autofree char *s = g_strdup_printf("%u", sid);
    return ARGV("iscsiadm", "-m", "session", "-r", s, "-u");
}

GPtrArray *pd_iscsi_parse_discovery(const char *output)
{
    GPtrArray *targets = g_ptr_array_new_with_free_func(g_free);
    g_auto(GStrv) lines = g_strsplit(output ? output : "", "\n", -1);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) words = g_strsplit_set(g_strstrip(*l), " \t", -1);
        /* "PORTAL,TPGT IQN": the first word holds the portal group tag */
        if (g_strv_length(words) != 2 || !strchr(words[0], ',') || !*words[1])
            continue;
        bool seen = false;
        for (guint i = 0; i < targets->len && !seen; i++)
            seen = strcmp(targets->pdata[i], words[1]) == 0;
        if (!seen)
            g_ptr_array_add(targets, g_strdup(words[1]));
    }
    return targets;
}

char *pd_iscsi_key_from_wwid(const char *wwid)
{
    g_autofree char *w = g_strstrip(g_strdup(wwid));
    if (g_str_has_prefix(w, "naa."))
        return g_strdup_printf("3%s", w + 4);
    return g_steal_pointer(&w);
}

/* ---- running iscsiadm ---------------------------------------------------------------------- */

/* What an iscsiadm exit status means to a user (open-iscsi's iscsi_err.h); NULL: no hint. */
static const char *exit_hint(int status)
{
    switch (status) {
    case 4:
        return "cannot connect to the portal (host down or wrong port?)";
    case 8:
        return "the connection to the portal timed out";
    case 12:
        return "the iSCSI transport is missing (kernel module iscsi_tcp not loaded?)";
    case 19:
        return "the target refused the login (unknown target, or this initiator is not "
               "allowed)";
    case 20:
        return "iscsid is not running (start it: iscsid, or systemctl start iscsid)";
    case 21:
        return "no such target or record";
    case 24:
        return "CHAP authentication failed (check the pool's <auth> username and secret)";
    default:
        return NULL;
    }
}

/* Runs iscsiadm @argv. @what says what failed ("cannot log in to ..."); the message never
 * shows the argv (it may hold the CHAP password). *ret_status (may be NULL): the exit status
 * (-1: killed at the deadline) whenever it ran. @tolerated: an exit status that counts as
 * success (0 for none). */
/* The error code of iscsiadm's exit status @status: a bad argument for what the user gave. */
static int iscsiadm_code(int status, const char *err)
{
    (void)err;
    return status == 24 || status == 19 || status == 21 ? PD_ERROR_INVALID_ARGUMENT : PD_ERROR_IO;
}

static bool run_iscsiadm(const PdPool *pool, char **argv, const char *what, int tolerated,
                         PdCmdResult *ret, GError **error)
{
    PdCmdCheck check = {
        .what = what,
        .timeout_ms = ISCSIADM_TIMEOUT_MS,
        .tolerated = tolerated,
        .hint = exit_hint,
        .code = iscsiadm_code,
    };
    PdCmdResult res = {0};
    bool ok = pd_cmd_run_checked((const char *const *)argv, &check, &res, error);
    if (!ok && pool)
        pd_pool_util_prefix_error(error, pool, NULL);
    if (ret)
        *ret = res;
    else
        pd_cmd_result_clear(&res);
    return ok;
}

/* The targets @portal offers (to @iface's initiator). */
static GPtrArray *discover(const PdPool *pool, const char *portal, const char *iface,
                           GError **error)
{
    g_auto(GStrv) argv = pd_iscsi_discovery_argv(portal, iface);
    g_autofree char *what = g_strdup_printf("cannot list the targets of portal %s", portal);
    PdCmdResult res = {0};
    /* 21: no targets at all, an empty list */
    if (!run_iscsiadm(pool, argv, what, 21, &res, error))
        return NULL;
    GPtrArray *targets = pd_iscsi_parse_discovery(res.out);
    pd_cmd_result_clear(&res);
    return targets;
}

/* The interface of the pool's initiator IQN, made (or updated) in iscsiadm's database; NULL
 * in *ret_iface when the pool names no initiator (iscsiadm's default interface). */
static bool prepare_iface(const PdPool *pool, char **ret_iface, GError **error)
{
    const char *iqn = pool->def->source.initiator_iqn;
    if (!iqn) {
        *ret_iface = NULL;
        return true;
    }
    g_autofree char *iface = pd_iscsi_iface_name(iqn);
    g_autofree char *what = g_strdup_printf("cannot set up initiator %s", iqn);
    g_auto(GStrv) make = pd_iscsi_iface_new_argv(iface);
    g_auto(GStrv) set = pd_iscsi_iface_set_iqn_argv(iface, iqn);
    /* 15: the interface exists already (another pool, an earlier start) */
    if (!run_iscsiadm(pool, make, what, 15, NULL, error) ||
        !run_iscsiadm(pool, set, what, 0, NULL, error))
        return false;
    *ret_iface = g_steal_pointer(&iface);
    return true;
}

/* ---- sessions and LUNs in sysfs ------------------------------------------------------------- */

static char *read_sysfs(const char *dir, const char *file)
{
    g_autofree char *path = g_build_filename(dir, file, NULL);
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    return g_strstrip(text);
}

static const char *pool_target(const PdPool *pool)
{
    const GPtrArray *devices = pool->def->source.devices;
    return devices->len ? devices->pdata[0] : NULL;
}

/* The session logged in to the pool's target (with the pool's initiator, when it names one):
 * its id in *ret_sid and sysfs directory in *ret_dir (may be NULL). False when there is none. */
static bool find_session(const PdPool *pool, unsigned *ret_sid, char **ret_dir)
{
    g_autoptr(GDir) dir = g_dir_open(SESSION_CLASS, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name(dir))) {
        unsigned sid;
        char tail;
        if (sscanf(name, "session%u%c", &sid, &tail) != 1)
            continue;
        g_autofree char *path = g_build_filename(SESSION_CLASS, name, NULL);
        g_autofree char *target = read_sysfs(path, "targetname");
        g_autofree char *initiator = read_sysfs(path, "initiatorname");
        const char *want_initiator = pool->def->source.initiator_iqn;
        if (!target || strcmp(target, pool_target(pool)) != 0)
            continue;
        if (want_initiator && (!initiator || strcmp(initiator, want_initiator) != 0))
            continue;
        *ret_sid = sid;
        if (ret_dir)
            *ret_dir = g_steal_pointer(&path);
        return true;
    }
    return false;
}

/* The link in the pool's target directory (/dev/disk/by-path) that resolves to @dev_path, or
 * NULL. Partition links are skipped. Caller frees. */
static char *stable_path(const PdPool *pool, const char *dev_path)
{
    const char *target_dir = pool->def->target_path;
    g_autoptr(GDir) dir = target_dir ? g_dir_open(target_dir, 0, NULL) : NULL;
    const char *name;
    while (dir && (name = g_dir_read_name(dir))) {
        if (strstr(name, "-part"))
            continue;
        g_autofree char *link = g_build_filename(target_dir, name, NULL);
        g_autofree char *real = realpath(link, NULL);
        if (real && strcmp(real, dev_path) == 0)
            return g_steal_pointer(&link);
    }
    return NULL;
}

/* The volume of the SCSI device in sysfs directory @lun_dir named "H:C:T:L", or NULL when it
 * is no disk (tgt's LUN 0 is a controller) or has no block device (yet). */
static PdVol *lun_volume(const PdPool *pool, const char *lun_dir, const char *hctl)
{
    unsigned h, c, t, l;
    char tail;
    if (sscanf(hctl, "%u:%u:%u:%u%c", &h, &c, &t, &l, &tail) != 4)
        return NULL;
    g_autofree char *type = read_sysfs(lun_dir, "type");
    if (!type || strcmp(type, "0") != 0)
        return NULL;
    g_autofree char *block_dir = g_build_filename(lun_dir, "block", NULL);
    g_autoptr(GDir) dir = g_dir_open(block_dir, 0, NULL);
    const char *disk = dir ? g_dir_read_name(dir) : NULL;
    if (!disk)
        return NULL;
    g_autofree char *disk_dir = g_build_filename(block_dir, disk, NULL);
    g_autofree char *sectors = read_sysfs(disk_dir, "size"); /* always 512-byte units */
    g_autofree char *wwid = read_sysfs(lun_dir, "wwid");
    g_autofree char *dev_path = g_strdup_printf("/dev/%s", disk);
    struct stat st;
    if (!sectors || stat(dev_path, &st) < 0 || !S_ISBLK(st.st_mode))
        return NULL;
    PdVol *vol = pd_vol_new();
    vol->name = g_strdup_printf("unit:%u:%u:%u", c, t, l);
    vol->path = stable_path(pool, dev_path);
    if (!vol->path)
        vol->path = g_steal_pointer(&dev_path);
    vol->key = wwid && *wwid ? pd_iscsi_key_from_wwid(wwid) : g_strdup(vol->path);
    pd_pool_util_vol_set_stat(vol, &st);
    vol->type = PD_VOL_BLOCK;
    vol->format = g_strdup("raw"); /* a LUN is a raw disk: never probed */
    vol->capacity = g_ascii_strtoull(sectors, NULL, 10) * 512;
    vol->allocation = vol->capacity;
    vol->physical = vol->capacity;
    return vol;
}

/* The disks of session directory @session_dir, sorted by name. Layout:
 *   SESSION/device/targetH:C:T/H:C:T:L/{type,wwid,block/sdX/size} */
static GPtrArray *session_volumes(const PdPool *pool, const char *session_dir)
{
    GPtrArray *vols = g_ptr_array_new_with_free_func((GDestroyNotify)pd_vol_free);
    g_autofree char *dev_dir = g_build_filename(session_dir, "device", NULL);
    g_autoptr(GDir) dir = g_dir_open(dev_dir, 0, NULL);
    const char *tname;
    while (dir && (tname = g_dir_read_name(dir))) {
        if (!g_str_has_prefix(tname, "target"))
            continue;
        g_autofree char *tdir = g_build_filename(dev_dir, tname, NULL);
        g_autoptr(GDir) luns = g_dir_open(tdir, 0, NULL);
        const char *hctl;
        while (luns && (hctl = g_dir_read_name(luns))) {
            g_autofree char *lun_dir = g_build_filename(tdir, hctl, NULL);
            PdVol *vol = lun_volume(pool, lun_dir, hctl);
            if (vol)
                g_ptr_array_add(vols, vol);
        }
    }
    g_ptr_array_sort(vols, pd_vol_compare_name);
    return vols;
}

/* Asks the kernel to scan the session for LUNs (synchronous) and waits for udev's links. */
static void rescan(const PdPool *pool, const char *portal, const char *iface)
{
    const char *const op[] = {"--rescan", NULL};
    g_auto(GStrv) argv = pd_iscsi_node_argv(pool_target(pool), portal, iface, op);
    (void)run_iscsiadm(pool, argv, "rescan", 0, NULL, NULL);
    const char *const settle[] = {"udevadm", "settle", "--timeout=10", NULL};
    PdCmdResult res = {0};
    if (pd_cmd_run(settle, SETTLE_TIMEOUT_MS, &res, NULL))
        pd_cmd_result_clear(&res);
}

/* ---- find_sources, start, stop ------------------------------------------------------------- */

static bool iscsi_find_sources(const PdPoolDef *spec, unsigned flags, GPtrArray **ret_sources,
                               GError **error)
{
    const char *host = spec ? spec->source.host_name : NULL;
    if (!host || !*host) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "finding iscsi pool sources needs a host name");
        return false;
    }
    g_autofree char *portal = pd_iscsi_portal(host, spec->source.host_port);
    g_autofree char *iface = NULL;
    if (spec->source.initiator_iqn) {
        /* a pool-less lookup: the interface is made as start would make it */
        PdPool fake = {.def = (PdPoolDef *)spec};
        if (!prepare_iface(&fake, &iface, error))
            return false;
    }
    g_autoptr(GPtrArray) targets = discover(NULL, portal, iface, error);
    if (!targets)
        return false;
    GPtrArray *sources = g_ptr_array_new_with_free_func((GDestroyNotify)pd_pool_def_free);
    for (guint i = 0; i < targets->len; i++) {
        PdPoolDef *def = pd_pool_def_new(PD_POOL_ISCSI);
        def->source.host_name = g_strdup(host);
        def->source.host_port = spec->source.host_port;
        g_ptr_array_add(def->source.devices, g_strdup(targets->pdata[i]));
        g_ptr_array_add(sources, def);
    }
    *ret_sources = sources;
    return true;
}

/* Checks that @portal offers the pool's target to the pool's initiator. */
static bool check_offered(const PdPool *pool, const char *portal, const char *iface, GError **error)
{
    g_autoptr(GPtrArray) targets = discover(pool, portal, iface, error);
    if (!targets)
        return false;
    for (guint i = 0; i < targets->len; i++) {
        if (strcmp(targets->pdata[i], pool_target(pool)) == 0)
            return true;
    }
    g_autoptr(GString) offered = g_string_new(NULL);
    for (guint i = 0; i < targets->len; i++)
        g_string_append_printf(offered, "%s%s", i ? ", " : "", (char *)targets->pdata[i]);
    const char *initiator = pool->def->source.initiator_iqn;
    pd_pool_util_error(error, pool, NULL, PD_ERROR_NOT_FOUND,
                       "portal %s does not offer target %s%s%s (offered: %s)", portal,
                       pool_target(pool), initiator ? " to initiator " : "",
                       initiator ? initiator : "", offered->len ? offered->str : "none");
    return false;
}

/* The node record's settings: short login timeouts (a dead portal fails start quickly) and
 * CHAP from the pool's <auth> and secret (authmethod None without). */
static bool configure_node(const PdPool *pool, const char *portal, const char *iface,
                           GError **error)
{
    const PdPoolAuth *auth = pool->def->source.auth;
    if (auth && !pool->auth_secret) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_INVALID_ARGUMENT,
                           "the CHAP secret of user '%s' has no value (poolctl "
                           "secret-set-value)",
                           auth->username ? auth->username : "");
        return false;
    }
    const char *settings[][2] = {
        {"node.session.initial_login_retry_max", "1"},
        {"node.conn[0].timeo.login_timeout", LOGIN_TIMEOUT_S},
        {"node.session.auth.authmethod", auth ? "CHAP" : "None"},
        {"node.session.auth.username", auth ? auth->username : NULL},
        {"node.session.auth.password", auth ? pool->auth_secret : NULL},
    };
    g_autofree char *what =
        g_strdup_printf("cannot configure the record of target %s", pool_target(pool));
    for (unsigned i = 0; i < G_N_ELEMENTS(settings); i++) {
        if (!settings[i][1])
            continue;
        g_auto(GStrv) argv = pd_iscsi_node_update_argv(pool_target(pool), portal, iface,
                                                       settings[i][0], settings[i][1]);
        bool ok = run_iscsiadm(pool, argv, what, 0, NULL, error);
        if (argv[g_strv_length(argv) - 1])
            explicit_bzero(argv[g_strv_length(argv) - 1], strlen(argv[g_strv_length(argv) - 1]));
        if (!ok)
            return false;
    }
    return true;
}

/* Deletes the pool's node record (with its stored CHAP password); errors ignored. */
static void delete_node(const PdPool *pool, const char *portal, const char *iface)
{
    const char *const op[] = {"-o", "delete", NULL};
    g_auto(GStrv) argv = pd_iscsi_node_argv(pool_target(pool), portal, iface, op);
    (void)run_iscsiadm(pool, argv, "delete record", 0, NULL, NULL);
}

/* The portal and interface of a pool. */
static bool pool_portal(const PdPool *pool, char **ret_portal, char **ret_iface)
{
    *ret_portal = pd_iscsi_portal(pool->def->source.host_name, pool->def->source.host_port);
    const char *iqn = pool->def->source.initiator_iqn;
    *ret_iface = iqn ? pd_iscsi_iface_name(iqn) : NULL;
    return true;
}

static bool login(const PdPool *pool, const char *portal, const char *iface, GError **error)
{
    const char *const create[] = {"-o", "new", NULL};
    const char *const login_op[] = {"--login", NULL};
    g_auto(GStrv) make = pd_iscsi_node_argv(pool_target(pool), portal, iface, create);
    g_auto(GStrv) argv = pd_iscsi_node_argv(pool_target(pool), portal, iface, login_op);
    g_autofree char *what =
        g_strdup_printf("cannot log in to target %s at %s", pool_target(pool), portal);
    if (run_iscsiadm(pool, make, what, 15, NULL, error) &&
        configure_node(pool, portal, iface, error) &&
        run_iscsiadm(pool, argv, what, 15, NULL, error)) /* 15: logged in already */
        return true;
    delete_node(pool, portal, iface);
    return false;
}

/* Logs in (see the top of this file). The LUN scan and udev's links come with the refresh the
 * daemon runs after every start. */
static bool iscsi_start(PdPool *pool, GError **error)
{
    g_autofree char *portal = NULL, *iface = NULL;
    pool_portal(pool, &portal, &iface);
    unsigned sid;
    if (find_session(pool, &sid, NULL)) /* a restarted poold finds its session */
        return true;
    g_autofree char *made_iface = NULL;
    if (!prepare_iface(pool, &made_iface, error) || !check_offered(pool, portal, iface, error) ||
        !login(pool, portal, iface, error))
        return false;
    if (find_session(pool, &sid, NULL))
        return true;
    pd_pool_util_error(error, pool, NULL, PD_ERROR_IO,
                       "logged in to target %s at %s, but the kernel shows no session",
                       pool_target(pool), portal);
    delete_node(pool, portal, iface);
    return false;
}

static bool iscsi_stop(PdPool *pool, GError **error)
{
    g_autofree char *portal = NULL, *iface = NULL;
    pool_portal(pool, &portal, &iface);
    unsigned sid;
    if (find_session(pool, &sid, NULL)) {
        g_auto(GStrv) argv = pd_iscsi_logout_argv(sid);
        g_autofree char *what =
            g_strdup_printf("cannot log out of target %s at %s", pool_target(pool), portal);
        if (!run_iscsiadm(pool, argv, what, 0, NULL, error))
            return false;
    }
    delete_node(pool, portal, iface);
    return true;
}

/* ---- refresh and volumes ----------------------------------------------------------------- */

static GPtrArray *current_volumes(const PdPool *pool, GError **error)
{
    unsigned sid;
    g_autofree char *session_dir = NULL;
    if (!find_session(pool, &sid, &session_dir)) {
        pd_pool_util_error(error, pool, NULL, PD_ERROR_INVALID_STATE,
                           "not logged in to target %s (pool-destroy, then pool-start)",
                           pool_target(pool));
        return NULL;
    }
    return session_volumes(pool, session_dir);
}

static bool iscsi_refresh(const PdPool *pool, const GPtrArray *previous, PdPoolRefresh *ret,
                          GError **error)
{
    g_autofree char *portal = NULL, *iface = NULL;
    pool_portal(pool, &portal, &iface);
    unsigned sid;
    if (find_session(pool, &sid, NULL))
        rescan(pool, portal, iface);
    GPtrArray *vols = current_volumes(pool, error);
    if (!vols)
        return false;
    memset(ret, 0, sizeof(*ret));
    for (guint i = 0; i < vols->len; i++)
        ret->capacity += ((PdVol *)vols->pdata[i])->capacity;
    ret->allocation = ret->capacity; /* LUNs are fully allocated; nothing is free (libvirt) */
    ret->available = 0;
    ret->n_volumes = vols->len;
    ret->volumes = vols;
    return true;
}

static bool iscsi_vol_refresh(const PdPool *pool, const PdVol *vol, PdVol **ret_vol, GError **error)
{
    g_autoptr(GPtrArray) vols = current_volumes(pool, error);
    if (!vols)
        return false;
    for (guint i = 0; i < vols->len; i++) {
        PdVol *v = vols->pdata[i];
        if (strcmp(v->name, vol->name) == 0) {
            *ret_vol = g_steal_pointer(&vols->pdata[i]);
            return true;
        }
    }
    pd_pool_util_error(error, pool, vol->name, PD_ERROR_NOT_FOUND,
                       "the LUN is gone from target %s (pool-refresh)", pool_target(pool));
    return false;
}

/* The volume's device as the catalog recorded it, checked to be a block device still. */
static bool check_lun(const PdPool *pool, const PdVol *vol, GError **error)
{
    struct stat st;
    if (!vol->path || stat(vol->path, &st) < 0 || !S_ISBLK(st.st_mode)) {
        pd_pool_util_error(error, pool, vol->name, PD_ERROR_NOT_FOUND,
                           "LUN device '%s' is gone (pool-refresh)", vol->path ? vol->path : "");
        return false;
    }
    return true;
}

static bool iscsi_vol_wipe(const PdPool *pool, const PdVol *vol, PdWipeAlgorithm algorithm,
                           unsigned flags, const PdBackendJob *job, GError **error)
{
    return check_lun(pool, vol, error) &&
           pd_pool_image_wipe_at(pool, vol, vol->path, algorithm, job, error);
}

static bool iscsi_vol_upload(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                             uint64_t length, unsigned flags, const PdBackendJob *job,
                             GError **error)
{
    return check_lun(pool, vol, error) &&
           pd_pool_util_upload_path(pool, vol, vol->path, fd, offset, length, flags, job, error);
}

static bool iscsi_vol_download(const PdPool *pool, const PdVol *vol, int fd, uint64_t offset,
                               uint64_t length, unsigned flags, const PdBackendJob *job,
                               GError **error)
{
    return check_lun(pool, vol, error) &&
           pd_pool_util_download_path(pool, vol, vol->path, fd, offset, length, flags, job, error);
}

const PdPoolBackend pd_pool_backend_iscsi = {
    .type = PD_POOL_ISCSI,
    .capabilities = PD_BACKEND_CAP_NO_SPACE_CHECK,
    .find_sources = iscsi_find_sources,
    .build = NULL, /* nothing to build: the target exists */
    .start = iscsi_start,
    .stop = iscsi_stop,
    .delete = NULL, /* a target cannot be deleted from here */
    .refresh = iscsi_refresh,
    .cleanup_partial = NULL, /* nothing is built under a partial name */
    .vol_refresh = iscsi_vol_refresh,
    .vol_open = NULL,        /* opened by path, as raw */
    .vol_create = NULL,      /* LUNs are made on the target: Unsupported */
    .vol_create_from = NULL, /* idem */
    .vol_delete = NULL,      /* idem */
    .vol_resize = NULL,
    .vol_wipe = iscsi_vol_wipe,
    .vol_upload = iscsi_vol_upload,
    .vol_download = iscsi_vol_download,
    .vol_snapshot_list = NULL,
    .vol_snapshot_create = NULL,
    .vol_snapshot_revert = NULL,
    .vol_snapshot_delete = NULL,
    .vol_disk_source = NULL, /* a BLOCK source at the volume's path */
};
