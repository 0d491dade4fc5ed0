/* Events at the client layer: the hook a client was created with, event
 * delivery, channel connectivity watches, and the logfmt formatting of
 * events (lro/events.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <grpc/support/time.h>

#include "client_int.h"

/* The size lro/events.h documents (LP64); a change is an ABI change. */
_Static_assert(sizeof(void *) != 8 || sizeof(lro_event) == 152, "lro_event is 152 bytes on LP64");

int lro_client_options_set_event_hook(lro_client_options *o, lro_event_hook hook, void *data)
{
    lro_error_clear();
    if (o == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s: options is NULL", __func__);
    }
    o->event_hook = hook;
    o->event_data = hook != NULL ? data : NULL;
    return LRO_OK;
}

void lro_events_init(lro_client *c, const lro_client_options *o)
{
    c->obs.hook = o->event_hook;
    c->obs.data = o->event_data;
    /* The logger's retry, failure and channel lines come from events too. */
    c->obs.on = o->event_hook != NULL || lro_log_enabled(LRO_LOG_WARN);
    atomic_init(&c->obs.next_id, 0);
    atomic_init(&c->obs.span_seq, 0);
    c->obs.span_seed = (uint64_t)lro_now_ns() ^ ((uint64_t)(uintptr_t)c << 16);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->obs.wall_offset_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - lro_now_ns();
    if (lro_log_enabled(LRO_LOG_INFO)) {
        lro_log(LRO_LOG_INFO, "creating a client: target %s, %s", o->target,
                o->plaintext ? "plaintext" : "TLS");
    }
}

uint64_t lro_events_span_id(lro_client *c)
{
    /* splitmix64 over a per-client sequence: distinct ids without a lock.
     * Span ids need uniqueness, not secrecy. */
    uint64_t z = c->obs.span_seed +
                 (atomic_fetch_add_explicit(&c->obs.span_seq, 1, memory_order_relaxed) + 1) *
                     0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z != 0 ? z : 1;
}

static void log_event(const lro_event *ev);

void lro_events_emit(lro_client *c, lro_event *ev, int64_t now_ns)
{
    ev->struct_size = sizeof *ev;
    /* Wall time from the monotonic clock and an offset taken at creation:
     * one clock read per event; a later wall-clock step is not followed
     * (spans stay consistent with their durations). */
    ev->time_unix_ns = now_ns + c->obs.wall_offset_ns;
    if (c->obs.hook != NULL) {
        c->obs.hook(ev, c->obs.data);
    }
    if (atomic_load_explicit(&lro_log_level_now, memory_order_relaxed) >= LRO_LOG_WARN) {
        log_event(ev);
    }
}

/* The logger's view of events: every one at debug, the notable ones at
 * lower levels. */
static void log_event(const lro_event *ev)
{
    if (lro_log_enabled(LRO_LOG_DEBUG)) {
        char line[1024];
        if (lro_event_format(ev, line, sizeof line) >= 0) {
            lro_log(LRO_LOG_DEBUG, "event %s", line);
        }
    }
    /* The notable ones at lower levels. */
    if (ev->kind == LRO_EVENT_RETRY_SCHEDULED && lro_log_enabled(LRO_LOG_INFO)) {
        lro_log(LRO_LOG_INFO, "%s %s: attempt %d ended %s, retry in %lld ms (%s)", ev->method,
                ev->name, ev->attempt, lro_code_name(ev->code), (long long)(ev->delay_ns / 1000000),
                lro_retry_reason_name(ev->reason));
    } else if (ev->kind == LRO_EVENT_CALL_FINISHED && ev->result == LRO_ERR_RPC &&
               lro_log_enabled(LRO_LOG_WARN)) {
        lro_log(LRO_LOG_WARN, "%s %s failed: %s after %d attempt(s)", ev->method, ev->name,
                lro_code_name(ev->code), ev->attempts);
    } else if (ev->kind == LRO_EVENT_AWAIT_POLL && (ev->flags & LRO_POLL_FALLBACK) &&
               ev->code == LRO_CODE_UNIMPLEMENTED && lro_log_enabled(LRO_LOG_WARN)) {
        lro_log(LRO_LOG_WARN, "the server has no WaitOperation: awaits poll with GetOperation");
    } else if (ev->kind == LRO_EVENT_CHANNEL_STATE && lro_log_enabled(LRO_LOG_INFO)) {
        lro_log(LRO_LOG_INFO, "channel %d: %s", ev->channel_index,
                lro_channel_state_name(ev->channel_state));
    }
}

/* ---- Channel connectivity ------------------------------------------------- */

typedef struct channel_watch {
    lro_cq_tag tag; /* first */
    lro_client *c;
    grpc_channel *ch;
    int index;
    grpc_connectivity_state last;
} channel_watch;

/* Arms the watch (caller holds c->mu; the queue is not shut down). */
static void watch_arm_locked(channel_watch *w)
{
    gpr_timespec dl = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                   gpr_time_from_millis(LRO_CHANNEL_WATCH_MS, GPR_TIMESPAN));
    grpc_channel_watch_connectivity_state(w->ch, w->last, dl, w->c->cq, &w->tag);
}

/* On the I/O thread: a change, or the deadline with none. */
static void watch_done(lro_cq_tag *t, int success)
{
    (void)success;
    channel_watch *w = (channel_watch *)t;
    lro_client *c = w->c;
    grpc_connectivity_state s = grpc_channel_check_connectivity_state(w->ch, 0);
    if (s != w->last) {
        w->last = s;
        lro_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = LRO_EVENT_CHANNEL_STATE;
        ev.code = -1;
        ev.channel_state = (int32_t)s;
        ev.channel_index = w->index;
        lro_events_emit(c, &ev, lro_now_ns());
    }
    pthread_mutex_lock(&c->mu);
    /* Closing: let it lapse, so the queue can drain and shut down (grpc
     * has no way to cancel a watch). */
    int again = !c->closing && !c->cq_shut;
    if (again) {
        watch_arm_locked(w);
    }
    pthread_mutex_unlock(&c->mu);
    if (!again) {
        lro_free(w);
    }
}

void lro_events_watch_channel_locked(lro_client *c, grpc_channel *ch, int index)
{
    if (!c->obs.on || ch == NULL || c->cq_shut) {
        return;
    }
    channel_watch *w = lro_calloc(1, sizeof *w);
    if (w == NULL) {
        return; /* its state changes go unreported; nothing else is lost */
    }
    w->tag.done = watch_done;
    w->c = c;
    w->ch = ch;
    w->index = index;
    w->last = grpc_channel_check_connectivity_state(ch, 0);
    watch_arm_locked(w);
}

void lro_events_watch_channel(lro_client *c, grpc_channel *ch, int index)
{
    if (!c->obs.on) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    lro_events_watch_channel_locked(c, ch, index);
    pthread_mutex_unlock(&c->mu);
}

/* ---- Names and formatting --------------------------------------------------- */

const char *lro_event_kind_name(int32_t kind)
{
    static const char *const names[] = {
        NULL,         "CALL_STARTED",  "ATTEMPT_STARTED", "ATTEMPT_FINISHED", "RETRY_SCHEDULED",
        "AWAIT_POLL", "CALL_FINISHED", "CHANNEL_STATE",
    };
    return kind > 0 && kind < (int32_t)(sizeof names / sizeof names[0]) ? names[kind] : "UNKNOWN";
}

const char *lro_channel_state_name(int32_t state)
{
    static const char *const names[] = {"IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE",
                                        "SHUTDOWN"};
    return state >= 0 && state < 5 ? names[state] : "UNKNOWN";
}

const char *lro_retry_reason_name(int32_t reason)
{
    switch (reason) {
    case LRO_RETRY_BACKOFF:
        return "backoff";
    case LRO_RETRY_SERVER_DELAY:
        return "retry_info";
    case LRO_RETRY_CONNECTION_CUT:
        return "connection_cut";
    default:
        return "unknown";
    }
}

/* A bounded writer that counts what it could not write. */
typedef struct wbuf {
    char *p;
    size_t cap, len;
} wbuf;

static void w_bytes(wbuf *w, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (w->len + 1 < w->cap) {
            w->p[w->len] = s[i];
        }
        w->len++;
    }
}

static void w_fmt(wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_fmt(wbuf *w, const char *fmt, ...)
{
    char tmp[96];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) {
        w_bytes(w, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
    }
}

/* key="value" with ", \ and every byte outside printable ASCII escaped. */
static void w_str(wbuf *w, const char *key, const char *s)
{
    if (s == NULL) {
        return;
    }
    w_fmt(w, " %s=\"", key);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            w_bytes(w, e, 2);
        } else if (*p < 0x20 || *p >= 0x7f) {
            w_fmt(w, "\\x%02x", *p);
        } else {
            w_bytes(w, (const char *)p, 1);
        }
    }
    w_bytes(w, "\"", 1);
}

/* ns as milliseconds with 3 decimals; any value (INT64_MIN too). */
static void w_ms(wbuf *w, const char *key, int64_t ns)
{
    uint64_t a = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
    w_fmt(w, " %s=%s%llu.%03llu", key, ns < 0 ? "-" : "", (unsigned long long)(a / 1000000),
          (unsigned long long)(a / 1000 % 1000));
}

static void format_into(const lro_event *ev, wbuf *w)
{
    w_fmt(w, "kind=%s", lro_event_kind_name(ev->kind));
    if (ev->kind == LRO_EVENT_CHANNEL_STATE) {
        w_fmt(w, " channel=%d state=%s", (int)ev->channel_index,
              lro_channel_state_name(ev->channel_state));
        return;
    }
    w_fmt(w, " call=%llu", (unsigned long long)ev->call_id);
    if (ev->parent_id != 0) {
        w_fmt(w, " parent=%llu", (unsigned long long)ev->parent_id);
    }
    w_str(w, "method", ev->method);
    w_str(w, "name", ev->name);
    switch (ev->kind) {
    case LRO_EVENT_ATTEMPT_STARTED:
        w_fmt(w, " attempt=%d", (int)ev->attempt);
        break;
    case LRO_EVENT_ATTEMPT_FINISHED:
        w_fmt(w, " attempt=%d code=%s", (int)ev->attempt, lro_code_name(ev->code));
        w_ms(w, "duration_ms", ev->duration_ns);
        w_fmt(w, " request_bytes=%llu response_bytes=%llu", (unsigned long long)ev->request_bytes,
              (unsigned long long)ev->response_bytes);
        break;
    case LRO_EVENT_RETRY_SCHEDULED:
        w_fmt(w, " attempt=%d code=%s", (int)ev->attempt, lro_code_name(ev->code));
        w_ms(w, "delay_ms", ev->delay_ns);
        w_fmt(w, " reason=%s", lro_retry_reason_name(ev->reason));
        break;
    case LRO_EVENT_AWAIT_POLL:
        w_fmt(w, " poll=%d code=%s", (int)ev->attempt, lro_code_name(ev->code));
        w_ms(w, "duration_ms", ev->duration_ns);
        w_fmt(w, " flags=%s%s%s%s%s%s", ev->flags & LRO_POLL_FALLBACK ? "fallback," : "",
              ev->flags & LRO_POLL_THROTTLED_BUDGET ? "budget," : "",
              ev->flags & LRO_POLL_THROTTLED_CAP ? "cap," : "",
              ev->flags & LRO_POLL_PROGRESS ? "progress," : "",
              ev->flags & LRO_POLL_DONE ? "done," : "",
              ev->flags & LRO_POLL_FAILED ? "failed," : "");
        if (ev->throttle_ns > 0) {
            w_ms(w, "throttle_ms", ev->throttle_ns);
        }
        break;
    case LRO_EVENT_CALL_FINISHED:
        w_fmt(w, " result=%s code=%s", lro_err_name(ev->result), lro_code_name(ev->code));
        w_ms(w, "duration_ms", ev->duration_ns);
        w_fmt(w, " attempts=%d polls=%d", (int)ev->attempts, (int)ev->polls);
        break;
    default:
        break;
    }
    w_str(w, "trace_id", ev->trace_id);
    w_str(w, "span_id", ev->span_id);
    w_str(w, "parent_span_id", ev->parent_span_id);
}

int lro_event_format(const lro_event *ev, char *buf, size_t cap)
{
    if (ev == NULL || (buf == NULL && cap > 0)) {
        return LRO_ERR_INVALID_ARG;
    }
    /* The whole line first (redaction must see all of it), then the
     * caller's prefix of it. */
    wbuf count = {NULL, 0, 0};
    format_into(ev, &count);
    char *full = lro_malloc(count.len + 1);
    if (full == NULL) {
        return LRO_ERR_NOMEM;
    }
    wbuf w = {full, count.len + 1, 0};
    format_into(ev, &w);
    full[w.len < w.cap ? w.len : w.cap - 1] = '\0';
    size_t n = lro_redact(full);
    if (cap > 0) {
        size_t k = n < cap - 1 ? n : cap - 1;
        memcpy(buf, full, k);
        buf[k] = '\0';
    }
    lro_free(full);
    return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
}
