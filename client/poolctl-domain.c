/* poolctl's domain commands (attach-disk, detach-disk, domblklist) and the pool definitions
 * shared with libvirt (pool-import-libvirt, pool-export-libvirt): virsh's syntax and output.
 * The libvirt URI is -C/--libvirt-uri (or --connect of the pool commands); without it poold
 * uses its configured one. */
#include "client/poolctl.h"

#include "common/pd-error.h"

#include <stdio.h>
#include <string.h>

/* {"domain": D} with "uri" when one was given. */
static JsonObject *domain_params(PcCtl *ctl, const char *domain)
{
    JsonObject *p = json_object_new();
    if (ctl->libvirt_uri)
        json_object_set_string_member(p, "uri", ctl->libvirt_uri);
    json_object_set_string_member(p, "domain", domain);
    return p;
}

/* Sets the virsh affect flags given on the command line. */
static void affect_params(JsonObject *p, PcArgs *args)
{
    static const char *const flags[] = {"live", "config", "persistent", "current"};
    for (unsigned i = 0; i < G_N_ELEMENTS(flags); i++)
        if (pc_flag(args, flags[i]))
            json_object_set_boolean_member(p, flags[i], true);
}

/* virsh's --type is disk, cdrom, floppy or lun; --mode readonly or shareable: checked here
 * so a typo fails before poold is asked. */
static bool check_choice(const char *option, const char *value, const char *const *allowed)
{
    if (!value || g_strv_contains(allowed, value))
        return true;
    pc_error("No support for %s in command 'attach-disk' (--%s)", value, option);
    return false;
}

static const PcOpt o_attach[] = {
    {"domain", PC_OPT_DATA, "domain name, id or uuid"},
    {"source", PC_OPT_DATA, "volume: pool/volume, a key, a path, or a name with --pool"},
    {"target", PC_OPT_DATA, "target of disk device"},
    {"pool", PC_OPT_NAMED, "pool of the volume named by source"},
    {"driver", PC_OPT_NAMED, "driver of disk device (qemu)"},
    {"subdriver", PC_OPT_NAMED, "subdriver of disk device (default: the volume's format)"},
    {"cache", PC_OPT_NAMED, "cache mode of disk device"},
    {"targetbus", PC_OPT_NAMED, "target bus of disk device"},
    {"type", PC_OPT_NAMED, "target device type: disk, cdrom, floppy, lun"},
    {"mode", PC_OPT_NAMED, "mode of device reading and writing: readonly, shareable"},
    {"live", PC_OPT_BOOL, "affect running domain"},
    {"config", PC_OPT_BOOL, "affect next boot"},
    {"persistent", PC_OPT_BOOL, "make live change persistent"},
    {"current", PC_OPT_BOOL, "affect current domain"},
    {"print-xml", PC_OPT_BOOL, "print XML document rather than attach the disk"},
    {NULL},
};

/* Prints a failed AttachDisk as virsh does. */
static void attach_failed(const GError *error)
{
    pc_error("Failed to attach disk");
    pc_error("%s", error->message);
}

/* Calls AttachDisk with SOURCE as pool/volume when it looks like one; when no such pool or
 * volume exists, as a key or path (a key may hold '/'), reporting the first error if that
 * fails too. */
static JsonObject *attach_call(PcCtl *ctl, JsonObject *p, const char *pool, const char *source)
{
    PcConn *conn = pc_ctl_conn(ctl);
    if (!conn)
        return NULL;
    g_autoptr(GError) first = NULL;
    const char *slash = strchr(source, '/');
    if (!pool && slash && source[0] != '/') {
        g_autofree char *pool_name = g_strndup(source, (gsize)(slash - source));
        json_object_set_string_member(p, "pool", pool_name);
        json_object_set_string_member(p, "volume", slash + 1);
        JsonObject *reply = pc_call(conn, "io.poold.Domain.AttachDisk", json_object_ref(p), &first);
        if (reply)
            return reply;
        if (!g_error_matches(first, PD_ERROR, PD_ERROR_NO_SUCH_POOL) &&
            !g_error_matches(first, PD_ERROR, PD_ERROR_NO_SUCH_VOLUME)) {
            attach_failed(first);
            return NULL;
        }
        json_object_remove_member(p, "pool");
    } else if (pool) {
        json_object_set_string_member(p, "pool", pool);
    }
    json_object_set_string_member(p, "volume", source);
    g_autoptr(GError) error = NULL;
    JsonObject *reply = pc_call(conn, "io.poold.Domain.AttachDisk", json_object_ref(p), &error);
    if (!reply)
        attach_failed(first && g_error_matches(error, PD_ERROR, PD_ERROR_NO_SUCH_VOLUME) ? first
                                                                                         : error);
    return reply;
}

static bool cmd_attach_disk(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    static const char *const types[] = {"disk", "cdrom", "floppy", "lun", NULL};
    static const char *const modes[] = {"readonly", "shareable", NULL};
    if (!check_choice("type", pc_arg(args, "type"), types) ||
        !check_choice("mode", pc_arg(args, "mode"), modes))
        return false;
    g_autoptr(JsonObject) p = domain_params(ctl, pc_arg(args, "domain"));
    json_object_set_string_member(p, "target", pc_arg(args, "target"));
    static const char *const strings[][2] = {{"driver", "driver"}, {"subdriver", "subdriver"},
                                             {"cache", "cache"},   {"targetbus", "targetbus"},
                                             {"type", "type"},     {"mode", "mode"}};
    for (unsigned i = 0; i < G_N_ELEMENTS(strings); i++)
        if (pc_arg(args, strings[i][0]))
            json_object_set_string_member(p, strings[i][1], pc_arg(args, strings[i][0]));
    affect_params(p, args);
    bool print_xml = pc_flag(args, "print-xml");
    if (print_xml)
        json_object_set_boolean_member(p, "print_xml", true);
    g_autoptr(JsonObject) reply = attach_call(ctl, p, pc_arg(args, "pool"), pc_arg(args, "source"));
    if (!reply)
        return false;
    if (print_xml)
        pc_answer_member(ctl, reply, "xml", false);
    else
        pc_answer_message(ctl, reply, "Disk attached successfully\n");
    return true;
}

static const PcOpt o_detach[] = {
    {"domain", PC_OPT_DATA, "domain name, id or uuid"},
    {"target", PC_OPT_DATA, "target of disk device"},
    {"live", PC_OPT_BOOL, "affect running domain"},
    {"config", PC_OPT_BOOL, "affect next boot"},
    {"persistent", PC_OPT_BOOL, "make live change persistent"},
    {"current", PC_OPT_BOOL, "affect current domain"},
    {NULL},
};

static bool cmd_detach_disk(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    JsonObject *p = domain_params(ctl, pc_arg(args, "domain"));
    json_object_set_string_member(p, "target", pc_arg(args, "target"));
    affect_params(p, args);
    g_autoptr(JsonObject) reply =
        pc_ctl_call(ctl, "io.poold.Domain.DetachDisk", p, "Failed to detach disk");
    if (!reply)
        return false;
    pc_answer_message(ctl, reply, "Disk detached successfully\n");
    return true;
}

static const PcOpt o_blklist[] = {
    {"domain", PC_OPT_DATA, "domain name, id or uuid"},
    {"inactive", PC_OPT_BOOL, "get inactive rather than running configuration"},
    {"details", PC_OPT_BOOL, "additionally display the type and device value"},
    {NULL},
};

static bool cmd_domblklist(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    JsonObject *p = domain_params(ctl, pc_arg(args, "domain"));
    if (pc_flag(args, "inactive"))
        json_object_set_boolean_member(p, "inactive", true);
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Domain.BlkList", p, NULL);
    if (!reply)
        return false;
    if (pc_answer_json(ctl, reply))
        return true;
    bool details = pc_flag(args, "details");
    PcTable *table = details ? pc_table_new("Type", "Device", "Target", "Source", NULL)
                             : pc_table_new("Target", "Source", NULL);
    JsonArray *disks = json_object_get_array_member(reply, "disks");
    for (guint i = 0; i < json_array_get_length(disks); i++) {
        JsonObject *d = json_array_get_object_element(disks, i);
        const char *target = json_object_get_string_member(d, "target");
        const char *source = json_object_get_string_member(d, "source");
        if (details)
            pc_table_add(table, json_object_get_string_member(d, "type"),
                         json_object_get_string_member(d, "device"), target, source, NULL);
        else
            pc_table_add(table, target, source, NULL);
    }
    pc_table_print(ctl, table);
    return true;
}

/* ---- pools shared with libvirt ---- */

/* --connect URI (or -C) among @argv; the rest are pool names. False on a bad line. */
static bool import_args(PcCtl *ctl, int argc, char **argv, const char **ret_uri, GPtrArray *pools)
{
    *ret_uri = ctl->libvirt_uri;
    for (int i = 0; i < argc; i++) {
        if (g_str_equal(argv[i], "--connect") && i + 1 < argc)
            *ret_uri = argv[++i];
        else if (g_str_has_prefix(argv[i], "--connect="))
            *ret_uri = argv[i] + strlen("--connect=");
        else if (g_str_has_prefix(argv[i], "--")) {
            pc_error("command 'pool-import-libvirt' doesn't support option %s", argv[i]);
            return false;
        } else
            g_ptr_array_add(pools, argv[i]);
    }
    return true;
}

/* Prints what one ImportLibvirt call did; false when a named pool was not imported. */
static bool print_imported(PcCtl *ctl, JsonObject *reply)
{
    bool ok = true;
    JsonArray *done = json_object_get_array_member(reply, "imported");
    for (guint i = 0; done && i < json_array_get_length(done); i++)
        if (!ctl->quiet)
            printf("Pool %s imported from libvirt\n", json_array_get_string_element(done, i));
    JsonArray *skipped = json_object_get_array_member(reply, "skipped");
    for (guint i = 0; skipped && i < json_array_get_length(skipped); i++) {
        JsonObject *s = json_array_get_object_element(skipped, i);
        pc_error("pool '%s' not imported: %s", json_object_get_string_member(s, "pool"),
                 json_object_get_string_member(s, "reason"));
        ok = false;
    }
    return ok;
}

static bool cmd_pool_import_libvirt(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc,
                                    char **argv)
{
    const char *uri = NULL;
    g_autoptr(GPtrArray) pools = g_ptr_array_new();
    if (!import_args(ctl, argc, argv, &uri, pools))
        return false;
    bool ok = true;
    for (guint i = 0; i < MAX(pools->len, 1); i++) {
        JsonObject *p = json_object_new();
        if (uri)
            json_object_set_string_member(p, "uri", uri);
        if (pools->len)
            json_object_set_string_member(p, "pool", pools->pdata[i]);
        g_autofree char *failed =
            pools->len
                ? g_strdup_printf("Failed to import pool %s from libvirt", (char *)pools->pdata[i])
                : g_strdup("Failed to import pools from libvirt");
        g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Pool.ImportLibvirt", p, failed);
        if (!reply) {
            ok = false;
            continue;
        }
        if (!pc_answer_json(ctl, reply) && !print_imported(ctl, reply))
            ok = false;
    }
    return ok;
}

static const PcOpt o_export[] = {
    {"pool", PC_OPT_DATA, "pool name or uuid"},
    {"connect", PC_OPT_NAMED, "libvirt URI (default: -C, else poold's configured URI)"},
    {NULL},
};

static bool cmd_pool_export_libvirt(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc,
                                    char **argv)
{
    JsonObject *p = json_object_new();
    const char *pool = pc_arg(args, "pool");
    const char *uri = pc_arg(args, "connect") ? pc_arg(args, "connect") : ctl->libvirt_uri;
    if (uri)
        json_object_set_string_member(p, "uri", uri);
    json_object_set_string_member(p, "pool", pool);
    g_autofree char *failed = g_strdup_printf("Failed to export pool %s to libvirt", pool);
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Pool.ExportLibvirt", p, failed);
    if (!reply)
        return false;
    pc_answer_message(
        ctl, reply, "Pool %s exported to libvirt%s\n", pool,
        json_object_get_boolean_member_with_default(reply, "started", false) ? " and started" : "");
    return true;
}

static const PcOpt o_import[] = {
    {"connect", PC_OPT_NAMED, "libvirt URI (default: -C, or poold's [libvirt] uri)"},
    {"pool", PC_OPT_ARGV, "the pools to import (default: every pool libvirt has)"},
    {NULL}};

const PcCmd pc_domain_cmds[] = {
    {"attach-disk", cmd_attach_disk, o_attach, "attach a volume as a disk of a domain"},
    {"detach-disk", cmd_detach_disk, o_detach, "detach a disk from a domain"},
    {"domblklist", cmd_domblklist, o_blklist, "list all domain blocks"},
    {"pool-export-libvirt", cmd_pool_export_libvirt, o_export,
     "define a pool in libvirt (and start it there when it runs here)"},
    {"pool-import-libvirt", cmd_pool_import_libvirt, o_import,
     "copy pool definitions from libvirt: [--connect URI] [POOL...]"},
    {NULL},
};
