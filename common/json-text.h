/* Writing JSON text directly: poold's answers too large to build as a json-glib tree first
 * (pd_call_reply_text), poolimg's --output=json. The caller writes the braces and commas; these write one member or
 * value each. Strings are escaped as RFC 8259 says (quotation mark, reverse solidus and the
 * control characters); other bytes, UTF-8 included, are copied. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* "@s" (escaped), or null when @s is NULL. */
void pd_json_text_string(GString *out, const char *s);
/* "name":"value" (value NULL: null) */
void pd_json_text_member_string(GString *out, const char *name, const char *value);
/* "name":123 */
void pd_json_text_member_int(GString *out, const char *name, int64_t value);

G_END_DECLS
