/* The one error domain of poold (PD_ERROR) and its codes.
 *
 * Every code maps to a varlink error name (pd_error_wire_name); the table in pd-error.c is
 * checked against this enum at compile time. Libraries return errors and never log. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PD_ERROR (pd_error_quark())
GQuark pd_error_quark(void);

typedef enum {
    PD_ERROR_FAILED = 0,       /* anything without a better code */
    PD_ERROR_INVALID_ARGUMENT, /* a caller gave a bad value (size, option, name) */
    PD_ERROR_IO,               /* the storage said no (errno-backed) */
    PD_ERROR_NOT_FOUND,        /* a file, image or snapshot does not exist */
    PD_ERROR_EXISTS,           /* something of that name is already there */
    PD_ERROR_UNSUPPORTED,      /* the format, backend or feature cannot do this */
    PD_ERROR_CORRUPT,          /* on-disk metadata is inconsistent or out of bounds */
    PD_ERROR_READ_ONLY,        /* a write to something opened or marked read-only */
    PD_ERROR_NO_SPACE,         /* out of space */
    PD_ERROR_CANCELLED,        /* the caller cancelled the operation */
    PD_ERROR_BUSY,             /* the object is in use */
    PD_ERROR_NO_SUCH_POOL,
    PD_ERROR_NO_SUCH_VOLUME,
    PD_ERROR_NO_SUCH_JOB,
    PD_ERROR_VOLUME_BUSY,       /* a job works on the volume; the message names the job */
    PD_ERROR_INVALID_STATE,     /* not valid now: pool inactive, already active, ... */
    PD_ERROR_PERMISSION_DENIED, /* a changing call on the read-only socket */
    PD_ERROR_NO_SUCH_DOMAIN,    /* libvirt has no domain of that name at that URI */
    PD_ERROR_VOLUME_ATTACHED,   /* the volume is a disk of a domain; the message names both */
    PD_ERROR_N_CODES
} PdErrorCode;

/* The varlink error name of a code ("io.poold.Error.Corrupt"); never NULL. */
const char *pd_error_wire_name(PdErrorCode code);

/* Sets @error from an errno value: PD_ERROR_IO (or a closer code for ENOENT, EEXIST, ENOSPC,
 * EROFS/EACCES, ENOTSUP) with "@what: strerror(errno)". */
void pd_error_set_errno(GError **error, int errnum, const char *what_fmt, ...) G_GNUC_PRINTF(3, 4);

/* The PdErrorCode closest to an errno value. */
PdErrorCode pd_error_code_from_errno(int errnum);

G_END_DECLS
