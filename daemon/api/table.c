/* The method table: every method of the API with its handler, the schema of its parameters
 * and its flags (method.h). The router (rpc/dispatch.h) is given it by main.c. */
#include "daemon/api/methods.h"

#define S(n)                                                                                       \
    {                                                                                              \
        n, PD_PARAM_STRING, true                                                                   \
    }
#define SO(n)                                                                                      \
    {                                                                                              \
        n, PD_PARAM_STRING, false                                                                  \
    }
#define I(n)                                                                                       \
    {                                                                                              \
        n, PD_PARAM_INT, true                                                                      \
    }
#define IO(n)                                                                                      \
    {                                                                                              \
        n, PD_PARAM_INT, false                                                                     \
    }
#define B(n)                                                                                       \
    {                                                                                              \
        n, PD_PARAM_BOOL, true                                                                     \
    }
#define BO(n)                                                                                      \
    {                                                                                              \
        n, PD_PARAM_BOOL, false                                                                    \
    }
#define END                                                                                        \
    {                                                                                              \
        NULL, 0, false                                                                             \
    }

static const PdParamSpec p_interface[] = {S("interface"), END};
static const PdParamSpec p_pool[] = {S("pool"), END};
static const PdParamSpec p_xml[] = {S("xml"), END};
static const PdParamSpec p_pool_dumpxml[] = {S("pool"), BO("inactive"), END};
static const PdParamSpec p_pool_create[] = {S("xml"), BO("build"), BO("overwrite"), END};
static const PdParamSpec p_pool_build[] = {S("pool"), BO("overwrite"), BO("no_overwrite"), END};
static const PdParamSpec p_pool_start[] = {S("pool"), BO("build"), END};
static const PdParamSpec p_pool_autostart[] = {S("pool"), B("autostart"), END};
static const PdParamSpec p_vol[] = {SO("pool"), S("volume"), END};
static const PdParamSpec p_vol_delete[] = {SO("pool"), S("volume"), BO("delete_snapshots"), END};
static const PdParamSpec p_vol_create[] = {S("pool"), S("xml"), BO("async"), END};
static const PdParamSpec p_vol_create_from[] = {
    S("pool"), S("xml"), SO("source_pool"), S("source"), BO("reflink"), BO("async"), END};
static const PdParamSpec p_vol_clone[] = {SO("pool"),    S("volume"), S("name"),
                                          BO("reflink"), BO("async"), END};
static const PdParamSpec p_vol_resize[] = {SO("pool"),   S("volume"),    I("capacity"), BO("delta"),
                                           BO("shrink"), BO("allocate"), BO("async"),   END};
static const PdParamSpec p_vol_wipe[] = {SO("pool"), S("volume"), SO("algorithm"), BO("async"),
                                         END};
static const PdParamSpec p_vol_transfer[] = {SO("pool"),   S("volume"), IO("offset"), IO("length"),
                                             BO("sparse"), BO("async"), END};
static const PdParamSpec p_vol_snapshot[] = {SO("pool"), S("volume"), S("name"), END};
static const PdParamSpec p_job[] = {I("id"), END};
static const PdParamSpec p_attach_disk[] = {
    SO("uri"),       S("domain"),      SO("pool"),      S("volume"),     S("target"), SO("driver"),
    SO("subdriver"), SO("cache"),      SO("targetbus"), SO("type"),      SO("mode"),  BO("live"),
    BO("config"),    BO("persistent"), BO("current"),   BO("print_xml"), END};
static const PdParamSpec p_detach_disk[] = {SO("uri"),     S("domain"),  S("target"),
                                            BO("live"),    BO("config"), BO("persistent"),
                                            BO("current"), END};
static const PdParamSpec p_blklist[] = {SO("uri"), S("domain"), BO("inactive"), END};
static const PdParamSpec p_import_libvirt[] = {SO("uri"), SO("pool"), END};
static const PdParamSpec p_find_sources[] = {S("type"), SO("host"), IO("port"), SO("initiator"),
                                             END};
static const PdParamSpec p_export_libvirt[] = {SO("uri"), S("pool"), END};
static const PdParamSpec p_secret[] = {S("secret"), END};
static const PdParamSpec p_secret_value[] = {S("secret"), S("value"), END};
static const PdParamSpec p_event_list[] = {IO("since"), IO("limit"), END};

/* The class column: what the read-only socket admits (docs/security.md). */
#define READ  PD_CLASS_READ
#define WRITE PD_CLASS_WRITE
#define DATA  PD_CLASS_DATA
#define PRIV  PD_CLASS_PRIVILEGED

enum {
    J = PD_METHOD_JOB,
    M = PD_METHOD_NEEDS_MORE,
    F = PD_METHOD_TAKES_FD,
    O = PD_METHOD_OVERLAP,
};

static const PdMethod methods[] = {
    {"org.varlink.service.GetInfo", pd_method_get_info, NULL, READ, 0},
    {"org.varlink.service.GetInterfaceDescription", pd_method_get_interface_description,
     p_interface, READ, 0},
    {"io.poold.Daemon.Info", pd_method_daemon_info, NULL, READ, 0},
    {"io.poold.Daemon.Metrics", pd_method_daemon_metrics, NULL, READ, 0},

    {"io.poold.Pool.List", pd_method_pool_list, NULL, READ, 0},
    {"io.poold.Pool.Info", pd_method_pool_info, p_pool, READ, 0},
    {"io.poold.Pool.DumpXML", pd_method_pool_dumpxml, p_pool_dumpxml, READ, 0},
    {"io.poold.Pool.Capabilities", pd_method_pool_capabilities, NULL, READ, 0},
    {"io.poold.Pool.FindSources", pd_method_pool_find_sources, p_find_sources, PRIV, 0},
    {"io.poold.Pool.Define", pd_method_pool_define, p_xml, WRITE, 0},
    {"io.poold.Pool.Create", pd_method_pool_create, p_pool_create, WRITE, 0},
    {"io.poold.Pool.Undefine", pd_method_pool_undefine, p_pool, WRITE, 0},
    {"io.poold.Pool.Build", pd_method_pool_build, p_pool_build, WRITE, 0},
    {"io.poold.Pool.Start", pd_method_pool_start, p_pool_start, WRITE, 0},
    {"io.poold.Pool.Stop", pd_method_pool_stop, p_pool, WRITE, 0},
    {"io.poold.Pool.Delete", pd_method_pool_delete, p_pool, WRITE, 0},
    {"io.poold.Pool.Refresh", pd_method_pool_refresh, p_pool, WRITE, 0},
    {"io.poold.Pool.SetAutostart", pd_method_pool_set_autostart, p_pool_autostart, WRITE, 0},
    {"io.poold.Pool.ImportLibvirt", pd_method_pool_import_libvirt, p_import_libvirt, PRIV, 0},
    /* Changes nothing in poold, but defines and starts a pool in libvirt. */
    {"io.poold.Pool.ExportLibvirt", pd_method_pool_export_libvirt, p_export_libvirt, PRIV, 0},

    {"io.poold.Volume.List", pd_method_vol_list, p_pool, READ, 0},
    {"io.poold.Volume.Info", pd_method_vol_info, p_vol, READ, 0},
    {"io.poold.Volume.DumpXML", pd_method_vol_dumpxml, p_vol, READ, 0},
    {"io.poold.Volume.Create", pd_method_vol_create, p_vol_create, WRITE, J | O},
    {"io.poold.Volume.CreateFrom", pd_method_vol_create_from, p_vol_create_from, WRITE, J},
    {"io.poold.Volume.Clone", pd_method_vol_clone, p_vol_clone, WRITE, J},
    {"io.poold.Volume.Delete", pd_method_vol_delete, p_vol_delete, WRITE, O},
    {"io.poold.Volume.Resize", pd_method_vol_resize, p_vol_resize, WRITE, J},
    {"io.poold.Volume.Wipe", pd_method_vol_wipe, p_vol_wipe, WRITE, J},
    {"io.poold.Volume.Upload", pd_method_vol_upload, p_vol_transfer, DATA, J | F},
    /* Download changes no volume, but writes into a caller's descriptor from a job. */
    {"io.poold.Volume.Download", pd_method_vol_download, p_vol_transfer, DATA, J | F},
    {"io.poold.Volume.SnapshotCreate", pd_method_vol_snapshot_create, p_vol_snapshot, WRITE, 0},
    {"io.poold.Volume.SnapshotList", pd_method_vol_snapshot_list, p_vol, READ, 0},
    {"io.poold.Volume.SnapshotRevert", pd_method_vol_snapshot_revert, p_vol_snapshot, WRITE, 0},
    {"io.poold.Volume.SnapshotDelete", pd_method_vol_snapshot_delete, p_vol_snapshot, WRITE, 0},

    {"io.poold.Domain.AttachDisk", pd_method_domain_attach_disk, p_attach_disk, PRIV, 0},
    {"io.poold.Domain.DetachDisk", pd_method_domain_detach_disk, p_detach_disk, PRIV, 0},
    {"io.poold.Domain.BlkList", pd_method_domain_blklist, p_blklist, PRIV, 0},

    {"io.poold.Secret.List", pd_method_secret_list, NULL, PRIV, 0},
    {"io.poold.Secret.Define", pd_method_secret_define, p_xml, PRIV, 0},
    {"io.poold.Secret.DumpXML", pd_method_secret_dumpxml, p_secret, PRIV, 0},
    {"io.poold.Secret.SetValue", pd_method_secret_set_value, p_secret_value, PRIV, 0},
    {"io.poold.Secret.GetValue", pd_method_secret_get_value, p_secret, PRIV, 0},
    {"io.poold.Secret.Undefine", pd_method_secret_undefine, p_secret, PRIV, 0},

    {"io.poold.Job.List", pd_method_job_list, NULL, READ, 0},
    {"io.poold.Job.Get", pd_method_job_get, p_job, READ, 0},
    {"io.poold.Job.Cancel", pd_method_job_cancel, p_job, WRITE, 0},
    {"io.poold.Job.Wait", pd_method_job_wait, p_job, READ, 0},
    {"io.poold.Event.List", pd_method_event_list, p_event_list, READ, 0},
    {"io.poold.Event.Subscribe", pd_method_event_subscribe, NULL, READ, M},
    {NULL, NULL, NULL, 0, 0},
};

const PdMethod *pd_method_table(void)
{
    return methods;
}

const PdMethod *pd_method_lookup(const char *name)
{
    return pd_method_find(methods, name);
}
