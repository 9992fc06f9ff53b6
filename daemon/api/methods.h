/* The method table (table.c) and its handlers, one file per interface. */
#pragma once

#include "daemon/rpc/dispatch.h"
#include "daemon/model/model.h"

G_BEGIN_DECLS

/* The method table, terminated by an entry with name NULL. */
const PdMethod *pd_method_table(void);
const PdMethod *pd_method_lookup(const char *name);

#define PD_HANDLER(fn) void fn(PdDaemon *daemon, PdCall *call, JsonObject *params)

/* methods-service.c: org.varlink.service, io.poold.Daemon */
PD_HANDLER(pd_method_get_info);
PD_HANDLER(pd_method_get_interface_description);
PD_HANDLER(pd_method_daemon_info);
PD_HANDLER(pd_method_daemon_metrics);

/* methods-pool.c */
PD_HANDLER(pd_method_pool_list);
PD_HANDLER(pd_method_pool_info);
PD_HANDLER(pd_method_pool_dumpxml);
PD_HANDLER(pd_method_pool_capabilities);
PD_HANDLER(pd_method_pool_find_sources);
PD_HANDLER(pd_method_pool_define);
PD_HANDLER(pd_method_pool_create);
PD_HANDLER(pd_method_pool_undefine);
PD_HANDLER(pd_method_pool_build);
PD_HANDLER(pd_method_pool_start);
PD_HANDLER(pd_method_pool_stop);
PD_HANDLER(pd_method_pool_delete);
PD_HANDLER(pd_method_pool_refresh);
PD_HANDLER(pd_method_pool_set_autostart);
/* pool-define: parses @xml, refuses a type without a backend, defines (or redefines) the
 * persistent pool with its event, in its own transaction. NULL with an error. */
PdPoolObj *pd_pool_define_xml(PdDaemon *daemon, const char *xml, GError **error);

/* methods-pool-libvirt.c: pools shared with libvirt */
PD_HANDLER(pd_method_pool_import_libvirt);
PD_HANDLER(pd_method_pool_export_libvirt);

/* methods-vol.c */
PD_HANDLER(pd_method_vol_list);
PD_HANDLER(pd_method_vol_info);
PD_HANDLER(pd_method_vol_dumpxml);
PD_HANDLER(pd_method_vol_create);
PD_HANDLER(pd_method_vol_create_from);
PD_HANDLER(pd_method_vol_clone);
PD_HANDLER(pd_method_vol_delete);
PD_HANDLER(pd_method_vol_resize);
PD_HANDLER(pd_method_vol_wipe);
PD_HANDLER(pd_method_vol_upload);
PD_HANDLER(pd_method_vol_download);
PD_HANDLER(pd_method_vol_snapshot_create);
PD_HANDLER(pd_method_vol_snapshot_list);
PD_HANDLER(pd_method_vol_snapshot_revert);
PD_HANDLER(pd_method_vol_snapshot_delete);

/* methods-domain.c: io.poold.Domain */
PD_HANDLER(pd_method_domain_attach_disk);
PD_HANDLER(pd_method_domain_detach_disk);
PD_HANDLER(pd_method_domain_blklist);

/* methods-secret.c: io.poold.Secret */
PD_HANDLER(pd_method_secret_list);
PD_HANDLER(pd_method_secret_define);
PD_HANDLER(pd_method_secret_dumpxml);
PD_HANDLER(pd_method_secret_set_value);
PD_HANDLER(pd_method_secret_get_value);
PD_HANDLER(pd_method_secret_undefine);

/* methods-job.c: io.poold.Job, io.poold.Event */
PD_HANDLER(pd_method_job_list);
PD_HANDLER(pd_method_job_get);
PD_HANDLER(pd_method_job_cancel);
PD_HANDLER(pd_method_job_wait);
PD_HANDLER(pd_method_event_list);
PD_HANDLER(pd_method_event_subscribe);

G_END_DECLS
