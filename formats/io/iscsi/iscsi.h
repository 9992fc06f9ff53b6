/* A userspace iSCSI session through libiscsi (libvirt's iscsi-direct, qemu's iscsi driver):
 * login with an initiator IQN and optional CHAP, a timeout on every command, the few SCSI
 * commands a pool and an image need, and errors in PD_ERROR terms.
 *
 * Facts of real targets this code relies on (tgtd, see LAB-NOTES):
 *   - the first command to each LUN after login answers UNIT ATTENTION: every command here is
 *     retried a few times on it (the command was not executed);
 *   - READ CAPACITY(16) returns the LAST LBA: capacity = (returned_lba + 1) * block_length;
 *   - a target's LUN 0 may be a controller (peripheral type 0x0c), not a disk;
 *   - login failures carry an iSCSI status: 0x0201 (513) authentication failure (wrong CHAP),
 *     0x0203 (515) target not found (or the initiator is not allowed);
 *   - a write-protected LUN answers DATA PROTECTION (and sets WP in MODE SENSE).
 *
 * A PdIscsi is one logged-in session (one libiscsi context) guarded by a mutex: calls from
 * several threads are serialised, never interleaved on the wire. Automatic reconnection is
 * off: a target that goes away fails the command in flight (and every later one) with
 * ENOTCONN instead of retrying forever; a target that stops answering fails it with
 * ETIMEDOUT after the session's timeout. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Seconds a command (or a login step) may take before it fails. */
#define PD_ISCSI_DEFAULT_TIMEOUT 10
#define PD_ISCSI_DEFAULT_PORT    3260

/* Where and how to log in. Strings are the caller's. */
typedef struct {
    const char *host;          /* name or address of the portal */
    unsigned port;             /* 0 = 3260 */
    const char *target_iqn;    /* NULL: a discovery session */
    const char *initiator_iqn; /* required */
    const char *username;      /* CHAP: both or neither */
    const char *password;
    unsigned timeout; /* seconds; 0 = PD_ISCSI_DEFAULT_TIMEOUT */
} PdIscsiTarget;

typedef struct PdIscsi PdIscsi;

/* Connects to the portal and logs in to target->target_iqn. The error names the portal and
 * the target and says why: unreachable (PD_ERROR_IO), authentication failure
 * (PD_ERROR_PERMISSION_DENIED), unknown target or initiator not allowed (PD_ERROR_NOT_FOUND). */
PdIscsi *pd_iscsi_connect(const PdIscsiTarget *target, GError **error);
/* Logs out (best effort), disconnects and frees. NULL is fine. */
void pd_iscsi_close(PdIscsi *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdIscsi, pd_iscsi_close)

/* "iscsi://host:port/IQN" (no credentials), for messages. */
const char *pd_iscsi_name(PdIscsi *session);

/* The LUN numbers the target reports (REPORT LUNS), as int in a GArray, ascending. */
GArray *pd_iscsi_report_luns(PdIscsi *session, GError **error);

/* What one LUN is. Strings owned; clear with pd_iscsi_lun_clear. */
typedef struct {
    int lun;
    int device_type;     /* SCSI peripheral device type: 0 = direct-access block device */
    uint32_t block_size; /* disks only */
    uint64_t blocks;     /* disks only: returned_lba + 1 */
    bool read_only;      /* write-protected (MODE SENSE WP bit) */
    bool thin;           /* logical block provisioning enabled: UNMAP works */
    char *vendor, *product;
    char *wwn;    /* VPD 0x83: the LUN's NAA/EUI-64 designator in hex; NULL if none */
    char *serial; /* VPD 0x80, trimmed; NULL if none */
} PdIscsiLun;

void pd_iscsi_lun_clear(PdIscsiLun *info);

/* INQUIRY (standard and VPD 0x80/0x83), and for disks READ CAPACITY(16) and MODE SENSE.
 * PD_ERROR_NOT_FOUND when the target has no such LUN. */
bool pd_iscsi_lun_info(PdIscsi *session, int lun, PdIscsiLun *ret, GError **error);

/* Block I/O on a disk LUN; @buf holds @blocks * @block_size bytes. 0 or -errno:
 * EROFS (DATA PROTECTION), ENOTCONN (target gone), ETIMEDOUT, EINVAL (out of range), EIO. */
int pd_iscsi_read(PdIscsi *session, int lun, uint64_t lba, uint32_t blocks, uint32_t block_size,
                  void *buf);
int pd_iscsi_write(PdIscsi *session, int lun, uint64_t lba, uint32_t blocks, uint32_t block_size,
                   const void *buf);
int pd_iscsi_sync_cache(PdIscsi *session, int lun);
/* UNMAP of @blocks blocks at @lba; -ENOTSUP when the LUN refuses it. */
int pd_iscsi_unmap(PdIscsi *session, int lun, uint64_t lba, uint32_t blocks);

/* The last error libiscsi reported on this session (for messages; never a secret). */
const char *pd_iscsi_last_error(PdIscsi *session);

/* SendTargets discovery on the portal of @target (target_iqn ignored): the IQNs offered, as
 * char * in a GPtrArray, in the target's order. */
GPtrArray *pd_iscsi_discover(const PdIscsiTarget *target, GError **error);

G_END_DECLS
