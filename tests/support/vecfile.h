/* Reader for the test-vector files in tests/vectors/: '#' comments, optional [section] headers,
 * and 'name = value' lines. Values are kept as text; vec_hex() decodes them. */
#ifndef MCX_VECFILE_H
#define MCX_VECFILE_H

#include <stddef.h>

typedef struct vec_entry {
    char *name;
    char *value;
} vec_entry;

typedef struct vec_section {
    char *name; /* "" for entries before the first [section] */
    vec_entry *entries;
    size_t n_entries;
} vec_section;

typedef struct vec_file {
    char *path;
    vec_section *sections;
    size_t n_sections;
} vec_file;

/* Load a file; exits the program with a message naming the file and line on a syntax error. */
vec_file *vec_load(const char *path);
void vec_free(vec_file *f);

/* Value of name in section s, or NULL. */
const char *vec_get(const vec_section *s, const char *name);

/* Decode the hex value of name into out (cap bytes); returns the length, or exits the program
 * with a message if the entry is missing or not hex. */
size_t vec_hex(const vec_section *s, const char *name, unsigned char *out, size_t cap);

/* Section by name, or NULL. */
const vec_section *vec_section_named(const vec_file *f, const char *name);

#endif
