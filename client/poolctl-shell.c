/* poolctl's interactive shell: one command per line on one connection, as `virsh` without a
 * command. With readline (HAVE_READLINE) on a terminal: line editing, history and completion
 * of command names, of the current command's options and of pool and volume names (asked
 * from poold as the user types). */
#include "client/poolctl.h"

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
        if (words[i][0] == '-')
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
    if (pool_first && positional == 0)
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

bool pc_shell(PcCtl *ctl)
{
    bool tty = isatty(STDIN_FILENO);
    /* Commands from a file or a pipe: pipeline what can be (pc_ctl_call_pipelined). */
    ctl->pipeline = !tty && !g_getenv("POOLCTL_NO_PIPELINE");
    bool all_ok = true, json0 = ctl->json;
#ifdef HAVE_READLINE
    rl_readline_name = "poolctl";
    shell_ctl = ctl;
    rl_attempted_completion_function = complete;
#endif
    if (tty)
        printf("Welcome to poolctl, the poold interactive terminal.\n\n"
               "Type:  'help' for help with commands\n       'quit' to quit\n\n");
    for (;;) {
        g_autofree char *line = read_line(tty);
        if (!line)
            break;
        g_strstrip(line);
        if (!*line || *line == '#')
            continue;
        if (g_str_equal(line, "quit") || g_str_equal(line, "exit"))
            break;
        g_auto(GStrv) argv = NULL;
        int argc = 0;
        g_autoptr(GError) error = NULL;
        if (!g_shell_parse_argv(line, &argc, &argv, &error)) {
            pc_error("%s", error->message);
            all_ok = false;
            continue;
        }
        ctl->json = json0;
        ctl->async = false;
        /* Commands that are not pipelined print after every answer in flight. */
        const PcCmd *cmd = pc_find_cmd(argv[0]);
        if ((!cmd || !cmd->pipelines) && !pc_ctl_drain(ctl))
            all_ok = false;
        if (!pc_run_command(ctl, argc, argv))
            all_ok = false;
        if (!ctl->quiet && !ctl->json && !ctl->deferred)
            printf("\n");
        fflush(stdout);
    }
    if (!pc_ctl_drain(ctl))
        all_ok = false;
    if (tty)
        printf("\n");
    return all_ok;
}
