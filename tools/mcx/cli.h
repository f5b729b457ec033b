/* The mcx command-line framework: a table of groups, each a table of commands, each with a table
 * of flags (STYLE.md #13, after wireguard-tools). Parsing, --help, error reporting, exit codes and
 * JSON output live here; a command's run function only calls the library.
 *
 * Exit codes (docs/cli.md):
 *   0  success; the JSON result is on stdout
 *   1  rejected: a key, signature or SED, credentials or a policy, or a named record that is
 *      missing or exists already (reason on stderr, from mcx_last_error())
 *   2  bad usage or malformed input (the flag or argument is named on stderr)
 *   3  internal failure (out of memory, random generator, output error, I/O, the store)
 * On any failure nothing is written to stdout. */
#ifndef MCX_TOOLS_CLI_H
#define MCX_TOOLS_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mcxsec/common.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_REJECTED = 1, CLI_EXIT_USAGE = 2, CLI_EXIT_FAILED = 3 };

typedef enum cli_kind {
    CLI_HEX,   /* octets given as hex, or read from a file with @FILE ('@-': standard input) */
    CLI_STR,   /* a text string */
    CLI_U64,   /* a non-negative decimal integer that fits in 64 bits */
    CLI_BOOL,  /* a switch without value */
    CLI_BYTES, /* octets given as hex, base64 (RFC 4648), or an SDP key-mgmt value "mikey <base64>"
                 (RFC 4567), or read from a file with @FILE; see cli_bytes_decode */
    CLI_JSON,  /* a JSON text (RFC 8259), or read from a file with @FILE */
} cli_kind;

/* Flag options. */
#define CLI_REQUIRED 1u /* must be given */
#define CLI_SECRET   2u /* decoded into locked memory; the argument text is wiped after decoding */

typedef struct cli_flag {
    const char *name; /* without the leading "--" */
    cli_kind kind;
    unsigned opts; /* CLI_REQUIRED | CLI_SECRET */
    /* CLI_HEX, CLI_BYTES: the length in octets must be len[0] or len[1] when len[0] != 0,
     * otherwise in [min, max] (max 0: no upper bound). CLI_STR: at most max characters (0: no
     * bound). */
    size_t len[2];
    size_t min, max;
    const char *help;
} cli_flag;

typedef struct cli_ctx cli_ctx;

typedef struct cli_command {
    /* One or more words ("user add" matches `mcx idms user add`). The empty name makes the group
     * itself the command (`mcx login --idms ...`); it must then be the group's only command. */
    const char *name;
    const char *summary;     /* one line for the group's help */
    const char *description; /* a paragraph for the command's help */
    const char *output;      /* what goes to stdout on success */
    const cli_flag *flags;
    size_t n_flags;
    int (*run)(cli_ctx *ctx); /* returns the exit code */
    int secret_output;        /* the output holds secret keys: refuse a file others can read */
} cli_command;

typedef struct cli_group {
    const char *name;
    const char *summary;
    const cli_command *commands;
    size_t n_commands;
} cli_group;

/* Entry point: dispatch argv over the group table. Returns the process exit code. */
int cli_main(int argc, char **argv, const cli_group *const *groups, size_t n_groups);

/* Flag values of the running command, looked up by flag name (a name not in the command's table is
 * a programming error and aborts). Absent optional flags give NULL / 0 / 0. cli_hex also returns
 * the octets of a CLI_BYTES flag; cli_json the parsed value of a CLI_JSON flag (owned by the
 * framework: neither modified nor released by the command; valid while it runs). */
const uint8_t *cli_hex(const cli_ctx *ctx, const char *name, size_t *len);
json_t *cli_json(const cli_ctx *ctx, const char *name);
const char *cli_str(const cli_ctx *ctx, const char *name);
uint64_t cli_u64(const cli_ctx *ctx, const char *name);
int cli_has(const cli_ctx *ctx, const char *name);

/* Read a password for the running command, never from the command line: from the file named by
 * the CLI_STR flag file_flag when it is given, else from standard input when that is not a
 * terminal, else from the terminal without echo (asked twice when confirm). The password is read
 * straight into locked memory (mcx_secure_alloc), one trailing newline removed; the caller frees
 * *out with mcx_secure_free. Returns an exit code (0: *out set; else the reason was printed). */
int cli_read_password(cli_ctx *ctx, const char *file_flag, const char *prompt, int confirm,
                      char **out);

/* "mcx crypto sign": the prefix of every message the running command prints. */
const char *cli_prog(const cli_ctx *ctx);

/* Decode the text of a CLI_BYTES value into out[0..cap) (cap >= strlen(text) + 1 always suffices):
 * after trimming white space, "mikey <base64>" or "a=key-mgmt:mikey <base64>" is an SDP key-mgmt
 * value; text made only of hex digits (with the separators mcx_hex_decode skips) is hex; anything
 * else is base64, with white space and line breaks removed first. Errors as the decoders':
 * MCX_E_ENCODING, MCX_E_LENGTH, MCX_E_UNSUPPORTED, with the reason in mcx_last_error(). */
mcx_status cli_bytes_decode(const char *text, uint8_t *out, size_t cap, size_t *out_len);

/* Report a failed library call: "<prog>: <what>: <mcx_last_error()> (<status name>)" on stderr.
 * Returns the exit code for st: 1 for a rejected key, signature or SED (and any other verdict on
 * the input's cryptographic validity), 3 for internal failures. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int cli_fail(const cli_ctx *ctx, mcx_status st, const char *fmt, ...);

/* Report a rejection found by the command itself (no library status). Returns 1. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_reject(const cli_ctx *ctx, const char *fmt, ...);

/* Report bad usage or malformed input. Returns 2. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_usage(const cli_ctx *ctx, const char *fmt, ...);

/* JSON output. Every allocation jansson makes is zeroised when freed (the output may hold secret
 * keys), and the text is written straight to the stdout file descriptor, bypassing stdio buffers.
 * cli_out_new returns NULL on failure (out of memory). cli_out_hex and cli_out_bool return 0 or -1.
 * cli_emit prints and frees obj (which may be NULL: out of memory) and returns the exit code. */
json_t *cli_out_new(void);
int cli_out_hex(json_t *obj, const char *key, const uint8_t *bytes, size_t n);
int cli_out_bool(json_t *obj, const char *key, int value);
int cli_emit(const cli_ctx *ctx, json_t *obj);

#endif
