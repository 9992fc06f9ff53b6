/* The lvm2 command line as the logical pool backend uses it: argv builders (pure functions,
 * so the tests print and check them without LVM), one runner, and parsers of lvm2's JSON
 * reports (`--reportformat json --units b --nosuffix`, every value a string; samples in
 * tests/pools/test-lvm.c). No pool knowledge here: pool-logical.c turns these into pool
 * operations and errors that name the pool.
 *
 * Every argv starts with "lvm" and the command ("lvm", "lvcreate", ...), except blkid's; all
 * are NULL-terminated and owned by the caller (g_strfreev). Sizes are bytes, rounded up to a
 * multiple of 512 (lvm2 refuses other byte counts; it rounds up to whole extents itself). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

/* The tag of the LVs that are poold's volume snapshots (named "VOLUME.SNAPSHOT", hidden from
 * the volume list, listed by vol-snapshot-list of their origin). */
#define PD_LVM_SNAPSHOT_TAG "poold_snapshot"

/* ---- argv builders ----------------------------------------------------------------------- */

/* pvcreate on one device; @force_wipe answers yes to wiping signatures found on it (build
 * --overwrite); without it lvm2 refuses a device that holds one. Never -ff: a PV of another
 * VG is never taken over. */
char **pd_lvm_argv_pvcreate(const char *device, bool force_wipe);
char **pd_lvm_argv_pvremove(const char *const *devices);
char **pd_lvm_argv_vgcreate(const char *vg, const char *const *devices);
char **pd_lvm_argv_vgremove(const char *vg);
/* vgchange -ay / -an */
char **pd_lvm_argv_vgchange(const char *vg, bool activate);
/* Reports: @vg NULL = every VG; @lv NULL = every LV of @vg; @devices NULL = every PV. */
char **pd_lvm_argv_vgs(const char *vg);
char **pd_lvm_argv_lvs(const char *vg, const char *lv);
char **pd_lvm_argv_pvs(const char *const *devices);
/* A linear LV of @size bytes (signatures wiped, start zeroed). */
char **pd_lvm_argv_lvcreate_linear(const char *vg, const char *name, uint64_t size);
/* A thin LV of virtual @size bytes in thin pool @thin_pool of @vg. */
char **pd_lvm_argv_lvcreate_thin(const char *vg, const char *thin_pool, const char *name,
                                 uint64_t size);
/* A snapshot @name of @origin tagged PD_LVM_SNAPSHOT_TAG: a thin snapshot (activated, no
 * size) when @thin, else a COW snapshot as large as the origin (it cannot overflow). */
char **pd_lvm_argv_lvcreate_snapshot(const char *vg, const char *origin, const char *name,
                                     bool thin);
char **pd_lvm_argv_lvremove(const char *vg, const char *lv);
char **pd_lvm_argv_lvrename(const char *vg, const char *from, const char *to);
/* lvresize to @size bytes; @shrink adds --force (lvm2 asks before reducing otherwise). */
char **pd_lvm_argv_lvresize(const char *vg, const char *lv, uint64_t size, bool shrink);
char **pd_lvm_argv_lvchange_activate(const char *vg, const char *lv, bool activate);
/* Merges snapshot @snapshot into its origin (the snapshot is gone afterwards). */
char **pd_lvm_argv_lvconvert_merge(const char *vg, const char *snapshot);
/* blkid's low-level probe of @device's signatures, as KEY=VALUE lines (exit 2: none). */
char **pd_lvm_argv_blkid_probe(const char *device);

/* One line for messages and tests: the words joined with spaces. Caller frees. */
char *pd_lvm_argv_to_string(const char *const *argv);

/* ---- running ----------------------------------------------------------------------------- */

/* How long an lvm2 command may run before it is killed: every command but a snapshot merge
 * (which waits until the snapshot's data is back in its origin) gets the first. */
#define PD_LVM_TIMEOUT_MS       (5 * 60 * 1000)
#define PD_LVM_MERGE_TIMEOUT_MS (60 * 60 * 1000)

/* Runs @argv through pd_cmd_run (cmd-util.h: stdin from /dev/null, LC_ALL=C, killed after
 * @timeout_ms). Where udevd does not run (no /run/udev/control), lvm2 commands get --config
 * with udev_sync=0 and udev_rules=0 so that they neither wait for udev nor leave /dev/VG/LV
 * missing. Returns true when it exited 0, with its stdout in *ret_stdout (may be NULL).
 * Otherwise false with @error: PD_ERROR_UNSUPPORTED when the tool is not installed, FAILED
 * after a timeout, else a code from pd_lvm_error_code and the message "COMMAND failed:
 * STDERR" (the tool's own lines, joined). *ret_exit_status (may be NULL) gets the exit status,
 * -1 when it did not run or was killed. */
bool pd_lvm_run(const char *const *argv, unsigned timeout_ms, char **ret_stdout,
                int *ret_exit_status, GError **error);

/* The PdErrorCode for lvm2's complaint @stderr_text: NO_SPACE (insufficient free space),
 * EXISTS (already exists), NOT_FOUND (not found, failed to find), BUSY (in use, open), else
 * FAILED. */
int pd_lvm_error_code(const char *stderr_text);

/* ---- reports ----------------------------------------------------------------------------- */

typedef struct {
    char *name;
    char *uuid;
    uint64_t size, free, extent_size;
    unsigned pv_count, lv_count;
} PdLvmVg;

typedef struct {
    char *name;
    char *uuid;
    char *path;    /* "" for thin pools and hidden LVs */
    char *attr;    /* lv_attr, 10 characters: [0] 'V' thin, 't' thin pool, 's' snapshot... */
    char *segtype; /* "linear", "thin", "thin-pool", "striped", ... */
    char *pool_lv; /* the thin pool of a thin LV, else "" */
    char *origin;  /* the origin of a snapshot, else "" */
    char *tags;    /* comma-separated */
    char *time;    /* "2026-11-30 01:41:08 +0000" */
    uint64_t size;
    double data_percent; /* thin LVs, thin pools, snapshots; < 0 when not reported */
} PdLvmLv;

typedef struct {
    char *name;
    char *vg_name; /* "" when the PV is in no VG */
    char *uuid;
    uint64_t size, free;
} PdLvmPv;

void pd_lvm_vg_free(PdLvmVg *vg);
void pd_lvm_lv_free(PdLvmLv *lv);
void pd_lvm_pv_free(PdLvmPv *pv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdLvmVg, pd_lvm_vg_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdLvmLv, pd_lvm_lv_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PdLvmPv, pd_lvm_pv_free)

/* Parse the output of the report argv above. Returns a GPtrArray of PdLvmVg / PdLvmLv /
 * PdLvmPv (owned, in report order), or NULL with PD_ERROR_CORRUPT when @json is not such a
 * report (malformed, a missing field, a number out of range). Fields are read by name, so
 * reports with more columns parse too. lvs reports one row per segment (segtype is a segment
 * field): pd_lvm_parse_lvs keeps the first row of each LV (by UUID). */
GPtrArray *pd_lvm_parse_vgs(const char *json, GError **error);
GPtrArray *pd_lvm_parse_lvs(const char *json, GError **error);
GPtrArray *pd_lvm_parse_pvs(const char *json, GError **error);

/* True when @lv carries @tag in its comma-separated tag list. */
bool pd_lvm_lv_has_tag(const PdLvmLv *lv, const char *tag);

G_END_DECLS
