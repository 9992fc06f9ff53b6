/* Secret definitions in libvirt's secret XML (formatsecret), as virsh secret-define takes
 * them and secret-dumpxml shows them:
 *
 *   <secret ephemeral='no' private='yes'>
 *     <uuid>c4b5...</uuid>
 *     <description>CHAP password of the SAN</description>
 *     <usage type='iscsi'><target>libvirtiscsi</target></usage>
 *   </secret>
 *
 * Usage types and their identifying element: iscsi <target>, volume <volume>, ceph, tls and
 * vtpm <name>. The value is never part of the XML (secret-set-value). No I/O. */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

typedef struct {
    char *uuid; /* canonical; generated when the XML has none */
    char *description;
    bool ephemeral;
    bool private_;    /* libvirt's private='yes': the value is never read back */
    char *usage_type; /* "iscsi", "volume", "ceph", "tls", "vtpm" */
    char *usage_id;   /* the target, volume path or name */
} PdSecretDef;

PdSecretDef *pd_secret_def_new(void);
void pd_secret_def_free(PdSecretDef *def); /* NULL is fine */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdSecretDef, pd_secret_def_free)

/* Parses secret XML. NULL with PD_ERROR_INVALID_ARGUMENT naming the element and the cause
 * (malformed XML, no <usage> or its identifying element, an unknown usage type, a malformed
 * UUID, ephemeral or private not yes/no). */
PdSecretDef *pd_secret_def_parse(const char *xml, GError **error);

/* The XML in libvirt's layout (two-space indentation, attributes and elements in its order).
 * Caller frees. */
char *pd_secret_def_format(const PdSecretDef *def);

/* The element that names a secret of @usage_type ("target" for iscsi...), or NULL when the
 * type is unknown. */
const char *pd_secret_usage_element(const char *usage_type);

G_END_DECLS
