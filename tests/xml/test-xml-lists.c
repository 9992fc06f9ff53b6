/* The list files of the XML tests: one case per line.
 *
 *   KIND [POOLTYPE] NAME [FLAGS...] [: ARGS] [| MESSAGE]
 *
 * KIND is pool, vol, pool-args or vol-args; vol kinds take the pool type first. */
#include "test-xml.h"

#include "xml/vol-xml.h"

#include <string.h>

static Case *parse_line(const char *list, int lineno, char *line)
{
    Case *c = g_new0(Case, 1);
    char *bar = strstr(line, " | ");
    char *colon;
    g_auto(GStrv) words = NULL;
    int i = 0;

    if (bar) {
        c->message = g_strdup(g_strstrip(bar + 3));
        *bar = '\0';
    }
    colon = strstr(line, ": ");
    if (colon) {
        c->args = g_strdup(g_strstrip(colon + 2));
        *colon = '\0';
    }
    words = g_strsplit_set(g_strstrip(line), " \t", -1);
    c->kind = g_strdup(words[i++]);
    if (g_str_has_prefix(c->kind, "vol"))
        c->pool_type = g_strdup(words[i] ? words[i++] : NULL);
    c->name = g_strdup(words[i] ? words[i++] : NULL);
    for (; words[i]; i++) {
        if (strcmp(words[i], "opt-capacity") == 0)
            c->flags |= PD_VOL_PARSE_OPT_CAPACITY;
        else if (strcmp(words[i], "no-capacity") == 0)
            c->flags |= PD_VOL_PARSE_NO_CAPACITY;
        else if (*words[i])
            g_error("%s:%d: unknown word '%s'", list, lineno, words[i]);
    }
    if (!c->name || (c->pool_type && !pool_type_by_name(c->pool_type, &(PdPoolType){0})))
        g_error("%s:%d: malformed line", list, lineno);
    return c;
}

void load_cases(const char *list, const char *prefix, GTestDataFunc func)
{
    g_autofree char *path = g_test_build_filename(G_TEST_DIST, list, NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(path, &text, NULL, &error))
        g_error("cannot read %s: %s", path, error->message);
    lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]);
        Case *c;
        g_autofree char *test_name = NULL;

        if (!*line || *line == '#')
            continue;
        c = parse_line(list, i + 1, line);
        test_name = g_strconcat(prefix, c->name, NULL);
        /* The Case lives until the process exits. */
        g_test_add_data_func(test_name, c, func);
    }
}
