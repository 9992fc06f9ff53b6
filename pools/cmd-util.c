/* External commands with a deadline (see cmd-util.h). */
#include "pools/cmd-util.h"

#include "common/pd-error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define OUTPUT_MAX    (1024 * 1024) /* bytes kept of each stream */
#define POLL_STEP_MS  50            /* how often a child's exit is checked while it runs */
#define KILL_GRACE_MS 5000          /* how long a killed child gets to be reaped */

void pd_cmd_result_clear(PdCmdResult *result)
{
    g_free(result->out);
    g_free(result->err);
    memset(result, 0, sizeof(*result));
}

char *pd_cmd_find_program(const char *name)
{
    if (strchr(name, '/'))
        return g_file_test(name, G_FILE_TEST_IS_EXECUTABLE) ? g_strdup(name) : NULL;
    char *path = g_find_program_in_path(name);
    if (path)
        return path;
    static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
    for (unsigned i = 0; i < G_N_ELEMENTS(dirs); i++) {
        path = g_build_filename(dirs[i], name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_EXECUTABLE))
            return path;
        g_free(path);
    }
    return NULL;
}

char *pd_cmd_argv_string(const char *const *argv)
{
    return g_strjoinv(" ", (char **)argv);
}

char *pd_cmd_last_line(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
    for (int i = (int)g_strv_length(lines) - 1; i >= 0; i--) {
        g_strstrip(lines[i]);
        if (*lines[i])
            return g_strdup(lines[i]);
    }
    return g_strdup("");
}

/* Runs in the child before exec: its own process group, so a timeout kills its helpers too
 * (mount runs mount.nfs). Async-signal-safe calls only. */
static void child_setup(gpointer unused)
{
    (void)setpgid(0, 0);
}

/* Appends one read of @fd to @buf (keeping at most OUTPUT_MAX bytes). Returns 1 when it read
 * something, 0 at end of file or on an error, -1 when nothing is there yet. */
static int drain(int fd, GString *buf)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return -1;
    if (n <= 0)
        return 0;
    if (buf->len < OUTPUT_MAX)
        g_string_append_len(buf, chunk, MIN((size_t)n, OUTPUT_MAX - buf->len));
    return 1;
}

/* Reads what is left on @fd without waiting. */
static void drain_rest(int fd, GString *buf)
{
    for (int i = 0; fd >= 0 && i < OUTPUT_MAX / 4096 + 1; i++) {
        if (drain(fd, buf) <= 0)
            return;
    }
}

/* waitpid without blocking: true when @pid has exited (its status in *ret_status). */
static bool reaped(GPid pid, int *ret_status)
{
    int status;
    pid_t r;
    do
        r = waitpid(pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == pid || (r < 0 && errno == ECHILD)) {
        *ret_status = r == pid ? status : 0;
        return true;
    }
    return false;
}

/* Kills @pid's process group and waits up to KILL_GRACE_MS for it. A child stuck in the kernel
 * beyond that is left to the kernel (it becomes a zombie when it finally dies). */
static void kill_child(GPid pid)
{
    (void)kill(-pid, SIGKILL);
    (void)kill(pid, SIGKILL);
    int status;
    for (int waited = 0; waited < KILL_GRACE_MS; waited += 10) {
        if (reaped(pid, &status))
            return;
        g_usleep(10 * 1000);
    }
}

/* Reads both pipes until the child exits (or the deadline passes); fills @ret. */
static void supervise(GPid pid, int out_fd, int err_fd, unsigned timeout_ms, PdCmdResult *ret)
{
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GString) err = g_string_new(NULL);
    int64_t deadline = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;
    struct pollfd fds[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
    int status = 0;
    bool exited = false;
    while (!exited) {
        if (g_get_monotonic_time() >= deadline) {
            kill_child(pid);
            ret->timed_out = true;
            break;
        }
        if (poll(fds, 2, POLL_STEP_MS) > 0) {
            if (fds[0].revents && drain(fds[0].fd, out) == 0)
                fds[0].fd = -1;
            if (fds[1].revents && drain(fds[1].fd, err) == 0)
                fds[1].fd = -1;
        }
        exited = reaped(pid, &status);
    }
    /* what the child wrote just before it exited (helpers that still hold the pipes open
     * do not keep us waiting: the fds are non-blocking) */
    drain_rest(fds[0].fd, out);
    drain_rest(fds[1].fd, err);
    if (ret->timed_out || !WIFEXITED(status))
        ret->exit_status = -1;
    else
        ret->exit_status = WEXITSTATUS(status);
    ret->out = g_string_free(g_steal_pointer(&out), FALSE);
    ret->err = g_strstrip(g_string_free(g_steal_pointer(&err), FALSE));
}

bool pd_cmd_run(const char *const *argv, unsigned timeout_ms, PdCmdResult *ret, GError **error)
{
    g_autofree char *program = pd_cmd_find_program(argv[0]);
    if (!program) {
        g_set_error(error, PD_ERROR, PD_ERROR_NOT_FOUND,
                    "%s is not installed (not found in PATH, "
                    "/usr/sbin or /sbin)",
                    argv[0]);
        return false;
    }
    g_autofree char **args = g_memdup2(argv, (g_strv_length((char **)argv) + 1) * sizeof(char *));
    args[0] = program;
    g_auto(GStrv) env = g_environ_setenv(g_get_environ(), "LC_ALL", "C", TRUE);
    GPid pid;
    int out_fd = -1, err_fd = -1;
    g_autoptr(GError) local = NULL;
    if (!g_spawn_async_with_pipes(NULL, args, env,
                                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL,
                                  child_setup, NULL, &pid, NULL, &out_fd, &err_fd, &local)) {
        g_set_error(error, PD_ERROR, PD_ERROR_FAILED, "cannot run %s: %s", argv[0], local->message);
        return false;
    }
    (void)fcntl(out_fd, F_SETFL, O_NONBLOCK);
    (void)fcntl(err_fd, F_SETFL, O_NONBLOCK);
    memset(ret, 0, sizeof(*ret));
    supervise(pid, out_fd, err_fd, timeout_ms, ret);
    close(out_fd);
    close(err_fd);
    return true;
}

char *pd_cmd_one_line(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
    GString *s = g_string_new(NULL);
    for (char **l = lines; *l; l++) {
        g_strstrip(*l);
        if (!**l)
            continue;
        if (s->len)
            g_string_append(s, "; ");
        g_string_append(s, *l);
    }
    return g_string_free(s, false);
}

/* The error of a run that ended with another exit status than 0. */
static void set_failure(const PdCmdCheck *check, const char *name, const PdCmdResult *res,
                        GError **error)
{
    const char *text = *res->err ? res->err : res->out;
    g_autofree char *words =
        check->whole_stderr ? pd_cmd_one_line(res->err) : pd_cmd_last_line(text);
    const char *hint = check->hint ? check->hint(res->exit_status) : NULL;
    g_autofree char *why = hint ? g_strdup_printf("%s [%s]", hint, words)
                           : *words
                               ? g_strdup(words)
                               : g_strdup_printf("%s failed without a message (exit status %d)",
                                                 name, res->exit_status);
    int code = check->code             ? check->code(res->exit_status, res->err)
               : strstr(words, "busy") ? PD_ERROR_BUSY
                                       : PD_ERROR_IO;
    if (check->what)
        g_set_error(error, PD_ERROR, code, "%s: %s", check->what, why);
    else
        g_set_error(error, PD_ERROR, code, "%s failed: %s", name, why);
}

bool pd_cmd_run_checked(const char *const *argv, const PdCmdCheck *check, PdCmdResult *ret,
                        GError **error)
{
    const char *name = check->name ? check->name : argv[0];
    PdCmdResult res = {0};
    if (!pd_cmd_run(argv, check->timeout_ms, &res, error)) {
        if (check->what)
            g_prefix_error(error, "%s: ", check->what);
        return false;
    }
    bool ok = !res.timed_out &&
              (res.exit_status == 0 || (check->tolerated && res.exit_status == check->tolerated));
    if (res.timed_out)
        g_set_error(error, PD_ERROR, check->code ? check->code(-1, res.err) : PD_ERROR_IO,
                    "%s%s%s did not finish within %u s%s", check->what ? check->what : "",
                    check->what ? ": " : "", name, check->timeout_ms / 1000,
                    check->timeout_hint ? check->timeout_hint : "");
    else if (!ok)
        set_failure(check, name, &res, error);
    if (ret)
        *ret = res;
    else
        pd_cmd_result_clear(&res);
    return ok;
}
