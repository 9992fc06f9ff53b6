/* poolimg map: where the guest's data lies, merged into runs as qemu-img map prints them. */
#include "client/poolimg-args.h"
#include "client/poolimg.h"
#include "common/pd-error.h"
#include "common/size.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    uint64_t start, length;
    int depth;
    bool present, zero, data, has_offset;
    uint64_t offset;
    const char *filename; /* the layer's name, when has_offset */
} MapEntry;

static bool mergeable(const MapEntry *cur, const MapEntry *next)
{
    if (cur->length == 0)
        return false;
    if (cur->zero != next->zero || cur->data != next->data || cur->depth != next->depth ||
        cur->present != next->present || !cur->filename != !next->filename ||
        cur->has_offset != next->has_offset)
        return false;
    if (cur->filename && strcmp(cur->filename, next->filename) != 0)
        return false;
    return !cur->has_offset || cur->offset + cur->length == next->offset;
}

/* Prints one run. Returns false (after an error message) when human output cannot show it. */
static bool print_entry(const MapEntry *e, bool json, bool first)
{
    if (json) {
        printf("%s{ \"start\": %" PRIu64 ", \"length\": %" PRIu64 ", \"depth\": %d, "
               "\"present\": %s, \"zero\": %s, \"data\": %s",
               first ? "" : ",\n", e->start, e->length, e->depth, e->present ? "true" : "false",
               e->zero ? "true" : "false", e->data ? "true" : "false");
        if (e->has_offset)
            printf(", \"offset\": %" PRIu64, e->offset);
        printf("}");
        return true;
    }
    if (e->data && !e->has_offset) {
        pi_error("File contains external, encrypted or compressed clusters.");
        return false;
    }
    if (e->data && !e->zero)
        printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n", e->start, e->length,
               e->has_offset ? e->offset : 0, e->filename ? e->filename : "");
    return true;
}

static const char *layer_name(PdImage *layer)
{
    const char *n = pd_image_name(layer);
    return g_str_has_prefix(n, "./") ? n + 2 : n;
}

/* The status of [@off, @end) as one run to print or merge. False on error (@error set). */
static bool next_entry(PdImage *img, uint64_t off, uint64_t end, MapEntry *ret, GError **error)
{
    PdBlockStatus st;
    if (!pd_image_block_status(img, off, MIN(end - off, (uint64_t)1 << 30), &st, error))
        return false;
    bool has_offset = (st.flags & PD_BLOCK_OFFSET_VALID) && !(st.flags & PD_BLOCK_COMPRESSED);
    *ret = (MapEntry){
        .start = off,
        .length = st.length,
        .depth = st.depth,
        .present = (st.flags & PD_BLOCK_ALLOCATED) != 0,
        .zero = (st.flags & PD_BLOCK_ZERO) != 0,
        .data = (st.flags & PD_BLOCK_DATA) != 0,
        .has_offset = has_offset,
        .offset = st.host_offset,
        .filename = !has_offset ? NULL
                    : st.file   ? st.file
                    : st.layer  ? layer_name(st.layer)
                                : NULL,
    };
    return true;
}

/* Prints the runs of [@start, @end), merged. Returns the exit status. */
static int print_map(PdImage *img, uint64_t start, uint64_t end, bool json)
{
    if (json)
        printf("[");
    else
        printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
    MapEntry cur = {0};
    bool first = true;
    for (uint64_t off = start; off < end;) {
        MapEntry next;
        GError *error = NULL;
        if (!next_entry(img, off, end, &next, &error))
            return pi_fail(error, 1);
        if (mergeable(&cur, &next)) {
            cur.length += next.length;
        } else {
            if (cur.length > 0 && !print_entry(&cur, json, first))
                return 1;
            if (cur.length > 0)
                first = false;
            cur = next;
        }
        off += next.length;
    }
    if (cur.length > 0 && !print_entry(&cur, json, first))
        return 1;
    if (json)
        printf("]\n");
    return 0;
}

int pi_cmd_map(int argc, char **argv)
{
    const char *fmt = NULL;
    bool json = false;
    uint64_t start = 0, max_length = UINT64_MAX;
    const PiArg table[] = {
        PI_STRING('f', NULL, &fmt),
        PI_OUTPUT(&json),
        PI_SIZE(0, "start-offset", &start, "start offset"),
        PI_SIZE(0, "max-length", &max_length, "max length"),
        PI_OBJECT,
        PI_IMAGE_OPTS,
        PI_FORCE_SHARE,
    };
    const PiArgSpec spec = {table, G_N_ELEMENTS(table)};
    PiArgs args;
    int r = pi_args_parse(&spec, argc, argv, &args);
    if (r >= 0)
        return r;
    if (args.n_pos != 1)
        return pi_usage_error("Expecting one image file name");
    PdFormat format;
    if (!pi_parse_format(fmt, &format))
        return 1;
    g_autoptr(PdImage) img = pi_open(args.pos[0], format, PD_OPEN_RDONLY);
    if (!img)
        return 1;
    uint64_t size = pd_image_size(img);
    uint64_t end = size;
    if (max_length != UINT64_MAX && start < size && max_length < size - start)
        end = start + max_length;
    return print_map(img, start, end, json);
}
