/* mcx-gms: the group management server (docs/gms.md) as a daemon.
 *
 *   mcx-gms --config FILE [--listen ADDR:PORT] [--store URL] [--port-file FILE]
 *
 * At start it makes sure it holds its own key set for the current key period (fetching it from
 * the KMS with its service account's token when "kms_url" is set), opens the store (creating or
 * migrating the schema) and the storage key (created, mode 0600, when the file does not exist),
 * then serves HTTPS. Every minute it fetches the next period's keys when due and, with
 * "rekey_interval", rekeys the groups whose context is older than that. Prints
 * "mcx-gms: listening on https://ADDR:PORT" once listening; SIGTERM / SIGINT stop it (exit 0). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gms/server_internal.h"
#include "httpd/httpd_internal.h"
#include "mcxsec/gms.h"
#include "mcxsec/mem.h"
#include "mcxsec/mikey.h"

#define NTP_UNIX     2208988800ull
#define NEXT_WINDOW  86400u /* fetch the next period's keys a day before it starts */
#define HOUSEKEEPING 60

static void usage(FILE *f)
{
    fprintf(f, "usage: mcx-gms --config FILE [--listen ADDR:PORT] [--store URL] "
               "[--port-file FILE]\n"
               "  --config FILE       JSON configuration (docs/gms.md)\n"
               "  --listen ADDR:PORT  override \"listen\" (port 0: any free port)\n"
               "  --store URL         override \"store\" (a SQLite path or postgresql://...)\n"
               "  --port-file FILE    write the bound port to FILE once listening\n");
}

/* The keystore passphrase: one line of a file only the owner can read. */
static char *read_passphrase(const char *path, size_t *len)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || (sb.st_mode & 077) != 0) {
        fprintf(stderr, "mcx-gms: %s is missing or readable by others\n", path);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    char *buf = mcx_secure_alloc(1025);
    size_t n = f != NULL && buf != NULL ? fread(buf, 1, 1024, f) : 0;
    if (f != NULL)
        fclose(f);
    if (buf == NULL || n == 0) {
        mcx_secure_free(buf);
        fprintf(stderr, "mcx-gms: cannot read the passphrase from %s\n", path);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int replace(char **field, const char *v)
{
    char *c = strdup(v);
    if (c == NULL)
        return -1;
    free(*field);
    *field = c;
    return 0;
}

int main(int argc, char **argv)
{
    httpd_daemon_args a;
    int exit_now = httpd_daemon_parse(argc, argv, "mcx-gms", NULL, usage, &a);
    if (exit_now >= 0)
        return exit_now;
    gms_config *cfg = NULL;
    if (gms_config_load(&cfg, a.config) != MCX_OK) {
        fprintf(stderr, "mcx-gms: %s\n", mcx_last_error());
        return 2;
    }
    if ((a.listen != NULL && replace(&cfg->listen, a.listen) != 0) ||
        (a.store != NULL && replace(&cfg->store, a.store) != 0)) {
        gms_config_free(cfg);
        return 1;
    }
    int rc = 1;
    mcx_keystore *ks = NULL;
    mcx_gms *g = NULL;
    mcx_store *st = NULL;
    gms_server *srv = NULL;
    char *pass = NULL;
    size_t pass_len = 0;
    uint8_t *skey = mcx_secure_alloc(MCX_GMS_STORAGE_KEY_LEN);
    if (skey == NULL)
        goto out;
    if (cfg->keystore_passphrase_file != NULL &&
        (pass = read_passphrase(cfg->keystore_passphrase_file, &pass_len)) == NULL)
        goto out;
    if (mcx_keystore_open(&ks, cfg->keystore, pass, pass_len, MCX_KEYSTORE_CREATE) != MCX_OK) {
        fprintf(stderr, "mcx-gms: keystore %s: %s\n", cfg->keystore, mcx_last_error());
        goto out;
    }
    struct stat sb;
    if (stat(cfg->storage_key, &sb) != 0)
        fprintf(stderr, "mcx-gms: creating the storage key %s\n", cfg->storage_key);
    if (mcx_gms_storage_key_load(cfg->storage_key, 1, skey) != MCX_OK) {
        fprintf(stderr, "mcx-gms: %s\n", mcx_last_error());
        goto out;
    }
    /* before the engine's and the server's threads start, so that they inherit the blocked
     * signals */
    httpd_daemon_signals(0);
    mcx_gms_params gp = {cfg->identity, ks, skey, cfg->threads, cfg->key_lifetime};
    if (mcx_gms_new(&g, &gp) != MCX_OK) {
        fprintf(stderr, "mcx-gms: %s\n", mcx_last_error());
        goto out;
    }
    int fetched = 0;
    if (gms_identity_refresh(g, cfg, mcx_ntp_now(), NEXT_WINDOW, &fetched) != MCX_OK) {
        fprintf(stderr, "mcx-gms: %s\n", mcx_last_error());
        goto out;
    }
    if (fetched)
        fprintf(stderr, "mcx-gms: fetched the key sets of %s from %s\n", cfg->identity,
                cfg->kms_url);
    if (mcx_store_open(&st, cfg->store) != MCX_OK || mcx_gms_migrate(st) != MCX_OK) {
        fprintf(stderr, "mcx-gms: store: %s\n", mcx_last_error());
        goto out;
    }
    if (gms_server_start(&srv, cfg, g) != MCX_OK) {
        fprintf(stderr, "mcx-gms: %s\n", mcx_last_error());
        goto out;
    }
    unsigned port = gms_server_port(srv);
    if (a.port_file != NULL && httpd_daemon_port_file(a.port_file, port) != 0) {
        fprintf(stderr, "mcx-gms: cannot write %s\n", a.port_file);
        goto out;
    }
    char host[64];
    snprintf(host, sizeof host, "%.*s", httpd_listen_host_len(cfg->listen), cfg->listen);
    fprintf(stderr, "mcx-gms: listening on https://%s:%u as %s\n", host, port, cfg->identity);
    /* housekeeping every minute until SIGTERM / SIGINT */
    while (httpd_daemon_wait(HOUSEKEEPING) != HTTPD_SIG_STOP) {
        if (gms_identity_refresh(g, cfg, mcx_ntp_now(), NEXT_WINDOW, &fetched) != MCX_OK)
            fprintf(stderr, "mcx-gms: WARNING: own keys: %s\n", mcx_last_error());
        size_t n = 0;
        if (cfg->rekey_interval != 0 && mcx_gms_rekey_due(g, st, (int64_t)cfg->rekey_interval,
                                                          (int64_t)time(NULL), &n) != MCX_OK)
            fprintf(stderr, "mcx-gms: WARNING: periodic rekey: %s\n", mcx_last_error());
        else if (n > 0)
            fprintf(stderr, "mcx-gms: periodic rekey of %zu group(s)\n", n);
    }
    fprintf(stderr, "mcx-gms: stopping\n");
    rc = 0;
out:
    gms_server_stop(srv);
    mcx_store_close(st);
    mcx_gms_free(g);
    mcx_keystore_free(ks);
    mcx_secure_free(skey);
    mcx_secure_free(pass);
    gms_config_free(cfg);
    return rc;
}
