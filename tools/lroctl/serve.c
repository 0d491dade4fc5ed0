/* lroctl serve: the embedded Operations server, standalone, so code in any
 * language can be tested against it. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lro/testing.h"
#include "lroctl.h"

int cmd_serve(int argc, char **argv)
{
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.listen = "127.0.0.1:0";
    long seed = 20;
    int admin = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--admin") == 0) {
            admin = 1;
        } else if (strcmp(a, "--listen") == 0 || strcmp(a, "--seed") == 0 ||
                   strcmp(a, "--threads") == 0) {
            if (i + 1 >= argc) {
                die_msg("serve: %s needs a value", a);
                return EXIT_USAGE;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--listen") == 0) {
                so.listen = v;
                continue;
            }
            char *end = NULL;
            long n = strtol(v, &end, 10);
            if (end == v || *end != '\0' || n < 0 || n > 10000000 ||
                (strcmp(a, "--threads") == 0 && (n < 1 || n > 64))) {
                die_msg("serve: %s '%s' is out of range", a, v);
                return EXIT_USAGE;
            }
            if (strcmp(a, "--seed") == 0) {
                seed = n;
            } else {
                so.threads = (int)n;
            }
        } else {
            die_msg("serve: unknown argument '%s' (see lroctl serve --help)", a);
            return EXIT_USAGE;
        }
    }
    /* Block the stop signals before any thread starts, then wait for one. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    lro_test_server *s = NULL;
    int rc = lro_test_server_start(&so, &s);
    if (rc != LRO_OK) {
        die_msg("serve: cannot listen on '%s': %s", so.listen, lro_strerror(rc));
        return rc == LRO_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_LOCAL;
    }
    if (seed > 0 &&
        lro_test_server_seed(s, "projects/demo/locations/global/operations", (int)seed) != LRO_OK) {
        die_msg("serve: cannot seed operations");
        lro_test_server_stop(s);
        return EXIT_LOCAL;
    }
    if (admin) {
        lro_test_server_enable_admin(s, 1);
    }
    printf("%s\n", lro_test_server_target(s));
    fflush(stdout);
    fprintf(stderr,
            "lroctl: serving google.longrunning.Operations on %s with %ld operations under "
            "projects/demo/locations/global/operations%s (Ctrl-C stops)\n",
            lro_test_server_target(s), seed, admin ? ", and lro.testing.v1.OperationsAdmin" : "");
    int sig = 0;
    sigwait(&set, &sig);
    lro_test_server_stop(s);
    return EXIT_OK;
}
