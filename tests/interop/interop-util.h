/* Helpers shared by the interop tests: temporary directories, running qemu-img and friends,
 * skipping (exit 77) when a tool is missing, reproducible random numbers. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

#define TEST_EXIT_SKIP 77

/* Exits 77 with "SKIP: @tool not found (@why)" if @tool is not in PATH. */
void it_require_tool(const char *tool, const char *why);

/* Creates a fresh temporary directory (removed by it_rmtree). Caller frees the path. */
char *it_mkdtemp(const char *prefix);
/* Same, but on a memory file system (/dev/shm, or $POOLD_TEST_TMPDIR) when there is one:
 * the engine flushes after every allocation, and fsync on a disk would make the test slow
 * without testing anything more (durability is test-crash's job). */
char *it_mkdtemp_fast(const char *prefix);
/* Removes @dir recursively unless POOLD_TEST_KEEP is set (then prints where it is). */
void it_rmtree(const char *dir);

/* Runs argv (NULL-terminated), captures stdout/stderr (may be NULL), returns the exit status
 * (0..255) or -1 if it did not run or died from a signal (then *ret_err says why). */
int it_run(char **ret_out, char **ret_err, const char *const *argv);
/* Same with a printf-built argv list: it_runv(&out, &err, "qemu-img", "check", path, NULL). */
int it_runv(char **ret_out, char **ret_err, const char *first, ...) G_GNUC_NULL_TERMINATED;
/* Same, asserting exit status 0; on failure prints the command and its output first. */
void it_run_ok(const char *first, ...) G_GNUC_NULL_TERMINATED;

/* A big-endian integer of @bytes (1..8) at @offset of a file; abort on I/O failure. For
 * tests that damage image metadata on purpose. */
uint64_t it_file_get_be(const char *path, uint64_t offset, int bytes);
void it_file_put_be(const char *path, uint64_t offset, int bytes, uint64_t value);

/* `qemu-img check -f qcow2 PATH`; returns its exit status and its output in *ret_out. */
int it_qemu_img_check(const char *path, char **ret_out);
/* `qemu-img compare -f FMT1 -F FMT2 A B`; returns the exit status (0 identical, 1 differ). */
int it_qemu_img_compare(const char *a, const char *fmt_a, const char *b, const char *fmt_b,
                        char **ret_out);

/* Whole file into memory (g_file_get_contents without GError); aborts on failure. */
uint8_t *it_read_file(const char *path, size_t *ret_len);
void it_write_file(const char *path, const void *data, size_t len);

/* First byte offset where @a and @b differ, or -1 if equal. */
int64_t it_first_difference(const uint8_t *a, const uint8_t *b, size_t len);

/* A small reproducible PRNG (xorshift64*), independent of GLib's version. */
typedef struct {
    uint64_t s;
} ItRand;
void it_rand_seed(ItRand *r, uint64_t seed);
uint64_t it_rand(ItRand *r);
/* Uniform in [0, n), n > 0. */
uint64_t it_rand_below(ItRand *r, uint64_t n);
/* Fills @buf with bytes that are neither all zero nor trivially compressible per cluster. */
void it_rand_fill(ItRand *r, uint8_t *buf, size_t len);

/* Seed from POOLD_TEST_SEED if set, else @fallback (0: from the clock); printed by the
 * caller so that a failure can be replayed with POOLD_TEST_SEED=N. */
uint64_t it_pick_seed(uint64_t fallback);

G_END_DECLS
