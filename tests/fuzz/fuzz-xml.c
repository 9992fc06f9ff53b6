/* libFuzzer target: untrusted pool, volume and secret XML (pool-define, vol-create,
 * pool-create, secret-define).
 *
 * The input is parsed as pool XML, as volume XML for every pool type, and as secret XML. Whatever parses
 * must format, and the formatted text must parse again and format to the same text (the
 * canonical form is a fixed point): a definition that formats to something poold itself
 * refuses would be a pool that cannot be restarted from the store. Errors are the expected
 * outcome for most inputs; crashes, leaks, sanitizer reports and broken round trips are bugs.
 * The replay program (fuzz-main.c) runs it over tests/fuzz/corpus-xml/ and tests/xml/in/. */
#include "xml/pool-xml.h"
#include "xml/secret-xml.h"
#include "xml/vol-xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pool_round_trip(const char *xml)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdPoolDef) def = pd_pool_def_parse(xml, &error);
    if (!def)
        return;
    g_autofree char *text = pd_pool_def_format(def);
    g_autoptr(PdPoolDef) again = pd_pool_def_parse(text, &error);
    if (!again)
        abort(); /* poold formatted a pool it refuses */
    g_autofree char *text2 = pd_pool_def_format(again);
    if (strcmp(text, text2) != 0)
        abort(); /* the canonical form is not stable */
}

static void vol_round_trip(const char *xml, PdPoolType type)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdVolDef) def = pd_vol_def_parse(xml, type, 0, &error);
    if (!def)
        return;
    g_autofree char *text = pd_vol_def_format(def);
    g_autoptr(PdVolDef) again = pd_vol_def_parse(text, type, 0, &error);
    if (!again)
        abort();
    g_autofree char *text2 = pd_vol_def_format(again);
    if (strcmp(text, text2) != 0)
        abort();
}

static void secret_round_trip(const char *xml)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(PdSecretDef) def = pd_secret_def_parse(xml, &error);
    if (!def)
        return;
    g_autofree char *text = pd_secret_def_format(def);
    g_autoptr(PdSecretDef) again = pd_secret_def_parse(text, &error);
    if (!again)
        abort();
    g_autofree char *text2 = pd_secret_def_format(again);
    if (strcmp(text, text2) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    g_autofree char *xml = g_strndup((const char *)data, size); /* stops at a NUL, as a call */
    pool_round_trip(xml);
    secret_round_trip(xml);
    for (int t = 0; t < PD_POOL_TYPE_COUNT; t++)
        vol_round_trip(xml, (PdPoolType)t);
    return 0;
}
