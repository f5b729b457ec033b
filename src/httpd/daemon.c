/* What the mcx-idms, mcx-kms and mcx-gms mains share (httpd_internal.h): the option skeleton,
 * signals taken synchronously by the main thread, and the port file. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include "httpd/httpd_internal.h"

int httpd_daemon_parse(int argc, char **argv, const char *prog, const char *const *extra,
                       void (*usage)(FILE *), httpd_daemon_args *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value (or unknown option)\n", prog, a);
            usage(stderr);
            return 2;
        }
        const char **slot = NULL;
        if (strcmp(a, "--config") == 0)
            slot = &out->config;
        else if (strcmp(a, "--listen") == 0)
            slot = &out->listen;
        else if (strcmp(a, "--store") == 0)
            slot = &out->store;
        else if (strcmp(a, "--port-file") == 0)
            slot = &out->port_file;
        for (size_t k = 0; slot == NULL && extra != NULL && extra[k] != NULL &&
                           k < sizeof out->extra / sizeof out->extra[0];
             k++)
            if (strcmp(a, extra[k]) == 0)
                slot = &out->extra[k];
        if (slot == NULL) {
            fprintf(stderr, "%s: unknown option %s\n", prog, a);
            usage(stderr);
            return 2;
        }
        *slot = argv[++i];
    }
    if (out->config == NULL) {
        fprintf(stderr, "%s: --config FILE is required\n", prog);
        usage(stderr);
        return 2;
    }
    return -1;
}

static sigset_t handled;

void httpd_daemon_signals(int hup)
{
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&handled);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    if (hup)
        sigaddset(&handled, SIGHUP);
    /* Blocked here and so in every thread started later (libmicrohttpd's workers, the store
     * watchers): a signal stays pending for the process until httpd_daemon_wait takes it, and
     * none is lost between a test of a flag and a wait. */
    pthread_sigmask(SIG_BLOCK, &handled, NULL);
}

int httpd_daemon_wait(unsigned seconds)
{
    for (;;) {
        int sig;
        if (seconds == 0) {
            sig = sigwaitinfo(&handled, NULL);
        } else {
            struct timespec ts = {(time_t)seconds, 0};
            sig = sigtimedwait(&handled, NULL, &ts);
            if (sig < 0 && errno == EAGAIN)
                return HTTPD_SIG_NONE;
        }
        if (sig == SIGHUP)
            return HTTPD_SIG_HUP;
        if (sig == SIGTERM || sig == SIGINT)
            return HTTPD_SIG_STOP;
        /* EINTR: another signal's handler ran; wait again */
    }
}

int httpd_daemon_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    int ok = fprintf(f, "%u\n", port) > 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}
