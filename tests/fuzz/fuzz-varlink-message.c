/* libFuzzer target: an untrusted byte string sent to poold's sockets.
 *
 * The input is split at NUL bytes into messages, as the server does, and each message goes
 * through pd_dispatch_parse() twice: as if from the read-write socket and as if from the
 * read-only one. The parse must either refuse the message (the connection would close) or
 * produce exactly one of a method ready for its handler or an early error; a method allowed
 * on the read-only socket must also be allowed on the read-write one. Any crash, leak or
 * sanitizer report is a bug. The replay program (fuzz-main.c) runs it over
 * tests/fuzz/corpus-varlink/ in the test suite. */
#include "daemon/api/methods.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses one message from each socket and checks the outcome is consistent. */
static void parse_both(const char *msg, size_t len, unsigned n_fds)
{
    PdParsedCall rw, ro;
    bool rw_ok = pd_dispatch_parse(pd_method_table(), msg, len, false, n_fds, &rw);
    bool ro_ok = pd_dispatch_parse(pd_method_table(), msg, len, true, n_fds, &ro);
    if (rw_ok != ro_ok)
        abort(); /* framing does not depend on the socket */
    if (rw_ok) {
        if ((rw.method != NULL) == (rw.early_error != NULL) ||
            (ro.method != NULL) == (ro.early_error != NULL))
            abort(); /* exactly one outcome */
        if (ro.method && !rw.method)
            abort(); /* the read-only socket never allows more */
        if (ro.method && ro.method->cls != PD_CLASS_READ)
            abort(); /* only the read class on the read-only socket */
    }
    pd_parsed_call_clear(&rw);
    pd_parsed_call_clear(&ro);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks how many descriptors "came with" the messages (0 or 1). */
    unsigned n_fds = size > 0 ? data[0] & 1 : 0;
    const char *p = (const char *)data + (size > 0);
    const char *end = (const char *)data + size;
    while (p < end) {
        const char *nul = memchr(p, 0, (size_t)(end - p));
        if (!nul)
            break; /* an unterminated tail waits for more bytes in the server */
        parse_both(p, (size_t)(nul - p) + 1, n_fds);
        p = nul + 1;
    }
    return 0;
}
