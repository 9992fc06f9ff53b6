/* PdIO over one iSCSI LUN through libiscsi (formats/iscsi.h), so the raw and qcow2 drivers
 * work on a LUN as on a file.
 *
 * The store is the LUN: its size is the LUN's capacity and never changes (truncate to a size
 * up to the capacity succeeds and changes nothing, as for a block device; beyond it fails
 * with ENOSPC); allocated = size. Reads and writes of any offset and length: partial blocks
 * are read-modify-written whole. flush = SYNCHRONIZE CACHE; discard = UNMAP where the LUN
 * has logical block provisioning (partial blocks at the edges are zeroed), else ENOTSUP.
 * Every command has the target's timeout; a target that goes away fails the call in flight
 * and every later one (ENOTCONN / ETIMEDOUT).
 *
 * Threads: each PdIO has its own session (one libiscsi context, one TCP connection) and a
 * mutex around every operation, so concurrent calls are serialised; reopen gives another
 * thread its own session. */
#pragma once

#include "formats/io/io.h"
#include "formats/io/iscsi/iscsi.h"

G_BEGIN_DECLS

/* Logs in to @target and opens LUN @lun, which must be a disk. With PD_IO_RDWR a
 * write-protected LUN is refused (PD_ERROR_READ_ONLY naming the LUN). PD_IO_CREATE, EXCL and
 * TRUNC are ignored (a LUN exists or not). The PdIO's name is "iscsi://HOST:PORT/IQN/LUN".
 * Errors name the LUN and the cause (pd_iscsi_connect's, or PD_ERROR_NOT_FOUND for a missing
 * LUN, PD_ERROR_UNSUPPORTED for a LUN that is not a disk). */
PdIO *pd_io_iscsi_open(const PdIscsiTarget *target, int lun, PdIOFlags flags, GError **error);

/* Block size and capacity of an open iSCSI PdIO (for tests and messages). */
uint32_t pd_io_iscsi_block_size(PdIO *io);

G_END_DECLS
