/* Small helpers shared by the pool and volume XML code: parsing a string with libxml2
 * (no network, no entity expansion, no I/O), walking element children, and an indenting
 * output buffer that escapes text the way libvirt does (&lt; &gt; &amp; &apos; &quot;).
 *
 * Nothing here logs; every failure is a PD_ERROR_INVALID_ARGUMENT GError. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)

/* Parses @text into a document whose root element must be named @root_name. @what names the
 * document in errors ("pool XML"). Returns NULL with an error carrying libxml2's message and
 * line on malformed input or a wrong root. Caller frees the document. */
xmlDoc *pd_xml_parse_string(const char *text, const char *root_name, const char *what,
                            GError **error);

/* True when @node is an element named @name. */
bool pd_xml_is(const xmlNode *node, const char *name);

/* The only element child of @parent named @name, or NULL when there is none. Sets *ret_node
 * and returns true; returns false with an error "@ctx: element <@name> appears more than once"
 * when there are two. */
bool pd_xml_unique_child(const xmlNode *parent, const char *name, const char *ctx,
                         xmlNode **ret_node, GError **error);

/* The text content of @node with surrounding whitespace removed; "" when empty. Caller
 * frees. */
char *pd_xml_text(const xmlNode *node);

/* The value of attribute @name of @node, or NULL when absent. Caller frees. */
char *pd_xml_prop(const xmlNode *node, const char *name);

/* Parses a whole unsigned decimal number (surrounding whitespace allowed, no sign).
 * Returns false on anything else or on overflow; *ret untouched then. */
bool pd_xml_parse_u64(const char *text, uint64_t *ret);

/* Text escaped for an attribute or element: & < > ' " become entities; control characters
 * other than tab, newline and carriage return are dropped, as libvirt does. Caller frees. */
char *pd_xml_escape(const char *text);

/* Checks a UUID in libvirt's forgiving syntax (32 hex digits, dashes anywhere, surrounding
 * spaces) and returns it canonical: lower case, 8-4-4-4-12. NULL when malformed. */
char *pd_xml_uuid_canonical(const char *text);

/* An output buffer with libvirt's two-space indentation. */
typedef struct {
    GString *str;
    int indent;
} PdXmlBuf;

void pd_xml_buf_init(PdXmlBuf *buf);
/* Returns the text and empties the buffer; caller frees. */
char *pd_xml_buf_steal(PdXmlBuf *buf);
void pd_xml_buf_clear(PdXmlBuf *buf);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PdXmlBuf, pd_xml_buf_clear)

/* One line: indentation, the formatted text (not escaped: pass escaped strings), newline. */
void pd_xml_buf_line(PdXmlBuf *buf, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* A line that opens an element ("<target>") and indents what follows. */
void pd_xml_buf_open(PdXmlBuf *buf, const char *tag_line);
/* Unindents and writes the closing line ("</target>"). */
void pd_xml_buf_close(PdXmlBuf *buf, const char *tag_line);
/* <@elem>escaped @text</@elem>; nothing when @text is NULL. */
void pd_xml_buf_text_elem(PdXmlBuf *buf, const char *elem, const char *text);
/* <@elem @attr='escaped @value'/>; nothing when @value is NULL. */
void pd_xml_buf_attr_elem(PdXmlBuf *buf, const char *elem, const char *attr, const char *value);

G_END_DECLS
