/* Writing JSON text directly (json-text.h). */
#include "common/json-text.h"

#include <string.h>

void pd_json_text_string(GString *out, const char *s)
{
    if (!s) {
        g_string_append(out, "null");
        return;
    }
    g_string_append_c(out, '"');
    const char *run = s; /* bytes copied as they are, up to the next one to escape */
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        g_string_append_len(out, run, p - run);
        switch (c) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        case '\b':
            g_string_append(out, "\\b");
            break;
        case '\f':
            g_string_append(out, "\\f");
            break;
        default:
            g_string_append_printf(out, "\\u%04x", c);
            break;
        }
        run = p + 1;
    }
    g_string_append(out, run);
    g_string_append_c(out, '"');
}

void pd_json_text_member_string(GString *out, const char *name, const char *value)
{
    pd_json_text_string(out, name);
    g_string_append_c(out, ':');
    pd_json_text_string(out, value);
}

void pd_json_text_member_int(GString *out, const char *name, int64_t value)
{
    pd_json_text_string(out, name);
    /* digits by hand: printf costs more than the rest of a volume's member */
    char digits[21];
    int n = 0;
    uint64_t u = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    g_string_append_c(out, ':');
    if (value < 0)
        g_string_append_c(out, '-');
    while (n > 0)
        g_string_append_c(out, digits[--n]);
}
