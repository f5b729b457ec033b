#include "vecfile.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcxsec/hex.h"

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL) {
        perror("strdup");
        exit(2);
    }
    return d;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) {
        perror("realloc");
        exit(2);
    }
    return q;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static vec_section *add_section(vec_file *f, const char *name)
{
    f->sections = xrealloc(f->sections, (f->n_sections + 1) * sizeof *f->sections);
    vec_section *s = &f->sections[f->n_sections++];
    s->name = xstrdup(name);
    s->entries = NULL;
    s->n_entries = 0;
    return s;
}

vec_file *vec_load(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        fprintf(stderr, "vector file %s: cannot open\n", path);
        exit(2);
    }
    vec_file *f = calloc(1, sizeof *f);
    if (f == NULL)
        exit(2);
    f->path = xstrdup(path);
    vec_section *cur = add_section(f, "");
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    while (getline(&line, &cap, fp) >= 0) {
        lineno++;
        char *t = trim(line);
        if (*t == '\0' || *t == '#')
            continue;
        if (*t == '[') {
            char *end = strchr(t, ']');
            if (end == NULL) {
                fprintf(stderr, "%s:%u: unterminated section header\n", path, lineno);
                exit(2);
            }
            *end = '\0';
            cur = add_section(f, t + 1);
            continue;
        }
        char *eq = strchr(t, '=');
        if (eq == NULL) {
            fprintf(stderr, "%s:%u: expected 'name = value'\n", path, lineno);
            exit(2);
        }
        *eq = '\0';
        cur->entries = xrealloc(cur->entries, (cur->n_entries + 1) * sizeof *cur->entries);
        cur->entries[cur->n_entries].name = xstrdup(trim(t));
        cur->entries[cur->n_entries].value = xstrdup(trim(eq + 1));
        cur->n_entries++;
    }
    free(line);
    fclose(fp);
    return f;
}

void vec_free(vec_file *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n_sections; i++) {
        for (size_t j = 0; j < f->sections[i].n_entries; j++) {
            free(f->sections[i].entries[j].name);
            free(f->sections[i].entries[j].value);
        }
        free(f->sections[i].entries);
        free(f->sections[i].name);
    }
    free(f->sections);
    free(f->path);
    free(f);
}

const char *vec_get(const vec_section *s, const char *name)
{
    for (size_t i = 0; i < s->n_entries; i++)
        if (strcmp(s->entries[i].name, name) == 0)
            return s->entries[i].value;
    return NULL;
}

size_t vec_hex(const vec_section *s, const char *name, unsigned char *out, size_t cap)
{
    const char *v = vec_get(s, name);
    if (v == NULL) {
        fprintf(stderr, "vector [%s]: no entry '%s'\n", s->name, name);
        exit(2);
    }
    size_t n = 0;
    if (mcx_hex_decode(v, out, cap, &n) != MCX_OK) {
        fprintf(stderr, "vector [%s] %s: %s\n", s->name, name, mcx_last_error());
        exit(2);
    }
    return n;
}

const vec_section *vec_section_named(const vec_file *f, const char *name)
{
    for (size_t i = 0; i < f->n_sections; i++)
        if (strcmp(f->sections[i].name, name) == 0)
            return &f->sections[i];
    return NULL;
}
