/* poolctl's help: the usage, the command groups (virsh's "help pool", "help volume") and one
 * command's NAME, SYNOPSIS, DESCRIPTION and OPTIONS laid out as virsh lays them out. */
#include "client/poolctl.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *keyword; /* "help KEYWORD" */
    const char *title;
    const PcCmd *cmds;
} PcGroup;

static const PcGroup groups[] = {
    {"pool", "Storage Pool", pc_pool_cmds},
    {"volume", "Storage Volume", pc_vol_cmds},
    {"secret", "Secret", pc_secret_cmds},
    {"domain", "Domain Disks", pc_domain_cmds},
    {"poold", "poold: Jobs, Events and the Daemon", pc_job_cmds},
    {"poolctl", "poolctl itself", pc_shell_cmds},
};

/* What a command does, beyond its one-line help (the DESCRIPTION of help CMD). */
static const struct {
    const char *cmd, *text;
} descriptions[] = {
    {"find-storage-pool-sources-as", "Lists the storage a pool of the given type could use "
                                     "(exports of an NFS server, targets of an iSCSI portal, "
                                     "LVM volume groups), as libvirt's <sources> XML."},
    {"pool-autostart", "Marks a persistent pool to be started when poold starts (or no "
                       "longer, with --disable)."},
    {"pool-build", "Builds the pool's storage: makes the target directory, formats the "
                   "device or creates the volume group."},
    {"pool-capabilities", "Prints the pool types poold knows and the volume formats each "
                          "takes, as libvirt's storage pool capabilities XML."},
    {"pool-create", "Creates and starts a transient pool from an XML file."},
    {"pool-create-as", "Creates and starts a transient pool from the given arguments."},
    {"pool-define", "Defines a persistent pool from an XML file, or changes the definition "
                    "of an existing one."},
    {"pool-define-as", "Defines a persistent pool from the given arguments."},
    {"pool-delete", "Deletes the pool's storage (an empty target directory, a volume "
                    "group). The definition stays."},
    {"pool-destroy", "Stops the pool. Its data is left as it is."},
    {"pool-dumpxml", "Prints the pool's definition and state as XML on stdout."},
    {"pool-edit", "Opens the pool's XML in $VISUAL or $EDITOR and defines the result when "
                  "it changed."},
    {"pool-info", "Prints the pool's name, UUID, state, persistence, autostart and sizes."},
    {"pool-list", "Lists the pools: active ones by default; the flags choose others."},
    {"pool-name", "Prints the name of the pool with the given UUID."},
    {"pool-refresh", "Scans the pool's storage again for volumes and sizes."},
    {"pool-start", "Starts a defined, inactive pool (building it first with --build)."},
    {"pool-undefine", "Removes the definition of an inactive persistent pool."},
    {"pool-uuid", "Prints the UUID of the named pool."},
    {"pool-event", "Waits for pool events of one type (see --list) and prints them, as "
                   "virsh's pool-event does."},
    {"vol-clone", "Copies a volume into a new one of the same pool."},
    {"vol-create", "Creates a volume from an XML file."},
    {"vol-create-as", "Creates a volume from the given arguments."},
    {"vol-create-from", "Creates a volume from an XML file, with the data of another volume."},
    {"vol-delete", "Deletes a volume and its data."},
    {"vol-download", "Writes the volume's data (or a range of it) into a local file."},
    {"vol-dumpxml", "Prints the volume's definition and state as XML on stdout."},
    {"vol-info", "Prints the volume's name, type, capacity and allocation."},
    {"vol-list", "Lists the volumes of a pool."},
    {"vol-resize", "Changes the volume's capacity. Do it only for volumes that no running "
                   "guest uses."},
    {"vol-upload", "Writes a local file's data into the volume (or into a range of it)."},
    {"vol-wipe", "Overwrites the volume's data, keeping the volume."},
};

static const char *value_type(const PcOpt *o)
{
    return o->type == PC_OPT_NUMBER ? "number" : "string";
}

void pc_help_usage(void)
{
    printf("Usage: poolctl [OPTIONS] [COMMAND [ARGS...]]\n\n"
           "  -c, --connect SOCKET   poold's socket (default %s,\n"
           "                         or %s when that one is not\n"
           "                         accessible; $POOLD_SOCKET)\n"
           "  -C, --libvirt-uri URI  the libvirt URI poold uses for domain commands\n"
           "                         (default: [libvirt] uri of poold's configuration)\n"
           "  -q, --quiet            no table headers and no informational messages\n"
           "  --json                 the answers as JSON (nothing on stdout on errors)\n"
           "  --async                start a long operation as a job and print its id\n"
           "  -h, --help             this help\n"
           "  -v, --version          poolctl's version\n\n"
           "Without a command, poolctl reads commands from its input (a shell on a "
           "terminal).\n\n",
           PC_DEFAULT_SOCKET, PC_DEFAULT_SOCKET_RO);
    for (size_t g = 0; g < G_N_ELEMENTS(groups); g++) {
        printf(" %s (help keyword '%s'):\n", groups[g].title, groups[g].keyword);
        for (const PcCmd *c = groups[g].cmds; c->name; c++)
            printf("    %-30s %s\n", c->name, c->help);
        printf("\n");
    }
}

static const char *description(const PcCmd *cmd)
{
    for (size_t i = 0; i < G_N_ELEMENTS(descriptions); i++)
        if (g_str_equal(descriptions[i].cmd, cmd->name))
            return descriptions[i].text;
    return NULL;
}

void pc_help_command(const PcCmd *cmd)
{
    printf("  NAME\n    %s - %s\n\n  SYNOPSIS\n    %s", cmd->name, cmd->help, cmd->name);
    for (const PcOpt *o = cmd->opts; o && o->name; o++) {
        if (o->type == PC_OPT_BOOL)
            printf(" [--%s]", o->name);
        else if (o->type == PC_OPT_DATA)
            printf(" <%s>", o->name);
        else if (o->type == PC_OPT_ARGV)
            printf(" [<%s>]...", o->name);
        else
            printf(" [--%s <%s>]", o->name, value_type(o));
    }
    printf("\n\n");
    const char *desc = description(cmd);
    if (desc)
        printf("  DESCRIPTION\n    %s\n\n", desc);
    if (cmd->opts && cmd->opts[0].name)
        printf("  OPTIONS\n");
    for (const PcOpt *o = cmd->opts; o && o->name; o++) {
        g_autofree char *left = NULL;
        if (o->type == PC_OPT_BOOL)
            left = g_strdup_printf("--%s", o->name);
        else if (o->type == PC_OPT_DATA)
            left = g_strdup_printf("[--%s] <%s>", o->name, value_type(o));
        else if (o->type == PC_OPT_ARGV)
            left = g_strdup_printf("<%s>", o->name);
        else
            left = g_strdup_printf("--%s <%s>", o->name, value_type(o));
        printf("    %-15s  %s\n", left, o->help ? o->help : "");
    }
    printf("\n");
}

bool pc_help(const char *name)
{
    if (!name) {
        pc_help_usage();
        return true;
    }
    for (size_t g = 0; g < G_N_ELEMENTS(groups); g++) {
        if (!g_str_equal(groups[g].keyword, name))
            continue;
        printf(" %s (help keyword '%s'):\n", groups[g].title, groups[g].keyword);
        for (const PcCmd *c = groups[g].cmds; c->name; c++)
            printf("    %-30s %s\n", c->name, c->help);
        printf("\n");
        return true;
    }
    const PcCmd *cmd = pc_find_cmd(name);
    if (!cmd) {
        pc_error("command or command group '%s' doesn't exist", name);
        return false;
    }
    pc_help_command(cmd);
    return true;
}
