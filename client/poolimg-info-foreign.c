/* poolimg info: the "Format specific information" of the read-only formats (vmdk), in
 * qemu-img's words, order and keys. */
#include "client/poolimg.h"

#include <stdio.h>

void pi_info_foreign_human(const PdImageInfo *i)
{
    if (i->format != PD_FORMAT_VMDK)
        return;
    printf("Format specific information:\n    cid: %u\n    parent cid: %u\n    create type: %s\n",
           i->cid, i->parent_cid, i->create_type ? i->create_type : "");
    if (!i->extents)
        return;
    printf("    extents:\n");
    for (guint k = 0; k < i->extents->len; k++) {
        const PdExtentInfo *e = &g_array_index(i->extents, PdExtentInfo, k);
        printf("        [%u]:\n", k);
        if (e->compressed)
            printf("            compressed: true\n");
        printf("            virtual size: %" G_GUINT64_FORMAT "\n            filename: %s\n",
               e->virtual_size, e->filename);
        if (e->cluster_size)
            printf("            cluster size: %" G_GUINT64_FORMAT "\n", e->cluster_size);
        printf("            format: %s\n", e->format);
    }
}

JsonObject *pi_info_foreign_json(const PdImageInfo *i)
{
    if (i->format != PD_FORMAT_VMDK)
        return NULL;
    JsonObject *data = json_object_new();
    json_object_set_int_member(data, "cid", i->cid);
    json_object_set_int_member(data, "parent-cid", i->parent_cid);
    json_object_set_string_member(data, "create-type", i->create_type ? i->create_type : "");
    JsonArray *arr = json_array_new();
    for (guint k = 0; i->extents && k < i->extents->len; k++) {
        const PdExtentInfo *e = &g_array_index(i->extents, PdExtentInfo, k);
        JsonObject *x = json_object_new();
        if (e->compressed)
            json_object_set_boolean_member(x, "compressed", TRUE);
        json_object_set_int_member(x, "virtual-size", (gint64)e->virtual_size);
        json_object_set_string_member(x, "filename", e->filename);
        if (e->cluster_size)
            json_object_set_int_member(x, "cluster-size", (gint64)e->cluster_size);
        json_object_set_string_member(x, "format", e->format);
        json_array_add_object_element(arr, x);
    }
    json_object_set_array_member(data, "extents", arr);
    JsonObject *spec = json_object_new();
    json_object_set_string_member(spec, "type", pd_format_name(i->format));
    json_object_set_object_member(spec, "data", data);
    return spec;
}
