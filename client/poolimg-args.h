/* poolimg's one command-line parser: each command describes its options in a table, and
 * qemu-img's conventions live here once: short and long options (getopt_long, so options
 * may follow the file names, "--" ends them and unique prefixes of long names are taken),
 * -h/--help, -o joined across repeats, --object and --image-opts accepted, -U/--force-share,
 * a value checked where it is given, and qemu-img's messages for a bad option. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef enum {
    PI_ARG_FLAG,        /* sets the bool at @dest */
    PI_ARG_STRING,      /* stores the value (argv's own string) at the const char * @dest */
    PI_ARG_JOIN,        /* appends the value to the GString @dest, comma-separated (-o) */
    PI_ARG_OUTPUT,      /* --output=human|json into the bool @dest (true: json) */
    PI_ARG_SIZE,        /* a size into the uint64_t @dest; @text names it in the error */
    PI_ARG_CALL,        /* @call(value, @dest); it prints its error and returns false */
    PI_ARG_REFUSE,      /* accepted by qemu-img, not by poolimg: prints @text and fails */
    PI_ARG_IGNORE,      /* accepted and ignored (cache modes, rate limits, --object...) */
    PI_ARG_FORCE_SHARE, /* -U: PiArgs.force_share */
    PI_ARG_IMAGE_OPTS,  /* --image-opts: PiArgs.image_opts */
} PiArgKind;

typedef struct {
    char short_name;       /* 0: long only */
    const char *long_name; /* NULL: short only */
    PiArgKind kind;
    bool has_value;
    void *dest;
    bool (*call)(const char *value, void *dest);
    const char *text;
} PiArg;

#define PI_FLAG(s, l, ptr)                                                                         \
    {                                                                                              \
        (s), (l), PI_ARG_FLAG, false, (ptr), NULL, NULL                                            \
    }
#define PI_STRING(s, l, ptr)                                                                       \
    {                                                                                              \
        (s), (l), PI_ARG_STRING, true, (ptr), NULL, NULL                                           \
    }
#define PI_JOIN(s, l, gstring)                                                                     \
    {                                                                                              \
        (s), (l), PI_ARG_JOIN, true, (gstring), NULL, NULL                                         \
    }
#define PI_OUTPUT(ptr)                                                                             \
    {                                                                                              \
        0, "output", PI_ARG_OUTPUT, true, (ptr), NULL, NULL                                        \
    }
#define PI_SIZE(s, l, ptr, what)                                                                   \
    {                                                                                              \
        (s), (l), PI_ARG_SIZE, true, (ptr), NULL, (what)                                           \
    }
#define PI_CALL(s, l, fn, data)                                                                    \
    {                                                                                              \
        (s), (l), PI_ARG_CALL, true, (data), (fn), NULL                                            \
    }
#define PI_CALL_NOVALUE(s, l, fn, data)                                                            \
    {                                                                                              \
        (s), (l), PI_ARG_CALL, false, (data), (fn), NULL                                           \
    }
#define PI_REFUSE(s, l, message)                                                                   \
    {                                                                                              \
        (s), (l), PI_ARG_REFUSE, true, NULL, NULL, (message)                                       \
    }
#define PI_IGNORE(s, l)                                                                            \
    {                                                                                              \
        (s), (l), PI_ARG_IGNORE, false, NULL, NULL, NULL                                           \
    }
#define PI_IGNORE_VALUE(s, l)                                                                      \
    {                                                                                              \
        (s), (l), PI_ARG_IGNORE, true, NULL, NULL, NULL                                            \
    }
/* The options most commands share, as qemu-img spells them. */
#define PI_OBJECT PI_IGNORE_VALUE(0, "object")
#define PI_IMAGE_OPTS                                                                              \
    {                                                                                              \
        0, "image-opts", PI_ARG_IMAGE_OPTS, false, NULL, NULL, NULL                                \
    }
#define PI_FORCE_SHARE                                                                             \
    {                                                                                              \
        'U', "force-share", PI_ARG_FORCE_SHARE, false, NULL, NULL, NULL                            \
    }

/* What to do with a last argument that looks like a negative number ("-5G"), which getopt
 * would take for an option. */
typedef enum {
    PI_LAST_ANY,      /* nothing special */
    PI_LAST_SIZE,     /* it is the size (resize): taken off before parsing, in PiArgs.size */
    PI_LAST_POSITIVE, /* a size that must not be negative (create): refused at once */
} PiLastArg;

typedef struct {
    const PiArg *args;
    size_t n_args;
    PiLastArg last;
} PiArgSpec;

typedef struct {
    char **pos; /* the positional arguments, in order (into argv) */
    int n_pos;
    const char *size; /* PI_LAST_SIZE: the negative size taken off the end, else NULL */
    bool force_share; /* -U / --force-share */
    bool image_opts;  /* --image-opts */
} PiArgs;

/* Parses @argv (argv[0] is the command's name) by @spec into the tables' destinations and
 * @ret. Returns -1 when the command goes on, else its exit status: 0 after --help, 1 after
 * an error (printed; compare too, as qemu-img, whose 2 is for errors while comparing). */
int pi_args_parse(const PiArgSpec *spec, int argc, char **argv, PiArgs *ret);

G_END_DECLS
