/* <permissions> parse and format (see perms.h). */
#include "xml/perms.h"

#include "common/pd-error.h"

#include <string.h>

void pd_perms_init(PdPerms *perms)
{
    perms->mode = PD_PERM_UNSET;
    perms->owner = PD_PERM_UNSET;
    perms->group = PD_PERM_UNSET;
    perms->label = NULL;
}

void pd_perms_clear(PdPerms *perms)
{
    g_clear_pointer(&perms->label, g_free);
    pd_perms_init(perms);
}

void pd_perms_copy(PdPerms *dst, const PdPerms *src)
{
    *dst = *src;
    dst->label = g_strdup(src->label);
}

bool pd_perms_is_set(const PdPerms *perms)
{
    return perms->mode != PD_PERM_UNSET || perms->owner != PD_PERM_UNSET ||
           perms->group != PD_PERM_UNSET || perms->label;
}

bool pd_perms_parse_mode(const char *text, int64_t *ret_mode)
{
    int64_t mode = 0;
    const char *p = text;

    while (g_ascii_isspace(*p))
        p++;
    if (*p < '0' || *p > '7')
        return false;
    for (; *p >= '0' && *p <= '7'; p++) {
        mode = mode * 8 + (*p - '0');
        if (mode > 0777)
            return false;
    }
    while (g_ascii_isspace(*p))
        p++;
    if (*p)
        return false;
    *ret_mode = mode;
    return true;
}

/* Parses <owner> or <group>: a uid/gid, or -1 meaning unset. */
static bool parse_id(const xmlNode *node, const char *ctx, int64_t *ret, GError **error)
{
    g_autofree char *text = pd_xml_text(node);
    const char *digits = text[0] == '-' ? text + 1 : text;
    uint64_t value;

    if (!pd_xml_parse_u64(digits, &value) || value > UINT32_MAX - 1 ||
        (text[0] == '-' && value != 1)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "%s: malformed <%s> '%s' in permissions (expected a numeric id)", ctx,
                    (const char *)node->name, text);
        return false;
    }
    *ret = text[0] == '-' ? PD_PERM_UNSET : (int64_t)value;
    return true;
}

bool pd_perms_parse(const xmlNode *node, const char *ctx, PdPerms *perms, GError **error)
{
    xmlNode *mode = NULL, *owner = NULL, *group = NULL, *label = NULL;

    pd_perms_clear(perms);
    if (!pd_xml_unique_child(node, "mode", ctx, &mode, error) ||
        !pd_xml_unique_child(node, "owner", ctx, &owner, error) ||
        !pd_xml_unique_child(node, "group", ctx, &group, error) ||
        !pd_xml_unique_child(node, "label", ctx, &label, error))
        return false;

    if (mode) {
        g_autofree char *text = pd_xml_text(mode);

        if (!pd_perms_parse_mode(text, &perms->mode)) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "%s: malformed octal mode '%s' in permissions (expected 0000 to 0777)", ctx,
                        text);
            return false;
        }
    }
    if (owner && !parse_id(owner, ctx, &perms->owner, error))
        return false;
    if (group && !parse_id(group, ctx, &perms->group, error))
        return false;
    if (label)
        perms->label = pd_xml_text(label);
    return true;
}

void pd_perms_format(PdXmlBuf *buf, const PdPerms *perms)
{
    if (!pd_perms_is_set(perms))
        return;
    pd_xml_buf_open(buf, "<permissions>");
    if (perms->mode != PD_PERM_UNSET)
        pd_xml_buf_line(buf, "<mode>0%o</mode>", (unsigned)perms->mode);
    if (perms->owner != PD_PERM_UNSET)
        pd_xml_buf_line(buf, "<owner>%" G_GINT64_FORMAT "</owner>", perms->owner);
    if (perms->group != PD_PERM_UNSET)
        pd_xml_buf_line(buf, "<group>%" G_GINT64_FORMAT "</group>", perms->group);
    pd_xml_buf_text_elem(buf, "label", perms->label);
    pd_xml_buf_close(buf, "</permissions>");
}
