/* qcow2 driver: placeholder until the engine lands (issue 2). */
#include "formats/image-driver.h"
#include "common/pd-error.h"

static bool qcow2_not_yet(PdIO *io, GError **error)
{
    g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED, "Image '%s': qcow2 is not built yet",
                io->name);
    return false;
}

static bool qcow2_create(PdIO *io, const PdCreateOptions *opts, GError **error)
{
    return qcow2_not_yet(io, error);
}

static bool qcow2_open(PdImage *img, GError **error)
{
    return qcow2_not_yet(img->io, error);
}

static void qcow2_close(PdImage *img)
{
}

const PdImageDriver pd_qcow2_driver = {
    .name = "qcow2",
    .format = PD_FORMAT_QCOW2,
    .create = qcow2_create,
    .open = qcow2_open,
    .close = qcow2_close,
};
