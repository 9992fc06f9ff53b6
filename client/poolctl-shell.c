/* poolctl's interactive shell: one command per line on one connection, as `virsh` without a
 * command. With readline (HAVE_READLINE) on a terminal: line editing, history and completion
 * of command names, of the current command's options and of pool and volume names (asked
 * from poold as the user types). */
#include "client/poolctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_READLINE
#include <readline/history.h>
#include <readline/readline.h>

/* The command whose options are completed (set per completion). */
static const PcCmd *completing;

/* Generator of command names (state 0 restarts). Returns a malloc'd match or NULL. */
static char *command_generator(const char *text, int state)
{
    static unsigned g, i;
    if (state == 0)
        g = i = 0;
    size_t len = strlen(text);
    for (; pc_cmd_groups[g]; g++, i = 0) {
        for (; pc_cmd_groups[g][i].name; i++) {
            const char *name = pc_cmd_groups[g][i].name;
            if (strncmp(name, text, len) == 0) {
                i++;
                return strdup(name);
            }
        }
    }
    return NULL;
}

static char *option_generator(const char *text, int state)
{
    static unsigned i;
    if (state == 0)
        i = 0;
    size_t len = strlen(text);
    for (; completing && completing->opts && completing->opts[i].name; i++) {
        g_autofree char *opt = g_strconcat("--", completing->opts[i].name, NULL);
        if (strncmp(opt, text, len) == 0) {
            i++;
            return strdup(opt);
        }
    }
    return NULL;
}

/* The shell's connection, for name completion. */
static PcCtl *shell_ctl;
/* Candidates of the current name completion. */
static GPtrArray *names;

/* Adds the names of pools (@pool NULL) or of the volumes of @pool, from poold; errors add
 * none. */
static void fetch_names(const char *pool)
{
    PcConn *conn = pc_ctl_conn(shell_ctl);
    JsonObject *params = json_object_new();
    if (pool)
        json_object_set_string_member(params, "pool", pool);
    g_autoptr(JsonObject) reply =
        conn ? pc_call(conn, pool ? "io.poold.Volume.List" : "io.poold.Pool.List", params, NULL)
             : (json_object_unref(params), NULL);
    const char *member = pool ? "volumes" : "pools";
    if (!reply || !json_object_has_member(reply, member))
        return;
    JsonArray *list = json_object_get_array_member(reply, member);
    for (guint i = 0; i < json_array_get_length(list); i++)
        g_ptr_array_add(names, g_strdup(json_object_get_string_member(
                                   json_array_get_object_element(list, i), "name")));
}

static char *name_generator(const char *text, int state)
{
    static guint i;
    if (state == 0)
        i = 0;
    while (names && i < names->len) {
        const char *name = names->pdata[i++];
        if (g_str_has_prefix(name, text))
            return strdup(name);
    }
    return NULL;
}

/* Which names the word being completed takes: "pool", "vol" or NULL (file names).
 * @words: the words before it (words[0] is the command). *ret_pool: the --pool given. */
static const char *name_kind(char **words, const char **ret_pool)
{
    guint n = g_strv_length(words), positional = 0;
    *ret_pool = NULL;
    for (guint i = 1; i < n; i++) {
        if (g_str_equal(words[i], "--pool") && i + 1 < n)
            *ret_pool = words[i + 1];
        else if (g_str_has_prefix(words[i], "--pool="))
            *ret_pool = words[i] + strlen("--pool=");
        if (words[i][0] == '-' && !strchr(words[i], '='))
            i++; /* skip the option's value (bool options are rare before names) */
        else
            positional++;
    }
    const char *prev = n > 1 ? words[n - 1] : "";
    const char *cmd = words[0];
    if (g_str_equal(prev, "--pool") || g_str_equal(prev, "--inputpool") ||
        g_str_has_prefix(cmd, "pool-") || g_str_equal(cmd, "find-storage-pool-sources-as"))
        return g_str_has_prefix(cmd, "pool-") || prev[0] == '-' ? "pool" : NULL;
    bool pool_first = g_str_equal(cmd, "vol-list") || g_str_equal(cmd, "vol-create-as") ||
                      g_str_equal(cmd, "vol-create") || g_str_equal(cmd, "vol-create-from");
    if (pool_first && positional == 0 && !*ret_pool)
        return "pool";
    if (g_str_has_prefix(cmd, "vol-") && !pool_first && positional == 0)
        return "vol";
    return NULL;
}

static char **complete(const char *text, int start, int end)
{
    rl_attempted_completion_over = 1;
    if (start == 0)
        return rl_completion_matches(text, command_generator);
    g_autofree char *first = g_strndup(rl_line_buffer, strcspn(rl_line_buffer, " "));
    completing = pc_find_cmd(first);
    if (text[0] == '-')
        return rl_completion_matches(text, option_generator);
    g_autofree char *before = g_strndup(rl_line_buffer, (gsize)start);
    g_auto(GStrv) split = g_strsplit_set(g_strstrip(before), " \t", -1);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    for (char **w = split; *w; w++)
        if (**w)
            g_strv_builder_add(b, *w);
    g_auto(GStrv) words = g_strv_builder_end(b);
    const char *pool = NULL;
    const char *kind = completing ? name_kind(words, &pool) : NULL;
    if (kind) {
        g_clear_pointer(&names, g_ptr_array_unref);
        names = g_ptr_array_new_with_free_func(g_free);
        if (!g_str_equal(kind, "vol") || pool)
            fetch_names(g_str_equal(kind, "vol") ? pool : NULL);
        else {
            /* no --pool yet (virsh puts it after the volume): the volumes of every pool */
            fetch_names(NULL);
            g_autoptr(GPtrArray) pools = g_steal_pointer(&names);
            names = g_ptr_array_new_with_free_func(g_free);
            for (guint i = 0; i < pools->len; i++)
                fetch_names(pools->pdata[i]);
        }
        /* names with spaces or quotes come back quoted, as file names do */
        rl_filename_completion_desired = 1;
        rl_filename_quoting_desired = 1;
        return rl_completion_matches(text, name_generator);
    }
    rl_attempted_completion_over = 0; /* file names for the rest */
    return NULL;
}

/* The next line (caller frees), or NULL at the end. */
static char *read_line(bool tty)
{
    if (!tty) {
        char buf[65536];
        return fgets(buf, sizeof(buf), stdin) ? g_strdup(buf) : NULL;
    }
    char *line = readline("poolctl # ");
    if (line && *line)
        add_history(line);
    char *copy = line ? g_strdup(line) : NULL;
    free(line);
    return copy;
}
#else
static char *read_line(bool tty)
{
    char buf[65536];
    if (tty) {
        printf("poolctl # ");
        fflush(stdout);
    }
    return fgets(buf, sizeof(buf), stdin) ? g_strdup(buf) : NULL;
}
#endif

/* The history file, as virsh keeps ~/.cache/virsh/history: $XDG_CACHE_HOME/poolctl/history
 * ($POOLCTL_HISTORY names another). Caller frees. */
static char *history_file(void)
{
    const char *env = g_getenv("POOLCTL_HISTORY");
    if (env && *env)
        return g_strdup(env);
    return g_build_filename(g_get_user_cache_dir(), "poolctl", "history", NULL);
}

static void history_load(bool tty)
{
#ifdef HAVE_READLINE
    if (!tty)
        return;
    g_autofree char *path = history_file();
    stifle_history(500);
    (void)read_history(path);
#endif
}

static void history_save(bool tty)
{
#ifdef HAVE_READLINE
    if (!tty)
        return;
    g_autofree char *path = history_file();
    g_autofree char *dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0700) != 0 || write_history(path) != 0)
        fprintf(stderr, "warning: cannot save the history in %s: %s\n", path, g_strerror(errno));
#endif
}

bool pc_shell(PcCtl *ctl)
{
    bool tty = isatty(STDIN_FILENO);
    /* Commands from a file or a pipe: pipeline what can be (pc_ctl_call_pipelined). */
    ctl->pipeline = !tty && !g_getenv("POOLCTL_NO_PIPELINE");
    ctl->interactive = true; /* commands from poolctl's input, as virsh's interactive mode */
    bool all_ok = true;
#ifdef HAVE_READLINE
    rl_readline_name = "poolctl";
    shell_ctl = ctl;
    rl_attempted_completion_function = complete;
    rl_completer_quote_characters = "'\"";
    rl_filename_quote_characters = " \t'\"\\;#";
#endif
    history_load(tty);
    if (tty)
        printf("Welcome to poolctl, the poold interactive terminal.\n\n"
               "Type:  'help' for help with commands\n       'quit' to quit\n\n");
    while (!ctl->quit) {
        g_autofree char *line = read_line(tty);
        if (!line)
            break;
        g_strstrip(line);
        if (*line && !pc_run_line(ctl, line))
            all_ok = false;
    }
    if (!pc_ctl_drain(ctl))
        all_ok = false;
    history_save(tty);
    if (tty)
        printf("\n");
    return all_ok;
}

/* ---- the commands of poolctl itself ---- */

static bool cmd_help(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    return pc_help(pc_arg(args, "command"));
}

static bool cmd_quit(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    ctl->quit = true;
    return true;
}

static bool cmd_cd(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    if (!ctl->interactive) {
        pc_error("cd: command valid only in interactive mode");
        return false;
    }
    const char *dir = pc_arg(args, "dir") ? pc_arg(args, "dir") : g_get_home_dir();
    if (chdir(dir) < 0) {
        pc_error("cd: %s: %s", g_strerror(errno), dir);
        return false;
    }
    return true;
}

static bool cmd_pwd(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autofree char *dir = g_get_current_dir();
    printf("%s\n", dir);
    return true;
}

/* @word quoted for a shell only when it needs it (as virsh's echo --shell). Caller frees. */
static char *shell_word(const char *word)
{
    bool plain = *word != 0;
    for (const char *p = word; *p && plain; p++)
        plain = g_ascii_isalnum(*p) || strchr("_.,/:@%+=-", *p);
    return plain ? g_strdup(word) : g_shell_quote(word);
}

/* echo [--shell] [--xml] WORDS...: the words, quoted for a shell or escaped for XML. */
static bool cmd_echo(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    bool shell = pc_flag(args, "shell"), xml = pc_flag(args, "xml"), options = true;
    g_autoptr(GString) out = g_string_new(NULL);
    for (int i = 0; i < argc; i++) {
        if (options && g_str_equal(argv[i], "--")) {
            options = false;
            continue;
        }
        if (options && (g_str_equal(argv[i], "--shell") || g_str_equal(argv[i], "--xml")))
            continue;
        g_autofree char *word = shell ? shell_word(argv[i])
                                : xml ? g_markup_escape_text(argv[i], -1)
                                      : g_strdup(argv[i]);
        g_string_append_printf(out, "%s%s", out->len ? " " : "", word);
    }
    printf("%s\n", out->str);
    ctl->bare = true; /* virsh ends echo's output without its empty line */
    return true;
}

/* connect [SOCKET]: a new connection, to SOCKET or to the same socket again. */
static bool cmd_connect(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    if (!pc_ctl_drain(ctl))
        ctl->pipeline_failed = false;
    g_clear_pointer(&ctl->conn, pc_conn_free);
    if (ctl->pool_types)
        g_hash_table_remove_all(ctl->pool_types);
    if (pc_arg(args, "name")) {
        g_free(ctl->socket_owned);
        ctl->socket_owned = g_strdup(pc_arg(args, "name"));
        ctl->socket_path = ctl->socket_owned;
    }
    return pc_ctl_conn(ctl) != NULL;
}

static const PcOpt o_help[] = {{"command", PC_OPT_STRING, "a command or a command group"}, {NULL}};
static const PcOpt o_cd[] = {{"dir", PC_OPT_STRING, "the directory (default: home)"}, {NULL}};
static const PcOpt o_echo[] = {{"shell", PC_OPT_BOOL, "quote for a shell"},
                               {"xml", PC_OPT_BOOL, "escape for XML"},
                               {"string", PC_OPT_ARGV, "the words"},
                               {NULL}};
static const PcOpt o_connect[] = {{"name", PC_OPT_STRING, "poold's socket (default: the same)"},
                                  {NULL}};
static const PcOpt o_none[] = {{NULL}};

const PcCmd pc_shell_cmds[] = {
    {"cd", cmd_cd, o_cd, "change the current directory"},
    {"connect", cmd_connect, o_connect, "connect to poold again, or to another socket"},
    {"echo", cmd_echo, o_echo, "echo arguments"},
    {"exit", cmd_quit, o_none, "quit this interactive terminal"},
    {"help", cmd_help, o_help, "print help"},
    {"pwd", cmd_pwd, o_none, "print the current directory"},
    {"quit", cmd_quit, o_none, "quit this interactive terminal"},
    {NULL},
};
