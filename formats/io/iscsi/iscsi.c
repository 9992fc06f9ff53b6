/* iSCSI sessions through libiscsi: login, SCSI commands with UNIT ATTENTION retries, errors. */
#include "formats/io/iscsi/iscsi.h"

#include "common/pd-error.h"

#include <errno.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <string.h>

/* How often a command answered with UNIT ATTENTION is sent again. */
#define UNIT_ATTENTION_RETRIES 5

struct PdIscsi {
    struct iscsi_context *ctx;
    GMutex lock;
    char *name;
    bool gone;       /* the connection broke: every later command fails with ENOTCONN */
    char error[256]; /* the last failure, for messages */
};

static char *portal_string(const PdIscsiTarget *t)
{
    unsigned port = t->port ? t->port : PD_ISCSI_DEFAULT_PORT;
    if (strchr(t->host, ':')) /* IPv6 literal */
        return g_strdup_printf("[%s]:%u", t->host, port);
    return g_strdup_printf("%s:%u", t->host, port);
}

/* A context set up as libvirt's iscsi-direct does, with timeouts and without reconnection. */
static struct iscsi_context *new_context(const PdIscsiTarget *t, GError **error)
{
    struct iscsi_context *ctx = iscsi_create_context(t->initiator_iqn);
    if (!ctx) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "cannot create an iSCSI context for initiator '%s'", t->initiator_iqn);
        return NULL;
    }
    enum iscsi_session_type type = t->target_iqn ? ISCSI_SESSION_NORMAL : ISCSI_SESSION_DISCOVERY;
    bool ok = (!t->target_iqn || iscsi_set_targetname(ctx, t->target_iqn) == 0) &&
              iscsi_set_session_type(ctx, type) == 0 &&
              iscsi_set_header_digest(ctx, ISCSI_HEADER_DIGEST_NONE_CRC32C) == 0 &&
              (!t->username || iscsi_set_initiator_username_pwd(
                                   ctx, t->username, t->password ? t->password : "") == 0);
    if (!ok) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "iSCSI target '%s': %s",
                    t->target_iqn ? t->target_iqn : t->host, iscsi_get_error(ctx));
        iscsi_destroy_context(ctx);
        return NULL;
    }
    iscsi_set_timeout(ctx, (int)(t->timeout ? t->timeout : PD_ISCSI_DEFAULT_TIMEOUT));
    iscsi_set_noautoreconnect(ctx, 1);
    iscsi_set_tcp_syncnt(ctx, 2); /* an unreachable portal fails in seconds, not minutes */
    return ctx;
}

/* Turns a failed login into an error naming the cause. libiscsi reports the target's login
 * status only in its message: "Failed to log in to target. Status: Authentication
 * failure(513)". */
static void set_login_error(GError **error, const char *portal, const PdIscsiTarget *t,
                            const char *detail)
{
    const char *what = t->target_iqn ? t->target_iqn : "(discovery)";
    if (strstr(detail, "(513)") || strstr(detail, "(514)"))
        g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                    "iSCSI target '%s' at %s refused the login: authentication failure (%s): check "
                    "the CHAP user name and secret",
                    what, portal, t->username ? "wrong CHAP user name or secret" : "no CHAP given");
    else if (strstr(detail, "(515)"))
        g_set_error(error, PD_ERROR, PD_ERROR_NOT_FOUND,
                    "iSCSI target '%s' not found at %s (or initiator '%s' is not allowed to log "
                    "in): check the target IQN and the target's ACL",
                    what, portal, t->initiator_iqn);
    else
        g_set_error(error, PD_ERROR, PD_ERROR_IO, "cannot log in to iSCSI target '%s' at %s: %s",
                    what, portal, detail);
}

/* Connects and logs in @ctx; false with @error. */
static bool context_login(struct iscsi_context *ctx, const PdIscsiTarget *t, GError **error)
{
    g_autofree char *portal = portal_string(t);
    if (iscsi_connect_sync(ctx, portal) != 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_IO,
                    "cannot reach iSCSI portal %s: %s: check the host and port", portal,
                    iscsi_get_error(ctx));
        return false;
    }
    if (iscsi_login_sync(ctx) != 0) {
        set_login_error(error, portal, t, iscsi_get_error(ctx));
        (void)iscsi_disconnect(ctx);
        return false;
    }
    return true;
}

PdIscsi *pd_iscsi_connect(const PdIscsiTarget *target, GError **error)
{
    g_return_val_if_fail(target->target_iqn && target->initiator_iqn && target->host, NULL);
    struct iscsi_context *ctx = new_context(target, error);
    if (!ctx)
        return NULL;
    if (!context_login(ctx, target, error)) {
        iscsi_destroy_context(ctx);
        return NULL;
    }
    PdIscsi *s = g_new0(PdIscsi, 1);
    s->ctx = ctx;
    g_mutex_init(&s->lock);
    g_autofree char *portal = portal_string(target);
    s->name = g_strdup_printf("iscsi://%s/%s", portal, target->target_iqn);
    return s;
}

void pd_iscsi_close(PdIscsi *s)
{
    if (!s)
        return;
    if (!s->gone && iscsi_is_logged_in(s->ctx))
        (void)iscsi_logout_sync(s->ctx);
    (void)iscsi_disconnect(s->ctx);
    iscsi_destroy_context(s->ctx);
    g_mutex_clear(&s->lock);
    g_free(s->name);
    g_free(s);
}

const char *pd_iscsi_name(PdIscsi *s)
{
    return s->name;
}

const char *pd_iscsi_last_error(PdIscsi *s)
{
    return s->error[0] ? s->error : "unknown error";
}

/* The errno of a finished command that did not succeed; records why in s->error. */
static int task_errno(PdIscsi *s, struct scsi_task *task)
{
    if (!task || task->status == SCSI_STATUS_ERROR || task->status == SCSI_STATUS_CANCELLED) {
        /* no SCSI answer (those come as CHECK CONDITION): the connection failed, and without
         * reconnection nothing more goes through it */
        s->gone = true;
        g_snprintf(s->error, sizeof s->error, "connection to the target lost: %s",
                   iscsi_get_error(s->ctx));
        return -ENOTCONN;
    }
    if (task->status == SCSI_STATUS_TIMEOUT) {
        /* the session is in an unknown state: nothing more goes through it */
        s->gone = true;
        g_snprintf(s->error, sizeof s->error, "the target did not answer in time");
        return -ETIMEDOUT;
    }
    if (task->status != SCSI_STATUS_CHECK_CONDITION) {
        g_snprintf(s->error, sizeof s->error, "SCSI status 0x%x", (unsigned)task->status);
        return -EIO;
    }
    g_snprintf(s->error, sizeof s->error, "%s: %s", scsi_sense_key_str(task->sense.key),
               scsi_sense_ascq_str(task->sense.ascq));
    if (task->sense.key == SCSI_SENSE_DATA_PROTECTION)
        return -EROFS;
    if (task->sense.key != SCSI_SENSE_ILLEGAL_REQUEST)
        return -EIO;
    switch (task->sense.ascq) {
    case SCSI_SENSE_ASCQ_LOGICAL_UNIT_NOT_SUPPORTED:
        return -ENXIO;
    case SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE:
        return -EINVAL;
    case SCSI_SENSE_ASCQ_INVALID_OPERATION_CODE:
    case SCSI_SENSE_ASCQ_INVALID_FIELD_IN_CDB:
        return -ENOTSUP;
    default:
        return -EIO;
    }
}

static bool is_unit_attention(const struct scsi_task *task)
{
    return task && task->status == SCSI_STATUS_CHECK_CONDITION &&
           task->sense.key == SCSI_SENSE_UNIT_ATTENTION;
}

/* Runs @task (built by a scsi_cdb_* function; consumed) on @lun with the session locked,
 * sending it again on UNIT ATTENTION (it was not executed). @in / @out: the data buffer of a
 * read / write, or NULL. Returns the finished task (status GOOD; caller frees) or NULL with
 * *ret_errno (negative). */
static struct scsi_task *run_task(PdIscsi *s, int lun, struct scsi_task *task,
                                  struct scsi_iovec *in, struct scsi_iovec *out, int *ret_errno)
{
    g_mutex_lock(&s->lock);
    for (int attempt = 0;; attempt++) {
        if (s->gone) {
            scsi_free_scsi_task(task);
            *ret_errno = -ENOTCONN;
            break;
        }
        if (in)
            scsi_task_set_iov_in(task, in, 1);
        if (out)
            scsi_task_set_iov_out(task, out, 1);
        struct scsi_task *done = iscsi_scsi_command_sync(s->ctx, lun, task, NULL);
        if (done && done->status == SCSI_STATUS_GOOD) {
            g_mutex_unlock(&s->lock);
            return done;
        }
        if (is_unit_attention(done) && attempt < UNIT_ATTENTION_RETRIES) {
            task = scsi_create_task(done->cdb_size, done->cdb, done->xfer_dir, done->expxferlen);
            scsi_free_scsi_task(done);
            if (task)
                continue;
            *ret_errno = -ENOMEM;
            break;
        }
        /* without an answer the task stays with libiscsi, which frees it with the context */
        *ret_errno = task_errno(s, done);
        if (done)
            scsi_free_scsi_task(done);
        break;
    }
    g_mutex_unlock(&s->lock);
    return NULL;
}

/* A command without data transfer to us beyond @alloc bytes of answer. */
static struct scsi_task *run_simple(PdIscsi *s, int lun, struct scsi_task *task, int *ret_errno)
{
    if (!task) {
        *ret_errno = -ENOMEM;
        return NULL;
    }
    return run_task(s, lun, task, NULL, NULL, ret_errno);
}

static gint compare_int(gconstpointer a, gconstpointer b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

GArray *pd_iscsi_report_luns(PdIscsi *s, GError **error)
{
    int err = 0;
    uint32_t alloc = 512;
    struct scsi_task *task = NULL;
    for (int round = 0; round < 2; round++) {
        task = run_simple(s, 0, scsi_reportluns_cdb(0, (int)alloc), &err);
        if (!task)
            break;
        uint32_t full = (uint32_t)scsi_datain_getfullsize(task);
        if (full <= (uint32_t)task->datain.size || round == 1)
            break;
        scsi_free_scsi_task(task);
        task = NULL;
        alloc = full;
    }
    struct scsi_reportluns_list *list = task ? scsi_datain_unmarshall(task) : NULL;
    if (!list) {
        pd_error_set_errno(error, err ? -err : EIO, "%s: REPORT LUNS failed (%s)", s->name,
                           pd_iscsi_last_error(s));
        if (task)
            scsi_free_scsi_task(task);
        return NULL;
    }
    GArray *luns = g_array_new(false, false, sizeof(int));
    for (uint32_t i = 0; i < list->num; i++) {
        int lun = list->luns[i] & 0x3fff; /* flat/peripheral addressing */
        g_array_append_val(luns, lun);
    }
    scsi_free_scsi_task(task);
    g_array_sort(luns, compare_int);
    return luns;
}

/* ---- one LUN ------------------------------------------------------------------------- */

void pd_iscsi_lun_clear(PdIscsiLun *info)
{
    g_free(info->vendor);
    g_free(info->product);
    g_free(info->wwn);
    g_free(info->serial);
    memset(info, 0, sizeof(*info));
}

static char *trimmed(const char *s)
{
    return s ? g_strstrip(g_strdup(s)) : NULL;
}

static char *hex_string(const char *data, int len)
{
    GString *hex = g_string_sized_new((gsize)len * 2);
    for (int i = 0; i < len; i++)
        g_string_append_printf(hex, "%02x", (unsigned char)data[i]);
    return g_string_free(hex, false);
}

/* The LUN's world-wide name from VPD page 0x83: an NAA (preferred) or EUI-64 designator of
 * the logical unit, as udev's scsi_id prints it (type digit + hex: "3" NAA, "2" EUI-64). */
static char *vpd_wwn(PdIscsi *s, int lun)
{
    int err;
    struct scsi_task *task = run_simple(
        s, lun, scsi_cdb_inquiry(1, SCSI_INQUIRY_PAGECODE_DEVICE_IDENTIFICATION, 255), &err);
    struct scsi_inquiry_device_identification *id = task ? scsi_datain_unmarshall(task) : NULL;
    static const int wanted[] = {SCSI_DESIGNATOR_TYPE_NAA, SCSI_DESIGNATOR_TYPE_EUI_64};
    char *wwn = NULL;
    for (size_t w = 0; id && !wwn && w < G_N_ELEMENTS(wanted); w++) {
        for (struct scsi_inquiry_device_designator *d = id->designators; d && !wwn; d = d->next) {
            if (d->association != SCSI_ASSOCIATION_LOGICAL_UNIT ||
                (int)d->designator_type != wanted[w])
                continue;
            g_autofree char *hex = hex_string(d->designator, d->designator_length);
            wwn = g_strdup_printf("%d%s", wanted[w] == SCSI_DESIGNATOR_TYPE_NAA ? 3 : 2, hex);
        }
    }
    if (task)
        scsi_free_scsi_task(task);
    return wwn;
}

static char *vpd_serial(PdIscsi *s, int lun)
{
    int err;
    struct scsi_task *task = run_simple(
        s, lun, scsi_cdb_inquiry(1, SCSI_INQUIRY_PAGECODE_UNIT_SERIAL_NUMBER, 255), &err);
    struct scsi_inquiry_unit_serial_number *sn = task ? scsi_datain_unmarshall(task) : NULL;
    char *serial = sn ? trimmed(sn->usn) : NULL;
    if (task)
        scsi_free_scsi_task(task);
    if (serial && !*serial)
        g_clear_pointer(&serial, g_free);
    return serial;
}

/* READ CAPACITY(16): the LAST LBA and the block length. */
static bool read_capacity(PdIscsi *s, int lun, PdIscsiLun *info, GError **error)
{
    int err = 0;
    struct scsi_task *task = run_simple(s, lun, scsi_cdb_readcapacity16(), &err);
    struct scsi_readcapacity16 *rc = task ? scsi_datain_unmarshall(task) : NULL;
    if (!rc || rc->block_length == 0 || rc->block_length % 512 != 0) {
        pd_error_set_errno(error, err ? -err : EIO, "%s LUN %d: READ CAPACITY(16) failed (%s)",
                           s->name, lun, rc ? "bad block length" : pd_iscsi_last_error(s));
        if (task)
            scsi_free_scsi_task(task);
        return false;
    }
    info->block_size = rc->block_length;
    info->blocks = rc->returned_lba + 1;
    info->thin = rc->lbpme != 0;
    scsi_free_scsi_task(task);
    return true;
}

/* MODE SENSE(6): the WP bit of the device-specific parameter. False when unknown. */
static bool write_protected(PdIscsi *s, int lun)
{
    int err;
    struct scsi_task *task = run_simple(
        s, lun,
        scsi_cdb_modesense6(1, SCSI_MODESENSE_PC_CURRENT, SCSI_MODEPAGE_RETURN_ALL_PAGES, 0, 255),
        &err);
    struct scsi_mode_sense *ms = task ? scsi_datain_unmarshall(task) : NULL;
    bool wp = ms && (ms->device_specific_parameter & 0x80);
    if (task)
        scsi_free_scsi_task(task);
    return wp;
}

bool pd_iscsi_lun_info(PdIscsi *s, int lun, PdIscsiLun *ret, GError **error)
{
    int err = 0;
    struct scsi_task *task = run_simple(s, lun, scsi_cdb_inquiry(0, 0, 255), &err);
    struct scsi_inquiry_standard *inq = task ? scsi_datain_unmarshall(task) : NULL;
    if (!inq || inq->qualifier != 0) {
        bool missing = err == -ENXIO || (inq && inq->qualifier != 0);
        g_set_error(error, PD_ERROR, missing ? PD_ERROR_NOT_FOUND : pd_error_code_from_errno(-err),
                    "%s has no LUN %d%s%s", s->name, lun,
                    missing ? "" : ": INQUIRY failed: ", missing ? "" : pd_iscsi_last_error(s));
        if (task)
            scsi_free_scsi_task(task);
        return false;
    }
    PdIscsiLun info = {.lun = lun, .device_type = inq->device_type};
    info.vendor = trimmed(inq->vendor_identification);
    info.product = trimmed(inq->product_identification);
    scsi_free_scsi_task(task);
    info.wwn = vpd_wwn(s, lun);
    info.serial = vpd_serial(s, lun);
    if (info.device_type == SCSI_INQUIRY_PERIPHERAL_DEVICE_TYPE_DIRECT_ACCESS) {
        if (!read_capacity(s, lun, &info, error)) {
            pd_iscsi_lun_clear(&info);
            return false;
        }
        info.read_only = write_protected(s, lun);
    }
    *ret = info;
    return true;
}

/* ---- block I/O ---------------------------------------------------------------------- */

int pd_iscsi_read(PdIscsi *s, int lun, uint64_t lba, uint32_t blocks, uint32_t block_size,
                  void *buf)
{
    int err = 0;
    uint32_t len = blocks * block_size;
    struct scsi_iovec iov = {.iov_base = buf, .iov_len = len};
    struct scsi_task *task = scsi_cdb_read16(lba, len, (int)block_size, 0, 0, 0, 0, 0);
    if (!task)
        return -ENOMEM;
    task = run_task(s, lun, task, &iov, NULL, &err);
    if (!task)
        return err;
    scsi_free_scsi_task(task);
    return 0;
}

int pd_iscsi_write(PdIscsi *s, int lun, uint64_t lba, uint32_t blocks, uint32_t block_size,
                   const void *buf)
{
    int err = 0;
    uint32_t len = blocks * block_size;
    struct scsi_iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct scsi_task *task = scsi_cdb_write16(lba, len, (int)block_size, 0, 0, 0, 0, 0);
    if (!task)
        return -ENOMEM;
    task = run_task(s, lun, task, NULL, &iov, &err);
    if (!task)
        return err;
    scsi_free_scsi_task(task);
    return 0;
}

int pd_iscsi_sync_cache(PdIscsi *s, int lun)
{
    int err = 0;
    struct scsi_task *task = run_simple(s, lun, scsi_cdb_synchronizecache16(0, 0, 0, 0), &err);
    if (!task)
        return err;
    scsi_free_scsi_task(task);
    return 0;
}

int pd_iscsi_unmap(PdIscsi *s, int lun, uint64_t lba, uint32_t blocks)
{
    /* parameter list: 8-byte header, one 16-byte block descriptor (SBC-3 5.28.2) */
    uint8_t param[24] = {0};
    param[1] = 22; /* UNMAP data length: the bytes after this field */
    param[3] = 16; /* block descriptor data length */
    for (int i = 0; i < 8; i++)
        param[8 + i] = (uint8_t)(lba >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        param[16 + i] = (uint8_t)(blocks >> (24 - 8 * i));
    struct scsi_iovec iov = {.iov_base = param, .iov_len = sizeof param};
    struct scsi_task *task = scsi_cdb_unmap(0, 0, sizeof param);
    if (!task)
        return -ENOMEM;
    int err = 0;
    task = run_task(s, lun, task, NULL, &iov, &err);
    if (!task)
        return err;
    scsi_free_scsi_task(task);
    return 0;
}

/* ---- discovery ---------------------------------------------------------------------- */

GPtrArray *pd_iscsi_discover(const PdIscsiTarget *target, GError **error)
{
    PdIscsiTarget t = *target;
    t.target_iqn = NULL;
    struct iscsi_context *ctx = new_context(&t, error);
    if (!ctx)
        return NULL;
    if (!context_login(ctx, &t, error)) {
        iscsi_destroy_context(ctx);
        return NULL;
    }
    struct iscsi_discovery_address *found = iscsi_discovery_sync(ctx);
    if (!found && strlen(iscsi_get_error(ctx)) > 0 && !strstr(iscsi_get_error(ctx), "No targets")) {
        g_autofree char *portal = portal_string(&t);
        g_set_error(error, PD_ERROR, PD_ERROR_IO, "iSCSI discovery at %s failed: %s", portal,
                    iscsi_get_error(ctx));
        (void)iscsi_disconnect(ctx);
        iscsi_destroy_context(ctx);
        return NULL;
    }
    GPtrArray *iqns = g_ptr_array_new_with_free_func(g_free);
    for (struct iscsi_discovery_address *a = found; a; a = a->next)
        g_ptr_array_add(iqns, g_strdup(a->target_name));
    if (found)
        iscsi_free_discovery_data(ctx, found);
    (void)iscsi_logout_sync(ctx);
    (void)iscsi_disconnect(ctx);
    iscsi_destroy_context(ctx);
    return iqns;
}
