/* The pool type table and pool-capabilities. */
#include "xml/pool-types.h"

#include "xml/xml-util.h"

#include <string.h>

/* Source formats, in libvirt's enum order (their position is what capabilities list). */
static const char *const fs_formats[] = {
    "auto", "ext2", "ext3", "ext4", "ufs",   "iso9660", "udf", "gfs",
    "gfs2", "vfat", "hfs+", "xfs",  "ocfs2", "vmfs",    NULL,
};
static const char *const netfs_formats[] = {"auto", "nfs", "glusterfs", "cifs", NULL};
static const char *const logical_formats[] = {"unknown", "lvm2", NULL};

/* Volume file formats in libvirt's order. "none" is listed by capabilities but refused in a
 * volume definition, as libvirt does. */
static const char *const file_formats[] = {
    "none", "raw", "dir",   "bochs", "cloop", "dmg",   "iso", "vpc",  "vdi",
    "fat",  "vhd", "ploop", "cow",   "qcow",  "qcow2", "qed", "vmdk", NULL,
};

static const PdPoolTypeInfo pool_types[] = {
    [PD_POOL_DIR] =
        {
            .type = PD_POOL_DIR,
            .name = "dir",
            .volume_formats = file_formats,
            .default_volume_format = "raw",
            .target = PD_POOL_TARGET_PATH,
        },
    [PD_POOL_FS] =
        {
            .type = PD_POOL_FS,
            .name = "fs",
            .allowed = PD_SOURCE_DEVICE | PD_SOURCE_FORMAT,
            .required = PD_SOURCE_DEVICE,
            .max_devices = 1,
            .source_formats = fs_formats,
            .default_source_format = "auto",
            .volume_formats = file_formats,
            .default_volume_format = "raw",
            .target = PD_POOL_TARGET_PATH,
        },
    [PD_POOL_NETFS] =
        {
            .type = PD_POOL_NETFS,
            .name = "netfs",
            .allowed = PD_SOURCE_HOST | PD_SOURCE_DIR | PD_SOURCE_FORMAT | PD_SOURCE_PROTOCOL,
            .required = PD_SOURCE_HOST | PD_SOURCE_DIR,
            .source_formats = netfs_formats,
            .default_source_format = "auto",
            .volume_formats = file_formats,
            .default_volume_format = "raw",
            .target = PD_POOL_TARGET_PATH,
        },
    [PD_POOL_LOGICAL] =
        {
            .type = PD_POOL_LOGICAL,
            .name = "logical",
            .allowed = PD_SOURCE_DEVICE | PD_SOURCE_NAME | PD_SOURCE_FORMAT,
            .required = PD_SOURCE_NAME,
            .max_devices = 64,
            .source_formats = logical_formats,
            .default_source_format = "lvm2",
            .target = PD_POOL_TARGET_DEVNAME,
        },
    [PD_POOL_ISCSI] =
        {
            .type = PD_POOL_ISCSI,
            .name = "iscsi",
            .allowed = PD_SOURCE_HOST | PD_SOURCE_DEVICE | PD_SOURCE_INITIATOR | PD_SOURCE_AUTH,
            .required = PD_SOURCE_HOST | PD_SOURCE_DEVICE,
            .max_devices = 1,
            .target = PD_POOL_TARGET_PATH,
        },
    [PD_POOL_ISCSI_DIRECT] =
        {
            .type = PD_POOL_ISCSI_DIRECT,
            .name = "iscsi-direct",
            .allowed = PD_SOURCE_HOST | PD_SOURCE_DEVICE | PD_SOURCE_INITIATOR | PD_SOURCE_AUTH,
            .required = PD_SOURCE_HOST | PD_SOURCE_DEVICE | PD_SOURCE_INITIATOR,
            .max_devices = 1,
            .target = PD_POOL_TARGET_NONE,
        },
};
G_STATIC_ASSERT(G_N_ELEMENTS(pool_types) == PD_POOL_TYPE_COUNT);

const PdPoolTypeInfo *pd_pool_type_info(PdPoolType type)
{
    g_return_val_if_fail((unsigned)type < PD_POOL_TYPE_COUNT, NULL);
    return &pool_types[type];
}

const PdPoolTypeInfo *pd_pool_type_info_by_name(const char *name)
{
    for (size_t i = 0; name && i < G_N_ELEMENTS(pool_types); i++) {
        if (strcmp(pool_types[i].name, name) == 0)
            return &pool_types[i];
    }
    return NULL;
}

int pd_pool_format_index(const char *const *list, const char *name)
{
    for (int i = 0; list && name && list[i]; i++) {
        if (strcmp(list[i], name) == 0)
            return i;
    }
    return -1;
}

const char *pd_pool_source_element_name(PdPoolSourceElement element)
{
    switch (element) {
    case PD_SOURCE_HOST:
        return "source host name";
    case PD_SOURCE_DEVICE:
        return "source device path";
    case PD_SOURCE_DIR:
        return "source dir path";
    case PD_SOURCE_NAME:
        return "source name";
    case PD_SOURCE_FORMAT:
        return "source format";
    case PD_SOURCE_AUTH:
        return "source auth";
    case PD_SOURCE_INITIATOR:
        return "source initiator iqn";
    case PD_SOURCE_PROTOCOL:
        return "source protocol ver";
    }
    return "source element";
}

/* <enum name='@enum_name'> with one <value> per format, after <defaultFormat>. */
static void format_options(PdXmlBuf *buf, const char *elem, const char *enum_name,
                           const char *const *formats, const char *default_format)
{
    pd_xml_buf_line(buf, "<%s>", elem);
    buf->indent += 2;
    pd_xml_buf_attr_elem(buf, "defaultFormat", "type", default_format);
    pd_xml_buf_line(buf, "<enum name='%s'>", enum_name);
    buf->indent += 2;
    for (size_t i = 0; formats[i]; i++)
        pd_xml_buf_text_elem(buf, "value", formats[i]);
    buf->indent -= 2;
    pd_xml_buf_line(buf, "</enum>");
    buf->indent -= 2;
    pd_xml_buf_line(buf, "</%s>", elem);
}

char *pd_pool_capabilities_format(unsigned supported_types)
{
    g_auto(PdXmlBuf) buf;

    pd_xml_buf_init(&buf);
    pd_xml_buf_open(&buf, "<storagepoolCapabilities>");
    for (size_t i = 0; i < G_N_ELEMENTS(pool_types); i++) {
        const PdPoolTypeInfo *info = &pool_types[i];

        pd_xml_buf_line(&buf, "<pool type='%s' supported='%s'>", info->name,
                        supported_types & (1u << i) ? "yes" : "no");
        buf.indent += 2;
        if (info->source_formats)
            format_options(&buf, "poolOptions", "sourceFormatType", info->source_formats,
                           info->default_source_format);
        if (info->volume_formats)
            format_options(&buf, "volOptions", "targetFormatType", info->volume_formats,
                           info->default_volume_format);
        pd_xml_buf_close(&buf, "</pool>");
    }
    pd_xml_buf_close(&buf, "</storagepoolCapabilities>");
    return pd_xml_buf_steal(&buf);
}
