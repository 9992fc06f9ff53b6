/* A method of the varlink API as data (redis' command table): its name, its handler, the
 * schema of its parameters and flags. rpc/ checks every call against it (dispatch.h) and
 * answers it (call.h); the table itself and the handlers are api/'s. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* The handlers' context: opaque to rpc/, which only passes it on (api/ and main.c know it). */
typedef struct PdDaemon PdDaemon;
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

G_END_DECLS
