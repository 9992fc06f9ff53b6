/* <permissions> of a pool target, volume target or backing store, shared by pool and volume
 * XML: <mode> in octal (at most 0777), <owner> and <group> numeric ids (-1 read as unset, as
 * libvirt once wrote it), <label>. */
#pragma once

#include "xml/xml-util.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

#define PD_PERM_UNSET (-1)

/* Each number PD_PERM_UNSET when absent; label NULL when absent. */
typedef struct {
    int64_t mode; /* 0..0777 */
    int64_t owner;
    int64_t group;
    char *label;
} PdPerms;

/* Sets every field unset. */
void pd_perms_init(PdPerms *perms);
/* Frees the label and sets every field unset. */
void pd_perms_clear(PdPerms *perms);
/* Copies @src into @dst (which must be cleared). */
void pd_perms_copy(PdPerms *dst, const PdPerms *src);
/* True when any field is set. */
bool pd_perms_is_set(const PdPerms *perms);

/* Parses a <permissions> element into @perms (cleared first). @ctx names the owner in errors
 * ("pool 'p1': target"). Returns false with PD_ERROR_INVALID_ARGUMENT on a malformed value. */
bool pd_perms_parse(const xmlNode *node, const char *ctx, PdPerms *perms, GError **error);

/* Writes <permissions> as libvirt does (mode as 0%o), nothing when no field is set. */
void pd_perms_format(PdXmlBuf *buf, const PdPerms *perms);

/* Parses a mode text ("0755", "755") as octal at most 0777. */
bool pd_perms_parse_mode(const char *text, int64_t *ret_mode);

G_END_DECLS
