/* The tgtd fixture of the iSCSI tests in C: starts tests/backends/tgt-fixture.sh in a
 * temporary directory and stops it at exit (tgtd by PID). Targets and LUNs: see the script. */
#pragma once

#include "formats/io/iscsi/iscsi.h"

#include <glib.h>

#define TGT_IQN_PLAIN   "iqn.2026-11.io.poold.test:plain"
#define TGT_IQN_CHAP    "iqn.2026-11.io.poold.test:chap"
#define TGT_IQN_OTHER   "iqn.2026-11.io.poold.test:other"
#define TGT_CHAP_USER   "pooldtest"
#define TGT_CHAP_SECRET "Chap-Secret-4711"
#define TGT_INITIATOR   "iqn.2026-11.io.poold.test:initiator"

typedef struct {
    char *dir;     /* LUN files: DIR/plain1.img ... */
    unsigned port; /* portal 127.0.0.1:port */
} TgtFixture;

/* Starts tgtd (exits 77 with the fixture's reason when tgtd is missing). Registers the stop
 * at exit. */
TgtFixture *tgt_fixture_start(void);
/* "kill", "freeze", "thaw" or "stop" (see the script); aborts on failure. */
void tgt_fixture_do(TgtFixture *fx, const char *what);
/* Stops, then starts a fresh target (new port, fresh LUN files). */
void tgt_fixture_restart(TgtFixture *fx);

/* A target description on the fixture's portal (no CHAP). */
PdIscsiTarget tgt_target(TgtFixture *fx, const char *iqn);
/* The LUN file of the fixture ("plain1.img"): caller frees. */
char *tgt_lun_file(TgtFixture *fx, const char *name);
