/* The namespaced extensions of pool XML (private to xml/):
 *
 *   <pool type='netfs' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'
 *                      xmlns:poold='http://poold.io/schemas/storagepool/1.0'>
 *     ... libvirt's elements ...
 *     <fs:mount_opts><fs:option name='nfsvers=3'/></fs:mount_opts>  (libvirt's, fs and netfs)
 *     <poold:netfs mode='userspace' timeout='10'/>                  (poold's, netfs only)
 *   </pool>
 *
 * Elements are recognised by namespace URI (any prefix works on input); output uses the
 * prefixes above, after <target>, as libvirt writes its namespace data. A pool that uses
 * neither is written without any xmlns, byte for byte as libvirt writes it. */
#pragma once

#include "xml/pool-xml.h"
#include "xml/xml-util.h"

#include <stdbool.h>

/* Reads the extensions among the children of <pool> @root into @def. Returns false with a
 * PD_ERROR_INVALID_ARGUMENT naming the pool and the element. */
bool pd_pool_ns_parse(const xmlNode *root, PdPoolDef *def, GError **error);

/* Checks the extension fields of @def for its type (called from pd_pool_def_validate):
 * mount options are dropped for types other than fs and netfs (libvirt ignores them there),
 * refused for a netfs pool in userspace mode; a netfs mode or timeout is refused for other
 * types. */
bool pd_pool_ns_validate(PdPoolDef *def, GError **error);

/* The xmlns declarations the formatted pool needs (" xmlns:fs='...'"), "" when none. Static or
 * caller-freed: caller frees. */
char *pd_pool_ns_declarations(const PdPoolDef *def);

/* Writes the extension elements (nothing when @def uses none). */
void pd_pool_ns_format(PdXmlBuf *buf, const PdPoolDef *def);
