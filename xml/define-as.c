/* Pool and volume definitions from virsh-style arguments (see define-as.h). */
#include "xml/define-as.h"

#include "common/pd-error.h"
#include "xml/units.h"

#include <stddef.h>
#include <string.h>

/* One option of a command: its name, where it goes in the argument struct, and whether it is a
 * flag (bool) or takes a value (const char *). */
typedef struct {
    const char *name;
    size_t offset;
    bool is_flag;
} ArgSpec;

#define POOL_OPT(n, field)                                                                         \
    {                                                                                              \
        n, offsetof(PdPoolDefineArgs, field), false                                                \
    }
#define POOL_FLAG(n, field)                                                                        \
    {                                                                                              \
        n, offsetof(PdPoolDefineArgs, field), true                                                 \
    }
#define VOL_OPT(n, field)                                                                          \
    {                                                                                              \
        n, offsetof(PdVolCreateArgs, field), false                                                 \
    }
#define VOL_FLAG(n, field)                                                                         \
    {                                                                                              \
        n, offsetof(PdVolCreateArgs, field), true                                                  \
    }

/* In virsh's declaration order: positional arguments fill the value options in this order. */
static const ArgSpec pool_specs[] = {
    POOL_OPT("name", name),
    POOL_OPT("type", type),
    POOL_OPT("source-host", source_host),
    POOL_OPT("source-path", source_path),
    POOL_OPT("source-dev", source_dev),
    POOL_OPT("source-name", source_name),
    POOL_OPT("target", target),
    POOL_OPT("source-format", source_format),
    POOL_OPT("auth-type", auth_type),
    POOL_OPT("auth-username", auth_username),
    POOL_OPT("secret-usage", secret_usage),
    POOL_OPT("secret-uuid", secret_uuid),
    POOL_OPT("source-initiator", source_initiator),
    POOL_OPT("source-protocol-ver", source_protocol_ver),
    POOL_OPT("netfs-mode", netfs_mode),
    POOL_OPT("netfs-timeout", netfs_timeout),
    POOL_FLAG("print-xml", print_xml),
    POOL_FLAG("build", build),
    POOL_FLAG("overwrite", overwrite),
    POOL_FLAG("no-overwrite", no_overwrite),
    {NULL, 0, false},
};
#define POOL_POSITIONALS 7 /* name type source-host source-path source-dev source-name target */

static const ArgSpec vol_specs[] = {
    VOL_OPT("pool", pool),
    VOL_OPT("name", name),
    VOL_OPT("capacity", capacity),
    VOL_OPT("allocation", allocation),
    VOL_OPT("format", format),
    VOL_OPT("backing-vol", backing_vol),
    VOL_OPT("backing-vol-format", backing_vol_format),
    VOL_FLAG("prealloc-metadata", prealloc_metadata),
    VOL_FLAG("print-xml", print_xml),
    {NULL, 0, false},
};
#define VOL_POSITIONALS 7

static const ArgSpec *find_spec(const ArgSpec *specs, const char *name, size_t len)
{
    for (const ArgSpec *s = specs; s->name; s++) {
        if (strlen(s->name) == len && strncmp(s->name, name, len) == 0)
            return s;
    }
    return NULL;
}

/* Stores @value in the field of @spec, refusing a second value for the same option. */
static bool store_value(void *args, const ArgSpec *spec, const char *value, const char *command,
                        GError **error)
{
    const char **field = (const char **)((char *)args + spec->offset);

    if (*field) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "%s: option --%s given more than once", command, spec->name);
        return false;
    }
    *field = value;
    return true;
}

/* Handles one "--opt", "--opt value" or "--opt=value" at argv[*i]. */
static bool parse_option(void *args, const ArgSpec *specs, int argc, char *const *argv, int *i,
                         const char *command, GError **error)
{
    const char *opt = argv[*i] + 2;
    const char *eq = strchr(opt, '=');
    size_t len = eq ? (size_t)(eq - opt) : strlen(opt);
    const ArgSpec *spec = find_spec(specs, opt, len);

    if (!spec) {
        const char *hint = strncmp(opt, "adapter", 7) == 0
                               ? " (adapters are for scsi pools, which poold does not have)"
                               : "";
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "%s: unknown option --%.*s%s",
                    command, (int)len, opt, hint);
        return false;
    }
    if (spec->is_flag) {
        if (eq) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "%s: option --%s takes no value", command, spec->name);
            return false;
        }
        *(bool *)((char *)args + spec->offset) = true;
        return true;
    }
    if (eq)
        return store_value(args, spec, eq + 1, command, error);
    if (*i + 1 >= argc) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "%s: option --%s needs a value",
                    command, spec->name);
        return false;
    }
    *i += 1;
    return store_value(args, spec, argv[*i], command, error);
}

/* virsh's argument rules: options by name anywhere, other words fill the first
 * @n_positionals value options that are still empty, in order. */
static bool parse_args(void *args, const ArgSpec *specs, int n_positionals, int argc,
                       char *const *argv, const char *command, GError **error)
{
    bool only_data = false;

    for (int i = 0; i < argc; i++) {
        if (!only_data && strcmp(argv[i], "--") == 0) {
            only_data = true;
        } else if (!only_data && strncmp(argv[i], "--", 2) == 0) {
            if (!parse_option(args, specs, argc, argv, &i, command, error))
                return false;
        } else {
            int p;

            for (p = 0; p < n_positionals; p++) {
                if (!*(const char **)((char *)args + specs[p].offset))
                    break;
            }
            if (p == n_positionals) {
                g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                            "%s: unexpected argument '%s'", command, argv[i]);
                return false;
            }
            if (!store_value(args, &specs[p], argv[i], command, error))
                return false;
        }
    }
    return true;
}

bool pd_pool_define_args_parse(int argc, char *const *argv, PdPoolDefineArgs *args, GError **error)
{
    memset(args, 0, sizeof(*args));
    return parse_args(args, pool_specs, POOL_POSITIONALS, argc, argv, "pool-define-as", error);
}

bool pd_vol_create_args_parse(int argc, char *const *argv, PdVolCreateArgs *args, GError **error)
{
    memset(args, 0, sizeof(*args));
    return parse_args(args, vol_specs, VOL_POSITIONALS, argc, argv, "vol-create-as", error);
}

/* The value of an argument, NULL when absent, empty or "-". Returns a copy. */
static char *arg(const char *value)
{
    return value && *value && strcmp(value, "-") != 0 ? g_strdup(value) : NULL;
}

/* --auth-type, --auth-username, --secret-usage / --secret-uuid: all or none. */
static bool pool_auth_from_args(PdPoolDef *def, const PdPoolDefineArgs *args, GError **error)
{
    g_autoptr(PdPoolAuth) auth = g_new0(PdPoolAuth, 1);
    g_autofree char *uuid = arg(args->secret_uuid);

    auth->type = arg(args->auth_type);
    auth->username = arg(args->auth_username);
    auth->secret_usage = arg(args->secret_usage);
    if (!auth->type && !auth->username && !auth->secret_usage && !uuid)
        return true;
    if (auth->secret_usage && uuid) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "pool '%s': --secret-usage and --secret-uuid are mutually exclusive",
                    def->name);
        return false;
    }
    if (!auth->type || !auth->username || (!auth->secret_usage && !uuid)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "pool '%s': source auth needs --auth-type, --auth-username and "
                    "--secret-usage or --secret-uuid together",
                    def->name);
        return false;
    }
    if (uuid && !(auth->secret_uuid = pd_xml_uuid_canonical(uuid))) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "pool '%s': malformed --secret-uuid '%s'", def->name, uuid);
        return false;
    }
    def->source.auth = g_steal_pointer(&auth);
    return true;
}

static bool pool_protocol_from_args(PdPoolDef *def, const char *text, GError **error)
{
    g_autofree char *ver = arg(text);
    uint64_t value;

    if (!ver)
        return true;
    if (!pd_xml_parse_u64(ver, &value) || value == 0 || value > 99) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "pool '%s': --source-protocol-ver '%s' is not a version number like 3 or 4",
                    def->name, ver);
        return false;
    }
    def->source.protocol_ver = (unsigned)value;
    return true;
}

/* --netfs-mode and --netfs-timeout (poold extensions, see pool-ns.h). */
static bool pool_netfs_from_args(PdPoolDef *def, const PdPoolDefineArgs *args, GError **error)
{
    g_autofree char *mode = arg(args->netfs_mode);
    g_autofree char *timeout = arg(args->netfs_timeout);
    uint64_t value;

    if (mode) {
        int m = pd_netfs_mode_from_name(mode);
        if (m < 0) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "pool '%s': --netfs-mode '%s' is unknown (auto, mount or userspace)",
                        def->name, mode);
            return false;
        }
        def->netfs_mode = (PdNetfsMode)m;
    }
    if (!timeout)
        return true;
    if (!pd_xml_parse_u64(timeout, &value) || value == 0 || value > PD_NETFS_TIMEOUT_MAX) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "pool '%s': --netfs-timeout '%s' is not a number of seconds (1-%d)", def->name,
                    timeout, PD_NETFS_TIMEOUT_MAX);
        return false;
    }
    def->netfs_timeout = (unsigned)value;
    return true;
}

PdPoolDef *pd_pool_def_from_args(const PdPoolDefineArgs *args, GError **error)
{
    const PdPoolTypeInfo *info;
    g_autoptr(PdPoolDef) def = NULL;
    char *dev;

    if (!args->name || !args->type) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "pool-define-as: a pool name and a type are required");
        return NULL;
    }
    info = pd_pool_type_info_by_name(args->type);
    if (!info) {
        g_set_error(error, PD_ERROR, PD_ERROR_UNSUPPORTED,
                    "pool '%s': pool type '%s' is not supported (dir, fs, netfs, logical, "
                    "iscsi or iscsi-direct)",
                    args->name, args->type);
        return NULL;
    }
    def = pd_pool_def_new(info->type);
    def->name = g_strdup(args->name);
    def->source.host_name = arg(args->source_host);
    def->source.dir = arg(args->source_path);
    if ((dev = arg(args->source_dev)))
        g_ptr_array_add(def->source.devices, dev);
    def->source.name = arg(args->source_name);
    def->source.format = arg(args->source_format);
    def->source.initiator_iqn = arg(args->source_initiator);
    def->target_path = arg(args->target);
    if (!pool_auth_from_args(def, args, error) ||
        !pool_protocol_from_args(def, args->source_protocol_ver, error) ||
        !pool_netfs_from_args(def, args, error))
        return NULL;
    if (!pd_pool_def_validate(def, error))
        return NULL;
    return g_steal_pointer(&def);
}

/* Reads a virsh size ("20G") for --@what. */
static bool vol_size_from_arg(const char *name, const char *what, const char *text, uint64_t *ret,
                              GError **error)
{
    g_autofree char *ctx = g_strdup_printf("volume '%s': %s", name, what);

    return pd_xml_parse_size_text(text, ctx, PD_XML_SIZE_MAX, ret, error);
}

PdVolDef *pd_vol_def_from_args(PdPoolType pool_type, const PdVolCreateArgs *args, GError **error)
{
    g_autoptr(PdVolDef) def = NULL;
    g_autofree char *backing_path = NULL;
    g_autofree char *backing_format = NULL;

    if (!args->name || !args->capacity) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "vol-create-as: a volume name and a capacity are required");
        return NULL;
    }
    if (!pd_pool_type_info(pool_type)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "vol-create-as: invalid pool type %d", pool_type);
        return NULL;
    }
    def = pd_vol_def_new(pool_type);
    def->name = g_strdup(args->name);
    if (!vol_size_from_arg(def->name, "capacity", args->capacity, &def->capacity, error))
        return NULL;
    def->has_capacity = true;
    if (args->allocation) {
        if (!vol_size_from_arg(def->name, "allocation", args->allocation, &def->allocation, error))
            return NULL;
        def->has_allocation = true;
    }
    def->target_format = arg(args->format);
    backing_path = arg(args->backing_vol);
    backing_format = arg(args->backing_vol_format);
    if (backing_path) {
        def->backing = pd_vol_backing_new();
        def->backing->path = g_steal_pointer(&backing_path);
        def->backing->format_given = backing_format != NULL;
        def->backing->format = g_steal_pointer(&backing_format);
    } else if (backing_format) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "volume '%s': --backing-vol-format needs --backing-vol", def->name);
        return NULL;
    }
    def->prealloc_metadata = args->prealloc_metadata;
    if (def->prealloc_metadata && def->backing) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "volume '%s': --prealloc-metadata cannot be used with --backing-vol",
                    def->name);
        return NULL;
    }
    if (!pd_vol_def_validate(def, PD_VOL_PARSE_DEFAULT, error))
        return NULL;
    return g_steal_pointer(&def);
}

/* Appends "<@tag @attr='@value'/>" (indented by @indent) when @value is given ("-" too: virsh
 * prints what it was given). */
static void xml_attr_line(GString *out, int indent, const char *tag, const char *attr,
                          const char *value)
{
    if (!value)
        return;
    g_autofree char *esc = g_markup_escape_text(value, -1);
    g_string_append_printf(out, "%*s<%s %s='%s'/>\n", indent, "", tag, attr, esc);
}

/* Appends "<@tag>@value</@tag>" when @value is given. */
static void xml_text_line(GString *out, int indent, const char *tag, const char *value)
{
    if (!value)
        return;
    g_autofree char *esc = g_markup_escape_text(value, -1);
    g_string_append_printf(out, "%*s<%s>%s</%s>\n", indent, "", tag, esc, tag);
}

/* <auth type= username=><secret usage=|uuid=/></auth>, when all of it was given. */
static void pool_args_auth_xml(GString *out, const PdPoolDefineArgs *a)
{
    const char *type = a->auth_type, *user = a->auth_username;
    const char *usage = a->secret_usage, *uuid = a->secret_uuid;
    if (!type || !user || (!usage && !uuid))
        return;
    g_autofree char *t = g_markup_escape_text(type, -1);
    g_autofree char *u = g_markup_escape_text(user, -1);
    g_string_append_printf(out, "    <auth type='%s' username='%s'>\n", t, u);
    if (usage)
        xml_attr_line(out, 6, "secret", "usage", usage);
    else
        xml_attr_line(out, 6, "secret", "uuid", uuid);
    g_string_append(out, "    </auth>\n");
}

char *pd_pool_define_args_xml(const PdPoolDefineArgs *a)
{
    GString *out = g_string_new(NULL);
    g_autofree char *type = g_markup_escape_text(a->type ? a->type : "", -1);
    g_string_append_printf(out, "<pool type='%s'>\n", type);
    xml_text_line(out, 2, "name", a->name);
    if (a->source_host || a->source_path || a->source_dev || a->source_initiator ||
        a->source_format || a->source_name) {
        g_string_append(out, "  <source>\n");
        xml_attr_line(out, 4, "host", "name", a->source_host);
        xml_attr_line(out, 4, "dir", "path", a->source_path);
        xml_attr_line(out, 4, "device", "path", a->source_dev);
        if (a->source_initiator) {
            g_string_append(out, "    <initiator>\n");
            xml_attr_line(out, 6, "iqn", "name", a->source_initiator);
            g_string_append(out, "    </initiator>\n");
        }
        pool_args_auth_xml(out, a);
        xml_attr_line(out, 4, "format", "type", a->source_format);
        xml_text_line(out, 4, "name", a->source_name);
        xml_attr_line(out, 4, "protocol", "ver", a->source_protocol_ver);
        g_string_append(out, "  </source>\n");
    }
    if (a->target) {
        g_string_append(out, "  <target>\n");
        xml_text_line(out, 4, "path", a->target);
        g_string_append(out, "  </target>\n");
    }
    g_string_append(out, "</pool>\n");
    return g_string_free(out, FALSE);
}

char *pd_vol_create_args_xml(const PdVolCreateArgs *a, uint64_t capacity, uint64_t allocation,
                             const char *backing_path)
{
    GString *out = g_string_new("<volume>\n");
    xml_text_line(out, 2, "name", a->name);
    g_string_append_printf(out, "  <capacity>%" G_GUINT64_FORMAT "</capacity>\n", capacity);
    if (a->allocation)
        g_string_append_printf(out, "  <allocation>%" G_GUINT64_FORMAT "</allocation>\n",
                               allocation);
    if (a->format) {
        g_string_append(out, "  <target>\n");
        xml_attr_line(out, 4, "format", "type", a->format);
        g_string_append(out, "  </target>\n");
    }
    if (backing_path) {
        g_string_append(out, "  <backingStore>\n");
        xml_text_line(out, 4, "path", backing_path);
        xml_attr_line(out, 4, "format", "type", a->backing_vol_format);
        g_string_append(out, "  </backingStore>\n");
    }
    g_string_append(out, "</volume>\n");
    return g_string_free(out, FALSE);
}
