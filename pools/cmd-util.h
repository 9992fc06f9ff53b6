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

/* The absolute path of program @name as pd_cmd_run finds it, or NULL. Caller frees. */
char *pd_cmd_find_program(const char *name);

/* @argv as one line, words separated by spaces, for tests and messages. Caller frees. */
char *pd_cmd_argv_string(const char *const *argv);

/* The last line of @text that is not empty (a tool's final complaint), or "" . Caller frees. */
char *pd_cmd_last_line(const char *text);

G_END_DECLS
