/* epoll_get: loop mode with a plain epoll loop, no adapter.
 *
 *   epoll_get                    # against an embedded demo server
 *   epoll_get TARGET NAME...     # against your server (plaintext)
 *
 * The whole integration: put lro_client_fd() in the epoll set (readable
 * while completions are pending, level-triggered) and call
 * lro_client_process() when it is readable. */
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lro/lro.h"
#include "lro/testing.h"

#define DEMO_PARENT "projects/demo/operations"

static int g_left;

static void on_get(lro_future *f, void *user_data)
{
    const char *name = user_data;
    const lro_operation *op = lro_future_operation(f);
    if (op == NULL) {
        printf("%-32s %s\n", name, lro_status_message(lro_future_status(f)));
    } else if (!lro_operation_done(op)) {
        printf("%-32s running\n", name);
    } else if (lro_operation_error(op) != NULL) {
        printf("%-32s failed: %s\n", name, lro_status_message(lro_operation_error(op)));
    } else {
        printf("%-32s succeeded\n", name);
    }
    g_left--;
}

int main(int argc, char **argv)
{
    static char demo[8][64];
    lro_test_server *server = NULL;
    const char *target;
    int n;
    if (argc >= 3) {
        target = argv[1];
        n = argc - 2;
    } else {
        if (lro_test_server_start(NULL, &server) != LRO_OK ||
            lro_test_server_seed(server, DEMO_PARENT, 8) != LRO_OK) {
            fprintf(stderr, "epoll_get: cannot start the demo server\n");
            return 1;
        }
        target = lro_test_server_target(server);
        n = 8;
        for (int i = 0; i < n; i++) {
            snprintf(demo[i], sizeof demo[i], DEMO_PARENT "/op-%05d", i);
        }
    }

    lro_client_options *o = NULL;
    lro_client_options_create(&o);
    lro_client_options_set_target(o, target);
    lro_client_options_set_plaintext(o);
    lro_client_options_set_mode(o, LRO_MODE_LOOP);
    lro_client *client = NULL;
    int rc = lro_client_create(o, &client);
    lro_client_options_destroy(o);
    if (rc != LRO_OK) {
        fprintf(stderr, "epoll_get: %s\n", lro_strerror(rc));
        return 1;
    }

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = client};
    epoll_ctl(ep, EPOLL_CTL_ADD, lro_client_fd(client), &ev);

    for (int i = 0; i < n; i++) {
        char *name = server ? demo[i] : argv[2 + i];
        if (lro_get(client, name, NULL, on_get, name, NULL, NULL) == LRO_OK) {
            g_left++;
        }
    }
    while (g_left > 0) {
        struct epoll_event ready[16];
        int k = epoll_wait(ep, ready, 16, -1); /* other fds of the app go here too */
        for (int i = 0; i < k; i++) {
            if (ready[i].data.ptr == client) {
                lro_client_process(client, 32); /* a budget: fd stays readable if more */
            }
        }
    }

    close(ep); /* stop watching before destroy closes the client's fd */
    lro_client_destroy(client);
    printf("epoll_get: %d operations fetched from one epoll loop\n", n);
    lro_test_server_stop(server);
    return 0;
}
