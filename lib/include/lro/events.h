/*
 * lro/events.h - observability: a per-client event hook (calls, attempts,
 * retries, await polls, channel states) and a process-wide log hook.
 *
 * Events are plain data, so any metrics or tracing system can consume them
 * (examples/metrics_prometheus.c and examples/spans_otel.c show Prometheus
 * text format and OpenTelemetry-shaped JSON lines). Nothing in an event or
 * a log line is a secret: events carry no header values at all, and every
 * log line (the library's and, if routed, grpc's) goes through a redaction
 * filter before any logger sees it.
 *
 * Cost: with no hook set the library only tests one pointer at each event
 * point; see bench/README.md for the measured instructions per Get.
 */
#ifndef LRO_EVENTS_H
#define LRO_EVENTS_H

#include "lro/client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Events -------------------------------------------------------------- */

/* What happened (lro_event.kind). int32_t values, not an enum type (ABI rule
 * 2 in lro/common.h). New kinds may be added: ignore unknown ones. */
typedef int32_t lro_event_kind;
enum {
    /* lro_get/list/cancel/delete/wait, or lro_await / lro_cancel_and_await
     * (method "Await"), or a poll or cancel an await sends (parent_id set). */
    LRO_EVENT_CALL_STARTED = 1,
    /* An RPC attempt is about to be sent: attempt (1-based), span_id. */
    LRO_EVENT_ATTEMPT_STARTED = 2,
    /* An attempt ended: code, duration_ns, request_bytes, response_bytes. */
    LRO_EVENT_ATTEMPT_FINISHED = 3,
    /* The attempt that just finished will be tried again after delay_ns;
     * reason says why the delay is what it is (LRO_RETRY_*). */
    LRO_EVENT_RETRY_SCHEDULED = 4,
    /* A poll of an await answered (call_id: the await; attempt: the poll
     * number; method: the RPC used; code; flags: LRO_POLL_*; throttle_ns:
     * how long the poll budget or the await RPC cap held it back;
     * duration_ns: the poll RPC's duration). */
    LRO_EVENT_AWAIT_POLL = 5,
    /* A call or await ended: result (LRO_OK / LRO_ERR_*), code,
     * duration_ns since CALL_STARTED, attempts, polls (awaits). */
    LRO_EVENT_CALL_FINISHED = 6,
    /* A channel of the client changed connectivity state: channel_index,
     * channel_state (LRO_CHANNEL_*), the state grpc reports when lro-c looks
     * after grpc signals a change. States are sampled, so a fast passage
     * (IDLE -> CONNECTING -> READY within one wake-up) may be reported as
     * its last state only; two consecutive events never carry the same
     * state. */
    LRO_EVENT_CHANNEL_STATE = 7
};

/* lro_event.reason of LRO_EVENT_RETRY_SCHEDULED. */
enum {
    LRO_RETRY_BACKOFF = 1,       /* the policy's exponential backoff, jittered */
    LRO_RETRY_SERVER_DELAY = 2,  /* the server's google.rpc.RetryInfo delay */
    LRO_RETRY_CONNECTION_CUT = 3 /* UNAVAILABLE after a long-open attempt: re-sent
                                    at once, not counted against max_attempts */
};

/* lro_event.flags of LRO_EVENT_AWAIT_POLL (bits). */
enum {
    LRO_POLL_FALLBACK = 1,         /* polled with GetOperation because the server
                                      answered WaitOperation UNIMPLEMENTED (this
                                      poll or an earlier one of the client) */
    LRO_POLL_THROTTLED_BUDGET = 2, /* held back by the poll budget (set_poll_budget) */
    LRO_POLL_THROTTLED_CAP = 4,    /* waited for a slot (set_max_await_rpcs) */
    LRO_POLL_PROGRESS = 8,         /* the operation's metadata changed since the
                                      previous poll (or this is the first seen) */
    LRO_POLL_DONE = 16,            /* the operation is done */
    LRO_POLL_FAILED = 32           /* the poll RPC failed (code says how) */
};

/* lro_event.channel_state: grpc's connectivity states. */
enum {
    LRO_CHANNEL_IDLE = 0,
    LRO_CHANNEL_CONNECTING = 1,
    LRO_CHANNEL_READY = 2,
    LRO_CHANNEL_TRANSIENT_FAILURE = 3,
    LRO_CHANNEL_SHUTDOWN = 4
};

/* One event. Filled by the library; the hook reads it. Versioned the other
 * way round from option structs: struct_size is sizeof(lro_event) as the
 * LIBRARY knows it, and fields are only ever appended, so a hook compiled
 * against older headers reads the prefix it knows and a newer hook must
 * check struct_size before reading a field appended later.
 * Fields that do not apply to a kind are 0 (strings NULL, code -1).
 * struct_size values (LP64): 152 (1.0). */
typedef struct lro_event {
    uint32_t struct_size;
    lro_event_kind kind;
    uint64_t call_id;   /* per client, from 1; an await and each of its polls
                           have their own ids */
    uint64_t parent_id; /* the await a poll or an await's cancel belongs to; 0 */
    /* When it happened, ns since the Unix epoch: CLOCK_REALTIME at client
     * creation plus monotonic time since (one clock read per event; a wall
     * clock step after creation is not followed, so timestamps and
     * durations always agree). */
    int64_t time_unix_ns;
    const char *method;      /* "GetOperation", "ListOperations", "CancelOperation",
                                "DeleteOperation", "WaitOperation" or "Await" */
    const char *name;        /* operation name (List: the collection); not a secret */
    int32_t attempt;         /* ATTEMPT_*, RETRY_SCHEDULED: attempt number;
                                AWAIT_POLL: poll number */
    int32_t code;            /* gRPC status code (LRO_CODE_*), -1 when none */
    int32_t result;          /* CALL_FINISHED: LRO_OK or LRO_ERR_* */
    int32_t reason;          /* RETRY_SCHEDULED: LRO_RETRY_* */
    int64_t duration_ns;     /* ATTEMPT_FINISHED, AWAIT_POLL, CALL_FINISHED */
    int64_t delay_ns;        /* RETRY_SCHEDULED: time until the next attempt */
    int64_t throttle_ns;     /* AWAIT_POLL: time held back (LRO_POLL_THROTTLED_*) */
    uint64_t request_bytes;  /* ATTEMPT_FINISHED: request message bytes */
    uint64_t response_bytes; /* ATTEMPT_FINISHED: response message bytes */
    int32_t attempts;        /* CALL_FINISHED: attempts made (an await: 0) */
    int32_t polls;           /* CALL_FINISHED of an await: polls answered */
    int32_t flags;           /* AWAIT_POLL: LRO_POLL_* bits */
    int32_t channel_state;   /* CHANNEL_STATE: LRO_CHANNEL_* */
    int32_t channel_index;   /* CHANNEL_STATE: which channel of the client:
                                0.. the short-call channels, 1000.. the
                                channels opened for held WaitOperation calls */
    int32_t reserved0;
    /* W3C trace context of calls given lro_call_options.traceparent, else
     * NULL. trace_id: 32 hex digits. parent_span_id: the caller's span (the
     * parent-id of its traceparent). span_id (ATTEMPT_STARTED and
     * ATTEMPT_FINISHED): 16 hex digits that lro-c generated for this attempt
     * and sent as the parent-id of the attempt's traceparent header, so the
     * server's spans hang under a span the hook can report (one per
     * attempt, and so one per poll of an await). Only with an event hook:
     * without one the caller's traceparent is sent unchanged. */
    const char *trace_id;
    const char *span_id;
    const char *parent_span_id;
} lro_event;
LRO_ASSERT_NO_TAIL_PADDING(lro_event, parent_span_id);

/* The hook. `ev` and every string it points to are valid only during the
 * call: copy what you keep. Do not block and do not call lro-c from it
 * except the formatting and name functions below (it may run with the
 * client's internal state mid-change).
 * Thread: events are delivered on the client's I/O thread, in both modes
 * (in loop mode too the hook runs there, not inside lro_client_process():
 * it is for counting and exporting, not for driving the application). A
 * call or await started on another thread has its CALL_STARTED and first
 * ATTEMPT_STARTED recorded there and handed to the I/O thread (their
 * time_unix_ns is when they happened), which delivers them at once for an
 * await or a WaitOperation, and for other calls on its next round: at the
 * latest when the call completes or 200 ms later, whichever comes first
 * (waking the thread for each short call would cost a third of it). One
 * exception: an await that ends while it is being started (the client is
 * being destroyed, or memory ran out) reports its events on the starting
 * thread. A call refused at start (its function returned an error, no
 * future) reports nothing. The hook still needs to be thread-safe if it
 * shares state with other threads (or several clients). The events of one
 * call are always delivered in order (started, attempts, finished), an
 * await's CALL_STARTED before its polls', and a call's CALL_FINISHED
 * before the call's future is marked done (so after lro_future_wait()
 * returned, its events were all delivered). Events of timers that
 * lro_client_destroy() cancels come from the I/O thread too. */
typedef void (*lro_event_hook)(const lro_event *ev, void *data);

/* Sets the event hook of clients created with these options (NULL: none,
 * the default; copied by lro_client_create like every option). `data` is
 * passed back as is and must stay valid until lro_client_destroy()
 * returned; a destroy called from inside one of the client's callbacks
 * returns before the teardown ends (its CALL_FINISHED events still come,
 * from the I/O thread), so then keep `data` alive for the process. */
LRO_API int lro_client_options_set_event_hook(lro_client_options *o, lro_event_hook hook,
                                              void *data);

/* "CALL_STARTED", "ATTEMPT_STARTED", ...; "UNKNOWN" otherwise. Static. */
LRO_API const char *lro_event_kind_name(int32_t kind);
/* "IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE", "SHUTDOWN", "UNKNOWN". */
LRO_API const char *lro_channel_state_name(int32_t state);
/* "backoff", "retry_info", "connection_cut", "unknown". */
LRO_API const char *lro_retry_reason_name(int32_t reason);

/* Formats an event as one line of logfmt ("kind=ATTEMPT_FINISHED call=3
 * method=GetOperation name=\"operations/x\" attempt=1 code=OK ..."), no
 * newline, always NUL-terminated, truncated to cap - 1 bytes. Strings are
 * quoted with control and non-ASCII bytes escaped, then the line goes
 * through the same redaction as log lines. Returns the length the full
 * line would have (like snprintf), or a negative LRO_ERR_INVALID_ARG for a
 * NULL event or a NULL buf with cap > 0, or LRO_ERR_NOMEM (it formats the
 * whole line in a temporary buffer first, so that redaction sees all of
 * it). Thread-safe. */
LRO_API int lro_event_format(const lro_event *ev, char *buf, size_t cap);

/* ---- Logs (process-wide) --------------------------------------------------
 * lro-c's own diagnostics: a client being created (info), channel state changes
 * (info), an await falling back to polling (warn), a retry scheduled
 * (info), a call ending with an RPC error (warn), and at debug every event
 * of every client as lro_event_format writes it (even without an event
 * hook). Those lines come from the events: a client created while the
 * level is warn or more reports events (at the cost of a no-op hook, see
 * bench/README.md) whether or not it has a hook.
 *
 * Default: the LRO_LOG environment variable (error|warn|info|debug; read
 * once, at the first client creation or log call) selects a logger on
 * stderr at that level; unset or anything else: no log at all. */
typedef int32_t lro_log_level;
enum { LRO_LOG_OFF = 0, LRO_LOG_ERROR = 1, LRO_LOG_WARN = 2, LRO_LOG_INFO = 3, LRO_LOG_DEBUG = 4 };

/* A log line: level, source ("lro" or "grpc"), message (redacted, no
 * trailing newline). Called on any thread, possibly concurrently. Must not
 * call lro-c (except the name functions). `msg` is valid during the call. */
typedef void (*lro_log_hook)(lro_log_level level, const char *source, const char *msg, void *data);

/* Replaces the logger, process-wide: lines up to max_level go to hook
 * (hook NULL: the stderr logger; max_level LRO_LOG_OFF: nothing). Set it
 * before creating clients: a client decides at creation whether it reports
 * every event at debug level. Not safe against concurrent log calls of
 * another thread (the previous hook may still get a line or two).
 * LRO_ERR_INVALID_ARG for a level outside 0..4. */
LRO_API int lro_log_set_hook(lro_log_hook hook, void *data, lro_log_level max_level);

/* Routes grpc's own log lines (gpr_log) through the lro-c logger (redacted,
 * source "grpc", grpc's ERROR/INFO/DEBUG mapped to error/info/debug), or
 * back to grpc's default (enable 0). PROCESS-WIDE in grpc: it replaces the
 * log function of every grpc user in the process (another library's too),
 * which is why it is off by default. grpc's own verbosity
 * (GRPC_VERBOSITY) still decides what grpc emits. */
LRO_API int lro_log_route_grpc(int enable);

/* "error", "warn", "info", "debug", "off". */
LRO_API const char *lro_log_level_name(lro_log_level level);

/* Redacts secrets in place in a NUL-terminated text: the value after any
 * key that names a credential ("authorization", "*token*", "*secret*",
 * "*password*", "*api-key*"/"apikey"/"api_key", "cookie", "credential",
 * "session", "private") followed by ':' or '=', the word after
 * "Bearer"/"Basic", and the body of a PEM block ("-----BEGIN ...-----" to
 * "-----END"), become "<redacted>" (or as many '*' when shorter: the text
 * may shrink, never grow).
 * Every log line goes through it. Returns the new length. Thread-safe. */
LRO_API size_t lro_redact(char *text);

#ifdef __cplusplus
}
#endif
#endif /* LRO_EVENTS_H */
