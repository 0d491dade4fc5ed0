/* lroctl: command-line client for google.longrunning.Operations, built on
 * lro-c (and the proof, from outside the library, that it works). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lroctl.h"

void die_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lroctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const char *k_tool_help =
    "usage: lroctl [flags] COMMAND [args]\n"
    "\n"
    "Drive google.longrunning.Operations over gRPC.\n"
    "\n"
    "Commands:\n"
    "  get NAME                 GetOperation\n"
    "  list PARENT              ListOperations (one page, or every page with --all)\n"
    "  cancel NAME              CancelOperation (asks the server to cancel it)\n"
    "  delete NAME              DeleteOperation\n"
    "  wait NAME...             await until done (WaitOperation, falling back to polling)\n"
    "  demo                     a short tour against an in-process embedded server\n"
    "  serve                    run the embedded Operations server until interrupted\n"
    "  admin SUBCOMMAND         steer `serve --admin` (put, complete, fail, progress,\n"
    "                           fault, clear-faults, calls, clear-calls)\n"
    "\n"
    "Connection and output flags (before or after the command):\n"
    "  --target HOST:PORT       server address (default: $LRO_TARGET)\n"
    "  --plaintext              no TLS (must be asked for explicitly)\n"
    "  --ca-file PEM            verify the server against this CA (default: system roots)\n"
    "  --tls-server-name NAME   name to check in the server certificate\n"
    "  --header K=V             extra request header (repeatable)\n"
    "  --token-file FILE        bearer token (default: $LRO_TOKEN); never printed\n"
    "  --allow-insecure-token   allow sending the token over --plaintext\n"
    "  --credentials-file FILE  service_account, authorized_user or external_account JSON\n"
    "  --adc                    Google Application Default Credentials\n"
    "  --access-token-command CMD  run CMD for a token (stdout: the token, or JSON with\n"
    "                           access_token/expires_in); cached until expiry or 50 min\n"
    "  --cert-file PEM --key-file PEM  client certificate (mTLS); re-read when rotated\n"
    "  --api-key KEY            x-goog-api-key (default: $LRO_API_KEY); never printed\n"
    "  --quota-project ID       x-goog-user-project\n"
    "  --call-timeout DUR       deadline of each RPC (also --timeout before the command)\n"
    "  --max-message-size N     largest response accepted, in bytes\n"
    "  --format json|text       proto3 JSON (default) or a compact table\n"
    "  --protoset FILE          message types for JSON, from protoc --include_imports\n"
    "                           --descriptor_set_out=FILE (repeatable)\n"
    "  -v, --verbose            on stderr: request headers (secrets redacted) and lro-c's\n"
    "                           events: a line per attempt (status, duration, retry delay\n"
    "                           and why), per await poll, per channel state change\n"
    "  -h, --help               help (also: lroctl COMMAND --help)\n"
    "\n"
    "Durations: 500ms, 10s, 2m, 1h, or a number of seconds.\n"
    "\n"
    "Errors: one line 'lroctl: CMD failed: CODE: message', then the status details:\n"
    "with --format text an indented line per detail (ErrorInfo, RetryInfo,\n"
    "BadRequest, others as JSON); with --format json the whole google.rpc.Status\n"
    "as one line of proto3 JSON (the last line of stderr).\n"
    "\n"
    "Exit codes:\n"
    "  0   success\n"
    "  1   local failure (unreadable file, out of memory, ...)\n"
    "  2   usage error\n"
    "  3   wait: the operation finished with an error\n"
    "  4   wait: the operation was cancelled\n"
    "  5   wait: --timeout passed while the operation was still running\n"
    "  10+code  the RPC failed with gRPC status `code`: 11 CANCELLED, 12 UNKNOWN,\n"
    "      13 INVALID_ARGUMENT, 14 DEADLINE_EXCEEDED, 15 NOT_FOUND, 16 ALREADY_EXISTS,\n"
    "      17 PERMISSION_DENIED, 18 RESOURCE_EXHAUSTED, 19 FAILED_PRECONDITION,\n"
    "      20 ABORTED, 21 OUT_OF_RANGE, 22 UNIMPLEMENTED, 23 INTERNAL, 24 UNAVAILABLE,\n"
    "      25 DATA_LOSS, 26 UNAUTHENTICATED\n";

static const char *k_serve_help =
    "usage: lroctl serve [--listen ADDR] [--seed N] [--threads N] [flags below]\n"
    "\n"
    "Runs the embedded Operations server until SIGINT/SIGTERM. The first line\n"
    "printed (stdout) is the bound address. ADDR: 127.0.0.1:0 (default),\n"
    "host:port or unix:/path. --seed N (0..100000, default 20) puts N\n"
    "deterministic operations under projects/demo/locations/global/operations:\n"
    "op-<i> with i%4 0 and 3 succeeded, 1 failed, 2 pending.\n"
    "\n"
    "Operations that live (pending ones, seeded or created later):\n"
    "  --complete-after DUR   finish this long after they appear (default 5s;\n"
    "                         0 = never: they stay pending)\n"
    "  --progress-every DUR   metadata {\"progress\": P} every DUR (default 1s; 0 = off)\n"
    "  --fail-every N         1 in N fails (ABORTED, with an ErrorInfo), the others\n"
    "                         succeed; deterministic in order of appearance\n"
    "                         (default 3; 0 = none fails)\n"
    "Faults and limits:\n"
    "  --fault METHOD[:NAME_SUFFIX]=CODE[xK][@retry=DUR][@reason=NAME]  (repeatable)\n"
    "                         answer METHOD (get, list, wait, cancel, delete, all,\n"
    "                         or a comma list) for names ending in NAME_SUFFIX with\n"
    "                         CODE (name or number), K times (default: always),\n"
    "                         with a RetryInfo of DUR when @retry is given, and\n"
    "                         ErrorInfo reason NAME (default INJECTED_FAULT).\n"
    "                         e.g. get=UNAVAILABLEx2@retry=200ms, delete:op-00003=7\n"
    "  --latency DUR          delay every answer no --fault took\n"
    "  --unimplemented LIST   answer these methods UNIMPLEMENTED, e.g. wait,cancel\n"
    "  --max-streams N        at most N concurrent calls per connection (HTTP/2)\n"
    "  --max-conn-age DUR     recycle connections (GOAWAY) after DUR (+-10%)\n"
    "  --max-conn-age-grace DUR  then cut calls still open after DUR (default 1s)\n"
    "  --tls-cert PEM --tls-key PEM  speak TLS with this certificate chain and key\n"
    "  --client-ca PEM        require client certificates from this CA (mTLS)\n"
    "  --require-token T      accept only these bearer tokens (repeatable)\n"
    "  --jwt-public-key PEM   accept RS256 JWTs signed by this key [--jwt-audience AUD]\n"
    "  --require-api-key K    require x-goog-api-key K (repeatable)\n"
    "                         (refused calls end UNAUTHENTICATED; -v never prints secrets)\n"
    "Every error the server answers carries a google.rpc.Status with an ErrorInfo\n"
    "(domain lro-c.testing) in grpc-status-details-bin.\n"
    "Control API:\n"
    "  --admin                also serve lro.testing.v1.OperationsAdmin on the same\n"
    "                         address so tests in any language can steer it (see\n"
    "                         lroctl admin --help; add --complete-after 0 to move\n"
    "                         operations only from the test). Anyone who can\n"
    "                         connect can then change the server: keep it on loopback.\n";

/* `lroctl CMD --help` of the commands whose help is one text. */
static const struct {
    const char *cmd;
    const char *text;
} k_cmd_help[] = {
    {"get", "usage: lroctl get NAME [flags]\n\nPrints the operation (GetOperation).\n"},
    {"list", "usage: lroctl list PARENT [--filter F] [--page-size N] [--page-token T] [--all]"
             " [flags]\n\n"
             "Lists the operations of the collection PARENT (e.g.\n"
             "projects/p/locations/l/operations). One page by default, printed as a\n"
             "ListOperationsResponse; with --all every page, printed as one response\n"
             "holding all operations. --filter is the server's syntax (e.g. done=true).\n"},
    {"cancel", "usage: lroctl cancel NAME [flags]\n\nAsks the server to cancel the operation "
               "(CancelOperation); prints {} on success.\n"},
    {"delete", "usage: lroctl delete NAME [flags]\n\nDeleteOperation; prints {} on success.\n"},
    {"wait", "usage: lroctl wait NAME... [--timeout DUR] [--poll-only] [--poll-interval DUR]"
             " [flags]\n\n"
             "Awaits the operations until they are done (WaitOperation, falling back to\n"
             "GetOperation polling with backoff if the server lacks it), all at once,\n"
             "then prints them in the order given: one name, the operation; several, a\n"
             "JSON array (null for a name whose await ended without an operation) or\n"
             "one table with --format text.\n"
             "--timeout bounds each wait (default 1h); the per-RPC deadline is\n"
             "--call-timeout. On a terminal, live progress goes to stderr (one line\n"
             "per operation).\n"
             "Exit 0 succeeded, 3 failed, 4 cancelled, 5 timed out; with several names\n"
             "the worst: an RPC failure (10+code) beats 5 beats 4 beats 3 beats 0, and a\n"
             "local failure (1) beats everything.\n"},
    {"demo", "usage: lroctl demo\n\nStarts the embedded Operations server in this process "
             "with seeded operations\nand walks through list, get, cancel, wait and delete.\n"},
};

void print_help(FILE *out, const char *cmd)
{
    for (size_t i = 0; cmd != NULL && i < sizeof k_cmd_help / sizeof k_cmd_help[0]; i++) {
        if (strcmp(cmd, k_cmd_help[i].cmd) == 0) {
            fputs(k_cmd_help[i].text, out);
            return;
        }
    }
    if (cmd != NULL && strcmp(cmd, "serve") == 0) {
        fputs(k_serve_help, out);
    } else if (cmd != NULL && strcmp(cmd, "admin") == 0) {
        print_admin_help(out);
    } else {
        fputs(k_tool_help, out);
    }
}

void conn_opts_init(conn_opts *co)
{
    memset(co, 0, sizeof *co);
    const char *t = getenv("LRO_TARGET");
    co->target = t && t[0] ? t : NULL;
}

int parse_duration_ms(const char *s, int64_t *ms)
{
    if (s == NULL || *s == '\0') {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || v < 0 || v != v) {
        return -1;
    }
    double mult;
    if (*end == '\0' || strcmp(end, "s") == 0) {
        mult = 1000;
    } else if (strcmp(end, "ms") == 0) {
        mult = 1;
    } else if (strcmp(end, "m") == 0) {
        mult = 60000;
    } else if (strcmp(end, "h") == 0) {
        mult = 3600000;
    } else {
        return -1;
    }
    double r = v * mult;
    if (r > 9.0e15) {
        return -1;
    }
    *ms = (int64_t)(r + 0.5);
    return 0;
}

static int need_value(int argc, char **argv, int i)
{
    if (i + 1 >= argc) {
        die_msg("%s needs a value (see --help)", argv[i]);
        return -1;
    }
    return 0;
}

int parse_global_flag(conn_opts *co, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    int pr = parse_protoset_flag(argc, argv, i);
    if (pr != 0) {
        return pr;
    }
    if (strcmp(a, "--plaintext") == 0) {
        co->plaintext = 1;
        return 1;
    }
    if (strcmp(a, "--allow-insecure-token") == 0) {
        co->allow_insecure_token = 1;
        return 1;
    }
    if (strcmp(a, "--adc") == 0) {
        co->adc = 1;
        return 1;
    }
    if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
        g_verbose = 1;
        return 1;
    }
    static const char *const with_value[] = {"--target",
                                             "--ca-file",
                                             "--tls-server-name",
                                             "--header",
                                             "--token-file",
                                             "--call-timeout",
                                             "--timeout",
                                             "--max-message-size",
                                             "--format",
                                             "--credentials-file",
                                             "--access-token-command",
                                             "--cert-file",
                                             "--key-file",
                                             "--api-key",
                                             "--quota-project"};
    size_t k = 0;
    for (; k < sizeof with_value / sizeof with_value[0]; k++) {
        if (strcmp(a, with_value[k]) == 0) {
            break;
        }
    }
    if (k == sizeof with_value / sizeof with_value[0]) {
        return 0;
    }
    if (need_value(argc, argv, *i) < 0) {
        return -1;
    }
    const char *v = argv[++*i];
    if (strcmp(a, "--target") == 0) {
        co->target = v;
    } else if (strcmp(a, "--ca-file") == 0) {
        co->ca_file = v;
    } else if (strcmp(a, "--tls-server-name") == 0) {
        co->tls_server_name = v;
    } else if (strcmp(a, "--token-file") == 0) {
        co->token_file = v;
    } else if (strcmp(a, "--credentials-file") == 0) {
        co->credentials_file = v;
    } else if (strcmp(a, "--access-token-command") == 0) {
        co->access_token_command = v;
    } else if (strcmp(a, "--cert-file") == 0) {
        co->cert_file = v;
    } else if (strcmp(a, "--key-file") == 0) {
        co->key_file = v;
    } else if (strcmp(a, "--api-key") == 0) {
        co->api_key = v;
    } else if (strcmp(a, "--quota-project") == 0) {
        co->quota_project = v;
    } else if (strcmp(a, "--call-timeout") == 0 || strcmp(a, "--timeout") == 0) {
        if (parse_duration_ms(v, &co->timeout_ms) < 0 || co->timeout_ms == 0) {
            die_msg("%s: '%s' is not a duration (e.g. 500ms, 10s, 2m)", a, v);
            return -1;
        }
    } else if (strcmp(a, "--max-message-size") == 0) {
        char *end = NULL;
        long long n = strtoll(v, &end, 10);
        if (end == v || *end != '\0' || n <= 0 || n > 2147483647LL) {
            die_msg("--max-message-size: '%s' is not a size in bytes (1..2147483647)", v);
            return -1;
        }
        co->max_message = n;
    } else if (strcmp(a, "--format") == 0) {
        if (strcmp(v, "json") == 0) {
            co->format = g_format = FMT_JSON;
        } else if (strcmp(v, "text") == 0) {
            co->format = g_format = FMT_TEXT;
        } else {
            die_msg("--format: '%s' is not json or text", v);
            return -1;
        }
    } else { /* --header */
        const char *eq = strchr(v, '=');
        if (eq == NULL || eq == v) {
            die_msg("--header: '%s' is not KEY=VALUE", v);
            return -1;
        }
        if (co->header_count == sizeof co->headers / sizeof co->headers[0]) {
            die_msg("--header: at most %zu headers", sizeof co->headers / sizeof co->headers[0]);
            return -1;
        }
        char *key = strndup(v, (size_t)(eq - v));
        if (key == NULL) {
            die_msg("out of memory");
            return -1;
        }
        /* Checked here so a bad header is a usage error with a clear reason,
         * not a failed call. Keys are lowercase [0-9a-z_.-]. */
        lro_client_options *probe = NULL;
        int rc = lro_client_options_create(&probe);
        if (rc == LRO_OK) {
            rc = lro_client_options_add_header(probe, key, eq + 1);
        }
        lro_client_options_destroy(probe);
        if (rc != LRO_OK) {
            die_msg("--header: '%s' is not allowed: %s", key, lroctl_why(rc));
            free(key);
            return -1;
        }
        co->headers[co->header_count].key = key; /* lives until exit */
        co->headers[co->header_count].value = eq + 1;
        co->header_count++;
    }
    return 1;
}

static int run(conn_opts *co, int argc, char **argv);

int main(int argc, char **argv)
{
    conn_opts co;
    conn_opts_init(&co);
    int rc = run(&co, argc, argv);
    /* The --header keys parse_global_flag copied (LeakSanitizer counts
     * them once main's frame is gone). */
    for (size_t i = 0; i < co.header_count; i++) {
        free((char *)co.headers[i].key);
    }
    return rc;
}

static int run(conn_opts *co, int argc, char **argv)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_help(stdout, NULL);
            return EXIT_OK;
        }
        if (strcmp(a, "--version") == 0) {
            printf("lroctl (lro-c %s)\n", lro_version_string());
            return EXIT_OK;
        }
        int r = parse_global_flag(co, argc, argv, &i);
        if (r < 0) {
            return EXIT_USAGE;
        }
        if (r == 0) {
            break;
        }
    }
    if (i >= argc) {
        die_msg("no command given (try: lroctl --help, or lroctl demo)");
        return EXIT_USAGE;
    }
    if (argv[i][0] == '-') {
        die_msg("unknown flag '%s' (see lroctl --help)", argv[i]);
        return EXIT_USAGE;
    }
    const char *cmd = argv[i];
    int cargc = argc - i - 1;
    char **cargv = argv + i + 1;
    for (int k = 0; k < cargc; k++) {
        if (strcmp(cargv[k], "-h") == 0 || strcmp(cargv[k], "--help") == 0) {
            print_help(stdout, cmd);
            return EXIT_OK;
        }
    }
    if (strcmp(cmd, "get") == 0) {
        return cmd_get(co, cargc, cargv);
    }
    if (strcmp(cmd, "list") == 0) {
        return cmd_list(co, cargc, cargv);
    }
    if (strcmp(cmd, "cancel") == 0) {
        return cmd_cancel(co, cargc, cargv);
    }
    if (strcmp(cmd, "delete") == 0) {
        return cmd_delete(co, cargc, cargv);
    }
    if (strcmp(cmd, "wait") == 0) {
        return cmd_wait(co, cargc, cargv);
    }
    if (strcmp(cmd, "demo") == 0) {
        return cmd_demo(cargc, cargv);
    }
    if (strcmp(cmd, "serve") == 0) {
        return cmd_serve(cargc, cargv);
    }
    if (strcmp(cmd, "admin") == 0) {
        return cmd_admin(co, cargc, cargv);
    }
    die_msg("unknown command '%s' (see lroctl --help)", cmd);
    return EXIT_USAGE;
}
