/* Pool XML: parse, validate from the pool type table, format in libvirt's layout. */
#include "xml/pool-xml.h"

#include "common/pd-error.h"
#include "xml/pool-ns.h"
#include "xml/units.h"
#include "xml/xml-util.h"

#include <string.h>

/* Sets "pool 'NAME': message" (or "pool: message" before the name is known). */
static void G_GNUC_PRINTF(4, 5)
    pool_error(GError **error, int code, const char *pool_name, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (pool_name)
        g_set_error(error, PD_ERROR, code, "pool '%s': %s", pool_name, msg);
    else
        g_set_error(error, PD_ERROR, code, "pool: %s", msg);
}

PdPoolDef *pd_pool_def_new(PdPoolType type)
{
    PdPoolDef *def = g_new0(PdPoolDef, 1);

    def->type = type;
    def->uuid = g_uuid_string_random();
    def->source.devices = g_ptr_array_new_with_free_func(g_free);
    def->mount_opts = g_ptr_array_new_with_free_func(g_free);
    pd_perms_init(&def->target_perms);
    return def;
}

void pd_pool_auth_free(PdPoolAuth *auth)
{
    if (!auth)
        return;
    g_free(auth->type);
    g_free(auth->username);
    g_free(auth->secret_type);
    g_free(auth->secret_usage);
    g_free(auth->secret_uuid);
    g_free(auth);
}

void pd_pool_def_free(PdPoolDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->uuid);
    g_free(def->source.host_name);
    g_ptr_array_unref(def->source.devices);
    g_free(def->source.dir);
    g_free(def->source.name);
    g_free(def->source.format);
    pd_pool_auth_free(def->source.auth);
    g_free(def->source.initiator_iqn);
    g_free(def->target_path);
    pd_perms_clear(&def->target_perms);
    g_ptr_array_unref(def->mount_opts);
    g_free(def);
}

bool pd_xml_name_valid(const char *name)
{
    return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 &&
           strcmp(name, "..") != 0 && strlen(name) <= 255;
}

/* A path with repeated slashes collapsed and the trailing slash removed, as libvirt's
 * virFileSanitizePath writes it. Caller frees. */
static char *sanitize_path(const char *path)
{
    GString *out = g_string_sized_new(strlen(path));

    for (const char *p = path; *p; p++) {
        if (*p == '/' && out->len && out->str[out->len - 1] == '/')
            continue;
        g_string_append_c(out, *p);
    }
    if (out->len > 1 && out->str[out->len - 1] == '/')
        g_string_truncate(out, out->len - 1);
    return g_string_free(out, FALSE);
}

/* Replaces *path (if set) by its sanitized form. */
static void sanitize_path_field(char **path)
{
    char *clean;

    if (!*path)
        return;
    clean = sanitize_path(*path);
    g_free(*path);
    *path = clean;
}

/* Reads the attribute @attr of @node, which must be present and not empty. */
static char *required_prop(const xmlNode *node, const char *attr, const char *pool_name,
                           const char *what, GError **error)
{
    char *value = pd_xml_prop(node, attr);

    if (!value || !*value) {
        g_free(value);
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, pool_name,
                   "%s: attribute '%s' of <%s> is missing or empty", what, attr,
                   (const char *)node->name);
        return NULL;
    }
    return value;
}

/* <host name='h' port='3260'/>: one host; the port is optional. */
static bool parse_host(const xmlNode *node, PdPoolDef *def, GError **error)
{
    g_autofree char *port = NULL;
    uint64_t value;

    if (def->source.host_name) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "source: only one <host> is supported");
        return false;
    }
    def->source.host_name = required_prop(node, "name", def->name, "source host", error);
    if (!def->source.host_name)
        return false;
    port = pd_xml_prop(node, "port");
    if (port) {
        if (!pd_xml_parse_u64(port, &value) || value == 0 || value > 65535) {
            pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                       "source host port '%s' is not a port number (1-65535)", port);
            return false;
        }
        def->source.host_port = (unsigned)value;
    }
    return true;
}

/* <auth type='chap' username='u'><secret usage='x'|uuid='...' [type='...']/></auth> */
static bool parse_auth(const xmlNode *node, PdPoolDef *def, GError **error)
{
    g_autoptr(PdPoolAuth) auth = g_new0(PdPoolAuth, 1);
    g_autofree char *ctx = g_strdup_printf("pool '%s': source auth", def->name);
    xmlNode *secret = NULL;
    g_autofree char *uuid = NULL;

    auth->type = pd_xml_prop(node, "type");
    auth->username = pd_xml_prop(node, "username");
    if (!pd_xml_unique_child(node, "secret", ctx, &secret, error))
        return false;
    if (!secret) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "source auth: <secret usage='...'/> or <secret uuid='...'/> is required");
        return false;
    }
    auth->secret_type = pd_xml_prop(secret, "type");
    auth->secret_usage = pd_xml_prop(secret, "usage");
    uuid = pd_xml_prop(secret, "uuid");
    if (uuid) {
        auth->secret_uuid = pd_xml_uuid_canonical(uuid);
        if (!auth->secret_uuid) {
            pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                       "source auth: malformed secret uuid '%s'", uuid);
            return false;
        }
    }
    def->source.auth = g_steal_pointer(&auth);
    return true;
}

/* <initiator><iqn name='iqn.2024-01.com.example:client'/></initiator> */
static bool parse_initiator(const xmlNode *node, PdPoolDef *def, GError **error)
{
    g_autofree char *ctx = g_strdup_printf("pool '%s': source initiator", def->name);
    xmlNode *iqn = NULL;

    if (!pd_xml_unique_child(node, "iqn", ctx, &iqn, error))
        return false;
    if (!iqn) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "source initiator: <iqn name='...'/> is required");
        return false;
    }
    def->source.initiator_iqn = required_prop(iqn, "name", def->name, "source initiator", error);
    return def->source.initiator_iqn != NULL;
}

/* <protocol ver='4'/>: the NFS protocol version. */
static bool parse_protocol(const xmlNode *node, PdPoolDef *def, GError **error)
{
    g_autofree char *ver = required_prop(node, "ver", def->name, "source protocol", error);
    uint64_t value;

    if (!ver)
        return false;
    if (!pd_xml_parse_u64(ver, &value) || value == 0 || value > 99) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "source protocol ver '%s' is malformed (expected a version like 3 or 4)", ver);
        return false;
    }
    def->source.protocol_ver = (unsigned)value;
    return true;
}

/* Reads a single-valued child of <source>, refusing a second one. */
static bool source_once(const xmlNode *node, unsigned bit, unsigned *seen, const char *pool_name,
                        GError **error)
{
    if (*seen & bit) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, pool_name,
                   "source: element <%s> appears more than once", (const char *)node->name);
        return false;
    }
    *seen |= bit;
    return true;
}

/* Reads one child of <source>; elements poold does not use are skipped. */
static bool parse_source_child(const xmlNode *n, PdPoolDef *def, unsigned *seen, GError **error)
{
    PdPoolSource *src = &def->source;

    if (pd_xml_is(n, "host")) {
        return parse_host(n, def, error);
    } else if (pd_xml_is(n, "device")) {
        char *path = required_prop(n, "path", def->name, "source device", error);

        if (path)
            g_ptr_array_add(src->devices, path);
        return path != NULL;
    } else if (pd_xml_is(n, "dir")) {
        g_autofree char *path = NULL;

        if (!source_once(n, PD_SOURCE_DIR, seen, def->name, error) ||
            !(path = required_prop(n, "path", def->name, "source dir", error)))
            return false;
        src->dir = g_steal_pointer(&path);
    } else if (pd_xml_is(n, "name")) {
        if (!source_once(n, PD_SOURCE_NAME, seen, def->name, error))
            return false;
        src->name = pd_xml_text(n);
    } else if (pd_xml_is(n, "format")) {
        if (!source_once(n, PD_SOURCE_FORMAT, seen, def->name, error) ||
            !(src->format = required_prop(n, "type", def->name, "source format", error)))
            return false;
    } else if (pd_xml_is(n, "auth")) {
        return source_once(n, PD_SOURCE_AUTH, seen, def->name, error) && parse_auth(n, def, error);
    } else if (pd_xml_is(n, "initiator")) {
        return source_once(n, PD_SOURCE_INITIATOR, seen, def->name, error) &&
               parse_initiator(n, def, error);
    } else if (pd_xml_is(n, "protocol")) {
        return source_once(n, PD_SOURCE_PROTOCOL, seen, def->name, error) &&
               parse_protocol(n, def, error);
    }
    return true;
}

static bool parse_source(const xmlNode *node, PdPoolDef *def, GError **error)
{
    unsigned seen = 0;

    for (const xmlNode *n = node->children; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && !parse_source_child(n, def, &seen, error))
            return false;
    }
    return true;
}

/* <target><path>..</path><permissions>..</permissions></target> */
static bool parse_target(const xmlNode *node, PdPoolDef *def, GError **error)
{
    g_autofree char *ctx = g_strdup_printf("pool '%s': target", def->name);
    xmlNode *path = NULL, *perms = NULL;

    if (!pd_xml_unique_child(node, "path", ctx, &path, error) ||
        !pd_xml_unique_child(node, "permissions", ctx, &perms, error))
        return false;
    if (path) {
        g_autofree char *text = pd_xml_text(path);

        if (*text)
            def->target_path = g_steal_pointer(&text);
    }
    if (perms && !pd_perms_parse(perms, ctx, &def->target_perms, error))
        return false;
    return true;
}

/* Reads <name> (or, for types that have a source name, the source name when <name> is
 * missing, as libvirt does) and the type attribute. */
static bool parse_name_and_type(const xmlNode *root, PdPoolDef *def, GError **error)
{
    g_autofree char *type = pd_xml_prop(root, "type");
    const PdPoolTypeInfo *info;
    xmlNode *name = NULL;

    if (!pd_xml_unique_child(root, "name", "pool", &name, error))
        return false;
    if (name)
        def->name = pd_xml_text(name);
    if (!type) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "attribute 'type' of <pool> is missing (dir, fs, netfs, logical, iscsi or "
                   "iscsi-direct)");
        return false;
    }
    info = pd_pool_type_info_by_name(type);
    if (!info) {
        pool_error(error, PD_ERROR_UNSUPPORTED, def->name,
                   "pool type '%s' is not supported (dir, fs, netfs, logical, iscsi or "
                   "iscsi-direct)",
                   type);
        return false;
    }
    def->type = info->type;
    return true;
}

/* <capacity>, <allocation>, <available> (each optional, any libvirt unit). */
static bool parse_sizes(const xmlNode *root, PdPoolDef *def, GError **error)
{
    static const char *const names[] = {"capacity", "allocation", "available"};
    uint64_t *fields[] = {&def->capacity, &def->allocation, &def->available};
    g_autofree char *ctx = g_strdup_printf("pool '%s'", def->name);

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        xmlNode *node = NULL;

        if (!pd_xml_unique_child(root, names[i], ctx, &node, error))
            return false;
        if (node && !pd_xml_parse_scaled(node, ctx, PD_XML_SIZE_MAX, fields[i], error))
            return false;
    }
    return true;
}

static bool parse_uuid(const xmlNode *root, PdPoolDef *def, GError **error)
{
    g_autofree char *ctx = g_strdup_printf("pool '%s'", def->name);
    g_autofree char *text = NULL;
    xmlNode *node = NULL;

    if (!pd_xml_unique_child(root, "uuid", ctx, &node, error))
        return false;
    if (!node)
        return true; /* keep the generated one */
    text = pd_xml_text(node);
    g_free(def->uuid);
    def->uuid = pd_xml_uuid_canonical(text);
    if (!def->uuid) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "malformed uuid '%s' (expected 32 hex digits like "
                   "3e3fce45-4f53-4fa7-bb32-11f34168b82b)",
                   text);
        return false;
    }
    return true;
}

PdPoolDef *pd_pool_def_parse(const char *xml, GError **error)
{
    g_autoptr(xmlDoc) doc = pd_xml_parse_string(xml, "pool", "pool XML", error);
    g_autoptr(PdPoolDef) def = NULL;
    xmlNode *root, *source = NULL, *target = NULL;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    def = pd_pool_def_new(PD_POOL_DIR);
    if (!parse_name_and_type(root, def, error))
        return NULL;
    if (!pd_xml_unique_child(root, "source", "pool", &source, error) ||
        !pd_xml_unique_child(root, "target", "pool", &target, error))
        return NULL;
    if (source && !parse_source(source, def, error))
        return NULL;
    if (!def->name && (pd_pool_type_info(def->type)->allowed & PD_SOURCE_NAME))
        def->name = g_strdup(def->source.name);
    if (!def->name) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, NULL, "element <name> is required");
        return NULL;
    }
    if (!parse_uuid(root, def, error) || !parse_sizes(root, def, error))
        return NULL;
    if (target && !parse_target(target, def, error))
        return NULL;
    if (!pd_pool_ns_parse(root, def, error))
        return NULL;
    if (!pd_pool_def_validate(def, error))
        return NULL;
    return g_steal_pointer(&def);
}

/* The PdPoolSourceElement bits that @def's source has. */
static unsigned source_present(const PdPoolDef *def)
{
    const PdPoolSource *src = &def->source;
    unsigned bits = 0;

    bits |= src->host_name ? PD_SOURCE_HOST : 0;
    bits |= src->devices->len ? PD_SOURCE_DEVICE : 0;
    bits |= src->dir ? PD_SOURCE_DIR : 0;
    bits |= src->name ? PD_SOURCE_NAME : 0;
    bits |= src->format ? PD_SOURCE_FORMAT : 0;
    bits |= src->auth ? PD_SOURCE_AUTH : 0;
    bits |= src->initiator_iqn ? PD_SOURCE_INITIATOR : 0;
    bits |= src->protocol_ver ? PD_SOURCE_PROTOCOL : 0;
    return bits;
}

/* The lowest set bit of @bits (which is not 0). */
static PdPoolSourceElement first_bit(unsigned bits)
{
    return (PdPoolSourceElement)(bits & -bits);
}

static bool validate_auth(const PdPoolDef *def, GError **error)
{
    const PdPoolAuth *auth = def->source.auth;

    if (!auth->type || !*auth->type) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "source auth: attribute 'type' is required (chap)");
        return false;
    }
    if (strcmp(auth->type, "chap") != 0) {
        pool_error(error, PD_ERROR_UNSUPPORTED, def->name,
                   "source auth type '%s' is not supported for type %s (use chap)", auth->type,
                   pd_pool_type_info(def->type)->name);
        return false;
    }
    if (!auth->username || !*auth->username) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "source auth: attribute 'username' is required");
        return false;
    }
    if (!!auth->secret_usage == !!auth->secret_uuid) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "source auth secret: exactly one of 'usage' and 'uuid' is required");
        return false;
    }
    if (auth->secret_usage && !*auth->secret_usage) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "source auth secret: 'usage' is empty");
        return false;
    }
    return true;
}

/* Fills the defaults of the type table: source name, source format. */
static void apply_source_defaults(PdPoolDef *def, const PdPoolTypeInfo *info)
{
    if ((info->allowed & PD_SOURCE_NAME) && !def->source.name)
        def->source.name = g_strdup(def->name);
    if (info->source_formats && !def->source.format)
        def->source.format = g_strdup(info->default_source_format);
}

/* Drops the source elements the type does not use, as libvirt ignores them: virsh's
 * `pool-define-as p dir - - - - /srv/p --print-xml` writes <host name='-'/>, <dir path='-'/>,
 * <device path='-'/> and <name>-</name> into a dir pool, and libvirt accepts that. */
static void drop_unused_source(PdPoolDef *def, const PdPoolTypeInfo *info)
{
    PdPoolSource *src = &def->source;
    unsigned unused = ~info->allowed;

    if (unused & PD_SOURCE_HOST)
        g_clear_pointer(&src->host_name, g_free);
    if (unused & PD_SOURCE_HOST)
        src->host_port = 0;
    if (unused & PD_SOURCE_DEVICE)
        g_ptr_array_set_size(src->devices, 0);
    if (unused & PD_SOURCE_DIR)
        g_clear_pointer(&src->dir, g_free);
    if (unused & PD_SOURCE_NAME)
        g_clear_pointer(&src->name, g_free);
    if (unused & PD_SOURCE_FORMAT)
        g_clear_pointer(&src->format, g_free);
    if (unused & PD_SOURCE_AUTH)
        g_clear_pointer(&src->auth, pd_pool_auth_free);
    if (unused & PD_SOURCE_INITIATOR)
        g_clear_pointer(&src->initiator_iqn, g_free);
    if (unused & PD_SOURCE_PROTOCOL)
        src->protocol_ver = 0;
}

/* Checks which source elements are present against the table row. */
static bool validate_source(const PdPoolDef *def, const PdPoolTypeInfo *info, GError **error)
{
    unsigned missing = info->required & ~source_present(def);
    const char *format = def->source.format;

    if (missing) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name, "%s is required for type %s",
                   pd_pool_source_element_name(first_bit(missing)), info->name);
        return false;
    }
    if (def->source.name && !pd_xml_name_valid(def->source.name)) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "source name '%s' is invalid (it must be 1-255 bytes, without '/', and not "
                   "'.' or '..')",
                   def->source.name);
        return false;
    }
    if (def->source.devices->len > info->max_devices) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "type %s takes at most %u source device(s), %u given", info->name,
                   info->max_devices, def->source.devices->len);
        return false;
    }
    if (format && pd_pool_format_index(info->source_formats, format) < 0) {
        g_autofree char *list = g_strjoinv(", ", (char **)info->source_formats);

        pool_error(error, PD_ERROR_UNSUPPORTED, def->name,
                   "unknown source format '%s' for type %s (one of: %s)", format, info->name, list);
        return false;
    }
    if (def->source.protocol_ver && format && strcmp(format, "nfs") != 0 &&
        strcmp(format, "auto") != 0) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "source protocol ver is only for NFS, not source format '%s'", format);
        return false;
    }
    return !def->source.auth || validate_auth(def, error);
}

static bool validate_target(PdPoolDef *def, const PdPoolTypeInfo *info, GError **error)
{
    switch (info->target) {
    case PD_POOL_TARGET_PATH:
        if (!def->target_path) {
            pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                       "target path is required for type %s", info->name);
            return false;
        }
        if (def->target_path[0] != '/') {
            pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                       "target path '%s' must be absolute", def->target_path);
            return false;
        }
        return true;
    case PD_POOL_TARGET_DEVNAME:
        /* The volume group's directory, whatever was given (libvirt does the same). */
        g_free(def->target_path);
        def->target_path = g_strdup_printf("/dev/%s", def->source.name);
        return true;
    case PD_POOL_TARGET_NONE:
        /* Ignored, as libvirt does: the volumes are network LUNs. */
        g_clear_pointer(&def->target_path, g_free);
        pd_perms_clear(&def->target_perms);
        return true;
    }
    return true;
}

bool pd_pool_def_validate(PdPoolDef *def, GError **error)
{
    const PdPoolTypeInfo *info = pd_pool_type_info(def->type);
    char *uuid;

    if (!info) {
        pool_error(error, PD_ERROR_UNSUPPORTED, def->name, "unknown pool type %d", def->type);
        return false;
    }
    if (!pd_xml_name_valid(def->name)) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name,
                   "invalid name (it must be 1-255 bytes, without '/', and not '.' or '..')");
        return false;
    }
    if (!def->uuid)
        def->uuid = g_uuid_string_random();
    uuid = pd_xml_uuid_canonical(def->uuid);
    if (!uuid) {
        pool_error(error, PD_ERROR_INVALID_ARGUMENT, def->name, "malformed uuid '%s'", def->uuid);
        return false;
    }
    g_free(def->uuid);
    def->uuid = uuid;

    drop_unused_source(def, info);
    apply_source_defaults(def, info);
    sanitize_path_field(&def->source.dir);
    sanitize_path_field(&def->target_path);
    if (!validate_source(def, info, error) || !pd_pool_ns_validate(def, error))
        return false;
    return validate_target(def, info, error);
}

static void format_auth(PdXmlBuf *buf, const PdPoolAuth *auth)
{
    g_autofree char *type = pd_xml_escape(auth->type);
    g_autofree char *user = pd_xml_escape(auth->username);
    g_autofree char *secret_type = auth->secret_type ? pd_xml_escape(auth->secret_type) : NULL;
    g_autofree char *usage = auth->secret_usage ? pd_xml_escape(auth->secret_usage) : NULL;

    pd_xml_buf_line(buf, "<auth type='%s' username='%s'>", type, user);
    buf->indent += 2;
    pd_xml_buf_line(buf, "<secret%s%s%s %s='%s'/>", secret_type ? " type='" : "",
                    secret_type ? secret_type : "", secret_type ? "'" : "",
                    usage ? "usage" : "uuid", usage ? usage : auth->secret_uuid);
    pd_xml_buf_close(buf, "</auth>");
}

/* <source> in libvirt's order: host, device, dir, name, initiator, format, auth, protocol. */
static void format_source(PdXmlBuf *buf, const PdPoolDef *def, const PdPoolTypeInfo *info)
{
    const PdPoolSource *src = &def->source;

    pd_xml_buf_open(buf, "<source>");
    if ((info->allowed & PD_SOURCE_HOST) && src->host_name) {
        g_autofree char *host = pd_xml_escape(src->host_name);

        if (src->host_port)
            pd_xml_buf_line(buf, "<host name='%s' port='%u'/>", host, src->host_port);
        else
            pd_xml_buf_line(buf, "<host name='%s'/>", host);
    }
    for (guint i = 0; (info->allowed & PD_SOURCE_DEVICE) && i < src->devices->len; i++)
        pd_xml_buf_attr_elem(buf, "device", "path", src->devices->pdata[i]);
    if (info->allowed & PD_SOURCE_DIR)
        pd_xml_buf_attr_elem(buf, "dir", "path", src->dir);
    if (info->allowed & PD_SOURCE_NAME)
        pd_xml_buf_text_elem(buf, "name", src->name);
    if ((info->allowed & PD_SOURCE_INITIATOR) && src->initiator_iqn) {
        pd_xml_buf_open(buf, "<initiator>");
        pd_xml_buf_attr_elem(buf, "iqn", "name", src->initiator_iqn);
        pd_xml_buf_close(buf, "</initiator>");
    }
    if (info->source_formats)
        pd_xml_buf_attr_elem(buf, "format", "type", src->format);
    if (src->auth)
        format_auth(buf, src->auth);
    if (src->protocol_ver)
        pd_xml_buf_line(buf, "<protocol ver='%u'/>", src->protocol_ver);
    pd_xml_buf_close(buf, "</source>");
}

char *pd_pool_def_format(const PdPoolDef *def)
{
    const PdPoolTypeInfo *info = pd_pool_type_info(def->type);
    g_auto(PdXmlBuf) buf;
    g_autofree char *xmlns = pd_pool_ns_declarations(def);

    pd_xml_buf_init(&buf);
    pd_xml_buf_line(&buf, "<pool type='%s'%s>", info->name, xmlns);
    buf.indent += 2;
    pd_xml_buf_text_elem(&buf, "name", def->name);
    pd_xml_buf_text_elem(&buf, "uuid", def->uuid);
    pd_xml_buf_line(&buf, "<capacity unit='bytes'>%" G_GUINT64_FORMAT "</capacity>", def->capacity);
    pd_xml_buf_line(&buf, "<allocation unit='bytes'>%" G_GUINT64_FORMAT "</allocation>",
                    def->allocation);
    pd_xml_buf_line(&buf, "<available unit='bytes'>%" G_GUINT64_FORMAT "</available>",
                    def->available);
    format_source(&buf, def, info);
    if (info->target != PD_POOL_TARGET_NONE) {
        pd_xml_buf_open(&buf, "<target>");
        pd_xml_buf_text_elem(&buf, "path", def->target_path);
        pd_perms_format(&buf, &def->target_perms);
        pd_xml_buf_close(&buf, "</target>");
    }
    pd_pool_ns_format(&buf, def);
    pd_xml_buf_close(&buf, "</pool>");
    return pd_xml_buf_steal(&buf);
}

char *pd_pool_sources_format(const GPtrArray *sources)
{
    g_auto(PdXmlBuf) buf;

    pd_xml_buf_init(&buf);
    pd_xml_buf_open(&buf, "<sources>");
    for (guint i = 0; sources && i < sources->len; i++) {
        const PdPoolDef *def = g_ptr_array_index((GPtrArray *)sources, i);
        format_source(&buf, def, pd_pool_type_info(def->type));
    }
    pd_xml_buf_close(&buf, "</sources>");
    return pd_xml_buf_steal(&buf);
}

PdPoolDef *pd_pool_def_copy(const PdPoolDef *def)
{
    g_autofree char *xml = pd_pool_def_format(def);
    g_autoptr(GError) error = NULL;
    PdPoolDef *copy = pd_pool_def_parse(xml, &error);

    /* The canonical form of a validated definition always parses back. */
    if (!copy)
        g_error("pd_pool_def_copy: %s", error->message);
    return copy;
}
