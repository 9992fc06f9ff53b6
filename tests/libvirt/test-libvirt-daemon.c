/* poold's attachment policy driven directly (no socket) against libvirt's embedded QEMU
 * driver: attach-disk and detach-disk record their rows and events in the store; a failed
 * attach (stopped domain with --live, unknown domain, unreachable URI, target in use) leaves
 * no row; a volume attached read-write is refused elsewhere unless shareable; attached
 * volumes and their pool are protected; reconciliation picks up disks attached and detached
 * outside poold, settles the row a crash left between libvirt's answer and the store write,
 * and runs by itself on libvirt's device-removed event. Without QEMU the test exits 77. */
#include "common/pd-error.h"
#include "daemon/attach/attachments.h"
#include "daemon/libvirt/domain.h"
#include "daemon/observe/events.h"
#include "daemon/jobs/jobs.h"
#include "daemon/libvirt/disk.h"
#include "tests/libvirt/lv-fixture.h"

#include <glib/gstdio.h>
#include <string.h>

/* In [libvirt] allowed_uris of the test's configuration, but nothing listens there. */
#define UNREACHABLE_URI "qemu+unix:///system?socket=/nonexistent/poold-test.sock"

static LvFixture fx;
static PdDaemon the_daemon;
#define daemon (&the_daemon)
static PdPoolObj *pool_obj;

/* A daemon with a store, events, jobs, the libvirt state and a started dir pool "dpool". */
static void daemon_init(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *db = g_build_filename(fx.tmp, "poold.db", NULL);
    daemon->store = pd_store_open(db, &error);
    g_assert_no_error(error);
    daemon->pools =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)pd_pool_obj_free);
    daemon->events = pd_events_new(daemon->store);
    daemon->jobs = pd_jobs_new(daemon, daemon->store, daemon->events, 1);
    daemon->config.libvirt_uri = g_strdup(fx.uri);
    daemon->config.libvirt_detach_timeout_ms = 10000;
    /* A URI of the configuration that cannot be reached (a connection that fails). */
    daemon->config.libvirt_allowed_uris = g_strsplit(UNREACHABLE_URI, "\n", -1);
    daemon->config.libvirt_allowed_names = g_new0(char *, 2);
    daemon->config.libvirt_allowed_names[0] = g_strdup(""); /* no name */
    /* The daemon's own callbacks go to a context of the test's (libvirt's thread iterates the
     * default one); the test iterates it where it waits for them. */
    g_main_context_push_thread_default(g_main_context_new());
    daemon->libvirt = pd_attach_state_new(daemon);
    PdPoolDef *def = pd_pool_def_new(PD_POOL_DIR);
    def->name = g_strdup("dpool");
    def->target_path = g_build_filename(fx.tmp, "dpool", NULL);
    g_assert_cmpint(g_mkdir(def->target_path, 0755), ==, 0);
    pool_obj = pd_model_add_pool(daemon, def, true, &error);
    g_assert_no_error(error);
    g_assert_true(pd_model_start_pool_now(daemon, pool_obj, &error));
    g_assert_no_error(error);
}

static PdVol *new_volume(const char *name, const char *format)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdVolDef) def = pd_vol_def_new(PD_POOL_DIR);
    def->name = g_strdup(name);
    def->target_format = g_strdup(format);
    def->capacity = 16 * 1024 * 1024;
    def->has_capacity = true;
    PdVol *vol = NULL;
    g_assert_true(
        pd_pool_backend_vol_create(pool_obj->backend, pool_obj->pool, def, 0, NULL, &vol, &error));
    g_assert_true(pd_model_volume_put(daemon, pool_obj, vol, &error));
    g_assert_no_error(error);
    return pd_pool_find_vol(pool_obj->pool, name);
}

/* The rows of volume @volume (every row when NULL). */
static GPtrArray *rows_of(const char *volume)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *rows = pd_store_attachment_list(daemon->store, NULL, NULL, volume, &error);
    g_assert_no_error(error);
    return rows;
}

/* The row of (domain, target) or NULL. Not owned: lives until the next call. */
static PdStoreAttachment *row_at(const char *domain, const char *target)
{
    static GPtrArray *rows;
    g_clear_pointer(&rows, g_ptr_array_unref);
    rows = rows_of(NULL);
    for (guint i = 0; i < rows->len; i++) {
        PdStoreAttachment *a = rows->pdata[i];
        if (g_str_equal(a->domain, domain) && g_str_equal(a->target, target))
            return a;
    }
    return NULL;
}

/* The detail of the newest event of @kind for @volume, or NULL. Caller frees. */
static char *last_event(const char *kind, const char *volume)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) events = pd_store_event_list(daemon->store, 0, 100000, &error);
    g_assert_no_error(error);
    for (guint i = events->len; i > 0; i--) {
        PdStoreEvent *e = events->pdata[i - 1];
        if (g_str_equal(e->kind, kind) && g_strcmp0(e->volume, volume) == 0)
            return g_strdup(e->detail);
    }
    return NULL;
}

/* Applies inside a transaction, as the job does. */
static JsonObject *apply_in_txn(JsonObject *(*apply)(PdDaemon *, void *, GError **), void *op)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(pd_store_begin(daemon->store, &error));
    JsonObject *reply = apply(daemon, op, &error);
    g_assert_no_error(error);
    g_assert_true(pd_store_commit(daemon->store, &error));
    pd_events_flush(daemon->events);
    return reply;
}

static JsonObject *apply_attach(PdDaemon *d, void *op, GError **error)
{
    return pd_attach_apply(d, op, error);
}

static JsonObject *apply_detach(PdDaemon *d, void *op, GError **error)
{
    return pd_detach_apply(d, op, error);
}

/* attach-disk through the policy layer; asserts success. */
static void attach(const char *domain, const char *volume, const char *target, const char *mode,
                   PdAffectFlags flags)
{
    g_autoptr(GError) error = NULL;
    PdAttachRequest req = {.domain = domain,
                           .pool = "dpool",
                           .volume = volume,
                           .target = target,
                           .bus = "scsi",
                           .mode = mode,
                           .flags = flags};
    PdAttachOp *op = pd_attach_prepare(daemon, &req, false, &error);
    g_assert_no_error(error);
    /* in progress: recorded with neither live nor config before libvirt is asked */
    PdStoreAttachment *row = row_at(domain, target);
    g_assert_nonnull(row);
    g_assert_false(row->live || row->config);
    g_assert_true(pd_attach_run(op, &error));
    g_assert_no_error(error);
    g_autoptr(JsonObject) reply = apply_in_txn(apply_attach, op);
    pd_attach_op_free(op);
    row = row_at(domain, target);
    g_assert_nonnull(row);
    g_assert_cmpstr(row->volume, ==, volume);
    g_assert_cmpstr(row->pool, ==, "dpool");
    g_assert_cmpstr(row->uri, ==, fx.uri);
    g_assert_cmpstr(row->mode, ==, mode);
    g_assert_true(row->live == json_object_get_boolean_member(reply, "live"));
    g_assert_true(row->config == json_object_get_boolean_member(reply, "config"));
    g_assert_true(row->live == lv_domain_has_target(&fx, domain, target, false));
    g_assert_true(row->config == lv_domain_has_target(&fx, domain, target, true));
    g_autofree char *detail = last_event("vol-attached", volume);
    g_assert_nonnull(detail);
    g_assert_nonnull(strstr(detail, domain));
    g_assert_nonnull(strstr(detail, target));
}

static void detach(const char *domain, const char *target, PdAffectFlags flags)
{
    g_autoptr(GError) error = NULL;
    PdDetachRequest req = {.domain = domain, .target = target, .flags = flags};
    PdDetachOp *op = pd_detach_prepare(daemon, &req, &error);
    g_assert_no_error(error);
    g_assert_true(pd_detach_run(op, &error));
    g_assert_no_error(error);
    g_autoptr(JsonObject) reply = apply_in_txn(apply_detach, op);
    pd_detach_op_free(op);
}

/* An attach that fails at @stage (0 prepare, 1 run) with @code; no row remains. */
static void attach_fails(const char *uri, const char *domain, const char *volume,
                         const char *target, const char *mode, PdAffectFlags flags, int stage,
                         int code, const char *needle)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) before = rows_of(NULL);
    PdAttachRequest req = {.uri = uri,
                           .domain = domain,
                           .pool = "dpool",
                           .volume = volume,
                           .target = target,
                           .bus = "scsi",
                           .mode = mode,
                           .flags = flags};
    PdAttachOp *op = pd_attach_prepare(daemon, &req, false, &error);
    if (stage == 0) {
        g_assert_null(op);
    } else {
        g_assert_no_error(error);
        g_assert_false(pd_attach_run(op, &error));
        pd_attach_op_free(op); /* the job frees it: the in-progress row goes */
    }
    g_assert_error(error, PD_ERROR, code);
    g_test_message("refused: %s", error->message);
    g_assert_nonnull(strstr(error->message, needle));
    g_autoptr(GPtrArray) after = rows_of(NULL);
    g_assert_cmpuint(after->len, ==, before->len);
}

static void test_attach_detach_recorded(void)
{
    new_volume("a.qcow2", "qcow2");
    PdAffectFlags both = {.live = true, .config = true};
    attach("vm1", "a.qcow2", "sdb", NULL, both);
    /* detach the live disk only: the row keeps config */
    detach("vm1", "sdb", (PdAffectFlags){.live = true});
    PdStoreAttachment *row = row_at("vm1", "sdb");
    g_assert_nonnull(row);
    g_assert_false(row->live);
    g_assert_true(row->config);
    g_assert_false(lv_domain_has_target(&fx, "vm1", "sdb", false));
    g_autofree char *detail = last_event("vol-detached", "a.qcow2");
    g_assert_nonnull(strstr(detail, "(live)"));
    detach("vm1", "sdb", (PdAffectFlags){.config = true});
    g_assert_null(row_at("vm1", "sdb"));
    g_assert_false(lv_domain_has_target(&fx, "vm1", "sdb", true));
}

static void test_failed_attach_leaves_nothing(void)
{
    new_volume("f.raw", "raw");
    PdAffectFlags live = {.live = true};
    attach_fails(NULL, "vm-off", "f.raw", "sdc", NULL, live, 1, PD_ERROR_INVALID_STATE,
                 "is not running");
    attach_fails(NULL, "no-such-vm", "f.raw", "sdc", NULL, live, 1, PD_ERROR_NO_SUCH_DOMAIN,
                 "no-such-vm");
    attach_fails(UNREACHABLE_URI, "vm1", "f.raw", "sdc", NULL, live, 1, PD_ERROR_IO,
                 "cannot connect to libvirt");
    /* A URI that is not in the configuration is refused before any connection. */
    attach_fails("qemu+unix:///system?socket=/nonexistent/other.sock", "vm1", "f.raw", "sdc", NULL,
                 live, 0, PD_ERROR_PERMISSION_DENIED, "is not allowed");
    attach_fails(NULL, "vm1", "f.raw", "nonsense0", NULL, live, 0, PD_ERROR_INVALID_ARGUMENT,
                 "invalid disk target");
    attach_fails(NULL, "vm1", "no-such-volume", "sdc", NULL, live, 0, PD_ERROR_NO_SUCH_VOLUME,
                 "no-such-volume");
    g_assert_false(lv_domain_has_target(&fx, "vm1", "sdc", false));
    g_assert_false(lv_domain_has_target(&fx, "vm-off", "sdc", true));
    /* target used by a disk attached through poold: refused before libvirt is asked */
    attach("vm1", "f.raw", "sdc", NULL, live);
    new_volume("g.raw", "raw");
    attach_fails(NULL, "vm1", "g.raw", "sdc", NULL, live, 0, PD_ERROR_EXISTS, "already used");
    g_assert_nonnull(row_at("vm1", "sdc"));
    detach("vm1", "sdc", live);
}

static void test_sharing(void)
{
    new_volume("s.raw", "raw");
    PdAffectFlags live = {.live = true};
    attach("vm1", "s.raw", "sdd", NULL, live);
    attach_fails(NULL, "vm2", "s.raw", "sdd", NULL, live, 0, PD_ERROR_VOLUME_ATTACHED,
                 "already attached read-write to domain 'vm1' as sdd");
    attach_fails(NULL, "vm2", "s.raw", "sdd", "readonly", live, 0, PD_ERROR_VOLUME_ATTACHED,
                 "domain 'vm1'");
    detach("vm1", "sdd", live);
    /* shareable on both sides */
    attach("vm1", "s.raw", "sdd", "shareable", live);
    attach("vm2", "s.raw", "sdd", "shareable", live);
    g_autoptr(GPtrArray) rows = rows_of("s.raw");
    g_assert_cmpuint(rows->len, ==, 2);
    detach("vm1", "sdd", live);
    detach("vm2", "sdd", live);
}

static void test_protection(void)
{
    new_volume("p.qcow2", "qcow2");
    attach("vm1", "p.qcow2", "sde", NULL, (PdAffectFlags){.live = true});
    static const char *const actions[] = {"delete", "wipe", "shrink", "revert to a snapshot"};
    for (unsigned i = 0; i < G_N_ELEMENTS(actions); i++) {
        g_autoptr(GError) error = NULL;
        g_assert_false(pd_attach_check_unattached(daemon, "dpool", "p.qcow2", actions[i], &error));
        g_assert_error(error, PD_ERROR, PD_ERROR_VOLUME_ATTACHED);
        g_assert_nonnull(strstr(error->message, actions[i]));
        g_assert_nonnull(strstr(error->message, "domain 'vm1' as sde"));
    }
    g_autoptr(GError) error = NULL;
    g_assert_false(pd_attach_check_unattached(daemon, "dpool", NULL, "delete", &error));
    g_assert_nonnull(strstr(error->message, "pool 'dpool'"));
    g_clear_error(&error);
    g_assert_true(pd_attach_check_unattached(daemon, "dpool", "a.qcow2", "delete", &error));
    detach("vm1", "sde", (PdAffectFlags){.live = true});
    g_assert_true(pd_attach_check_unattached(daemon, "dpool", "p.qcow2", "delete", &error));
    g_assert_true(pd_attach_check_unattached(daemon, "dpool", NULL, "delete", &error));
}

/* Attaches @vol at @target of @domain directly through libvirt, as virsh would. */
static void attach_outside(const char *domain, const char *volume, const char *target,
                           PdAffectFlags flags)
{
    g_autoptr(GError) error = NULL;
    PdVol *vol = pd_pool_find_vol(pool_obj->pool, volume);
    PdDiskSource src = {.type = PD_DISK_SOURCE_FILE, .path = vol->path};
    PdDiskSpec spec = {.source = &src, .target = target, .format = vol->format, .bus = "scsi"};
    g_autofree char *xml = pd_libvirt_disk_xml(&spec, &error);
    unsigned affected = 0;
    g_assert_true(pd_libvirt_attach_disk(fx.conn, domain, xml, target, &flags, &affected, &error));
    g_assert_no_error(error);
}

static unsigned reconcile_now(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) scans = pd_reconcile_scan(pd_attach_conns(daemon), fx.uri, &error);
    g_assert_no_error(error);
    unsigned changes = 0;
    g_assert_true(pd_reconcile_apply(daemon, fx.uri, scans, &changes, &error));
    g_assert_no_error(error);
    return changes;
}

static void test_reconcile(void)
{
    new_volume("r.qcow2", "qcow2");
    g_assert_cmpuint(reconcile_now(), ==, 0); /* nothing to do */
    attach_outside("vm1", "r.qcow2", "sdf", (PdAffectFlags){.live = true, .config = true});
    g_assert_cmpuint(reconcile_now(), ==, 1);
    PdStoreAttachment *row = row_at("vm1", "sdf");
    g_assert_nonnull(row);
    g_assert_true(row->live && row->config);
    g_assert_cmpstr(row->volume, ==, "r.qcow2");
    g_autofree char *detail = last_event("vol-attached", "r.qcow2");
    g_assert_nonnull(strstr(detail, "outside poold"));
    g_assert_cmpuint(reconcile_now(), ==, 0); /* settled */

    /* detached outside poold (live), then undefined config: the row follows */
    g_autoptr(GError) error = NULL;
    unsigned affected = 0;
    PdAffectFlags live = {.live = true};
    g_assert_true(
        pd_libvirt_detach_disk(fx.conn, "vm1", "sdf", &live, 10000, &affected, NULL, &error));
    g_assert_cmpuint(reconcile_now(), ==, 1);
    row = row_at("vm1", "sdf");
    g_assert_true(!row->live && row->config);
    PdAffectFlags config = {.config = true};
    g_assert_true(
        pd_libvirt_detach_disk(fx.conn, "vm1", "sdf", &config, 10000, &affected, NULL, &error));
    g_assert_cmpuint(reconcile_now(), ==, 1);
    g_assert_null(row_at("vm1", "sdf"));

    /* A crash between libvirt's answer and the store write: the in-progress row is settled
     * from the domain's XML; one whose attach never happened goes. */
    attach_outside("vm1", "r.qcow2", "sdg", live);
    PdStoreAttachment left = {
        .uri = fx.uri, .domain = "vm1", .target = "sdg", .pool = "dpool", .volume = "r.qcow2"};
    g_assert_true(pd_store_attachment_put(daemon->store, &left, &error));
    PdStoreAttachment never = {
        .uri = fx.uri, .domain = "vm1", .target = "sdh", .pool = "dpool", .volume = "a.qcow2"};
    g_assert_true(pd_store_attachment_put(daemon->store, &never, &error));
    g_assert_cmpuint(reconcile_now(), ==, 2);
    row = row_at("vm1", "sdg");
    g_assert_true(row && row->live && !row->config);
    g_assert_null(row_at("vm1", "sdh"));
    g_free(detail);
    detail = last_event("vol-attached", "r.qcow2");
    g_assert_nonnull(strstr(detail, "completed at reconciliation"));
    detach("vm1", "sdg", live);
    g_assert_null(row_at("vm1", "sdg"));
}

static gboolean timeout_cb(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

/* libvirt's device-removed event alone (no call to poold) brings the row in line. */
static void test_reconcile_on_event(void)
{
    g_autoptr(GError) error = NULL;
    attach("vm1", "r.qcow2", "sdi", NULL, (PdAffectFlags){.live = true});
    /* the daemon's cached connection watches the domains of the URI */
    g_autoptr(PdLibvirtConn) watched =
        pd_libvirt_conns_get(pd_attach_conns(daemon), fx.uri, &error);
    g_assert_no_error(error);
    unsigned affected = 0;
    PdAffectFlags live = {.live = true};
    g_assert_true(
        pd_libvirt_detach_disk(fx.conn, "vm1", "sdi", &live, 10000, &affected, NULL, &error));
    bool timed_out = false;
    GMainContext *ctx = g_main_context_get_thread_default();
    GSource *timer = g_timeout_source_new_seconds(20);
    g_source_set_callback(timer, timeout_cb, &timed_out, NULL);
    (void)g_source_attach(timer, ctx);
    while (row_at("vm1", "sdi") && !timed_out)
        g_main_context_iteration(ctx, true);
    g_assert_false(timed_out);
    g_source_destroy(timer);
    g_source_unref(timer);
    g_autofree char *detail = last_event("vol-detached", "r.qcow2");
    g_assert_nonnull(strstr(detail, "found at reconciliation"));
}

int main(int argc, char **argv)
{
    lv_require_qemu();
    g_test_init(&argc, &argv, NULL);
    lv_fixture_init(&fx);
    daemon_init();
    lv_domain_new(&fx, "vm1", true);
    lv_domain_new(&fx, "vm2", true);
    lv_domain_new(&fx, "vm-off", false);
    g_test_add_func("/libvirt/daemon/attach-detach-recorded", test_attach_detach_recorded);
    g_test_add_func("/libvirt/daemon/failed-attach-leaves-nothing",
                    test_failed_attach_leaves_nothing);
    g_test_add_func("/libvirt/daemon/sharing", test_sharing);
    g_test_add_func("/libvirt/daemon/protection", test_protection);
    g_test_add_func("/libvirt/daemon/reconcile", test_reconcile);
    g_test_add_func("/libvirt/daemon/reconcile-on-event", test_reconcile_on_event);
    int rc = g_test_run();
    lv_fixture_clear(&fx);
    return rc;
}
