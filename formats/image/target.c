/* PdTarget: opening where a new image goes, by qemu-img's rules (see target.h). */
#include "formats/image/target.h"
#include "formats/io/file/lock.h"
#include "common/pd-error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

struct PdTarget {
    PdTargetKind kind;
    char *path;
    char *tmp; /* PD_TARGET_NEW: the hidden name */
    int fd;    /* our own descriptor on the store, to undo an unfinished file */
    PdIO *io;  /* until taken */
    bool finished;
    struct stat opened; /* PD_TARGET_FILE: as it was when opened */
};

PdTargetKind pd_target_kind(const PdTarget *t)
{
    return t->kind;
}

/* Whether @st is @source or an image of its backing chain. */
static bool is_source(const struct stat *st, PdImage *source)
{
    for (PdImage *l = source; l; l = pd_image_backing(l)) {
        dev_t dev;
        ino_t ino;
        if (pd_io_file_identity(pd_image_io(l), &dev, &ino) && dev == st->st_dev &&
            ino == st->st_ino)
            return true;
    }
    return false;
}

static const char *file_type_name(mode_t mode)
{
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISDIR(mode))
        return "a directory";
    return "not a regular file";
}

/* Opens an existing @path (links followed) for writing in place; -1 with @error. */
static int open_existing(const char *path, PdImage *source, PdTargetKind *ret_kind,
                         struct stat *ret_opened, GError **error)
{
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        pd_error_set_errno(error, errno, "Could not create '%s'", path);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        pd_error_set_errno(error, errno, "Could not create '%s'", path);
        (void)close(fd);
        return -1;
    }
    if (is_source(&st, source)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Could not create '%s': it is the source image (or in its backing chain), "
                    "which would be overwritten while it is read; write to another file",
                    path);
        (void)close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Could not create '%s': it is %s, not a regular file or a block device", path,
                    file_type_name(st.st_mode));
        (void)close(fd);
        return -1;
    }
    /* QEMU's write locks, as qemu-img takes them on its target: a running QEMU's image is
     * refused, and QEMU is kept out of it while it is written. */
    if (!pd_file_lock(fd, PD_PERM_CONSISTENT_READ | PD_PERM_WRITE | PD_PERM_RESIZE,
                      PD_PERM_CONSISTENT_READ | PD_PERM_WRITE_UNCHANGED, path, error)) {
        g_prefix_error(error, "Could not create '%s': ", path);
        (void)close(fd);
        return -1;
    }
    /* The descriptor blocks again for the I/O; O_NONBLOCK only kept open from hanging.
     * The format's create truncates the file (to 0, as qemu-img does). */
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    *ret_opened = st;
    *ret_kind = S_ISBLK(st.st_mode) ? PD_TARGET_DEVICE : PD_TARGET_FILE;
    return fd;
}

/* Creates the hidden file for a new image at @path; -1 with @error. */
static int open_new(const char *path, char **ret_tmp, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    g_autofree char *hidden = pd_io_partial_name(base);
    g_autofree char *tmp = g_build_filename(dir, hidden, NULL);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        /* Name the file the user asked for, not the temporary one. */
        pd_error_set_errno(error, errno, "Could not create '%s'", path);
        return -1;
    }
    *ret_tmp = g_steal_pointer(&tmp);
    return fd;
}

PdTarget *pd_target_open(const char *path, PdImage *source, GError **error)
{
    g_autoptr(PdTarget) t = g_new0(PdTarget, 1);
    t->path = g_strdup(path);
    t->fd = -1;
    struct stat st;
    if (stat(path, &st) == 0) {
        t->fd = open_existing(path, source, &t->kind, &t->opened, error);
    } else if (errno == ENOENT && lstat(path, &st) == 0) {
        /* A dangling symlink: qemu-img creates the file it points to. */
        t->kind = PD_TARGET_FILE;
        t->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (t->fd < 0)
            pd_error_set_errno(error, errno, "Could not create '%s'", path);
    } else if (errno == ENOENT) {
        t->kind = PD_TARGET_NEW;
        t->fd = open_new(path, &t->tmp, error);
    } else {
        pd_error_set_errno(error, errno, "Could not create '%s'", path);
    }
    if (t->fd < 0)
        return NULL;
    int dupfd = fcntl(t->fd, F_DUPFD_CLOEXEC, 0);
    if (dupfd < 0) {
        pd_error_set_errno(error, errno, "Could not create '%s'", path);
        return NULL;
    }
    t->io = pd_io_file_open_fd(dupfd, path, PD_IO_RDWR, error);
    return t->io ? g_steal_pointer(&t) : NULL;
}

PdIO *pd_target_take_io(PdTarget *t)
{
    return g_steal_pointer(&t->io);
}

bool pd_target_finish(PdTarget *t, GError **error)
{
    if (t->kind == PD_TARGET_NEW) {
        /* Never over a file that appeared meanwhile: that one would be lost. */
        g_autoptr(GError) local = NULL;
        if (!pd_io_rename_noreplace(AT_FDCWD, t->tmp, t->path, &local)) {
            if (local->code == PD_ERROR_EXISTS)
                g_set_error(error, PD_ERROR, PD_ERROR_EXISTS,
                            "Could not create '%s': a file of that name appeared meanwhile; "
                            "the new image was not kept",
                            t->path);
            else
                g_set_error(error, PD_ERROR, local->code, "Could not create '%s': %s", t->path,
                            local->message);
            return false;
        }
    }
    t->finished = true;
    return true;
}

/* Whether an existing file was changed since it was opened (else it is left as it was). */
static bool was_written(const PdTarget *t)
{
    struct stat st;
    if (fstat(t->fd, &st) < 0)
        return true;
    return st.st_size != t->opened.st_size || st.st_mtim.tv_sec != t->opened.st_mtim.tv_sec ||
           st.st_mtim.tv_nsec != t->opened.st_mtim.tv_nsec;
}

void pd_target_free(PdTarget *t)
{
    if (!t)
        return;
    pd_io_close(t->io);
    if (!t->finished && t->kind == PD_TARGET_NEW && t->tmp)
        (void)unlink(t->tmp);
    else if (!t->finished && t->kind == PD_TARGET_FILE && t->fd >= 0 && was_written(t))
        (void)ftruncate(t->fd, 0);
    if (t->fd >= 0)
        (void)close(t->fd);
    g_free(t->tmp);
    g_free(t->path);
    g_free(t);
}
