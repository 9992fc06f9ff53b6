/* Shared by the XML test runner's files. */
#pragma once

#include "xml/pool-types.h"

#include <glib.h>
#include <stdbool.h>

/* One line of cases.txt, args.txt or fail.txt. */
typedef struct {
    char *kind;      /* "pool", "vol", "pool-args", "vol-args" */
    char *pool_type; /* for volumes: the pool type name */
    char *name;      /* file name without .xml */
    char *args;      /* after ": " on args lines, else NULL */
    char *message;   /* after " | " on failure lines, else NULL */
    unsigned flags;  /* PdVolParseFlags from the words opt-capacity / no-capacity */
} Case;

/* Reads the list file @list (in the test source dir) and adds one test per line, named
 * @prefix + name, running @func with the Case. Lines starting with '#' and empty lines are
 * skipped; a malformed line aborts. */
void load_cases(const char *list, const char *prefix, GTestDataFunc func);

/* Unit tests of units, UUIDs, names and the argument parsers. */
void add_unit_tests(void);

bool pool_type_by_name(const char *name, PdPoolType *ret);
