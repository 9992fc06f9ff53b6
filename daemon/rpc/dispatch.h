/* The router: checks every call against the method table it is given, then runs its handler.
 *
 * pd_dispatch() checks everything a handler may rely on once, here: the method exists, its
 * class is admitted on the socket (only `read` on the read-only one, docs/security.md),
 * every parameter is known, of the right JSON type and within limits, required ones are
 * present, "more" is given where the method needs it, descriptors come only with methods
 * that take one. Handlers then only
 * apply policy and do the work. The table (method.h) and the handlers are api/'s; the
 * server (server.h) reaches the router only through the PdServerHandler it registers. */
#pragma once

#include "daemon/rpc/call.h"
#include "daemon/rpc/json-limits.h"
#include "daemon/rpc/method.h"
#include "daemon/rpc/server.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct PdDispatch PdDispatch;

/* The method of @table (terminated by an entry with name NULL) called @name, or NULL. */
const PdMethod *pd_method_find(const PdMethod *table, const char *name);

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
     * structure (nesting, values): why (static text naming the configuration key). */
    const char *refused;
} PdParsedCall;

/* The limits pd_dispatch_parse checks before parsing (defaults: PD_JSON_*_DEFAULT). Called
 * once at start-up, before any message. */
void pd_dispatch_set_json_limits(const PdJsonLimits *limits);

void pd_parsed_call_clear(PdParsedCall *pc);

/* Parses one NUL-terminated message of @len bytes (the NUL included) and checks it against
 * @table and the socket's permissions (pd_dispatch_check). Returns false when it is not a
 * varlink call at all (the connection must close); else true with @pc filled: either
 * method set (ready for its handler) or early_error set. No I/O, no daemon state: the
 * protocol fuzz target drives this function. */
bool pd_dispatch_parse(const PdMethod *table, const char *data, size_t len, bool read_only,
                       unsigned n_fds, PdParsedCall *pc);

/* A router over @table whose handlers get @ctx; every answered call is told to @observer
 * (may be NULL). */
PdDispatch *pd_dispatch_new(const PdMethod *table, PdDaemon *ctx, PdCallObserver observer);
void pd_dispatch_free(PdDispatch *dispatch);
/* What to give pd_server_new, with the router as its data. */
const PdServerHandler *pd_dispatch_server_handler(void);

/* Parses one message, checks it and runs its handler. Returns false when the message is not
 * a varlink call at all (not JSON, not an object, no method): the caller closes the
 * connection. Errors of a well-formed call are answered on the call. */
bool pd_dispatch(PdDispatch *dispatch, PdClient *client, const char *data, size_t len);
/* The second half of pd_dispatch, for a message pd_dispatch_parse read elsewhere (a large one,
 * parsed on a thread): @ok is what it returned; @pc is taken (cleared). Main loop only. */
bool pd_dispatch_parsed(PdDispatch *dispatch, PdClient *client, PdParsedCall *pc, bool ok);

/* Parameter access after the central check (absent optional parameters give the default). */
const char *pd_param_string(JsonObject *params, const char *name);
int64_t pd_param_int(JsonObject *params, const char *name, int64_t dflt);
bool pd_param_bool(JsonObject *params, const char *name, bool dflt);

G_END_DECLS
