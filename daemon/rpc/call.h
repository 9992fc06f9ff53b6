/* A call being answered, and its answers: the one API through which everything that answers
 * a call (handlers, jobs, group commit, event subscriptions) does so, without knowing the
 * router that made it (dispatch.h). Main loop thread only. */
#pragma once

#include "daemon/rpc/method.h"
#include "daemon/rpc/server.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Told of every call answered (its method, whether with an error, µs since it arrived): the
 * metric counters, registered by main.c through the router. */
typedef void (*PdCallObserver)(const char *method, bool failed, int64_t usec);

struct PdCall {
    PdClient *client; /* referenced; may have been closed meanwhile */
    const PdMethod *method;
    char *method_name;
    bool more;
    bool oneway;
    bool released;            /* pd_call_release: executed, the answer waits for durability */
    struct PdReplySlot *slot; /* its place in the client's answer order */
    int fd;                   /* the descriptor passed with the call, or -1 */
    int64_t start_us;         /* monotonic time the call arrived (metrics) */
    PdCallObserver observer;  /* may be NULL */
    /* For streaming calls: called once if the client goes away before the final answer. */
    void (*on_abandon)(PdCall *call, gpointer data);
    gpointer abandon_data;
};

/* A call of @method named @name on @client: takes its reply slot and, for a method that
 * takes one, its descriptor; it becomes the client's running call (pd_client_running_call). */
PdCall *pd_call_new(PdClient *client, const PdMethod *method, const char *name, bool more,
                    bool oneway, PdCallObserver observer);

/* Final answer with @params (may be NULL = {}); takes ownership of @params. Frees @call. */
void pd_call_reply(PdCall *call, JsonObject *params);
/* The same with the parameters already written as JSON text (one object; taken): for large
 * answers (a vol-list of 10,000 volumes), which a json-glib tree would make several times
 * their size in small blocks. */
void pd_call_reply_text(PdCall *call, GString *params);
/* A "continues" answer; only on calls made with "more". Takes ownership of @params. */
void pd_call_progress(PdCall *call, JsonObject *params);
/* Final error answer from a GError (PD_ERROR codes map to io.poold.Error.*). Frees @call. */
void pd_call_fail(PdCall *call, const GError *error);
/* Final error answer by wire name. Takes ownership of @params (may be NULL). Frees @call. */
void pd_call_fail_name(PdCall *call, const char *error, JsonObject *params);
/* Logs a refusal (PermissionDenied) without --verbose, rate-limited (attack 7.6). Any thread. */
void pd_call_log_refusal(const char *method, const char *who, const char *error, const char *text);
/* Group commit: the call is executed but not answered yet (its change is not durable). Its
 * client may go on with its next message; the answer, given later with pd_call_reply or
 * pd_call_fail as usual, still reaches the client before those of its later calls. Only for
 * plain calls (not oneway, not "more"): see pd_call_releasable. */
bool pd_call_releasable(PdCall *call);
/* Whether @call's client has overlapping calls running (PD_METHOD_OVERLAP). */
bool pd_call_overlapping(PdCall *call);
/* From a handler, instead of an answer, while pd_call_overlapping: the call is dropped
 * unanswered (frees @call) and its message runs again once the client's overlapping calls
 * have ended. pd_call_fail does this by itself for a PD_METHOD_OVERLAP call. */
void pd_call_defer(PdCall *call);
void pd_call_release(PdCall *call);
/* True if the client that made the call is gone (its answers are dropped). */
bool pd_call_abandoned(PdCall *call);
/* The client is gone (or, for a streaming call, shut its side down): calls @call's
 * on_abandon once. */
void pd_call_abandon(PdCall *call);

G_END_DECLS
