/* The one test-vector runner (tests/vectors/runner.c) reads every vector file in this folder.
 * Each family file (vec_<family>.c) registers the files it understands with
 * VEC_FAMILY(name, "file.txt", handler); the handler checks every case through the public API
 * and counts failures with CHECK (tests/support/test.h). */
#ifndef MCX_VEC_RUNNER_H
#define MCX_VEC_RUNNER_H

#include "test.h"
#include "vecfile.h"

typedef void (*vec_handler)(const vec_file *f);

void vec_register(const char *family, const char *file, vec_handler fn);

#define VEC_FAMILY(name, file, fn)                                                                 \
    __attribute__((constructor)) static void vec_register_##name(void)                             \
    {                                                                                              \
        vec_register(#name, file, fn);                                                             \
    }

#endif
