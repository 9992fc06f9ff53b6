/* The malformed-image corpus (tests/data/malformed/, built by tests/data/make-malformed.py):
 * every image must give a clear error -- never a crash, never a hang.
 *
 * For each line NAME STAGE SUBSTRINGS of malformed/expected.txt a child process (killed
 * after a timeout) opens a copy of the image through the engine and, depending on STAGE:
 *   open   pd_image_open read-only must fail;
 *   rdwr   read-only open works (and reading works), read-write open must fail;
 *   any    open fails, or reading every cluster / block status / snapshot list / check
 *          fails or reports a corruption;
 *   valid  everything works and check finds nothing (controls: the test can fail).
 * The error messages (errors and check's lines) must contain one of the substrings.
 * When poolimg works (it answers `info` on a valid image), `poolimg info` and `poolimg
 * check` must also exit non-zero with a message on stderr for the bad images.
 *
 * Cases listed in malformed/known-bugs.txt (NAME REASON) are engine bugs reported and not
 * fixed yet: they run and print "not ok ... # TODO", but do not fail the test unless
 * POOLD_TEST_STRICT is set (and print a note once they pass, to be removed from the list).
 *
 * Usage: test-malformed [CORPUS_DIR] [NAME...]   (default: $POOLD_TEST_DATA/malformed) */
#include "formats/image/image.h"
#include "../fuzz/exercise.h"
#include "interop-util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CASE_TIMEOUT_S 20
#define MAX_READ       (64ULL << 20)

typedef struct {
    char *name;
    char *stage;
    char **subs; /* alternatives */
} Case;

static const char *poolimg; /* NULL when poolimg cannot do the job yet */

static bool matches(const char *msg, char **subs)
{
    g_autofree char *lower = g_ascii_strdown(msg, -1);
    for (char **s = subs; *s; s++) {
        g_autofree char *sub = g_ascii_strdown(*s, -1);
        if (*sub && strstr(lower, sub))
            return true;
    }
    return false;
}

static bool any_matches(GPtrArray *msgs, char **subs)
{
    for (guint i = 0; i < msgs->len; i++)
        if (matches(msgs->pdata[i], subs))
            return true;
    return false;
}

/* The format of a corpus file, from its extension (.qcow2 unless another format's). */
static PdFormat case_format(const char *name)
{
    static const struct {
        const char *ext;
        const char *format;
    } exts[] = {
        {".vmdk", "vmdk"}, {".vhdx", "vhdx"}, {".vhd", "vpc"}, {".vdi", "vdi"}, {".qcow", "qcow"}};
    for (size_t i = 0; i < G_N_ELEMENTS(exts); i++)
        if (g_str_has_suffix(name, exts[i].ext))
            return pd_format_from_name(exts[i].format);
    return PD_FORMAT_QCOW2;
}

static void print_messages(GPtrArray *msgs)
{
    for (guint i = 0; i < msgs->len && i < 8; i++)
        printf("#     message: %s\n", (const char *)msgs->pdata[i]);
}

/* Opens @path read-only. Returns the image, or NULL with *ret_ok telling whether failing
 * to open was right: "open" and "any" images may fail with a message that says why;
 * "valid" and "rdwr" images must open. An "open" image that opens is wrong. */
static PdImage *open_expecting(const Case *c, const char *path, bool *ret_ok)
{
    bool must_fail = strcmp(c->stage, "open") == 0;
    bool may_fail = must_fail || strcmp(c->stage, "any") == 0;
    g_autoptr(GError) error = NULL;
    PdImage *img = pd_image_open(path, case_format(c->name), PD_OPEN_RDONLY, &error);
    if (img) {
        *ret_ok = !must_fail;
        if (must_fail)
            printf("#   opened, but it must not open\n");
        return img;
    }
    printf("#   open: %s\n", error->message);
    *ret_ok = may_fail && matches(error->message, c->subs);
    if (!may_fail)
        printf("#   this image must open\n");
    else if (!*ret_ok)
        printf("#   the open error does not say what is wrong (want one of the substrings)\n");
    /* Every message names the object (DESIGN.md, Errors). */
    if (*ret_ok && !strstr(error->message, c->name)) {
        printf("#   the open error does not name the image\n");
        *ret_ok = false;
    }
    return NULL;
}

static bool run_engine(const Case *c, const char *path)
{
    bool ok = false;
    g_autoptr(PdImage) img = open_expecting(c, path, &ok);
    if (!img || strcmp(c->stage, "open") == 0)
        return ok;

    ExerciseResult res;
    exercise_result_init(&res);
    exercise_image(img, MAX_READ, &res);
    pd_image_close(g_steal_pointer(&img));
    bool found_problem = res.failures > 0 || res.corruptions > 0 || res.check_errors > 0;

    if (strcmp(c->stage, "valid") == 0 || strcmp(c->stage, "rdwr") == 0) {
        ok = !found_problem && res.leaks == 0;
        if (!ok) {
            printf("#   a readable image gave %u errors, %" G_GUINT64_FORMAT
                   " corruptions, %" G_GUINT64_FORMAT " leaks\n",
                   res.failures, res.corruptions, res.leaks);
            print_messages(res.messages);
        }
    } else {
        ok = found_problem && any_matches(res.messages, c->subs);
        if (!found_problem)
            printf("#   opened, read, listed and checked without any error reported\n");
        else if (!ok)
            printf("#   no message says what is wrong (want one of the substrings)\n");
        print_messages(res.messages);
    }
    exercise_result_clear(&res);

    if (ok && strcmp(c->stage, "rdwr") == 0) {
        g_autoptr(GError) error = NULL;
        g_autoptr(PdImage) rw = pd_image_open(path, case_format(c->name), PD_OPEN_RDWR, &error);
        if (rw) {
            printf("#   read-write open must fail\n");
            return false;
        }
        printf("#   read-write open: %s\n", error->message);
        ok = matches(error->message, c->subs);
    }
    if (ok && strcmp(c->stage, "any") == 0) {
        /* A read-write open of a damaged image must not crash either (it may repair). */
        g_autoptr(GError) error = NULL;
        g_autoptr(PdImage) rw = pd_image_open(path, case_format(c->name), PD_OPEN_RDWR, &error);
        (void)rw;
    }
    return ok;
}

/* poolimg must fail with a message: info for images that do not open, check for the others,
 * and where those pass (a bad backing chain: info does not open it; damage only a read
 * finds), convert -O raw; valid images must pass info/check. */
static bool run_poolimg(const Case *c, const char *path, const char *dir)
{
    if (!poolimg || strcmp(c->stage, "rdwr") == 0)
        return true;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autofree char *timeout = g_strdup_printf("%d", CASE_TIMEOUT_S);
    bool valid = strcmp(c->stage, "valid") == 0;
    const char *fmt = pd_format_name(case_format(c->name));
    /* The read-only formats have no check: info, then convert. */
    bool has_check = case_format(c->name) == PD_FORMAT_QCOW2;
    const char *sub = strcmp(c->stage, "open") == 0 || !has_check ? "info" : "check";
    int rc = it_runv(&out, &err, "timeout", timeout, poolimg, sub, "-f", fmt, path, NULL);
    if (valid) {
        if (rc != 0)
            printf("#   poolimg %s of a valid image: exit %d: %s\n", sub, rc, err);
        return rc == 0;
    }
    /* info does not open the backing chain (as qemu-img info), and check may find damage
     * that only reading shows: then converting the image must fail. */
    if (rc == 0) {
        g_autofree char *raw = g_build_filename(dir, "out.raw", NULL);
        g_free(err);
        err = NULL;
        sub = "convert";
        rc = it_runv(NULL, &err, "timeout", timeout, poolimg, "convert", "-f", fmt, "-O", "raw",
                     path, raw, NULL);
    }
    if (rc < 0 || rc >= 124) {
        printf("#   poolimg %s crashed or hung (exit %d): %s\n", sub, rc, err ? err : "");
        return false;
    }
    if (rc == 0 || !err || !*g_strstrip(err)) {
        printf("#   poolimg %s: exit %d, stderr '%s': want non-zero and a message\n", sub, rc,
               err ? err : "");
        return false;
    }
    return true;
}

/* Runs one case in a child with a timeout; returns true if it passed. */
static bool run_case(const Case *c, const char *dir)
{
    g_autofree char *path = g_build_filename(dir, c->name, NULL);
    fflush(stdout);
    pid_t pid = fork();
    g_assert(pid >= 0);
    if (pid == 0) {
        alarm(CASE_TIMEOUT_S);
        bool ok = run_engine(c, path);
        alarm(CASE_TIMEOUT_S * 4);
        ok = run_poolimg(c, path, dir) && ok;
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        printf("#   %s (signal %d)\n", sig == SIGALRM ? "HANG: no answer in time" : "CRASH", sig);
        return false;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void case_free(gpointer p)
{
    Case *c = p;
    g_free(c->name);
    g_free(c->stage);
    g_strfreev(c->subs);
    g_free(c);
}

static GPtrArray *load_cases(const char *src_dir)
{
    g_autofree char *list = g_build_filename(src_dir, "expected.txt", NULL);
    size_t len;
    g_autofree char *text = (char *)it_read_file(list, &len);
    GPtrArray *cases = g_ptr_array_new_with_free_func(case_free);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        char *line = g_strstrip(*l);
        if (!*line || *line == '#')
            continue;
        g_auto(GStrv) f = g_strsplit_set(line, " \t", 3);
        g_assert_nonnull(f[0]);
        g_assert_nonnull(f[1]);
        Case *c = g_new0(Case, 1);
        c->name = g_strdup(f[0]);
        c->stage = g_strdup(f[1]);
        c->subs = g_strsplit(f[2] ? f[2] : "", "|", -1);
        g_assert(strcmp(c->stage, "open") == 0 || strcmp(c->stage, "rdwr") == 0 ||
                 strcmp(c->stage, "any") == 0 || strcmp(c->stage, "valid") == 0);
        g_ptr_array_add(cases, c);
    }
    return cases;
}

/* NAME -> reason, from known-bugs.txt (missing file: none). */
static GHashTable *load_known_bugs(const char *src_dir)
{
    GHashTable *known = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autofree char *path = g_build_filename(src_dir, "known-bugs.txt", NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return known;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        char *line = g_strstrip(*l);
        if (!*line || *line == '#')
            continue;
        g_auto(GStrv) f = g_strsplit_set(line, " \t", 2);
        g_hash_table_replace(known, g_strdup(f[0]), g_strdup(f[1] ? f[1] : "known bug"));
    }
    return known;
}

/* poolimg is usable once it answers `info` on the corpus's first valid image. */
static void detect_poolimg(const char *dir, GPtrArray *cases)
{
    const char *p = g_getenv("POOLIMG");
    if (!p || !g_file_test(p, G_FILE_TEST_IS_EXECUTABLE)) {
        printf("# poolimg not found: engine checks only\n");
        return;
    }
    const Case *first = NULL;
    for (guint i = 0; i < cases->len && !first; i++)
        if (strcmp(((Case *)cases->pdata[i])->stage, "valid") == 0)
            first = cases->pdata[i];
    if (!first)
        return;
    g_autofree char *valid = g_build_filename(dir, first->name, NULL);
    if (it_runv(NULL, NULL, "timeout", "20", p, "info", "-f",
                pd_format_name(case_format(first->name)), valid, NULL) != 0) {
        printf("# %s cannot show info of a valid image yet: engine checks only\n", p);
        return;
    }
    poolimg = p;
    printf("# checking through %s too\n", p);
}

int main(int argc, char **argv)
{
    const char *data = g_getenv("POOLD_TEST_DATA");
    g_autofree char *src_dir =
        argc > 1 ? g_strdup(argv[1]) : g_build_filename(data ? data : ".", "malformed", NULL);
    if (!g_file_test(src_dir, G_FILE_TEST_IS_DIR)) {
        printf("corpus directory %s not found\n", src_dir);
        return 1;
    }
    it_require_tool("timeout", "needed to bound poolimg runs");
    /* Work on copies: read-write opens may repair. */
    g_autofree char *tmp = it_mkdtemp("poold-malformed");
    g_autofree char *pattern = g_build_filename(src_dir, ".", NULL);
    g_assert_cmpint(it_runv(NULL, NULL, "cp", "-a", pattern, tmp, NULL), ==, 0);
    g_autoptr(GPtrArray) cases = load_cases(src_dir);
    detect_poolimg(tmp, cases);
    g_autoptr(GHashTable) known = load_known_bugs(src_dir);
    bool strict = g_getenv("POOLD_TEST_STRICT") != NULL;
    int failed = 0, ran = 0, todo = 0;
    for (guint i = 0; i < cases->len; i++) {
        Case *c = cases->pdata[i];
        bool selected = argc <= 2;
        for (int a = 2; a < argc; a++)
            selected = selected || strcmp(argv[a], c->name) == 0;
        if (!selected)
            continue;
        ran++;
        printf("# %s (%s)\n", c->name, c->stage);
        bool ok = run_case(c, tmp);
        const char *bug = g_hash_table_lookup(known, c->name);
        if (bug && !strict) {
            printf("%s %d - %s # TODO known bug: %s%s\n", ok ? "ok" : "not ok", ran, c->name, bug,
                   ok ? " (passes now: remove it from known-bugs.txt)" : "");
            todo += !ok;
            continue;
        }
        printf("%s %d - %s\n", ok ? "ok" : "not ok", ran, c->name);
        if (!ok)
            failed++;
    }
    printf("1..%d\n# %d of %d malformed-image cases failed, %d known bugs\n", ran, failed, ran,
           todo);
    it_rmtree(tmp);
    return failed ? 1 : 0;
}
