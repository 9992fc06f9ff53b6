/* Size units as libvirt reads them (see units.h for the table). */
#include "xml/units.h"

#include "common/pd-error.h"
#include "xml/xml-util.h"

#include <string.h>

/* The multiplier of @unit, or 0 when libvirt would not recognise it. */
static uint64_t unit_scale(const char *unit)
{
    unsigned base;
    int power;

    if (!unit || !*unit || g_ascii_strcasecmp(unit, "b") == 0 ||
        g_ascii_strcasecmp(unit, "byte") == 0 || g_ascii_strcasecmp(unit, "bytes") == 0)
        return 1;
    if (!unit[1] || g_ascii_strcasecmp(unit + 1, "iB") == 0)
        base = 1024;
    else if (g_ascii_tolower(unit[1]) == 'b' && !unit[2])
        base = 1000;
    else
        return 0;

    switch (g_ascii_tolower(unit[0])) {
    case 'k':
        power = 1;
        break;
    case 'm':
        power = 2;
        break;
    case 'g':
        power = 3;
        break;
    case 't':
        power = 4;
        break;
    case 'p':
        power = 5;
        break;
    case 'e':
        power = 6;
        break;
    default:
        return 0;
    }
    uint64_t scale = 1;
    while (power--)
        scale *= base;
    return scale;
}

bool pd_xml_scale(uint64_t *value, const char *unit, uint64_t limit, const char *ctx,
                  GError **error)
{
    uint64_t scale = unit_scale(unit);

    if (scale == 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "%s: unknown unit '%s' (use b, KiB, MiB, GiB, TiB, KB, MB, GB, TB, "
                    "K, M, G, T, P, E...)",
                    ctx, unit);
        return false;
    }
    if (*value > limit / scale) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "%s: value %" G_GUINT64_FORMAT "%s is too large (limit %" G_GUINT64_FORMAT
                    " bytes)",
                    ctx, *value, unit ? unit : "", limit);
        return false;
    }
    *value *= scale;
    return true;
}

bool pd_xml_parse_scaled(const xmlNode *node, const char *ctx, uint64_t limit, uint64_t *ret,
                         GError **error)
{
    g_autofree char *text = pd_xml_text(node);
    g_autofree char *unit = pd_xml_prop(node, "unit");
    g_autofree char *what = g_strdup_printf("%s: <%s>", ctx, (const char *)node->name);
    uint64_t value;

    if (!pd_xml_parse_u64(text, &value)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "%s: malformed size '%s' (expected a non-negative decimal integer)", what,
                    text);
        return false;
    }
    if (!pd_xml_scale(&value, unit, limit, what, error))
        return false;
    *ret = value;
    return true;
}

bool pd_xml_parse_size_text(const char *text, const char *ctx, uint64_t limit, uint64_t *ret,
                            GError **error)
{
    g_autofree char *digits = NULL;
    const char *unit = text;
    uint64_t value;

    while (g_ascii_isdigit(*unit))
        unit++;
    digits = g_strndup(text, unit - text);
    if (!*digits || !pd_xml_parse_u64(digits, &value)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "%s: malformed size '%s' (expected a number with an optional unit, "
                    "like 20G or 512MiB)",
                    ctx, text);
        return false;
    }
    if (!pd_xml_scale(&value, unit, limit, ctx, error))
        return false;
    *ret = value;
    return true;
}
