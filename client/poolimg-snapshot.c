/* poolimg snapshot -l | -c NAME | -a NAME | -d NAME FILE. */
#include "client/poolimg-args.h"
#include "client/poolimg.h"
#include "common/pd-error.h"

#include <stdio.h>
#include <string.h>

/* -l, -a NAME, -c NAME, -d NAME: one of them. */
typedef struct {
    char action;
    const char *name;
} SnapshotAction;

static bool set_action(SnapshotAction *a, char action, const char *name)
{
    if (a->action) {
        pi_usage_error("Cannot mix '-l', '-a', '-c', '-d'");
        return false;
    }
    a->action = action;
    a->name = name;
    return true;
}

static bool action_list(const char *value, void *dest)
{
    return set_action(dest, 'l', value);
}

static bool action_apply(const char *value, void *dest)
{
    return set_action(dest, 'a', value);
}

static bool action_create(const char *value, void *dest)
{
    return set_action(dest, 'c', value);
}

static bool action_delete(const char *value, void *dest)
{
    return set_action(dest, 'd', value);
}

/* The id of the first snapshot of @img named @name; NULL with @error ("snapshot not found",
 * qemu-img's words) if none. */
static char *snapshot_id_by_name(PdImage *img, const char *name, GError **error)
{
    GArray *snaps = pd_image_snapshot_list(img, error);
    if (!snaps)
        return NULL;
    char *id = NULL;
    for (guint i = 0; i < snaps->len && !id; i++) {
        PdSnapshotInfo *sn = &g_array_index(snaps, PdSnapshotInfo, i);
        if (g_strcmp0(sn->name, name) == 0)
            id = g_strdup(sn->id);
    }
    g_array_unref(snaps);
    if (!id)
        g_set_error(error, PD_ERROR, PD_ERROR_NOT_FOUND, "snapshot not found");
    return id;
}

int pi_cmd_snapshot(int argc, char **argv)
{
    SnapshotAction act = {0};
    const PiArg table[] = {
        PI_CALL_NOVALUE('l', NULL, action_list, &act),
        PI_CALL('a', NULL, action_apply, &act),
        PI_CALL('c', NULL, action_create, &act),
        PI_CALL('d', NULL, action_delete, &act),
        PI_IGNORE('q', NULL),
        PI_OBJECT,
        PI_IMAGE_OPTS,
        PI_FORCE_SHARE,
    };
    const PiArgSpec spec = {table, G_N_ELEMENTS(table)};
    PiArgs args;
    int r = pi_args_parse(&spec, argc, argv, &args);
    if (r >= 0)
        return r;
    char action = act.action;
    const char *name = act.name;
    if (args.n_pos != 1)
        return pi_usage_error("Expecting one image file name");
    if (!action)
        action = 'l';
    const char *filename = args.pos[0];
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
    default: {
        /* qemu-img 7.2 deletes by name only (an id that is no snapshot's name is "not
         * found"): the engine matches ids first, so it is given the id of the first
         * snapshot of that name. */
        g_autofree char *id = snapshot_id_by_name(img, name, &error);
        if (!id) {
            pi_error("Could not delete snapshot '%s': %s", name, error->message);
            g_error_free(error);
            return 1;
        }
        if (!pd_image_snapshot_delete(img, id, &error) || !pd_image_flush(img, &error)) {
            pi_error("Could not delete snapshot '%s': %s", name, error->message);
            g_error_free(error);
            return 1;
        }
        return 0;
    }
    }
}
