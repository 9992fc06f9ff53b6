/* pd-bench-gen: writes the benchmark's input image, deterministically.
 *
 * Usage: pd-bench-gen PATH SIZE_BYTES [SEED]
 *
 * The image is raw and about half full, laid out like a used guest disk:
 *
 *   |<-- data extent -->|<-- hole -->|<-- data extent -->|<- hole ->| ...
 *   each extent 4 KiB-aligned, 16 KiB .. 8 MiB long (so many are not cluster-aligned);
 *   each data extent is itself a mix of runs (4 KiB .. 1 MiB each) of:
 *     random   35%  incompressible (xoshiro256**)
 *     text     35%  words from a small dictionary (deflate: ~3:1)
 *     records  20%  64-byte binary records, counters and mostly-zero fields (~10:1)
 *     zeroes   10%  written zeroes: allocated in the raw file, but read as zero
 *   holes are never written (ftruncate leaves them unallocated).
 *
 * The same SIZE and SEED give the same bytes on every machine. Prints one line with the
 * number of bytes written. Returns 0 on success, 1 on error. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)

typedef struct {
    uint64_t s[4];
} Rng;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(Rng *r)
{
    uint64_t result = rotl(r->s[1] * 5, 7) * 9;
    uint64_t t = r->s[1] << 17;

    r->s[2] ^= r->s[0];
    r->s[3] ^= r->s[1];
    r->s[1] ^= r->s[2];
    r->s[0] ^= r->s[3];
    r->s[2] ^= t;
    r->s[3] = rotl(r->s[3], 45);
    return result;
}

static void rng_seed(Rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        /* splitmix64 */
        uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        r->s[i] = z ^ (z >> 31);
    }
}

/* A uniform value in [lo, hi], rounded down to a multiple of 4 KiB (at least 4 KiB). */
static uint64_t rng_len(Rng *r, uint64_t lo, uint64_t hi)
{
    uint64_t v = lo + rng_next(r) % (hi - lo + 1);
    v &= ~(4 * KIB - 1);
    return v ? v : 4 * KIB;
}

static const char *const words[] = {
    "the",      "of",       "and",     "to",     "in",        "is",         "that",     "for",
    "it",       "as",       "was",     "with",   "be",        "by",         "on",       "not",
    "he",       "this",     "are",     "or",     "his",       "from",       "at",       "which",
    "but",      "have",     "an",      "had",    "they",      "you",        "were",     "their",
    "one",      "all",      "we",      "can",    "her",       "has",        "there",    "been",
    "if",       "more",     "when",    "will",   "would",     "who",        "so",       "no",
    "kernel",   "volume",   "storage", "pool",   "cluster",   "image",      "refcount", "table",
    "error",    "warning",  "info",    "debug",  "request",   "offset",     "length",   "buffer",
    "/usr/lib", "/var/log", "systemd", "python", "libc.so.6", "GLIBC_2.34", "main",     "return",
};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

static void fill_random(Rng *r, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t v = rng_next(r);
        memcpy(buf + i, &v, 8);
    }
}

static void fill_text(Rng *r, uint8_t *buf, size_t len)
{
    size_t i = 0;
    uint64_t bits = 0;
    int nbits = 0;

    while (i < len) {
        if (nbits < 16) {
            bits = rng_next(r);
            nbits = 64;
        }
        /* skewed: low indices (common words) are picked more often */
        unsigned a = bits & 0x3f, b = (bits >> 6) & 0x3f;
        const char *w = words[((a < b ? a : b) + ((bits >> 12) & 1) * 8) % N_WORDS];
        int sep = (bits >> 13) & 7;
        bits >>= 16;
        nbits -= 16;
        for (const char *p = w; *p && i < len; p++) {
            buf[i++] = (uint8_t)*p;
        }
        if (i < len) {
            buf[i++] = sep == 0 ? '\n' : ' ';
        }
    }
}

static void fill_records(Rng *r, uint8_t *buf, size_t len, uint64_t *counter)
{
    memset(buf, 0, len);
    for (size_t i = 0; i + 64 <= len; i += 64) {
        uint64_t id = (*counter)++;
        uint32_t flags = (uint32_t)(rng_next(r) & 0x7);
        uint64_t stamp = 1700000000ULL + id * 3;
        memcpy(buf + i, &id, 8);
        memcpy(buf + i + 8, &stamp, 8);
        memcpy(buf + i + 16, &flags, 4);
        memcpy(buf + i + 24, "rec", 3);
    }
}

static int write_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        buf += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Writes one data extent [off, off+len) as a mix of runs. Returns 0, or -1 with errno. */
static int write_extent(int fd, Rng *r, uint8_t *buf, uint64_t off, uint64_t len, uint64_t *counter)
{
    while (len > 0) {
        uint64_t run = rng_len(r, 4 * KIB, MIB);
        unsigned kind = (unsigned)(rng_next(r) % 100);

        if (run > len) {
            run = len;
        }
        if (kind < 35) {
            fill_random(r, buf, run);
        } else if (kind < 70) {
            fill_text(r, buf, run);
        } else if (kind < 90) {
            fill_records(r, buf, run, counter);
        } else {
            memset(buf, 0, run);
        }
        if (write_all(fd, buf, run, off) < 0) {
            return -1;
        }
        off += run;
        len -= run;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s PATH SIZE_BYTES [SEED]\n", argv[0]);
        return 1;
    }
    uint64_t size = strtoull(argv[2], NULL, 0);
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 0) : 42;
    Rng rng;
    uint64_t off = 0, written = 0, counter = 0;
    uint8_t *buf = malloc(MIB);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (!buf || fd < 0 || ftruncate(fd, (off_t)size) < 0) {
        fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(errno));
        return 1;
    }
    rng_seed(&rng, seed);
    while (off < size) {
        uint64_t data = rng_len(&rng, 16 * KIB, 8 * MIB);
        uint64_t hole = rng_len(&rng, 16 * KIB, 8 * MIB);

        if (data > size - off) {
            data = size - off;
        }
        if (write_extent(fd, &rng, buf, off, data, &counter) < 0) {
            fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(errno));
            return 1;
        }
        written += data;
        off += data;
        off += hole < size - off ? hole : size - off;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(errno));
        return 1;
    }
    free(buf);
    printf("%" PRIu64 " bytes of data written in %" PRIu64 " (%.1f%%)\n", written, size,
           size ? 100.0 * (double)written / (double)size : 0.0);
    return 0;
}
