/* QEMU's image locks (see lock.h). */
#include "formats/io/file/lock.h"
#include "common/pd-error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static const char *const perm_names[] = {"consistent read", "write", "write unchanged", "resize"};

/* F_OFD_SETLK of one byte: @type F_RDLCK or F_UNLCK. 0 or -errno. */
static int set_byte(int fd, int off, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = off, .l_len = 1};
    return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* Whether another open file holds a lock on byte @off: 1 yes, 0 no, -errno. */
static int byte_taken(int fd, int off)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = 1};
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
        return -errno;
    return fl.l_type != F_UNLCK;
}

static bool unsupported(int r)
{
    return r == -EINVAL || r == -ENOTSUP || r == -EOPNOTSUPP || r == -ENOLCK;
}

static void unlock_all(int fd)
{
    for (int i = 0; i < (int)G_N_ELEMENTS(perm_names); i++) {
        (void)set_byte(fd, PD_LOCK_PERM_BASE + i, F_UNLCK);
        (void)set_byte(fd, PD_LOCK_SHARED_BASE + i, F_UNLCK);
    }
}

static bool conflict(int fd, const char *path, const char *shared_word, int i, GError **error)
{
    unlock_all(fd);
    g_set_error(error, PD_ERROR, PD_ERROR_BUSY,
                "Failed to get %s\"%s\" lock\nIs another process using the image [%s]? (another "
                "process, a running QEMU for one, has it open %s)",
                shared_word, perm_names[i], path,
                *shared_word ? "with that permission" : "and does not share that permission");
    return false;
}

bool pd_file_lock(int fd, unsigned perm, unsigned shared, const char *path, GError **error)
{
    int n = (int)G_N_ELEMENTS(perm_names);
    for (int i = 0; i < n; i++) {
        int r = 0;
        if (perm & (1u << i))
            r = set_byte(fd, PD_LOCK_PERM_BASE + i, F_RDLCK);
        if (r == 0 && !(shared & (1u << i)))
            r = set_byte(fd, PD_LOCK_SHARED_BASE + i, F_RDLCK);
        if (unsupported(r)) {
            unlock_all(fd);
            return true; /* no OFD locks here: nothing to keep anyone out with */
        }
        if (r == -EAGAIN || r == -EACCES) /* someone holds a write lock: not QEMU's way */
            return conflict(fd, path, "", i, error);
        if (r < 0) {
            unlock_all(fd);
            pd_error_set_errno(error, -r, "Failed to lock byte %d of '%s'", PD_LOCK_PERM_BASE + i,
                               path);
            return false;
        }
    }
    for (int i = 0; i < n; i++) {
        int r = (perm & (1u << i)) ? byte_taken(fd, PD_LOCK_SHARED_BASE + i) : 0;
        if (r > 0)
            return conflict(fd, path, "", i, error);
        r = !(shared & (1u << i)) ? byte_taken(fd, PD_LOCK_PERM_BASE + i) : 0;
        if (r > 0)
            return conflict(fd, path, "shared ", i, error);
    }
    return true;
}
