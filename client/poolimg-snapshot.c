/* poolimg snapshot -l | -c NAME | -a NAME | -d NAME FILE. */
#include "client/poolimg.h"
#include "common/pd-error.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const struct option snapshot_long[] = {
    {"help", no_argument, NULL, 'h'},
    {"object", required_argument, NULL, PI_OPT_OBJECT},
    {"image-opts", no_argument, NULL, PI_OPT_IMAGE_OPTS},
    {"force-share", no_argument, NULL, 'U'},
    {NULL, 0, NULL, 0},
};

int pi_cmd_snapshot(int argc, char **argv)
{
    char action = 0;
    const char *name = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":la:c:d:hqU", snapshot_long, NULL)) != -1) {
        switch (c) {
        case 'l':
        case 'a':
        case 'c':
        case 'd':
            if (action)
                return pi_usage_error("Cannot mix '-l', '-a', '-c', '-d'");
            action = (char)c;
            name = optarg;
            break;
        case 'q':
        case 'U':
        case PI_OPT_OBJECT:
        case PI_OPT_IMAGE_OPTS:
            break;
        case 'h':
            pi_help();
            return 0;
        default:
            return pi_bad_option(c, argv);
        }
    }
    if (optind != argc - 1)
        return pi_usage_error("Expecting one image file name");
    if (!action)
        action = 'l';
    const char *filename = argv[optind];
    PdOpenFlags flags = PD_OPEN_NO_BACKING | (action == 'l' ? 0 : PD_OPEN_RDWR);
    g_autoptr(PdImage) img = pi_open(filename, PD_FORMAT_UNKNOWN, flags);
    if (!img)
        return 1;
    GError *error = NULL;
    switch (action) {
    case 'l': {
        if (pd_image_format(img) == PD_FORMAT_RAW)
            return 0; /* no snapshots: nothing to list, as qemu-img */
        GArray *snaps = pd_image_snapshot_list(img, &error);
        if (!snaps)
            return pi_fail(error, 1);
        if (snaps->len > 0)
            pi_snapshot_table_print(snaps);
        g_array_unref(snaps);
        return 0;
    }
    case 'c':
        if (!pd_image_snapshot_create(img, name, &error) || !pd_image_flush(img, &error)) {
            pi_error("Could not create snapshot '%s': %s", name, error->message);
            g_error_free(error);
            return 1;
        }
        return 0;
    case 'a':
        if (!pd_image_snapshot_apply(img, name, &error) || !pd_image_flush(img, &error)) {
            pi_error("Could not apply snapshot '%s': %s", name, error->message);
            g_error_free(error);
            return 1;
        }
        return 0;
    case 'd':
    default:
        if (!pd_image_snapshot_delete(img, name, &error) || !pd_image_flush(img, &error)) {
            pi_error("Could not delete snapshot '%s': %s", name, error->message);
            g_error_free(error);
            return 1;
        }
        return 0;
    }
}
