/* Helpers for the XML code: string parsing, child lookup, escaping, indented output. */
#include "xml/xml-util.h"

#include "common/pd-error.h"

#include <libxml/parser.h>
#include <string.h>

xmlDoc *pd_xml_parse_string(const char *text, const char *root_name, const char *what,
                            GError **error)
{
    xmlParserCtxt *ctxt;
    xmlDoc *doc;
    xmlNode *root;
    size_t len;

    if (!text) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "%s: no XML given", what);
        return NULL;
    }
    len = strlen(text);
    if (len > INT_MAX) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "%s: XML too large", what);
        return NULL;
    }
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        g_set_error(error, PD_ERROR, PD_ERROR_FAILED, "%s: cannot create an XML parser", what);
        return NULL;
    }
    /* No network, no entity substitution, no DTD loading: the input is untrusted. */
    doc = xmlCtxtReadMemory(ctxt, text, (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc || !ctxt->wellFormed) {
        const xmlError *err = xmlCtxtGetLastError(ctxt);
        g_autofree char *msg = g_strdup(err && err->message ? err->message : "malformed XML");

        g_strchomp(msg);
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "%s: line %d: %s", what,
                    err ? err->line : 0, msg);
        if (doc)
            xmlFreeDoc(doc);
        xmlFreeParserCtxt(ctxt);
        return NULL;
    }
    xmlFreeParserCtxt(ctxt);

    /* libvirt's XML never has a DTD; refusing one keeps entity expansion (billion laughs,
     * external entities) out entirely. */
    if (doc->intSubset || doc->extSubset) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "%s: a <!DOCTYPE> is not allowed",
                    what);
        xmlFreeDoc(doc);
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    if (!root || !pd_xml_is(root, root_name)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "%s: unexpected root element <%s>, expecting <%s>", what,
                    root ? (const char *)root->name : "", root_name);
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

bool pd_xml_is(const xmlNode *node, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && strcmp((const char *)node->name, name) == 0;
}

bool pd_xml_unique_child(const xmlNode *parent, const char *name, const char *ctx,
                         xmlNode **ret_node, GError **error)
{
    xmlNode *found = NULL;

    for (xmlNode *n = parent->children; n; n = n->next) {
        if (!pd_xml_is(n, name))
            continue;
        if (found) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "%s: element <%s> appears more than once", ctx, name);
            return false;
        }
        found = n;
    }
    *ret_node = found;
    return true;
}

char *pd_xml_text(const xmlNode *node)
{
    xmlChar *content = xmlNodeGetContent(node);
    char *text = g_strstrip(g_strdup(content ? (const char *)content : ""));

    xmlFree(content);
    return text;
}

char *pd_xml_prop(const xmlNode *node, const char *name)
{
    xmlChar *value = xmlGetProp(node, (const xmlChar *)name);
    char *ret;

    if (!value)
        return NULL;
    ret = g_strdup((const char *)value);
    xmlFree(value);
    return ret;
}

bool pd_xml_parse_u64(const char *text, uint64_t *ret)
{
    uint64_t value = 0;
    const char *p = text;

    while (g_ascii_isspace(*p))
        p++;
    if (!g_ascii_isdigit(*p))
        return false;
    for (; g_ascii_isdigit(*p); p++) {
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_add_overflow(value, (uint64_t)(*p - '0'), &value))
            return false;
    }
    while (g_ascii_isspace(*p))
        p++;
    if (*p)
        return false;
    *ret = value;
    return true;
}

char *pd_xml_escape(const char *text)
{
    GString *out = g_string_sized_new(strlen(text) + 8);

    for (const char *p = text; *p; p++) {
        unsigned char c = (unsigned char)*p;

        switch (c) {
        case '&':
            g_string_append(out, "&amp;");
            break;
        case '<':
            g_string_append(out, "&lt;");
            break;
        case '>':
            g_string_append(out, "&gt;");
            break;
        case '\'':
            g_string_append(out, "&apos;");
            break;
        case '"':
            g_string_append(out, "&quot;");
            break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                break;
            g_string_append_c(out, (char)c);
        }
    }
    return g_string_free(out, FALSE);
}

char *pd_xml_uuid_canonical(const char *text)
{
    char hex[33];
    int n = 0;
    const char *p = text;

    while (*p == ' ')
        p++;
    for (; *p && *p != ' '; p++) {
        if (*p == '-')
            continue;
        if (!g_ascii_isxdigit(*p) || n == 32)
            return NULL;
        hex[n++] = g_ascii_tolower(*p);
    }
    while (*p == ' ')
        p++;
    if (*p || n != 32)
        return NULL;
    hex[32] = '\0';
    return g_strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

void pd_xml_buf_init(PdXmlBuf *buf)
{
    buf->str = g_string_new(NULL);
    buf->indent = 0;
}

char *pd_xml_buf_steal(PdXmlBuf *buf)
{
    char *ret = g_string_free(g_steal_pointer(&buf->str), FALSE);

    buf->str = g_string_new(NULL);
    buf->indent = 0;
    return ret;
}

void pd_xml_buf_clear(PdXmlBuf *buf)
{
    if (buf->str)
        g_string_free(g_steal_pointer(&buf->str), TRUE);
}

void pd_xml_buf_line(PdXmlBuf *buf, const char *fmt, ...)
{
    va_list ap;

    for (int i = 0; i < buf->indent; i++)
        g_string_append_c(buf->str, ' ');
    va_start(ap, fmt);
    g_string_append_vprintf(buf->str, fmt, ap);
    va_end(ap);
    g_string_append_c(buf->str, '\n');
}

void pd_xml_buf_open(PdXmlBuf *buf, const char *tag_line)
{
    pd_xml_buf_line(buf, "%s", tag_line);
    buf->indent += 2;
}

void pd_xml_buf_close(PdXmlBuf *buf, const char *tag_line)
{
    buf->indent -= 2;
    pd_xml_buf_line(buf, "%s", tag_line);
}

void pd_xml_buf_text_elem(PdXmlBuf *buf, const char *elem, const char *text)
{
    g_autofree char *escaped = NULL;

    if (!text)
        return;
    escaped = pd_xml_escape(text);
    pd_xml_buf_line(buf, "<%s>%s</%s>", elem, escaped, elem);
}

void pd_xml_buf_attr_elem(PdXmlBuf *buf, const char *elem, const char *attr, const char *value)
{
    g_autofree char *escaped = NULL;

    if (!value)
        return;
    escaped = pd_xml_escape(value);
    pd_xml_buf_line(buf, "<%s %s='%s'/>", elem, attr, escaped);
}
