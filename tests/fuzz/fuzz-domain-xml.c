/* libFuzzer target: domain XML as libvirt answers it (virDomainGetXMLDesc), which poold reads
 * for domblklist, attach/detach checks and reconciliation: a libvirtd at a URI poold is told to
 * use is not trusted to send well-formed XML.
 *
 * Whatever parses must give disks with a target, a type and a device, and every disk's own XML
 * (what detach-disk hands back to libvirt) must parse again, inside a <domain>, to a disk with
 * the same target and source. Errors are the expected outcome for most inputs; crashes, leaks
 * and broken round trips are bugs. Replayed over tests/fuzz/corpus-domain-xml/. */
#include "daemon/libvirt/domxml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_disk(const PdDomainDisk *d)
{
    if (!d->target || !d->type || !d->device || !d->xml)
        abort();
    g_autofree char *source = pd_domain_disk_source_text(d);
    g_autofree char *wrapped = g_strdup_printf("<domain><devices>%s</devices></domain>", d->xml);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) again = pd_domain_disks_parse(wrapped, "fuzz", &error);
    if (!again || again->len != 1)
        abort(); /* the element detach-disk sends back is not a disk any more */
    PdDomainDisk *e = again->pdata[0];
    g_autofree char *source2 = pd_domain_disk_source_text(e);
    if (strcmp(d->target, e->target) != 0 || strcmp(source, source2) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    g_autofree char *xml = g_strndup((const char *)data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) disks = pd_domain_disks_parse(xml, "fuzz", &error);
    for (guint i = 0; disks && i < disks->len; i++)
        check_disk(disks->pdata[i]);
    return 0;
}
