/* The driver registry: every format poolfmt knows, its name, and the scored probe. */
#include "formats/image/image-driver.h"
#include "common/pd-error.h"

#include <string.h>

static const PdImageDriver *const drivers[] = {
    &pd_raw_driver, &pd_qcow2_driver, &pd_vmdk_driver, &pd_vhdx_driver, &pd_vdi_driver,
};

const PdImageDriver *pd_image_driver_for(PdFormat format)
{
    for (size_t i = 0; i < G_N_ELEMENTS(drivers); i++)
        if (drivers[i]->format == format)
            return drivers[i];
    return NULL;
}

PdFormat pd_format_from_name(const char *name)
{
    if (!name)
        return PD_FORMAT_UNKNOWN;
    for (size_t i = 0; i < G_N_ELEMENTS(drivers); i++)
        if (strcmp(drivers[i]->name, name) == 0)
            return drivers[i]->format;
    return PD_FORMAT_UNKNOWN;
}

const char *pd_format_name(PdFormat format)
{
    const PdImageDriver *drv = pd_image_driver_for(format);
    return drv ? drv->name : "unknown";
}

bool pd_format_can_create(PdFormat format)
{
    const PdImageDriver *drv = pd_image_driver_for(format);
    return drv && drv->create;
}

bool pd_format_read_only(PdFormat format)
{
    const PdImageDriver *drv = pd_image_driver_for(format);
    return drv && (drv->flags & PD_DRIVER_READ_ONLY);
}

/* Formats qemu would recognise that poolfmt cannot read: probing them as raw would hand
 * their container bytes to the guest (or a convert), so they are refused by name. */
static const struct {
    const char *name;
    const char *magic;
    size_t len;
} foreign[] = {
    {"qed", "QED\0", 4},                           /* qed's magic */
    {"luks", "LUKS\xba\xbe\0\1", 8},               /* magic, version 1 (big-endian) */
    {"parallels", "WithoutFreeSpace\2\0\0\0", 20}, /* magic, version 2 (little-endian) */
    {"parallels", "WithouFreSpacExt\2\0\0\0", 20},
};

/* The heads of formats whose drivers are not in the registry yet (each leaves this list
 * when its driver lands): refused by name rather than read as raw. */
static int not_yet_probe(const uint8_t *head, size_t len, const char **ret_name)
{
    static const struct {
        const char *name;
        const char *magic;
        size_t len;
        size_t at;
    } heads[] = {
        {"vpc", "conectix", 8, 0},
        {"qcow", "QFI\xfb\0\0\0\1", 8, 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(heads); i++) {
        if (len >= heads[i].at + heads[i].len &&
            memcmp(head + heads[i].at, heads[i].magic, heads[i].len) == 0) {
            *ret_name = heads[i].name;
            return 100;
        }
    }
    return 0;
}

const PdImageDriver *pd_image_probe_head(const uint8_t *head, size_t len, const char *filename,
                                         int *ret_score, GError **error)
{
    for (size_t i = 0; i < G_N_ELEMENTS(foreign); i++) {
        if (len >= foreign[i].len && memcmp(head, foreign[i].magic, foreign[i].len) == 0) {
            g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                        "Image '%s' looks like a %s image, a format poolimg cannot read; "
                        "pass the format explicitly (-f raw reads its bytes as they are)",
                        filename ? filename : "?", foreign[i].name);
            return NULL;
        }
    }
    const char *later = NULL;
    if (not_yet_probe(head, len, &later)) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "Image '%s' looks like a %s image, a format this poolimg cannot read yet; "
                    "pass the format explicitly (-f raw reads its bytes as they are)",
                    filename ? filename : "?", later);
        return NULL;
    }
    const PdImageDriver *best = &pd_raw_driver;
    int best_score = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(drivers); i++) {
        if (!drivers[i]->probe)
            continue;
        int score = drivers[i]->probe(head, len, filename);
        if (score > best_score) {
            best_score = score;
            best = drivers[i];
        }
    }
    *ret_score = best_score;
    return best;
}
