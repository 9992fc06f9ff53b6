/* poolimg convert -O vmdk: poolfmt writes vmdk only as streamOptimized (what an OVA holds),
 * through its stream writer. The -o options qemu-img's vmdk driver takes are checked here. */
#include "client/poolimg.h"
#include "common/pd-error.h"
#include "formats/drivers/vmdk/vmdk-stream.h"

#include <stdio.h>
#include <string.h>

static bool parse_options(const char *text, PdVmdkStreamOptions *o, GError **error)
{
    g_auto(GStrv) items = g_strsplit(text ? text : "", ",", -1);
    bool stream = false;
    for (char **it = items; *it; it++) {
        if (!**it)
            continue;
        const char *eq = strchr(*it, '=');
        g_autofree char *key = g_strndup(*it, eq ? (gsize)(eq - *it) : strlen(*it));
        const char *val = eq ? eq + 1 : "";
        if (strcmp(key, "subformat") == 0) {
            stream = strcmp(val, "streamOptimized") == 0;
            if (!stream) {
                g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                            "poolimg writes vmdk images only as subformat=streamOptimized, not "
                            "'%s' (convert to qcow2 or raw for a writable disk)",
                            val);
                return false;
            }
        } else if (strcmp(key, "adapter_type") == 0) {
            if (strcmp(val, "ide") && strcmp(val, "lsilogic") && strcmp(val, "buslogic") &&
                strcmp(val, "legacyESX")) {
                g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                            "Unknown adapter type: '%s'", val);
                return false;
            }
            o->adapter_type = g_intern_string(val);
        } else if (strcmp(key, "hwversion") == 0) {
            o->hw_version = g_intern_string(val);
        } else if (strcmp(key, "toolsversion") == 0) {
            o->tools_version = g_intern_string(val);
        } else {
            g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                        "Invalid option '%s' for a streamOptimized vmdk (subformat, "
                        "adapter_type, hwversion, toolsversion)",
                        key);
            return false;
        }
    }
    if (!stream) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "poolimg writes vmdk images only as streamOptimized: pass "
                    "-o subformat=streamOptimized");
        return false;
    }
    return true;
}

int pi_convert_vmdk(const char *src_name, PdFormat src_format, const char *out, const char *options,
                    bool progress)
{
    PdVmdkStreamOptions o = {0};
    GError *error = NULL;
    if (!parse_options(options, &o, &error))
        return pi_fail(error, 1);
    g_autoptr(PdImage) src = pi_open(src_name, src_format, PD_OPEN_RDONLY);
    if (!src)
        return 1;
    PiProgress p = {.enabled = progress, .last = -1};
    o.progress = pi_progress_cb;
    o.progress_data = &p;
    o.cancel = pi_cancel_flag_install();
    pi_progress_cb(0, pd_image_size(src), &p);
    if (!pd_vmdk_stream_write(src, out, &o, &error)) {
        if (p.enabled)
            printf("\n");
        return pi_fail(error, 1);
    }
    pi_progress_end(&p);
    return 0;
}
