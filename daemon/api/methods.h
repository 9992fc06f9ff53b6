/* The handlers, one file per interface. The method table and the handlers' prototypes are
 * generated from the IDL (rpc/schema/gen-methods.py -> pd-methods.c, pd-methods.h): a method
 * without its handler does not link, a handler without its method has no prototype. */
#pragma once

#include "daemon/api/pd-methods.h"
#include "daemon/rpc/dispatch.h"
#include "daemon/model/model.h"

G_BEGIN_DECLS

/* Defines a handler declared in pd-methods.h (generated from the IDL, one per method). */
#define PD_HANDLER(fn) void fn(PdDaemon *daemon, PdCall *call, JsonObject *params)

/* pool-define: parses @xml, refuses a type without a backend, defines (or redefines) the
 * persistent pool with its event, in its own transaction. NULL with an error. */
PdPoolObj *pd_pool_define_xml(PdDaemon *daemon, const char *xml, GError **error);

G_END_DECLS
