/* poolctl's job-*, event and daemon-info commands (poold's own). */
#include "client/poolctl.h"

#include "common/pd-error.h"

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
    pc_table_print(t);
    return true;
}

static void print_job(JsonObject *j)
{
    printf("%-15s %" G_GINT64_FORMAT "\n", "Id:", json_object_get_int_member(j, "id"));
    printf("%-15s %s\n", "Kind:", json_object_get_string_member(j, "kind"));
    printf("%-15s %s\n", "Pool:", opt_member(j, "pool"));
    printf("%-15s %s\n", "Volume:", opt_member(j, "volume"));
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
        printf("%-15s %s\n", "Error:", json_object_get_string_member(j, "error"));
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
    printf("Job %" G_GINT64_FORMAT " cancelled\n", id);
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
        if (json_object_has_member(e, "volume"))
            printf(" volume %s", json_object_get_string_member(e, "volume"));
        if (json_object_has_member(e, "detail"))
            printf(": %s", json_object_get_string_member(e, "detail"));
        printf("\n");
    }
    fflush(stdout);
}

static gboolean on_timeout(gpointer data)
{
    exit(0);
}

/* event [--loop] [--timeout SECONDS] [--history]: waits for one event (all with --loop). */
static bool cmd_event(PcCtl *ctl, const PcCmd *cmd, PcArgs *args, int argc, char **argv)
{
    PcConn *conn = pc_ctl_conn(ctl);
    if (!conn)
        return false;
    g_autoptr(GError) error = NULL;
    if (pc_flag(args, "history")) {
        g_autoptr(JsonObject) reply = pc_ctl_call(ctl, "io.poold.Event.List", NULL, NULL);
        if (!reply)
            return false;
        JsonArray *events = json_object_get_array_member(reply, "events");
        for (guint i = 0; i < json_array_get_length(events); i++)
            print_event(ctl, json_array_get_object_element(events, i));
        return true;
    }
    const char *timeout = pc_arg(args, "timeout");
    if (timeout) {
        guint64 secs = 0;
        if (!g_ascii_string_to_unsigned(timeout, 10, 1, G_MAXINT32, &secs, NULL)) {
            pc_error("invalid timeout '%s'", timeout);
            return false;
        }
        alarm((unsigned)secs); /* SIGALRM ends the wait, as virsh's --timeout */
    }
    if (!pc_conn_send(conn, "io.poold.Event.Subscribe", NULL, true, -1, &error)) {
        pc_error("%s", error->message);
        return false;
    }
    bool loop = pc_flag(args, "loop");
    unsigned count = 0;
    for (;;) {
        bool more = false;
        g_autoptr(JsonObject) reply = pc_conn_recv(conn, &more, NULL, &error);
        if (!reply) {
            pc_error("%s", error->message);
            return false;
        }
        if (json_object_has_member(reply, "event")) {
            print_event(ctl, json_object_get_object_member(reply, "event"));
            count++;
            if (!loop)
                break;
        }
        if (!more)
            break;
    }
    (void)on_timeout;
    if (!ctl->json)
        printf("events received: %u\n", count);
    return true;
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
                                {"timeout", PC_OPT_NAMED, "timeout seconds"},
                                {"history", PC_OPT_BOOL, "print the logged events and exit"},
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
