/* poolctl's pool-* commands: virsh's syntax and output. */
#include "client/poolctl.h"

#include "common/pd-error.h"
#include "xml/define-as.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* {"pool": NAME} */
static JsonObject *pool_param(const char *pool)
{
    JsonObject *p = json_object_new();
    json_object_set_string_member(p, "pool", pool);
    return p;
}

/* Reads an XML file the user named (the client reads it; the daemon gets the text). */
static char *read_xml_file(const char *path)
{
    g_autoptr(GError) error = NULL;
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, &error)) {
        pc_error("Failed to open file '%s': %s", path, error->message);
        return NULL;
    }
    return text;
}

/* Runs a call whose reply is {pool: PoolInfo}: the reply, or NULL (error printed). */
static JsonObject *pool_call(PcCtl *ctl, const char *method, JsonObject *params, const char *failed)
{
    JsonObject *reply = pc_ctl_call(ctl, method, params, failed);
    if (reply && !json_object_has_member(reply, "pool")) {
        pc_error("%s", failed);
        pc_error("poold's answer names no pool");
        g_clear_pointer(&reply, json_object_unref);
    }
    return reply;
}

/* The name of the pool in a pool_call reply. */
static const char *reply_pool_name(JsonObject *reply)
{
    return json_object_get_string_member(json_object_get_object_member(reply, "pool"), "name");
}

static bool cmd_pool_define(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    const char *file = pc_arg(args, "file");
    g_autofree char *xml = read_xml_file(file);
    if (!xml)
        return false;
    bool create = g_str_equal(cmd->name, "pool-create");
    JsonObject *p = json_object_new();
    json_object_set_string_member(p, "xml", xml);
    if (create) {
        json_object_set_boolean_member(p, "build", pc_flag(args, "build"));
        json_object_set_boolean_member(p, "overwrite", pc_flag(args, "overwrite"));
    }
    g_autofree char *failed =
        g_strdup_printf("Failed to %s pool from %s", create ? "create" : "define", file);
    g_autoptr(JsonObject) reply =
        pool_call(ctl, create ? "io.poold.Pool.Create" : "io.poold.Pool.Define", p, failed);
    if (!reply)
        return false;
    pc_answer_message(ctl, reply, "Pool %s %s from %s\n", reply_pool_name(reply),
                      create ? "created" : "defined", file);
    return true;
}

/* The arguments of pool-define-as and pool-create-as, by their options' names. */
static void pool_define_args(PcArgs *a, PdPoolDefineArgs *out)
{
    *out = (PdPoolDefineArgs){
        .name = pc_arg(a, "name"),
        .type = pc_arg(a, "type"),
        .source_host = pc_arg(a, "source-host"),
        .source_path = pc_arg(a, "source-path"),
        .source_dev = pc_arg(a, "source-dev"),
        .source_name = pc_arg(a, "source-name"),
        .target = pc_arg(a, "target"),
        .source_format = pc_arg(a, "source-format"),
        .auth_type = pc_arg(a, "auth-type"),
        .auth_username = pc_arg(a, "auth-username"),
        .secret_usage = pc_arg(a, "secret-usage"),
        .secret_uuid = pc_arg(a, "secret-uuid"),
        .source_initiator = pc_arg(a, "source-initiator"),
        .source_protocol_ver = pc_arg(a, "source-protocol-ver"),
        .netfs_mode = pc_arg(a, "netfs-mode"),
        .netfs_timeout = pc_arg(a, "netfs-timeout"),
        .print_xml = pc_flag(a, "print-xml"),
        .build = pc_flag(a, "build"),
        .overwrite = pc_flag(a, "overwrite"),
        .no_overwrite = pc_flag(a, "no-overwrite"),
    };
}

/* virsh's --adapter-* options: poold has no scsi pools. False (error printed) when one is
 * given. */
static bool refuse_adapters(PcArgs *a)
{
    for (unsigned i = 0; i < a->n; i++) {
        if (a->values[i] && g_str_has_prefix(a->spec[i].name, "adapter-")) {
            pc_error("option --%s: adapters are for scsi pools, which poold does not have",
                     a->spec[i].name);
            return false;
        }
    }
    return true;
}

/* pool-define-as and pool-create-as: the XML is built here from virsh's arguments. */
static bool cmd_pool_define_as(PcCtl *ctl, const PcCmd *cmd, PcArgs *pargs, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    PdPoolDefineArgs args;
    pool_define_args(pargs, &args);
    if (!refuse_adapters(pargs))
        return false;
    bool create = g_str_equal(cmd->name, "pool-create-as");
    g_autofree char *failed =
        g_strdup_printf("Failed to %s pool %s", create ? "create" : "define", args.name);
    g_autoptr(PdPoolDef) def = pd_pool_def_from_args(&args, &error);
    if (!def) {
        pc_error("%s", failed);
        pc_error("%s", error->message);
        return false;
    }
    if (args.print_xml) {
        /* as virsh: the arguments as they were given, no UUID or sizes made up */
        g_autofree char *minimal = pd_pool_define_args_xml(&args);
        printf("%s", minimal);
        return true;
    }
    g_autofree char *xml = pd_pool_def_format(def);
    JsonObject *p = json_object_new();
    json_object_set_string_member(p, "xml", xml);
    if (create) {
        json_object_set_boolean_member(p, "build", args.build);
        json_object_set_boolean_member(p, "overwrite", args.overwrite);
    }
    g_autoptr(JsonObject) reply =
        pool_call(ctl, create ? "io.poold.Pool.Create" : "io.poold.Pool.Define", p, failed);
    if (!reply)
        return false;
    pc_answer_message(ctl, reply, "Pool %s %s\n", reply_pool_name(reply),
                      create ? "created" : "defined");
    return true;
}

/* pool-build, pool-start, pool-destroy, pool-delete, pool-undefine, pool-refresh. */
static bool cmd_pool_simple(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    static const struct {
        const char *cmd, *method, *verb, *done;
    } table[] = {
        {"pool-build", "io.poold.Pool.Build", "build", "built"},
        {"pool-start", "io.poold.Pool.Start", "start", "started"},
        {"pool-destroy", "io.poold.Pool.Stop", "destroy", "destroyed"},
        {"pool-delete", "io.poold.Pool.Delete", "delete", "deleted"},
        {"pool-undefine", "io.poold.Pool.Undefine", "undefine", "has been undefined"},
        {"pool-refresh", "io.poold.Pool.Refresh", "refresh", "refreshed"},
    };
    const char *pool = pc_arg(args, "pool");
    for (unsigned i = 0; i < G_N_ELEMENTS(table); i++) {
        if (!g_str_equal(table[i].cmd, cmd->name))
            continue;
        JsonObject *p = pool_param(pool);
        bool start = g_str_equal(cmd->name, "pool-start");
        bool build = g_str_equal(cmd->name, "pool-build");
        if ((build || start) && pc_flag(args, "overwrite"))
            json_object_set_boolean_member(p, "overwrite", true);
        if ((build || start) && pc_flag(args, "no-overwrite"))
            json_object_set_boolean_member(p, "no_overwrite", true);
        if (start && pc_flag(args, "build"))
            json_object_set_boolean_member(p, "build", true);
        if (start) { /* Start takes build only */
            json_object_remove_member(p, "overwrite");
            json_object_remove_member(p, "no_overwrite");
        }
        g_autofree char *failed = g_strdup_printf("Failed to %s pool %s", table[i].verb, pool);
        g_autoptr(JsonObject) reply = pc_ctl_call(ctl, table[i].method, p, failed);
        if (!reply)
            return false;
        pc_answer_message(ctl, reply, "Pool %s %s\n", pool, table[i].done);
        return true;
    }
    return false;
}

static bool cmd_pool_autostart(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    const char *pool = pc_arg(args, "pool");
    bool disable = pc_flag(args, "disable");
    JsonObject *p = pool_param(pool);
    json_object_set_boolean_member(p, "autostart", !disable);
    g_autofree char *failed =
        g_strdup_printf("failed to %smark pool %s as autostarted", disable ? "un" : "", pool);
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Pool.SetAutostart", p, failed);
    if (!reply)
        return false;
    pc_answer_message(ctl, reply, "Pool %s %smarked as autostarted\n", pool, disable ? "un" : "");
    return true;
}

/* True when @pool passes pool-list's filters (virsh: no state flag = active only). */
static bool list_filter(PcArgs *args, JsonObject *pool)
{
    bool active = json_object_get_boolean_member(pool, "active");
    bool autostart = json_object_get_boolean_member(pool, "autostart");
    bool persistent = json_object_get_boolean_member(pool, "persistent");
    bool all = pc_flag(args, "all");
    bool inactive = pc_flag(args, "inactive");
    if (!all && inactive && active)
        return false;
    if (!all && !inactive && !active)
        return false;
    if (pc_flag(args, "autostart") && !pc_flag(args, "no-autostart") && !autostart)
        return false;
    if (pc_flag(args, "no-autostart") && !pc_flag(args, "autostart") && autostart)
        return false;
    if (pc_flag(args, "persistent") && !pc_flag(args, "transient") && !persistent)
        return false;
    if (pc_flag(args, "transient") && !pc_flag(args, "persistent") && persistent)
        return false;
    const char *types = pc_arg(args, "type");
    if (types) {
        g_auto(GStrv) list = g_strsplit(types, ",", -1);
        if (!g_strv_contains((const char *const *)list,
                             json_object_get_string_member(pool, "type")))
            return false;
    }
    return true;
}

static char *size_cell(JsonObject *pool, const char *member)
{
    if (!json_object_get_boolean_member(pool, "active"))
        return g_strdup("-");
    return pc_pretty_size((uint64_t)json_object_get_int_member(pool, member));
}

static void print_pool_table(PcCtl *ctl, PcArgs *args, JsonArray *pools)
{
    bool details = pc_flag(args, "details");
    PcTable *t = details ? pc_table_new("Name", "State", "Autostart", "Persistent", "Capacity",
                                        "Allocation", "Available", NULL)
                         : pc_table_new("Name", "State", "Autostart", NULL);
    for (guint i = 0; i < json_array_get_length(pools); i++) {
        JsonObject *p = json_array_get_object_element(pools, i);
        const char *name = json_object_get_string_member(p, "name");
        const char *autostart = json_object_get_boolean_member(p, "autostart") ? "yes" : "no";
        if (!details) {
            pc_table_add(t, name,
                         json_object_get_boolean_member(p, "active") ? "active" : "inactive",
                         autostart, NULL);
            continue;
        }
        g_autofree char *cap = size_cell(p, "capacity");
        g_autofree char *alloc = size_cell(p, "allocation");
        g_autofree char *avail = size_cell(p, "available");
        pc_table_add(t, name, json_object_get_string_member(p, "state"), autostart,
                     json_object_get_boolean_member(p, "persistent") ? "yes" : "no", cap, alloc,
                     avail, NULL);
    }
    pc_table_print(ctl, t);
}

static bool cmd_pool_list(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Pool.List", NULL, NULL);
    if (!reply)
        return false;
    JsonArray *all = json_object_get_array_member(reply, "pools");
    g_autoptr(JsonArray) pools = json_array_new();
    for (guint i = 0; i < json_array_get_length(all); i++) {
        JsonObject *p = json_array_get_object_element(all, i);
        if (list_filter(args, p))
            json_array_add_object_element(pools, json_object_ref(p));
    }
    if (pc_answer_json_array(ctl, pools))
        return true;
    bool names = pc_flag(args, "name"), uuids = pc_flag(args, "uuid");
    if (!names && !uuids) {
        print_pool_table(ctl, args, pools);
        return true;
    }
    for (guint i = 0; i < json_array_get_length(pools); i++) {
        JsonObject *p = json_array_get_object_element(pools, i);
        if (uuids)
            printf("%-36s%c", json_object_get_string_member(p, "uuid"), names ? ' ' : '\n');
        if (names)
            printf("%-20s\n", json_object_get_string_member(p, "name"));
    }
    return true;
}

/* The pool's info, or NULL (error printed). */
static JsonObject *get_pool(PcCtl *ctl, const char *pool)
{
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Pool.Info", pool_param(pool), NULL);
    if (!reply)
        return NULL;
    return json_object_ref(json_object_get_object_member(reply, "pool"));
}

static void print_size_line(const char *label, JsonObject *p, const char *member, bool bytes)
{
    uint64_t v = (uint64_t)json_object_get_int_member(p, member);
    g_autofree char *text = bytes ? g_strdup_printf("%" G_GUINT64_FORMAT, v) : pc_pretty_size(v);
    printf("%-15s %s\n", label, text);
}

static bool cmd_pool_info(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autoptr(JsonObject) p = get_pool(ctl, pc_arg(args, "pool"));
    if (!p)
        return false;
    if (pc_answer_json(ctl, p))
        return true;
    bool bytes = pc_flag(args, "bytes");
    printf("%-15s %s\n", "Name:", json_object_get_string_member(p, "name"));
    printf("%-15s %s\n", "UUID:", json_object_get_string_member(p, "uuid"));
    printf("%-15s %s\n", "State:", json_object_get_string_member(p, "state"));
    printf("%-15s %s\n",
           "Persistent:", json_object_get_boolean_member(p, "persistent") ? "yes" : "no");
    printf("%-15s %s\n",
           "Autostart:", json_object_get_boolean_member(p, "autostart") ? "yes" : "no");
    if (json_object_get_boolean_member(p, "active")) {
        print_size_line("Capacity:", p, "capacity", bytes);
        print_size_line("Allocation:", p, "allocation", bytes);
        print_size_line("Available:", p, "available", bytes);
    }
    return true;
}

static bool cmd_pool_dumpxml(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    JsonObject *p = pool_param(pc_arg(args, "pool"));
    if (pc_flag(args, "inactive"))
        json_object_set_boolean_member(p, "inactive", true);
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Pool.DumpXML", p, NULL);
    if (!reply)
        return false;
    pc_answer_member(ctl, reply, "xml", false);
    return true;
}

static bool cmd_pool_capabilities(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Pool.Capabilities", NULL, NULL);
    if (!reply)
        return false;
    pc_answer_member(ctl, reply, "xml", false);
    return true;
}

/* find-storage-pool-sources-as TYPE [HOST] [PORT] [INITIATOR]: libvirt's <sources> XML. */
static bool cmd_find_sources_as(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    const char *port = pc_arg(args, "port");
    JsonObject *p = json_object_new();
    json_object_set_string_member(p, "type", pc_arg(args, "type"));
    if (pc_arg(args, "host"))
        json_object_set_string_member(p, "host", pc_arg(args, "host"));
    if (port) {
        char *end = NULL;
        gint64 value = g_ascii_strtoll(port, &end, 10);
        if (!*port || *end || value <= 0 || value > 65535) {
            pc_error("invalid port '%s' (1-65535)", port);
            json_object_unref(p);
            return false;
        }
        json_object_set_int_member(p, "port", value);
    }
    if (pc_arg(args, "initiator"))
        json_object_set_string_member(p, "initiator", pc_arg(args, "initiator"));
    g_autofree char *failed =
        g_strdup_printf("Failed to find any %s pool sources", pc_arg(args, "type"));
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Pool.FindSources", p, failed);
    if (!reply)
        return false;
    pc_answer_member(ctl, reply, "xml", false);
    return true;
}

/* A UUID as virsh tells one from a name: 36 characters, hex digits and dashes at their
 * places. */
static bool is_uuid(const char *text)
{
    return g_uuid_string_is_valid(text);
}

/* pool-uuid NAME-OR-UUID and pool-name UUID (as virsh, pool-name looks up a UUID only). */
static bool cmd_pool_name_uuid(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    const char *key = pc_arg(args, "pool");
    bool name = g_str_equal(cmd->name, "pool-name");
    if (name && !is_uuid(key)) {
        pc_error("failed to get pool '%s'", key);
        return false;
    }
    g_autoptr(GError) error = NULL;
    PcConn *conn = pc_ctl_conn(ctl);
    if (!conn)
        return false;
    g_autoptr(JsonObject) reply = pc_call(conn, "io.poold.Pool.Info", pool_param(key), &error);
    JsonObject *p = reply ? json_object_get_object_member(reply, "pool") : NULL;
    /* a pool whose name looks like a UUID is not the pool of that UUID */
    if (name && p && g_ascii_strcasecmp(json_object_get_string_member(p, "uuid"), key) != 0) {
        p = NULL;
        g_set_error(&error, PD_ERROR, PD_ERROR_NO_SUCH_POOL, "no pool has that UUID");
    }
    if (!p) {
        pc_error("failed to get pool '%s'", key);
        if (g_error_matches(error, PD_ERROR, PD_ERROR_NO_SUCH_POOL) && name)
            pc_error("Storage pool not found: no storage pool with matching uuid '%s'", key);
        else if (error)
            pc_error("%s", error->message);
        return false;
    }
    pc_answer_member(ctl, p, name ? "name" : "uuid", true);
    return true;
}

/* pool-edit: dumpxml into a temporary file, $EDITOR, define the result if it changed. */
static bool cmd_pool_edit(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    const char *pool = pc_arg(args, "pool");
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Pool.DumpXML", pool_param(pool), NULL);
    if (!reply)
        return false;
    const char *xml = json_object_get_string_member(reply, "xml");
    g_autoptr(GError) error = NULL;
    g_autofree char *tmp = NULL;
    int fd = g_file_open_tmp("poolctl-XXXXXX.xml", &tmp, &error);
    if (fd < 0 || !g_file_set_contents(tmp, xml, -1, &error)) {
        pc_error("%s", error->message);
        return false;
    }
    close(fd);
    const char *editor = g_getenv("VISUAL") ? g_getenv("VISUAL") : g_getenv("EDITOR");
    g_autofree char *quoted = g_shell_quote(tmp);
    g_autofree char *line = g_strdup_printf("%s %s", editor ? editor : "vi", quoted);
    int status = system(line);
    g_autofree char *edited = NULL;
    bool ok = status == 0 && g_file_get_contents(tmp, &edited, NULL, &error);
    (void)unlink(tmp);
    if (!ok) {
        pc_error("editor failed; pool %s not changed", pool);
        return false;
    }
    if (g_str_equal(edited, xml)) {
        pc_answer_message(ctl, reply, "Pool %s XML configuration not changed.\n", pool);
        return true;
    }
    JsonObject *p = json_object_new();
    json_object_set_string_member(p, "xml", edited);
    g_autoptr(JsonObject) defined = pool_call(ctl, "io.poold.Pool.Define", p, "Failed. Try again?");
    if (!defined)
        return false;
    pc_answer_message(ctl, defined, "Pool %s XML configuration edited.\n",
                      reply_pool_name(defined));
    return true;
}

static const PcOpt o_file[] = {{"file", PC_OPT_DATA, "file containing an XML pool description"},
                               {NULL}};
static const PcOpt o_create[] = {{"file", PC_OPT_DATA, "file containing an XML pool description"},
                                 {"build", PC_OPT_BOOL, "build the pool as normal"},
                                 {"overwrite", PC_OPT_BOOL, "build the pool overwriting"},
                                 {"no-overwrite", PC_OPT_BOOL, "build without overwriting"},
                                 {NULL}};
static const PcOpt o_find_sources[] = {
    {"type", PC_OPT_DATA, "type of storage pool sources to find"},
    {"host", PC_OPT_STRING, "optional host to query"},
    {"port", PC_OPT_STRING, "optional port to query"},
    {"initiator", PC_OPT_STRING, "optional initiator IQN"},
    {NULL}};
static const PcOpt o_pool[] = {{"pool", PC_OPT_DATA, "pool name or uuid"}, {NULL}};
static const PcOpt o_build[] = {{"pool", PC_OPT_DATA, "pool name or uuid"},
                                {"overwrite", PC_OPT_BOOL, "overwrite any existing data"},
                                {"no-overwrite", PC_OPT_BOOL, "do not overwrite existing data"},
                                {NULL}};
static const PcOpt o_start[] = {{"pool", PC_OPT_DATA, "name or uuid of the inactive pool"},
                                {"build", PC_OPT_BOOL, "build the pool as normal"},
                                {"overwrite", PC_OPT_BOOL, "build the pool overwriting"},
                                {"no-overwrite", PC_OPT_BOOL, "build without overwriting"},
                                {NULL}};
static const PcOpt o_autostart[] = {{"pool", PC_OPT_DATA, "pool name or uuid"},
                                    {"disable", PC_OPT_BOOL, "disable autostarting"},
                                    {NULL}};
static const PcOpt o_list[] = {{"inactive", PC_OPT_BOOL, "list inactive pools"},
                               {"all", PC_OPT_BOOL, "list inactive & active pools"},
                               {"transient", PC_OPT_BOOL, "list transient pools"},
                               {"persistent", PC_OPT_BOOL, "list persistent pools"},
                               {"autostart", PC_OPT_BOOL, "list pools with autostart enabled"},
                               {"no-autostart", PC_OPT_BOOL, "list pools with autostart disabled"},
                               {"type", PC_OPT_NAMED, "only list pool of specified type(s)"},
                               {"details", PC_OPT_BOOL, "display extended details for pools"},
                               {"uuid", PC_OPT_BOOL, "list UUID of active pools only"},
                               {"name", PC_OPT_BOOL, "list name of active pools only"},
                               {NULL}};
static const PcOpt o_info[] = {{"pool", PC_OPT_DATA, "pool name or uuid"},
                               {"bytes", PC_OPT_BOOL, "Return pool info in bytes"},
                               {NULL}};
static const PcOpt o_dumpxml[] = {{"pool", PC_OPT_DATA, "pool name or uuid"},
                                  {"inactive", PC_OPT_BOOL, "show inactive defined XML"},
                                  {NULL}};
static const PcOpt o_none[] = {{NULL}};

/* virsh's pool-define-as / pool-create-as options, in its order (positional words fill name,
 * type, then the source and target options up to --target), and poold's netfs options. */
#define POOL_X_AS_OPTS                                                                             \
    {"name", PC_OPT_DATA, "name of the pool"}, {"type", PC_OPT_DATA, "type of the pool"},          \
        {"print-xml", PC_OPT_BOOL, "print the XML, define or create nothing"},                     \
        {"source-host", PC_OPT_STRING, "host of the source (NFS server, iSCSI portal)"},           \
        {"source-path", PC_OPT_STRING, "path of the source (NFS export)"},                         \
        {"source-dev", PC_OPT_STRING, "device of the source (fs, logical)"},                       \
        {"source-name", PC_OPT_STRING, "name of the source (volume group, IQN)"},                  \
        {"target", PC_OPT_STRING, "target: the pool's directory"},                                 \
        {"source-format", PC_OPT_NAMED, "format of the source (filesystem type)"},                 \
        {"auth-type", PC_OPT_NAMED, "authentication type (chap)"},                                 \
        {"auth-username", PC_OPT_NAMED, "authentication user name"},                               \
        {"secret-usage", PC_OPT_NAMED, "usage of the authentication secret"},                      \
        {"secret-uuid", PC_OPT_NAMED, "UUID of the authentication secret"},                        \
        {"adapter-name", PC_OPT_NAMED, "refused: poold has no scsi pools"},                        \
        {"adapter-wwnn", PC_OPT_NAMED, "refused: poold has no scsi pools"},                        \
        {"adapter-wwpn", PC_OPT_NAMED, "refused: poold has no scsi pools"},                        \
        {"adapter-parent", PC_OPT_NAMED, "refused: poold has no scsi pools"},                      \
        {"adapter-parent-wwnn", PC_OPT_NAMED, "refused: poold has no scsi pools"},                 \
        {"adapter-parent-wwpn", PC_OPT_NAMED, "refused: poold has no scsi pools"},                 \
        {"adapter-parent-fabric-wwn", PC_OPT_NAMED, "refused: poold has no scsi pools"},           \
        {"source-protocol-ver", PC_OPT_NAMED, "NFS protocol version (nfsvers=)"},                  \
        {"source-initiator", PC_OPT_NAMED, "initiator IQN of an iSCSI pool"},                      \
        {"netfs-mode", PC_OPT_NAMED, "netfs: auto, mount or userspace (poold)"},                   \
    {                                                                                              \
        "netfs-timeout", PC_OPT_NAMED, "netfs: seconds a server may take to answer (poold)"        \
    }
static const PcOpt o_define_as[] = {POOL_X_AS_OPTS, {NULL}};
static const PcOpt o_create_as[] = {POOL_X_AS_OPTS,
                                    {"build", PC_OPT_BOOL, "build the pool first"},
                                    {"no-overwrite", PC_OPT_BOOL, "build without overwriting"},
                                    {"overwrite", PC_OPT_BOOL, "build, overwriting what is there"},
                                    {NULL}};

const PcCmd pc_pool_cmds[] = {
    {"find-storage-pool-sources-as", cmd_find_sources_as, o_find_sources,
     "find potential storage pool sources"},
    {"pool-autostart", cmd_pool_autostart, o_autostart, "autostart a pool"},
    {"pool-build", cmd_pool_simple, o_build, "build a pool"},
    {"pool-capabilities", cmd_pool_capabilities, o_none, "storage pool capabilities"},
    {"pool-create", cmd_pool_define, o_create, "create a pool from an XML file"},
    {"pool-create-as", cmd_pool_define_as, o_create_as, "create a pool from a set of args"},
    {"pool-define", cmd_pool_define, o_file, "define an inactive persistent storage pool"},
    {"pool-define-as", cmd_pool_define_as, o_define_as, "define a pool from a set of args"},
    {"pool-delete", cmd_pool_simple, o_pool, "delete a pool"},
    {"pool-destroy", cmd_pool_simple, o_pool, "destroy (stop) a pool"},
    {"pool-dumpxml", cmd_pool_dumpxml, o_dumpxml, "pool information in XML"},
    {"pool-edit", cmd_pool_edit, o_pool, "edit XML configuration for a storage pool"},
    {"pool-event", pc_cmd_pool_event, pc_pool_event_opts, "Storage Pool Events"},
    {"pool-info", cmd_pool_info, o_info, "storage pool information"},
    {"pool-list", cmd_pool_list, o_list, "list pools"},
    {"pool-name", cmd_pool_name_uuid, o_pool, "convert a pool UUID to pool name"},
    {"pool-refresh", cmd_pool_simple, o_pool, "refresh a pool"},
    {"pool-start", cmd_pool_simple, o_start, "start a (previously defined) inactive pool"},
    {"pool-undefine", cmd_pool_simple, o_pool, "undefine an inactive pool"},
    {"pool-uuid", cmd_pool_name_uuid, o_pool, "convert a pool name to pool UUID"},
    {NULL},
};
