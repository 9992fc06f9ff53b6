/* poolimg info: the image, its format details, snapshots, and optionally the whole
 * backing chain, as human text or JSON (qemu-img's keys). */
#include "client/poolimg-args.h"
#include "client/poolimg.h"
#include "common/pd-error.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Where a backing file really is: relative names resolve against the image's directory
 * (qemu-img prints "base.img", not "./base.img", for an image in the current directory). */
static char *full_backing_name(const char *image, const char *backing)
{
    if (g_path_is_absolute(backing) || strstr(backing, "://"))
        return g_strdup(backing);
    g_autofree char *dir = g_path_get_dirname(image);
    if (strcmp(dir, ".") == 0)
        return g_strdup(backing);
    return g_build_filename(dir, backing, NULL);
}

/* ---- snapshot table (shared with snapshot -l) ------------------------------------- */

void pi_snapshot_table_print(GArray *snaps)
{
    printf("Snapshot list:\n");
    printf("%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT");
    for (guint i = 0; i < snaps->len; i++) {
        PdSnapshotInfo *s = &g_array_index(snaps, PdSnapshotInfo, i);
        time_t t = (time_t)s->date_sec;
        struct tm tm;
        char date[32];
        localtime_r(&t, &tm);
        strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
        uint64_t secs = s->vm_clock_nsec / 1000000000ULL;
        char clock[32];
        g_snprintf(clock, sizeof clock, "%02u:%02u:%02u.%03u", (unsigned)(secs / 3600),
                   (unsigned)((secs / 60) % 60), (unsigned)(secs % 60),
                   (unsigned)((s->vm_clock_nsec / 1000000ULL) % 1000));
        g_autofree char *vmsize = pi_size_str(s->vm_state_size);
        g_autofree char *icount = s->icount == UINT64_MAX
                                      ? g_strdup("")
                                      : g_strdup_printf("%" G_GUINT64_FORMAT, s->icount);
        printf("%-9s %-16s %8s%20s%13s%11s\n", s->id, s->name, vmsize, date, clock, icount);
    }
}

static JsonNode *snapshots_json(GArray *snaps)
{
    JsonArray *arr = json_array_new();
    for (guint i = 0; i < snaps->len; i++) {
        PdSnapshotInfo *s = &g_array_index(snaps, PdSnapshotInfo, i);
        JsonObject *o = json_object_new();
        if (s->icount != UINT64_MAX)
            json_object_set_int_member(o, "icount", (gint64)s->icount);
        json_object_set_int_member(o, "vm-clock-nsec", (gint64)(s->vm_clock_nsec % 1000000000));
        json_object_set_string_member(o, "name", s->name);
        json_object_set_int_member(o, "date-sec", s->date_sec);
        json_object_set_int_member(o, "date-nsec", s->date_nsec);
        json_object_set_int_member(o, "vm-clock-sec", (gint64)(s->vm_clock_nsec / 1000000000));
        json_object_set_string_member(o, "id", s->id);
        json_object_set_int_member(o, "vm-state-size", (gint64)s->vm_state_size);
        json_array_add_object_element(arr, o);
    }
    JsonNode *n = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(n, arr);
    return n;
}

/* ---- one image -------------------------------------------------------------------- */

typedef struct {
    PdImageInfo info;
    GArray *snapshots; /* NULL when the format has none */
} ImageReport;

static void image_report_clear(ImageReport *r)
{
    pd_image_info_clear(&r->info);
    if (r->snapshots)
        g_array_unref(r->snapshots);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ImageReport, image_report_clear)

static bool collect(PdImage *img, const char *filename, ImageReport *r, GError **error)
{
    if (!pd_image_get_info(img, &r->info, error))
        return false;
    g_free(r->info.filename);
    r->info.filename = g_strdup(filename);
    if (r->info.backing_file) {
        g_free(r->info.full_backing_filename);
        r->info.full_backing_filename = full_backing_name(filename, r->info.backing_file);
    }
    if (r->info.format == PD_FORMAT_QCOW2) {
        r->snapshots = pd_image_snapshot_list(img, error);
        if (!r->snapshots)
            return false;
    }
    return true;
}

static void print_human(const ImageReport *r)
{
    const PdImageInfo *i = &r->info;
    g_autofree char *vsize = pi_size_str(i->virtual_size);
    g_autofree char *dsize = pi_size_str(i->actual_size);
    printf("image: %s\nfile format: %s\nvirtual size: %s (%" G_GUINT64_FORMAT " bytes)\n"
           "disk size: %s\n",
           i->filename, pd_format_name(i->format), vsize, i->virtual_size, dsize);
    if (i->cluster_size)
        printf("cluster_size: %" G_GUINT64_FORMAT "\n", i->cluster_size);
    if (i->dirty)
        printf("cleanly shut down: no\n");
    if (i->backing_file) {
        printf("backing file: %s", i->backing_file);
        if (strcmp(i->backing_file, i->full_backing_filename) != 0)
            printf(" (actual path: %s)", i->full_backing_filename);
        printf("\n");
        if (i->backing_format != PD_FORMAT_UNKNOWN)
            printf("backing file format: %s\n", pd_format_name(i->backing_format));
    }
    if (r->snapshots && r->snapshots->len > 0)
        pi_snapshot_table_print(r->snapshots);
    if (i->format == PD_FORMAT_QCOW2) {
        printf("Format specific information:\n    compat: %s\n    compression type: %s\n",
               i->compat >= 3 ? "1.1" : "0.10",
               i->compression_type == PD_COMPRESSION_ZSTD ? "zstd" : "zlib");
        if (i->compat >= 3)
            printf("    lazy refcounts: %s\n", i->lazy_refcounts ? "true" : "false");
        printf("    refcount bits: %d\n", i->refcount_bits);
        if (i->compat >= 3)
            printf("    corrupt: %s\n    extended l2: %s\n", i->corrupt ? "true" : "false",
                   i->extended_l2 ? "true" : "false");
    }
    pi_info_foreign_human(i);
}

static JsonObject *report_json(const ImageReport *r)
{
    const PdImageInfo *i = &r->info;
    JsonObject *o = json_object_new();
    if (r->snapshots && r->snapshots->len > 0)
        json_object_set_member(o, "snapshots", snapshots_json(r->snapshots));
    if (i->backing_file && i->backing_format != PD_FORMAT_UNKNOWN)
        json_object_set_string_member(o, "backing-filename-format",
                                      pd_format_name(i->backing_format));
    json_object_set_int_member(o, "virtual-size", (gint64)i->virtual_size);
    json_object_set_string_member(o, "filename", i->filename);
    if (i->cluster_size)
        json_object_set_int_member(o, "cluster-size", (gint64)i->cluster_size);
    json_object_set_string_member(o, "format", pd_format_name(i->format));
    json_object_set_int_member(o, "actual-size", (gint64)i->actual_size);
    if (i->format == PD_FORMAT_QCOW2) {
        JsonObject *data = json_object_new();
        json_object_set_string_member(data, "compat", i->compat >= 3 ? "1.1" : "0.10");
        json_object_set_string_member(data, "compression-type",
                                      i->compression_type == PD_COMPRESSION_ZSTD ? "zstd" : "zlib");
        if (i->compat >= 3)
            json_object_set_boolean_member(data, "lazy-refcounts", i->lazy_refcounts);
        json_object_set_int_member(data, "refcount-bits", i->refcount_bits);
        if (i->compat >= 3) {
            json_object_set_boolean_member(data, "corrupt", i->corrupt);
            json_object_set_boolean_member(data, "extended-l2", i->extended_l2);
        }
        JsonObject *spec = json_object_new();
        json_object_set_string_member(spec, "type", "qcow2");
        json_object_set_object_member(spec, "data", data);
        json_object_set_object_member(o, "format-specific", spec);
    }
    JsonObject *foreign = pi_info_foreign_json(i);
    if (foreign)
        json_object_set_object_member(o, "format-specific", foreign);
    if (i->backing_file) {
        json_object_set_string_member(o, "full-backing-filename", i->full_backing_filename);
        json_object_set_string_member(o, "backing-filename", i->backing_file);
    }
    json_object_set_boolean_member(o, "dirty-flag", i->dirty);
    return o;
}

/* Prints the JSON of the reports in @arr: the array with --backing-chain, else the one
 * object. Takes @arr. */
static void print_json(JsonArray *arr, bool chain)
{
    JsonNode *root;
    if (chain) {
        root = json_node_new(JSON_NODE_ARRAY);
        json_node_take_array(root, arr);
    } else {
        root = json_node_new(JSON_NODE_OBJECT);
        json_node_set_object(root, json_array_get_object_element(arr, 0));
        json_array_unref(arr);
    }
    pi_json_print(root);
}

/* A backing file of the chain, opened as the engine opens backing files (non-blocking, data
 * only: a FIFO, socket or character device is refused, never waited on). */
static PdImage *open_backing_element(const char *path, PdFormat format)
{
    GError *error = NULL;
    PdIO *io = pd_io_file_open(path, PD_IO_RDONLY | PD_IO_DATA_ONLY, 0, &error);
    PdImage *img = io ? pd_image_open_io(io, format, PD_OPEN_NO_BACKING, &error) : NULL;
    if (!img) {
        if (g_str_has_prefix(error->message, "Could not open"))
            pi_error("%s", error->message);
        else
            pi_error("Could not open '%s': %s", path, error->message);
        g_error_free(error);
    }
    return img;
}

/* Reports @filename and, with @chain, its backing files: human text as it goes, JSON into
 * @arr. Returns the exit status. */
static int report_chain(const char *first, PdFormat format, bool chain, bool json, JsonArray *arr)
{
    g_autofree char *filename = g_strdup(first);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int depth = 0; filename; depth++) {
        if (g_hash_table_contains(seen, filename) || depth >= PD_MAX_BACKING_DEPTH) {
            pi_error("Backing file '%s' creates an infinite loop.", filename);
            return 1;
        }
        g_hash_table_add(seen, g_strdup(filename));
        g_autoptr(PdImage) img = depth == 0 ? pi_open(filename, format, PD_OPEN_NO_BACKING)
                                            : open_backing_element(filename, format);
        if (!img)
            return 1;
        g_auto(ImageReport) r = {0};
        GError *error = NULL;
        if (!collect(img, filename, &r, &error))
            return pi_fail(error, 1);
        if (json) {
            json_array_add_object_element(arr, report_json(&r));
        } else {
            if (depth > 0)
                printf("\n");
            print_human(&r);
        }
        g_clear_pointer(&filename, g_free);
        if (chain && r.info.backing_file) {
            filename = g_strdup(r.info.full_backing_filename);
            format = r.info.backing_format;
        }
    }
    return 0;
}

int pi_cmd_info(int argc, char **argv)
{
    const char *fmt = NULL;
    bool json = false, chain = false;
    const PiArg table[] = {
        PI_STRING('f', NULL, &fmt),
        PI_OUTPUT(&json),
        PI_FLAG(0, "backing-chain", &chain),
        PI_OBJECT,
        PI_IMAGE_OPTS,
        PI_FORCE_SHARE,
    };
    const PiArgSpec spec = {table, G_N_ELEMENTS(table)};
    PiArgs args;
    int r = pi_args_parse(&spec, argc, argv, &args);
    if (r >= 0)
        return r;
    if (args.n_pos != 1)
        return pi_usage_error("Expecting one image file name");
    PdFormat format;
    if (!pi_parse_format(fmt, &format))
        return 1;
    JsonArray *arr = json_array_new();
    int status = report_chain(args.pos[0], format, chain, json, arr);
    if (json && status == 0)
        print_json(arr, chain);
    else
        json_array_unref(arr);
    return status;
}
