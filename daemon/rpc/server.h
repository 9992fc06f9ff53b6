/* The varlink socket server: two listening UNIX sockets (read-write poold-sock, 0600, and
 * read-only poold-sock-ro, 0666) or the ones systemd passes (LISTEN_FDS), client connections,
 * NUL-terminated message framing, descriptor passing (SCM_RIGHTS), peer credentials and the
 * limits on clients, message size and queued calls.
 *
 * Calls on one connection are answered in order: the next message is dispatched when the
 * previous call has given its final answer (varlink's rule), so a client that pipelines
 * waits in its queue; a connection whose queue is full is not read until it drains.
 * A message that is not a varlink call, or too large, closes that connection only. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct PdServer PdServer;
typedef struct PdClient PdClient;
typedef struct PdCall PdCall;

typedef struct {
    size_t max_message;   /* bytes of one message, NUL excluded */
    unsigned max_clients; /* connections at once on the read-write socket */
    unsigned max_pending; /* calls queued on one connection (the one running included) */
    unsigned max_fds;     /* descriptors queued on one connection */
    size_t max_outbuf;    /* unread answers kept for a client before it is dropped */
    /* docs/security.md, attacks 2.2 to 2.4 */
    unsigned max_ro_clients;         /* connections at once on the read-only socket */
    unsigned max_ro_clients_per_uid; /* of those, from one uid (SO_PEERCRED) */
    unsigned ro_idle_timeout_s;      /* a read-only connection doing nothing is closed; 0: never */
    size_t max_outbuf_total;         /* unread answers of all clients together */
    size_t parse_offload_bytes;      /* a larger message is parsed on a thread */
} PdServerLimits;

/* What the server calls up (the router, dispatch.h, registered by main.c); each gets
 * the @data given to pd_server_new as @user. */
typedef struct {
    /* One complete message of @len bytes (its NUL included). Returns false when it is not a
     * varlink call at all: the connection is closed. */
    bool (*on_message)(PdClient *client, const char *msg, size_t len, gpointer user);
    /* The peer shut its side down (what is queued is still answered). */
    void (*on_eof)(PdClient *client, gpointer user);
    /* The connection is closed. */
    void (*on_gone)(PdClient *client, gpointer user);
    /* Optional, for a message over parse_offload_bytes (docs/security.md, rule J): @parse
     * reads it on a thread (it touches no daemon state) into an opaque result, which
     * @on_parsed then runs on the main loop as on_message would, or @free_parsed drops when
     * the client is gone meanwhile. */
    gpointer (*parse)(const char *msg, size_t len, bool read_only, unsigned n_fds, gpointer user);
    bool (*on_parsed)(PdClient *client, gpointer parsed, gpointer user);
    void (*free_parsed)(gpointer parsed);
} PdServerHandler;

/* Listens in @runtime_dir (created 0755 if missing), or on systemd's sockets when LISTEN_FDS
 * names this process (the first is read-write, a second read-only). Messages go to @handler
 * (kept, with @data). Returns NULL with an error naming the socket. */
PdServer *pd_server_new(const char *runtime_dir, const PdServerLimits *limits,
                        const PdServerHandler *handler, gpointer data, GError **error);
/* Closes every connection and listening socket; removes the socket files it created. */
void pd_server_free(PdServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdServer, pd_server_free)

unsigned pd_server_n_clients(PdServer *server);

PdClient *pd_client_ref(PdClient *client);
void pd_client_unref(PdClient *client);
bool pd_client_closed(PdClient *client);
bool pd_client_read_only(PdClient *client);
/* The answers of a client go out in the order of its calls, even when a later call finishes
 * first (a call released for group commit, see pd_call_release): each call reserves a slot
 * when it is dispatched, and a slot's messages are sent once every earlier slot is complete.
 * Only the first slot streams (progress replies of the running call). */
typedef struct PdReplySlot PdReplySlot;
PdReplySlot *pd_client_reserve(PdClient *client);
/* Queues @message (may be NULL: nothing to send, e.g. a oneway call) in @slot; @final
 * completes the slot (it must not be used afterwards). Dropped if the client is closed.
 * Returns the message's size in bytes (0 when dropped or NULL). */
gsize pd_client_send(PdClient *client, PdReplySlot *slot, JsonObject *message, bool final);
/* The same with the message already serialized: @len bytes of JSON text (no NUL), or NULL. */
gsize pd_client_send_text(PdClient *client, PdReplySlot *slot, const char *text, gsize len,
                          bool final);
/* The oldest descriptor received and not yet taken, or -1. Caller owns it. */
int pd_client_take_fd(PdClient *client);
/* Number of descriptors received and not yet taken. */
unsigned pd_client_n_fds(PdClient *client);
/* Called by dispatch when a call got its final answer, or was released (group commit): the
 * next queued message may run. */
void pd_client_call_done(PdClient *client);
/* Overlapping calls: a quick change (PD_METHOD_OVERLAP) whose job has started is released
 * at once (begin), so the client's next call may start while it runs; end when its job has
 * ended. A call that must not run alongside them is deferred (pd_client_defer_current, from
 * dispatch while the call is dispatched): its message goes back to the head of the queue,
 * its reserved @slot (may be NULL) is given back, and nothing more of that client runs until
 * every overlapping call has ended. */
void pd_client_overlap_begin(PdClient *client);
void pd_client_overlap_end(PdClient *client);
bool pd_client_overlapping(PdClient *client);
void pd_client_defer_current(PdClient *client, PdReplySlot *slot);
/* The call running on @client (set by the call layer, call.h), or NULL. */
PdCall *pd_client_running_call(PdClient *client);
void pd_client_set_running_call(PdClient *client, PdCall *call);
/* True while @client's current message is in the handler's on_message. */
bool pd_client_dispatching(PdClient *client);
/* Closes the connection (after a protocol violation). */
void pd_client_close(PdClient *client, const char *why);
/* "pid 123 uid 1000" for logs. */
const char *pd_client_describe(PdClient *client);

G_END_DECLS
