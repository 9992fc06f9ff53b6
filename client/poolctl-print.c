/* virsh's output helpers: a command's answer as JSON or text, pretty sizes and tables
 * (vshTable's layout). */
#include "client/poolctl.h"
#include "xml/units.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* @text for a terminal: every control character (C0 but @keep_newlines' '\n', DEL, C1) and
 * every byte that is not UTF-8 as \xHH (\u00HH for C1), so that a name a tenant planted
 * (a volume, a backing file) cannot drive the terminal or forge a line. */
char *pc_escape_controls(const char *text, bool keep_newlines)
{
    GString *out = g_string_new(NULL);
    for (const char *s = text ? text : ""; *s;) {
        gunichar c = g_utf8_get_char_validated(s, -1);
        if (c == (gunichar)-1 || c == (gunichar)-2) {
            g_string_append_printf(out, "\\x%02x", (unsigned)(unsigned char)*s);
            s++;
            continue;
        }
        const char *next = g_utf8_next_char(s);
        if ((c < 0x20 && !(keep_newlines && c == '\n')) || c == 0x7f)
            g_string_append_printf(out, "\\x%02x", (unsigned)c);
        else if (c >= 0x80 && c < 0xa0)
            g_string_append_printf(out, "\\u%04x", (unsigned)c);
        else
            g_string_append_len(out, s, next - s);
        s = next;
    }
    return g_string_free(out, false);
}

void pc_print_field(const char *label, const char *value)
{
    g_autofree char *safe = pc_escape_controls(value, false);
    printf("%-15s %s\n", label, safe);
}

bool pc_answer_json(PcCtl *ctl, JsonObject *object)
{
    if (!ctl->json)
        return false;
    pc_print_json_object(object);
    return true;
}

bool pc_answer_json_array(PcCtl *ctl, JsonArray *array)
{
    if (!ctl->json)
        return false;
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_ARRAY);
    json_node_set_array(node, array);
    pc_print_json(node);
    return true;
}

void pc_answer_member(PcCtl *ctl, JsonObject *object, const char *member, bool newline)
{
    if (pc_answer_json(ctl, object))
        return;
    printf("%s%s", json_object_get_string_member(object, member), newline ? "\n" : "");
}

void pc_answer_message(PcCtl *ctl, JsonObject *object, const char *fmt, ...)
{
    if (pc_answer_json(ctl, object) || ctl->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *safe = pc_escape_controls(text, true);
    fputs(safe, stdout);
}

bool pc_parse_size(const char *text, uint64_t *ret)
{
    /* virsh: a decimal number (no sign), then libvirt's scale suffix */
    char *end = NULL;
    errno = 0;
    guint64 value = g_ascii_isdigit(text[0]) ? g_ascii_strtoull(text, &end, 10) : 0;
    if (!end || errno) {
        pc_error("Malformed size %s", text);
        return false;
    }
    uint64_t one = 1;
    g_autoptr(GError) error = NULL;
    if (*end && !pd_xml_scale(&one, end, UINT64_MAX, "size", NULL)) {
        pc_error("Malformed size %s", text);
        pc_error("invalid argument: unknown suffix '%s'", end);
        return false;
    }
    if (!pd_xml_scale(&value, end, PD_XML_SIZE_MAX, "size", &error)) {
        pc_error("Malformed size %s", text);
        pc_error("numerical overflow: value too large: %s", text);
        return false;
    }
    *ret = value;
    return true;
}

char *pc_pretty_size(uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = (double)bytes;
    unsigned u = 0;
    while (u + 1 < G_N_ELEMENTS(units) && bytes >= (1ULL << (10 * (u + 1))))
        u++;
    value = (double)bytes / (double)(1ULL << (10 * u));
    return g_strdup_printf("%.2lf %s", value, units[u]);
}

struct PcTable {
    GPtrArray *rows; /* GPtrArray * of char *, first is the header */
    guint ncols;
};

static GPtrArray *row_from(const char *first, va_list ap)
{
    GPtrArray *row = g_ptr_array_new_with_free_func(g_free);
    for (const char *cell = first; cell; cell = va_arg(ap, const char *))
        g_ptr_array_add(row, pc_escape_controls(cell, false));
    return row;
}

PcTable *pc_table_new(const char *first_header, ...)
{
    PcTable *table = g_new0(PcTable, 1);
    table->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
    va_list ap;
    va_start(ap, first_header);
    GPtrArray *header = row_from(first_header, ap);
    va_end(ap);
    table->ncols = header->len;
    g_ptr_array_add(table->rows, header);
    return table;
}

void pc_table_add(PcTable *table, const char *first_cell, ...)
{
    va_list ap;
    va_start(ap, first_cell);
    GPtrArray *row = row_from(first_cell, ap);
    va_end(ap);
    while (row->len < table->ncols)
        g_ptr_array_add(row, g_strdup(""));
    g_ptr_array_add(table->rows, row);
}

/* Each cell is " CELL" padded to the column's width + 2, the last cell unpadded; the header
 * is followed by a line of dashes as long as the widths + 3 each. */
void pc_table_print(PcCtl *ctl, PcTable *table)
{
    /* under -q the header is not printed and does not widen the columns (as virsh) */
    guint first = ctl->quiet ? 1 : 0;
    g_autofree size_t *widths = g_new0(size_t, table->ncols);
    for (guint r = first; r < table->rows->len; r++) {
        GPtrArray *row = table->rows->pdata[r];
        for (guint c = 0; c < table->ncols; c++)
            widths[c] = MAX(widths[c], (size_t)g_utf8_strlen(row->pdata[c], -1));
    }
    GString *out = g_string_new(NULL);
    for (guint r = first; r < table->rows->len; r++) {
        GPtrArray *row = table->rows->pdata[r];
        for (guint c = 0; c < table->ncols; c++) {
            const char *cell = row->pdata[c];
            g_string_append_printf(out, " %s", cell);
            if (c + 1 < table->ncols)
                for (size_t i = (size_t)g_utf8_strlen(cell, -1); i < widths[c] + 2; i++)
                    g_string_append_c(out, ' ');
        }
        g_string_append_c(out, '\n');
        if (r == 0) {
            for (guint c = 0; c < table->ncols; c++)
                for (size_t i = 0; i < widths[c] + 3; i++)
                    g_string_append_c(out, '-');
            g_string_append_c(out, '\n');
        }
    }
    fputs(out->str, stdout);
    g_string_free(out, true);
    g_ptr_array_unref(table->rows);
    g_free(table);
}
