/* poolctl's job-*, event and daemon-info commands (poold's own). */
#include "client/poolctl.h"

#include "common/pd-error.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool parse_id(const char *text, int64_t *ret)
{
    guint64 v = 0;
    if (!g_ascii_string_to_unsigned(text, 10, 1, G_MAXINT64, &v, NULL)) {
        pc_error("invalid job id '%s'", text);
        return false;
    }
    *ret = (int64_t)v;
    return true;
}

static JsonObject *id_param(int64_t id)
{
    JsonObject *p = json_object_new();
    json_object_set_int_member(p, "id", id);
    return p;
}

static char *progress_cell(JsonObject *j)
{
    int64_t done = json_object_get_int_member(j, "bytes_done");
    int64_t total = json_object_get_int_member(j, "bytes_total");
    if (total <= 0)
        return g_strdup("-");
    return g_strdup_printf("%d%%", (int)(done * 100 / total));
}

static const char *opt_member(JsonObject *o, const char *name)
{
    return json_object_has_member(o, name) ? json_object_get_string_member(o, name) : "-";
}

static bool cmd_job_list(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Job.List", NULL, NULL);
    if (!reply)
        return false;
    JsonArray *jobs = json_object_get_array_member(reply, "jobs");
    if (pc_answer_json_array(ctl, jobs))
        return true;
    bool all = pc_flag(args, "all");
    PcTable *t = pc_table_new("Id", "Kind", "Pool", "Volume", "State", "Progress", NULL);
    for (guint i = 0; i < json_array_get_length(jobs); i++) {
        JsonObject *j = json_array_get_object_element(jobs, i);
        const char *state = json_object_get_string_member(j, "state");
        if (!all && !g_str_equal(state, "running") && i >= 20)
            continue;
        g_autofree char *id =
            g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(j, "id"));
        g_autofree char *progress = progress_cell(j);
        pc_table_add(t, id, json_object_get_string_member(j, "kind"), opt_member(j, "pool"),
                     opt_member(j, "volume"), state, progress, NULL);
    }
    pc_table_print(ctl, t);
    return true;
}

static void print_job(JsonObject *j)
{
    printf("%-15s %" G_GINT64_FORMAT "\n", "Id:", json_object_get_int_member(j, "id"));
    printf("%-15s %s\n", "Kind:", json_object_get_string_member(j, "kind"));
    printf("%-15s %s\n", "Pool:", opt_member(j, "pool"));
    pc_print_field("Volume:", opt_member(j, "volume"));
    printf("%-15s %s\n", "State:", json_object_get_string_member(j, "state"));
    g_autofree char *done = pc_pretty_size((uint64_t)json_object_get_int_member(j, "bytes_done"));
    g_autofree char *total = pc_pretty_size((uint64_t)json_object_get_int_member(j, "bytes_total"));
    printf("%-15s %s of %s\n", "Progress:", done, total);
    g_autofree char *rate = pc_pretty_size((uint64_t)json_object_get_int_member(j, "rate"));
    printf("%-15s %s/s\n", "Rate:", rate);
    int64_t eta = json_object_get_int_member(j, "eta");
    if (eta >= 0)
        printf("%-15s %" G_GINT64_FORMAT " s\n", "ETA:", eta);
    if (json_object_has_member(j, "error"))
        pc_print_field("Error:", json_object_get_string_member(j, "error"));
}

static bool cmd_job_info(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    int64_t id = 0;
    if (!parse_id(pc_arg(args, "job"), &id))
        return false;
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Job.Get", id_param(id), NULL);
    if (!reply)
        return false;
    JsonObject *j = json_object_get_object_member(reply, "job");
    if (!pc_answer_json(ctl, j))
        print_job(j);
    return true;
}

static bool cmd_job_cancel(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    int64_t id = 0;
    if (!parse_id(pc_arg(args, "job"), &id))
        return false;
    g_autofree char *failed = g_strdup_printf("Failed to cancel job %" G_GINT64_FORMAT, id);
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Job.Cancel", id_param(id), failed);
    if (!reply)
        return false;
    pc_answer_message(ctl, reply, "Job %" G_GINT64_FORMAT " cancelled\n", id);
    return true;
}

/* Waits for the job; exits 1 when it did not end done. */
static bool cmd_job_wait(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    int64_t id = 0;
    if (!parse_id(pc_arg(args, "job"), &id))
        return false;
    g_autoptr(JsonObject) reply = pc_ctl_call_job(ctl, "io.poold.Job.Wait", id_param(id), -1, NULL);
    if (!reply)
        return false;
    JsonObject *j = json_object_get_object_member(reply, "job");
    const char *state = json_object_get_string_member(j, "state");
    pc_answer_message(ctl, j, "Job %" G_GINT64_FORMAT " %s\n", id, state);
    if (!g_str_equal(state, "done")) {
        if (json_object_has_member(j, "error"))
            pc_error("%s", json_object_get_string_member(j, "error"));
        return false;
    }
    return true;
}

/* libvirt's name for a pool event of poold: the lifecycle detail ("Started"), "refresh", or
 * NULL (no libvirt pool event: volume events, attachments). */
static const char *libvirt_pool_event(const char *kind, bool *ret_lifecycle)
{
    static const struct {
        const char *kind, *name;
    } map[] = {
        {"pool-defined", "Defined"}, {"pool-undefined", "Undefined"}, {"pool-started", "Started"},
        {"pool-stopped", "Stopped"}, {"pool-built", "Created"},       {"pool-deleted", "Deleted"},
    };
    *ret_lifecycle = true;
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
        if (g_str_equal(kind, map[i].kind))
            return map[i].name;
    *ret_lifecycle = false;
    return g_str_equal(kind, "pool-refreshed") ? "refresh" : NULL;
}

/* What one event wait prints and counts: poold's own events (event), or one of libvirt's
 * pool event types (pool-event --event lifecycle|refresh). */
typedef struct {
    const char *libvirt; /* "lifecycle", "refresh", or NULL for poold's events */
    const char *pool;    /* only this pool's events (its name), or NULL */
    bool loop, timestamp;
    unsigned count;
} EventWait;

/* "2026-12-08 10:11:12.345+0000": now, in UTC, as virsh's --timestamp. Caller frees. */
static char *timestamp_now(void)
{
    g_autoptr(GDateTime) dt = g_date_time_new_now_utc();
    g_autofree char *secs = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
    return g_strdup_printf("%s.%03d+0000", secs, g_date_time_get_microsecond(dt) / 1000);
}

/* Prints @e as virsh's pool-event does. False when it is not of the type waited for. */
static bool print_libvirt_event(EventWait *w, JsonObject *e)
{
    bool lifecycle = false;
    const char *name = libvirt_pool_event(json_object_get_string_member(e, "kind"), &lifecycle);
    if (!name || lifecycle != g_str_equal(w->libvirt, "lifecycle"))
        return false;
    g_autofree char *ts = w->timestamp ? timestamp_now() : NULL;
    if (ts)
        printf("%s: ", ts);
    if (lifecycle)
        printf("event 'lifecycle' for storage pool %s: %s\n", opt_member(e, "pool"), name);
    else
        printf("event 'refresh' for storage pool %s\n", opt_member(e, "pool"));
    return true;
}

static void print_event(PcCtl *ctl, JsonObject *e)
{
    if (ctl->json) {
        g_autoptr(JsonGenerator) gen = json_generator_new();
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
        json_node_set_object(node, e);
        json_generator_set_root(gen, node);
        g_autofree char *text = json_generator_to_data(gen, NULL);
        printf("%s\n", text);
    } else {
        g_autoptr(GDateTime) dt =
            g_date_time_new_from_unix_local(json_object_get_int_member(e, "time"));
        g_autofree char *when = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S%z");
        printf("%s: event '%s' for storage pool %s", when, json_object_get_string_member(e, "kind"),
               opt_member(e, "pool"));
        g_autofree char *vol = pc_escape_controls(
            json_object_has_member(e, "volume") ? json_object_get_string_member(e, "volume") : NULL,
            false);
        g_autofree char *detail = pc_escape_controls(
            json_object_has_member(e, "detail") ? json_object_get_string_member(e, "detail") : NULL,
            false);
        if (json_object_has_member(e, "volume"))
            printf(" volume %s", vol);
        if (json_object_has_member(e, "detail"))
            printf(": %s", detail);
        printf("\n");
    }
    fflush(stdout);
}

/* Counts and prints @e if it is one the wait is for. */
static void handle_event(PcCtl *ctl, EventWait *w, JsonObject *e)
{
    if (w->pool && !g_str_equal(opt_member(e, "pool"), w->pool))
        return;
    if (w->libvirt && !print_libvirt_event(w, e))
        return;
    if (!w->libvirt)
        print_event(ctl, e);
    fflush(stdout);
    w->count++;
}

static gint interrupted;

static void on_interrupt(int sig)
{
    g_atomic_int_set(&interrupted, 1);
}

typedef enum { WAIT_DONE, WAIT_TIMEOUT, WAIT_INTERRUPT, WAIT_ERROR } WaitEnd;

/* Subscribes and handles events until one was counted (all of them with --loop), @timeout
 * seconds (0: none) passed or SIGINT came. */
static WaitEnd wait_events(PcCtl *ctl, PcConn *conn, EventWait *w, guint64 timeout)
{
    g_autoptr(GError) error = NULL;
    if (!pc_conn_send(conn, "io.poold.Event.Subscribe", NULL, true, -1, &error)) {
        pc_error("%s", error->message);
        return WAIT_ERROR;
    }
    struct sigaction sa = {.sa_handler = on_interrupt}, old;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, &old);
    gint64 deadline = timeout ? g_get_monotonic_time() + (gint64)timeout * G_USEC_PER_SEC : 0;
    WaitEnd end = WAIT_DONE;
    for (;;) {
        int ready = pc_conn_wait(conn, deadline, &interrupted);
        if (ready <= 0) {
            end = ready == 0 ? WAIT_TIMEOUT : WAIT_INTERRUPT;
            break;
        }
        bool more = false;
        g_autoptr(JsonObject) reply = pc_conn_recv(conn, &more, NULL, &error);
        if (!reply) {
            pc_error("%s", error->message);
            end = WAIT_ERROR;
            break;
        }
        if (json_object_has_member(reply, "event"))
            handle_event(ctl, w, json_object_get_object_member(reply, "event"));
        if (!more || (w->count && !w->loop))
            break;
    }
    (void)sigaction(SIGINT, &old, NULL);
    return end;
}

/* virsh's end of an event wait: why it ended and the count. True when an event came. */
static bool end_wait(PcCtl *ctl, WaitEnd end, const EventWait *w)
{
    if (end == WAIT_ERROR)
        return false;
    if (!ctl->json) {
        if (end == WAIT_TIMEOUT)
            printf("event loop timed out\n");
        else if (end == WAIT_INTERRUPT)
            printf("event loop interrupted\n");
        printf("events received: %u\n", w->count);
    }
    return w->count > 0;
}

static bool parse_timeout(PcArgs *args, guint64 *ret)
{
    const char *timeout = pc_arg(args, "timeout");
    *ret = 0;
    if (timeout && !g_ascii_string_to_unsigned(timeout, 10, 1, G_MAXINT32, ret, NULL)) {
        pc_error("invalid timeout value: %s", timeout);
        return false;
    }
    return true;
}

/* event [--loop] [--timeout SECONDS] [--history]: waits for one event (all with --loop). */
static bool cmd_event(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    if (pc_flag(args, "history")) {
        g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Event.List", NULL, NULL);
        if (!reply)
            return false;
        JsonArray *events = json_object_get_array_member(reply, "events");
        for (guint i = 0; i < json_array_get_length(events); i++)
            print_event(ctl, json_array_get_object_element(events, i));
        return true;
    }
    guint64 timeout = 0;
    if (!parse_timeout(args, &timeout))
        return false;
    PcConn *conn = pc_ctl_conn(ctl);
    if (!conn)
        return false;
    EventWait w = {.loop = pc_flag(args, "loop"), .pool = pc_arg(args, "pool")};
    return end_wait(ctl, wait_events(ctl, conn, &w, timeout), &w);
}

bool pc_cmd_pool_event(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    if (pc_flag(args, "list")) {
        printf("lifecycle\nrefresh\n");
        return true;
    }
    const char *type = pc_arg(args, "event");
    if (!type) {
        pc_error("either --list or --event <type> is required");
        return false;
    }
    if (!g_str_equal(type, "lifecycle") && !g_str_equal(type, "refresh")) {
        pc_error("unknown event type %s", type);
        return false;
    }
    guint64 timeout = 0;
    if (!parse_timeout(args, &timeout))
        return false;
    EventWait w = {
        .libvirt = type, .loop = pc_flag(args, "loop"), .timestamp = pc_flag(args, "timestamp")};
    g_autofree char *pool = NULL;
    if (pc_arg(args, "pool")) {
        JsonObject *p = json_object_new();
        json_object_set_string_member(p, "pool", pc_arg(args, "pool"));
        g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Pool.Info", p, NULL);
        if (!reply)
            return false;
        w.pool = pool = g_strdup(
            json_object_get_string_member(json_object_get_object_member(reply, "pool"), "name"));
    }
    PcConn *conn = pc_ctl_conn(ctl);
    if (!conn)
        return false;
    return end_wait(ctl, wait_events(ctl, conn, &w, timeout), &w);
}

static bool cmd_daemon_info(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Daemon.Info", NULL, NULL);
    if (!reply)
        return false;
    JsonObject *i = json_object_get_object_member(reply, "info");
    if (pc_answer_json(ctl, i))
        return true;
    printf("%-15s %s\n", "Version:", json_object_get_string_member(i, "version"));
    printf("%-15s %" G_GINT64_FORMAT "\n", "PID:", json_object_get_int_member(i, "pid"));
    printf("%-15s %" G_GINT64_FORMAT " s\n", "Uptime:", json_object_get_int_member(i, "uptime"));
    printf("%-15s %s\n", "Runtime dir:", json_object_get_string_member(i, "runtime_dir"));
    printf("%-15s %s\n", "State dir:", json_object_get_string_member(i, "state_dir"));
    printf("%-15s %" G_GINT64_FORMAT "\n", "Pools:", json_object_get_int_member(i, "pools"));
    printf("%-15s %" G_GINT64_FORMAT "\n", "Volumes:", json_object_get_int_member(i, "volumes"));
    printf("%-15s %" G_GINT64_FORMAT "\n",
           "Jobs running:", json_object_get_int_member(i, "jobs_running"));
    printf("%-15s %" G_GINT64_FORMAT "\n", "Clients:", json_object_get_int_member(i, "clients"));
    printf("%-15s %" G_GINT64_FORMAT "\n",
           "Schema:", json_object_get_int_member(i, "schema_version"));
    return true;
}

static bool cmd_metrics(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Daemon.Metrics", NULL, NULL);
    if (!reply)
        return false;
    printf("%s", json_object_get_string_member(reply, "text"));
    return true;
}

static const PcOpt o_job[] = {{"job", PC_OPT_DATA, "job id"}, {NULL}};
static const PcOpt o_job_list[] = {{"all", PC_OPT_BOOL, "list every journaled job"}, {NULL}};
static const PcOpt o_event[] = {{"loop", PC_OPT_BOOL, "loop until timeout or interrupt"},
                                {"timeout", PC_OPT_NUMBER, "timeout seconds"},
                                {"pool", PC_OPT_NAMED, "only the events of this pool"},
                                {"history", PC_OPT_BOOL, "print the logged events and exit"},
                                {NULL}};
const PcOpt pc_pool_event_opts[] = {
    {"pool", PC_OPT_STRING, "only the events of this pool (name or UUID)"},
    {"event", PC_OPT_STRING, "the event type to wait for (see --list)"},
    {"loop", PC_OPT_BOOL, "wait until the timeout or an interrupt, not for one event"},
    {"timeout", PC_OPT_NUMBER, "timeout seconds"},
    {"list", PC_OPT_BOOL, "list the event types"},
    {"timestamp", PC_OPT_BOOL, "print the time of each event"},
    {NULL}};
static const PcOpt o_none[] = {{NULL}};

const PcCmd pc_job_cmds[] = {
    {"daemon-info", cmd_daemon_info, o_none, "poold's version and state"},
    {"event", cmd_event, o_event, "wait for pool and volume events"},
    {"job-cancel", cmd_job_cancel, o_job, "cancel a running job"},
    {"job-info", cmd_job_info, o_job, "job information"},
    {"job-list", cmd_job_list, o_job_list, "list jobs"},
    {"job-wait", cmd_job_wait, o_job, "wait for a job to end, showing progress"},
    {"metrics", cmd_metrics, o_none, "poold's metrics in Prometheus text format"},
    {NULL},
};
