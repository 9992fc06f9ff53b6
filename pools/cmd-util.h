/* Running the external tools of the kernel-backed pools (mount, umount, mkfs, blkid, wipefs,
 * iscsiadm, showmount) with a deadline: a dead NFS server or an unreachable portal must never
 * block a worker thread for good. Backends build their argv with functions the tests print,
 * then run it here.
 *
 * Return convention: true on success, false with @error set (PD_ERROR domain). */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* What one run of a command produced. */
typedef struct {
    int exit_status; /* the exit code; -1 when killed by a signal (timeouts included) */
    bool timed_out;  /* killed at the deadline */
    char *out;       /* stdout (at most 1 MiB kept), NUL-terminated, never NULL after a run */
    char *err;       /* stderr, whitespace at both ends stripped, never NULL after a run */
} PdCmdResult;

/* Frees what @result holds and zeroes it. */
void pd_cmd_result_clear(PdCmdResult *result);

/* Runs @argv (argv[0] a program name, looked up in PATH and then in /usr/sbin and /sbin, where
 * root's tools live even when the daemon's PATH lacks them) with stdin from /dev/null,
 * LC_ALL=C and its own process group, capturing stdout and stderr. When it has not exited
 * after @timeout_ms, the whole group is killed (SIGKILL) and result->timed_out is set.
 * Returns false only when the command could not be run (not installed, fork failed): an exit
 * status other than 0 or a timeout is reported in @ret, which is always filled on success. */
bool pd_cmd_run(const char *const *argv, unsigned timeout_ms, PdCmdResult *ret, GError **error);

/* How pd_cmd_run_checked turns a run into success or an error. */
typedef struct {
    /* The start of every error ("cannot mount 'X' at 'Y'"), followed by ": "; NULL: the errors
     * start with the tool's name ("lvcreate failed: ..."). */
    const char *what;
    const char *name;         /* the tool as errors name it; NULL: argv[0] */
    unsigned timeout_ms;      /* the deadline (pd_cmd_run) */
    const char *timeout_hint; /* after "NAME did not finish within N s"; NULL: nothing */
    int tolerated;            /* an exit status that counts as success besides 0; 0: none */
    bool whole_stderr;        /* the whole stderr on one line ("; "), not its last line */
    /* Optional: what exit status @status means, put before the tool's own words ("HINT
     * [WORDS]"); NULL: the tool's words alone. */
    const char *(*hint)(int status);
    /* Optional: the error code of a failed run (@status -1 at the deadline); default
     * PD_ERROR_BUSY when the tool's words say "busy", else PD_ERROR_IO. */
    int (*code)(int status, const char *err);
} PdCmdCheck;

/* Runs @argv with pd_cmd_run and checks the outcome: true when it exited with 0 (or
 * check->tolerated). Else false with @error: "[WHAT: ]NAME did not finish within N s[HINT]"
 * at the deadline, "WHAT: WHY" (or "NAME failed: WHY") for another exit status, WHY being the
 * hint and the tool's last stderr line (stdout when stderr is empty), or "NAME failed without
 * a message (exit status N)"; the message never shows the argv (it may hold a password). When
 * it could not be run at all, pd_cmd_run's error prefixed with "WHAT: ". *ret (may be NULL)
 * gets the result whenever it ran (the caller clears it). */
bool pd_cmd_run_checked(const char *const *argv, const PdCmdCheck *check, PdCmdResult *ret,
                        GError **error);

/* @text on one line: lines trimmed, empty ones dropped, joined with "; ". Caller frees. */
char *pd_cmd_one_line(const char *text);

/* The absolute path of program @name as pd_cmd_run finds it, or NULL. Caller frees. */
char *pd_cmd_find_program(const char *name);

/* @argv as one line, words separated by spaces, for tests and messages. Caller frees. */
char *pd_cmd_argv_string(const char *const *argv);

/* The last line of @text that is not empty (a tool's final complaint), or "" . Caller frees. */
char *pd_cmd_last_line(const char *text);

G_END_DECLS
