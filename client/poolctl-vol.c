/* poolctl's vol-* commands: virsh's syntax and output, plus vol-snapshot-*. */
#include "client/poolctl.h"

#include "common/pd-error.h"
#include "xml/define-as.h"
#include "xml/units.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* {"volume": VOL, "pool": POOL (when given)} */
static JsonObject *vol_params(PcArgs *args)
{
    JsonObject *p = json_object_new();
    json_object_set_string_member(p, "volume", pc_arg(args, "vol"));
    if (pc_arg(args, "pool"))
        json_object_set_string_member(p, "pool", pc_arg(args, "pool"));
    return p;
}

/* The volume's info, or NULL (error printed). */
static JsonObject *get_vol(PcCtl *ctl, PcArgs *args)
{
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Volume.Info", vol_params(args), NULL);
    if (!reply)
        return NULL;
    return json_object_ref(json_object_get_object_member(reply, "volume"));
}

static const char *reply_vol_name(JsonObject *reply, const char *fallback)
{
    if (reply && json_object_has_member(reply, "volume"))
        return json_object_get_string_member(json_object_get_object_member(reply, "volume"),
                                             "name");
    return fallback;
}

/* "Vol NAME created" (the name as poold made it); @data: the name given. */
static void print_created(PcCtl *ctl, JsonObject *reply, gpointer data)
{
    pc_answer_message(ctl, reply, "Vol %s created\n", reply_vol_name(reply, data));
}

/* The arguments of vol-create-as, by their options' names. */
static void vol_create_args(PcArgs *a, PdVolCreateArgs *out)
{
    *out = (PdVolCreateArgs){
        .pool = pc_arg(a, "pool"),
        .name = pc_arg(a, "name"),
        .capacity = pc_arg(a, "capacity"),
        .allocation = pc_arg(a, "allocation"),
        .format = pc_arg(a, "format"),
        .backing_vol = pc_arg(a, "backing-vol"),
        .backing_vol_format = pc_arg(a, "backing-vol-format"),
        .prealloc_metadata = pc_flag(a, "prealloc-metadata"),
        .print_xml = pc_flag(a, "print-xml"),
    };
}

/* The path of the backing volume @name (a volume of @pool, a key or a path), as virsh looks
 * it up for --print-xml. NULL with virsh's error printed. Caller frees. */
static char *backing_path(PcCtl *ctl, const char *pool, const char *name)
{
    PcConn *conn = pc_ctl_conn(ctl);
    if (!conn)
        return NULL;
    for (int by_pool = 1; by_pool >= 0; by_pool--) {
        JsonObject *p = json_object_new();
        json_object_set_string_member(p, "volume", name);
        if (by_pool)
            json_object_set_string_member(p, "pool", pool);
        g_autoptr(JsonObject) reply = pc_call(conn, "io.poold.Volume.Info", p, NULL);
        if (reply)
            return g_strdup(json_object_get_string_member(
                json_object_get_object_member(reply, "volume"), "path"));
    }
    pc_error("failed to get vol '%s'", name);
    return NULL;
}

/* --print-xml: virsh's minimal XML of the arguments. */
static bool print_create_xml(PcCtl *ctl, const PdVolCreateArgs *args, uint64_t capacity,
                             uint64_t allocation)
{
    g_autofree char *backing = NULL;
    if (args->backing_vol && !(backing = backing_path(ctl, args->pool, args->backing_vol)))
        return false;
    g_autofree char *xml = pd_vol_create_args_xml(args, capacity, allocation, backing);
    printf("%s", xml);
    return true;
}

static bool cmd_vol_create_as(PcCtl *ctl, const PcCmd *cmd, PcArgs *vargs, int argc, char **argv)
{
    PdVolCreateArgs args;
    vol_create_args(vargs, &args);
    /* virsh's order: the pool, then the sizes, then the rest */
    int type = pc_ctl_pool_type(ctl, args.pool);
    if (type < 0)
        return false;
    uint64_t capacity = 0, allocation = 0;
    if (!pc_parse_size(args.capacity, &capacity) ||
        (args.allocation && !pc_parse_size(args.allocation, &allocation)))
        return false;
    g_autofree char *failed = g_strdup_printf("Failed to create vol %s", args.name);
    g_autoptr(GError) error = NULL;
    g_autoptr(PdVolDef) def = pd_vol_def_from_args((PdPoolType)type, &args, &error);
    if (!def) {
        pc_error("%s", failed);
        pc_error("%s", error->message);
        return false;
    }
    if (args.print_xml)
        return print_create_xml(ctl, &args, capacity, allocation);
    g_autofree char *xml = pd_vol_def_format(def);
    JsonObject *p = json_object_new();
    json_object_set_string_member(p, "pool", args.pool);
    json_object_set_string_member(p, "xml", xml);
    if (ctl->pipeline)
        return pc_ctl_call_pipelined(ctl, "io.poold.Volume.Create", p, failed, print_created,
                                     g_strdup(args.name), g_free);
    g_autoptr(JsonObject) reply = pc_ctl_call_job(ctl, "io.poold.Volume.Create", p, -1, failed);
    if (!reply)
        return false;
    if (!ctl->async)
        print_created(ctl, reply, (gpointer)args.name);
    return true;
}

static bool cmd_vol_create(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    const char *file = pc_arg(args, "file");
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    if (!g_file_get_contents(file, &xml, NULL, &error)) {
        pc_error("Failed to open file '%s': %s", file, error->message);
        return false;
    }
    bool from = g_str_equal(cmd->name, "vol-create-from");
    JsonObject *p = json_object_new();
    json_object_set_string_member(p, "pool", pc_arg(args, "pool"));
    json_object_set_string_member(p, "xml", xml);
    if (from) {
        json_object_set_string_member(p, "source", pc_arg(args, "vol"));
        if (pc_arg(args, "inputpool"))
            json_object_set_string_member(p, "source_pool", pc_arg(args, "inputpool"));
        if (pc_flag(args, "reflink"))
            json_object_set_boolean_member(p, "reflink", true);
    }
    g_autofree char *failed = g_strdup_printf("Failed to create vol from %s", file);
    g_autoptr(JsonObject) reply = pc_ctl_call_job(
        ctl, from ? "io.poold.Volume.CreateFrom" : "io.poold.Volume.Create", p, -1, failed);
    if (!reply)
        return false;
    if (ctl->async)
        return true;
    if (from)
        pc_answer_message(ctl, reply, "Vol %s created from input vol %s\n",
                          reply_vol_name(reply, pc_arg(args, "file")), pc_arg(args, "vol"));
    else
        pc_answer_message(ctl, reply, "Vol %s created from %s\n",
                          reply_vol_name(reply, pc_arg(args, "file")), file);
    return true;
}

static bool cmd_vol_clone(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    JsonObject *p = vol_params(args);
    json_object_set_string_member(p, "name", pc_arg(args, "newname"));
    if (pc_flag(args, "reflink"))
        json_object_set_boolean_member(p, "reflink", true);
    g_autofree char *failed = g_strdup_printf("Failed to clone vol from %s", pc_arg(args, "vol"));
    g_autoptr(JsonObject) reply = pc_ctl_call_job(ctl, "io.poold.Volume.Clone", p, -1, failed);
    if (!reply)
        return false;
    if (!ctl->async)
        pc_answer_message(ctl, reply, "Vol %s cloned from %s\n", pc_arg(args, "newname"),
                          pc_arg(args, "vol"));
    return true;
}

static void print_deleted(PcCtl *ctl, JsonObject *reply, gpointer data)
{
    pc_answer_message(ctl, reply, "Vol %s deleted\n", (const char *)data);
}

static bool cmd_vol_delete(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autofree char *failed = g_strdup_printf("Failed to delete vol %s", pc_arg(args, "vol"));
    JsonObject *p = vol_params(args);
    if (pc_flag(args, "delete-snapshots"))
        json_object_set_boolean_member(p, "delete_snapshots", true);
    return pc_ctl_call_pipelined(ctl, "io.poold.Volume.Delete", p, failed, print_deleted,
                                 g_strdup(pc_arg(args, "vol")), g_free);
}

static bool cmd_vol_wipe(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    JsonObject *p = vol_params(args);
    if (pc_arg(args, "algorithm"))
        json_object_set_string_member(p, "algorithm", pc_arg(args, "algorithm"));
    g_autofree char *failed = g_strdup_printf("Failed to wipe vol %s", pc_arg(args, "vol"));
    g_autoptr(JsonObject) reply = pc_ctl_call_job(ctl, "io.poold.Volume.Wipe", p, -1, failed);
    if (!reply)
        return false;
    if (!ctl->async)
        pc_answer_message(ctl, reply, "Vol %s wiped\n", pc_arg(args, "vol"));
    return true;
}

/* vol-resize VOL CAPACITY: "-5G" (needs --shrink) shrinks by 5G, "+5G" grows by 5G (as
 * qemu-img; virsh reads "+5G" as 5G), --delta makes any value relative. */
static bool cmd_vol_resize(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    const char *text = pc_arg(args, "capacity");
    bool delta = pc_flag(args, "delta"), shrink = pc_flag(args, "shrink");
    if (*text == '-' || *text == '+') {
        if (*text == '-' && !shrink) {
            pc_error("negative size requires --shrink");
            return false;
        }
        delta = true;
        text++;
    }
    uint64_t value = 0;
    if (!pc_parse_size(text, &value))
        return false;
    JsonObject *p = vol_params(args);
    json_object_set_int_member(p, "capacity", (int64_t)value);
    json_object_set_boolean_member(p, "delta", delta);
    json_object_set_boolean_member(p, "shrink", shrink);
    json_object_set_boolean_member(p, "allocate", pc_flag(args, "allocate"));
    const char *vol = pc_arg(args, "vol"), *how = delta ? "by" : "to";
    g_autofree char *failed =
        g_strdup_printf("Failed to change size of volume '%s' %s %s", vol, how, text);
    g_autoptr(JsonObject) reply = pc_ctl_call_job(ctl, "io.poold.Volume.Resize", p, -1, failed);
    if (!reply)
        return false;
    if (!ctl->async)
        pc_answer_message(ctl, reply, "Size of volume '%s' successfully changed %s %s\n", vol, how,
                          text);
    return true;
}

static void size_line(const char *label, uint64_t v, bool bytes)
{
    if (bytes)
        printf("%-15s %" G_GUINT64_FORMAT " bytes\n", label, v);
    else {
        g_autofree char *text = pc_pretty_size(v);
        printf("%-15s %s\n", label, text);
    }
}

static bool cmd_vol_info(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autoptr(JsonObject) v = get_vol(ctl, args);
    if (!v)
        return false;
    if (pc_answer_json(ctl, v))
        return true;
    bool bytes = pc_flag(args, "bytes");
    printf("%-15s %s\n", "Name:", json_object_get_string_member(v, "name"));
    printf("%-15s %s\n", "Type:", json_object_get_string_member(v, "type"));
    size_line("Capacity:", (uint64_t)json_object_get_int_member(v, "capacity"), bytes);
    if (pc_flag(args, "physical"))
        size_line("Physical:", (uint64_t)json_object_get_int_member(v, "physical"), bytes);
    else
        size_line("Allocation:", (uint64_t)json_object_get_int_member(v, "allocation"), bytes);
    return true;
}

static bool cmd_vol_list(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    JsonObject *p = json_object_new();
    json_object_set_string_member(p, "pool", pc_arg(args, "pool"));
    g_autoptr(JsonObject) reply =
        pc_ctl_call(ctl, "io.poold.Volume.List", p, "Failed to list volumes");
    if (!reply)
        return false;
    JsonArray *vols = json_object_get_array_member(reply, "volumes");
    if (pc_answer_json_array(ctl, vols))
        return true;
    bool details = pc_flag(args, "details");
    PcTable *t = details ? pc_table_new("Name", "Path", "Type", "Capacity", "Allocation", NULL)
                         : pc_table_new("Name", "Path", NULL);
    for (guint i = 0; i < json_array_get_length(vols); i++) {
        JsonObject *v = json_array_get_object_element(vols, i);
        const char *name = json_object_get_string_member(v, "name");
        const char *path = json_object_get_string_member(v, "path");
        if (!details) {
            pc_table_add(t, name, path, NULL);
            continue;
        }
        g_autofree char *cap = pc_pretty_size((uint64_t)json_object_get_int_member(v, "capacity"));
        g_autofree char *alloc =
            pc_pretty_size((uint64_t)json_object_get_int_member(v, "allocation"));
        pc_table_add(t, name, path, json_object_get_string_member(v, "type"), cap, alloc, NULL);
    }
    pc_table_print(ctl, t);
    return true;
}

static bool cmd_vol_dumpxml(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autoptr(JsonObject) reply =
        pc_ctl_call(ctl, "io.poold.Volume.DumpXML", vol_params(args), NULL);
    if (!reply)
        return false;
    pc_answer_member(ctl, reply, "xml", false);
    return true;
}

/* vol-path, vol-key, vol-name, vol-pool: one field of the volume's info. */
static bool cmd_vol_field(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autoptr(JsonObject) v = get_vol(ctl, args);
    if (!v)
        return false;
    if (pc_answer_json(ctl, v))
        return true;
    const char *field = cmd->name + strlen("vol-");
    if (g_str_equal(field, "pool") && pc_flag(args, "uuid")) {
        JsonObject *p = json_object_new();
        json_object_set_string_member(p, "pool", json_object_get_string_member(v, "pool"));
        g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Pool.Info", p, NULL);
        if (!reply)
            return false;
        printf("%s\n",
               json_object_get_string_member(json_object_get_object_member(reply, "pool"), "uuid"));
        return true;
    }
    const char *value = json_object_get_string_member(v, field);
    /* a network volume (NFS in userspace mode) has no local path: its URL is where it is, as
     * libvirt's vol-path of a gluster volume prints its gluster:// URL */
    if (g_str_equal(field, "path") && !*value)
        value = json_object_get_string_member(v, "key");
    printf("%s\n", value);
    return true;
}

/* Opens the local file a download writes into: a new file (*ret_created set), else the existing
 * one truncated. Returns the descriptor, or -1 with errno. */
static int open_download_file(const char *file, bool *ret_created)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
        *ret_created = true;
        return fd;
    }
    if (errno != EEXIST)
        return -1;
    return open(file, O_WRONLY | O_TRUNC | O_CLOEXEC);
}

/* vol-upload / vol-download: poolctl opens the local file and passes the descriptor. */
static bool cmd_vol_transfer(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    bool upload = g_str_equal(cmd->name, "vol-upload");
    const char *file = pc_arg(args, "file");
    bool created = false;
    int fd = upload ? open(file, O_RDONLY | O_CLOEXEC) : open_download_file(file, &created);
    if (fd < 0) {
        pc_error("cannot open file '%s': %s", file, g_strerror(errno));
        return false;
    }
    JsonObject *p = vol_params(args);
    const char *names[] = {"offset", "length"};
    for (unsigned i = 0; i < 2; i++) {
        const char *text = pc_arg(args, names[i]);
        uint64_t v = 0;
        if (text && !pd_xml_parse_size_text(text, names[i], PD_XML_SIZE_MAX, &v, NULL)) {
            pc_error("Unable to parse integer parameter to --%s", names[i]);
            json_object_unref(p);
            close(fd);
            return false;
        }
        if (text)
            json_object_set_int_member(p, names[i], (int64_t)v);
    }
    if (pc_flag(args, "sparse"))
        json_object_set_boolean_member(p, "sparse", true);
    g_autofree char *failed = g_strdup_printf(
        "cannot %s volume %s", upload ? "upload to" : "download from", pc_arg(args, "vol"));
    g_autoptr(JsonObject) reply = pc_ctl_call_job(
        ctl, upload ? "io.poold.Volume.Upload" : "io.poold.Volume.Download", p, fd, failed);
    close(fd);
    /* as virsh: a download that failed leaves no file it made behind */
    if (!reply && created)
        (void)unlink(file);
    return reply != NULL;
}

static bool cmd_vol_snapshot(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    static const struct {
        const char *cmd, *method, *done;
    } table[] = {
        {"vol-snapshot-create", "io.poold.Volume.SnapshotCreate", "created"},
        {"vol-snapshot-revert", "io.poold.Volume.SnapshotRevert", "reverted to"},
        {"vol-snapshot-delete", "io.poold.Volume.SnapshotDelete", "deleted"},
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(table); i++) {
        if (!g_str_equal(cmd->name, table[i].cmd))
            continue;
        JsonObject *p = vol_params(args);
        json_object_set_string_member(p, "name", pc_arg(args, "snapshotname"));
        g_autofree char *failed = g_strdup_printf(
            "Failed to %s snapshot %s of vol %s", cmd->name + strlen("vol-snapshot-"),
            pc_arg(args, "snapshotname"), pc_arg(args, "vol"));
        g_autoptr(JsonObject) reply = pc_ctl_call(ctl, table[i].method, p, failed);
        if (!reply)
            return false;
        if (i == 1)
            pc_answer_message(ctl, reply, "Vol %s reverted to snapshot %s\n", pc_arg(args, "vol"),
                              pc_arg(args, "snapshotname"));
        else
            pc_answer_message(ctl, reply, "Snapshot %s of vol %s %s\n",
                              pc_arg(args, "snapshotname"), pc_arg(args, "vol"), table[i].done);
        return true;
    }
    return false;
}

static bool cmd_vol_snapshot_list(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autoptr(JsonObject) reply =
        pc_ctl_call(ctl, "io.poold.Volume.SnapshotList", vol_params(args), NULL);
    if (!reply)
        return false;
    JsonArray *snaps = json_object_get_array_member(reply, "snapshots");
    if (pc_answer_json_array(ctl, snaps))
        return true;
    PcTable *t = pc_table_new("Id", "Name", "Creation Time", "VM Size", NULL);
    for (guint i = 0; i < json_array_get_length(snaps); i++) {
        JsonObject *s = json_array_get_object_element(snaps, i);
        g_autoptr(GDateTime) dt =
            g_date_time_new_from_unix_local(json_object_get_int_member(s, "date"));
        g_autofree char *date = dt ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S %z") : NULL;
        g_autofree char *size = pc_pretty_size((uint64_t)json_object_get_int_member(s, "vm_size"));
        pc_table_add(t, json_object_get_string_member(s, "id"),
                     json_object_get_string_member(s, "name"), date ? date : "-", size, NULL);
    }
    pc_table_print(ctl, t);
    return true;
}

#define VOL                                                                                        \
    {                                                                                              \
        "vol", PC_OPT_DATA, "vol name, key or path"                                                \
    }
#define POOL                                                                                       \
    {                                                                                              \
        "pool", PC_OPT_STRING, "pool name or uuid"                                                 \
    }

static const PcOpt o_create_as[] = {
    {"pool", PC_OPT_DATA, "pool name"},
    {"name", PC_OPT_DATA, "name of the volume"},
    {"capacity", PC_OPT_DATA, "size of the volume, a number with an optional unit (20G)"},
    {"allocation", PC_OPT_STRING, "size allocated at once, a number with an optional unit"},
    {"format", PC_OPT_STRING, "format of the volume (raw, qcow2, ...)"},
    {"backing-vol", PC_OPT_STRING, "the backing volume, for an overlay"},
    {"backing-vol-format", PC_OPT_STRING, "format of the backing volume"},
    {"prealloc-metadata", PC_OPT_BOOL, "preallocate the metadata (qcow2) instead of the data"},
    {"print-xml", PC_OPT_BOOL, "print the XML, create nothing"},
    {NULL}};
static const PcOpt o_create[] = {{"pool", PC_OPT_DATA, "pool name"},
                                 {"file", PC_OPT_DATA, "file containing an XML vol description"},
                                 {"prealloc-metadata", PC_OPT_BOOL, "preallocate metadata"},
                                 {NULL}};
static const PcOpt o_create_from[] = {
    {"pool", PC_OPT_DATA, "pool name or uuid"},
    {"file", PC_OPT_DATA, "file containing an XML vol description"},
    VOL,
    {"inputpool", PC_OPT_NAMED, "pool name or uuid of the input vol's pool"},
    {"prealloc-metadata", PC_OPT_BOOL, "preallocate metadata"},
    {"reflink", PC_OPT_BOOL, "use btrfs COW lightweight copy"},
    {NULL}};
static const PcOpt o_clone[] = {VOL,
                                {"newname", PC_OPT_DATA, "clone name"},
                                POOL,
                                {"prealloc-metadata", PC_OPT_BOOL, "preallocate metadata"},
                                {"reflink", PC_OPT_BOOL, "use btrfs COW lightweight copy"},
                                {NULL}};
static const PcOpt o_vol[] = {VOL, POOL, {NULL}};
static const PcOpt o_delete[] = {
    VOL, POOL, {"delete-snapshots", PC_OPT_BOOL, "delete snapshots too"}, {NULL}};
static const PcOpt o_wipe[] = {
    VOL,
    POOL,
    {"algorithm", PC_OPT_NAMED, "how to wipe: zero (the default), random or trim"},
    {NULL}};
static const PcOpt o_resize[] = {VOL,
                                 {"capacity", PC_OPT_DATA, "new capacity for the vol"},
                                 POOL,
                                 {"allocate", PC_OPT_BOOL, "allocate the new capacity"},
                                 {"delta", PC_OPT_BOOL, "use capacity as a delta"},
                                 {"shrink", PC_OPT_BOOL, "allow the resize to shrink"},
                                 {NULL}};
static const PcOpt o_info[] = {VOL,
                               POOL,
                               {"bytes", PC_OPT_BOOL, "sizes in bytes"},
                               {"physical", PC_OPT_BOOL, "physical size in the allocation field"},
                               {NULL}};
static const PcOpt o_list[] = {{"pool", PC_OPT_DATA, "pool name or uuid"},
                               {"details", PC_OPT_BOOL, "display extended details for volumes"},
                               {NULL}};
static const PcOpt o_volpool[] = {VOL, {"uuid", PC_OPT_BOOL, "return the pool uuid"}, {NULL}};
static const PcOpt o_transfer[] = {VOL,
                                   {"file", PC_OPT_DATA, "file"},
                                   POOL,
                                   {"offset", PC_OPT_NUMBER, "volume offset"},
                                   {"length", PC_OPT_NUMBER, "amount of data"},
                                   {"sparse", PC_OPT_BOOL, "preserve sparseness"},
                                   {NULL}};
static const PcOpt o_snap[] = {VOL, {"snapshotname", PC_OPT_DATA, "snapshot name"}, POOL, {NULL}};

const PcCmd pc_vol_cmds[] = {
    {"vol-clone", cmd_vol_clone, o_clone, "clone a volume"},
    {"vol-create", cmd_vol_create, o_create, "create a vol from an XML file"},
    {"vol-create-as", cmd_vol_create_as, o_create_as, "create a volume from a set of args", true},
    {"vol-create-from", cmd_vol_create, o_create_from, "create a vol, using another as input"},
    {"vol-delete", cmd_vol_delete, o_delete, "delete a vol", true},
    {"vol-download", cmd_vol_transfer, o_transfer, "download volume contents to a file"},
    {"vol-dumpxml", cmd_vol_dumpxml, o_vol, "vol information in XML"},
    {"vol-info", cmd_vol_info, o_info, "storage vol information"},
    {"vol-key", cmd_vol_field, o_vol, "returns the volume key for a given volume name or path"},
    {"vol-list", cmd_vol_list, o_list, "list vols"},
    {"vol-name", cmd_vol_field, o_vol, "returns the volume name for a given volume key or path"},
    {"vol-path", cmd_vol_field, o_vol, "returns the volume path for a given volume name or key"},
    {"vol-pool", cmd_vol_field, o_volpool, "returns the storage pool for a given volume"},
    {"vol-resize", cmd_vol_resize, o_resize, "resize a vol"},
    {"vol-snapshot-create", cmd_vol_snapshot, o_snap, "create an internal snapshot of a vol"},
    {"vol-snapshot-delete", cmd_vol_snapshot, o_snap, "delete an internal snapshot of a vol"},
    {"vol-snapshot-list", cmd_vol_snapshot_list, o_vol, "list the internal snapshots of a vol"},
    {"vol-snapshot-revert", cmd_vol_snapshot, o_snap, "revert a vol to an internal snapshot"},
    {"vol-upload", cmd_vol_transfer, o_transfer, "upload file contents to a volume"},
    {"vol-wipe", cmd_vol_wipe, o_wipe, "wipe a vol"},
    {NULL},
};
