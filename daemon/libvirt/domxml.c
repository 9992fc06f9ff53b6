/* Reading the <disk> elements of a domain's XML. */
#include "daemon/libvirt/domxml.h"

#include "common/pd-error.h"
#include "xml/xml-util.h"

#include <string.h>

void pd_domain_disk_free(PdDomainDisk *disk)
{
    if (!disk)
        return;
    g_free(disk->type);
    g_free(disk->device);
    g_free(disk->target);
    g_free(disk->bus);
    g_free(disk->driver_type);
    g_free(disk->path);
    g_free(disk->protocol);
    g_free(disk->name);
    g_free(disk->host_name);
    g_free(disk->pool);
    g_free(disk->volume);
    g_free(disk->alias);
    g_free(disk->xml);
    g_free(disk);
}

/* The first element child of @parent named @name, or NULL. */
static xmlNode *child(const xmlNode *parent, const char *name)
{
    for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
        if (pd_xml_is(n, name))
            return n;
    return NULL;
}

static void read_source(PdDomainDisk *disk, const xmlNode *source)
{
    if (!source)
        return;
    disk->path = pd_xml_prop(source, "file");
    if (!disk->path)
        disk->path = pd_xml_prop(source, "dev");
    if (!disk->path)
        disk->path = pd_xml_prop(source, "dir");
    disk->protocol = pd_xml_prop(source, "protocol");
    disk->name = pd_xml_prop(source, "name");
    disk->pool = pd_xml_prop(source, "pool");
    disk->volume = pd_xml_prop(source, "volume");
    xmlNode *host = child(source, "host");
    if (host) {
        disk->host_name = pd_xml_prop(host, "name");
        g_autofree char *port = pd_xml_prop(host, "port");
        uint64_t p = 0;
        if (port && pd_xml_parse_u64(port, &p) && p <= 65535)
            disk->host_port = (unsigned)p;
    }
}

/* The text of element @node. Caller frees. */
static char *node_text(xmlNode *node)
{
    xmlBuffer *buf = xmlBufferCreate();
    if (!buf)
        return NULL;
    (void)xmlNodeDump(buf, node->doc, node, 0, 0);
    char *text = g_strdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    return text;
}

/* One <disk>; NULL with an error when it has no target. */
static PdDomainDisk *read_disk(xmlNode *node, const char *what, GError **error)
{
    g_autoptr(PdDomainDisk) disk = g_new0(PdDomainDisk, 1);
    xmlNode *target = child(node, "target");
    disk->target = target ? pd_xml_prop(target, "dev") : NULL;
    if (!disk->target) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "%s: a <disk> element has no <target dev=>", what);
        return NULL;
    }
    disk->bus = pd_xml_prop(target, "bus");
    disk->type = pd_xml_prop(node, "type");
    if (!disk->type)
        disk->type = g_strdup("file");
    disk->device = pd_xml_prop(node, "device");
    if (!disk->device)
        disk->device = g_strdup("disk");
    xmlNode *driver = child(node, "driver");
    disk->driver_type = driver ? pd_xml_prop(driver, "type") : NULL;
    read_source(disk, child(node, "source"));
    disk->readonly = child(node, "readonly") != NULL;
    disk->shareable = child(node, "shareable") != NULL;
    xmlNode *alias = child(node, "alias");
    disk->alias = alias ? pd_xml_prop(alias, "name") : NULL;
    disk->xml = node_text(node);
    return g_steal_pointer(&disk);
}

GPtrArray *pd_domain_disks_parse(const char *xml, const char *what, GError **error)
{
    g_autoptr(xmlDoc) doc = pd_xml_parse_string(xml, "domain", what, error);
    if (!doc)
        return NULL;
    g_autoptr(GPtrArray) disks =
        g_ptr_array_new_with_free_func((GDestroyNotify)pd_domain_disk_free);
    xmlNode *devices = child(xmlDocGetRootElement(doc), "devices");
    for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next) {
        if (!pd_xml_is(n, "disk"))
            continue;
        PdDomainDisk *disk = read_disk(n, what, error);
        if (!disk)
            return NULL;
        g_ptr_array_add(disks, disk);
    }
    return g_steal_pointer(&disks);
}

PdDomainDisk *pd_domain_disks_find(GPtrArray *disks, const char *target)
{
    for (guint i = 0; disks && i < disks->len; i++) {
        PdDomainDisk *d = disks->pdata[i];
        if (g_str_equal(d->target, target))
            return d;
    }
    return NULL;
}

char *pd_domain_disk_source_text(const PdDomainDisk *disk)
{
    if (disk->pool && disk->volume)
        return g_strdup_printf("%s/%s", disk->pool, disk->volume);
    if (disk->path)
        return g_strdup(disk->path);
    if (disk->name)
        return g_strdup(disk->name);
    return g_strdup("-");
}

const char *pd_domain_disk_mode(const PdDomainDisk *disk)
{
    return disk->readonly ? "readonly" : disk->shareable ? "shareable" : NULL;
}
