/* poolimg: qemu-img's commands over the image engine, in-process (no daemon).
 *
 * Every command is a function taking its own argv (argv[0] is the command name) and
 * returning the process exit status. Messages follow qemu-img: errors on stderr as
 * "poolimg: ...", results on stdout. */
#pragma once

#include "formats/convert/convert.h"
#include "formats/image/image.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

/* ---- commands (one file each or per concern) -------------------------------------- */
int pi_cmd_create(int argc, char **argv);   /* poolimg-create.c */
int pi_cmd_amend(int argc, char **argv);    /* poolimg-create.c */
int pi_cmd_info(int argc, char **argv);     /* poolimg-info.c */
int pi_cmd_check(int argc, char **argv);    /* poolimg-check.c */
int pi_cmd_convert(int argc, char **argv);  /* poolimg-convert.c */
int pi_cmd_resize(int argc, char **argv);   /* poolimg-resize.c */
int pi_cmd_snapshot(int argc, char **argv); /* poolimg-snapshot.c */
int pi_cmd_commit(int argc, char **argv);   /* poolimg-chain.c */
int pi_cmd_rebase(int argc, char **argv);   /* poolimg-chain.c */
int pi_cmd_map(int argc, char **argv);      /* poolimg-map.c */
int pi_cmd_measure(int argc, char **argv);  /* poolimg-measure.c */
int pi_cmd_compare(int argc, char **argv);  /* poolimg-compare.c */

/* ---- shared helpers (poolimg-util.c) ---------------------------------------------- */

/* The full --help text (poolimg.c). */
void pi_help(void);
/* "poolimg: <message>" on stderr. */
void pi_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* pi_error, then "Try 'poolimg --help' for more information". Returns 1. */
int pi_usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Prints @error's message as pi_error and frees it. Returns @status. */
int pi_fail(GError *error, int status);

/* Parses a format name; prints "Unknown file format 'X'" and returns false if unknown.
 * NULL @name gives PD_FORMAT_UNKNOWN (probe). */
bool pi_parse_format(const char *name, PdFormat *ret);
/* --output=human|json. */
bool pi_parse_output(const char *arg, bool *ret_json);

/* Opens an image, printing qemu-img's "Could not open 'X': ..." on failure. */
/* -U / --force-share was given: read-only opens share everything (QEMU's image locks). */
extern bool pi_force_share;
PdImage *pi_open(const char *path, PdFormat format, PdOpenFlags flags);

/* Progress in qemu-img's style ("    (42.00/100%)\r") on stdout; pass a PiProgress as
 * user data. pi_progress_end prints the final newline. */
typedef struct {
    bool enabled;
    double last;
} PiProgress;
void pi_progress_cb(uint64_t done, uint64_t total, void *user_data);
void pi_progress_end(PiProgress *p);

/* A cancel flag set by SIGINT/SIGTERM while a long operation runs (convert, commit). */
gint *pi_cancel_flag_install(void);

/* Prints @root as qemu-img does (pretty, 4 spaces) and a newline; takes @root. */
void pi_json_print(JsonNode *root);

/* Human size as qemu-img prints it ("1 GiB"). Caller frees. */
char *pi_size_str(uint64_t bytes);

/* qemu-img's "Snapshot list:" table (poolimg-info.c). */
void pi_snapshot_table_print(GArray *snaps);
/* info's format-specific part for the read-only formats (poolimg-info-foreign.c); the JSON
 * is NULL for formats without one. */
void pi_info_foreign_human(const PdImageInfo *info);
/* convert -O vmdk (poolimg-convert-vmdk.c): a streamOptimized image. Returns the status. */
int pi_convert_vmdk(const char *src_name, PdFormat src_format, const char *out, const char *options,
                    bool progress);
JsonObject *pi_info_foreign_json(const PdImageInfo *info);

/* ---- -o options (poolimg-opts.c) -------------------------------------------------- */

typedef enum {
    PI_SET_COMPAT = 1 << 0,
    PI_SET_CLUSTER_SIZE = 1 << 1,
    PI_SET_PREALLOC = 1 << 2,
    PI_SET_LAZY_REFCOUNTS = 1 << 3,
    PI_SET_REFCOUNT_BITS = 1 << 4,
    PI_SET_BACKING_FILE = 1 << 5,
    PI_SET_BACKING_FMT = 1 << 6,
    PI_SET_COMPRESSION = 1 << 7,
    PI_SET_EXTENDED_L2 = 1 << 8,
    PI_SET_SIZE = 1 << 9,
} PiSetFields;

typedef struct {
    PdCreateOptions create; /* backing_file points into backing_file below */
    char *backing_file;
    char *compat_text; /* compat as given ("v3", "1.1"), for the "Formatting" line */
    unsigned set;      /* PiSetFields */
    bool help;         /* "help" or "?" was among the options */
} PiCreateOpts;

void pi_create_opts_clear(PiCreateOpts *o);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PiCreateOpts, pi_create_opts_clear)
/* Parses "key=value,key=value" (",," is a literal comma) for @format into @o, on top of
 * what is there. @amend: only what amend may change. The error names the option. */
bool pi_create_opts_parse(PiCreateOpts *o, const char *text, bool amend, GError **error);
/* Checks combinations (compat vs lazy_refcounts...) once all options are in. */
bool pi_create_opts_validate(PiCreateOpts *o, GError **error);
/* Prints qemu-img's "-o help" list for @format. */
void pi_create_opts_help(PdFormat format, bool amend);
/* qemu-img's "Formatting 'X', fmt=..." line for @o. Caller frees. */
char *pi_create_opts_describe(const PiCreateOpts *o, const char *filename);
/* Size from the command line (a positional "20G"), with qemu-img's messages. */
bool pi_parse_image_size(const char *text, uint64_t *ret);

G_END_DECLS
