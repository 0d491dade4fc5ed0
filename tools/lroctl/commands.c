/* The five client commands. Each one: parse its flags, connect, make the
 * call(s), print, exit with a code that tells what happened. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lroctl.h"

/* argv[*i] that is not a flag of the command itself: a connection/output
 * flag, or the command's one positional argument (stored in *slot).
 * Returns EXIT_OK, or EXIT_USAGE after printing why. */
static int take_arg(conn_opts *co, const char *cmd, const char *what, int argc, char **argv,
                    int *i, const char **slot)
{
    int r = parse_global_flag(co, argc, argv, i);
    if (r < 0) {
        return EXIT_USAGE;
    }
    if (r == 1) {
        return EXIT_OK;
    }
    const char *a = argv[*i];
    if (a[0] == '-' && a[1] != '\0') {
        die_msg("%s: unknown flag '%s' (see lroctl %s --help)", cmd, a, cmd);
        return EXIT_USAGE;
    }
    if (*slot != NULL) {
        die_msg("%s: unexpected argument '%s' (one %s only)", cmd, a, what);
        return EXIT_USAGE;
    }
    *slot = a;
    return EXIT_OK;
}

/* Collects the one positional argument; other flags go to the global parser. */
static int one_positional(conn_opts *co, const char *cmd, const char *what, int argc, char **argv,
                          const char **out)
{
    *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (take_arg(co, cmd, what, argc, argv, &i, out) != EXIT_OK) {
            return EXIT_USAGE;
        }
    }
    if (*out == NULL) {
        die_msg("%s: missing %s (see lroctl %s --help)", cmd, what, cmd);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int check_name_arg(const char *cmd, const char *name)
{
    /* The library would refuse it too; saying so here names the argument. */
    if (name[0] == '\0' || strlen(name) > LRO_MAX_NAME_LEN) {
        die_msg("%s: the name is empty or longer than %d bytes", cmd, LRO_MAX_NAME_LEN);
        return EXIT_USAGE;
    }
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            die_msg("%s: the name contains control characters", cmd);
            return EXIT_USAGE;
        }
    }
    return EXIT_OK;
}

static int start_error(const char *cmd, int rc)
{
    die_msg("%s: %s", cmd, lroctl_why(rc));
    return rc == LRO_ERR_BAD_NAME || rc == LRO_ERR_BAD_HEADER || rc == LRO_ERR_INVALID_ARG
               ? EXIT_USAGE
               : EXIT_LOCAL;
}

typedef int (*simple_call)(lro_client *, const char *, const lro_call_options *, lro_done_cb,
                           void *, lro_free_fn, lro_future **);

static int run_simple(conn_opts *co, const char *cmd, simple_call call, int argc, char **argv)
{
    const char *name;
    int rc = one_positional(co, cmd, "NAME", argc, argv, &name);
    if (rc == EXIT_OK) {
        rc = check_name_arg(cmd, name);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    lro_client *c = NULL;
    rc = connect_client(co, &c);
    if (rc != EXIT_OK) {
        return rc;
    }
    lro_future *f = NULL;
    int e = call(c, name, NULL, NULL, NULL, NULL, &f);
    if (e != LRO_OK) {
        int r = start_error(cmd, e); /* before destroy: the text is this thread's last */
        lro_client_destroy(c);
        return r;
    }
    lro_future_wait(f, -1);
    if (lro_future_result(f) != LRO_OK) {
        rc = report_failure(cmd, f);
    } else if (call == lro_get) {
        rc = print_operation(co, lro_future_operation(f));
    } else {
        printf(co->format == FMT_TEXT ? "ok\n" : "{}\n"); /* google.protobuf.Empty */
    }
    lro_future_unref(f);
    lro_client_destroy(c);
    return rc;
}

int cmd_get(conn_opts *co, int argc, char **argv)
{
    return run_simple(co, "get", lro_get, argc, argv);
}

int cmd_cancel(conn_opts *co, int argc, char **argv)
{
    return run_simple(co, "cancel", lro_cancel, argc, argv);
}

int cmd_delete(conn_opts *co, int argc, char **argv)
{
    return run_simple(co, "delete", lro_delete, argc, argv);
}

int cmd_list(conn_opts *co, int argc, char **argv)
{
    const char *parent = NULL;
    lro_list_args la = LRO_LIST_ARGS_INIT;
    int all = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--all") == 0) {
            all = 1;
        } else if (strcmp(a, "--filter") == 0 || strcmp(a, "--page-size") == 0 ||
                   strcmp(a, "--page-token") == 0) {
            if (i + 1 >= argc) {
                die_msg("list: %s needs a value", a);
                return EXIT_USAGE;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--filter") == 0) {
                la.filter = v;
            } else if (strcmp(a, "--page-token") == 0) {
                la.page_token = v;
            } else {
                char *end = NULL;
                long n = strtol(v, &end, 10);
                if (end == v || *end != '\0' || n < 0 || n > 1000000) {
                    die_msg("list: --page-size '%s' is not a number of operations", v);
                    return EXIT_USAGE;
                }
                la.page_size = (int32_t)n;
            }
        } else if (take_arg(co, "list", "PARENT", argc, argv, &i, &parent) != EXIT_OK) {
            return EXIT_USAGE;
        }
    }
    if (parent == NULL) {
        die_msg("list: missing PARENT, e.g. projects/p/locations/l/operations");
        return EXIT_USAGE;
    }
    int rc = check_name_arg("list", parent);
    if (rc != EXIT_OK) {
        return rc;
    }
    lro_client *c = NULL;
    rc = connect_client(co, &c);
    if (rc != EXIT_OK) {
        return rc;
    }
    lro_pager *p = NULL;
    int e = lro_pager_create(c, parent, &la, NULL, &p);
    if (e != LRO_OK) {
        int r = start_error("list", e);
        lro_client_destroy(c);
        return r;
    }
    int first = 1;
    if (all && co->format == FMT_JSON) {
        printf("{\n  \"operations\": [");
    } else if (all) {
        print_text_header();
    }
    for (;;) {
        lro_future *f = NULL;
        e = lro_pager_next_page(p, NULL, NULL, NULL, &f);
        if (e == LRO_ERR_END) {
            break;
        }
        if (e != LRO_OK) {
            rc = start_error("list", e);
            break;
        }
        lro_future_wait(f, -1);
        if (lro_future_result(f) != LRO_OK) {
            if (all && co->format == FMT_JSON) {
                printf("]\n}\n");
            }
            rc = report_failure("list", f);
            lro_future_unref(f);
            break;
        }
        const lro_page *pg = lro_future_page(f);
        if (!all) {
            rc = print_page(co, pg);
            lro_future_unref(f);
            break;
        }
        for (size_t i = 0; i < lro_page_count(pg); i++) {
            const lro_operation *op = lro_page_operation(pg, i);
            if (co->format == FMT_TEXT) {
                print_text_row(op);
                continue;
            }
            char *json = NULL;
            if (lro_operation_to_json(op, 0, &json, NULL) != LRO_OK) {
                rc = EXIT_LOCAL;
                break;
            }
            printf("%s\n    %s", first ? "" : ",", json);
            first = 0;
            lro_free(json);
        }
        lro_future_unref(f);
    }
    if (all && co->format == FMT_JSON && rc == EXIT_OK) {
        printf("%s]", first ? "" : "\n  ");
        if (lro_pager_unreachable_count(p) > 0) {
            printf(",\n  \"unreachable\": [");
            for (size_t i = 0; i < lro_pager_unreachable_count(p); i++) {
                printf("%s\"%s\"", i ? ", " : "", lro_pager_unreachable(p, i));
            }
            printf("]");
        }
        printf("\n}\n");
    }
    lro_pager_destroy(p);
    lro_client_destroy(c);
    return rc;
}

/* ---- wait ------------------------------------------------------------------- */

/* Written by the progress callback (library thread), read by the redraw
 * loop: hundredths of a percent, -1 while unknown. */
typedef struct wait_view {
    atomic_long progress_x100;
} wait_view;

static void on_progress(const lro_operation *op, void *ud)
{
    wait_view *v = ud;
    double p = progress_of(op);
    if (p >= 0) {
        atomic_store(&v->progress_x100, (long)(p * 100 + 0.5));
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int cmd_wait(conn_opts *co, int argc, char **argv)
{
    const char *name = NULL;
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--poll-only") == 0) {
            pp.method = LRO_AWAIT_POLL_ONLY;
        } else if (strcmp(a, "--timeout") == 0 || strcmp(a, "--poll-interval") == 0) {
            int64_t ms;
            if (i + 1 >= argc || parse_duration_ms(argv[i + 1], &ms) < 0 ||
                (ms == 0 && strcmp(a, "--timeout") == 0)) {
                die_msg("wait: %s needs a duration (e.g. 30s, 5m)", a);
                return EXIT_USAGE;
            }
            i++;
            if (strcmp(a, "--timeout") == 0) {
                pp.total_timeout_ms = ms;
            } else {
                pp.initial_delay_ms = ms;
            }
        } else if (take_arg(co, "wait", "NAME", argc, argv, &i, &name) != EXIT_OK) {
            return EXIT_USAGE;
        }
    }
    if (name == NULL) {
        die_msg("wait: missing NAME (see lroctl wait --help)");
        return EXIT_USAGE;
    }
    int rc = check_name_arg("wait", name);
    if (rc != EXIT_OK) {
        return rc;
    }
    lro_client *c = NULL;
    rc = connect_client(co, &c);
    if (rc != EXIT_OK) {
        return rc;
    }
    int live = isatty(STDERR_FILENO);
    wait_view view;
    atomic_init(&view.progress_x100, -1);
    lro_future *f = NULL;
    int e = lro_await(c, name, &pp, NULL, live ? on_progress : NULL, NULL, &view, NULL, &f);
    if (e != LRO_OK) {
        int r = start_error("wait", e);
        lro_client_destroy(c);
        return r;
    }
    double t0 = now_s();
    while (lro_future_wait(f, live ? 200 : -1) == LRO_ERR_TIMEOUT) {
        long px = atomic_load(&view.progress_x100);
        if (px >= 0) {
            fprintf(stderr, "\r\033[Kwaiting %.1fs  polls %d  progress %g%%", now_s() - t0,
                    lro_future_polls(f), px / 100.0);
        } else {
            fprintf(stderr, "\r\033[Kwaiting %.1fs  polls %d", now_s() - t0, lro_future_polls(f));
        }
        fflush(stderr);
    }
    if (live) {
        fprintf(stderr, "\r\033[Kdone after %.1fs, %d polls\n", now_s() - t0,
                lro_future_polls(f));
    }
    int r = lro_future_result(f);
    const lro_operation *op = lro_future_operation(f);
    switch (r) {
    case LRO_OK:
        rc = print_operation(co, op);
        break;
    case LRO_ERR_OP_FAILED:
    case LRO_ERR_OP_CANCELLED:
        print_operation(co, op);
        fprintf(stderr, "lroctl: wait: the operation %s: %s: %s\n",
                r == LRO_ERR_OP_CANCELLED ? "was cancelled" : "failed",
                lro_code_name(lro_status_code(lro_operation_error(op))),
                lro_status_message(lro_operation_error(op)));
        rc = r == LRO_ERR_OP_CANCELLED ? EXIT_OP_CANCELLED : EXIT_OP_FAILED;
        break;
    case LRO_ERR_TIMEOUT:
        if (op != NULL) {
            print_operation(co, op);
        }
        fprintf(stderr, "lroctl: wait: %s\n", lro_status_message(lro_future_status(f)));
        rc = EXIT_WAIT_TIMEOUT;
        break;
    default:
        rc = report_failure("wait", f);
        break;
    }
    lro_future_unref(f);
    lro_client_destroy(c);
    return rc;
}
