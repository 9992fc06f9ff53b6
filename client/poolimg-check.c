/* poolimg check: metadata consistency, qemu-img's report and exit codes:
 * 0 clean, 1 check not completed, 2 corruptions, 3 leaks only, 63 format cannot be checked. */
#include "client/poolimg-args.h"
#include "client/poolimg.h"
#include "common/pd-error.h"

#include <stdio.h>
#include <string.h>

static void print_human(const PdCheckResult *r)
{
    if (r->corruptions == 0 && r->leaks == 0 && r->check_errors == 0) {
        printf("No errors were found on the image.\n");
    } else {
        if (r->corruptions)
            printf("\n%" G_GUINT64_FORMAT " errors were found on the image.\n"
                   "Data may be corrupted, or further writes to the image may corrupt it.\n",
                   r->corruptions);
        if (r->leaks)
            printf("\n%" G_GUINT64_FORMAT " leaked clusters were found on the image.\n"
                   "This means waste of disk space, but no harm to data.\n",
                   r->leaks);
        if (r->check_errors)
            printf("\n%" G_GUINT64_FORMAT " internal errors have occurred during the check.\n",
                   r->check_errors);
    }
    if (r->total_clusters && r->allocated_clusters)
        printf("%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " = %0.2f%% allocated, %0.2f%% "
               "fragmented, %0.2f%% compressed clusters\n",
               r->allocated_clusters, r->total_clusters,
               r->allocated_clusters * 100.0 / r->total_clusters,
               r->fragmented_clusters * 100.0 / r->allocated_clusters,
               r->compressed_clusters * 100.0 / r->allocated_clusters);
    if (r->image_end_offset)
        printf("Image end offset: %" G_GUINT64_FORMAT "\n", r->image_end_offset);
}

static void print_json(const PdCheckResult *r, const char *filename, PdFormat format,
                       PdCheckFix fix)
{
    JsonObject *o = json_object_new();
    if (r->image_end_offset)
        json_object_set_int_member(o, "image-end-offset", (gint64)r->image_end_offset);
    if (r->corruptions)
        json_object_set_int_member(o, "corruptions", (gint64)r->corruptions);
    if (r->leaks)
        json_object_set_int_member(o, "leaks", (gint64)r->leaks);
    if (fix & PD_CHECK_FIX_ERRORS)
        json_object_set_int_member(o, "corruptions-fixed", (gint64)r->corruptions_fixed);
    if (fix)
        json_object_set_int_member(o, "leaks-fixed", (gint64)r->leaks_fixed);
    if (r->total_clusters)
        json_object_set_int_member(o, "total-clusters", (gint64)r->total_clusters);
    json_object_set_int_member(o, "check-errors", (gint64)r->check_errors);
    if (r->allocated_clusters)
        json_object_set_int_member(o, "allocated-clusters", (gint64)r->allocated_clusters);
    if (r->fragmented_clusters)
        json_object_set_int_member(o, "fragmented-clusters", (gint64)r->fragmented_clusters);
    if (r->compressed_clusters)
        json_object_set_int_member(o, "compressed-clusters", (gint64)r->compressed_clusters);
    json_object_set_string_member(o, "filename", filename);
    json_object_set_string_member(o, "format", pd_format_name(format));
    JsonNode *root = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(root, o);
    pi_json_print(root);
}

/* Checks (and repairs, then checks again, as qemu-img) into @r. Returns -1 when the check
 * ran, else the exit status (message printed). @report: print the repair summary. */
static int run_check(PdImage *img, PdCheckFix fix, bool report, PdCheckResult *r)
{
    GError *error = NULL;
    if (!pd_image_check(img, fix, r, &error)) {
        if (g_error_matches(error, PD_ERROR, PD_ERROR_UNSUPPORTED)) {
            g_error_free(error);
            pi_error("This image format does not support checks");
            return 63;
        }
        pi_error("Check failed: %s", error->message);
        g_error_free(error);
        return 1;
    }
    for (guint i = 0; r->messages && i < r->messages->len; i++)
        fprintf(stderr, "%s\n", (const char *)r->messages->pdata[i]);
    if (r->needs_rebuild) {
        pi_error("Check failed: Input/output error (the refcount structure must be rebuilt: "
                 "use -r all)");
        return 1;
    }
    if (fix && (r->corruptions_fixed || r->leaks_fixed)) {
        uint64_t leaks_fixed = r->leaks_fixed, corruptions_fixed = r->corruptions_fixed;
        if (report)
            printf("The following inconsistencies were found and repaired:\n\n"
                   "    %" G_GUINT64_FORMAT " leaked clusters\n"
                   "    %" G_GUINT64_FORMAT " corruptions\n\n"
                   "Double checking the fixed image now...\n",
                   leaks_fixed, corruptions_fixed);
        pd_check_result_clear(r);
        if (!pd_image_check(img, PD_CHECK_NO_FIX, r, &error)) {
            pi_error("Check failed: %s", error->message);
            g_error_free(error);
            return 1;
        }
        /* What is still wrong, as the double check of qemu-img says it. */
        for (guint i = 0; r->messages && i < r->messages->len; i++)
            fprintf(stderr, "%s\n", (const char *)r->messages->pdata[i]);
        r->leaks_fixed = leaks_fixed;
        r->corruptions_fixed = corruptions_fixed;
    }
    return -1;
}

static bool parse_repair(const char *value, void *dest)
{
    PdCheckFix *fix = dest;
    if (strcmp(value, "leaks") == 0) {
        *fix = PD_CHECK_FIX_LEAKS;
    } else if (strcmp(value, "all") == 0) {
        *fix = PD_CHECK_FIX_LEAKS | PD_CHECK_FIX_ERRORS;
    } else {
        pi_usage_error("Unknown option value for -r (expecting 'leaks' or 'all'): %s", value);
        return false;
    }
    return true;
}

int pi_cmd_check(int argc, char **argv)
{
    const char *fmt = NULL;
    bool json = false, quiet = false;
    PdCheckFix fix = PD_CHECK_NO_FIX;
    const PiArg table[] = {
        PI_STRING('f', NULL, &fmt),
        PI_CALL('r', "repair", parse_repair, &fix),
        PI_OUTPUT(&json),
        PI_FLAG('q', NULL, &quiet),
        PI_IGNORE_VALUE('T', NULL),
        PI_OBJECT,
        PI_IMAGE_OPTS,
        PI_FORCE_SHARE,
    };
    const PiArgSpec spec = {table, G_N_ELEMENTS(table)};
    PiArgs args;
    int status = pi_args_parse(&spec, argc, argv, &args);
    if (status >= 0)
        return status;
    if (args.n_pos != 1)
        return pi_usage_error("Expecting one image file name");
    PdFormat format;
    if (!pi_parse_format(fmt, &format))
        return 1;
    const char *filename = args.pos[0];
    /* The backing chain is opened too, as qemu-img check opens it: a chain that does not
     * open is an error (exit 1), not a clean check. */
    PdOpenFlags flags = PD_OPEN_CHECK_ONLY | (fix ? PD_OPEN_RDWR : 0);
    g_autoptr(PdImage) img = pi_open(filename, format, flags);
    if (!img)
        return 1;
    format = pd_image_format(img);
    if (format == PD_FORMAT_RAW) {
        pi_error("This image format does not support checks");
        return 63;
    }
    PdCheckResult r = {0};
    int failed = run_check(img, fix, !json && !quiet, &r);
    if (failed >= 0)
        return failed;
    if (json)
        print_json(&r, filename, format, fix);
    else if (!quiet)
        print_human(&r);
    status = r.check_errors ? 1 : r.corruptions ? 2 : r.leaks ? 3 : 0;
    pd_check_result_clear(&r);
    return status;
}
