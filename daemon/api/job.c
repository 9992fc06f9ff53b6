/* io.poold.Job and io.poold.Event. */
#include "common/pd-error.h"
#include "daemon/model/daemon.h"
#include "daemon/observe/events.h"
#include "daemon/jobs/jobs.h"
#include "daemon/api/methods.h"

static void fail_no_job(PdCall *call, int64_t id)
{
    g_autoptr(GError) error = g_error_new(
        PD_ERROR, PD_ERROR_NO_SUCH_JOB,
        "no job with id %" G_GINT64_FORMAT " (job-list shows the jobs poold knows)", id);
    pd_call_fail(call, error);
}

PD_HANDLER(pd_method_job_list)
{
    JsonObject *reply = json_object_new();
    json_object_set_array_member(reply, "jobs", pd_jobs_list_json(daemon->jobs));
    pd_call_reply(call, reply);
}

/* The JSON of job @id, in memory or in the journal, or NULL. */
static JsonObject *job_json(PdDaemon *daemon, int64_t id)
{
    PdJob *job = pd_jobs_lookup(daemon->jobs, id);
    return job ? pd_job_to_json(job) : pd_jobs_journal_lookup(daemon->jobs, id);
}

PD_HANDLER(pd_method_job_get)
{
    int64_t id = pd_param_int(params, "id", 0);
    JsonObject *o = job_json(daemon, id);
    if (!o) {
        fail_no_job(call, id);
        return;
    }
    JsonObject *reply = json_object_new();
    json_object_set_object_member(reply, "job", o);
    pd_call_reply(call, reply);
}

PD_HANDLER(pd_method_job_cancel)
{
    int64_t id = pd_param_int(params, "id", 0);
    PdJob *job = pd_jobs_lookup(daemon->jobs, id);
    g_autoptr(GError) error = NULL;
    if (!job) {
        JsonObject *o = job_json(daemon, id);
        if (!o) {
            fail_no_job(call, id);
            return;
        }
        json_object_unref(o);
        g_set_error(&error, PD_ERROR, PD_ERROR_INVALID_STATE,
                    "job %" G_GINT64_FORMAT " has already finished", id);
        pd_call_fail(call, error);
        return;
    }
    if (!pd_job_cancel(job, &error)) {
        pd_call_fail(call, error);
        return;
    }
    pd_call_reply(call, NULL);
}

PD_HANDLER(pd_method_job_wait)
{
    int64_t id = pd_param_int(params, "id", 0);
    PdJob *job = pd_jobs_lookup(daemon->jobs, id);
    if (job) {
        pd_job_wait(job, call);
        return;
    }
    JsonObject *o = pd_jobs_journal_lookup(daemon->jobs, id);
    if (!o) {
        fail_no_job(call, id);
        return;
    }
    JsonObject *reply = json_object_new();
    json_object_set_object_member(reply, "job", o);
    pd_call_reply(call, reply);
}

PD_HANDLER(pd_method_event_list)
{
    g_autoptr(GError) error = NULL;
    int64_t since = pd_param_int(params, "since", 0);
    int64_t limit = CLAMP(pd_param_int(params, "limit", 100), 1, 10000);
    g_autoptr(GPtrArray) events =
        pd_store_event_list(daemon->store, since, (unsigned)limit, &error);
    if (!events) {
        pd_call_fail(call, error);
        return;
    }
    JsonArray *array = json_array_new();
    for (guint i = 0; i < events->len; i++) {
        PdStoreEvent *e = events->pdata[i];
        json_array_add_object_element(
            array, pd_event_to_json(e->id, e->time, e->kind, e->pool, e->volume, e->detail));
    }
    JsonObject *reply = json_object_new();
    json_object_set_array_member(reply, "events", array);
    pd_call_reply(call, reply);
}

PD_HANDLER(pd_method_event_subscribe)
{
    pd_events_subscribe(daemon->events, call);
}
