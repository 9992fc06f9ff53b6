/* Sizes as users write them: "20G", "512", "1.5T", "+5G", "-1G", "64k".
 *
 * Suffixes are powers of 1024 as in qemu-img: k/K, M, G, T, P, E (an optional trailing "B"
 * or "iB" is accepted); no suffix means bytes. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Parses an absolute size. Returns true and sets *ret_size; on garbage ("12Q"), a sign,
 * a negative value or overflow past 2^64-1 returns false with PD_ERROR_INVALID_ARGUMENT
 * naming the text. *ret_size is untouched on failure. */
bool pd_parse_size(const char *text, uint64_t *ret_size, GError **error);

/* Parses a size that may be relative: "+5G" (ret_sign = +1), "-5G" (-1) or "5G" (0). */
bool pd_parse_size_delta(const char *text, int *ret_sign, uint64_t *ret_size, GError **error);

/* Human text as qemu-img prints it: "20 GiB", "1.5 MiB", "512 B". Caller frees. */
char *pd_format_size(uint64_t bytes);

/* Overflow-checked arithmetic on sizes from files, messages and users:
 * return false when the result does not fit. */
static inline bool pd_add_u64(uint64_t a, uint64_t b, uint64_t *ret)
{
    return !__builtin_add_overflow(a, b, ret);
}
static inline bool pd_mul_u64(uint64_t a, uint64_t b, uint64_t *ret)
{
    return !__builtin_mul_overflow(a, b, ret);
}

G_END_DECLS
