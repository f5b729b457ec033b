/* The one test-vector runner (tests/vectors/runner.c) reads every vector file in this folder.
 * Each family file (vec_<family>.c) registers the files it understands with
 * VEC_FAMILY(name, "file.txt", handler); the handler checks every case through the public API
 * and counts failures with CHECK (tests/support/test.h). */
#ifndef MCX_VEC_RUNNER_H
#define MCX_VEC_RUNNER_H

#include "test.h"
#include "vecfile.h"

typedef void (*vec_handler)(const vec_file *f);

/* label: the ctest label of the capability the family proves ("crypto", "mikey", ...); the
 * runner runs the families of one label (--label L) or all of them. */
void vec_register(const char *family, const char *label, const char *file, vec_handler fn);

#define VEC_FAMILY(name, file, fn) VEC_FAMILY_LABEL(name, "crypto", file, fn)

#define VEC_FAMILY_LABEL(name, label, file, fn)                                                    \
    __attribute__((constructor)) static void vec_register_##name(void)                             \
    {                                                                                              \
        vec_register(#name, label, file, fn);                                                      \
    }

#endif
