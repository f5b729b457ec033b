/* The mcx command-line framework: dispatch over the group and command tables, flag parsing, help,
 * error reporting and JSON output (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "mcxsec/hex.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey_transport.h"

#define CLI_MAX_FLAGS 32
#define CLI_FILE_MAX  (16u * 1024u * 1024u) /* largest @FILE value accepted */

typedef struct cli_value {
    int present;
    char *text;       /* the argument text as given (points into argv) */
    uint8_t *bytes;   /* CLI_HEX, CLI_BYTES: decoded octets */
    size_t len;       /* CLI_HEX, CLI_BYTES: number of octets */
    int bytes_secure; /* bytes came from mcx_secure_alloc */
    uint64_t u64;     /* CLI_U64 */
    json_t *json;     /* CLI_JSON */
} cli_value;

struct cli_ctx {
    char prog[96];
    const cli_command *cmd;
    cli_value vals[CLI_MAX_FLAGS];
    int stdin_used;
};

/* ---- zeroising allocator for jansson: the JSON output may carry secret keys ---- */

#define ZHDR sizeof(max_align_t)

static void *zmalloc(size_t n)
{
    if (n > SIZE_MAX - ZHDR)
        return NULL;
    unsigned char *p = malloc(n + ZHDR);
    if (p == NULL)
        return NULL;
    memcpy(p, &n, sizeof n);
    return p + ZHDR;
}

static void zfree(void *q)
{
    if (q == NULL)
        return;
    unsigned char *p = (unsigned char *)q - ZHDR;
    size_t n;
    memcpy(&n, p, sizeof n);
    mcx_memzero(p, n + ZHDR);
    free(p);
}

/* ---- messages ---- */

static void vmsg(const char *prog, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
usage_at(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(prog, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help'.\n", prog);
    return CLI_EXIT_USAGE;
}

int cli_usage(const cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(ctx->prog, fmt, ap);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_reject(const cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(ctx->prog, fmt, ap);
    va_end(ap);
    return CLI_EXIT_REJECTED;
}

static int status_exit(mcx_status st)
{
    switch (st) {
    case MCX_E_LENGTH:
    case MCX_E_ENCODING:
    case MCX_E_NOT_ON_CURVE:
    case MCX_E_WRONG_ORDER:
    case MCX_E_RANGE:
    case MCX_E_KEY_INVALID:
    case MCX_E_SIG_INVALID:
    case MCX_E_SED_INVALID:
    case MCX_E_UNSUPPORTED:
    case MCX_E_TIME:
    case MCX_E_REPLAY:
    case MCX_E_UNKNOWN_PEER:
    case MCX_E_NO_KEY:
    case MCX_E_TAG_INVALID:
    case MCX_E_DENIED:    /* the IdMS or a policy refused a valid request */
    case MCX_E_NOT_FOUND: /* the named user, client or record does not exist */
    case MCX_E_EXISTS:    /* the record to be created exists already */
        return CLI_EXIT_REJECTED;
    default:
        return CLI_EXIT_FAILED;
    }
}

int cli_fail(const cli_ctx *ctx, mcx_status st, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", ctx->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    const char *reason = mcx_last_error();
    if (reason[0] != '\0')
        fprintf(stderr, ": %s", reason);
    fprintf(stderr, " (%s)\n", mcx_status_name(st));
    return status_exit(st);
}

const char *cli_prog(const cli_ctx *ctx)
{
    return ctx->prog;
}

/* ---- help ---- */

static const char *metavar(cli_kind kind)
{
    switch (kind) {
    case CLI_HEX:
        return "HEX";
    case CLI_STR:
        return "TEXT";
    case CLI_U64:
        return "N";
    case CLI_BYTES:
        return "DATA";
    case CLI_JSON:
        return "JSON";
    case CLI_BOOL:
        break;
    }
    return "";
}

static void print_usage_line(FILE *f, const char *prog, const cli_command *cmd)
{
    fprintf(f, "usage: %s", prog);
    for (size_t i = 0; i < cmd->n_flags; i++) {
        const cli_flag *fl = &cmd->flags[i];
        int req = (fl->opts & CLI_REQUIRED) != 0;
        fprintf(f, " %s--%s%s%s%s", req ? "" : "[", fl->name, fl->kind == CLI_BOOL ? "" : " ",
                metavar(fl->kind), req ? "" : "]");
    }
    fputc('\n', f);
}

static void print_command_help(FILE *f, const char *prog, const cli_command *cmd)
{
    print_usage_line(f, prog, cmd);
    fprintf(f, "\n%s\n\nflags:\n", cmd->description);
    int width = 10; /* "-h, --help" */
    for (size_t i = 0; i < cmd->n_flags; i++) {
        const cli_flag *fl = &cmd->flags[i];
        int w = 2 + (int)strlen(fl->name) + (fl->kind == CLI_BOOL ? 0 : 1) +
                (int)strlen(metavar(fl->kind));
        if (w > width)
            width = w;
    }
    for (size_t i = 0; i < cmd->n_flags; i++) {
        const cli_flag *fl = &cmd->flags[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", fl->name, fl->kind == CLI_BOOL ? "" : " ",
                 metavar(fl->kind));
        fprintf(f, "  %-*s  %s%s\n", width, left, fl->help,
                (fl->opts & CLI_REQUIRED) ? "" : " (optional)");
    }
    fprintf(f, "  %-*s  %s\n", width, "-h, --help", "show this help");
    int any_hex = 0, any_bytes = 0, any_json = 0;
    for (size_t i = 0; i < cmd->n_flags; i++) {
        any_hex |= cmd->flags[i].kind == CLI_HEX;
        any_bytes |= cmd->flags[i].kind == CLI_BYTES;
        any_json |= cmd->flags[i].kind == CLI_JSON;
    }
    if (any_bytes)
        fprintf(f, "\nA DATA value is hex, base64, or an SDP key-mgmt value 'mikey <base64>'.\n");
    if (any_json)
        fprintf(f, "\nA JSON value is a JSON text; quote it for the shell.\n");
    if (any_hex || any_bytes || any_json) {
        char kinds[32];
        snprintf(kinds, sizeof kinds, "%s%s%s%s%s", any_hex ? "HEX" : "",
                 any_hex && (any_bytes || any_json) ? (any_bytes && any_json ? ", " : " or ") : "",
                 any_bytes ? "DATA" : "", any_bytes && any_json ? " or " : "",
                 any_json ? "JSON" : "");
        fprintf(f,
                "\nA %s value may also be given as @FILE (read from FILE; @- reads standard "
                "input),\nwhich keeps secret keys out of the process list.\n",
                kinds);
    }
    fprintf(f, "\noutput: %s\n", cmd->output);
    fprintf(f, "exit: 0 success, 1 rejected (key, signature, SED, credentials, policy, record), 2 "
               "usage or malformed input, 3 internal, I/O or store failure\n");
}

/* Whether the command named name starts with the words prefix ("" matches every command). */
static int under_prefix(const char *name, const char *prefix)
{
    size_t k = strlen(prefix);
    return k == 0 || (strncmp(name, prefix, k) == 0 && (name[k] == '\0' || name[k] == ' '));
}

/* The group's commands whose name starts with the words prefix ("" for all). */
static void print_group_help(FILE *f, const cli_group *g, const char *prefix)
{
    const char *sp = prefix[0] != '\0' ? " " : "";
    fprintf(f,
            "usage: mcx %s%s%s <command> [flags]\n       mcx %s%s%s <command> --help\n\n%s\n\n"
            "commands:\n",
            g->name, sp, prefix, g->name, sp, prefix, g->summary);
    int width = 0;
    for (size_t i = 0; i < g->n_commands; i++) {
        int w = (int)strlen(g->commands[i].name);
        if (under_prefix(g->commands[i].name, prefix) && w > width)
            width = w;
    }
    for (size_t i = 0; i < g->n_commands; i++)
        if (under_prefix(g->commands[i].name, prefix))
            fprintf(f, "  %-*s  %s\n", width, g->commands[i].name, g->commands[i].summary);
}

static void print_program_help(FILE *f, const cli_group *const *groups, size_t n)
{
    fprintf(f, "usage: mcx <group> <command> [flags]\n"
               "       mcx <group> --help | mcx <group> <command> --help\n\n"
               "mcxsec: 3GPP mission-critical (MCPTT/MCVideo/MCData) security, TS 33.180.\n"
               "Results are printed as one JSON object on stdout; octet strings are lowercase "
               "hex.\n\ngroups:\n");
    int width = 0;
    for (size_t i = 0; i < n; i++) {
        int w = (int)strlen(groups[i]->name);
        if (w > width)
            width = w;
    }
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-*s  %s\n", width, groups[i]->name, groups[i]->summary);
    fprintf(f, "\nexit: 0 success, 1 rejected (key, signature, SED, credentials, policy, record), "
               "2 usage or malformed input, 3 internal, I/O or store failure\n");
}

static int is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* ---- flag values ---- */

static size_t flag_index(const cli_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->cmd->n_flags; i++)
        if (strcmp(ctx->cmd->flags[i].name, name) == 0)
            return i;
    fprintf(stderr, "%s: internal error: no flag --%s\n", ctx->prog, name);
    abort();
}

const uint8_t *cli_hex(const cli_ctx *ctx, const char *name, size_t *len)
{
    const cli_value *v = &ctx->vals[flag_index(ctx, name)];
    if (len != NULL)
        *len = v->len;
    return v->bytes;
}

const char *cli_str(const cli_ctx *ctx, const char *name)
{
    const cli_value *v = &ctx->vals[flag_index(ctx, name)];
    return v->present ? v->text : NULL;
}

uint64_t cli_u64(const cli_ctx *ctx, const char *name)
{
    return ctx->vals[flag_index(ctx, name)].u64;
}

json_t *cli_json(const cli_ctx *ctx, const char *name)
{
    return ctx->vals[flag_index(ctx, name)].json;
}

int cli_has(const cli_ctx *ctx, const char *name)
{
    return ctx->vals[flag_index(ctx, name)].present;
}

/* Read a whole file (or standard input for "-") as NUL-terminated text. Every intermediate
 * buffer is wiped, since the file may hold a secret key. */
static char *read_text_file(const cli_ctx *ctx, const char *flag, const char *path, size_t *out_n,
                            int *rc)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        *rc = cli_usage(ctx, "--%s: cannot open '%s': %s", flag, path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    *rc = CLI_EXIT_FAILED;
    while (buf != NULL) {
        if (n + 1 == cap) {
            if (cap >= CLI_FILE_MAX) {
                *rc =
                    cli_usage(ctx, "--%s: '%s' is larger than %u bytes", flag, path, CLI_FILE_MAX);
                break;
            }
            char *bigger = malloc(cap * 2);
            if (bigger != NULL)
                memcpy(bigger, buf, n);
            mcx_memzero(buf, cap);
            free(buf);
            buf = bigger;
            cap *= 2;
            continue;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                *rc = cli_usage(ctx, "--%s: cannot read '%s'", flag, path);
                break;
            }
            if (f != stdin)
                fclose(f);
            buf[n] = '\0';
            if (strlen(buf) != n) {
                *rc = cli_usage(ctx, "--%s: '%s' contains a NUL byte", flag, path);
                mcx_memzero(buf, cap);
                free(buf);
                return NULL;
            }
            *out_n = n;
            *rc = CLI_EXIT_OK;
            return buf;
        }
    }
    if (buf == NULL)
        fprintf(stderr, "%s: out of memory\n", ctx->prog);
    if (f != stdin)
        fclose(f);
    if (buf != NULL) {
        mcx_memzero(buf, cap);
        free(buf);
    }
    return NULL;
}

static void describe_lengths(const cli_flag *fl, char *out, size_t cap)
{
    if (fl->len[0] != 0 && fl->len[1] != 0)
        snprintf(out, cap, "%zu or %zu octets (%zu or %zu hex digits)", fl->len[0], fl->len[1],
                 2 * fl->len[0], 2 * fl->len[1]);
    else if (fl->len[0] != 0)
        snprintf(out, cap, "%zu octets (%zu hex digits)", fl->len[0], 2 * fl->len[0]);
    else if (fl->max != 0)
        snprintf(out, cap, "%zu to %zu octets", fl->min, fl->max);
    else
        snprintf(out, cap, "at least %zu octet%s", fl->min, fl->min == 1 ? "" : "s");
}

static int length_ok(const cli_flag *fl, size_t n)
{
    if (fl->len[0] != 0)
        return n == fl->len[0] || (fl->len[1] != 0 && n == fl->len[1]);
    return n >= fl->min && (fl->max == 0 || n <= fl->max);
}

/* The text of a value: the argument itself, or the content of @FILE (@-: standard input), which
 * the caller wipes and frees (*file_text). */
static int value_text(cli_ctx *ctx, const cli_flag *fl, const cli_value *v, const char **text,
                      char **file_text, size_t *file_n)
{
    int rc = CLI_EXIT_OK;
    *text = v->text;
    *file_text = NULL;
    *file_n = 0;
    if (v->text[0] != '@')
        return CLI_EXIT_OK;
    if (strcmp(v->text + 1, "-") == 0) {
        if (ctx->stdin_used)
            return cli_usage(ctx, "--%s: standard input is already read by another flag", fl->name);
        ctx->stdin_used = 1;
    }
    *file_text = read_text_file(ctx, fl->name, v->text + 1, file_n, &rc);
    if (*file_text == NULL)
        return rc;
    *text = *file_text;
    return CLI_EXIT_OK;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_hex_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == ':' || is_blank(c)))
            return 0;
    }
    return 1;
}

static int starts_ci(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    if (n < k)
        return 0;
    for (size_t i = 0; i < k; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return 0;
    }
    return 1;
}

mcx_status cli_bytes_decode(const char *text, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t n = strlen(text);
    while (n > 0 && is_blank(text[0])) {
        text++;
        n--;
    }
    while (n > 0 && is_blank(text[n - 1]))
        n--;
    /* RFC 4567 §3.1: the key-mgmt attribute value, or the whole SDP line. */
    if ((starts_ci(text, n, "mikey") && (n == 5 || is_blank(text[5]))) ||
        starts_ci(text, n, "a=key-mgmt:"))
        return mcx_sdp_keymgmt_parse(text, n, out, cap, out_len);
    if (n > 0 && is_hex_text(text, n))
        return mcx_hex_decode(text, out, cap, out_len);
    /* base64, possibly wrapped over lines: the decoder itself is strict and skips nothing. */
    char *b64 = malloc(n + 1);
    if (b64 == NULL) {
        mcx_clear_error();
        return MCX_E_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_blank(text[i]))
            b64[k++] = text[i];
    mcx_status st = mcx_base64_decode(b64, k, out, cap, out_len);
    mcx_memzero(b64, n + 1);
    free(b64);
    return st;
}

static int decode_octets(cli_ctx *ctx, const cli_flag *fl, cli_value *v)
{
    const char *text;
    char *file_text;
    size_t file_n;
    int rc = value_text(ctx, fl, v, &text, &file_text, &file_n);
    if (rc != CLI_EXIT_OK)
        return rc;
    size_t cap = fl->kind == CLI_HEX ? strlen(text) / 2 + 1 : strlen(text) + 1;
    v->bytes_secure = (fl->opts & CLI_SECRET) != 0;
    v->bytes = v->bytes_secure ? mcx_secure_alloc(cap) : calloc(1, cap);
    if (v->bytes == NULL) {
        fprintf(stderr, "%s: out of memory\n", ctx->prog);
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    mcx_status st = fl->kind == CLI_HEX ? mcx_hex_decode(text, v->bytes, cap, &v->len)
                                        : cli_bytes_decode(text, v->bytes, cap, &v->len);
    if (st == MCX_E_NOMEM) {
        fprintf(stderr, "%s: out of memory\n", ctx->prog);
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    if (st != MCX_OK) {
        if (file_text != NULL)
            rc = cli_usage(ctx, "--%s: %s: %s", fl->name, v->text + 1, mcx_last_error());
        else
            rc = cli_usage(ctx, "--%s: %s", fl->name, mcx_last_error());
        goto out;
    }
    if (!length_ok(fl, v->len)) {
        char want[96];
        describe_lengths(fl, want, sizeof want);
        rc = cli_usage(ctx, "--%s: expected %s, got %zu octet%s", fl->name, want, v->len,
                       v->len == 1 ? "" : "s");
        goto out;
    }
out:
    if (file_text != NULL) {
        mcx_memzero(file_text, file_n);
        free(file_text);
    }
    return rc;
}

static int decode_json(cli_ctx *ctx, const cli_flag *fl, cli_value *v)
{
    const char *text;
    char *file_text;
    size_t file_n;
    int rc = value_text(ctx, fl, v, &text, &file_text, &file_n);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_error_t err;
    v->json = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (v->json == NULL)
        rc = cli_usage(ctx, "--%s: JSON: %s (line %d, column %d)", fl->name, err.text, err.line,
                       err.column);
    if (file_text != NULL) {
        mcx_memzero(file_text, file_n);
        free(file_text);
    }
    return rc;
}

static int decode_u64(const cli_ctx *ctx, const cli_flag *fl, cli_value *v)
{
    const char *s = v->text;
    uint64_t x = 0;
    if (*s == '\0')
        return cli_usage(ctx, "--%s: expected a non-negative decimal integer, got ''", fl->name);
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return cli_usage(ctx, "--%s: expected a non-negative decimal integer, got '%s'",
                             fl->name, v->text);
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return cli_usage(ctx, "--%s: %s does not fit in 64 bits", fl->name, v->text);
        x = x * 10 + d;
    }
    v->u64 = x;
    return CLI_EXIT_OK;
}

static int parse_flags(cli_ctx *ctx, int argc, char **argv)
{
    const cli_command *cmd = ctx->cmd;
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
            return cli_usage(ctx, "unexpected argument '%s'", a);
        char *name = a + 2;
        char *eq = strchr(name, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        size_t k = 0;
        while (k < cmd->n_flags && !(strlen(cmd->flags[k].name) == name_len &&
                                     memcmp(cmd->flags[k].name, name, name_len) == 0))
            k++;
        if (k == cmd->n_flags)
            return cli_usage(ctx, "unknown flag '--%.*s'", (int)name_len, name);
        const cli_flag *fl = &cmd->flags[k];
        cli_value *v = &ctx->vals[k];
        if (v->present)
            return cli_usage(ctx, "--%s given more than once", fl->name);
        v->present = 1;
        if (fl->kind == CLI_BOOL) {
            if (eq != NULL)
                return cli_usage(ctx, "--%s takes no value", fl->name);
            continue;
        }
        if (eq != NULL) {
            v->text = eq + 1;
        } else {
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
                return cli_usage(ctx, "--%s needs a value", fl->name);
            v->text = argv[++i];
        }
    }
    for (size_t k = 0; k < cmd->n_flags; k++) {
        const cli_flag *fl = &cmd->flags[k];
        cli_value *v = &ctx->vals[k];
        if (!v->present || fl->kind == CLI_BOOL)
            continue;
        int rc = CLI_EXIT_OK;
        if (fl->kind == CLI_HEX || fl->kind == CLI_BYTES)
            rc = decode_octets(ctx, fl, v);
        else if (fl->kind == CLI_JSON)
            rc = decode_json(ctx, fl, v);
        else if (fl->kind == CLI_U64)
            rc = decode_u64(ctx, fl, v);
        else if (fl->max != 0 && strlen(v->text) > fl->max)
            rc = cli_usage(ctx, "--%s: longer than %zu characters", fl->name, fl->max);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    /* Missing flags last: a malformed value that was given is the more useful message. */
    for (size_t k = 0; k < cmd->n_flags; k++)
        if ((cmd->flags[k].opts & CLI_REQUIRED) && !ctx->vals[k].present)
            return cli_usage(ctx, "missing required flag --%s", cmd->flags[k].name);
    return CLI_EXIT_OK;
}

/* Wipe decoded values and the command-line text of secret flags. */
static void release_values(cli_ctx *ctx)
{
    for (size_t k = 0; k < ctx->cmd->n_flags; k++) {
        cli_value *v = &ctx->vals[k];
        if (v->bytes != NULL) {
            if (v->bytes_secure) {
                mcx_secure_free(v->bytes);
            } else {
                mcx_memzero(v->bytes, v->len);
                free(v->bytes);
            }
        }
        if (v->json != NULL)
            json_decref(v->json);
        if ((ctx->cmd->flags[k].opts & CLI_SECRET) && v->text != NULL && v->text[0] != '@')
            mcx_memzero(v->text, strlen(v->text));
        memset(v, 0, sizeof *v);
    }
}

/* Secret keys must not land in a file that group or others can read (STYLE.md #13). A pipe or a
 * terminal is the caller's business. */
static int stdout_is_private(const cli_ctx *ctx)
{
    struct stat st;
    if (fstat(STDOUT_FILENO, &st) != 0 || !S_ISREG(st.st_mode) ||
        (st.st_mode & (S_IRGRP | S_IROTH)) == 0)
        return 1;
    fprintf(stderr,
            "%s: refusing to write secret keys to a file that group or others can read "
            "(mode %03o); create it with umask 077 or chmod go-rw it first\n",
            ctx->prog, (unsigned)(st.st_mode & 0777));
    return 0;
}

/* Whether arg is `--name` (without `=value`) of a flag that takes a value. */
static int takes_separate_value(const cli_command *cmd, const char *arg)
{
    if (strncmp(arg, "--", 2) != 0 || strchr(arg, '=') != NULL)
        return 0;
    for (size_t k = 0; k < cmd->n_flags; k++)
        if (strcmp(cmd->flags[k].name, arg + 2) == 0)
            return cmd->flags[k].kind != CLI_BOOL;
    return 0;
}

static int run_command(const cli_group *g, const cli_command *cmd, int argc, char **argv)
{
    if (cmd->n_flags > CLI_MAX_FLAGS) {
        fprintf(stderr, "mcx %s: internal error: too many flags in '%s'\n", g->name, cmd->name);
        return CLI_EXIT_FAILED;
    }
    cli_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.cmd = cmd;
    snprintf(ctx.prog, sizeof ctx.prog, "mcx %s%s%s", g->name, cmd->name[0] != '\0' ? " " : "",
             cmd->name);
    /* --help anywhere in flag position wins over every other error; a flag's value is skipped, so
     * `--uri -h` is a URI, not a request for help. */
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) {
            print_command_help(stdout, ctx.prog, cmd);
            return CLI_EXIT_OK;
        }
        if (takes_separate_value(cmd, argv[i]) && i + 1 < argc &&
            strncmp(argv[i + 1], "--", 2) != 0)
            i++;
    }
    mcx_clear_error();
    int rc = parse_flags(&ctx, argc, argv);
    if (rc == CLI_EXIT_USAGE)
        fprintf(stderr, "Try '%s --help'.\n", ctx.prog);
    else if (rc == CLI_EXIT_OK && cmd->secret_output && !stdout_is_private(&ctx))
        rc = CLI_EXIT_USAGE;
    else if (rc == CLI_EXIT_OK)
        rc = cmd->run(&ctx);
    release_values(&ctx);
    return rc;
}

/* How many of argv's words spell the (space-separated) command name, or 0 when they do not. */
static int match_words(const char *name, int argc, char **argv)
{
    if (name[0] == '\0')
        return 0;
    int k = 0;
    const char *p = name;
    while (*p != '\0') {
        size_t n = strcspn(p, " ");
        if (k >= argc || strlen(argv[k]) != n || strncmp(argv[k], p, n) != 0)
            return 0;
        k++;
        p += n;
        if (*p == ' ')
            p++;
    }
    return k;
}

int cli_main(int argc, char **argv, const cli_group *const *groups, size_t n_groups)
{
    json_set_alloc_funcs(zmalloc, zfree);
    if (argc < 2) {
        print_program_help(stderr, groups, n_groups);
        return CLI_EXIT_USAGE;
    }
    if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        print_program_help(stdout, groups, n_groups);
        return CLI_EXIT_OK;
    }
    const cli_group *g = NULL;
    for (size_t i = 0; i < n_groups && g == NULL; i++)
        if (strcmp(groups[i]->name, argv[1]) == 0)
            g = groups[i];
    if (g == NULL)
        return usage_at("mcx", "unknown group '%s'", argv[1]);
    char gprog[64];
    snprintf(gprog, sizeof gprog, "mcx %s", g->name);
    /* A group whose one command has the empty name is itself a command (`mcx login --idms ...`):
     * everything after the group is its flags. */
    if (g->n_commands == 1 && g->commands[0].name[0] == '\0')
        return run_command(g, &g->commands[0], argc - 2, argv + 2);
    if (argc < 3) {
        print_group_help(stderr, g, "");
        fputc('\n', stderr);
        return usage_at(gprog, "missing command");
    }
    if (is_help(argv[2]) || strcmp(argv[2], "help") == 0) {
        print_group_help(stdout, g, "");
        return CLI_EXIT_OK;
    }
    /* Command names may be several words ("user add"): the longest name that matches the words
     * after the group wins. */
    const cli_command *best = NULL;
    int best_words = 0;
    for (size_t i = 0; i < g->n_commands; i++) {
        int words = match_words(g->commands[i].name, argc - 2, argv + 2);
        if (words > best_words) {
            best = &g->commands[i];
            best_words = words;
        }
    }
    if (best != NULL)
        return run_command(g, best, argc - 2 - best_words, argv + 2 + best_words);
    /* Some words that begin command names ("mcx idms user"): help for those, or what is missing */
    char prefix[64] = "";
    int pw = 0;
    for (int k = 2; k < argc && !is_help(argv[k]) && strncmp(argv[k], "--", 2) != 0; k++) {
        char next[64];
        snprintf(next, sizeof next, "%s%s%s", prefix, pw > 0 ? " " : "", argv[k]);
        int any = 0;
        for (size_t i = 0; i < g->n_commands; i++)
            any |= under_prefix(g->commands[i].name, next) && strcmp(g->commands[i].name, next);
        if (!any)
            break;
        memcpy(prefix, next, sizeof prefix);
        pw++;
    }
    if (pw > 0) {
        char pprog[128];
        snprintf(pprog, sizeof pprog, "mcx %s %s", g->name, prefix);
        if (2 + pw < argc && is_help(argv[2 + pw])) {
            print_group_help(stdout, g, prefix);
            return CLI_EXIT_OK;
        }
        print_group_help(stderr, g, prefix);
        fputc('\n', stderr);
        if (2 + pw >= argc)
            return usage_at(pprog, "missing command");
        return usage_at(pprog, "unknown command '%s'", argv[2 + pw]);
    }
    return usage_at(gprog, "unknown command '%s'", argv[2]);
}

/* ---- passwords ---- */

#define CLI_PASSWORD_MAX 1024

/* Read up to cap - 1 octets from fd into buf until end of file (or, for a terminal, the end of
 * the line), one octet at a time so that nothing is left in a stdio buffer. Returns the length,
 * or -1 (error), or -2 (too long). */
static ssize_t read_secret_fd(int fd, char *buf, size_t cap, int line)
{
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0 || (line && c == '\n'))
            break;
        if (n + 1 >= cap) {
            mcx_memzero(&c, 1);
            return -2;
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

/* Prompt on the terminal with echo off; the terminal's state is restored. */
static ssize_t read_tty_secret(int tty, const char *prompt, char *buf, size_t cap)
{
    struct termios old, quiet;
    if (tcgetattr(tty, &old) != 0)
        return -1;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    /* echo goes off before the prompt appears, so nothing typed early is shown; TCSADRAIN, not
     * TCSAFLUSH: what was typed ahead is kept (and stays unechoed) */
    if (tcsetattr(tty, TCSADRAIN, &quiet) != 0)
        return -1;
    if (write(tty, prompt, strlen(prompt)) < 0) {
        (void)tcsetattr(tty, TCSADRAIN, &old);
        return -1;
    }
    ssize_t n = read_secret_fd(tty, buf, cap, 1);
    (void)tcsetattr(tty, TCSADRAIN, &old);
    (void)!write(tty, "\n", 1);
    return n;
}

int cli_read_password(cli_ctx *ctx, const char *file_flag, const char *prompt, int confirm,
                      char **out)
{
    *out = NULL;
    char *pw = mcx_secure_alloc(CLI_PASSWORD_MAX + 1);
    char *again = NULL;
    if (pw == NULL) {
        fprintf(stderr, "%s: out of memory\n", ctx->prog);
        return CLI_EXIT_FAILED;
    }
    const char *file = file_flag != NULL ? cli_str(ctx, file_flag) : NULL;
    ssize_t n;
    int rc = CLI_EXIT_OK;
    if (file != NULL) {
        int fd = strcmp(file, "-") == 0 ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = cli_usage(ctx, "--%s: cannot open '%s': %s", file_flag, file, strerror(errno));
            goto out;
        }
        n = read_secret_fd(fd, pw, CLI_PASSWORD_MAX + 1, 0);
        if (fd != STDIN_FILENO)
            close(fd);
    } else if (!isatty(STDIN_FILENO)) {
        if (ctx->stdin_used) {
            rc = cli_usage(ctx, "the password cannot be read from standard input: another flag "
                                "reads it; use --password-file");
            goto out;
        }
        n = read_secret_fd(STDIN_FILENO, pw, CLI_PASSWORD_MAX + 1, 0);
    } else {
        int tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
        if (tty < 0) {
            rc = cli_usage(ctx, "no terminal to ask the password on; use --password-file");
            goto out;
        }
        char ask[128];
        snprintf(ask, sizeof ask, "%s: ", prompt);
        n = read_tty_secret(tty, ask, pw, CLI_PASSWORD_MAX + 1);
        if (n >= 0 && confirm) {
            again = mcx_secure_alloc(CLI_PASSWORD_MAX + 1);
            snprintf(ask, sizeof ask, "%s (again): ", prompt);
            ssize_t m = again != NULL ? read_tty_secret(tty, ask, again, CLI_PASSWORD_MAX + 1) : -1;
            if (m != n || !mcx_ct_equal(pw, again, (size_t)n)) {
                close(tty);
                rc = cli_usage(ctx, "the two passwords differ");
                goto out;
            }
        }
        close(tty);
    }
    if (n == -2) {
        rc = cli_usage(ctx, "password longer than %d octets", CLI_PASSWORD_MAX);
        goto out;
    }
    if (n < 0) {
        rc = cli_usage(ctx, "cannot read the password: %s", strerror(errno));
        goto out;
    }
    /* one trailing newline (a file written by echo, a here-string) is not part of it */
    if (n > 0 && pw[n - 1] == '\n')
        pw[--n] = '\0';
    if (n > 0 && pw[n - 1] == '\r')
        pw[--n] = '\0';
    if (n == 0) {
        rc = cli_usage(ctx, "empty password");
        goto out;
    }
    if (strlen(pw) != (size_t)n) {
        rc = cli_usage(ctx, "the password contains a NUL octet");
        goto out;
    }
    *out = pw;
    pw = NULL;
out:
    mcx_secure_free(pw);
    mcx_secure_free(again);
    return rc;
}

/* ---- JSON output ---- */

json_t *cli_out_new(void)
{
    return json_object();
}

int cli_out_hex(json_t *obj, const char *key, const uint8_t *bytes, size_t n)
{
    if (obj == NULL || n > (SIZE_MAX - 1) / 2)
        return -1;
    char *hex = zmalloc(2 * n + 1);
    if (hex == NULL)
        return -1;
    mcx_hex_encode(bytes, n, hex);
    int rc = json_object_set_new(obj, key, json_stringn(hex, 2 * n));
    zfree(hex);
    return rc;
}

int cli_out_bool(json_t *obj, const char *key, int value)
{
    if (obj == NULL)
        return -1;
    return json_object_set_new(obj, key, json_boolean(value));
}

int cli_emit(const cli_ctx *ctx, json_t *obj)
{
    if (obj == NULL) {
        fprintf(stderr, "%s: out of memory\n", ctx->prog);
        return CLI_EXIT_FAILED;
    }
    char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (text == NULL) {
        fprintf(stderr, "%s: out of memory\n", ctx->prog);
        return CLI_EXIT_FAILED;
    }
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the NUL; the length is known */
    size_t off = 0;
    int rc = CLI_EXIT_OK;
    while (off < n + 1) {
        ssize_t w = write(STDOUT_FILENO, text + off, n + 1 - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "%s: writing output: %s\n", ctx->prog, strerror(errno));
            rc = CLI_EXIT_FAILED;
            break;
        }
        off += (size_t)w;
    }
    zfree(text);
    return rc;
}
