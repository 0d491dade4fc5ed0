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
static int take_arg(conn_opts *co, const char *cmd, const char *what, int argc, char **argv, int *i,
                    const char **slot)
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

/* Checks every name the command was given, then connects: EXIT_OK and *c,
 * or the exit code to return (the reason is printed). */
static int connect_for(const conn_opts *co, const char *cmd, const char *const *names, size_t n,
                       lro_client **c)
{
    for (size_t i = 0; i < n; i++) {
        int rc = check_name_arg(cmd, names[i]);
        if (rc != EXIT_OK) {
            return rc;
        }
    }
    return connect_client(co, c);
}

static int start_error(const char *cmd, int rc)
{
    die_msg("%s: %s", cmd, lroctl_why(rc));
    return rc == LRO_ERR_BAD_NAME || rc == LRO_ERR_BAD_HEADER || rc == LRO_ERR_INVALID_ARG
               ? EXIT_USAGE
               : EXIT_LOCAL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *method_of(const char *cmd)
{
    return strcmp(cmd, "get") == 0      ? "GetOperation"
           : strcmp(cmd, "cancel") == 0 ? "CancelOperation"
           : strcmp(cmd, "delete") == 0 ? "DeleteOperation"
           : strcmp(cmd, "list") == 0   ? "ListOperations"
                                        : "WaitOperation";
}

static int run_simple(conn_opts *co, const char *cmd, simple_call call, int argc, char **argv)
{
    const char *name;
    lro_client *c = NULL;
    int rc = one_positional(co, cmd, "NAME", argc, argv, &name);
    if (rc == EXIT_OK) {
        rc = connect_for(co, cmd, &name, 1, &c);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    lro_future *f = NULL;
    /* -v: the client's event hook reports each attempt (verbose.c). */
    verbose_request_headers(co, method_of(cmd), name);
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
    lro_client *c = NULL;
    int rc = connect_for(co, "list", &parent, 1, &c);
    if (rc != EXIT_OK) {
        return rc;
    }
    verbose_request_headers(co, "ListOperations", parent);
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
        if (g_verbose) {
            const lro_status *st = lro_future_status(f);
            fprintf(stderr, "lroctl: [page] ListOperations %s: %s%s%s (%d attempt%s in lro-c)\n",
                    parent, lro_code_name(lro_status_code(st)),
                    lro_status_code(st) != 0 ? ": " : "",
                    lro_status_code(st) != 0 ? lro_status_message(st) : "", lro_future_attempts(f),
                    lro_future_attempts(f) == 1 ? "" : "s");
        }
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

#define WAIT_MAX_NAMES 1000

/* One awaited operation. progress_x100 is written by the progress callback
 * (library thread) and read by the redraw loop. */
typedef struct wait_item {
    const char *name;
    lro_future *f;
    atomic_long progress_x100; /* hundredths of a percent, -1 while unknown */
    atomic_int changes;
    double t_done;
} wait_item;

static void on_progress(const lro_operation *op, void *ud)
{
    wait_item *w = ud;
    double p = progress_of(op);
    if (p >= 0) {
        atomic_store(&w->progress_x100, (long)(p * 100 + 0.5));
    }
    atomic_fetch_add(&w->changes, 1);
}

/* Larger is worse: every failure beats success, an RPC failure beats an
 * operation outcome, and a local failure (1) beats everything. */
static int worse(int a, int b)
{
    int ra = a == EXIT_LOCAL ? 1000 : a, rb = b == EXIT_LOCAL ? 1000 : b;
    return ra >= rb ? a : b;
}

static const char *outcome_word(const wait_item *w)
{
    switch (lro_future_result(w->f)) {
    case LRO_OK:
        return "succeeded";
    case LRO_ERR_OP_FAILED:
        return "failed";
    case LRO_ERR_OP_CANCELLED:
        return "cancelled";
    case LRO_ERR_TIMEOUT:
        return "timed out";
    default:
        return lro_code_name(lro_status_code(lro_future_status(w->f)));
    }
}

static void draw_line(const wait_item *w, double now, double t0, int multi)
{
    if (multi) {
        fprintf(stderr, "\033[K%s  ", w->name);
    } else {
        fputs("\r\033[K", stderr);
    }
    if (lro_future_is_done(w->f) && multi) {
        fprintf(stderr, "%s after %.1fs, %d polls\n", outcome_word(w), w->t_done - t0,
                lro_future_polls(w->f));
        return;
    }
    long px = atomic_load(&w->progress_x100);
    fprintf(stderr, "waiting %.1fs  polls %d", now - t0, lro_future_polls(w->f));
    if (px >= 0) {
        fprintf(stderr, "  progress %g%%", px / 100.0);
    }
    if (multi) {
        fputc('\n', stderr);
    }
}

/* The exit code of one finished await, with its stderr lines. */
static int wait_result(wait_item *w, int multi)
{
    int r = lro_future_result(w->f);
    const lro_operation *op = lro_future_operation(w->f);
    char what[LRO_MAX_NAME_LEN + 16];
    snprintf(what, sizeof what, multi ? "wait %s" : "wait", w->name);
    switch (r) {
    case LRO_OK:
        return EXIT_OK;
    case LRO_ERR_OP_FAILED:
    case LRO_ERR_OP_CANCELLED:
        fprintf(stderr, "lroctl: %s: the operation %s: %s: %s\n", what,
                r == LRO_ERR_OP_CANCELLED ? "was cancelled" : "failed",
                lro_code_name(lro_status_code(lro_operation_error(op))),
                lro_status_message(lro_operation_error(op)));
        if (g_format == FMT_TEXT) {
            print_status_details(stderr, lro_operation_error(op), "  ");
        }
        return r == LRO_ERR_OP_CANCELLED ? EXIT_OP_CANCELLED : EXIT_OP_FAILED;
    case LRO_ERR_TIMEOUT:
        fprintf(stderr, "lroctl: %s: %s\n", what, lro_status_message(lro_future_status(w->f)));
        return EXIT_WAIT_TIMEOUT;
    default:
        return report_failure(what, w->f);
    }
}

static void print_rpc_row(const wait_item *w)
{
    const lro_status *st = lro_future_status(w->f);
    printf("%-60s %-5s rpc error %s: %.160s\n", w->name, "-", lro_code_name(lro_status_code(st)),
           lro_status_message(st));
}

int cmd_wait(conn_opts *co, int argc, char **argv)
{
    static const char *names[WAIT_MAX_NAMES];
    size_t n = 0;
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
        } else {
            int r = parse_global_flag(co, argc, argv, &i);
            if (r < 0) {
                return EXIT_USAGE;
            }
            if (r == 1) {
                continue;
            }
            if (a[0] == '-' && a[1] != '\0') {
                die_msg("wait: unknown flag '%s' (see lroctl wait --help)", a);
                return EXIT_USAGE;
            }
            if (n == WAIT_MAX_NAMES) {
                die_msg("wait: at most %d names at once", WAIT_MAX_NAMES);
                return EXIT_USAGE;
            }
            names[n++] = a;
        }
    }
    if (n == 0) {
        die_msg("wait: missing NAME (see lroctl wait --help)");
        return EXIT_USAGE;
    }
    lro_client *c = NULL;
    int rc = connect_for(co, "wait", names, n, &c);
    if (rc != EXIT_OK) {
        return rc;
    }
    int multi = n > 1;
    /* -v writes a log of lines; redrawing over it would garble both. */
    int live = isatty(STDERR_FILENO) && !g_verbose;
    wait_item *items = calloc(n, sizeof *items);
    if (items == NULL) {
        lro_client_destroy(c);
        die_msg("out of memory");
        return EXIT_LOCAL;
    }
    double t0 = now_s();
    size_t started = 0;
    for (; started < n; started++) {
        wait_item *w = &items[started];
        w->name = names[started];
        atomic_init(&w->progress_x100, -1);
        atomic_init(&w->changes, 0);
        verbose_request_headers(
            co, pp.method == LRO_AWAIT_POLL_ONLY ? "GetOperation" : "WaitOperation", w->name);
        int e = lro_await(c, w->name, &pp, NULL, live || g_verbose ? on_progress : NULL, NULL, w,
                          NULL, &w->f);
        if (e != LRO_OK) {
            rc = start_error("wait", e);
            break;
        }
    }
    if (started < n) {
        for (size_t i = 0; i < started; i++) {
            lro_future_cancel(items[i].f);
            lro_future_wait(items[i].f, -1);
            lro_future_unref(items[i].f);
        }
        free(items);
        lro_client_destroy(c);
        return rc;
    }
    /* Wait for all; on a terminal redraw one line per operation (or the
     * single line) every 200 ms. */
    int drawn = 0;
    for (;;) {
        size_t pending = 0;
        for (size_t i = 0; i < n; i++) {
            if (items[i].t_done == 0 && lro_future_is_done(items[i].f)) {
                items[i].t_done = now_s();
                if (g_verbose) {
                    const lro_status *st = lro_future_status(items[i].f);
                    fprintf(stderr, "lroctl: [await] %s: %s, %s after %.1f ms, %d polls/attempts\n",
                            items[i].name, outcome_word(&items[i]),
                            lro_code_name(lro_status_code(st)), (items[i].t_done - t0) * 1000,
                            lro_future_polls(items[i].f));
                }
            }
            pending += items[i].t_done == 0;
        }
        if (live && (multi || pending > 0)) {
            if (drawn && multi) {
                fprintf(stderr, "\033[%zuA", n);
            }
            for (size_t i = 0; i < n && (multi || i == 0); i++) {
                draw_line(&items[i], now_s(), t0, multi);
            }
            drawn = 1;
            fflush(stderr);
        }
        if (pending == 0) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (items[i].t_done == 0) {
                lro_future_wait(items[i].f, g_verbose ? 100 : live ? 200 : -1);
                break;
            }
        }
    }
    if (live && !multi) {
        fprintf(stderr, "\r\033[Kdone after %.1fs, %d polls\n", now_s() - t0,
                lro_future_polls(items[0].f));
    }
    /* Results in the order given. One name: the operation as before. Several:
     * JSON, an array with one element per name (the operation, or null when
     * the await ended without one); text, one table. */
    rc = EXIT_OK;
    if (multi && co->format == FMT_JSON) {
        printf("[");
    } else if (multi) {
        print_text_header();
    }
    for (size_t i = 0; i < n; i++) {
        wait_item *w = &items[i];
        const lro_operation *op = lro_future_operation(w->f);
        int r = lro_future_result(w->f);
        int has_op = op != NULL && (r == LRO_OK || r == LRO_ERR_OP_FAILED ||
                                    r == LRO_ERR_OP_CANCELLED || r == LRO_ERR_TIMEOUT);
        if (!multi) {
            if (has_op && print_operation(co, op) != EXIT_OK) {
                rc = worse(rc, EXIT_LOCAL);
            }
        } else if (co->format == FMT_JSON) {
            char *json = NULL;
            if (has_op && lro_operation_to_json(op, LRO_JSON_PRETTY, &json, NULL) == LRO_OK) {
                /* indent the object one level inside the array */
                printf("%s\n  ", i ? "," : "");
                for (const char *p = json; *p; p++) {
                    putchar(*p);
                    if (*p == '\n') {
                        fputs("  ", stdout);
                    }
                }
                lro_free(json);
            } else {
                printf("%s\n  null", i ? "," : "");
            }
        } else if (has_op) {
            print_text_row(op);
        } else {
            print_rpc_row(w);
        }
        fflush(stdout);
        rc = worse(rc, wait_result(w, multi));
    }
    if (multi && co->format == FMT_JSON) {
        printf("\n]\n");
    }
    for (size_t i = 0; i < n; i++) {
        lro_future_unref(items[i].f);
    }
    free(items);
    lro_client_destroy(c);
    return rc;
}
