/* libFuzzer target: an untrusted byte string opened as a qcow2 image.
 *
 * The input becomes an in-memory store. The target opens it read-only and exercises
 * everything a reader does (read every cluster, block status, snapshot list, check); opens
 * it again for check only (as `check` on a damaged image does); and opens a private writable
 * copy read-write, which runs the repair of a dirty image, then flushes it. Any crash, hang,
 * leak or sanitizer report is a bug; engine errors are the expected outcome.
 *
 * Built as a fuzzer only with clang and -fsanitize=fuzzer (tests/fuzz/meson.build); the same
 * file is linked with fuzz-main.c into a replay program that the test suite runs over the
 * malformed corpus and the seed corpus. See tests/fuzz/README.md. */
#include "formats/image/image.h"
#include "exercise.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STORE (64u << 20) /* a writable copy may not grow past this */
#define MAX_READ  (8u << 20)  /* guest bytes read per image */

typedef struct {
    PdIO base;
    uint8_t *data;
    size_t len;
    bool owned;
} MemIO;

static ssize_t mem_pread(PdIO *io, void *buf, size_t len, uint64_t offset)
{
    MemIO *m = (MemIO *)io;
    if (offset >= m->len)
        return 0;
    size_t n = (size_t)MIN((uint64_t)len, m->len - offset);
    memcpy(buf, m->data + offset, n);
    return (ssize_t)n;
}

static int mem_grow(MemIO *m, uint64_t size)
{
    if (size > MAX_STORE)
        return -ENOSPC;
    if (size > m->len) {
        m->data = g_realloc(m->data, size);
        memset(m->data + m->len, 0, size - m->len);
    }
    m->len = size;
    return 0;
}

static ssize_t mem_pwrite(PdIO *io, const void *buf, size_t len, uint64_t offset)
{
    MemIO *m = (MemIO *)io;
    if (io->read_only)
        return -EROFS;
    if (offset > MAX_STORE || len > MAX_STORE - offset)
        return -ENOSPC;
    if (offset + len > m->len) {
        int r = mem_grow(m, offset + len);
        if (r < 0)
            return r;
    }
    memcpy(m->data + offset, buf, len);
    return (ssize_t)len;
}

static int mem_flush(PdIO *io)
{
    return 0;
}

static int mem_truncate(PdIO *io, uint64_t size)
{
    MemIO *m = (MemIO *)io;
    if (io->read_only)
        return -EROFS;
    if (size > m->len)
        return mem_grow(m, size);
    m->len = (size_t)size;
    return 0;
}

static int64_t mem_size(PdIO *io)
{
    return (int64_t)((MemIO *)io)->len;
}

static int mem_discard(PdIO *io, uint64_t offset, uint64_t len)
{
    MemIO *m = (MemIO *)io;
    if (io->read_only)
        return -EROFS;
    if (offset < m->len)
        memset(m->data + offset, 0, (size_t)MIN(len, m->len - offset));
    return 0;
}

static void mem_close(PdIO *io)
{
    MemIO *m = (MemIO *)io;
    if (m->owned)
        g_free(m->data);
    g_free(io->name);
    g_free(io);
}

/* No backing files in the fuzzer: a name is only a name. open_relative stays NULL, so
 * image.c refuses the chain with a clear error. */
static const PdIOOps mem_ops = {
    .pread = mem_pread,
    .pwrite = mem_pwrite,
    .flush = mem_flush,
    .truncate = mem_truncate,
    .size = mem_size,
    .allocated = mem_size,
    .discard = mem_discard,
    .close = mem_close,
};

static PdIO *mem_io(const uint8_t *data, size_t size, bool writable)
{
    MemIO *m = g_new0(MemIO, 1);
    m->base.ops = &mem_ops;
    m->base.name = g_strdup("fuzz.qcow2");
    m->base.read_only = !writable;
    if (writable) {
        m->data = g_memdup2(data, size);
        m->owned = true;
    } else {
        m->data = (uint8_t *)data;
    }
    m->len = size;
    return &m->base;
}

static void open_and_exercise(const uint8_t *data, size_t size, PdOpenFlags flags)
{
    g_autoptr(GError) error = NULL;
    PdImage *img =
        pd_image_open_io(mem_io(data, size, flags & PD_OPEN_RDWR), PD_FORMAT_QCOW2, flags, &error);
    if (!img) {
        /* Every refusal must say something. */
        g_assert_nonnull(error);
        g_assert_nonnull(error->message);
        g_assert_cmpuint(strlen(error->message), >, 0);
        return;
    }
    ExerciseResult res;
    exercise_result_init(&res);
    exercise_image(img, MAX_READ, &res);
    exercise_result_clear(&res);
    if (flags & PD_OPEN_RDWR)
        (void)pd_image_flush(img, NULL);
    pd_image_close(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    open_and_exercise(data, size, PD_OPEN_RDONLY | PD_OPEN_NO_BACKING);
    open_and_exercise(data, size, PD_OPEN_RDONLY | PD_OPEN_NO_BACKING | PD_OPEN_CHECK_ONLY);
    open_and_exercise(data, size, PD_OPEN_RDWR | PD_OPEN_NO_BACKING);
    return 0;
}
