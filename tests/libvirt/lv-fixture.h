/* The in-process libvirt fixture of the libvirt suite: libvirt's embedded QEMU driver
 * (qemu:///embed?root=DIR, one root per test process) with a TCG `pc` guest of 128 MiB without
 * an OS and with a virtio-scsi controller, and a started dir pool with volumes made by poold's
 * own backend. Domains are created, started, destroyed and undefined in this process. */
#pragma once

#include "daemon/libvirt/conn.h"
#include "pools/backend.h"

#include <glib.h>

typedef struct {
    char *tmp; /* everything lives here */
    char *uri; /* qemu:///embed?root=TMP/root */
    PdLibvirtConn *conn;
    PdPool *pool; /* dir pool "lvpool" at TMP/pool, started */
    const PdPoolBackend *be;
} LvFixture;

/* Exits 77 with the reason when QEMU or the embedded driver is not usable here. */
void lv_require_qemu(void);

/* Makes the root (DIR/etc/qemu.conf), starts libvirt's event loop in a thread (it iterates
 * GLib's default main context: the test attaches nothing of its own there), opens the
 * connection and starts the dir pool. */
void lv_fixture_init(LvFixture *f);
/* Destroys and undefines the domains it made, closes, removes TMP. */
void lv_fixture_clear(LvFixture *f);

/* Defines domain @name (no OS, virtio-scsi controller); starts it when @start. */
void lv_domain_new(LvFixture *f, const char *name, bool start);
/* Destroys (if running) and undefines @name. */
void lv_domain_remove(LvFixture *f, const char *name);

/* Creates volume @name of @format ("raw", "qcow2") and 16 MiB in the pool. Not owned. */
PdVol *lv_volume_new(LvFixture *f, const char *name, const char *format);

/* True when the live (or, with @inactive, persistent) XML of @domain has a disk @target. */
bool lv_domain_has_target(LvFixture *f, const char *domain, const char *target, bool inactive);
