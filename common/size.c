/* Parsing and printing of sizes. */
#include "common/size.h"
#include "common/pd-error.h"

#include <math.h>
#include <string.h>

/* Returns the shift of a suffix (0 for none, 10 for k...), or -1 if it is not one. */
static int suffix_shift(const char *s)
{
    static const char units[] = "bkmgtpe";
    if (*s == '\0')
        return 0;
    const char *u = strchr(units, g_ascii_tolower(*s));
    if (!u)
        return -1;
    int shift = (int)(u - units) * 10;
    s++;
    if (shift > 0) {
        if (*s == 'i' && s[1] == 'B')
            s += 2;
        else if (*s == 'B' || *s == 'b')
            s++;
    }
    return *s == '\0' ? shift : -1;
}

bool pd_parse_size(const char *text, uint64_t *ret_size, GError **error)
{
    if (!text || !g_ascii_isdigit(text[0])) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "Invalid size '%s': expected a number with an optional suffix "
                    "(k, M, G, T, P, E)",
                    text ? text : "");
        return false;
    }
    const char *p = text;
    uint64_t whole = 0;
    bool overflow = false;
    for (; g_ascii_isdigit(*p); p++) {
        if (!pd_mul_u64(whole, 10, &whole) || !pd_add_u64(whole, (uint64_t)(*p - '0'), &whole))
            overflow = true;
    }
    /* A fraction ("1.5G") is kept in 1/1e9 units to stay exact enough for any suffix. */
    uint64_t frac = 0, frac_div = 1;
    if (*p == '.') {
        p++;
        if (!g_ascii_isdigit(*p))
            goto invalid;
        for (; g_ascii_isdigit(*p); p++) {
            if (frac_div < 1000000000ULL) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                frac_div *= 10;
            }
        }
    }
    int shift = suffix_shift(p);
    if (shift < 0)
        goto invalid;
    if (frac && shift == 0)
        goto invalid; /* fractional bytes */
    uint64_t scaled;
    if (overflow || (shift && whole > (UINT64_MAX >> shift)))
        goto too_big;
    scaled = whole << shift;
    if (frac) {
        /* frac/frac_div < 1, so (frac << shift) / frac_div < 2^shift <= 2^60: no overflow
         * when done as 128-bit. */
        unsigned __int128 part = ((unsigned __int128)frac << shift) / frac_div;
        if (!pd_add_u64(scaled, (uint64_t)part, &scaled))
            goto too_big;
    }
    *ret_size = scaled;
    return true;

invalid:
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                "Invalid size '%s': unknown suffix or trailing characters "
                "(use k, M, G, T, P or E)",
                text);
    return false;
too_big:
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                "Invalid size '%s': larger than 2^64-1 bytes", text);
    return false;
}

bool pd_parse_size_delta(const char *text, int *ret_sign, uint64_t *ret_size, GError **error)
{
    int sign = 0;
    if (text && (text[0] == '+' || text[0] == '-')) {
        sign = text[0] == '+' ? 1 : -1;
        text++;
    }
    uint64_t size;
    if (!pd_parse_size(text, &size, error))
        return false;
    *ret_sign = sign;
    *ret_size = size;
    return true;
}

char *pd_format_size(uint64_t bytes)
{
    /* As qemu-img: the unit switches at 1000 of the smaller one ("0.977 KiB" for 1000 B),
     * printed with three significant digits. */
    static const char *const prefixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    int exp2;
    frexp((double)bytes / (1000.0 / 1024.0), &exp2);
    int i = (exp2 - 1) / 10;
    if (i < 0)
        i = 0;
    if (i > 6)
        i = 6;
    double div = (double)(1ULL << (i * 10));
    return g_strdup_printf("%0.3g %sB", (double)bytes / div, prefixes[i]);
}
