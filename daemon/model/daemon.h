/* The daemon's shared state: configuration, the store, the server, jobs, events and the
 * pools it manages. Everything here is used from the main loop thread only; job workers get
 * copies of what they need and report back through the main loop. */
#pragma once

#include "daemon/jobs/jobs.h"
#include "daemon/rpc/json-limits.h"
#include "daemon/rpc/server.h"
#include "daemon/store/store.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct PdDaemon PdDaemon;
typedef struct PdJobs PdJobs;
typedef struct PdEvents PdEvents;
typedef struct PdLibvirt PdLibvirt;
typedef struct PdBackingPolicy PdBackingPolicy;
typedef struct PdDispatch PdDispatch;
typedef struct PdMetrics PdMetrics;

typedef struct {
    char *runtime_dir;
    char *state_dir;
    char *config_path;
    bool verbose;
    PdServerLimits limits;
    PdJsonLimits json_limits; /* checked before a message is parsed */
    PdJobLimits job_limits;   /* stream pool, stall timeout, jobs per client */
    unsigned workers;         /* job threads */
    char *metrics_listen;     /* "host:port" of the HTTP metrics listener, or NULL */
    char *libvirt_uri;        /* [libvirt] uri: the default of calls without one, or NULL */
    /* [libvirt] allowed_uris: the other URIs a call may name (NULL-terminated, or NULL), and
     * their names ("" for none), index by index */
    char **libvirt_allowed_uris;
    char **libvirt_allowed_names;
    unsigned libvirt_detach_timeout_ms; /* [libvirt] detach_timeout (seconds in the file) */
    char **backing_roots; /* [daemon] backing_roots: directories backing files may lie in */
} PdDaemonConfig;

struct PdDaemon {
    PdDaemonConfig config;
    GMainLoop *loop;
    PdStore *store;
    PdServer *server;
    PdDispatch *dispatch;
    PdMetrics *metrics;
    PdJobs *jobs;
    PdEvents *events;
    GHashTable *pools; /* name -> PdPoolObj (daemon/pools-state.h) */
    /* Which backing files the catalog's volumes use (pd_model_backing_user): key -> count;
     * rebuilt on first use after pd_model_backing_invalidate, kept by put/remove. */
    GHashTable *backing_index;
    /* The marks of volumes whose backing chain the policy refuses (pd_model_backing_mark):
     * "pool\x1fname" -> why; computed on first use, dropped by every change of a catalog or
     * of the pools (so a refresh computes them again). */
    GHashTable *backing_marks;
    /* connections and attachment reconciliation (daemon/attach/attachments.h) */
    PdLibvirt *libvirt;
    /* Which files backing chains may name (daemon/model/backing-policy.h); its roots follow
     * the pools (pd_model_update_backing_roots). */
    PdBackingPolicy *backing_policy;
    int64_t start_time; /* monotonic µs */
};

G_END_DECLS
