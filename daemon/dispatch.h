/* The one method table of poold and the calls it dispatches.
 *
 * A method is data (redis' command table): its varlink name, its handler, the schema of its
 * parameters and flags. pd_dispatch() checks everything a handler may rely on once, here:
 * the method exists, its class is admitted on the socket (only `read` on the read-only one,
 * docs/security.md), every parameter
 * is known, of the right JSON type and within limits, required ones are present, "more" is
 * given where the method needs it, descriptors come only with methods that take one.
 * Handlers then only apply policy and do the work. */
#pragma once

#include "daemon/json-limits.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct PdDaemon PdDaemon;
typedef struct PdClient PdClient;
typedef struct PdCall PdCall;

typedef enum {
    PD_PARAM_STRING,
    PD_PARAM_INT, /* a JSON integer >= 0 */
    PD_PARAM_BOOL,
} PdParamType;

typedef struct {
    const char *name;
    PdParamType type;
    bool required;
} PdParamSpec;

/* What a method may do, and so which socket admits it (docs/security.md). Every method of the
 * table has one; the read-only socket admits only PD_CLASS_READ. An unclassed method (NONE)
 * is refused everywhere. */
typedef enum {
    PD_CLASS_NONE = 0,
    PD_CLASS_READ,       /* metadata only: lists, info, XML, jobs, events, metrics */
    PD_CLASS_WRITE,      /* changes pools, volumes or jobs */
    PD_CLASS_DATA,       /* streams volume contents (download, upload) */
    PD_CLASS_PRIVILEGED, /* talks to libvirt or an external program or host; secrets */
} PdMethodClass;

typedef enum {
    PD_METHOD_JOB = 1 << 1,        /* may run as a job (takes "async", streams with "more") */
    PD_METHOD_NEEDS_MORE = 1 << 2, /* must be called with "more" (subscriptions) */
    PD_METHOD_TAKES_FD = 1 << 3,   /* the call carries one file descriptor */
    /* A quick change (vol create, delete) that may start while the client's earlier ones
     * still run: its job releases the call when it starts (group commit), so a client that
     * pipelines its calls keeps the workers busy. A call of another method, or one that
     * fails while earlier overlapping calls run (the volume it names is still being made or
     * removed by them), is deferred and runs once they have ended: every call still sees
     * the client's earlier calls done, as if they had run one after the other. */
    PD_METHOD_OVERLAP = 1 << 4,
} PdMethodFlags;

/* A handler answers the call exactly once with pd_call_reply or pd_call_fail, now or later
 * (from a job's completion); it may send pd_call_progress replies before. The call object
 * stays valid until the final answer. */
typedef void (*PdMethodFunc)(PdDaemon *daemon, PdCall *call, JsonObject *params);

typedef struct {
    const char *name; /* "io.poold.Pool.List" */
    PdMethodFunc handler;
    const PdParamSpec *params; /* terminated by an entry with name NULL; NULL: none */
    PdMethodClass cls;
    unsigned flags; /* PdMethodFlags */
} PdMethod;

/* Longest string parameter accepted (XML documents included). */
#define PD_PARAM_STRING_MAX (1024 * 1024)

/* Whether a method of @cls may be called on a socket (@read_only: the 0666 one). */
bool pd_method_class_allowed(PdMethodClass cls, bool read_only);
/* "read", "write", "data", "privileged"; NULL for PD_CLASS_NONE. Also the IDL's
 * "# @class: NAME" annotation. */
const char *pd_method_class_name(PdMethodClass cls);

/* The method table, terminated by an entry with name NULL. */
const PdMethod *pd_method_table(void);
const PdMethod *pd_method_lookup(const char *name);

/* Checks @params (may be NULL) against @method's schema and the socket's permissions.
 * Returns true, or false with the varlink error name in *ret_error and its parameters in
 * *ret_error_params (caller frees both). */
bool pd_dispatch_check(const PdMethod *method, JsonObject *params, bool read_only, bool more,
                       unsigned n_fds, char **ret_error, JsonObject **ret_error_params);

/* One message read as a call, before it reaches a handler (pd_dispatch_parse). */
typedef struct {
    JsonParser *parser;     /* owns the parsed tree */
    const char *name;       /* the method name as sent */
    const PdMethod *method; /* NULL when early_error is set or the name is unknown */
    JsonObject *params;     /* NULL when absent; owned by parser */
    bool more, oneway;
    /* Set when the call must be answered with an error without running a handler: the varlink
     * error name and its parameters. */
    char *early_error;
    JsonObject *early_params;
    /* When pd_dispatch_parse returned false because the message broke a limit of its
     * structure (nesting, values): why (static text). */
    const char *refused;
} PdParsedCall;

/* The limits pd_dispatch_parse checks before parsing (defaults: PD_JSON_*_DEFAULT). Called
 * once at start-up, before any message. */
void pd_dispatch_set_json_limits(const PdJsonLimits *limits);

void pd_parsed_call_clear(PdParsedCall *pc);

/* Parses one NUL-terminated message of @len bytes (the NUL included) and checks it against
 * the method table and the socket's permissions (pd_dispatch_check). Returns false when it is
 * not a varlink call at all (the connection must close); else true with @pc filled: either
 * method set (ready for its handler) or early_error set. No I/O, no daemon state: the
 * protocol fuzz target drives this function. */
bool pd_dispatch_parse(const char *data, size_t len, bool read_only, unsigned n_fds,
                       PdParsedCall *pc);

/* Parses one message, checks it and runs its handler. Returns false when the message is not
 * a varlink call at all (not JSON, not an object, no method): the caller closes the
 * connection. Errors of a well-formed call are answered on the call. */
bool pd_dispatch(PdDaemon *daemon, PdClient *client, const char *data, size_t len);
/* The second half of pd_dispatch, for a message pd_dispatch_parse read elsewhere (a large one,
 * parsed on a thread so that the main loop goes on answering others): @ok is what
 * pd_dispatch_parse returned; @pc is taken (cleared). Main loop only. */
bool pd_dispatch_parsed(PdDaemon *daemon, PdClient *client, PdParsedCall *pc, bool ok);

/* The peer shut its side down: a streaming call ("more") running on @client is abandoned;
 * others still get their answer. */
void pd_dispatch_client_eof(PdDaemon *daemon, PdClient *client);

/* Tells the call running on @client (if any) that the client is gone. */
void pd_dispatch_client_gone(PdDaemon *daemon, PdClient *client);

/* The call being answered. */
struct PdCall {
    PdDaemon *daemon;
    PdClient *client; /* referenced; may have been closed meanwhile */
    const PdMethod *method;
    char *method_name;
    bool more;
    bool oneway;
    bool released;            /* pd_call_release: executed, the answer waits for durability */
    struct PdReplySlot *slot; /* its place in the client's answer order */
    int fd;                   /* the descriptor passed with the call, or -1 */
    int64_t start_us;         /* monotonic time the call arrived (metrics) */
    /* For streaming calls: called once if the client goes away before the final answer. */
    void (*on_abandon)(PdCall *call, gpointer data);
    gpointer abandon_data;
};

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

/* Parameter access after the central check (absent optional parameters give the default). */
const char *pd_param_string(JsonObject *params, const char *name);
int64_t pd_param_int(JsonObject *params, const char *name, int64_t dflt);
bool pd_param_bool(JsonObject *params, const char *name, bool dflt);

G_END_DECLS
