/* The PD_ERROR domain: codes and their wire names. */
#include "common/pd-error.h"

#include <errno.h>
#include <string.h>

G_DEFINE_QUARK(pd - error - quark, pd_error)

static const char *const wire_names[] = {
    [PD_ERROR_FAILED] = "io.poold.Error.Failed",
    [PD_ERROR_INVALID_ARGUMENT] = "io.poold.Error.InvalidArgument",
    [PD_ERROR_IO] = "io.poold.Error.IO",
    [PD_ERROR_NOT_FOUND] = "io.poold.Error.NotFound",
    [PD_ERROR_EXISTS] = "io.poold.Error.Exists",
    [PD_ERROR_UNSUPPORTED] = "io.poold.Error.Unsupported",
    [PD_ERROR_CORRUPT] = "io.poold.Error.Corrupt",
    [PD_ERROR_READ_ONLY] = "io.poold.Error.ReadOnly",
    [PD_ERROR_NO_SPACE] = "io.poold.Error.NoSpace",
    [PD_ERROR_CANCELLED] = "io.poold.Error.Cancelled",
    [PD_ERROR_BUSY] = "io.poold.Error.Busy",
    [PD_ERROR_NO_SUCH_POOL] = "io.poold.Error.NoSuchPool",
    [PD_ERROR_NO_SUCH_VOLUME] = "io.poold.Error.NoSuchVolume",
    [PD_ERROR_NO_SUCH_JOB] = "io.poold.Error.NoSuchJob",
    [PD_ERROR_VOLUME_BUSY] = "io.poold.Error.VolumeBusy",
    [PD_ERROR_INVALID_STATE] = "io.poold.Error.InvalidState",
    [PD_ERROR_PERMISSION_DENIED] = "io.poold.Error.PermissionDenied",
    [PD_ERROR_NO_SUCH_DOMAIN] = "io.poold.Error.NoSuchDomain",
    [PD_ERROR_VOLUME_ATTACHED] = "io.poold.Error.VolumeAttached",
};
G_STATIC_ASSERT(G_N_ELEMENTS(wire_names) == PD_ERROR_N_CODES);

const char *pd_error_wire_name(PdErrorCode code)
{
    if ((unsigned)code >= PD_ERROR_N_CODES || !wire_names[code])
        return wire_names[PD_ERROR_FAILED];
    return wire_names[code];
}

PdErrorCode pd_error_code_from_errno(int errnum)
{
    switch (errnum) {
    case ENOENT:
        return PD_ERROR_NOT_FOUND;
    case EEXIST:
        return PD_ERROR_EXISTS;
    case ENOSPC:
    case EDQUOT:
        return PD_ERROR_NO_SPACE;
    case EROFS:
    case EACCES:
    case EPERM:
        return PD_ERROR_READ_ONLY;
    case ENOTSUP:
        return PD_ERROR_UNSUPPORTED;
    case EINVAL:
        return PD_ERROR_INVALID_ARGUMENT;
    case ECANCELED:
        return PD_ERROR_CANCELLED;
    case EBUSY:
        return PD_ERROR_BUSY;
    default:
        return PD_ERROR_IO;
    }
}

void pd_error_set_errno(GError **error, int errnum, const char *what_fmt, ...)
{
    va_list ap;
    va_start(ap, what_fmt);
    g_autofree char *what = g_strdup_vprintf(what_fmt, ap);
    va_end(ap);
    if (errnum < 0)
        errnum = -errnum;
    g_set_error(error, PD_ERROR, pd_error_code_from_errno(errnum), "%s: %s", what,
                g_strerror(errnum));
}
