/* The iscsi backend's iscsiadm commands and output parsers, exported for the unit tests (which
 * print and check them without running anything). */
#pragma once

#include "pools/backend.h"

G_BEGIN_DECLS

/* "HOST:PORT" (3260 when @port is 0), "[ADDR]:PORT" for an IPv6 address. Caller frees. */
char *pd_iscsi_portal(const char *host, unsigned port);

/* The open-iscsi interface poold makes for initiator IQN @iqn: "poold-" and 12 hex digits of
 * the IQN's SHA-256 (iface names are short; one interface per IQN). Caller frees. */
char *pd_iscsi_iface_name(const char *iqn);

/* iscsiadm -m discovery -t sendtargets -p PORTAL [-I IFACE] -o nonpersistent: lists the
 * targets without writing node records. @iface may be NULL (the default interface). */
char **pd_iscsi_discovery_argv(const char *portal, const char *iface);

/* iscsiadm -m iface -I IFACE -o new, and -o update -n iface.initiatorname -v IQN */
char **pd_iscsi_iface_new_argv(const char *iface);
char **pd_iscsi_iface_set_iqn_argv(const char *iface, const char *iqn);

/* iscsiadm -m node -T TARGET -p PORTAL [-I IFACE] then: -o new | -o delete | --login |
 * --rescan | -o update -n NAME -v VALUE. */
char **pd_iscsi_node_argv(const char *target, const char *portal, const char *iface,
                          const char *const *operation);
char **pd_iscsi_node_update_argv(const char *target, const char *portal, const char *iface,
                                 const char *name, const char *value);

/* iscsiadm -m session -r SID -u (logout of one session) */
char **pd_iscsi_logout_argv(unsigned sid);

/* The target IQNs of sendtargets discovery output, in order, without duplicates (char *,
 * owned). Sample (one line per portal and target):
 *   127.0.0.1:3260,1 iqn.2024-01.lab.vm:target1
 *   [::1]:3260,1 iqn.2024-01.lab.vm:target2 */
GPtrArray *pd_iscsi_parse_discovery(const char *output);

/* libvirt's volume key of a LUN from its sysfs wwid: "naa.6000..." becomes "36000..." (what
 * scsi_id --whitelisted prints for an NAA designator); other forms are kept. Caller frees. */
char *pd_iscsi_key_from_wwid(const char *wwid);

G_END_DECLS
