/* poolctl: virsh's pool-* and vol-* commands (and poold's job-*, event, vol-snapshot-*) over
 * poold's varlink socket. Shared declarations of the poolctl*.c files. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

/* ---- poolctl-conn.c: a varlink connection ---- */

typedef struct PcConn PcConn;

/* Connects to @path. NULL with an error naming the socket and what to do. */
PcConn *pc_conn_new(const char *path, GError **error);
void pc_conn_free(PcConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PcConn, pc_conn_free)

/* Sends one call (@params taken, may be NULL); @fd >= 0 goes along with SCM_RIGHTS. */
bool pc_conn_send(PcConn *conn, const char *method, JsonObject *params, bool more, int fd,
                  GError **error);
/* The next reply's parameters (owned by the caller). *ret_continues tells whether more
 * replies follow. A varlink error reply gives NULL with the error set: PD_ERROR domain, the
 * code of its io.poold.Error name, the daemon's message. *ret_error_name, when given, gets
 * the wire name (caller frees). */
JsonObject *pc_conn_recv(PcConn *conn, bool *ret_continues, char **ret_error_name, GError **error);
/* Waits for the next reply: 1 when one can be read, 0 when @deadline (g_get_monotonic_time,
 * 0: none) passed, -1 when *@interrupted was set (by a signal handler) meanwhile. */
int pc_conn_wait(PcConn *conn, gint64 deadline, const gint *interrupted);
/* Call and final reply (no streaming). */
JsonObject *pc_call(PcConn *conn, const char *method, JsonObject *params, GError **error);

/* ---- poolctl.c: commands and their options ---- */

typedef struct {
    const char *socket_path;
    PcConn *conn; /* connected on first use */
    bool json;    /* --json */
    bool async;   /* --async */
    bool quiet;
    char *last_error_name;   /* wire name of the last error reply */
    const char *libvirt_uri; /* -C/--libvirt-uri: the libvirt URI poold uses for this call */
    /* Pipelining (a session reading commands from a file or pipe): see pc_ctl_call_pipelined */
    bool pipeline;
    GQueue inflight;        /* PcPending *: sent, answer not read yet, oldest first */
    bool deferred;          /* the command just run left its answer in flight */
    bool pipeline_failed;   /* a pipelined command failed (the session's exit status) */
    GHashTable *pool_types; /* pool name -> type + 1, cached while only vol-* commands run */
    bool ran;               /* the last command got past its parsing (virsh's empty line) */
    bool bare;              /* ... but its output ends without that line (echo) */
    bool quit;              /* quit or exit was run */
    bool interactive;       /* commands come from poolctl's input (cd works) */
    char *socket_owned;     /* socket_path when connect named one */
} PcCtl;

#define PC_DEFAULT_SOCKET    "/run/poold/poold-sock"
#define PC_DEFAULT_SOCKET_RO "/run/poold/poold-sock-ro"

typedef enum {
    PC_OPT_BOOL,   /* --flag */
    PC_OPT_DATA,   /* required, may be given positionally */
    PC_OPT_STRING, /* optional value, may be given positionally */
    PC_OPT_NAMED,  /* optional value, only as --name VALUE */
    PC_OPT_NUMBER, /* optional number, only as --name N */
    PC_OPT_ARGV,   /* last: the words left over are the command's own (echo) */
} PcOptType;

typedef struct {
    const char *name;
    PcOptType type;
    const char *help;
} PcOpt;

typedef struct {
    const PcOpt *spec;
    const char **values; /* per option: the value, "" for a given bool, NULL when absent */
    unsigned n;
} PcArgs;

typedef struct PcCmd PcCmd;
struct PcCmd {
    const char *name;
    bool (*run)(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv);
    const PcOpt *opts; /* terminated by {NULL}; the command gets the words left too */
    const char *help;
    bool pipelines; /* one call, answer only printed: may run pipelined (pc_ctl_call_pipelined) */
};

const char *pc_arg(PcArgs *args, const char *name);
bool pc_flag(PcArgs *args, const char *name);
/* Connects on first use; prints the error and returns NULL on failure. */
PcConn *pc_ctl_conn(PcCtl *ctl);
/* Prints the answer of a pipelined command (the reply's parameters, not owned). */
typedef void (*PcFinishFunc)(PcCtl *ctl, JsonObject *reply, gpointer data);

/* One call whose answer only needs printing (vol-create-as, vol-delete). In a pipelined
 * session it is sent without waiting: up to PC_PIPELINE_DEPTH calls are in flight, poold runs
 * them one after the other and makes a burst durable with one sync (group commit), and
 * @finish(@data) or the error lines are printed in order when the answer is read (by the
 * next command that needs the connection, pc_ctl_drain, or a full pipeline). Otherwise it is
 * pc_ctl_call followed by @finish. Returns false only when the call failed here and now.
 * @params taken; @what_failed and @data copied/taken (@data freed with @data_free). */
#define PC_PIPELINE_DEPTH 64
bool pc_ctl_call_pipelined(PcCtl *ctl, const char *method, JsonObject *params,
                           const char *what_failed, PcFinishFunc finish, gpointer data,
                           GDestroyNotify data_free);
/* Reads and prints every answer in flight. Returns false if one of them was an error. */
bool pc_ctl_drain(PcCtl *ctl);
/* A pool's type for building volume XML, cached in a pipelined session. -1 on error
 * (printed). */
int pc_ctl_pool_type(PcCtl *ctl, const char *pool);
/* Calls @method; on error prints virsh-style "error: " lines (@what_failed first, when given)
 * and returns NULL. */
JsonObject *pc_ctl_call(PcCtl *ctl, const char *method, JsonObject *params,
                        const char *what_failed);
/* A job method: streams progress to a TTY (stderr) unless --async; with --async prints
 * the job id and returns an empty object with "async" set. NULL on error (printed). */
JsonObject *pc_ctl_call_job(PcCtl *ctl, const char *method, JsonObject *params, int fd,
                            const char *what_failed);
/* Prints "error: FMT" on stderr. */
void pc_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Prints @params as JSON (--json output). */
void pc_print_json(JsonNode *node);
void pc_print_json_object(JsonObject *object);

/* The command groups, NULL-terminated; a command by name (NULL if none). */
extern const PcCmd *const pc_cmd_groups[];
const PcCmd *pc_find_cmd(const char *name);
/* Runs one command line (argv[0] is the command); prints its errors. */
bool pc_run_command(PcCtl *ctl, int argc, char **argv);
/* Runs a line that may hold several commands ("pool-list ; vol-list p"), with the shell's
 * quoting. Returns true when every command succeeded. */
bool pc_run_line(PcCtl *ctl, const char *line);
/* Splits @line at unquoted ';' and newlines into command lines (words unquoted). NULL with
 * the error printed on bad quoting. Free with g_ptr_array_unref (elements are GStrv). */
GPtrArray *pc_split_line(const char *line);

/* ---- poolctl-help.c ---- */

/* The usage and every command group. */
void pc_help_usage(void);
/* One command's help, as virsh's "help CMD". */
void pc_help_command(const PcCmd *cmd);
/* "help [NAME]": the usage, a group (pool, volume, ...) or a command; false (error printed)
 * for an unknown name. */
bool pc_help(const char *name);

/* ---- poolctl-shell.c: the interactive shell ---- */

/* One command per line from stdin on one connection (readline with completion of commands
 * and options on a terminal when built with it); "quit" or end of input leaves. Returns true
 * if every command succeeded. */
bool pc_shell(PcCtl *ctl);

/* ---- poolctl-print.c ---- */

/* A command's answer: with --json, @object (or @array) is printed whole and the functions
 * return true (the command has nothing more to print); otherwise they print nothing and
 * return false. */
bool pc_answer_json(PcCtl *ctl, JsonObject *object);
bool pc_answer_json_array(PcCtl *ctl, JsonArray *array);
/* A command's answer that is one string member of @object: with --json @object whole,
 * otherwise the member as it is (XML ends with its own newline) or, with @newline, followed
 * by one. */
void pc_answer_member(PcCtl *ctl, JsonObject *object, const char *member, bool newline);
/* A command's answer that is a message: with --json @object whole, otherwise the message. */
void pc_answer_message(PcCtl *ctl, JsonObject *object, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* virsh's vshPrettyCapacity: "20.00 GiB". Caller frees. */
char *pc_pretty_size(uint64_t bytes);
/* @text safe for a terminal: control characters and non-UTF-8 bytes escaped (\xHH) */
char *pc_escape_controls(const char *text, bool keep_newlines);
/* "LABEL           VALUE\n", VALUE escaped for the terminal */
void pc_print_field(const char *label, const char *value);

typedef struct PcTable PcTable;
PcTable *pc_table_new(const char *first_header, ...) G_GNUC_NULL_TERMINATED;
void pc_table_add(PcTable *table, const char *first_cell, ...) G_GNUC_NULL_TERMINATED;
/* Prints as virsh's vshTable (without the header under -q) and frees. */
void pc_table_print(PcCtl *ctl, PcTable *table);
/* virsh's size argument ("20G", "1GB"): false with virsh's "Malformed size X" (and the reason
 * line libvirt adds) printed. */
bool pc_parse_size(const char *text, uint64_t *ret);

/* ---- the command groups ---- */

extern const PcCmd pc_pool_cmds[];
extern const PcCmd pc_vol_cmds[];
extern const PcCmd pc_job_cmds[];
extern const PcCmd pc_secret_cmds[]; /* poolctl-secret.c */
extern const PcCmd pc_domain_cmds[];
extern const PcCmd pc_shell_cmds[];
/* pool-event (poolctl-job.c, beside poold's own event command; listed with the pools). */
bool pc_cmd_pool_event(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv);
extern const PcOpt pc_pool_event_opts[]; /* poolctl-shell.c: help, quit, cd, pwd, echo, connect */

G_END_DECLS
