/* libvirt's secret XML: parse and format (see secret-xml.h). */
#include "xml/secret-xml.h"

#include "common/pd-error.h"
#include "xml/xml-util.h"

#include <stdarg.h>
#include <string.h>

static const struct {
    const char *type;
    const char *element;
} usages[] = {
    {"iscsi", "target"}, {"volume", "volume"}, {"ceph", "name"}, {"tls", "name"}, {"vtpm", "name"},
};

const char *pd_secret_usage_element(const char *usage_type)
{
    for (size_t i = 0; usage_type && i < G_N_ELEMENTS(usages); i++) {
        if (strcmp(usages[i].type, usage_type) == 0)
            return usages[i].element;
    }
    return NULL;
}

PdSecretDef *pd_secret_def_new(void)
{
    PdSecretDef *def = g_new0(PdSecretDef, 1);
    def->uuid = g_uuid_string_random();
    return def;
}

void pd_secret_def_free(PdSecretDef *def)
{
    if (!def)
        return;
    g_free(def->uuid);
    g_free(def->description);
    g_free(def->usage_type);
    g_free(def->usage_id);
    g_free(def);
}

static bool G_GNUC_PRINTF(2, 3) fail(GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "secret: %s", msg);
    return false;
}

/* ephemeral='yes|no', private='yes|no'; absent = no. */
static bool parse_yes_no(const xmlNode *root, const char *attr, bool *ret, GError **error)
{
    g_autofree char *v = pd_xml_prop(root, attr);
    if (!v || strcmp(v, "no") == 0)
        *ret = false;
    else if (strcmp(v, "yes") == 0)
        *ret = true;
    else
        return fail(error, "attribute '%s' must be 'yes' or 'no'", attr);
    return true;
}

static bool parse_usage(const xmlNode *root, PdSecretDef *def, GError **error)
{
    xmlNode *usage = NULL;
    if (!pd_xml_unique_child(root, "usage", "secret", &usage, error))
        return false;
    if (!usage)
        return fail(error, "element <usage> is required (%s)",
                    "<usage type='iscsi'><target>NAME</target></usage>");
    def->usage_type = pd_xml_prop(usage, "type");
    const char *element = pd_secret_usage_element(def->usage_type);
    if (!def->usage_type)
        return fail(error, "attribute 'type' of <usage> is missing (%s)",
                    "iscsi, volume, ceph, tls or vtpm");
    if (!element)
        return fail(error, "usage type '%s' is not supported (iscsi, volume, ceph, tls or vtpm)",
                    def->usage_type);
    xmlNode *id = NULL;
    if (!pd_xml_unique_child(usage, element, "secret usage", &id, error))
        return false;
    def->usage_id = id ? pd_xml_text(id) : NULL;
    if (!def->usage_id || !*def->usage_id)
        return fail(error, "element <%s> of <usage> is required and must not be empty", element);
    return true;
}

static bool parse_uuid(const xmlNode *root, PdSecretDef *def, GError **error)
{
    xmlNode *node = NULL;
    if (!pd_xml_unique_child(root, "uuid", "secret", &node, error))
        return false;
    if (!node)
        return true; /* the generated one stays */
    g_autofree char *text = pd_xml_text(node);
    g_autofree char *canon = pd_xml_uuid_canonical(text);
    if (!canon)
        return fail(error, "malformed uuid '%s'", text);
    g_free(def->uuid);
    def->uuid = g_steal_pointer(&canon);
    return true;
}

PdSecretDef *pd_secret_def_parse(const char *xml, GError **error)
{
    g_autoptr(xmlDoc) doc = pd_xml_parse_string(xml, "secret", "secret XML", error);
    if (!doc)
        return NULL;
    const xmlNode *root = xmlDocGetRootElement(doc);
    g_autoptr(PdSecretDef) def = pd_secret_def_new();
    xmlNode *desc = NULL;
    if (!parse_yes_no(root, "ephemeral", &def->ephemeral, error) ||
        !parse_yes_no(root, "private", &def->private_, error) || !parse_uuid(root, def, error) ||
        !pd_xml_unique_child(root, "description", "secret", &desc, error) ||
        !parse_usage(root, def, error))
        return NULL;
    def->description = desc ? pd_xml_text(desc) : NULL;
    return g_steal_pointer(&def);
}

char *pd_secret_def_format(const PdSecretDef *def)
{
    g_auto(PdXmlBuf) buf;
    pd_xml_buf_init(&buf);
    pd_xml_buf_line(&buf, "<secret ephemeral='%s' private='%s'>", def->ephemeral ? "yes" : "no",
                    def->private_ ? "yes" : "no");
    buf.indent += 2;
    pd_xml_buf_text_elem(&buf, "uuid", def->uuid);
    if (def->description && *def->description)
        pd_xml_buf_text_elem(&buf, "description", def->description);
    g_autofree char *type = pd_xml_escape(def->usage_type);
    g_autofree char *open = g_strdup_printf("<usage type='%s'>", type);
    pd_xml_buf_open(&buf, open);
    pd_xml_buf_text_elem(&buf, pd_secret_usage_element(def->usage_type), def->usage_id);
    pd_xml_buf_close(&buf, "</usage>");
    pd_xml_buf_close(&buf, "</secret>");
    return pd_xml_buf_steal(&buf);
}
