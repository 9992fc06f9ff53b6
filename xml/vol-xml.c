/* Volume XML: parse, validate against the pool type's volume formats, format. */
#include "xml/vol-xml.h"

#include "common/pd-error.h"
#include "xml/pool-xml.h"
#include "xml/units.h"
#include "xml/xml-util.h"

#include <string.h>

static const char *const vol_type_names[] = {
    [PD_VOL_FILE] = "file",       [PD_VOL_BLOCK] = "block",   [PD_VOL_DIR] = "dir",
    [PD_VOL_NETWORK] = "network", [PD_VOL_NETDIR] = "netdir", [PD_VOL_PLOOP] = "ploop",
};
G_STATIC_ASSERT(G_N_ELEMENTS(vol_type_names) == PD_VOL_TYPE_COUNT);

/* Sets "volume 'NAME': message" (or "volume: message" before the name is known). */
static void G_GNUC_PRINTF(4, 5)
    vol_error(GError **error, int code, const char *vol_name, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (vol_name)
        g_set_error(error, PD_ERROR, code, "volume '%s': %s", vol_name, msg);
    else
        g_set_error(error, PD_ERROR, code, "volume: %s", msg);
}

const char *pd_vol_type_name(PdVolType type)
{
    return (unsigned)type < PD_VOL_TYPE_COUNT ? vol_type_names[type] : NULL;
}

static void clear_extent(void *data)
{
    PdVolExtent *extent = data;

    g_free(extent->device);
}

PdVolDef *pd_vol_def_new(PdPoolType pool_type)
{
    PdVolDef *def = g_new0(PdVolDef, 1);

    def->pool_type = pool_type;
    def->type = PD_VOL_FILE;
    def->extents = g_array_new(FALSE, TRUE, sizeof(PdVolExtent));
    g_array_set_clear_func(def->extents, clear_extent);
    pd_perms_init(&def->target_perms);
    pd_vol_timestamps_init(&def->target_timestamps);
    return def;
}

void pd_vol_timestamps_init(PdVolTimestamps *ts)
{
    ts->present = false;
    ts->atime = ts->mtime = ts->ctime = ts->btime = (PdTimestamp){0, -1};
}

PdVolBacking *pd_vol_backing_new(void)
{
    PdVolBacking *backing = g_new0(PdVolBacking, 1);

    pd_perms_init(&backing->perms);
    pd_vol_timestamps_init(&backing->timestamps);
    return backing;
}

void pd_vol_backing_free(PdVolBacking *backing)
{
    if (!backing)
        return;
    g_free(backing->path);
    g_free(backing->format);
    g_free(backing->untrusted);
    pd_perms_clear(&backing->perms);
    g_free(backing);
}

void pd_vol_def_free(PdVolDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->key);
    g_array_unref(def->extents);
    g_free(def->target_path);
    g_free(def->target_format);
    pd_perms_clear(&def->target_perms);
    g_free(def->compat);
    pd_vol_backing_free(def->backing);
    g_free(def);
}

/* Reads <format type='...'/> below @parent into *ret_format (NULL when absent). */
static bool parse_format(const xmlNode *parent, const char *ctx, char **ret_format, GError **error)
{
    xmlNode *node = NULL;

    if (!pd_xml_unique_child(parent, "format", ctx, &node, error))
        return false;
    if (!node)
        return true;
    *ret_format = pd_xml_prop(node, "type");
    if (!*ret_format || !**ret_format) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "%s: attribute 'type' of <format> is missing or empty", ctx);
        return false;
    }
    return true;
}

/* Reads "SEC" or "SEC.FRACTION" (at most 9 digits) of a timestamp element. */
static bool parse_timestamp(const xmlNode *node, const char *ctx, PdTimestamp *ts, GError **error)
{
    g_autofree char *text = pd_xml_text(node);
    char *dot = strchr(text, '.');
    uint64_t sec, frac = 0;
    size_t digits = dot ? strlen(dot + 1) : 0;

    if (dot)
        *dot = '\0';
    if (!pd_xml_parse_u64(text, &sec) || sec > INT64_MAX || digits > 9 ||
        (dot && digits && (!pd_xml_parse_u64(dot + 1, &frac) || !g_ascii_isdigit(dot[1])))) {
        if (dot)
            *dot = '.';
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "%s: malformed <%s> '%s' in timestamps (expected seconds[.nanoseconds])", ctx,
                    (const char *)node->name, text);
        return false;
    }
    for (size_t i = digits; i < 9; i++)
        frac *= 10;
    ts->sec = (int64_t)sec;
    ts->nsec = (int64_t)frac;
    return true;
}

/* <timestamps><atime>..</atime><mtime>..</mtime><ctime>..</ctime><btime>..</btime> */
static bool parse_timestamps(const xmlNode *node, const char *ctx, PdVolTimestamps *ts,
                             GError **error)
{
    static const char *const names[] = {"atime", "mtime", "ctime", "btime"};
    PdTimestamp *fields[] = {&ts->atime, &ts->mtime, &ts->ctime, &ts->btime};

    ts->present = true;
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        xmlNode *child = NULL;

        if (!pd_xml_unique_child(node, names[i], ctx, &child, error))
            return false;
        if (child && !parse_timestamp(child, ctx, fields[i], error))
            return false;
    }
    return true;
}

/* Reads <path>, <format>, <permissions> and <timestamps> of a <target> or <backingStore>. */
static bool parse_file_elems(const xmlNode *parent, const char *ctx, char **ret_path,
                             char **ret_format, PdPerms *perms, PdVolTimestamps *ts, GError **error)
{
    xmlNode *path = NULL, *pnode = NULL, *tnode = NULL;

    if (!pd_xml_unique_child(parent, "path", ctx, &path, error) ||
        !pd_xml_unique_child(parent, "permissions", ctx, &pnode, error) ||
        !pd_xml_unique_child(parent, "timestamps", ctx, &tnode, error) ||
        !parse_format(parent, ctx, ret_format, error))
        return false;
    if (path) {
        *ret_path = pd_xml_text(path);
        if (!**ret_path)
            g_clear_pointer(ret_path, g_free);
    }
    if (tnode && !parse_timestamps(tnode, ctx, ts, error))
        return false;
    return !pnode || pd_perms_parse(pnode, ctx, perms, error);
}

/* <features><lazy_refcounts/></features>: any other feature is refused. */
static bool parse_features(const xmlNode *node, PdVolDef *def, GError **error)
{
    def->has_features = true;
    for (const xmlNode *n = node->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (!pd_xml_is(n, "lazy_refcounts")) {
            vol_error(error, PD_ERROR_UNSUPPORTED, def->name,
                      "target: unsupported feature <%s> (only lazy_refcounts)",
                      (const char *)n->name);
            return false;
        }
        def->lazy_refcounts = true;
    }
    return true;
}

/* <target>: path, format, permissions, compat, clusterSize, features, nocow. */
static bool parse_target(const xmlNode *node, PdVolDef *def, GError **error)
{
    g_autofree char *ctx = g_strdup_printf("volume '%s': target", def->name);
    xmlNode *compat = NULL, *cluster = NULL, *features = NULL, *nocow = NULL;
    xmlNode *encryption = NULL;

    if (!parse_file_elems(node, ctx, &def->target_path, &def->target_format, &def->target_perms,
                          &def->target_timestamps, error))
        return false;
    if (!pd_xml_unique_child(node, "encryption", ctx, &encryption, error))
        return false;
    if (encryption) {
        vol_error(error, PD_ERROR_UNSUPPORTED, def->name,
                  "target encryption is not supported (poold creates no encrypted volumes)");
        return false;
    }
    if (!pd_xml_unique_child(node, "compat", ctx, &compat, error) ||
        !pd_xml_unique_child(node, "clusterSize", ctx, &cluster, error) ||
        !pd_xml_unique_child(node, "features", ctx, &features, error) ||
        !pd_xml_unique_child(node, "nocow", ctx, &nocow, error))
        return false;
    if (compat)
        def->compat = pd_xml_text(compat);
    if (cluster && !pd_xml_parse_scaled(cluster, ctx, UINT64_MAX, &def->cluster_size, error))
        return false;
    if (features && !parse_features(features, def, error))
        return false;
    def->nocow = nocow != NULL;
    return true;
}

static bool parse_backing(const xmlNode *node, PdVolDef *def, GError **error)
{
    g_autofree char *ctx = g_strdup_printf("volume '%s': backingStore", def->name);
    g_autoptr(PdVolBacking) backing = pd_vol_backing_new();

    if (!parse_file_elems(node, ctx, &backing->path, &backing->format, &backing->perms,
                          &backing->timestamps, error))
        return false;
    if (!backing->path) {
        vol_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                  "backingStore: element <path> is required");
        return false;
    }
    backing->format_given = backing->format != NULL;
    def->backing = g_steal_pointer(&backing);
    return true;
}

/* <extent start='S' end='E'/> of <device path='P'>, appended to def->extents. */
static bool parse_extent(const xmlNode *node, const char *device, PdVolDef *def, GError **error)
{
    g_autofree char *start = pd_xml_prop(node, "start");
    g_autofree char *end = pd_xml_prop(node, "end");
    PdVolExtent extent = {0};

    if (!start || !end || !pd_xml_parse_u64(start, &extent.start) ||
        !pd_xml_parse_u64(end, &extent.end) || extent.end < extent.start) {
        vol_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                  "source device '%s': malformed <extent> (start and end in bytes, end >= start)",
                  device);
        return false;
    }
    extent.device = g_strdup(device);
    g_array_append_val(def->extents, extent);
    return true;
}

/* <source><device path='P'><extent .../>...</device>...</source> */
static bool parse_source(const xmlNode *node, PdVolDef *def, GError **error)
{
    for (const xmlNode *dev = node->children; dev; dev = dev->next) {
        g_autofree char *path = NULL;

        if (!pd_xml_is(dev, "device"))
            continue;
        path = pd_xml_prop(dev, "path");
        if (!path || !*path) {
            vol_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                      "source: attribute 'path' of <device> is missing or empty");
            return false;
        }
        for (const xmlNode *ext = dev->children; ext; ext = ext->next) {
            if (pd_xml_is(ext, "extent") && !parse_extent(ext, path, def, error))
                return false;
        }
    }
    return true;
}

/* <capacity>, <allocation>, <physical>; each optional here, checked by validate. */
static bool parse_sizes(const xmlNode *root, PdVolDef *def, GError **error)
{
    g_autofree char *ctx = g_strdup_printf("volume '%s'", def->name);
    xmlNode *capacity = NULL, *allocation = NULL, *physical = NULL;

    if (!pd_xml_unique_child(root, "capacity", ctx, &capacity, error) ||
        !pd_xml_unique_child(root, "allocation", ctx, &allocation, error) ||
        !pd_xml_unique_child(root, "physical", ctx, &physical, error))
        return false;
    if (capacity) {
        if (!pd_xml_parse_scaled(capacity, ctx, PD_XML_SIZE_MAX, &def->capacity, error))
            return false;
        def->has_capacity = true;
    }
    if (allocation) {
        if (!pd_xml_parse_scaled(allocation, ctx, PD_XML_SIZE_MAX, &def->allocation, error))
            return false;
        def->has_allocation = true;
    }
    return !physical || pd_xml_parse_scaled(physical, ctx, PD_XML_SIZE_MAX, &def->physical, error);
}

/* <volume type='...'> and <name>, <key>. */
static bool parse_head(const xmlNode *root, PdVolDef *def, GError **error)
{
    g_autofree char *type = pd_xml_prop(root, "type");
    xmlNode *name = NULL, *key = NULL;

    if (!pd_xml_unique_child(root, "name", "volume", &name, error))
        return false;
    if (!name) {
        vol_error(error, PD_ERROR_INVALID_ARGUMENT, NULL, "element <name> is required");
        return false;
    }
    def->name = pd_xml_text(name);
    if (!pd_xml_unique_child(root, "key", "volume", &key, error))
        return false;
    if (key)
        def->key = pd_xml_text(key);
    if (type) {
        int i;

        for (i = 0; i < PD_VOL_TYPE_COUNT && strcmp(vol_type_names[i], type) != 0; i++)
            ;
        if (i == PD_VOL_TYPE_COUNT) {
            vol_error(error, PD_ERROR_UNSUPPORTED, def->name,
                      "unknown volume type '%s' (file, block, dir, network, netdir, ploop)", type);
            return false;
        }
        def->type = (PdVolType)i;
    }
    return true;
}

PdVolDef *pd_vol_def_parse(const char *xml, PdPoolType pool_type, unsigned flags, GError **error)
{
    g_autoptr(xmlDoc) doc = pd_xml_parse_string(xml, "volume", "volume XML", error);
    g_autoptr(PdVolDef) def = NULL;
    xmlNode *root, *target = NULL, *backing = NULL, *source = NULL;

    if (!doc)
        return NULL;
    if (!pd_pool_type_info(pool_type)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "volume: invalid pool type %d",
                    pool_type);
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    def = pd_vol_def_new(pool_type);
    if (!parse_head(root, def, error) || !parse_sizes(root, def, error))
        return NULL;
    if (!pd_xml_unique_child(root, "target", "volume", &target, error) ||
        !pd_xml_unique_child(root, "backingStore", "volume", &backing, error) ||
        !pd_xml_unique_child(root, "source", "volume", &source, error))
        return NULL;
    if (source && !parse_source(source, def, error))
        return NULL;
    if (target && !parse_target(target, def, error))
        return NULL;
    if (backing && !parse_backing(backing, def, error))
        return NULL;
    if (!pd_vol_def_validate(def, flags, error))
        return NULL;
    return g_steal_pointer(&def);
}

/* Checks *format against the pool type's volume formats, filling the default. @where is
 * "target" or "backingStore". */
static bool check_format(const PdVolDef *def, const PdPoolTypeInfo *info, char **format,
                         const char *where, GError **error)
{
    if (!info->volume_formats) {
        /* LVM and iSCSI volumes are plain block devices: "raw" says nothing more. */
        if (*format && strcmp(*format, "raw") != 0) {
            vol_error(error, PD_ERROR_UNSUPPORTED, def->name,
                      "%s format '%s' is not available in a %s pool (its volumes are raw)", where,
                      *format, info->name);
            return false;
        }
        g_clear_pointer(format, g_free);
        return true;
    }
    if (!*format)
        *format = g_strdup(info->default_volume_format);
    /* Index 0 is "none": listed by capabilities, refused in a definition (as libvirt). */
    if (pd_pool_format_index(info->volume_formats, *format) <= 0) {
        g_autofree char *list = g_strjoinv(", ", (char **)info->volume_formats + 1);

        vol_error(error, PD_ERROR_UNSUPPORTED, def->name, "unknown %s format '%s' (one of: %s)",
                  where, *format, list);
        return false;
    }
    return true;
}

/* compat "N.M" (digits), as libvirt checks it. */
static bool compat_valid(const char *compat)
{
    const char *dot = strchr(compat, '.');
    uint64_t value;
    g_autofree char *major = NULL;

    if (!dot || !dot[1])
        return false;
    major = g_strndup(compat, dot - compat);
    return pd_xml_parse_u64(major, &value) && g_ascii_isdigit(major[0]) &&
           pd_xml_parse_u64(dot + 1, &value) && g_ascii_isdigit(dot[1]);
}

/* compat, clusterSize and features are qcow2 options. */
static bool validate_qcow2_options(PdVolDef *def, GError **error)
{
    const char *option = def->compat         ? "compat"
                         : def->cluster_size ? "clusterSize"
                         : def->has_features ? "features"
                                             : NULL;
    uint64_t cs = def->cluster_size;

    if (!option)
        return true;
    if (!def->target_format || strcmp(def->target_format, "qcow2") != 0) {
        vol_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                  "target %s is only for format qcow2 (format is %s)", option,
                  def->target_format ? def->target_format : "none");
        return false;
    }
    if (def->has_features && !def->compat)
        def->compat = g_strdup("1.1");
    if (def->compat && !compat_valid(def->compat)) {
        vol_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                  "target compat '%s' is malformed (expected 0.10 or 1.1)", def->compat);
        return false;
    }
    if (def->lazy_refcounts && strcmp(def->compat, "0.10") == 0) {
        vol_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                  "target feature lazy_refcounts needs compat 1.1, not 0.10");
        return false;
    }
    if (cs && (cs < 512 || cs > 2 * 1024 * 1024 || (cs & (cs - 1)))) {
        vol_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                  "target clusterSize %" G_GUINT64_FORMAT
                  " is not a power of two from 512 bytes to 2 MiB",
                  cs);
        return false;
    }
    return true;
}

bool pd_vol_name_is_partial(const char *name)
{
    return name[0] == '.' && strstr(name, ".partial") != NULL;
}

bool pd_vol_name_check(const char *name, GError **error)
{
    if (pd_xml_name_valid(name) && !pd_vol_name_is_partial(name))
        return true;
    g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                "volume '%s': invalid name (a volume name is 1 to 255 bytes, without '/', not "
                "'.' or '..', and not a hidden '.NAME.partial' name)",
                name ? name : "");
    return false;
}

bool pd_vol_def_validate(PdVolDef *def, unsigned flags, GError **error)
{
    const PdPoolTypeInfo *info = pd_pool_type_info(def->pool_type);
    bool capacity_optional =
        (flags & PD_VOL_PARSE_NO_CAPACITY) || ((flags & PD_VOL_PARSE_OPT_CAPACITY) && def->backing);

    if (!pd_vol_name_check(def->name, error))
        return false;
    if (!def->has_capacity && !capacity_optional) {
        vol_error(error, PD_ERROR_INVALID_ARGUMENT, def->name, "element <capacity> is required");
        return false;
    }
    if (!def->has_allocation)
        def->allocation = def->capacity;
    if (!check_format(def, info, &def->target_format, "target", error))
        return false;
    if (def->backing && !check_format(def, info, &def->backing->format, "backingStore", error))
        return false;
    return validate_qcow2_options(def, error);
}

static void format_timestamp(PdXmlBuf *buf, const char *name, const PdTimestamp *ts)
{
    if (ts->nsec < 0)
        return;
    if (ts->nsec)
        pd_xml_buf_line(buf, "<%s>%" G_GINT64_FORMAT ".%09" G_GINT64_FORMAT "</%s>", name, ts->sec,
                        ts->nsec, name);
    else
        pd_xml_buf_line(buf, "<%s>%" G_GINT64_FORMAT "</%s>", name, ts->sec, name);
}

/* <path>, <format>, <permissions>, <timestamps> of a <target> or <backingStore>. */
static void format_file_elems(PdXmlBuf *buf, const char *path, const char *format,
                              const PdPerms *perms, const PdVolTimestamps *ts)
{
    pd_xml_buf_text_elem(buf, "path", path);
    pd_xml_buf_attr_elem(buf, "format", "type", format);
    pd_perms_format(buf, perms);
    if (!ts->present)
        return;
    pd_xml_buf_open(buf, "<timestamps>");
    format_timestamp(buf, "atime", &ts->atime);
    format_timestamp(buf, "mtime", &ts->mtime);
    format_timestamp(buf, "ctime", &ts->ctime);
    format_timestamp(buf, "btime", &ts->btime);
    pd_xml_buf_close(buf, "</timestamps>");
}

static void format_target(PdXmlBuf *buf, const PdVolDef *def)
{
    pd_xml_buf_open(buf, "<target>");
    format_file_elems(buf, def->target_path, def->target_format, &def->target_perms,
                      &def->target_timestamps);
    pd_xml_buf_text_elem(buf, "compat", def->compat);
    if (def->cluster_size)
        pd_xml_buf_line(buf, "<clusterSize unit='B'>%" G_GUINT64_FORMAT "</clusterSize>",
                        def->cluster_size);
    if (def->has_features && !def->lazy_refcounts) {
        pd_xml_buf_line(buf, "<features/>");
    } else if (def->has_features) {
        pd_xml_buf_open(buf, "<features>");
        pd_xml_buf_line(buf, "<lazy_refcounts/>");
        pd_xml_buf_close(buf, "</features>");
    }
    if (def->nocow)
        pd_xml_buf_line(buf, "<nocow/>");
    pd_xml_buf_close(buf, "</target>");
}

/* <source> with one <device> per run of extents on the same device, as libvirt groups them;
 * nothing without extents. */
static void format_extents(PdXmlBuf *buf, const GArray *extents)
{
    const char *current = NULL;

    if (!extents->len)
        return;
    pd_xml_buf_open(buf, "<source>");
    for (guint i = 0; i < extents->len; i++) {
        const PdVolExtent *e = &g_array_index(extents, PdVolExtent, i);

        if (!current || strcmp(current, e->device) != 0) {
            g_autofree char *path = pd_xml_escape(e->device);

            if (current)
                pd_xml_buf_close(buf, "</device>");
            pd_xml_buf_line(buf, "<device path='%s'>", path);
            buf->indent += 2;
            current = e->device;
        }
        pd_xml_buf_line(buf, "<extent start='%" G_GUINT64_FORMAT "' end='%" G_GUINT64_FORMAT "'/>",
                        e->start, e->end);
    }
    pd_xml_buf_close(buf, "</device>");
    pd_xml_buf_close(buf, "</source>");
}

char *pd_vol_def_format(const PdVolDef *def)
{
    g_auto(PdXmlBuf) buf;

    pd_xml_buf_init(&buf);
    pd_xml_buf_line(&buf, "<volume type='%s'>", pd_vol_type_name(def->type));
    buf.indent += 2;
    pd_xml_buf_text_elem(&buf, "name", def->name);
    pd_xml_buf_text_elem(&buf, "key", def->key);
    format_extents(&buf, def->extents);
    pd_xml_buf_line(&buf, "<capacity unit='bytes'>%" G_GUINT64_FORMAT "</capacity>", def->capacity);
    pd_xml_buf_line(&buf, "<allocation unit='bytes'>%" G_GUINT64_FORMAT "</allocation>",
                    def->allocation);
    if (def->physical)
        pd_xml_buf_line(&buf, "<physical unit='bytes'>%" G_GUINT64_FORMAT "</physical>",
                        def->physical);
    format_target(&buf, def);
    if (def->backing) {
        pd_xml_buf_open(&buf, "<backingStore>");
        format_file_elems(&buf, def->backing->path, def->backing->format, &def->backing->perms,
                          &def->backing->timestamps);
        if (def->backing->untrusted) {
            g_autofree char *reason = pd_xml_escape(def->backing->untrusted);
            pd_xml_buf_line(&buf, "<poold:untrusted-backing xmlns:poold='%s' reason='%s'/>",
                            PD_VOL_NS_POOLD, reason);
        }
        pd_xml_buf_close(&buf, "</backingStore>");
    }
    pd_xml_buf_close(&buf, "</volume>");
    return pd_xml_buf_steal(&buf);
}

PdVolDef *pd_vol_def_copy(const PdVolDef *def)
{
    g_autofree char *xml = pd_vol_def_format(def);
    g_autoptr(GError) error = NULL;
    PdVolDef *copy = pd_vol_def_parse(xml, def->pool_type, PD_VOL_PARSE_NO_CAPACITY, &error);

    /* The canonical form of a validated definition always parses back. */
    if (!copy)
        g_error("pd_vol_def_copy: %s", error->message);
    copy->has_capacity = def->has_capacity;
    copy->has_allocation = def->has_allocation;
    copy->prealloc_metadata = def->prealloc_metadata;
    if (copy->backing)
        copy->backing->format_given = def->backing->format_given;
    return copy;
}
