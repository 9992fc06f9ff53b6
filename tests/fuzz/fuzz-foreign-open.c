/* libFuzzer target: an untrusted byte string opened as each read-only format (vmdk, vhdx,
 * vpc, vdi, qcow) and as whatever the probe guesses.
 *
 * The input is an in-memory read-only store without a directory: descriptors naming extent
 * files and backing files are refused (open_relative is NULL). Each open that succeeds is
 * exercised as a reader does (info, every byte read up to a budget, block status). Any
 * crash, hang, leak or sanitizer report is a bug; engine errors are the expected outcome.
 * Built as a fuzzer with clang -fsanitize=fuzzer; replayed by the fuzz suite over the
 * foreign malformed corpus (tests/fuzz/meson.build). */
#include "formats/image/image.h"
#include "exercise.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_READ (8u << 20) /* guest bytes read per image */

typedef struct {
    PdIO base;
    const uint8_t *data;
    size_t len;
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

static ssize_t mem_pwrite(PdIO *io, const void *buf, size_t len, uint64_t offset)
{
    return -EROFS;
}

static int mem_flush(PdIO *io)
{
    return 0;
}

static int mem_truncate(PdIO *io, uint64_t size)
{
    return -EROFS;
}

static int64_t mem_size(PdIO *io)
{
    return (int64_t)((MemIO *)io)->len;
}

static int mem_discard(PdIO *io, uint64_t offset, uint64_t len)
{
    return -EROFS;
}

static void mem_close(PdIO *io)
{
    g_free(io->name);
    g_free(io);
}

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

static PdIO *mem_io(const uint8_t *data, size_t size)
{
    MemIO *m = g_new0(MemIO, 1);
    m->base.ops = &mem_ops;
    m->base.name = g_strdup("fuzz.img");
    m->base.read_only = true;
    m->data = data;
    m->len = size;
    return &m->base;
}

static void open_and_exercise(const uint8_t *data, size_t size, PdFormat format)
{
    g_autoptr(GError) error = NULL;
    PdImage *img =
        pd_image_open_io(mem_io(data, size), format, PD_OPEN_RDONLY | PD_OPEN_NO_BACKING, &error);
    if (!img) {
        g_assert_nonnull(error);
        g_assert_cmpuint(strlen(error->message), >, 0);
        return;
    }
    ExerciseResult res;
    exercise_result_init(&res);
    exercise_image(img, MAX_READ, &res);
    exercise_result_clear(&res);
    pd_image_close(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const formats[] = {"vmdk", "vhdx", "vpc", "vdi", "qcow"};
    for (size_t i = 0; i < G_N_ELEMENTS(formats); i++) {
        PdFormat f = pd_format_from_name(formats[i]);
        if (f != PD_FORMAT_UNKNOWN)
            open_and_exercise(data, size, f);
    }
    /* As probed: raw is read whole, so only small inputs. */
    if (size <= (1u << 20))
        open_and_exercise(data, size, PD_FORMAT_UNKNOWN);
    return 0;
}
