/* Reconciliation of the attachment rows of a URI with libvirt's domains. */
#include "common/pd-error.h"
#include "daemon/attach/attach-private.h"
#include "daemon/observe/events.h"
#include "daemon/jobs/jobs.h"

GPtrArray *pd_reconcile_scan(PdLibvirtConns *conns, const char *uri, GError **error)
{
    const PdLibvirtModule *module = pd_libvirt_module_load(error); /* loaded: @conns exists */
    return module ? module->scan_domains(conns, uri, error) : NULL;
}

/* One disk found in a domain: where it is, and the volume it uses. */
typedef struct {
    const char *domain;
    const char *target;
    const char *pool;
    const char *volume;
    const char *mode;
    bool live, config;
} Found;

/* Adds the disks of @scan that use a volume poold knows to @found (keyed "domain\ntarget"). */
static void collect(PdDaemon *daemon, const PdDomainScan *scan, GHashTable *found)
{
    GPtrArray *lists[2] = {scan->live, scan->config};
    for (unsigned l = 0; l < 2; l++) {
        for (guint i = 0; lists[l] && i < lists[l]->len; i++) {
            PdDomainDisk *disk = lists[l]->pdata[i];
            PdPoolObj *obj = NULL;
            PdVol *vol = NULL;
            if (!pd_attach_match_volume(daemon, disk, &obj, &vol))
                continue;
            char *key = g_strdup_printf("%s\n%s", scan->name, disk->target);
            Found *f = g_hash_table_lookup(found, key);
            if (!f) {
                f = g_new0(Found, 1);
                f->domain = scan->name;
                f->target = disk->target;
                f->pool = pd_pool_obj_name(obj);
                f->volume = vol->name;
                f->mode = pd_domain_disk_mode(disk);
                g_hash_table_insert(found, key, f);
            } else {
                g_free(key);
            }
            if (l == 0)
                f->live = true;
            else
                f->config = true;
        }
    }
}

/* Settles one row against what was found: removes, updates or keeps it. */
static bool settle_row(PdDaemon *daemon, PdStoreAttachment *row, Found *f, unsigned *changes,
                       GError **error)
{
    bool same_volume = f && g_str_equal(f->pool, row->pool) && g_str_equal(f->volume, row->volume);
    PdPoolObj *obj = g_hash_table_lookup(daemon->pools, row->pool);
    if (!f && (!obj || !obj->active))
        return true; /* its volume cannot be matched while the pool is inactive: keep it */
    if (!f || !same_volume) {
        if (!pd_store_attachment_delete(daemon->store, row->uri, row->domain, row->target, error) ||
            !pd_attach_emit(daemon, "vol-detached", row->pool, row->volume, row->domain,
                            row->target, row->live, row->config,
                            row->live || row->config ? "gone, found at reconciliation"
                                                     : "the attach did not complete",
                            error))
            return false;
        (*changes)++;
        return true; /* a different volume at that target gets its own row below */
    }
    if (row->live == f->live && row->config == f->config)
        return true;
    bool was_pending = !row->live && !row->config;
    row->live = f->live;
    row->config = f->config;
    if (!pd_store_attachment_put(daemon->store, row, error) ||
        (was_pending &&
         !pd_attach_emit(daemon, "vol-attached", row->pool, row->volume, row->domain, row->target,
                         row->live, row->config, "completed at reconciliation", error)))
        return false;
    (*changes)++;
    return true;
}

static bool add_found(PdDaemon *daemon, const char *uri, Found *f, unsigned *changes,
                      GError **error)
{
    PdStoreAttachment row = {.uri = (char *)uri,
                             .domain = (char *)f->domain,
                             .target = (char *)f->target,
                             .pool = (char *)f->pool,
                             .volume = (char *)f->volume,
                             .mode = (char *)f->mode,
                             .live = f->live,
                             .config = f->config};
    if (!pd_store_attachment_put(daemon->store, &row, error) ||
        !pd_attach_emit(daemon, "vol-attached", f->pool, f->volume, f->domain, f->target, f->live,
                        f->config, "outside poold, found at reconciliation", error))
        return false;
    (*changes)++;
    return true;
}

/* The changes, inside an open transaction. */
static bool reconcile_rows(PdDaemon *daemon, const char *uri, GPtrArray *scans, unsigned *changes,
                           GError **error)
{
    g_autoptr(GHashTable) found = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; i < scans->len; i++)
        collect(daemon, scans->pdata[i], found);
    g_autoptr(GPtrArray) rows = pd_store_attachment_list(daemon->store, uri, NULL, NULL, error);
    if (!rows)
        return false;
    for (guint i = 0; i < rows->len; i++) {
        PdStoreAttachment *row = rows->pdata[i];
        g_autofree char *key = g_strdup_printf("%s\n%s", row->domain, row->target);
        /* An attach or detach in progress (its job holds the volume) records its own result:
         * not settled under its feet, and its disk not added twice. */
        if (pd_jobs_volume_busy(daemon->jobs, row->pool, row->volume)) {
            g_hash_table_remove(found, key);
            continue;
        }
        Found *f = g_hash_table_lookup(found, key);
        if (!settle_row(daemon, row, f, changes, error))
            return false;
        if (f && g_str_equal(f->pool, row->pool) && g_str_equal(f->volume, row->volume))
            g_hash_table_remove(found, key); /* settled */
    }
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, found);
    while (g_hash_table_iter_next(&it, NULL, &value))
        if (!add_found(daemon, uri, value, changes, error))
            return false;
    return true;
}

bool pd_reconcile_apply(PdDaemon *daemon, const char *uri, GPtrArray *scans, unsigned *ret_changes,
                        GError **error)
{
    unsigned changes = 0;
    if (!pd_store_begin(daemon->store, error))
        return false;
    if (!reconcile_rows(daemon, uri, scans, &changes, error) ||
        !pd_store_commit(daemon->store, error)) {
        pd_store_rollback(daemon->store);
        pd_events_discard(daemon->events);
        return false;
    }
    pd_events_flush(daemon->events);
    if (ret_changes)
        *ret_changes = changes;
    return true;
}

/* ---- scheduling: scan in a job, apply on the main loop ---- */

typedef struct {
    PdDaemon *daemon;
    PdLibvirtConns *conns;
    char *uri;
    guint64 generation;
    GPtrArray *scans;
    GError *error;
} Reconcile;

static void reconcile_free(gpointer data)
{
    Reconcile *r = data;
    g_free(r->uri);
    if (r->scans)
        g_ptr_array_unref(r->scans);
    g_clear_error(&r->error);
    g_free(r);
}

static void start_scan(PdDaemon *daemon, const char *uri);

/* Main loop: applies what the scan found (or logs why it found nothing), and scans again
 * when a request came meanwhile. The job fails when the scan or the apply did. */
static JsonObject *apply_scan(PdDaemon *daemon, PdJob *job, gpointer data, GError **error)
{
    Reconcile *r = data;
    PdLibvirt *state = daemon->libvirt;
    bool again = GPOINTER_TO_INT(g_hash_table_lookup(state->reconciling, r->uri)) == 2;
    bool ok = true;
    if (r->scans && r->generation != state->generation) {
        again = true; /* an attach or detach was applied meanwhile: the scan may predate it */
    } else if (r->scans) {
        unsigned changes = 0;
        ok = pd_reconcile_apply(daemon, r->uri, r->scans, &changes, error);
        if (!ok)
            g_warning("reconciling attachments with %s: %s", r->uri, (*error)->message);
        else if (changes)
            g_message("reconciled attachments with %s: %u change(s)", r->uri, changes);
    } else {
        g_warning("reconciling attachments with %s: %s (the records are kept)", r->uri,
                  r->error->message);
        g_propagate_error(error, g_steal_pointer(&r->error));
        ok = false;
    }
    g_hash_table_remove(state->reconciling, r->uri);
    if (!again && state->starting)
        g_hash_table_remove(state->starting, r->uri); /* known now (or libvirt unreachable) */
    if (again)
        start_scan(daemon, r->uri);
    return ok ? json_object_new() : NULL;
}

/* Worker: reads the domains' disks. Always true: apply_scan reports a failed scan (the
 * module could not be loaded, libvirt unreachable) and cleans up after any outcome. */
static bool run_scan(PdJob *job, GCancellable *cancellable, gpointer data, GError **error)
{
    Reconcile *r = data;
    if (r->conns) /* else the module could not be loaded: r->error says why */
        r->scans = pd_reconcile_scan(r->conns, r->uri, &r->error);
    if (r->scans && pd_job_cancelled(job, cancellable, &r->error))
        g_clear_pointer(&r->scans, g_ptr_array_unref); /* cancelled: nothing is applied */
    return true;
}

static void start_scan(PdDaemon *daemon, const char *uri)
{
    PdLibvirt *state = daemon->libvirt;
    g_hash_table_insert(state->reconciling, g_strdup(uri), GINT_TO_POINTER(1));
    Reconcile *r = g_new0(Reconcile, 1);
    r->daemon = daemon;
    if (pd_attach_load(daemon, &r->error))
        r->conns = state->conns;
    r->uri = g_strdup(uri);
    r->generation = state->generation;
    PdJobSpec spec = {
        .kind = "attach-reconcile",
        .run = run_scan,
        .apply = apply_scan,
        .apply_owns_txn = true, /* pd_reconcile_apply has its own */
        .data = r,
        .data_free = reconcile_free,
    };
    g_autoptr(GError) error = NULL;
    if (!pd_jobs_start(daemon->jobs, &spec, NULL, false, &error)) {
        g_warning("reconciling attachments with %s: %s", uri, error->message);
        g_hash_table_remove(state->reconciling, uri);
    }
}

void pd_reconcile_schedule(PdDaemon *daemon, const char *uri)
{
    PdLibvirt *state = daemon->libvirt;
    if (g_hash_table_contains(state->reconciling, uri)) {
        g_hash_table_insert(state->reconciling, g_strdup(uri), GINT_TO_POINTER(2));
        return;
    }
    start_scan(daemon, uri);
}

void pd_reconcile_start_up(PdDaemon *daemon)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) rows = pd_store_attachment_list(daemon->store, NULL, NULL, NULL, &error);
    if (!rows)
        g_warning("%s", error->message);
    g_autoptr(GHashTable) uris = g_hash_table_new(g_str_hash, g_str_equal);
    if (daemon->config.libvirt_uri && *daemon->config.libvirt_uri)
        g_hash_table_add(uris, daemon->config.libvirt_uri);
    g_autoptr(GHashTable) refused = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; rows && i < rows->len; i++) {
        char *uri = ((PdStoreAttachment *)rows->pdata[i])->uri;
        if (pd_attach_uri_allowed(daemon, uri))
            g_hash_table_add(uris, uri);
        else if (g_hash_table_add(refused, uri))
            g_warning("attachments recorded at libvirt URI %s are not reconciled: poold's "
                      "configuration does not allow that URI ([libvirt] uri, allowed_uris)",
                      uri);
    }
    GHashTableIter it;
    gpointer key;
    PdLibvirt *state = daemon->libvirt;
    if (!state->starting)
        state->starting = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_hash_table_iter_init(&it, uris);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        g_hash_table_add(state->starting, g_strdup(key));
        pd_reconcile_schedule(daemon, key);
    }
}
