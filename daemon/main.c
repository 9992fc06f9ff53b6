/* poold: the storage pool daemon. Runs in the foreground (systemd's Type=notify-less simple
 * service, or by hand); takes its sockets from systemd when socket-activated. */
#include "common/pd-error.h"
#include "daemon/api/methods.h"
#include "daemon/attach/attachments.h"
#include "daemon/model/daemon.h"
#include "daemon/observe/events.h"
#include "daemon/jobs/jobs.h"
#include "daemon/observe/counters.h"
#include "daemon/observe/metrics.h"
#include "daemon/model/model.h"
#include "daemon/model/backing-policy.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#define DEFAULT_RUNTIME_DIR "/run/poold"
#define DEFAULT_STATE_DIR   "/var/lib/poold"
#define DEFAULT_CONFIG      "/etc/poold/poold.conf"

static void config_defaults(PdDaemonConfig *config)
{
    config->limits.max_message = 16 * 1024 * 1024;
    config->limits.max_clients = 256;
    config->limits.max_pending = 16;
    config->limits.max_fds = 4;
    config->limits.max_outbuf = 64 * 1024 * 1024;
    config->limits.max_ro_clients = 128;
    config->limits.max_ro_clients_per_uid = 16;
    config->limits.ro_idle_timeout_s = 60;
    config->limits.max_outbuf_total = 256 * 1024 * 1024;
    config->limits.parse_offload_bytes = 64 * 1024;
    config->json_limits.max_depth = PD_JSON_MAX_DEPTH_DEFAULT;
    config->json_limits.max_elements = PD_JSON_MAX_ELEMENTS_DEFAULT;
    config->workers = 4;
    config->job_limits =
        (PdJobLimits){.stream_workers = 4, .stall_timeout_s = 60, .max_per_client = 32};
}

/* Reads an unsigned key of [daemon] into *value when present. */
static bool config_uint(GKeyFile *kf, const char *key, uint64_t min, uint64_t max, uint64_t *value,
                        GError **error)
{
    if (!g_key_file_has_key(kf, "daemon", key, NULL))
        return true;
    g_autofree char *text = g_key_file_get_string(kf, "daemon", key, error);
    uint64_t v = 0;
    if (!text || !g_ascii_string_to_unsigned(text, 10, min, max, &v, NULL)) {
        g_clear_error(error);
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "configuration: [daemon] %s must be a number from %" G_GUINT64_FORMAT
                    " to %" G_GUINT64_FORMAT,
                    key, min, max);
        return false;
    }
    *value = v;
    return true;
}

/* [libvirt] detach_timeout: seconds detach-disk waits for a guest to release a disk. */
static bool config_libvirt_timeout(GKeyFile *kf, PdDaemonConfig *config, GError **error)
{
    if (!g_key_file_has_key(kf, "libvirt", "detach_timeout", NULL))
        return true;
    g_autofree char *text = g_key_file_get_string(kf, "libvirt", "detach_timeout", NULL);
    uint64_t v = 0;
    if (!text || !g_ascii_string_to_unsigned(text, 10, 1, 3600, &v, NULL)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "configuration: [libvirt] detach_timeout must be a number of seconds from 1 "
                    "to 3600");
        return false;
    }
    config->libvirt_detach_timeout_ms = (unsigned)v * 1000;
    return true;
}

/* [daemon] backing_roots: absolute directories, separated by ';' (docs/security.md). */
static bool config_backing_roots(GKeyFile *kf, PdDaemonConfig *config, GError **error)
{
    if (!g_key_file_has_key(kf, "daemon", "backing_roots", NULL))
        return true;
    g_auto(GStrv) roots = g_key_file_get_string_list(kf, "daemon", "backing_roots", NULL, NULL);
    for (size_t i = 0; roots && roots[i]; i++) {
        g_strstrip(roots[i]);
        if (*roots[i] && !g_path_is_absolute(roots[i])) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "configuration: [daemon] backing_roots: '%s' is not an absolute "
                        "directory; list absolute directories separated by ';'",
                        roots[i]);
            return false;
        }
    }
    g_strfreev(config->backing_roots);
    config->backing_roots = g_steal_pointer(&roots);
    return true;
}

/* [libvirt] allowed_uris: the URIs a call may name besides [libvirt] uri, each "URI" or
 * "NAME=URI" (a name has no ':' or '/'), separated by ';' (docs/security.md, rule U). */
static bool config_libvirt_uris(GKeyFile *kf, PdDaemonConfig *config, GError **error)
{
    if (!g_key_file_has_key(kf, "libvirt", "allowed_uris", NULL))
        return true;
    g_auto(GStrv) items = g_key_file_get_string_list(kf, "libvirt", "allowed_uris", NULL, NULL);
    g_autoptr(GPtrArray) uris = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (char **it = items; it && *it; it++) {
        char *item = g_strstrip(*it);
        const char *eq = strchr(item, '=');
        const char *colon = strchr(item, ':');
        g_autofree char *name = NULL;
        if (eq && (!colon || eq < colon) && !memchr(item, '/', (size_t)(eq - item))) {
            name = g_strndup(item, (gsize)(eq - item));
            item = g_strstrip((char *)eq + 1);
        }
        if (!*item && !name)
            continue;
        if (!strchr(item, ':') || (name && !*name)) {
            g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                        "configuration: [libvirt] allowed_uris: '%s' is not a libvirt URI nor "
                        "NAME=URI; separate entries with ';'",
                        *it);
            return false;
        }
        g_ptr_array_add(uris, g_strdup(item));
        g_ptr_array_add(names, name ? g_steal_pointer(&name) : g_strdup(""));
    }
    g_ptr_array_add(uris, NULL);
    g_ptr_array_add(names, NULL);
    config->libvirt_allowed_uris = (char **)g_ptr_array_free(g_steal_pointer(&uris), false);
    config->libvirt_allowed_names = (char **)g_ptr_array_free(g_steal_pointer(&names), false);
    return true;
}

/* The limits of docs/security.md (attacks 2.1 to 2.4), in [daemon]. */
static bool config_security(GKeyFile *kf, PdDaemonConfig *config, GError **error)
{
    PdServerLimits *l = &config->limits;
    uint64_t ro = l->max_ro_clients, per_uid = l->max_ro_clients_per_uid;
    uint64_t idle = l->ro_idle_timeout_s, total = l->max_outbuf_total;
    uint64_t offload = l->parse_offload_bytes, depth = config->json_limits.max_depth;
    uint64_t elements = config->json_limits.max_elements;
    PdJobLimits *j = &config->job_limits;
    uint64_t streams = j->stream_workers, stall = j->stall_timeout_s;
    uint64_t per_client = j->max_per_client;
    if (!config_uint(kf, "max_ro_clients", 1, 65536, &ro, error) ||
        !config_uint(kf, "max_ro_clients_per_uid", 1, 65536, &per_uid, error) ||
        !config_uint(kf, "ro_idle_timeout", 0, 86400, &idle, error) ||
        !config_uint(kf, "max_outbuf_total", 1024 * 1024, (uint64_t)1 << 40, &total, error) ||
        !config_uint(kf, "parse_offload_bytes", 1024, (uint64_t)1 << 30, &offload, error) ||
        !config_uint(kf, "max_json_depth", 2, 1024, &depth, error) ||
        !config_uint(kf, "max_json_elements", 16, 100000000, &elements, error) ||
        !config_uint(kf, "stream_workers", 1, 256, &streams, error) ||
        !config_uint(kf, "stream_stall_timeout", 0, 86400, &stall, error) ||
        !config_uint(kf, "max_jobs_per_client", 1, 65536, &per_client, error))
        return false;
    j->stream_workers = (unsigned)streams;
    j->stall_timeout_s = (unsigned)stall;
    j->max_per_client = (unsigned)per_client;
    l->max_ro_clients = (unsigned)ro;
    l->max_ro_clients_per_uid = (unsigned)per_uid;
    l->ro_idle_timeout_s = (unsigned)idle;
    l->max_outbuf_total = (size_t)total;
    l->parse_offload_bytes = (size_t)offload;
    config->json_limits.max_depth = (unsigned)depth;
    config->json_limits.max_elements = (size_t)elements;
    return true;
}

/* Loads @path (a missing default file is fine). Command-line directories win. */
static bool config_load(PdDaemonConfig *config, const char *path, bool explicit_path,
                        GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, error)) {
        if (!explicit_path && g_error_matches(*error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_clear_error(error);
            return true;
        }
        g_prefix_error(error, "configuration %s: ", path);
        return false;
    }
    if (!config->runtime_dir)
        config->runtime_dir = g_key_file_get_string(kf, "daemon", "runtime_dir", NULL);
    if (!config->state_dir)
        config->state_dir = g_key_file_get_string(kf, "daemon", "state_dir", NULL);
    config->metrics_listen = g_key_file_get_string(kf, "daemon", "metrics_listen", NULL);
    config->libvirt_uri = g_key_file_get_string(kf, "libvirt", "uri", NULL);
    if (!config_libvirt_timeout(kf, config, error) || !config_libvirt_uris(kf, config, error) ||
        !config_backing_roots(kf, config, error))
        return false;
    uint64_t msg = config->limits.max_message, clients = config->limits.max_clients;
    uint64_t pending = config->limits.max_pending, workers = config->workers;
    if (!config_uint(kf, "max_message_size", 1024, 1u << 30, &msg, error) ||
        !config_uint(kf, "max_clients", 1, 65536, &clients, error) ||
        !config_uint(kf, "max_calls_per_client", 1, 1024, &pending, error) ||
        !config_uint(kf, "workers", 1, 256, &workers, error) || !config_security(kf, config, error))
        return false;
    config->limits.max_message = msg;
    config->limits.max_clients = (unsigned)clients;
    config->limits.max_pending = (unsigned)pending;
    config->workers = (unsigned)workers;
    return true;
}

/* The state directory holds the secrets' database: owner only (0700). A directory of ours
 * with looser bits is tightened; one shared with others (not ours, or sticky like /tmp) is
 * refused rather than changed. */
static bool make_state_dir_private(const char *dir, GError **error)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        pd_error_set_errno(error, errno, "state directory %s", dir);
        return false;
    }
    if ((st.st_mode & 0077) == 0)
        return true;
    if (st.st_uid != geteuid() || (st.st_mode & S_ISVTX)) {
        g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                    "state directory %s is open to others (mode %04o) and not poold's own: use a "
                    "private directory (--state-dir)",
                    dir, (unsigned)(st.st_mode & 07777));
        return false;
    }
    if (chmod(dir, 0700) < 0) {
        pd_error_set_errno(error, errno, "state directory %s: making it private (mode 0700)", dir);
        return false;
    }
    g_message("state directory %s was mode %04o: now 0700 (it holds secrets)", dir,
              (unsigned)(st.st_mode & 07777));
    return true;
}

/* One poold per state directory: an flock held for the daemon's life. Returns the fd. */
static int lock_state_dir(const char *state_dir, GError **error)
{
    g_autofree char *path = g_build_filename(state_dir, "poold.lock", NULL);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        pd_error_set_errno(error, errno, "opening %s", path);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_BUSY,
                    "another poold uses the state directory %s (%s is locked)", state_dir, path);
        (void)close(fd);
        return -1;
    }
    return fd;
}

static gboolean on_signal(gpointer data)
{
    PdDaemon *daemon = data;
    g_message("stopping");
    g_main_loop_quit(daemon->loop);
    return G_SOURCE_CONTINUE;
}

static bool parse_args(int *argc, char ***argv, PdDaemonConfig *config, GError **error)
{
    g_autofree char *runtime_dir = NULL, *state_dir = NULL, *config_path = NULL;
    gboolean verbose = false, version = false;
    GOptionEntry entries[] = {
        {"runtime-dir", 0, 0, G_OPTION_ARG_FILENAME, &runtime_dir,
         "Directory of the sockets (default " DEFAULT_RUNTIME_DIR ")", "DIR"},
        {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
         "Directory of the state database (default " DEFAULT_STATE_DIR ")", "DIR"},
        {"config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
         "Configuration file (default " DEFAULT_CONFIG ")", "FILE"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log every call", NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- storage pool daemon");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, argc, argv, error))
        return false;
    if (version) {
        printf("poold %s\n", POOLD_VERSION);
        exit(0);
    }
    config->runtime_dir = g_steal_pointer(&runtime_dir);
    config->state_dir = g_steal_pointer(&state_dir);
    config->verbose = verbose;
    bool explicit_config = config_path != NULL;
    config->config_path = config_path ? g_steal_pointer(&config_path) : g_strdup(DEFAULT_CONFIG);
    if (!config_load(config, config->config_path, explicit_config, error))
        return false;
    if (!config->runtime_dir)
        config->runtime_dir = g_strdup(DEFAULT_RUNTIME_DIR);
    if (!config->state_dir)
        config->state_dir = g_strdup(DEFAULT_STATE_DIR);
    return true;
}

/* What daemon_init made (as far as it got) and the configuration. */
static void daemon_free(PdDaemon *daemon)
{
    g_clear_pointer(&daemon->metrics, pd_metrics_free);
    pd_server_free(daemon->server);
    g_clear_pointer(&daemon->dispatch, pd_dispatch_free);
    pd_jobs_free(daemon->jobs);
    /* not while a reconciliation thread still scans with its connections: then the process
     * exits with it */
    if (daemon->libvirt && !pd_attach_state_busy(daemon->libvirt))
        pd_attach_state_free(daemon->libvirt);
    pd_events_free(daemon->events);
    if (daemon->pools) {
        pd_model_backing_invalidate(daemon);
        g_hash_table_unref(daemon->pools);
    }
    pd_store_free(daemon->store);
    g_free(daemon->config.runtime_dir);
    g_free(daemon->config.state_dir);
    g_free(daemon->config.config_path);
    g_free(daemon->config.metrics_listen);
    g_free(daemon->config.libvirt_uri);
    g_strfreev(daemon->config.libvirt_allowed_uris);
    g_strfreev(daemon->config.libvirt_allowed_names);
    g_strfreev(daemon->config.backing_roots);
    pd_image_set_default_backing_opener(NULL);
    pd_backing_policy_free(daemon->backing_policy);
}

/* The daemon's own gauges, last in the metrics (a PdMetricsWriter). */
static void write_daemon_metrics(GString *out, gpointer data)
{
    PdDaemon *daemon = data;
    pd_metrics_header(out, "poold_jobs_running", "gauge", "Jobs running now");
    g_string_append_printf(out, "poold_jobs_running %u\n", pd_jobs_n_running(daemon->jobs));
    pd_metrics_header(out, "poold_clients", "gauge", "Connected clients");
    g_string_append_printf(out, "poold_clients %u\n", pd_server_n_clients(daemon->server));
    pd_metrics_header(out, "poold_uptime_seconds", "gauge", "Seconds since poold started");
    g_string_append_printf(out, "poold_uptime_seconds %" G_GINT64_FORMAT "\n",
                           (g_get_monotonic_time() - daemon->start_time) / G_USEC_PER_SEC);
}

/* Opens the store, loads and reconciles the pools, listens. */
static bool daemon_init(PdDaemon *daemon, GError **error)
{
    PdDaemonConfig *config = &daemon->config;
    if (g_mkdir_with_parents(config->state_dir, 0700) < 0) {
        pd_error_set_errno(error, errno, "creating state directory %s", config->state_dir);
        return false;
    }
    g_autofree char *db = g_build_filename(config->state_dir, "poold.db", NULL);
    daemon->store = pd_store_open(db, error);
    if (!daemon->store)
        return false;
    daemon->pools =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)pd_pool_obj_free);
    /* every backing chain poold opens goes through the policy, before any worker runs */
    daemon->backing_policy = pd_backing_policy_new((const char *const *)config->backing_roots);
    pd_image_set_default_backing_opener(pd_backing_policy_opener(daemon->backing_policy));
    daemon->metrics = pd_metrics_new();
    pd_metrics_add_writer(daemon->metrics, pd_model_write_metrics, daemon);
    pd_metrics_add_writer(daemon->metrics, pd_counters_write, NULL);
    pd_metrics_add_writer(daemon->metrics, write_daemon_metrics, daemon);
    daemon->events = pd_events_new(daemon->store);
    daemon->jobs = pd_jobs_new(daemon, daemon->store, daemon->events, config->workers);
    pd_jobs_set_limits(daemon->jobs, &config->job_limits);
    daemon->libvirt = pd_attach_state_new(daemon);
    /* Listen first (calls wait in the backlog until the main loop runs): a second poold on
     * the same runtime directory stops here, before touching any pool. */
    pd_dispatch_set_json_limits(&config->json_limits);
    daemon->dispatch = pd_dispatch_new(pd_method_table(), daemon, pd_counters_call);
    daemon->server = pd_server_new(config->runtime_dir, &config->limits,
                                   pd_dispatch_server_handler(), daemon->dispatch, error);
    if (!daemon->server || !pd_model_load(daemon, error))
        return false;
    if (config->metrics_listen && *config->metrics_listen &&
        !pd_metrics_http_start(daemon->metrics, config->metrics_listen, error))
        return false;
    pd_model_reconcile(daemon);
    /* Attachments: scanned on threads, applied once the main loop runs. */
    pd_reconcile_start_up(daemon);
    return true;
}

#ifdef __GLIBC__
#include <malloc.h>
#endif

/* GLib before 2.76 keeps every freed GSlice block (each JsonNode, JsonObject, GList link and
 * GHashTable of a reply's json-glib tree) in its own caches for good, outside malloc: after
 * one vol-list of 10,000 volumes poold kept ~16 MB that malloc_trim cannot return (measured
 * with bench/rss-check.sh: VmRSS 45.6 -> 29.3 MB with G_SLICE=always-malloc). GLib reads
 * G_SLICE once, in its constructor, before main() runs: so poold sets it and executes itself
 * again, once (the variable is then set). Not under valgrind, which would lose the process
 * (GLib uses malloc there anyway), nor when G_SLICE is set already (G_SLICE= keeps GSlice).
 * Returns only when nothing was done or the exec failed (no /proc): poold runs on as it is. */
static void gslice_use_malloc(char **argv)
{
    if (!glib_check_version(2, 76, 0) || g_getenv("G_SLICE"))
        return;
#ifdef HAVE_VALGRIND_H
    if (RUNNING_ON_VALGRIND)
        return;
#endif
    /* the executable by its own name: executing /proc/self/exe would name the process "exe"
     * (ps, pgrep, systemctl status) */
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    if (!self || !g_file_test(self, G_FILE_TEST_IS_EXECUTABLE)) /* gone: "... (deleted)" */
        return;
    if (!g_setenv("G_SLICE", "always-malloc", true))
        return;
    (void)execv(self, argv);
    g_unsetenv("G_SLICE"); /* this process keeps its GSlice; do not pass a mismatch on */
}

/* Every log line goes through this writer: control characters in the message (which may quote
 * what a client sent: a method or pool name with a newline) as \xHH, so that no client writes a
 * line of its own into poold's log or drives the terminal that shows it (attack 7.6). */
static GLogWriterOutput log_writer(GLogLevelFlags level, const GLogField *fields, gsize n,
                                   gpointer data)
{
    g_autofree GLogField *copy = g_memdup2(fields, n * sizeof *fields);
    g_autofree char *safe = NULL;
    for (gsize i = 0; i < n && !safe; i++) {
        if (g_strcmp0(copy[i].key, "MESSAGE") != 0 || !copy[i].value)
            continue;
        const unsigned char *m = copy[i].value;
        gsize len = copy[i].length < 0 ? strlen((const char *)m) : (gsize)copy[i].length;
        GString *out = g_string_sized_new(len + 1);
        for (gsize j = 0; j < len; j++) {
            if ((m[j] < 0x20 && m[j] != '\t') || m[j] == 0x7f)
                g_string_append_printf(out, "\\x%02x", (unsigned)m[j]);
            else
                g_string_append_c(out, (char)m[j]);
        }
        safe = g_string_free(out, false);
        copy[i].value = safe;
        copy[i].length = -1;
    }
    return g_log_writer_default(level, copy, n, data);
}

/* poold relies on fs.protected_hardlinks=1: without it a tenant who may write a pool directory
 * can hard-link there a file it does not own (a root-only one) and have poold wipe, upload
 * into or read it as a volume (docs/security.md, "Hard links"). */
static void check_protected_hardlinks(void)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents("/proc/sys/fs/protected_hardlinks", &text, NULL, NULL))
        return;
    if (g_strstrip(text)[0] == '0')
        g_warning("sysctl fs.protected_hardlinks is 0: a tenant who can write a pool directory "
                  "can hard-link files it does not own into it, and poold would use them as "
                  "volumes; set fs.protected_hardlinks = 1 (sysctl -w, /etc/sysctl.d)");
}

int main(int argc, char **argv)
{
    gslice_use_malloc(argv);
    PdDaemon daemon = {0};
    g_autoptr(GError) error = NULL;
    config_defaults(&daemon.config);
    (void)signal(SIGPIPE, SIG_IGN);
    g_log_set_writer_func(log_writer, NULL, NULL);
#ifdef __GLIBC__
    /* The main loop and the workers share two heaps instead of one per thread: glibc keeps
     * each arena's freed memory, and a worker that refreshed a pool of 10,000 volumes kept
     * ~5 MB of its own (measured: VmRSS 51 -> 47 MB; allocations are rare on the hot paths). */
    (void)mallopt(M_ARENA_MAX, 2);
#endif
    if (!parse_args(&argc, &argv, &daemon.config, &error)) {
        g_printerr("poold: %s\n", error->message);
        return 2;
    }
    if (daemon.config.verbose)
        g_log_set_debug_enabled(true);
    daemon.start_time = g_get_monotonic_time();
    if (g_mkdir_with_parents(daemon.config.state_dir, 0700) < 0) {
        g_printerr("poold: creating %s: %s\n", daemon.config.state_dir, g_strerror(errno));
        daemon_free(&daemon);
        return 1;
    }
    if (!make_state_dir_private(daemon.config.state_dir, &error)) {
        g_printerr("poold: %s\n", error->message);
        daemon_free(&daemon);
        return 1;
    }
    int lock_fd = lock_state_dir(daemon.config.state_dir, &error);
    if (lock_fd < 0 || !daemon_init(&daemon, &error)) {
        g_printerr("poold: %s\n", error->message);
        daemon_free(&daemon);
        return 1;
    }
    daemon.loop = g_main_loop_new(NULL, false);
    g_unix_signal_add(SIGTERM, on_signal, &daemon);
    g_unix_signal_add(SIGINT, on_signal, &daemon);
    check_protected_hardlinks();
    g_message("poold %s ready: sockets in %s, state in %s", POOLD_VERSION,
              daemon.config.runtime_dir, daemon.config.state_dir);
    g_main_loop_run(daemon.loop);
    daemon_free(&daemon);
    g_main_loop_unref(daemon.loop);
    (void)close(lock_fd);
    return 0;
}
