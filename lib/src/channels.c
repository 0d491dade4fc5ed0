/* The client's channels: a few for ordinary calls, and as many as needed for
 * held calls (WaitOperation), each kept under the peer's stream limit.
 *
 * Why: an HTTP/2 connection carries at most SETTINGS_MAX_CONCURRENT_STREAMS
 * calls at once (Google's front ends and many proxies: 100); calls beyond
 * that queue inside grpc with no signal. A WaitOperation is held by the
 * server for up to its timeout, so a client awaiting many operations fills
 * every stream of its connection with held calls, and its ordinary Gets wait
 * behind them for seconds. Held calls therefore never share a connection
 * with short calls, and each held-call channel carries at most `held_budget`
 * of them (below the limit, so a proxy's own streams and a Wait in its last
 * moments never make a new one queue); a new channel is opened when all are
 * full. grpc core does not expose the peer's SETTINGS, so the limit is an
 * option (default 100).
 *
 * Each channel gets a distinct integer argument: grpc shares one subchannel,
 * hence one connection, between channels with equal arguments. Every channel
 * reconnects and backs off on its own (grpc does that per channel). All of
 * them complete onto the client's one completion queue, so the I/O thread
 * and loop mode do not change.
 *
 * Everything here runs with c->mu held, except open (before the I/O thread
 * starts) and close (after it ended). */
#include <string.h>

#include "client_int.h"

#define ARG_CHANNEL_INDEX "lro.channel_index"
#define HELD_INDEX_BASE   1000

static const char *const k_methods[LRO_K_COUNT] = {
    "/google.longrunning.Operations/GetOperation",
    "/google.longrunning.Operations/ListOperations",
    "/google.longrunning.Operations/CancelOperation",
    "/google.longrunning.Operations/DeleteOperation",
    "/google.longrunning.Operations/WaitOperation",
};

/* Creates channel number `index` into ch. */
static int channel_init(lro_channel_pool *p, lro_channel *ch, int index)
{
    p->args[p->nargs].type = GRPC_ARG_INTEGER;
    p->args[p->nargs].key = (char *)ARG_CHANNEL_INDEX;
    p->args[p->nargs].value.integer = index;
    grpc_channel_args cargs = {p->nargs + 1, p->args};
    ch->ch = grpc_channel_create(p->target, p->creds, &cargs);
    if (ch->ch == NULL) {
        return LRO_ERR_INTERNAL;
    }
    for (int k = 0; k < LRO_K_COUNT; k++) {
        ch->methods[k] = grpc_channel_register_call(ch->ch, k_methods[k], NULL, NULL);
    }
    ch->held = 0;
    ch->index = index;
    return LRO_OK;
}

/* A copy of the caller's arguments with one free slot at the end for the
 * channel index (string values duplicated: the caller's are on its stack). */
static int copy_args(lro_channel_pool *p, const grpc_channel_args *args)
{
    p->args = lro_calloc(args->num_args + 1, sizeof *p->args);
    if (p->args == NULL) {
        return LRO_ERR_NOMEM;
    }
    for (size_t i = 0; i < args->num_args; i++) {
        p->args[i] = args->args[i];
        if (args->args[i].type == GRPC_ARG_STRING) {
            p->args[i].value.string = lro_strdup(args->args[i].value.string);
            if (p->args[i].value.string == NULL) {
                p->nargs = i;
                return LRO_ERR_NOMEM;
            }
        } else if (args->args[i].type == GRPC_ARG_POINTER) {
            return LRO_ERR_INTERNAL; /* not used: would need its vtable copy */
        }
        p->nargs = i + 1;
    }
    return LRO_OK;
}

int lro_pool_open(lro_client *c, const char *target, grpc_channel_credentials *creds,
                  const grpc_channel_args *args, int n_unary, int max_streams)
{
    lro_channel_pool *p = &c->pool;
    p->creds = creds; /* ours from now on, whatever happens */
    p->target = lro_strdup(target);
    int rc = p->target != NULL ? copy_args(p, args) : LRO_ERR_NOMEM;
    if (rc == LRO_OK) {
        p->unary = lro_calloc((size_t)n_unary, sizeof *p->unary);
        rc = p->unary != NULL ? LRO_OK : LRO_ERR_NOMEM;
    }
    for (int i = 0; rc == LRO_OK && i < n_unary; i++) {
        rc = channel_init(p, &p->unary[i], i);
        if (rc == LRO_OK) {
            p->n_unary = i + 1;
        }
    }
    /* Below the peer's limit: room for the streams a proxy or a Wait in its
     * last moments may still take. */
    int margin = max_streams / 10 > 0 ? max_streams / 10 : 1;
    p->held_budget = max_streams - margin > 0 ? max_streams - margin : 1;
    p->max_held_channels = LRO_MAX_HELD_CHANNELS;
    return rc;
}

void lro_pool_close(lro_client *c)
{
    lro_channel_pool *p = &c->pool;
    for (int i = 0; i < p->n_unary; i++) {
        grpc_channel_destroy(p->unary[i].ch);
    }
    for (int i = 0; i < p->n_held; i++) {
        grpc_channel_destroy(p->held[i]->ch);
        lro_free(p->held[i]);
    }
    lro_free(p->unary);
    lro_free(p->held);
    if (p->creds != NULL) {
        grpc_channel_credentials_release(p->creds);
    }
    for (size_t i = 0; i < p->nargs; i++) {
        if (p->args[i].type == GRPC_ARG_STRING) {
            lro_free(p->args[i].value.string);
        }
    }
    lro_free(p->args);
    lro_free(p->target);
    memset(p, 0, sizeof *p);
}

/* A held-call channel with room, opening one when every one is full; the
 * least loaded one when no more may be opened (or memory ran out). */
static lro_channel *pick_held_locked(lro_client *c, lro_channel_pool *p)
{
    lro_channel *least = NULL;
    for (int i = 0; i < p->n_held; i++) {
        lro_channel *ch = p->held[i];
        if (ch->held < p->held_budget) {
            return ch;
        }
        if (least == NULL || ch->held < least->held) {
            least = ch;
        }
    }
    if (p->n_held < p->max_held_channels) {
        if (p->n_held == p->cap_held) {
            int cap = p->cap_held ? p->cap_held * 2 : 4;
            lro_channel **v = lro_realloc(p->held, (size_t)cap * sizeof *v);
            if (v == NULL) {
                return least;
            }
            p->held = v;
            p->cap_held = cap;
        }
        lro_channel *ch = lro_calloc(1, sizeof *ch);
        if (ch != NULL && channel_init(p, ch, HELD_INDEX_BASE + p->n_held) == LRO_OK) {
            p->held[p->n_held++] = ch;
            lro_events_watch_channel_locked(c, ch->ch, ch->index); /* no-op without events */
            return ch;
        }
        lro_free(ch);
    }
    return least;
}

lro_channel *lro_pool_pick_locked(lro_client *c, lro_kind kind)
{
    lro_channel_pool *p = &c->pool;
    if (kind == LRO_K_WAIT) {
        lro_channel *ch = pick_held_locked(c, p);
        if (ch != NULL) {
            ch->held++;
            return ch;
        }
        /* No held-call channel at all (out of memory): share a short one. */
    }
    if (p->n_unary == 1) {
        return &p->unary[0];
    }
    return &p->unary[p->rr++ % (unsigned)p->n_unary];
}

void lro_pool_release_locked(lro_client *c, lro_channel *ch)
{
    (void)c;
    if (ch->index >= HELD_INDEX_BASE) {
        ch->held--;
    }
}

size_t lro_client_channels(const lro_client *c)
{
    if (c == NULL) {
        return 0;
    }
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    size_t n = (size_t)(c->pool.n_unary + c->pool.n_held);
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
    return n;
}
