/* Namespaced pool extensions: libvirt's <fs:mount_opts> and poold's <poold:netfs>. */
#include "xml/pool-ns.h"

#include "common/pd-error.h"

#include <string.h>

#define MOUNT_OPTS_MAX 64

static const char *const netfs_mode_names[] = {
    [PD_NETFS_MODE_AUTO] = "auto",
    [PD_NETFS_MODE_MOUNT] = "mount",
    [PD_NETFS_MODE_USERSPACE] = "userspace",
};

const char *pd_netfs_mode_name(PdNetfsMode mode)
{
    return (unsigned)mode < G_N_ELEMENTS(netfs_mode_names) ? netfs_mode_names[mode] : "?";
}

int pd_netfs_mode_from_name(const char *name)
{
    for (size_t i = 0; name && i < G_N_ELEMENTS(netfs_mode_names); i++) {
        if (strcmp(name, netfs_mode_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

/* True when @node is an element @name in namespace @href. */
static bool ns_is(const xmlNode *node, const char *href, const char *name)
{
    return node->type == XML_ELEMENT_NODE && node->ns && node->ns->href &&
           strcmp((const char *)node->ns->href, href) == 0 &&
           strcmp((const char *)node->name, name) == 0;
}

/* One mount option is one word of `mount -o`: not empty, no comma (that would smuggle in a
 * second option), no whitespace or control characters. */
static bool mount_opt_valid(const char *opt)
{
    if (!opt || !*opt || strlen(opt) > 255)
        return false;
    for (const char *p = opt; *p; p++) {
        if (*p == ',' || g_ascii_isspace(*p) || (unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    }
    return true;
}

/* <fs:mount_opts><fs:option name='...'/>...</fs:mount_opts> */
static bool parse_mount_opts(const xmlNode *node, PdPoolDef *def, GError **error)
{
    for (const xmlNode *n = node->children; n; n = n->next) {
        if (!ns_is(n, PD_XML_NS_FS, "option"))
            continue;
        char *name = pd_xml_prop(n, "name");
        if (!name || !*name) {
            g_free(name);
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "pool '%s': mount_opts: attribute 'name' of <option> is missing or empty",
                        def->name);
            return false;
        }
        g_ptr_array_add(def->mount_opts, name);
    }
    return true;
}

/* <poold:netfs mode='auto|mount|userspace' timeout='SECONDS'/> */
static bool parse_poold_netfs(const xmlNode *node, PdPoolDef *def, GError **error)
{
    g_autofree char *mode = pd_xml_prop(node, "mode");
    g_autofree char *timeout = pd_xml_prop(node, "timeout");

    if (mode) {
        int value = pd_netfs_mode_from_name(mode);
        if (value < 0) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "pool '%s': netfs mode '%s' is unknown (auto, mount or userspace)",
                        def->name, mode);
            return false;
        }
        def->netfs_mode = (PdNetfsMode)value;
    }
    if (timeout) {
        uint64_t value;
        if (!pd_xml_parse_u64(timeout, &value) || value == 0 || value > PD_NETFS_TIMEOUT_MAX) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "pool '%s': netfs timeout '%s' is not a number of seconds (1-%d)",
                        def->name, timeout, PD_NETFS_TIMEOUT_MAX);
            return false;
        }
        def->netfs_timeout = (unsigned)value;
    }
    return true;
}

bool pd_pool_ns_parse(const xmlNode *root, PdPoolDef *def, GError **error)
{
    bool seen_opts = false, seen_netfs = false;

    for (const xmlNode *n = root->children; n; n = n->next) {
        bool opts = ns_is(n, PD_XML_NS_FS, "mount_opts");
        bool netfs = ns_is(n, PD_XML_NS_POOLD, "netfs");
        if (!opts && !netfs)
            continue;
        if ((opts && seen_opts) || (netfs && seen_netfs)) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "pool '%s': element <%s> appears more than once", def->name,
                        opts ? "fs:mount_opts" : "poold:netfs");
            return false;
        }
        seen_opts |= opts;
        seen_netfs |= netfs;
        if (opts ? !parse_mount_opts(n, def, error) : !parse_poold_netfs(n, def, error))
            return false;
    }
    return true;
}

static bool validate_mount_opts(PdPoolDef *def, GError **error)
{
    if (def->type != PD_POOL_FS && def->type != PD_POOL_NETFS) {
        g_ptr_array_set_size(def->mount_opts, 0); /* libvirt ignores them there too */
        return true;
    }
    if (def->mount_opts->len > MOUNT_OPTS_MAX) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "pool '%s': mount_opts: at most %d options, %u given", def->name,
                    MOUNT_OPTS_MAX, def->mount_opts->len);
        return false;
    }
    for (guint i = 0; i < def->mount_opts->len; i++) {
        const char *opt = def->mount_opts->pdata[i];
        if (!mount_opt_valid(opt)) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "pool '%s': mount option '%s' is invalid (one option per <fs:option>: "
                        "no comma, space or control character)",
                        def->name, opt);
            return false;
        }
    }
    if (def->mount_opts->len && def->netfs_mode == PD_NETFS_MODE_USERSPACE) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "pool '%s': mount options need netfs mode mount or auto (userspace mode "
                    "mounts nothing)",
                    def->name);
        return false;
    }
    return true;
}

bool pd_pool_ns_validate(PdPoolDef *def, GError **error)
{
    if (def->type != PD_POOL_NETFS &&
        (def->netfs_mode != PD_NETFS_MODE_AUTO || def->netfs_timeout)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "pool '%s': a netfs mode or timeout (<poold:netfs>) is only for netfs pools",
                    def->name);
        return false;
    }
    if ((unsigned)def->netfs_mode > PD_NETFS_MODE_USERSPACE) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "pool '%s': unknown netfs mode %d",
                    def->name, (int)def->netfs_mode);
        return false;
    }
    if (def->netfs_timeout > PD_NETFS_TIMEOUT_MAX) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "pool '%s': netfs timeout %u is too long (at most %d seconds)", def->name,
                    def->netfs_timeout, PD_NETFS_TIMEOUT_MAX);
        return false;
    }
    return validate_mount_opts(def, error);
}

/* True when @def writes <poold:netfs>. */
static bool has_poold_netfs(const PdPoolDef *def)
{
    return def->netfs_mode != PD_NETFS_MODE_AUTO || def->netfs_timeout;
}

char *pd_pool_ns_declarations(const PdPoolDef *def)
{
    return g_strdup_printf("%s%s", def->mount_opts->len ? " xmlns:fs='" PD_XML_NS_FS "'" : "",
                           has_poold_netfs(def) ? " xmlns:poold='" PD_XML_NS_POOLD "'" : "");
}

void pd_pool_ns_format(PdXmlBuf *buf, const PdPoolDef *def)
{
    if (def->mount_opts->len) {
        pd_xml_buf_open(buf, "<fs:mount_opts>");
        for (guint i = 0; i < def->mount_opts->len; i++)
            pd_xml_buf_attr_elem(buf, "fs:option", "name", def->mount_opts->pdata[i]);
        pd_xml_buf_close(buf, "</fs:mount_opts>");
    }
    if (!has_poold_netfs(def))
        return;
    g_autofree char *timeout =
        def->netfs_timeout ? g_strdup_printf(" timeout='%u'", def->netfs_timeout) : g_strdup("");
    if (def->netfs_mode != PD_NETFS_MODE_AUTO)
        pd_xml_buf_line(buf, "<poold:netfs mode='%s'%s/>", pd_netfs_mode_name(def->netfs_mode),
                        timeout);
    else
        pd_xml_buf_line(buf, "<poold:netfs%s/>", timeout);
}
