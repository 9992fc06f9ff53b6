/* PdTarget: where a new image is written (create, convert), by qemu-img's rules.
 *
 * - Nothing at the path: the image is built under a hidden name in the same directory
 *   (".NAME.partial-PID-N", pd_io_partial_name) and renamed into place (never over a file made meanwhile) when
 *   complete, so a failure leaves nothing behind.
 * - An existing regular file (also through symlinks and hard links) is opened and written in
 *   place (the format's create truncates it first): its inode, owner, mode and links stay, as with qemu-img.
 * - A block device is written in place; its size is fixed (a raw image is the whole device,
 *   an image that does not fit is refused).
 * - Other file types (character devices, FIFOs, sockets, directories) are refused.
 * - The target may not be the source image or any image of its backing chain (same device
 *   and inode, links followed): writing it would destroy what is being read.
 */
#pragma once

#include "formats/image/image.h"

G_BEGIN_DECLS

typedef struct PdTarget PdTarget;

typedef enum {
    PD_TARGET_NEW,    /* built under a hidden name, renamed at pd_target_finish */
    PD_TARGET_FILE,   /* an existing regular file, truncated and written in place */
    PD_TARGET_DEVICE, /* a block device, written in place */
} PdTargetKind;

/* Opens the store for a new image at @path. @source (may be NULL) and its backing chain
 * must not be @path. The returned target's store is named @path (relative backing files
 * resolve from there). NULL with @error (naming @path) on failure; nothing changed then. */
PdTarget *pd_target_open(const char *path, PdImage *source, GError **error);

PdTargetKind pd_target_kind(const PdTarget *t);

/* Hands the store over to the caller (who closes it, e.g. through pd_image_open_io).
 * Call once. */
PdIO *pd_target_take_io(PdTarget *t);

/* The image is complete and its store flushed and closed: a new file is renamed into
 * place. False with @error if that fails (the target is then removed by pd_target_free). */
bool pd_target_finish(PdTarget *t, GError **error);

/* Frees the target. One that was not finished is undone: a new file's hidden name is
 * removed; an existing file that was written since it was opened is truncated to empty (its
 * old contents were lost then, as with qemu-img, and a partial image must not look
 * complete), one that was not is left as it was. A block device keeps what was written.
 * NULL is fine. */
void pd_target_free(PdTarget *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdTarget, pd_target_free)

G_END_DECLS
