/* The varlink socket server: listening sockets, connections, framing, limits. */
#include "daemon/rpc/server.h"

#include "common/pd-error.h"
#include "daemon/core/heap.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_CHUNK      (64 * 1024)
#define MAX_FDS_PER_MSG 8
/* A message above this size leaves free memory behind: trim once it is gone. */
#define TRIM_AFTER_MESSAGE_BYTES (1024 * 1024)

typedef struct {
    PdServer *server;
    int fd;
    bool read_only;
    char *path; /* NULL when systemd passed the socket */
    guint watch;
} PdListener;

struct PdServer {
    const PdServerHandler *handler;
    gpointer handler_data;
    PdServerLimits limits;
    PdListener listeners[2];
    unsigned n_listeners;
    GList *clients; /* PdClient*, each holding one reference of its own */
    unsigned n_clients;
    unsigned n_clients_ro; /* of n_clients, on the read-only socket */
    GHashTable *ro_by_uid; /* uid -> read-only connections of that uid */
    size_t outbuf_total;   /* unread answers of every client (max_outbuf_total) */
    guint idle_timer;      /* closes idle read-only connections (ro_idle_timeout) */
    uint64_t next_client_id;
};

struct PdClient {
    gint ref;
    PdServer *server;
    uint64_t id;
    int fd;
    bool read_only;
    bool has_uid;
    uid_t uid;
    int64_t active_us;     /* monotonic time of its last message or answer (idle timeout) */
    size_t outbuf_counted; /* its share of the server's outbuf_total */
    size_t scanned;        /* bytes of inbuf known to hold no NUL */
    bool closed;
    bool eof;         /* the peer shut down its writing side: answer what is queued, then close */
    bool busy;        /* a call runs: the next message waits */
    bool dispatching; /* in the handler's on_message */
    PdCall *running_call; /* pd_client_set_running_call */
    /* Overlap (pd_client_overlap_begin): calls released when their job started, still
     * running. While any are, a call that must not overlap them was deferred: the queue
     * holds until they have ended. */
    unsigned n_overlapping;
    bool hold;
    bool defer_current; /* pd_client_defer_current: the message being dispatched goes back */
    guint watch_in, watch_out, idle;
    GByteArray *inbuf;
    GByteArray *outbuf;
    GQueue messages;     /* PdMessage *: complete messages not yet dispatched */
    GQueue fds;          /* PdPendingFd *: received, the message they came with incomplete */
    uint64_t in_offset;  /* stream offset of inbuf's first byte */
    GArray *current_fds; /* int: descriptors of the message being dispatched */
    GQueue slots;        /* PdReplySlot *: answers in call order, the first one streams */
    char *description;
};

/* A descriptor and the stream offset of the first byte it came with: it belongs to the
 * message holding that byte (clients send it with their call's first byte). */
typedef struct {
    uint64_t offset;
    int fd;
} PdPendingFd;

struct PdReplySlot {
    GByteArray *buf; /* messages not yet moved to outbuf */
    bool final;      /* the call's last message is in buf */
};

typedef struct {
    GBytes *data; /* with its NUL */
    GArray *fds;  /* int */
} PdMessage;

static void close_fds(GArray *fds)
{
    for (guint i = 0; fds && i < fds->len; i++)
        (void)close(g_array_index(fds, int, i));
    if (fds)
        g_array_set_size(fds, 0);
}

static void message_free(PdMessage *msg)
{
    g_bytes_unref(msg->data);
    close_fds(msg->fds);
    g_array_unref(msg->fds);
    g_free(msg);
}

static void client_watch_in(PdClient *client, bool on);
static void client_schedule(PdClient *client);
static PdClient *close_largest_reader(PdServer *server);
static void client_process(PdClient *client);

PdClient *pd_client_ref(PdClient *client)
{
    g_atomic_int_inc(&client->ref);
    return client;
}

void pd_client_unref(PdClient *client)
{
    if (!client || !g_atomic_int_dec_and_test(&client->ref))
        return;
    g_byte_array_unref(client->inbuf);
    g_byte_array_unref(client->outbuf);
    for (GList *l = client->slots.head; l; l = l->next) {
        PdReplySlot *slot = l->data;
        g_byte_array_unref(slot->buf);
        g_free(slot);
    }
    g_queue_clear(&client->slots);
    g_queue_clear_full(&client->messages, (GDestroyNotify)message_free);
    for (GList *l = client->fds.head; l; l = l->next)
        (void)close(((PdPendingFd *)l->data)->fd);
    g_queue_clear_full(&client->fds, g_free);
    close_fds(client->current_fds);
    g_array_unref(client->current_fds);
    g_free(client->description);
    g_free(client);
}

bool pd_client_closed(PdClient *client)
{
    return client->closed;
}

bool pd_client_read_only(PdClient *client)
{
    return client->read_only;
}

const char *pd_client_describe(PdClient *client)
{
    return client->description;
}

PdCall *pd_client_running_call(PdClient *client)
{
    return client->running_call;
}

void pd_client_set_running_call(PdClient *client, PdCall *call)
{
    client->running_call = call;
}

bool pd_client_dispatching(PdClient *client)
{
    return client->dispatching;
}

unsigned pd_server_n_clients(PdServer *server)
{
    return server->n_clients;
}

int pd_client_take_fd(PdClient *client)
{
    if (client->current_fds->len == 0)
        return -1;
    int fd = g_array_index(client->current_fds, int, 0);
    g_array_remove_index(client->current_fds, 0);
    return fd;
}

unsigned pd_client_n_fds(PdClient *client)
{
    return client->current_fds->len;
}

void pd_client_close(PdClient *client, const char *why)
{
    if (client->closed)
        return;
    client->closed = true;
    g_message("client %" G_GUINT64_FORMAT " (%s) closed: %s", client->id, client->description, why);
    client_watch_in(client, false);
    if (client->watch_out)
        g_source_remove(client->watch_out);
    client->watch_out = 0;
    if (client->idle)
        g_source_remove(client->idle);
    client->idle = 0;
    (void)close(client->fd);
    client->fd = -1;
    PdServer *server = client->server;
    server->clients = g_list_remove(server->clients, client);
    server->n_clients--;
    server->outbuf_total -= client->outbuf_counted;
    client->outbuf_counted = 0;
    if (client->read_only) {
        server->n_clients_ro--;
        if (client->has_uid) {
            gpointer key = GUINT_TO_POINTER(client->uid);
            unsigned n = GPOINTER_TO_UINT(g_hash_table_lookup(server->ro_by_uid, key));
            if (n > 1)
                g_hash_table_insert(server->ro_by_uid, key, GUINT_TO_POINTER(n - 1));
            else
                g_hash_table_remove(server->ro_by_uid, key);
        }
    }
    server->handler->on_gone(client, server->handler_data);
    pd_client_unref(client);
}

/* Brings the server's total of unread answers up to date with @client's output buffer. */
static void account_outbuf(PdClient *client)
{
    PdServer *server = client->server;
    server->outbuf_total = server->outbuf_total - client->outbuf_counted + client->outbuf->len;
    client->outbuf_counted = client->outbuf->len;
}

/* Writes what it can of the output buffer. Returns false if the connection was closed. */
static bool client_flush(PdClient *client)
{
    while (client->outbuf->len > 0) {
        ssize_t n = send(client->fd, client->outbuf->data, client->outbuf->len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0) {
            pd_client_close(client, "write failed");
            return false;
        }
        g_byte_array_remove_range(client->outbuf, 0, (guint)n);
        account_outbuf(client);
    }
    if (client->eof && !client->busy && g_queue_is_empty(&client->slots) &&
        g_queue_is_empty(&client->messages)) {
        pd_client_close(client, "peer finished");
        return false;
    }
    return true;
}

static gboolean client_writable(int fd, GIOCondition cond, gpointer data)
{
    PdClient *client = data;
    if (!client_flush(client))
        return G_SOURCE_REMOVE;
    if (client->outbuf->len > 0)
        return G_SOURCE_CONTINUE;
    client->watch_out = 0;
    return G_SOURCE_REMOVE;
}

PdReplySlot *pd_client_reserve(PdClient *client)
{
    PdReplySlot *slot = g_new0(PdReplySlot, 1);
    slot->buf = g_byte_array_new();
    g_queue_push_tail(&client->slots, slot);
    return slot;
}

/* Moves what the first slots hold to the output buffer, up to the first incomplete one. */
static void collect_slots(PdClient *client)
{
    PdReplySlot *slot;
    while ((slot = g_queue_peek_head(&client->slots))) {
        if (slot->buf->len) {
            g_byte_array_append(client->outbuf, slot->buf->data, slot->buf->len);
            g_byte_array_set_size(slot->buf, 0);
        }
        if (!slot->final)
            return;
        g_queue_pop_head(&client->slots);
        g_byte_array_unref(slot->buf);
        g_free(slot);
    }
}

gsize pd_client_send(PdClient *client, PdReplySlot *slot, JsonObject *message, bool final)
{
    g_autofree char *text = NULL;
    if (message && !client->closed) {
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
        json_node_set_object(node, message);
        text = json_to_string(node, false);
    }
    return pd_client_send_text(client, slot, text, text ? strlen(text) : 0, final);
}

gsize pd_client_send_text(PdClient *client, PdReplySlot *slot, const char *text, gsize len,
                          bool final)
{
    if (text && !client->closed)
        g_byte_array_append(g_byte_array_append(slot->buf, (const guint8 *)text, (guint)len),
                            (const guint8 *)"", 1);
    slot->final = slot->final || final;
    if (client->closed)
        return 0; /* the slot is freed with the client */
    collect_slots(client);
    account_outbuf(client);
    client->active_us = g_get_monotonic_time();
    if (client->outbuf->len > client->server->limits.max_outbuf) {
        pd_client_close(client, "too many unread answers");
        return len;
    }
    if (client->server->outbuf_total > client->server->limits.max_outbuf_total &&
        close_largest_reader(client->server) == client)
        return len;
    if (!client_flush(client) || client->outbuf->len == 0 || client->watch_out)
        return len;
    client->watch_out = g_unix_fd_add(client->fd, G_IO_OUT, client_writable, client);
    return len;
}

/* Over max_outbuf_total: closes the client holding the most unread answers (the one that
 * reads least); returns it (no longer to be used but still referenced by the caller). */
static PdClient *close_largest_reader(PdServer *server)
{
    PdClient *largest = NULL;
    for (GList *l = server->clients; l; l = l->next) {
        PdClient *c = l->data;
        if (!largest || c->outbuf->len > largest->outbuf->len)
            largest = c;
    }
    if (largest)
        pd_client_close(largest, "too many unread answers of all clients (max_outbuf_total)");
    return largest;
}

/* A deferred message goes back to the head of the queue with its descriptors; the queue
 * holds until the client's overlapping calls have ended. */
static void requeue(PdClient *client, PdMessage *msg)
{
    client->defer_current = false;
    client->busy = false;
    client->hold = true;
    g_array_append_vals(msg->fds, client->current_fds->data, client->current_fds->len);
    g_array_set_size(client->current_fds, 0);
    g_queue_push_head(&client->messages, msg);
}

/* After a message was dispatched (the handler returned @ok). */
static void message_done(PdClient *client, PdMessage *msg, bool ok)
{
    if (client->defer_current) {
        requeue(client, msg);
        return;
    }
    close_fds(client->current_fds); /* what the call did not take */
    if (g_bytes_get_size(msg->data) > TRIM_AFTER_MESSAGE_BYTES)
        pd_heap_trim_later();
    message_free(msg);
    if (!ok)
        pd_client_close(client, "malformed message");
}

/* A large message parsed on a thread (docs/security.md, rule J): the main loop goes on
 * answering other clients meanwhile; this client's next message waits (it is busy). */
typedef struct {
    PdClient *client; /* referenced */
    PdMessage *msg;
    const PdServerHandler *handler;
    gpointer handler_data;
    bool read_only;
    unsigned n_fds;
    gpointer parsed; /* what handler->parse made */
} ParseWork;

static void parse_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    ParseWork *w = data;
    gsize len = 0;
    const char *bytes = g_bytes_get_data(w->msg->data, &len);
    w->parsed = w->handler->parse(bytes, len, w->read_only, w->n_fds, w->handler_data);
}

static void parse_done(GObject *source, GAsyncResult *result, gpointer data)
{
    ParseWork *w = g_task_get_task_data(G_TASK(result));
    PdClient *client = w->client;
    if (client->closed) {
        w->handler->free_parsed(w->parsed);
        message_free(w->msg);
    } else {
        client->dispatching = true;
        bool ok = w->handler->on_parsed(client, w->parsed, w->handler_data);
        client->dispatching = false;
        message_done(client, w->msg, ok);
        client_process(client);
    }
    pd_client_unref(client);
}

static void parse_work_free(gpointer data)
{
    g_free(data);
}

static void parse_off_loop(PdClient *client, PdMessage *msg)
{
    ParseWork *w = g_new0(ParseWork, 1);
    w->client = pd_client_ref(client);
    w->msg = msg;
    w->handler = client->server->handler;
    w->handler_data = client->server->handler_data;
    w->read_only = client->read_only;
    w->n_fds = client->current_fds->len;
    g_autoptr(GTask) task = g_task_new(NULL, NULL, parse_done, NULL);
    g_task_set_task_data(task, w, parse_work_free);
    g_task_run_in_thread(task, parse_thread);
}

/* Dispatches queued messages while no call is running. */
static void client_process(PdClient *client)
{
    pd_client_ref(client);
    while (!client->closed && !client->busy && !client->hold &&
           !g_queue_is_empty(&client->messages)) {
        PdMessage *msg = g_queue_pop_head(&client->messages);
        gsize len = 0;
        const char *data = g_bytes_get_data(msg->data, &len);
        client->busy = true;
        client->active_us = g_get_monotonic_time();
        g_array_append_vals(client->current_fds, msg->fds->data, msg->fds->len);
        g_array_set_size(msg->fds, 0);
        PdServer *server = client->server;
        if (len > server->limits.parse_offload_bytes && server->handler->parse) {
            parse_off_loop(client, msg);
            break;
        }
        client->dispatching = true;
        bool ok = server->handler->on_message(client, data, len, server->handler_data);
        client->dispatching = false;
        message_done(client, msg, ok);
    }
    if (!client->closed) {
        if (g_queue_get_length(&client->messages) < client->server->limits.max_pending &&
            !client->eof)
            client_watch_in(client, true);
        if (client->eof && !client->busy && g_queue_is_empty(&client->slots) &&
            g_queue_is_empty(&client->messages))
            (void)client_flush(client);
    }
    pd_client_unref(client);
}

static gboolean client_idle(gpointer data)
{
    PdClient *client = data;
    client->idle = 0;
    client_process(client);
    return G_SOURCE_REMOVE;
}

static void client_schedule(PdClient *client)
{
    if (client->closed || client->idle)
        return;
    client->idle = g_idle_add(client_idle, client);
}

void pd_client_call_done(PdClient *client)
{
    client->busy = false;
    client_schedule(client);
}

void pd_client_overlap_begin(PdClient *client)
{
    client->n_overlapping++;
}

void pd_client_overlap_end(PdClient *client)
{
    g_assert(client->n_overlapping > 0);
    if (--client->n_overlapping > 0 || !client->hold)
        return;
    client->hold = false;
    client_schedule(client);
}

bool pd_client_overlapping(PdClient *client)
{
    return client->n_overlapping > 0;
}

void pd_client_defer_current(PdClient *client, PdReplySlot *slot)
{
    g_assert(client->n_overlapping > 0);
    if (slot) {
        g_assert(g_queue_peek_tail(&client->slots) == slot && slot->buf->len == 0);
        g_queue_pop_tail(&client->slots);
        g_byte_array_unref(slot->buf);
        g_free(slot);
    }
    client->defer_current = true;
}

/* Moves complete messages from the input buffer to the queue. Returns false when a message
 * is too large (the connection must close). */
static bool client_split(PdClient *client)
{
    size_t max = client->server->limits.max_message;
    for (;;) {
        size_t from = MIN(client->scanned, (size_t)client->inbuf->len);
        guint8 *nul = client->inbuf->len > from
                          ? memchr(client->inbuf->data + from, 0, client->inbuf->len - from)
                          : NULL;
        if (!nul) {
            client->scanned = client->inbuf->len; /* a long message: scan each byte once */
            return client->inbuf->len <= max;
        }
        client->scanned = 0;
        size_t len = (size_t)(nul - client->inbuf->data);
        if (len > max)
            return false;
        PdMessage *msg = g_new0(PdMessage, 1);
        msg->data = g_bytes_new(client->inbuf->data, len + 1);
        msg->fds = g_array_new(false, false, sizeof(int));
        uint64_t end = client->in_offset + len; /* the NUL */
        while (!g_queue_is_empty(&client->fds) &&
               ((PdPendingFd *)g_queue_peek_head(&client->fds))->offset <= end) {
            g_autofree PdPendingFd *p = g_queue_pop_head(&client->fds);
            g_array_append_val(msg->fds, p->fd);
        }
        g_queue_push_tail(&client->messages, msg);
        g_byte_array_remove_range(client->inbuf, 0, (guint)len + 1);
        client->in_offset += len + 1;
        if (len > TRIM_AFTER_MESSAGE_BYTES) { /* its buffer keeps the message's size */
            GByteArray *fresh = g_byte_array_sized_new(READ_CHUNK);
            g_byte_array_append(fresh, client->inbuf->data, client->inbuf->len);
            g_byte_array_unref(client->inbuf);
            client->inbuf = fresh;
        }
    }
}

/* Keeps the descriptors of SCM_RIGHTS messages with the stream offset @offset of the bytes
 * they came with. Returns false when there are too many. */
static bool client_take_rights(PdClient *client, struct msghdr *msg, uint64_t offset)
{
    bool ok = true;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int fds[MAX_FDS_PER_MSG];
        memcpy(fds, CMSG_DATA(c), MIN(n, (size_t)MAX_FDS_PER_MSG) * sizeof(int));
        for (size_t i = 0; i < n && i < MAX_FDS_PER_MSG; i++) {
            if (g_queue_get_length(&client->fds) >= client->server->limits.max_fds) {
                (void)close(fds[i]);
                ok = false;
                continue;
            }
            PdPendingFd *p = g_new(PdPendingFd, 1);
            p->offset = offset;
            p->fd = fds[i];
            g_queue_push_tail(&client->fds, p);
        }
    }
    return ok && !(msg->msg_flags & MSG_CTRUNC);
}

/* Reads what the peer sent. Returns false when the watch must go (it was cleared). */
static bool client_read(PdClient *client, int fd)
{
    guint8 buf[READ_CHUNK];
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_MSG)];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = &control,
                         .msg_controllen = sizeof(control)};
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    const char *why = NULL;
    if (n < 0)
        why = g_strerror(errno);
    else if (!client_take_rights(client, &msg, client->in_offset + client->inbuf->len))
        why = "too many file descriptors";
    else if (n == 0 && client->inbuf->len > 0)
        why = "truncated message at end of stream";
    if (why || n == 0) {
        client->watch_in = 0; /* the caller returns G_SOURCE_REMOVE */
        if (why) {
            pd_client_close(client, why);
            return false;
        }
        client->eof = true;
        client->server->handler->on_eof(client, client->server->handler_data);
        client_schedule(client);
        return false;
    }
    /* bytes alone are no activity: idle means no complete message for ro_idle_timeout, so
     * one byte every 50 s keeps nothing open (attack 2 W4); a complete message is */
    g_byte_array_append(client->inbuf, buf, (guint)n);
    guint before = g_queue_get_length(&client->messages);
    if (!client_split(client)) {
        client->watch_in = 0;
        pd_client_close(client, "message too large");
        return false;
    }
    if (g_queue_get_length(&client->messages) != before)
        client->active_us = g_get_monotonic_time();
    if (g_queue_get_length(&client->messages) >= client->server->limits.max_pending) {
        client->watch_in = 0;
        client_schedule(client);
        return false;
    }
    client_process(client);
    return !client->closed && client->watch_in != 0;
}

static gboolean client_readable(int fd, GIOCondition cond, gpointer data)
{
    PdClient *client = pd_client_ref(data); /* answers may close and free it meanwhile */
    bool keep = client_read(client, fd);
    pd_client_unref(client);
    return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void client_watch_in(PdClient *client, bool on)
{
    if (on && !client->watch_in && !client->closed)
        client->watch_in = g_unix_fd_add(client->fd, G_IO_IN, client_readable, client);
    else if (!on && client->watch_in) {
        g_source_remove(client->watch_in);
        client->watch_in = 0;
    }
}

/* "pid 123 uid 1000 gid 1000, read-only"; the peer's uid in @ret_uid when known. */
static char *describe_peer(int fd, bool read_only, bool *ret_has_uid, uid_t *ret_uid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    const char *sock = read_only ? "read-only" : "read-write";
    *ret_has_uid = false;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return g_strdup_printf("unknown peer, %s", sock);
    *ret_has_uid = true;
    *ret_uid = cred.uid;
    return g_strdup_printf("pid %d uid %u gid %u, %s", (int)cred.pid, (unsigned)cred.uid,
                           (unsigned)cred.gid, sock);
}

/* Closes read-only connections idle for ro_idle_timeout: no call running or queued, no
 * answer waiting, no complete message received meanwhile; a partial message that old counts
 * as none (docs/security.md, attacks 2.3 and round 2 W4). */
static gboolean idle_check(gpointer data)
{
    PdServer *server = data;
    int64_t now = g_get_monotonic_time();
    int64_t limit = (int64_t)server->limits.ro_idle_timeout_s * G_USEC_PER_SEC;
    for (GList *l = server->clients, *next; l; l = next) {
        next = l->next;
        PdClient *c = l->data;
        if (c->read_only && !c->busy && g_queue_is_empty(&c->messages) &&
            g_queue_is_empty(&c->slots) && c->outbuf->len == 0 && now - c->active_us > limit)
            pd_client_close(c, "idle (ro_idle_timeout)");
    }
    if (server->n_clients_ro > 0)
        return G_SOURCE_CONTINUE;
    server->idle_timer = 0;
    return G_SOURCE_REMOVE;
}

/* Whether a new connection may be kept: the read-write socket has its own max_clients, so
 * read-only connections (max_ro_clients, max_ro_clients_per_uid) never take its slots.
 * Else logs why and returns false. */
static bool admit(PdServer *server, bool read_only, bool has_uid, uid_t uid, const char *peer)
{
    const PdServerLimits *lim = &server->limits;
    unsigned n_rw = server->n_clients - server->n_clients_ro;
    if (!read_only && n_rw >= lim->max_clients) {
        g_warning("refusing connection from %s: %u read-write clients already (max_clients)", peer,
                  n_rw);
        return false;
    }
    if (read_only && server->n_clients_ro >= lim->max_ro_clients) {
        g_warning("refusing connection from %s: %u read-only clients already (max_ro_clients)",
                  peer, server->n_clients_ro);
        return false;
    }
    unsigned of_uid =
        has_uid ? GPOINTER_TO_UINT(g_hash_table_lookup(server->ro_by_uid, GUINT_TO_POINTER(uid)))
                : 0;
    if (read_only && of_uid >= lim->max_ro_clients_per_uid) {
        g_warning("refusing connection from %s: uid %u has %u read-only connections already "
                  "(max_ro_clients_per_uid)",
                  peer, (unsigned)uid, of_uid);
        return false;
    }
    return true;
}

static gboolean listener_accept(int fd, GIOCondition cond, gpointer data)
{
    PdListener *listener = data;
    PdServer *server = listener->server;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (cfd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            g_warning("accept on %s socket: %s", listener->read_only ? "read-only" : "read-write",
                      g_strerror(errno));
        return G_SOURCE_CONTINUE;
    }
    bool has_uid = false;
    uid_t uid = 0;
    g_autofree char *peer = describe_peer(cfd, listener->read_only, &has_uid, &uid);
    if (!admit(server, listener->read_only, has_uid, uid, peer)) {
        (void)close(cfd);
        return G_SOURCE_CONTINUE;
    }
    PdClient *client = g_new0(PdClient, 1);
    client->ref = 1;
    client->server = server;
    client->id = ++server->next_client_id;
    client->fd = cfd;
    client->read_only = listener->read_only;
    client->has_uid = has_uid;
    client->uid = uid;
    client->active_us = g_get_monotonic_time();
    client->inbuf = g_byte_array_new();
    client->outbuf = g_byte_array_new();
    client->description = g_steal_pointer(&peer);
    g_queue_init(&client->messages);
    g_queue_init(&client->slots);
    g_queue_init(&client->fds);
    client->current_fds = g_array_new(false, false, sizeof(int));
    server->clients = g_list_prepend(server->clients, client);
    server->n_clients++;
    if (client->read_only) {
        server->n_clients_ro++;
        if (has_uid)
            g_hash_table_insert(server->ro_by_uid, GUINT_TO_POINTER(uid),
                                GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(
                                                     server->ro_by_uid, GUINT_TO_POINTER(uid))) +
                                                 1));
        if (!server->idle_timer && server->limits.ro_idle_timeout_s > 0)
            server->idle_timer = g_timeout_add_seconds(1, idle_check, server);
    }
    g_info("client %" G_GUINT64_FORMAT " connected: %s", client->id, client->description);
    client_watch_in(client, true);
    return G_SOURCE_CONTINUE;
}

/* Binds a listening socket at @path with @mode. Returns the fd or -1 with @error set. */
static int listen_at(const char *path, mode_t mode, GError **error)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT,
                    "socket path %s is too long for a UNIX socket", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        pd_error_set_errno(error, errno, "socket for %s", path);
        return -1;
    }
    /* A socket file someone still listens on belongs to another poold: leave it alone. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
        g_set_error(error, PD_ERROR, PD_ERROR_BUSY,
                    "another poold listens on %s: stop it or use another --runtime-dir", path);
        (void)close(fd);
        return -1;
    }
    (void)close(fd);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        pd_error_set_errno(error, errno, "socket for %s", path);
        return -1;
    }
    (void)unlink(path); /* a stale socket of a poold that died */
    mode_t old = umask(0777 & ~mode);
    int r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    umask(old);
    if (r < 0 || chmod(path, mode) < 0 || listen(fd, 128) < 0) {
        pd_error_set_errno(error, errno, "listening on %s", path);
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* Takes the sockets systemd passed. Returns the number taken (0: not socket-activated). */
static unsigned take_systemd_sockets(PdServer *server)
{
    const char *pid = g_getenv("LISTEN_PID");
    const char *fds = g_getenv("LISTEN_FDS");
    if (!pid || !fds || g_ascii_strtoll(pid, NULL, 10) != getpid())
        return 0;
    unsigned n = (unsigned)g_ascii_strtoull(fds, NULL, 10);
    const char *names = g_getenv("LISTEN_FDNAMES");
    g_auto(GStrv) name_list = names ? g_strsplit(names, ":", -1) : NULL;
    for (unsigned i = 0; i < n && server->n_listeners < 2; i++) {
        int fd = 3 + (int)i;
        bool ro =
            name_list && i < g_strv_length(name_list) ? g_str_equal(name_list[i], "ro") : i == 1;
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        PdListener *l = &server->listeners[server->n_listeners++];
        l->fd = fd;
        l->read_only = ro;
    }
    g_unsetenv("LISTEN_PID");
    g_unsetenv("LISTEN_FDS");
    g_unsetenv("LISTEN_FDNAMES");
    return server->n_listeners;
}

PdServer *pd_server_new(const char *runtime_dir, const PdServerLimits *limits,
                        const PdServerHandler *handler, gpointer data, GError **error)
{
    g_autoptr(PdServer) server = g_new0(PdServer, 1);
    server->handler = handler;
    server->handler_data = data;
    server->limits = *limits;
    server->ro_by_uid = g_hash_table_new(NULL, NULL);
    if (take_systemd_sockets(server) > 0) {
        g_message("using %u socket(s) passed by systemd", server->n_listeners);
    } else {
        if (g_mkdir_with_parents(runtime_dir, 0755) < 0) {
            pd_error_set_errno(error, errno, "creating runtime directory %s", runtime_dir);
            return NULL;
        }
        const char *names[2] = {"poold-sock", "poold-sock-ro"};
        const mode_t modes[2] = {0600, 0666};
        for (unsigned i = 0; i < 2; i++) {
            g_autofree char *path = g_build_filename(runtime_dir, names[i], NULL);
            int fd = listen_at(path, modes[i], error);
            if (fd < 0)
                return NULL;
            PdListener *l = &server->listeners[server->n_listeners++];
            l->fd = fd;
            l->read_only = i == 1;
            l->path = g_steal_pointer(&path);
        }
    }
    for (unsigned i = 0; i < server->n_listeners; i++) {
        PdListener *l = &server->listeners[i];
        l->server = server;
        l->watch = g_unix_fd_add(l->fd, G_IO_IN, listener_accept, l);
    }
    return g_steal_pointer(&server);
}

void pd_server_free(PdServer *server)
{
    if (!server)
        return;
    while (server->clients)
        pd_client_close(server->clients->data, "daemon stopping");
    if (server->idle_timer)
        g_source_remove(server->idle_timer);
    g_hash_table_unref(server->ro_by_uid);
    for (unsigned i = 0; i < server->n_listeners; i++) {
        PdListener *l = &server->listeners[i];
        if (l->watch)
            g_source_remove(l->watch);
        (void)close(l->fd);
        if (l->path)
            (void)unlink(l->path);
        g_free(l->path);
    }
    g_free(server);
}
