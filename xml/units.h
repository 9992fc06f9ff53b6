/* Sizes in libvirt XML: <capacity unit='G'>20</capacity> and virsh's "20G".
 *
 * Units exactly as libvirt's virScaleInteger reads them (case-insensitive):
 *   none, b, byte, bytes                  1
 *   k, KiB, m, MiB, g, GiB ... e, EiB     powers of 1024
 *   KB, MB, GB, TB, PB, EB                powers of 1000
 * libvirt always writes sizes back as <capacity unit='bytes'>N</capacity>. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Largest size a volume or pool may have: off_t is signed (libvirt uses the same limit). */
#define PD_XML_SIZE_MAX ((uint64_t)INT64_MAX)

/* Multiplies *value by the scale of @unit (NULL or "" means bytes). Returns false with
 * PD_ERROR_INVALID_ARGUMENT when the unit is unknown or the result would pass @limit;
 * *value is untouched then. @ctx names the object and element for the message. */
bool pd_xml_scale(uint64_t *value, const char *unit, uint64_t limit, const char *ctx,
                  GError **error);

/* Reads an element holding a number and an optional unit attribute (<capacity unit='G'>20
 * </capacity>) into bytes, at most @limit. Errors name @ctx and the element. */
bool pd_xml_parse_scaled(const xmlNode *node, const char *ctx, uint64_t limit, uint64_t *ret,
                         GError **error);

/* Reads virsh's size syntax: a decimal number directly followed by an optional unit
 * ("20G", "1GB", "512MiB", "4096"). */
bool pd_xml_parse_size_text(const char *text, const char *ctx, uint64_t limit, uint64_t *ret,
                            GError **error);

G_END_DECLS
