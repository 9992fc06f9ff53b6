/* Helpers every poolimg command shares: messages, option errors, opening images,
 * progress, cancellation. */
#include "client/poolimg.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void pi_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "poolimg: %s\n", msg);
}

int pi_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "poolimg: %s\nTry 'poolimg --help' for more information\n", msg);
    return 1;
}

int pi_bad_option(int c, char **argv)
{
    if (c == ':')
        return pi_usage_error("missing argument for option '%s'", argv[optind - 1]);
    if (optopt && optopt < 0x100)
        return pi_usage_error("unrecognized option '-%c'", optopt);
    return pi_usage_error("unrecognized option '%s'", argv[optind - 1]);
}

int pi_fail(GError *error, int status)
{
    pi_error("%s", error ? error->message : "unknown error");
    if (error)
        g_error_free(error);
    return status;
}

bool pi_parse_format(const char *name, PdFormat *ret)
{
    if (!name) {
        *ret = PD_FORMAT_UNKNOWN;
        return true;
    }
    PdFormat f = pd_format_from_name(name);
    if (f == PD_FORMAT_UNKNOWN) {
        pi_error("Unknown file format '%s'", name);
        return false;
    }
    *ret = f;
    return true;
}

bool pi_parse_output(const char *arg, bool *ret_json)
{
    if (strcmp(arg, "json") == 0) {
        *ret_json = true;
        return true;
    }
    if (strcmp(arg, "human") == 0) {
        *ret_json = false;
        return true;
    }
    pi_error("--output must be used with human or json as argument.");
    return false;
}

PdImage *pi_open(const char *path, PdFormat format, PdOpenFlags flags)
{
    GError *error = NULL;
    PdImage *img = pd_image_open(path, format, flags, &error);
    if (!img) {
        /* The engine's message names the file already when the store failed to open. */
        if (g_str_has_prefix(error->message, "Could not open"))
            pi_error("%s", error->message);
        else
            pi_error("Could not open '%s': %s", path, error->message);
        g_error_free(error);
    }
    return img;
}

void pi_progress_cb(uint64_t done, uint64_t total, void *user_data)
{
    PiProgress *p = user_data;
    if (!p || !p->enabled)
        return;
    double pct = total ? (double)done * 100.0 / (double)total : 100.0;
    if (pct < p->last + 1.0 && pct < 100.0 && p->last >= 0)
        return;
    p->last = pct;
    printf("    (%.2f/100%%)\r", pct);
    fflush(stdout);
}

void pi_progress_end(PiProgress *p)
{
    if (p && p->enabled) {
        printf("    (100.00/100%%)\n");
        fflush(stdout);
    }
}

static gint cancel_flag;

static void on_signal(int sig)
{
    g_atomic_int_set(&cancel_flag, 1);
}

gint *pi_cancel_flag_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGHUP, &sa, NULL);
    return &cancel_flag;
}

char *pi_size_str(uint64_t bytes)
{
    return pd_format_size(bytes);
}

void pi_json_print(JsonNode *root)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_pretty(gen, TRUE);
    json_generator_set_indent(gen, 4);
    json_generator_set_root(gen, root);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
    json_node_unref(root);
}
