/* mcx-idms: the identity management server (TS 33.180 Annex B) as a daemon.
 *
 *   mcx-idms --config FILE [--listen ADDR:PORT] [--store URL] [--port-file FILE]
 *
 * Logs one line per request to stderr; prints "mcx-idms: listening on https://ADDR:PORT" once
 * the socket listens; SIGTERM / SIGINT stop gracefully (exit 0); SIGHUP reloads the signing keys
 * (a new active key is also noticed within 5 s without it). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "httpd/httpd_internal.h"
#include "idms/idms_internal.h"
#include "mcxsec/idms.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mcx-idms --config FILE [--listen ADDR:PORT] [--store URL] "
               "[--port-file FILE]\n"
               "  --config FILE       JSON configuration (docs/idms.md)\n"
               "  --listen ADDR:PORT  override \"listen\" (port 0: any free port)\n"
               "  --store URL         override \"store\" (sqlite:PATH or postgresql://...)\n"
               "  --port-file FILE    write the bound port to FILE once listening\n");
}

int main(int argc, char **argv)
{
    httpd_daemon_args a;
    int exit_now = httpd_daemon_parse(argc, argv, "mcx-idms", NULL, usage, &a);
    if (exit_now >= 0)
        return exit_now;
    mcx_idms_config *cfg = NULL;
    mcx_status st = mcx_idms_config_load(&cfg, a.config);
    if (st == MCX_OK && a.listen != NULL)
        st = mcx_idms_config_set(cfg, "listen", a.listen);
    if (st == MCX_OK && a.store != NULL)
        st = mcx_idms_config_set(cfg, "store", a.store);
    if (st != MCX_OK) {
        fprintf(stderr, "mcx-idms: %s\n", mcx_last_error());
        mcx_idms_config_free(cfg);
        return 1;
    }

    /* before the server's threads start, so that they inherit the blocked signals */
    httpd_daemon_signals(1);

    mcx_idms *srv = NULL;
    st = mcx_idms_start(&srv, cfg);
    if (st != MCX_OK) {
        fprintf(stderr, "mcx-idms: cannot start: %s\n", mcx_last_error());
        mcx_idms_config_free(cfg);
        return 1;
    }
    /* The configured address with the port actually bound (port 0 picks a free one). */
    const char *addr = cfg->listen;
    int host_len = httpd_listen_host_len(addr);
    unsigned port = mcx_idms_port(srv);
    fprintf(stderr, "mcx-idms: listening on https://%.*s:%u\n", host_len, addr, port);
    fflush(stderr);
    if (a.port_file != NULL && httpd_daemon_port_file(a.port_file, port) != 0) {
        fprintf(stderr, "mcx-idms: cannot write %s: %s\n", a.port_file, strerror(errno));
        mcx_idms_stop(srv);
        mcx_idms_config_free(cfg);
        return 1;
    }

    int sig;
    while ((sig = httpd_daemon_wait(0)) != HTTPD_SIG_STOP) {
        if (sig == HTTPD_SIG_HUP) {
            if (mcx_idms_reload_keys(srv) == MCX_OK)
                fprintf(stderr, "mcx-idms: signing keys reloaded\n");
            else
                fprintf(stderr, "mcx-idms: key reload failed: %s\n", mcx_last_error());
        }
    }
    fprintf(stderr, "mcx-idms: stopping\n");
    mcx_idms_stop(srv);
    mcx_idms_config_free(cfg);
    return 0;
}
