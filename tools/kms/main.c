/* mcx-kms: the key management server (TS 33.180 §5.2, Annex D) as a daemon.
 *
 *   mcx-kms --config FILE [--listen ADDR:PORT] [--store URL] [--port-file FILE]
 *           [--clock-offset SECONDS]
 *
 * Opens the sealed master secrets once at start (passphrase file or key file from the
 * configuration) into locked memory, then serves the Annex D XML interface over HTTPS. Logs one
 * line per request to stderr; prints "mcx-kms: listening on https://ADDR:PORT" once the socket
 * listens; SIGTERM / SIGINT stop gracefully (exit 0). SIGHUP is logged and otherwise ignored:
 * the store is read on every request and the IdMS's keys are fetched again when a token names an
 * unknown key. A clock offset (for rollover drills and tests) moves the key-period clock only and
 * is announced by a WARNING line at start. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd/httpd_internal.h"
#include "kms/server_internal.h"
#include "mcxsec/kms.h"
#include "mcxsec/mem.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mcx-kms --config FILE [--listen ADDR:PORT] [--store URL] "
               "[--port-file FILE] [--clock-offset SECONDS]\n"
               "  --config FILE       JSON configuration (docs/kms.md)\n"
               "  --listen ADDR:PORT  override \"listen\" (port 0: any free port)\n"
               "  --store URL         override \"store\" (sqlite:PATH or postgresql://...)\n"
               "  --port-file FILE    write the bound port to FILE once listening\n"
               "  --clock-offset S    override \"clock_offset\": seconds (may be negative) added\n"
               "                      to the clock for key periods; drills and tests only\n");
}

static int replace(char **field, const char *value)
{
    char *c = strdup(value);
    if (c == NULL)
        return -1;
    free(*field);
    *field = c;
    return 0;
}

/* A signed number of seconds within +-MCX_KMS_CLOCK_OFFSET_MAX. */
static int parse_offset(const char *text, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v > MCX_KMS_CLOCK_OFFSET_MAX ||
        v < -MCX_KMS_CLOCK_OFFSET_MAX)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* A shifted key-period clock issues keys for other periods than the real one: say so loudly, with
 * both times, so that nobody runs it in production by accident. */
static void warn_offset(int64_t offset)
{
    time_t real = time(NULL), shifted = real + (time_t)offset;
    struct tm a, b;
    char ra[32] = "?", sb[32] = "?";
    if (gmtime_r(&real, &a) != NULL)
        strftime(ra, sizeof ra, "%Y-%m-%dT%H:%M:%SZ", &a);
    if (gmtime_r(&shifted, &b) != NULL)
        strftime(sb, sizeof sb, "%Y-%m-%dT%H:%M:%SZ", &b);
    fprintf(stderr,
            "mcx-kms: WARNING: CLOCK OFFSET %+" PRId64 " s: key periods follow %s, not the real "
            "time %s (tokens and the audit log keep the real clock); for drills and tests only\n",
            offset, sb, ra);
}

/* The master secrets, from the sealed file with the configuration's passphrase or key file. */
static mcx_status load_secrets(const mcx_kms_config *cfg, mcx_kms_secrets **out)
{
    mcx_kms_unlock u = {0};
    char *pass = NULL;
    size_t pass_len = 0;
    if (cfg->passphrase_file != NULL) {
        mcx_status st = mcx_kms_read_passphrase(cfg->passphrase_file, &pass, &pass_len);
        if (st != MCX_OK)
            return st;
        u.passphrase = pass;
        u.passphrase_len = pass_len;
    } else {
        u.key_file = cfg->key_file;
    }
    mcx_status st = mcx_kms_secrets_load(out, cfg->secrets, &u);
    if (pass != NULL) {
        mcx_memzero(pass, pass_len);
        mcx_secure_free(pass);
    }
    return st;
}

int main(int argc, char **argv)
{
    static const char *const extra[] = {"--clock-offset", NULL};
    httpd_daemon_args a;
    int exit_now = httpd_daemon_parse(argc, argv, "mcx-kms", extra, usage, &a);
    if (exit_now >= 0)
        return exit_now;
    const char *clock_offset = a.extra[0];
    mcx_kms_config *cfg = NULL;
    if (mcx_kms_config_load(&cfg, a.config) != MCX_OK) {
        fprintf(stderr, "mcx-kms: %s\n", mcx_last_error());
        return 1;
    }
    if ((a.listen != NULL && replace(&cfg->listen, a.listen) != 0) ||
        (a.store != NULL && replace(&cfg->store, a.store) != 0)) {
        fprintf(stderr, "mcx-kms: out of memory\n");
        mcx_kms_config_free(cfg);
        return 1;
    }
    if (cfg->listen == NULL && replace(&cfg->listen, "127.0.0.1:8444") != 0) {
        mcx_kms_config_free(cfg);
        return 1;
    }
    if (clock_offset != NULL && parse_offset(clock_offset, &cfg->clock_offset) != 0) {
        fprintf(stderr,
                "mcx-kms: --clock-offset: \"%s\" is not an integer of seconds within +-%lld\n",
                clock_offset, (long long)MCX_KMS_CLOCK_OFFSET_MAX);
        mcx_kms_config_free(cfg);
        return 2;
    }
    if (cfg->clock_offset != 0)
        warn_offset(cfg->clock_offset);

    mcx_kms_secrets *secrets = NULL;
    mcx_store *st = NULL;
    mcx_kms *kms = NULL;
    if (load_secrets(cfg, &secrets) != MCX_OK) {
        fprintf(stderr, "mcx-kms: master secrets: %s\n", mcx_last_error());
        mcx_kms_config_free(cfg);
        return 1;
    }
    mcx_status rc = mcx_store_open(&st, cfg->store);
    if (rc == MCX_OK)
        rc = mcx_kms_open(&kms, st, secrets);
    mcx_store_close(st);
    mcx_kms_secrets_free(secrets); /* mcx_kms_open keeps its own copy in locked memory */
    if (rc != MCX_OK) {
        fprintf(stderr, "mcx-kms: cannot open the KMS: %s\n", mcx_last_error());
        mcx_kms_config_free(cfg);
        return 1;
    }

    /* before the server's threads start, so that they inherit the blocked signals */
    httpd_daemon_signals(1);

    kms_server *srv = NULL;
    if (kms_server_start(&srv, cfg, kms) != MCX_OK) {
        fprintf(stderr, "mcx-kms: cannot start: %s\n", mcx_last_error());
        mcx_kms_close(kms);
        mcx_kms_config_free(cfg);
        return 1;
    }
    /* The configured address with the port actually bound (port 0 picks a free one). */
    const char *addr = cfg->listen;
    int host_len = httpd_listen_host_len(addr);
    unsigned port = kms_server_port(srv);
    fprintf(stderr, "mcx-kms: listening on https://%.*s:%u\n", host_len, addr, port);
    fflush(stderr);
    int status = 0;
    if (a.port_file != NULL && httpd_daemon_port_file(a.port_file, port) != 0) {
        fprintf(stderr, "mcx-kms: cannot write %s: %s\n", a.port_file, strerror(errno));
        status = 1;
    }
    while (status == 0 && httpd_daemon_wait(0) == HTTPD_SIG_HUP)
        fprintf(stderr, "mcx-kms: SIGHUP: nothing to reload (the store is read on every "
                        "request)\n");
    fprintf(stderr, "mcx-kms: stopping\n");
    kms_server_stop(srv);
    mcx_kms_close(kms);
    mcx_kms_config_free(cfg);
    return status;
}
