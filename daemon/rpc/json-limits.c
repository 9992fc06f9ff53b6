/* The structure limits of a JSON message, over its bytes (json-limits.h). */
#include "daemon/rpc/json-limits.h"

#include <string.h>

/* The end of the string whose opening quote is at @p (the byte after its closing quote), or
 * @end when it is not closed. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return end;
        size_t n = 0; /* backslashes right before the quote */
        while (q - n > p && q[-1 - (ptrdiff_t)n] == '\\')
            n++;
        if (n % 2 == 0)
            return q + 1;
        p = q;
    }
    return end;
}

bool pd_json_scan(const char *data, size_t len, const PdJsonLimits *limits, const char **ret_why)
{
    const char *p = data, *end = data + len;
    size_t depth = 0, elements = 0;
    while (p < end) {
        switch (*p) {
        case '"':
            p = skip_string(p, end);
            continue;
        case '[':
        case '{':
            if (++depth > limits->max_depth) {
                *ret_why = "JSON nested deeper than the limit (max_json_depth)";
                return false;
            }
            G_GNUC_FALLTHROUGH; /* a container is a value */
        case ',':
            if (++elements > limits->max_elements) {
                *ret_why = "more JSON values than the limit (max_json_elements)";
                return false;
            }
            break;
        case ']':
        case '}':
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
        p++;
    }
    return true;
}
