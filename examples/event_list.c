/* event_list: list every page of a parent from a libevent loop.
 *
 *   event_list                   # against an embedded demo server
 *   event_list TARGET PARENT     # against your server (plaintext)
 *
 * Each page callback asks for the next page: one ListOperations RPC in
 * flight at a time, all callbacks on the event_base's thread. */
#include <stdio.h>

#include "lro/adapters/libevent.h"
#include "lro/lro.h"
#include "lro/testing.h"

#define DEMO_PARENT "projects/demo/locations/global/operations"

typedef struct app {
    lro_pager *pager;
    lro_event_attachment *attachment;
    int pages, operations, done, error;
} app;

static void on_page(lro_future *f, void *user_data)
{
    app *a = user_data;
    const lro_page *page = lro_future_page(f);
    if (page == NULL) {
        fprintf(stderr, "event_list: %s: %s\n", lro_strerror(lro_future_result(f)),
                lro_status_message(lro_future_status(f)));
        a->error = 1;
    } else {
        a->pages++;
        a->operations += (int)lro_page_count(page);
        if (lro_page_count(page) > 0) {
            printf("page %d: %zu operations, first %s\n", a->pages, lro_page_count(page),
                   lro_operation_name(lro_page_operation(page, 0)));
        }
        if (lro_pager_next_page(a->pager, on_page, a, NULL, NULL) == LRO_OK) {
            return; /* the next page is on its way */
        }
        a->done = 1; /* LRO_ERR_END: that was the last page */
    }
    lro_event_detach(a->attachment); /* nothing left to wait for */
}

int main(int argc, char **argv)
{
    lro_test_server *server = NULL;
    const char *target, *parent;
    if (argc >= 3) {
        target = argv[1];
        parent = argv[2];
    } else {
        if (lro_test_server_start(NULL, &server) != LRO_OK ||
            lro_test_server_seed(server, DEMO_PARENT, 1234) != LRO_OK) {
            fprintf(stderr, "event_list: cannot start the demo server\n");
            return 1;
        }
        target = lro_test_server_target(server);
        parent = DEMO_PARENT;
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
        fprintf(stderr, "event_list: %s\n", lro_strerror(rc));
        return 1;
    }
    struct event_base *base = event_base_new();
    app a = {0};
    lro_event_attach(base, client, &a.attachment);

    lro_list_args args = LRO_LIST_ARGS_INIT;
    args.page_size = 100;
    rc = lro_pager_create(client, parent, &args, NULL, &a.pager);
    if (rc == LRO_OK) {
        rc = lro_pager_next_page(a.pager, on_page, &a, NULL, NULL);
    }
    if (rc != LRO_OK) {
        fprintf(stderr, "event_list: %s\n", lro_strerror(rc));
        return 1;
    }
    event_base_dispatch(base); /* returns when on_page detached */

    lro_pager_destroy(a.pager);
    lro_client_destroy(client);
    event_base_free(base);
    printf("event_list: %d operations in %d pages under %s%s\n", a.operations, a.pages, parent,
           a.done ? "" : " (incomplete)");
    lro_test_server_stop(server);
    return a.done && !a.error ? 0 : 1;
}
