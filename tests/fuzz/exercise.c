/* See exercise.h. */
#include "exercise.h"
#include "common/pd-error.h"

#include <string.h>

#define CHUNK             (64 * 1024)
#define MAX_STATUS_STEPS  200000
#define MAX_READ_FAILURES 32

void exercise_result_init(ExerciseResult *res)
{
    memset(res, 0, sizeof *res);
    res->messages = g_ptr_array_new_with_free_func(g_free);
}

void exercise_result_clear(ExerciseResult *res)
{
    if (res->messages)
        g_ptr_array_unref(res->messages);
    memset(res, 0, sizeof *res);
}

void exercise_result_add(ExerciseResult *res, const char *msg)
{
    for (guint i = 0; i < res->messages->len; i++)
        if (strcmp(res->messages->pdata[i], msg) == 0)
            return;
    if (res->messages->len < 64)
        g_ptr_array_add(res->messages, g_strdup(msg));
}

static void failed(ExerciseResult *res, GError *error)
{
    res->failures++;
    exercise_result_add(res, error ? error->message : "(error without a message)");
}

/* Reads [off, off+len) in chunks; returns false once too many reads failed. */
static bool read_range(PdImage *img, uint64_t off, uint64_t len, uint8_t *buf, ExerciseResult *res,
                       unsigned *read_failures)
{
    while (len > 0) {
        g_autoptr(GError) error = NULL;
        size_t n = (size_t)MIN(len, (uint64_t)CHUNK);
        if (!pd_image_read(img, off, buf, n, &error)) {
            failed(res, error);
            if (++*read_failures >= MAX_READ_FAILURES)
                return false;
        }
        off += n;
        len -= n;
    }
    return true;
}

static void read_everything(PdImage *img, uint64_t max_read, ExerciseResult *res)
{
    uint64_t size = pd_image_size(img);
    g_autofree uint8_t *buf = g_malloc(CHUNK);
    unsigned read_failures = 0;
    if (size <= max_read) {
        (void)read_range(img, 0, size, buf, res, &read_failures);
        return;
    }
    /* Too big to read whole: read what block status says holds data. */
    uint64_t budget = max_read;
    uint64_t off = 0;
    for (int steps = 0; off < size && budget > 0 && steps < MAX_STATUS_STEPS; steps++) {
        g_autoptr(GError) error = NULL;
        PdBlockStatus st;
        if (!pd_image_block_status(img, off, size - off, &st, &error)) {
            failed(res, error);
            /* skip a cluster's worth and go on */
            off += MAX(pd_image_cluster_size(img), (size_t)512);
            continue;
        }
        uint64_t len = MIN(st.length, size - off);
        if (!(st.flags & PD_BLOCK_ZERO)) {
            uint64_t n = MIN(len, budget);
            if (!read_range(img, off, n, buf, res, &read_failures))
                return;
            budget -= n;
        }
        off += len;
    }
}

static void walk_block_status(PdImage *img, ExerciseResult *res)
{
    uint64_t size = pd_image_size(img);
    uint64_t off = 0;
    for (int steps = 0; off < size && steps < MAX_STATUS_STEPS; steps++) {
        g_autoptr(GError) error = NULL;
        PdBlockStatus st;
        if (!pd_image_block_status(img, off, size - off, &st, &error)) {
            failed(res, error);
            return;
        }
        if (st.length == 0 || st.length > size - off) {
            exercise_result_add(res, "BUG: block status returned a length out of range");
            res->failures++;
            return;
        }
        off += st.length;
    }
}

static void list_snapshots(PdImage *img, ExerciseResult *res)
{
    g_autoptr(GError) error = NULL;
    GArray *snaps = pd_image_snapshot_list(img, &error);
    if (!snaps) {
        /* A format without snapshots (or checks) says so; that is no failure. */
        if (!g_error_matches(error, PD_ERROR, PD_ERROR_UNSUPPORTED))
            failed(res, error);
        return;
    }
    for (guint i = 0; i < snaps->len; i++)
        pd_snapshot_info_clear(&g_array_index(snaps, PdSnapshotInfo, i));
    g_array_unref(snaps);
}

static void run_check(PdImage *img, ExerciseResult *res)
{
    g_autoptr(GError) error = NULL;
    PdCheckResult cr = {0};
    if (!pd_image_check(img, PD_CHECK_NO_FIX, &cr, &error)) {
        if (!g_error_matches(error, PD_ERROR, PD_ERROR_UNSUPPORTED))
            failed(res, error);
        return;
    }
    res->corruptions += cr.corruptions;
    res->leaks += cr.leaks;
    res->check_errors += cr.check_errors;
    for (guint i = 0; cr.messages && i < cr.messages->len; i++)
        exercise_result_add(res, cr.messages->pdata[i]);
    pd_check_result_clear(&cr);
}

void exercise_image(PdImage *img, uint64_t max_read, ExerciseResult *res)
{
    g_autoptr(GError) error = NULL;
    PdImageInfo info;
    if (pd_image_get_info(img, &info, &error))
        pd_image_info_clear(&info);
    else
        failed(res, error);
    read_everything(img, max_read, res);
    walk_block_status(img, res);
    list_snapshots(img, res);
    run_check(img, res);
}
