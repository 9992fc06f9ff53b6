/* Drives everything a reader of an untrusted image does: full read, block status, snapshot
 * list, check. Shared by the malformed-corpus test and the fuzz target. */
#pragma once

#include "formats/image/image.h"

#include <glib.h>

/* What went wrong while exercising an image. */
typedef struct {
    GPtrArray *messages;  /* char *: error messages and check messages, deduplicated */
    unsigned failures;    /* operations that returned an error */
    uint64_t corruptions; /* reported by check */
    uint64_t leaks;
    uint64_t check_errors;
} ExerciseResult;

void exercise_result_init(ExerciseResult *res);
void exercise_result_clear(ExerciseResult *res);
/* Adds a message once (copies it). */
void exercise_result_add(ExerciseResult *res, const char *msg);

/* Reads every cluster of @img (all of it up to @max_read bytes of virtual size, else the
 * ranges block status calls data, up to @max_read bytes), walks block status over the whole
 * image (bounded), lists snapshots and runs check without fixing. Never aborts on an engine
 * error: errors are counted and their messages collected in @res. */
void exercise_image(PdImage *img, uint64_t max_read, ExerciseResult *res);
