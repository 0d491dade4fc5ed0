/*
 * events_int.h - observability at the client layer (private): the event
 * hook a client was created with, event delivery, channel connectivity
 * watches and the process-wide logger. events.c and log.c.
 *
 * The future, call and await layers report what happens through the small
 * API of obs_int.h (obs.c), which fills an lro_event and hands it to
 * lro_events_emit() here. With no hook and no debug logging, `on` is 0 and
 * every report point is one untaken branch.
 */
#ifndef LRO_EVENTS_INT_H
#define LRO_EVENTS_INT_H

#include <stdatomic.h>

#include <grpc/grpc.h>

#include "lro/events.h"
#include "lro_int.h"

/* Per client, set once at creation and read-only after (except the
 * atomics). */
typedef struct lro_client_obs {
    int on; /* hook set or logging at warn or more: report events */
    lro_event_hook hook;
    void *data;
    atomic_uint_fast64_t next_id;  /* call ids */
    atomic_uint_fast64_t span_seq; /* span ids: mixed with span_seed */
    uint64_t span_seed;
    int64_t wall_offset_ns; /* CLOCK_REALTIME - lro_now_ns() at creation */
} lro_client_obs;

struct lro_client;
struct lro_client_options;

/* Client creation: copies the options' hook, decides `on`. */
LRO_HIDDEN void lro_events_init(struct lro_client *c, const struct lro_client_options *o);
/* Hands one event to the hook (and to the logger). Fills struct_size and
 * time_unix_ns from now_ns (lro_now_ns() when it happened: one clock read
 * per event, shared with the durations the caller computed). */
LRO_HIDDEN void lro_events_emit(struct lro_client *c, lro_event *ev, int64_t now_ns);
/* Watches `ch` (the client's channel number `index`) and reports each
 * connectivity change as LRO_EVENT_CHANNEL_STATE. Call it once per channel
 * after the channel and the completion queue exist, before the I/O thread
 * can shut the queue down; a no-op when the client reports no events. The
 * watch re-arms itself on the I/O thread until the client is closing; it
 * is armed with a bounded deadline (LRO_CHANNEL_WATCH_MS) because grpc
 * cannot cancel a watch and the completion queue only shuts down once the
 * last one completed, so a client with a hook may take up to that long
 * longer to destroy. */
#define LRO_CHANNEL_WATCH_MS 200
LRO_HIDDEN void lro_events_watch_channel(struct lro_client *c, grpc_channel *ch, int index);
/* The same with c->mu held (a channel opened by the pool under the lock). */
LRO_HIDDEN void lro_events_watch_channel_locked(struct lro_client *c, grpc_channel *ch, int index);
/* A fresh 64-bit span id for an attempt (never 0). Thread-safe. */
LRO_HIDDEN uint64_t lro_events_span_id(struct lro_client *c);

/* ---- log.c ---- */
/* Whether a line of `level` would be logged (reads LRO_LOG the first time). */
LRO_HIDDEN int lro_log_enabled(int level);
/* The level now, without reading LRO_LOG (-1 until it was read: every
 * client creation reads it), for the per-event fast path. */
extern LRO_HIDDEN atomic_int lro_log_level_now;
/* Formats, redacts and logs one line of lro-c's own ("lro"). */
LRO_HIDDEN void lro_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* LRO_EVENTS_INT_H */
