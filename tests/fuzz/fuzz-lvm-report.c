/* libFuzzer target for the lvm2 JSON report parsers (pools/lvm.c): the input is taken as the
 * output of `lvm vgs`, `lvm lvs` and `lvm pvs` in turn. Each parser must either return rows
 * whose fields are all set or fail with an error, never crash or leak. */
#include "pools/lvm.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = g_strndup((const char *)data, size);
    GPtrArray *(*parsers[])(const char *, GError **) = {pd_lvm_parse_vgs, pd_lvm_parse_lvs,
                                                        pd_lvm_parse_pvs};
    for (size_t i = 0; i < G_N_ELEMENTS(parsers); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) rows = parsers[i](text, &error);
        g_assert((rows == NULL) == (error != NULL));
        for (guint j = 0; rows && j < rows->len; j++) {
            /* the first field of every row kind is its name */
            const char *const *name = rows->pdata[j];
            g_assert(*name != NULL);
            (void)strlen(*name);
        }
    }
    return 0;
}
