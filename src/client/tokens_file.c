/* The token file a client keeps (include/mcxsec/login.h): a JSON object
 *   {"issuer", "access_token", "id_token", "refresh_token", "scope", "expires_at"}
 * in a private folder. A refresh token is a long-lived credential (RFC 9700 §4.14), so the file is
 * written only as 0600 in a 0700 folder, atomically (a reader never sees half a file, a crash
 * never leaves a truncated one), and a file others could read is refused rather than used. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/login_internal.h"
#include "common/error_internal.h"
#include "mcxsec/login.h"
#include "mcxsec/mem.h"

#define TOKEN_FILE_MAX (256u * 1024u)
#define LABEL_MAX      128

static int label_ok(const char *l)
{
    size_t n = strlen(l);
    if (n == 0 || n > LABEL_MAX || l[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = l[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == ':'))
            return 0;
    }
    return 1;
}

mcx_status mcx_tokens_path(const char *label, char *path, size_t cap)
{
    if (path == NULL || cap == 0)
        return MCX_FAIL(MCX_E_ARG, "token file: no output buffer");
    path[0] = '\0';
    if (label != NULL && !label_ok(label))
        return MCX_FAIL(MCX_E_ARG,
                        "token file: label must be 1 to %d characters of [A-Za-z0-9._:-], not "
                        "starting with '.'",
                        LABEL_MAX);
    char name[LABEL_MAX + 16];
    if (label != NULL)
        snprintf(name, sizeof name, "tokens-%s.json", label);
    else
        snprintf(name, sizeof name, "tokens.json");
    const char *dir = getenv("MCX_STATE_DIR");
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;
    /* XDG Base Directory Specification 0.8: state data under $XDG_STATE_HOME, default
     * ~/.local/state; only an absolute $XDG_STATE_HOME counts */
    if (dir != NULL && dir[0] != '\0')
        n = snprintf(path, cap, "%s/%s", dir, name);
    else if (xdg != NULL && xdg[0] == '/')
        n = snprintf(path, cap, "%s/mcxsec/%s", xdg, name);
    else if (home != NULL && home[0] != '\0')
        n = snprintf(path, cap, "%s/.local/state/mcxsec/%s", home, name);
    else
        return MCX_FAIL(MCX_E_NOT_FOUND,
                        "token file: none of MCX_STATE_DIR, XDG_STATE_HOME, HOME is set");
    if (n < 0 || (size_t)n >= cap) {
        path[0] = '\0';
        return MCX_FAIL(MCX_E_ARG, "token file: path longer than %zu", cap - 1);
    }
    return MCX_OK;
}

/* mkdir -p with mode 0700 for every folder created. */
static mcx_status make_dirs(char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) == 0)
        return S_ISDIR(sb.st_mode) ? MCX_OK
                                   : MCX_FAIL(MCX_E_IO, "token file: '%s' is not a folder", dir);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        mcx_status st = make_dirs(dir);
        *slash = '/';
        MCX_GUARD(st);
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return MCX_FAIL(MCX_E_IO, "token file: cannot create '%s': %s", dir, strerror(errno));
    return MCX_OK;
}

static int put_str(json_t *o, const char *key, const char *v)
{
    return v == NULL ? 0 : json_object_set_new(o, key, json_string(v));
}

/* Zeroise the string values jansson holds for o (its own copies of the tokens), then free it.
 * What jansson frees on its own is out of reach: json_loadb's lexer keeps each token's raw text
 * in a buffer it grows and frees unwiped; a wiping allocator (json_set_alloc_funcs) would be
 * process-wide and must stay cjose's (src/token). */
static void wipe_decref(json_t *o)
{
    if (o == NULL)
        return;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) if (json_is_string(v))
        mcx_memzero((char *)(uintptr_t)json_string_value(v), json_string_length(v));
    json_decref(o);
}

mcx_status mcx_tokens_save(const mcx_tokens *t, const char *path)
{
    if (t == NULL || path == NULL || path[0] == '\0')
        return MCX_FAIL(MCX_E_ARG, "token file: no tokens or no path");
    size_t pn = strlen(path);
    if (pn > 4000)
        return MCX_FAIL(MCX_E_ARG, "token file: path too long");
    char dir[4096], tmp[4096 + 16];
    memcpy(dir, path, pn + 1);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    MCX_GUARD(make_dirs(dir));
    /* the folder must be ours and closed to others: anyone who can write to it could swap the
     * file under us */
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return MCX_FAIL(MCX_E_IO, "token file: '%s': %s", dir, strerror(errno));
    if (sb.st_uid != geteuid() || (sb.st_mode & 0077) != 0)
        return MCX_FAIL(MCX_E_DENIED,
                        "token file: folder '%s' is open to others (mode %03o); chmod 700 it", dir,
                        (unsigned)(sb.st_mode & 0777));

    json_t *o = json_object();
    if (o == NULL || put_str(o, "issuer", t->issuer) ||
        put_str(o, "access_token", t->access_token) || put_str(o, "id_token", t->id_token) ||
        put_str(o, "refresh_token", t->refresh_token) || put_str(o, "scope", t->scope) ||
        json_object_set_new(o, "expires_at", json_integer((json_int_t)t->expires_at))) {
        wipe_decref(o);
        return MCX_FAIL(MCX_E_NOMEM, "token file: out of memory");
    }
    /* json_dumpb into our own buffer: text from json_dumps would have to go back through
     * whatever allocator the program gave jansson */
    size_t n = json_dumpb(o, NULL, 0, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *text = n > 0 ? malloc(n + 1) : NULL;
    if (text == NULL || json_dumpb(o, text, n, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != n) {
        if (text != NULL)
            mcx_memzero(text, n); /* may hold part of the tokens */
        free(text);
        wipe_decref(o);
        return MCX_FAIL(MCX_E_NOMEM, "token file: out of memory");
    }
    /* the serialised text is wiped below, on every path; json_dumpb wrote it straight into our
     * buffer (no copy inside jansson) */
    wipe_decref(o);
    text[n] = '\0';

    /* temporary file in the same folder (mkstemp: O_EXCL, mode 0600), then rename over */
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    mcx_status st = MCX_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = MCX_FAIL(MCX_E_IO, "token file: cannot create a file in '%s': %s", dir,
                      strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0600) != 0) {
        st = MCX_FAIL(MCX_E_IO, "token file: chmod: %s", strerror(errno));
        goto fail;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = MCX_FAIL(MCX_E_IO, "token file: writing '%s': %s", tmp, strerror(errno));
            goto fail;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        st = MCX_FAIL(MCX_E_IO, "token file: fsync: %s", strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        st = MCX_FAIL(MCX_E_IO, "token file: close: %s", strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = MCX_FAIL(MCX_E_IO, "token file: rename to '%s': %s", path, strerror(errno));
        goto fail;
    }
    /* make the rename itself durable */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    goto out;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out:
    mcx_memzero(text, n);
    free(text);
    return st;
}

static mcx_status take_str(json_t *o, const char *key, char **slot, int required)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            return MCX_FAIL(MCX_E_ENCODING, "token file: \"%s\" missing", key);
        return MCX_OK;
    }
    if (!json_is_string(v))
        return MCX_FAIL(MCX_E_ENCODING, "token file: \"%s\" is not a string", key);
    size_t n = json_string_length(v);
    char *s = malloc(n + 1);
    if (s == NULL)
        return MCX_FAIL(MCX_E_NOMEM, "token file: out of memory");
    memcpy(s, json_string_value(v), n + 1);
    *slot = s;
    return MCX_OK;
}

mcx_status mcx_tokens_load(mcx_tokens *t, const char *path)
{
    if (t == NULL || path == NULL)
        return MCX_FAIL(MCX_E_ARG, "token file: no path");
    memset(t, 0, sizeof *t);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return MCX_FAIL(MCX_E_NOT_FOUND, "token file: '%s' does not exist (run mcx login)",
                            path);
        return MCX_FAIL(MCX_E_IO, "token file: cannot open '%s': %s", path, strerror(errno));
    }
    struct stat sb;
    mcx_status st = MCX_OK;
    char *buf = NULL;
    size_t n = 0;
    json_t *o = NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = MCX_FAIL(MCX_E_IO, "token file: '%s' is not a regular file", path);
        goto out;
    }
    /* like ssh with its keys: credentials that others could have read are not used */
    if (sb.st_uid != geteuid() || (sb.st_mode & 0077) != 0) {
        st = MCX_FAIL(MCX_E_DENIED,
                      "token file: '%s' has mode %03o (or another owner); it must be 0600 and "
                      "yours",
                      path, (unsigned)(sb.st_mode & 0777));
        goto out;
    }
    if (sb.st_size > (off_t)TOKEN_FILE_MAX) {
        st = MCX_FAIL(MCX_E_ENCODING, "token file: larger than %u octets", TOKEN_FILE_MAX);
        goto out;
    }
    buf = malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        st = MCX_FAIL(MCX_E_NOMEM, "token file: out of memory");
        goto out;
    }
    while (n < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)sb.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = MCX_FAIL(MCX_E_IO, "token file: reading '%s' failed", path);
            goto out;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    json_error_t err;
    o = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(o)) {
        st = MCX_FAIL(MCX_E_ENCODING, "token file: not a JSON object (line %d)", err.line);
        goto out;
    }
    MCX_GUARD_GOTO(st, take_str(o, "issuer", &t->issuer, 1), out);
    MCX_GUARD_GOTO(st, take_str(o, "access_token", &t->access_token, 1), out);
    MCX_GUARD_GOTO(st, take_str(o, "id_token", &t->id_token, 0), out);
    MCX_GUARD_GOTO(st, take_str(o, "refresh_token", &t->refresh_token, 0), out);
    MCX_GUARD_GOTO(st, take_str(o, "scope", &t->scope, 0), out);
    json_t *e = json_object_get(o, "expires_at");
    if (!json_is_integer(e)) {
        st = MCX_FAIL(MCX_E_ENCODING, "token file: \"expires_at\" is not an integer");
        goto out;
    }
    t->expires_at = (int64_t)json_integer_value(e);
out:
    wipe_decref(o);
    if (buf != NULL) {
        mcx_memzero(buf, n);
        free(buf);
    }
    close(fd);
    if (st != MCX_OK)
        mcx_tokens_clear(t);
    return st;
}
