/* mcx-idms: the identity management server (TS 33.180 Annex B) as a daemon.
 *
 *   mcx-idms --config FILE [--listen ADDR:PORT] [--store URL] [--port-file FILE]
 *
 * Logs one line per request to stderr; prints "mcx-idms: listening on https://ADDR:PORT" once
 * the socket listens; SIGTERM / SIGINT stop gracefully (exit 0); SIGHUP reloads the signing keys
 * (a new active key is also noticed within 5 s without it). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include "idms/idms_internal.h"
#include "mcxsec/idms.h"

static volatile sig_atomic_t got_stop, got_hup;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        got_hup = 1;
    else
        got_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mcx-idms --config FILE [--listen ADDR:PORT] [--store URL] "
               "[--port-file FILE]\n"
               "  --config FILE       JSON configuration (docs/idms.md)\n"
               "  --listen ADDR:PORT  override \"listen\" (port 0: any free port)\n"
               "  --store URL         override \"store\" (sqlite:PATH or postgresql://...)\n"
               "  --port-file FILE    write the bound port to FILE once listening\n");
}

static int write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    int ok = fprintf(f, "%u\n", port) > 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *listen = NULL, *store = NULL, *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "mcx-idms: %s needs a value (or unknown option)\n", a);
            usage(stderr);
            return 2;
        }
        if (strcmp(a, "--config") == 0)
            config = argv[++i];
        else if (strcmp(a, "--listen") == 0)
            listen = argv[++i];
        else if (strcmp(a, "--store") == 0)
            store = argv[++i];
        else if (strcmp(a, "--port-file") == 0)
            port_file = argv[++i];
        else {
            fprintf(stderr, "mcx-idms: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (config == NULL) {
        fprintf(stderr, "mcx-idms: --config FILE is required\n");
        usage(stderr);
        return 2;
    }
    mcx_idms_config *cfg = NULL;
    mcx_status st = mcx_idms_config_load(&cfg, config);
    if (st == MCX_OK && listen != NULL)
        st = mcx_idms_config_set(cfg, "listen", listen);
    if (st == MCX_OK && store != NULL)
        st = mcx_idms_config_set(cfg, "store", store);
    if (st != MCX_OK) {
        fprintf(stderr, "mcx-idms: %s\n", mcx_last_error());
        mcx_idms_config_free(cfg);
        return 1;
    }

    /* Signals are handled by flags polled below; the worker threads inherit the blocked set
     * until the handlers are installed, so install them first. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    /* worker threads are started with these blocked so that the main thread takes the signals */
    pthread_sigmask(SIG_BLOCK, &block, &old);

    mcx_idms *srv = NULL;
    st = mcx_idms_start(&srv, cfg);
    if (st != MCX_OK) {
        fprintf(stderr, "mcx-idms: cannot start: %s\n", mcx_last_error());
        mcx_idms_config_free(cfg);
        return 1;
    }
    /* The configured address with the port actually bound (port 0 picks a free one). */
    const char *addr = cfg->listen;
    const char *colon = addr[0] == '[' ? strstr(addr, "]:") : strrchr(addr, ':');
    int host_len = colon != NULL ? (int)(colon - addr) + (addr[0] == '[') : (int)strlen(addr);
    unsigned port = mcx_idms_port(srv);
    fprintf(stderr, "mcx-idms: listening on https://%.*s:%u\n", host_len, addr, port);
    fflush(stderr);
    if (port_file != NULL && write_port_file(port_file, port) != 0) {
        fprintf(stderr, "mcx-idms: cannot write %s: %s\n", port_file, strerror(errno));
        mcx_idms_stop(srv);
        mcx_idms_config_free(cfg);
        return 1;
    }

    while (!got_stop) {
        /* the signals stay blocked except inside sigsuspend, so none is lost between the test
         * of the flags and the wait */
        if (!got_hup)
            sigsuspend(&old);
        if (got_hup) {
            got_hup = 0;
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
