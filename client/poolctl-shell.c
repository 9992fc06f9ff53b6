/* poolctl's interactive shell: one command per line on one connection, as `virsh` without a
 * command. With readline (HAVE_READLINE) on a terminal: line editing, history and completion
 * of command names and of the current command's options. */
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

static char **complete(const char *text, int start, int end)
{
    rl_attempted_completion_over = 1;
    if (start == 0)
        return rl_completion_matches(text, command_generator);
    g_autofree char *first = g_strndup(rl_line_buffer, strcspn(rl_line_buffer, " "));
    completing = pc_find_cmd(first);
    if (text[0] == '-')
        return rl_completion_matches(text, option_generator);
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
