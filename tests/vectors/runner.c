/* Runs every registered vector family against its file in the vector directory (argv[1]).
 * With a family name as argv[2], runs only that family. */
#include <stdio.h>
#include <string.h>

#include "runner.h"

#define MAX_FAMILIES 64

static struct {
    const char *family;
    const char *label;
    const char *file;
    vec_handler fn;
} families[MAX_FAMILIES];
static size_t n_families;

void vec_register(const char *family, const char *label, const char *file, vec_handler fn)
{
    if (n_families == MAX_FAMILIES) {
        fprintf(stderr, "too many vector families\n");
        exit(2);
    }
    families[n_families].family = family;
    families[n_families].label = label;
    families[n_families].file = file;
    families[n_families].fn = fn;
    n_families++;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s VECTOR_DIR [--label LABEL | FAMILY]\n", argv[0]);
        return 2;
    }
    const char *label = NULL, *family = NULL;
    if (argc > 3 && strcmp(argv[2], "--label") == 0)
        label = argv[3];
    else if (argc > 2)
        family = argv[2];
    size_t ran = 0;
    for (size_t i = 0; i < n_families; i++) {
        if (family && strcmp(family, families[i].family) != 0)
            continue;
        if (label && strcmp(label, families[i].label) != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], families[i].file);
        vec_file *f = vec_load(path);
        int before = test_failed_checks;
        families[i].fn(f);
        test_record(families[i].family, test_failed_checks == before);
        vec_free(f);
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no vector family ran\n");
        return 2;
    }
    return test_summary();
}
