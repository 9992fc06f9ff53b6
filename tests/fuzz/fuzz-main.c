/* Replays inputs through the fuzz target without libFuzzer: every file named on the command
 * line, and every file in every directory named (not recursive). Prints each name before
 * running it, so a crash says which input caused it. Exit 0 when all ran. */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gint compare_paths(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

static int run_file(const char *path)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, &error)) {
        printf("cannot read %s: %s\n", path, error->message);
        return 1;
    }
    printf("# %s\n", path);
    fflush(stdout);
    (void)LLVMFuzzerTestOneInput((const uint8_t *)data, len);
    return 0;
}

int main(int argc, char **argv)
{
    int inputs = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (!g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            bad += run_file(argv[i]);
            inputs++;
            continue;
        }
        g_autoptr(GError) error = NULL;
        g_autoptr(GDir) dir = g_dir_open(argv[i], 0, &error);
        if (!dir) {
            printf("cannot open %s: %s\n", argv[i], error->message);
            return 1;
        }
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        for (const char *n; (n = g_dir_read_name(dir));)
            g_ptr_array_add(names, g_build_filename(argv[i], n, NULL));
        g_ptr_array_sort(names, compare_paths);
        for (guint k = 0; k < names->len; k++) {
            if (g_file_test(names->pdata[k], G_FILE_TEST_IS_REGULAR)) {
                bad += run_file(names->pdata[k]);
                inputs++;
            }
        }
    }
    printf("%d inputs replayed, %d unreadable\n", inputs, bad);
    return bad || inputs == 0 ? 1 : 0;
}
