/* poolctl: virsh's secret-* commands over io.poold.Secret. Secret values go to the daemon
 * only; poolctl never prints one. */
#include "poolctl.h"

#include <stdio.h>
#include <string.h>

static JsonObject *secret_param(const char *secret)
{
    JsonObject *p = json_object_new();
    json_object_set_string_member(p, "secret", secret);
    return p;
}

static bool cmd_secret_define(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    const char *path = pc_arg(args, "file");
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    if (!g_file_get_contents(path, &xml, NULL, &error)) {
        pc_error("Failed to open file '%s': %s", path, error->message);
        return false;
    }
    JsonObject *p = json_object_new();
    json_object_set_string_member(p, "xml", xml);
    g_autofree char *failed = g_strdup_printf("Failed to set attributes from %s", path);
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Secret.Define", p, failed);
    if (!reply)
        return false;
    JsonObject *s = json_object_get_object_member(reply, "secret");
    pc_answer_message(ctl, s, "Secret %s created\n", json_object_get_string_member(s, "uuid"));
    return true;
}

/* The value to send, base64: --base64 B64 or the positional BASE64, or the contents of
 * --file (base64 text, or raw bytes with --plain). NULL with the error printed. */
static char *value_base64(PcArgs *args)
{
    const char *b64 = pc_arg(args, "base64");
    const char *file = pc_arg(args, "file");
    bool plain = pc_flag(args, "plain");
    if ((b64 != NULL) == (file != NULL)) {
        pc_error("Command 'secret-set-value' needs exactly one of --base64 and --file");
        return NULL;
    }
    if (b64) {
        if (plain) {
            pc_error("--plain applies to --file only");
            return NULL;
        }
        return g_strdup(b64);
    }
    g_autoptr(GError) error = NULL;
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(file, &data, &len, &error)) {
        pc_error("Failed to read '%s': %s", file, error->message);
        return NULL;
    }
    char *out = plain ? g_base64_encode((const guchar *)data, len) : g_strdup(g_strstrip(data));
    explicit_bzero(data, len);
    return out;
}

static bool cmd_secret_set_value(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autofree char *b64 = value_base64(args);
    if (!b64)
        return false;
    JsonObject *p = secret_param(pc_arg(args, "secret"));
    json_object_set_string_member(p, "value", b64);
    explicit_bzero(b64, strlen(b64));
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Secret.SetValue", p, NULL);
    if (!reply)
        return false;
    pc_answer_message(ctl, reply, "Secret value set\n");
    return true;
}

static bool cmd_secret_get_value(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autoptr(JsonObject) reply =
        pc_ctl_call(ctl, "io.poold.Secret.GetValue", secret_param(pc_arg(args, "secret")), NULL);
    return reply != NULL; /* always refused: poold never gives values back */
}

static bool cmd_secret_dumpxml(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autoptr(JsonObject) reply =
        pc_ctl_call(ctl, "io.poold.Secret.DumpXML", secret_param(pc_arg(args, "secret")), NULL);
    if (!reply)
        return false;
    pc_answer_member(ctl, reply, "xml", false);
    return true;
}

static bool cmd_secret_undefine(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    const char *secret = pc_arg(args, "secret");
    g_autofree char *failed = g_strdup_printf("Failed to delete secret %s", secret);
    g_autoptr(JsonObject) reply =
        pc_ctl_call(ctl, "io.poold.Secret.Undefine", secret_param(secret), failed);
    if (!reply)
        return false;
    pc_answer_message(ctl, reply, "Secret %s deleted\n",
                      json_object_get_string_member(reply, "uuid"));
    return true;
}

static bool cmd_secret_list(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Secret.List", NULL, NULL);
    if (!reply)
        return false;
    JsonArray *all = json_object_get_array_member(reply, "secrets");
    if (pc_answer_json_array(ctl, all))
        return true;
    PcTable *table = pc_table_new("UUID", "Usage", NULL);
    for (guint i = 0; i < json_array_get_length(all); i++) {
        JsonObject *s = json_array_get_object_element(all, i);
        g_autofree char *usage =
            g_strdup_printf("%s %s", json_object_get_string_member(s, "usage_type"),
                            json_object_get_string_member(s, "usage_id"));
        pc_table_add(table, json_object_get_string_member(s, "uuid"), usage, NULL);
    }
    pc_table_print(ctl, table);
    return true;
}

static const PcOpt o_file[] = {{"file", PC_OPT_DATA, "file containing an XML secret description"},
                               {NULL}};
static const PcOpt o_secret[] = {{"secret", PC_OPT_DATA, "secret UUID or usage"}, {NULL}};
static const PcOpt o_set_value[] = {
    {"secret", PC_OPT_DATA, "secret UUID or usage"},
    {"base64", PC_OPT_STRING, "base64-encoded secret value"},
    {"file", PC_OPT_NAMED, "read secret from file"},
    {"plain", PC_OPT_BOOL, "read the file as raw bytes, not base64"},
    {NULL}};
static const PcOpt o_list[] = {{"ephemeral", PC_OPT_BOOL, "list ephemeral secrets (ignored)"},
                               {"no-ephemeral", PC_OPT_BOOL, "list non-ephemeral (ignored)"},
                               {"private", PC_OPT_BOOL, "list private secrets (ignored)"},
                               {"no-private", PC_OPT_BOOL, "list non-private (ignored)"},
                               {NULL}};

const PcCmd pc_secret_cmds[] = {
    {"secret-define", cmd_secret_define, o_file, "define or modify a secret from an XML file"},
    {"secret-dumpxml", cmd_secret_dumpxml, o_secret, "secret attributes in XML"},
    {"secret-get-value", cmd_secret_get_value, o_secret, "refused: values are write-only"},
    {"secret-list", cmd_secret_list, o_list, "list secrets"},
    {"secret-set-value", cmd_secret_set_value, o_set_value, "set a secret value"},
    {"secret-undefine", cmd_secret_undefine, o_secret, "undefine a secret"},
    {NULL},
};
