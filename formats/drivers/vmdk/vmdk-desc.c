/* vmdk text descriptors: createType, CID, parentCID, parentFileNameHint and extent lines,
 * parsed the way qemu 7.2 parses them (the same quirks: first occurrence of a key wins,
 * lines that do not scan as "RW sectors TYPE "name"" are not extents). */
#include "formats/drivers/vmdk/vmdk.h"
#include "common/pd-error.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *vmdk_desc_value(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    if (!p)
        return NULL;
    size_t skip = strlen(key) + 2; /* `="` */
    if (strlen(p) <= skip)
        return NULL;
    p += skip;
    const char *end = strchr(p, '"');
    if (!end || end - p > 127)
        return NULL;
    return g_strndup(p, (gsize)(end - p));
}

bool vmdk_desc_cid(const char *text, bool parent, uint32_t *ret)
{
    const char *key = parent ? "parentCID" : "CID";
    const char *p = strstr(text, key);
    if (!p)
        return false;
    p += strlen(key) + 1; /* the '=' (or whatever stands there, as qemu) */
    if (p > text + strlen(text))
        return false;
    while (isspace((unsigned char)*p))
        p++;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 16);
    if (end == p || *p == '-' || errno == ERANGE)
        return false;
    *ret = (uint32_t)v; /* sscanf %x keeps the low 32 bits */
    return true;
}

bool vmdk_desc_parent(const char *text, char **ret, GError **error)
{
    const char *p = strstr(text, "parentFileNameHint");
    if (!p) {
        *ret = NULL;
        return true;
    }
    p += strlen("parentFileNameHint") + 2;
    if (p > text + strlen(text)) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT, "invalid parentFileNameHint");
        return false;
    }
    const char *end = strchr(p, '"');
    if (!end || end - p > 4095) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "invalid parentFileNameHint (unterminated or longer than 4095 bytes)");
        return false;
    }
    *ret = g_strndup(p, (gsize)(end - p));
    return true;
}

/* ---- extent lines (the sscanf "%10s %ld %10s \"%511[^\n\r\"]\" %ld" of qemu) ---------- */

typedef struct {
    const char *p;
    const char *end; /* the end of the line */
} Scan;

static void skip_space(Scan *s)
{
    while (s->p < s->end && isspace((unsigned char)*s->p))
        s->p++;
}

static bool scan_word(Scan *s, char *out, size_t max)
{
    skip_space(s);
    size_t n = 0;
    while (s->p < s->end && !isspace((unsigned char)*s->p) && n < max)
        out[n++] = *s->p++;
    out[n] = '\0';
    return n > 0;
}

static bool scan_int(Scan *s, int64_t *ret)
{
    skip_space(s);
    const char *q = s->p;
    bool neg = false;
    if (q < s->end && (*q == '+' || *q == '-'))
        neg = *q++ == '-';
    uint64_t v = 0;
    const char *digits = q;
    while (q < s->end && isdigit((unsigned char)*q)) {
        unsigned d = (unsigned)(*q++ - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return false; /* out of range: not a number qemu could use either */
        v = v * 10 + d;
    }
    if (q == digits)
        return false;
    s->p = q;
    *ret = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* How many of the five fields scan (as sscanf's return value). */
static int scan_extent(const char *line, const char *end, char access[11], int64_t *sectors,
                       char type[11], char fname[512], int64_t *offset)
{
    Scan s = {line, end};
    if (!scan_word(&s, access, 10))
        return 0;
    if (!scan_int(&s, sectors))
        return 1;
    if (!scan_word(&s, type, 10))
        return 2;
    skip_space(&s);
    if (s.p >= s.end || *s.p != '"')
        return 3;
    s.p++;
    size_t n = 0;
    while (s.p < s.end && *s.p != '"' && *s.p != '\r' && n < 511)
        fname[n++] = *s.p++;
    fname[n] = '\0';
    if (n == 0)
        return 3;
    if (s.p >= s.end || *s.p != '"')
        return 4; /* sscanf counted the name already */
    s.p++;
    return scan_int(&s, offset) ? 5 : 4;
}

static void extent_line_free(gpointer p)
{
    VmdkExtentLine *l = p;
    g_free(l->filename);
    g_free(l);
}

static bool known_type(const char *type)
{
    return strcmp(type, "FLAT") == 0 || strcmp(type, "SPARSE") == 0 || strcmp(type, "VMFS") == 0 ||
           strcmp(type, "VMFSSPARSE") == 0 || strcmp(type, "SESPARSE") == 0;
}

static bool parse_line(const char *image, const char *p, const char *nl, VmdkDesc *d,
                       GError **error)
{
    char access[11], type[11], fname[512];
    int64_t sectors = 0, offset = -1;
    int m = scan_extent(p, nl, access, &sectors, type, fname, &offset);
    if (m < 4 || strcmp(access, "RW") != 0)
        return true;
    bool bad;
    if (strcmp(type, "FLAT") == 0) {
        bad = m != 5 || offset < 0;
    } else if (strcmp(type, "VMFS") == 0) {
        bad = m != 4;
        offset = 0;
    } else {
        bad = m != 4;
    }
    if (bad) {
        int len = (int)MIN(nl - p, 200);
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT, "Image '%s': invalid extent line: %.*s",
                    image, len, p);
        return false;
    }
    if (sectors <= 0 || !known_type(type))
        return true;
    if (d->lines->len >= VMDK_MAX_EXTENTS) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "Image '%s': more than %d extents in the descriptor", image, VMDK_MAX_EXTENTS);
        return false;
    }
    VmdkExtentLine *l = g_new0(VmdkExtentLine, 1);
    l->sectors = sectors;
    memcpy(l->type, type, sizeof l->type);
    l->filename = g_strdup(fname);
    l->flat_offset = offset;
    g_ptr_array_add(d->lines, l);
    return true;
}

bool vmdk_desc_parse(const char *image, const char *text, VmdkDesc *ret, GError **error)
{
    VmdkDesc d = {0};
    d.create_type = vmdk_desc_value(text, "createType");
    if (!d.create_type) {
        g_set_error(error, PD_ERROR, PD_ERROR_CORRUPT,
                    "Image '%s': invalid VMDK image descriptor (no createType)", image);
        return false;
    }
    d.lines = g_ptr_array_new_with_free_func(extent_line_free);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            nl = p + strlen(p);
        if (!parse_line(image, p, nl, &d, error)) {
            vmdk_desc_clear(&d);
            return false;
        }
        p = *nl ? nl + 1 : nl;
    }
    *ret = d;
    return true;
}

void vmdk_desc_clear(VmdkDesc *desc)
{
    g_free(desc->create_type);
    if (desc->lines)
        g_ptr_array_unref(desc->lines);
    memset(desc, 0, sizeof *desc);
}
