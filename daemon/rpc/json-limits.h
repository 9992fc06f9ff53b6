/* The structure limits of an untrusted JSON message, checked over its bytes before json-glib
 * parses it (docs/security.md, rule J): json-glib's parser recurses once per nesting level
 * (75,000 nested arrays overflow the stack) and builds a node per value (8 M values took
 * 764 MB), so neither may reach it. One pass, no allocation, no recursion. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

G_BEGIN_DECLS

typedef struct {
    unsigned max_depth;  /* arrays and objects nested inside each other */
    size_t max_elements; /* values, keys and containers, counted as '[', '{' and ',' */
} PdJsonLimits;

#define PD_JSON_MAX_DEPTH_DEFAULT    64
#define PD_JSON_MAX_ELEMENTS_DEFAULT 100000

/* Scans @len bytes of JSON text (strings and their escapes skipped). Returns true when the
 * text stays within @limits; false with *ret_why set to a static text ("nested deeper than
 * the limit", "more values than the limit"). Text that is not JSON may pass: the parser
 * refuses it. */
bool pd_json_scan(const char *data, size_t len, const PdJsonLimits *limits, const char **ret_why);

G_END_DECLS
