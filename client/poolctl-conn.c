/* A minimal varlink client: NUL-terminated JSON over a UNIX socket, descriptors passed with
 * SCM_RIGHTS along with the first byte of a call. */
#include "client/poolctl.h"

#include "common/pd-error.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct PcConn {
    int fd;
    char *path;
    GByteArray *buf;
};

PcConn *pc_conn_new(const char *path, GError **error)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(error, PD_ERROR, PD_ERROR_INVALID_ARGUMENT, "socket path %s is too long", path);
        return NULL;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int e = errno;
        if (fd >= 0)
            (void)close(fd);
        g_set_error(error, PD_ERROR, pd_error_code_from_errno(e),
                    "failed to connect to the daemon at %s: %s (is poold running? -c SOCKET "
                    "names another socket)",
                    path, g_strerror(e));
        return NULL;
    }
    PcConn *conn = g_new0(PcConn, 1);
    conn->fd = fd;
    conn->path = g_strdup(path);
    conn->buf = g_byte_array_new();
    return conn;
}

void pc_conn_free(PcConn *conn)
{
    if (!conn)
        return;
    (void)close(conn->fd);
    g_free(conn->path);
    g_byte_array_unref(conn->buf);
    g_free(conn);
}

/* Writes all of @data; the first write carries @fd when >= 0. */
static bool write_all(PcConn *conn, const char *data, size_t len, int fd, GError **error)
{
    size_t off = 0;
    while (off < len) {
        struct iovec iov = {.iov_base = (char *)data + off, .iov_len = len - off};
        union {
            struct cmsghdr align;
            char space[CMSG_SPACE(sizeof(int))];
        } control;
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (fd >= 0 && off == 0) {
            memset(&control, 0, sizeof(control));
            msg.msg_control = &control;
            msg.msg_controllen = sizeof(control);
            struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        ssize_t n = sendmsg(conn->fd, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            pd_error_set_errno(error, errno, "sending to the daemon at %s", conn->path);
            return false;
        }
        off += (size_t)n;
    }
    return true;
}

bool pc_conn_send(PcConn *conn, const char *method, JsonObject *params, bool more, int fd,
                  GError **error)
{
    g_autoptr(JsonObject) msg = json_object_new();
    json_object_set_string_member(msg, "method", method);
    json_object_set_object_member(msg, "parameters", params ? params : json_object_new());
    if (more)
        json_object_set_boolean_member(msg, "more", true);
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(node, msg);
    g_autofree char *text = json_to_string(node, false);
    return write_all(conn, text, strlen(text) + 1, fd, error);
}

/* The code of a varlink error name. */
static PdErrorCode code_of(const char *name)
{
    for (int c = 0; c < PD_ERROR_N_CODES; c++)
        if (g_str_equal(pd_error_wire_name((PdErrorCode)c), name))
            return (PdErrorCode)c;
    if (g_str_equal(name, "org.varlink.service.PermissionDenied"))
        return PD_ERROR_PERMISSION_DENIED;
    if (g_str_equal(name, "org.varlink.service.InvalidParameter"))
        return PD_ERROR_INVALID_ARGUMENT;
    if (g_str_has_prefix(name, "org.varlink.service."))
        return PD_ERROR_UNSUPPORTED;
    return PD_ERROR_FAILED;
}

static void set_reply_error(const char *name, JsonObject *params, GError **error)
{
    const char *message = params && json_object_has_member(params, "message")
                              ? json_object_get_string_member(params, "message")
                              : NULL;
    if (message) {
        g_set_error_literal(error, PD_ERROR, code_of(name), message);
    } else if (g_str_equal(name, "org.varlink.service.PermissionDenied")) {
        g_set_error(error, PD_ERROR, PD_ERROR_PERMISSION_DENIED,
                    "access denied: this is the read-only socket, which answers metadata only "
                    "(lists, info, XML, jobs, events, metrics); use the read-write socket, "
                    "as root");
    } else {
        g_autofree char *text = NULL;
        if (params) {
            g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
            json_node_set_object(node, params);
            text = json_to_string(node, false);
        }
        g_set_error(error, PD_ERROR, code_of(name), "%s %s", name, text ? text : "");
    }
}

/* Reads until a NUL; returns the message text (caller frees) or NULL. */
static char *read_message(PcConn *conn, GError **error)
{
    for (;;) {
        guint8 *nul = conn->buf->len ? memchr(conn->buf->data, 0, conn->buf->len) : NULL;
        if (nul) {
            size_t len = (size_t)(nul - conn->buf->data);
            char *text = g_strndup((const char *)conn->buf->data, len);
            g_byte_array_remove_range(conn->buf, 0, (guint)len + 1);
            return text;
        }
        guint8 chunk[65536];
        ssize_t n = read(conn->fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                g_set_error(error, PD_ERROR, PD_ERROR_IO, "the daemon at %s closed the connection",
                            conn->path);
            else
                pd_error_set_errno(error, errno, "reading from the daemon at %s", conn->path);
            return NULL;
        }
        g_byte_array_append(conn->buf, chunk, (guint)n);
    }
}

JsonObject *pc_conn_recv(PcConn *conn, bool *ret_continues, char **ret_error_name, GError **error)
{
    g_autofree char *text = read_message(conn, error);
    if (!text)
        return NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *root = NULL;
    if (!json_parser_load_from_data(parser, text, -1, NULL) ||
        !(root = json_parser_get_root(parser)) || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, PD_ERROR, PD_ERROR_IO, "the daemon sent a malformed reply");
        return NULL;
    }
    JsonObject *msg = json_node_get_object(root);
    JsonObject *params = json_object_has_member(msg, "parameters") &&
                                 JSON_NODE_HOLDS_OBJECT(json_object_get_member(msg, "parameters"))
                             ? json_object_get_object_member(msg, "parameters")
                             : NULL;
    if (ret_continues)
        *ret_continues = json_object_has_member(msg, "continues") &&
                         json_object_get_boolean_member(msg, "continues");
    if (json_object_has_member(msg, "error")) {
        const char *name = json_object_get_string_member(msg, "error");
        if (ret_error_name)
            *ret_error_name = g_strdup(name);
        set_reply_error(name, params, error);
        return NULL;
    }
    return params ? json_object_ref(params) : json_object_new();
}

int pc_conn_wait(PcConn *conn, gint64 deadline, const gint *interrupted)
{
    for (;;) {
        if (conn->buf->len && memchr(conn->buf->data, 0, conn->buf->len))
            return 1;
        int ms = -1;
        if (deadline > 0) {
            gint64 left = deadline - g_get_monotonic_time();
            if (left <= 0)
                return 0;
            ms = (int)MIN((left + 999) / 1000, (gint64)G_MAXINT);
        }
        struct pollfd pfd = {.fd = conn->fd, .events = POLLIN};
        int n = poll(&pfd, 1, ms);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return 1; /* the read reports it */
        if (interrupted && g_atomic_int_get(interrupted))
            return -1;
    }
}

JsonObject *pc_call(PcConn *conn, const char *method, JsonObject *params, GError **error)
{
    if (!pc_conn_send(conn, method, params, false, -1, error))
        return NULL;
    return pc_conn_recv(conn, NULL, NULL, error);
}
