/* poolctl: a virsh-like client of poold. Command lines, option parsing (virsh's rules:
 * "--opt value", "--opt=value", positional values fill the data options in order), the
 * connection and error output. Exit status 0 on success, 1 on failure, as virsh. */
#include "client/poolctl.h"

#include "common/pd-error.h"
#include "xml/pool-types.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_SOCKET    PC_DEFAULT_SOCKET
#define DEFAULT_SOCKET_RO PC_DEFAULT_SOCKET_RO

void pc_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *safe = pc_escape_controls(text, false);
    fprintf(stderr, "error: %s\n", safe);
}

void pc_print_json(JsonNode *node)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_pretty(gen, true);
    json_generator_set_root(gen, node);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}

void pc_print_json_object(JsonObject *object)
{
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(node, object);
    pc_print_json(node);
}

const char *pc_arg(PcArgs *args, const char *name)
{
    for (unsigned i = 0; i < args->n; i++)
        if (g_str_equal(args->spec[i].name, name))
            return args->values[i];
    return NULL;
}

bool pc_flag(PcArgs *args, const char *name)
{
    return pc_arg(args, name) != NULL;
}

static bool drain(PcCtl *ctl, unsigned keep);

static PcConn *connect_once(PcCtl *ctl);

PcConn *pc_ctl_conn(PcCtl *ctl)
{
    /* a call that reads its own answer: the answers in flight come first */
    if (!g_queue_is_empty(&ctl->inflight) && !drain(ctl, 0))
        ctl->pipeline_failed = true;
    return connect_once(ctl);
}

static PcConn *connect_once(PcCtl *ctl)
{
    if (ctl->conn)
        return ctl->conn;
    g_autoptr(GError) error = NULL;
    ctl->conn = pc_conn_new(ctl->socket_path, &error);
    if (!ctl->conn)
        pc_error("%s", error->message);
    return ctl->conn;
}

/* Prints a failed call as virsh does: the lookup that failed, or what failed, then why. */
static void print_call_error(const GError *error, const char *what_failed, JsonObject *params)
{
    if (g_error_matches(error, PD_ERROR, PD_ERROR_NO_SUCH_POOL)) {
        const char *pool = params && json_object_has_member(params, "pool")
                               ? json_object_get_string_member(params, "pool")
                               : NULL;
        if (pool)
            pc_error("failed to get pool '%s'", pool);
    } else if (g_error_matches(error, PD_ERROR, PD_ERROR_NO_SUCH_VOLUME)) {
        const char *vol = params && json_object_has_member(params, "volume")
                              ? json_object_get_string_member(params, "volume")
                              : NULL;
        if (vol)
            pc_error("failed to get vol '%s'", vol);
    } else if (what_failed) {
        pc_error("%s", what_failed);
    }
    pc_error("%s", error->message);
}

JsonObject *pc_ctl_call(PcCtl *ctl, const char *method, JsonObject *params, const char *what_failed)
{
    g_autoptr(JsonObject) owned = params ? params : json_object_new();
    PcConn *conn = pc_ctl_conn(ctl);
    if (!conn)
        return NULL;
    g_autoptr(GError) error = NULL;
    JsonObject *reply = pc_call(conn, method, json_object_ref(owned), &error);
    if (!reply)
        print_call_error(error, what_failed, owned);
    return reply;
}

/* ---- pipelining ---- */

typedef struct {
    JsonObject *params; /* for the error lines */
    char *what_failed;
    PcFinishFunc finish;
    gpointer data;
    GDestroyNotify data_free;
    bool newline; /* the shell's empty line after the command's output */
} PcPending;

static void pending_free(PcPending *p)
{
    json_object_unref(p->params);
    g_free(p->what_failed);
    if (p->data_free)
        p->data_free(p->data);
    g_free(p);
}

/* Reads answers in flight until @keep are left. False if one was an error (printed). */
static bool drain(PcCtl *ctl, unsigned keep)
{
    bool ok = true;
    while (g_queue_get_length(&ctl->inflight) > keep) {
        PcPending *p = g_queue_pop_head(&ctl->inflight);
        g_autoptr(GError) error = NULL;
        g_autoptr(JsonObject) reply = NULL;
        if (ctl->conn)
            reply = pc_conn_recv(ctl->conn, NULL, NULL, &error);
        else
            g_set_error(&error, PD_ERROR, PD_ERROR_IO, "not connected");
        if (reply) {
            p->finish(ctl, reply, p->data);
        } else {
            print_call_error(error, p->what_failed, p->params);
            ok = false;
        }
        if (p->newline)
            printf("\n");
        fflush(stdout);
        pending_free(p);
    }
    return ok;
}

bool pc_ctl_drain(PcCtl *ctl)
{
    bool ok = drain(ctl, 0) && !ctl->pipeline_failed;
    ctl->pipeline_failed = false;
    return ok;
}

bool pc_ctl_call_pipelined(PcCtl *ctl, const char *method, JsonObject *params,
                           const char *what_failed, PcFinishFunc finish, gpointer data,
                           GDestroyNotify data_free)
{
    g_autoptr(JsonObject) owned = params ? params : json_object_new();
    ctl->deferred = false;
    if (!ctl->pipeline || ctl->json || ctl->async) {
        g_autoptr(JsonObject) reply = pc_ctl_call(ctl, method, json_object_ref(owned), what_failed);
        if (reply)
            finish(ctl, reply, data);
        if (data_free)
            data_free(data);
        return reply != NULL;
    }
    PcConn *conn = connect_once(ctl);
    g_autoptr(GError) error = NULL;
    if (!conn || !pc_conn_send(conn, method, json_object_ref(owned), false, -1, &error)) {
        if (error)
            print_call_error(error, what_failed, owned);
        if (data_free)
            data_free(data);
        return false;
    }
    PcPending *p = g_new0(PcPending, 1);
    p->params = g_steal_pointer(&owned);
    p->what_failed = g_strdup(what_failed);
    p->finish = finish;
    p->data = data;
    p->data_free = data_free;
    p->newline = !ctl->quiet;
    g_queue_push_tail(&ctl->inflight, p);
    ctl->deferred = true;
    /* Full: read the older half. The next half then reaches poold as one burst, which it
     * makes durable with one sync (reading one answer per call sent would make every burst
     * one call long). */
    if (g_queue_get_length(&ctl->inflight) >= PC_PIPELINE_DEPTH &&
        !drain(ctl, PC_PIPELINE_DEPTH / 2))
        ctl->pipeline_failed = true;
    return true;
}

int pc_ctl_pool_type(PcCtl *ctl, const char *pool)
{
    gpointer cached = ctl->pool_types ? g_hash_table_lookup(ctl->pool_types, pool) : NULL;
    if (cached)
        return GPOINTER_TO_INT(cached) - 1;
    JsonObject *p = json_object_new();
    json_object_set_string_member(p, "pool", pool);
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Pool.Info", p, NULL);
    if (!reply)
        return -1;
    JsonObject *info = json_object_get_object_member(reply, "pool");
    const PdPoolTypeInfo *t =
        pd_pool_type_info_by_name(json_object_get_string_member(info, "type"));
    if (!t)
        return -1;
    if (ctl->pipeline) {
        if (!ctl->pool_types)
            ctl->pool_types = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        /* by the name the user gave and the pool's own */
        g_hash_table_insert(ctl->pool_types, g_strdup(pool), GINT_TO_POINTER((int)t->type + 1));
    }
    return (int)t->type;
}

/* "[#####     ]  45%  120.00 MiB/s  ETA 0:12" on stderr. */
static void print_progress(JsonObject *progress, bool final)
{
    int64_t done = json_object_get_int_member(progress, "bytes_done");
    int64_t total = json_object_get_int_member(progress, "bytes_total");
    int64_t rate = json_object_get_int_member(progress, "rate");
    int64_t eta = json_object_get_int_member(progress, "eta");
    int pct = total > 0 ? (int)(done * 100 / total) : 0;
    if (final)
        pct = 100;
    char bar[31];
    for (int i = 0; i < 30; i++)
        bar[i] = i < pct * 30 / 100 ? '#' : ' ';
    bar[30] = 0;
    g_autofree char *speed = pc_pretty_size((uint64_t)rate);
    if (eta >= 0 && !final)
        fprintf(stderr, "\r[%s] %3d%%  %s/s  ETA %" G_GINT64_FORMAT ":%02d ", bar, pct, speed,
                eta / 60, (int)(eta % 60));
    else
        fprintf(stderr, "\r[%s] %3d%%  %s/s            ", bar, pct, speed);
    if (final)
        fputc('\n', stderr);
}

static gint job_interrupted;

static void on_job_interrupt(int sig)
{
    g_atomic_int_set(&job_interrupted, 1);
}

/* Ctrl-C during a foreground job: the job goes on in poold; say which it is. */
static void print_interrupted(int64_t job)
{
    if (job > 0)
        fprintf(stderr,
                "\nerror: interrupted: job %" G_GINT64_FORMAT " goes on in poold (job-cancel "
                "%" G_GINT64_FORMAT " stops it, job-wait %" G_GINT64_FORMAT " follows it)\n",
                job, job, job);
    else
        fprintf(stderr, "\nerror: interrupted: the operation goes on in poold (job-list shows "
                        "it, job-cancel stops it)\n");
}

/* Reads the answers of a job call: progress drawn on stderr (@tty) until the final reply. */
static JsonObject *job_answers(PcCtl *ctl, PcConn *conn, JsonObject *params,
                               const char *what_failed, bool tty)
{
    bool shown = false;
    int64_t job = 0;
    g_autoptr(GError) error = NULL;
    for (;;) {
        if (pc_conn_wait(conn, 0, &job_interrupted) < 0) {
            print_interrupted(job);
            /* the call's answers are not read: a later command needs a new connection */
            g_clear_pointer(&ctl->conn, pc_conn_free);
            return NULL;
        }
        bool more = false;
        JsonObject *reply = pc_conn_recv(conn, &more, NULL, &error);
        if (!reply) {
            if (shown)
                fputc('\n', stderr);
            print_call_error(error, what_failed, params);
            return NULL;
        }
        if (!more) {
            if (shown)
                fprintf(stderr, "\r\033[K");
            if (ctl->async && json_object_has_member(reply, "job") && !ctl->json && !ctl->quiet)
                printf("Job %" G_GINT64_FORMAT " started\n",
                       json_object_get_int_member(reply, "job"));
            return reply;
        }
        if (json_object_has_member(reply, "progress")) {
            JsonObject *progress = json_object_get_object_member(reply, "progress");
            job = json_object_get_int_member_with_default(progress, "id", job);
            if (tty) {
                print_progress(progress, false);
                shown = true;
            }
        }
        json_object_unref(reply);
    }
}

JsonObject *pc_ctl_call_job(PcCtl *ctl, const char *method, JsonObject *params, int fd,
                            const char *what_failed)
{
    g_autoptr(JsonObject) owned = params ? params : json_object_new();
    PcConn *conn = pc_ctl_conn(ctl);
    if (!conn)
        return NULL;
    bool tty = !ctl->async && !ctl->json && isatty(STDERR_FILENO);
    if (ctl->async)
        json_object_set_boolean_member(owned, "async", true);
    g_autoptr(GError) error = NULL;
    if (!pc_conn_send(conn, method, json_object_ref(owned), tty, fd, &error)) {
        print_call_error(error, what_failed, owned);
        return NULL;
    }
    /* Ctrl-C leaves the job running in poold: it is told, with the job's id */
    struct sigaction sa = {.sa_handler = on_job_interrupt}, old;
    sigemptyset(&sa.sa_mask);
    g_atomic_int_set(&job_interrupted, 0);
    (void)sigaction(SIGINT, &sa, &old);
    JsonObject *reply = job_answers(ctl, conn, owned, what_failed, tty);
    (void)sigaction(SIGINT, &old, NULL);
    return reply;
}

/* ---- option parsing ---- */

static const PcOpt *find_opt(const PcOpt *spec, const char *name, unsigned *ret_index)
{
    for (unsigned i = 0; spec[i].name; i++)
        if (g_str_equal(spec[i].name, name)) {
            *ret_index = i;
            return &spec[i];
        }
    return NULL;
}

/* Stores "--name" or "--name=value" (argv[*i]); false after virsh's message. */
static bool parse_option(const PcCmd *cmd, int argc, char **argv, int *i, PcArgs *args)
{
    const char *arg = argv[*i];
    g_autofree char *name = g_strdup(arg + 2);
    char *eq = strchr(name, '=');
    if (eq)
        *eq = 0;
    unsigned idx = 0;
    const PcOpt *opt = find_opt(args->spec, name, &idx);
    if (!opt) {
        pc_error("command '%s' doesn't support option --%s", cmd->name, name);
        return false;
    }
    if (opt->type == PC_OPT_BOOL) {
        args->values[idx] = "";
        return true;
    }
    if (eq) {
        args->values[idx] = arg + (eq - name) + 3;
    } else if (*i + 1 < argc) {
        args->values[idx] = argv[++*i];
    } else {
        pc_error("expected syntax: --%s <%s>", name,
                 opt->type == PC_OPT_NUMBER ? "number" : "string");
        return false;
    }
    return true;
}

/* Fills @args from @argv (after the command name) by @cmd's options: "--" ends the options,
 * other words fill the data options in order. Prints virsh's messages and returns false on
 * a bad command line. @rest_ok: words left over are the command's (echo). */
static bool parse_args(const PcCmd *cmd, int argc, char **argv, PcArgs *args, bool rest_ok)
{
    bool options = true;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (options && g_str_equal(arg, "--")) {
            options = false;
            continue;
        }
        if (options && g_str_has_prefix(arg, "--") && arg[2]) {
            if (!parse_option(cmd, argc, argv, &i, args))
                return false;
            continue;
        }
        bool placed = false;
        for (unsigned j = 0; j < args->n && !placed; j++) {
            PcOptType t = args->spec[j].type;
            if ((t == PC_OPT_DATA || t == PC_OPT_STRING) && !args->values[j]) {
                args->values[j] = arg;
                placed = true;
            }
        }
        if (!placed && !rest_ok) {
            pc_error("unexpected data '%s'", arg);
            return false;
        }
    }
    for (unsigned j = 0; j < args->n; j++)
        if (args->spec[j].type == PC_OPT_DATA && !args->values[j]) {
            pc_error("command '%s' requires <%s> option", cmd->name, args->spec[j].name);
            return false;
        }
    return true;
}

const PcCmd *const pc_cmd_groups[] = {pc_pool_cmds,   pc_vol_cmds,   pc_job_cmds, pc_domain_cmds,
                                      pc_secret_cmds, pc_shell_cmds, NULL};

const PcCmd *pc_find_cmd(const char *name)
{
    for (unsigned g = 0; pc_cmd_groups[g]; g++)
        for (const PcCmd *c = pc_cmd_groups[g]; c->name; c++)
            if (g_str_equal(c->name, name))
                return c;
    return NULL;
}

/* Takes the options every command accepts out of @argv (up to "--"): --json, --async,
 * -C/--libvirt-uri, --help. Returns the other words; *ret_help when --help was given. */
static GPtrArray *common_options(PcCtl *ctl, int argc, char **argv, bool *ret_help)
{
    GPtrArray *rest = g_ptr_array_new();
    bool options = true;
    *ret_help = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options && g_str_equal(a, "--")) {
            options = false;
            g_ptr_array_add(rest, argv[i]);
        } else if (options && g_str_equal(a, "--json")) {
            ctl->json = true;
        } else if (options && g_str_equal(a, "--async")) {
            ctl->async = true;
        } else if (options && (g_str_equal(a, "-C") || g_str_equal(a, "--libvirt-uri")) &&
                   i + 1 < argc) {
            ctl->libvirt_uri = argv[++i];
        } else if (options && g_str_has_prefix(a, "--libvirt-uri=")) {
            ctl->libvirt_uri = a + strlen("--libvirt-uri=");
        } else if (options && g_str_equal(a, "--help")) {
            *ret_help = true;
        } else {
            g_ptr_array_add(rest, argv[i]);
        }
    }
    return rest;
}

/* Runs one command line (argv[0] is the command). Returns true on success. */
bool pc_run_command(PcCtl *ctl, int argc, char **argv)
{
    ctl->ran = false;
    ctl->bare = false;
    ctl->deferred = false;
    const PcCmd *cmd = pc_find_cmd(argv[0]);
    if (!cmd) {
        pc_error("unknown command: '%s'", argv[0]);
        return false;
    }
    /* A pool may change type only through pool-* commands: they forget the cached types. */
    if (ctl->pool_types && g_str_has_prefix(cmd->name, "pool-"))
        g_hash_table_remove_all(ctl->pool_types);
    bool help = false;
    g_autoptr(GPtrArray) rest = common_options(ctl, argc, argv, &help);
    if (help) {
        ctl->ran = true;
        pc_help_command(cmd);
        return true;
    }
    PcArgs args = {.spec = cmd->opts};
    unsigned n = 0;
    for (const PcOpt *o = cmd->opts; o && o->name; o++)
        n++;
    args.n = n;
    g_autofree const char **values = g_new0(const char *, n + 1);
    args.values = values;
    bool rest_ok = !cmd->opts || (n > 0 && cmd->opts[n - 1].type == PC_OPT_ARGV);
    if (!parse_args(cmd, (int)rest->len, (char **)rest->pdata, &args, rest_ok))
        return false;
    ctl->ran = true;
    return cmd->run(ctl, cmd, &args, (int)rest->len, (char **)rest->pdata);
}

/* Appends the words of @text to @lines as one command line, if it has any. */
static bool add_command(GPtrArray *lines, const GString *text)
{
    g_autoptr(GError) error = NULL;
    char **words = NULL;
    int n = 0;
    if (!g_shell_parse_argv(text->str, &n, &words, &error)) {
        if (g_error_matches(error, G_SHELL_ERROR, G_SHELL_ERROR_EMPTY_STRING))
            return true;
        pc_error("%s", error->message);
        return false;
    }
    g_ptr_array_add(lines, words);
    return true;
}

GPtrArray *pc_split_line(const char *line)
{
    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    g_autoptr(GString) cur = g_string_new(NULL);
    char quote = 0;
    for (const char *p = line; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
            else if (*p == '\\' && quote == '"' && p[1])
                g_string_append_c(cur, *p++);
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '\\' && p[1]) {
            g_string_append_c(cur, *p++);
        } else if (*p == ';' || *p == '\n') {
            if (!add_command(lines, cur))
                return NULL;
            g_string_truncate(cur, 0);
            continue;
        } else if (*p == '#' && (cur->len == 0 || g_ascii_isspace(cur->str[cur->len - 1]))) {
            break; /* a comment to the end of the line */
        }
        g_string_append_c(cur, *p);
    }
    if (!add_command(lines, cur))
        return NULL;
    return g_steal_pointer(&lines);
}

/* Runs one command as a session does: answers in flight first unless it is pipelined too,
 * its own --json/--async/-C only for itself, and virsh's empty line after its output. */
static bool run_in_session(PcCtl *ctl, int argc, char **argv)
{
    bool ok = true;
    const PcCmd *cmd = pc_find_cmd(argv[0]);
    if (ctl->pipeline && (!cmd || !cmd->pipelines) && !pc_ctl_drain(ctl))
        ok = false;
    bool json = ctl->json, async = ctl->async;
    const char *uri = ctl->libvirt_uri;
    if (!pc_run_command(ctl, argc, argv))
        ok = false;
    if (ctl->ran && !ctl->bare && !ctl->quiet && !ctl->json && !ctl->deferred)
        printf("\n"); /* virsh ends a command's output with an empty line (not a bad line's) */
    fflush(stdout);
    ctl->json = json;
    ctl->async = async;
    ctl->libvirt_uri = uri;
    return ok;
}

bool pc_run_line(PcCtl *ctl, const char *line)
{
    g_autoptr(GPtrArray) lines = pc_split_line(line);
    if (!lines)
        return false;
    bool ok = true;
    for (guint i = 0; i < lines->len && !ctl->quit; i++) {
        char **words = lines->pdata[i];
        if (!run_in_session(ctl, (int)g_strv_length(words), words))
            ok = false;
    }
    return ok;
}

/* The socket: -c, $POOLD_SOCKET, the read-write default, or the read-only one when the
 * read-write socket is not accessible (virsh's read-only fallback). */
static const char *default_socket(void)
{
    const char *env = g_getenv("POOLD_SOCKET");
    if (env && *env)
        return env;
    if (access(DEFAULT_SOCKET, W_OK) != 0 && access(DEFAULT_SOCKET_RO, W_OK) == 0)
        return DEFAULT_SOCKET_RO;
    return DEFAULT_SOCKET;
}

/* The options before the command. Returns the index of the command, or -1 after an exit
 * (help, version: *ret_status 0; a bad option: 1). */
static int main_options(PcCtl *ctl, int argc, char **argv, int *ret_status)
{
    int i = 1;
    *ret_status = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if ((g_str_equal(a, "-c") || g_str_equal(a, "--connect")) && i + 1 < argc)
            ctl->socket_path = argv[++i];
        else if (g_str_has_prefix(a, "--connect="))
            ctl->socket_path = a + strlen("--connect=");
        else if ((g_str_equal(a, "-C") || g_str_equal(a, "--libvirt-uri")) && i + 1 < argc)
            ctl->libvirt_uri = argv[++i];
        else if (g_str_has_prefix(a, "--libvirt-uri="))
            ctl->libvirt_uri = a + strlen("--libvirt-uri=");
        else if (g_str_equal(a, "--json"))
            ctl->json = true;
        else if (g_str_equal(a, "--async"))
            ctl->async = true;
        else if (g_str_equal(a, "-q") || g_str_equal(a, "--quiet"))
            ctl->quiet = true;
        else if (g_str_equal(a, "-h") || g_str_equal(a, "--help")) {
            pc_help_usage();
            return -1;
        } else if (g_str_equal(a, "-v") || g_str_equal(a, "-V") || g_str_equal(a, "--version")) {
            printf("%s\n", POOLCTL_VERSION);
            return -1;
        } else if (g_str_equal(a, "--")) {
            return i + 1;
        } else {
            pc_error("unsupported option '%s'. See --help.", a);
            *ret_status = 1;
            return -1;
        }
    }
    return i;
}

int main(int argc, char **argv)
{
    PcCtl ctl = {0};
    int status = 0;
    int i = main_options(&ctl, argc, argv, &status);
    if (i < 0)
        return status;
    if (!ctl.socket_path)
        ctl.socket_path = default_socket();
    if (i >= argc) {
        bool shell_ok = pc_shell(&ctl);
        pc_conn_free(ctl.conn);
        g_free(ctl.socket_owned);
        return shell_ok ? 0 : 1;
    }
    /* One argument is a command line of its own, as virsh reads it ("pool-list ; vol-list
     * p"); several are one command's words. */
    bool ok = argc - i == 1 ? pc_run_line(&ctl, argv[i]) : run_in_session(&ctl, argc - i, argv + i);
    pc_conn_free(ctl.conn);
    g_free(ctl.socket_owned);
    fflush(stdout);
    return ok ? 0 : 1;
}
