/* The pager: page-by-page listing (async) and a blocking row iterator on
 * top. It only ever advances on a page it received, so no page is fetched
 * twice and a failed fetch can simply be asked for again. */
#include <string.h>

#include "call_int.h"

struct lro_pager {
    atomic_int refs; /* the user's + one per fetch in flight */
    lro_client *client;
    pthread_mutex_t mu;
    char *parent;
    lro_list_args args;    /* filter in the arena; page_token unused */
    lro_call_options opts; /* deep copy in the arena */
    lro_arena arena;
    char *token;           /* next page's token; "" = first page */
    int done;
    lro_future *inflight;  /* fetch in flight (mu) */
    lro_future *last;      /* last finished fetch (status) */
    lro_future *cur;       /* step(): page being iterated */
    size_t idx;
    char **unreachable;
    size_t n_unreachable;
};

static void pager_unref(lro_pager *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1) {
        return;
    }
    lro_future_unref(p->last);
    lro_future_unref(p->cur);
    for (size_t i = 0; i < p->n_unreachable; i++) {
        lro_free(p->unreachable[i]);
    }
    lro_free(p->unreachable);
    lro_free(p->token);
    lro_free(p->parent);
    lro_arena_free(&p->arena);
    pthread_mutex_destroy(&p->mu);
    lro_client_unref_mem(p->client);
    lro_free(p);
}

int lro_pager_create(lro_client *c, const char *parent, const lro_list_args *args,
                     const lro_call_options *opts, lro_pager **out)
{
    lro_list_args a;
    int rc = lro_call_begin(c, parent);
    if (rc == LRO_OK && out == NULL) {
        rc = lro_fail(LRO_ERR_INVALID_ARG, "out is NULL");
    }
    rc = rc != LRO_OK ? rc : lro_list_args_normalize(args, &a); /* abi.c */
    if (rc != LRO_OK) {
        return rc;
    }
    lro_pager *p = lro_calloc(1, sizeof *p);
    if (p == NULL) {
        return LRO_ERR_NOMEM;
    }
    lro_arena_init(&p->arena, NULL, 0);
    p->parent = lro_strdup(parent);
    p->token = lro_strdup(a.page_token ? a.page_token : "");
    rc = (p->parent && p->token) ? LRO_OK : LRO_ERR_NOMEM;
    if (rc == LRO_OK && a.filter != NULL) {
        a.filter = lro_arena_strndup(&p->arena, a.filter, strlen(a.filter));
        rc = a.filter ? LRO_OK : LRO_ERR_NOMEM;
    }
    if (rc == LRO_OK) {
        rc = lro_call_options_copy(opts, &p->opts, &p->arena);
    }
    if (rc != LRO_OK) {
        lro_free(p->parent);
        lro_free(p->token);
        lro_arena_free(&p->arena);
        lro_free(p);
        return rc;
    }
    a.page_token = NULL;
    p->args = a;
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->mu, NULL);
    p->client = c;
    lro_client_ref_mem(c);
    *out = p;
    return LRO_OK;
}

void lro_pager_destroy(lro_pager *p)
{
    if (p == NULL) {
        return;
    }
    lro_future_cancel_in_slot(&p->mu, &p->inflight);
    pager_unref(p);
}

/* Completion hook of a page fetch (before the user's callback runs). */
static void page_done(lro_future *f)
{
    lro_pager *p = lro_call_owner_data(f);
    pthread_mutex_lock(&p->mu);
    p->inflight = NULL;
    lro_future_unref(p->last);
    p->last = lro_future_ref(f);
    if (f->result == LRO_OK) {
        const lro_page *pg = (const lro_page *)f->msg;
        const char *next = lro_page_next_token(pg);
        char *t = lro_strdup(next);
        size_t nu = lro_page_unreachable_count(pg);
        char **u = nu ? lro_realloc(p->unreachable, (p->n_unreachable + nu) * sizeof *u) : NULL;
        if (t == NULL || (nu && u == NULL)) {
            /* Cannot record where we are: report the page as failed so the
             * caller retries it, rather than skip or repeat pages. */
            lro_free(t);
            lro_future_set_local(f, LRO_ERR_NOMEM, NULL);
            f->msg = NULL;
        } else {
            lro_free(p->token);
            p->token = t;
            p->done = next[0] == '\0';
            if (nu) {
                p->unreachable = u;
                for (size_t i = 0; i < nu; i++) {
                    char *s = lro_strdup(lro_page_unreachable(pg, i));
                    if (s != NULL) {
                        p->unreachable[p->n_unreachable++] = s;
                    }
                }
            }
        }
    }
    pthread_mutex_unlock(&p->mu);
    /* The fetch's reference on the pager is dropped by the future's owner
     * release below (pager_unref is safe here: the future is still ours). */
    pager_unref(p);
}

int lro_pager_next_page(lro_pager *p, lro_done_cb cb, void *user_data, lro_free_fn ud_free,
                        lro_future **out)
{
    if (p == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&p->mu);
    if (p->done) {
        pthread_mutex_unlock(&p->mu);
        return LRO_ERR_END;
    }
    if (p->inflight != NULL) {
        pthread_mutex_unlock(&p->mu);
        return LRO_ERR_STATE;
    }
    lro_list_args a = p->args;
    a.page_token = p->token;
    atomic_fetch_add(&p->refs, 1);
    lro_call_owner owner = {page_done, p, &p->inflight, NULL};
    /* p->mu is held so the token cannot change under the request; the hook
     * takes p->mu, but it can only run after the batch completes, and
     * a call never completes synchronously. */
    int rc = lro_call_start_list(p->client, p->parent, &a, &p->opts, cb, user_data, ud_free, out,
                                 &owner);
    pthread_mutex_unlock(&p->mu);
    if (rc != LRO_OK) {
        atomic_fetch_sub(&p->refs, 1);
    }
    return rc;
}

const char *lro_pager_page_token(const lro_pager *p)
{
    if (p == NULL || p->done) {
        return NULL;
    }
    return p->token;
}

int lro_pager_done(const lro_pager *p)
{
    return p != NULL && p->done;
}

int lro_pager_step(lro_pager *p, int64_t timeout_ms, const lro_operation **op)
{
    if (p == NULL || op == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    if (lro_on_io_thread(p->client)) {
        return LRO_ERR_STATE;
    }
    for (;;) {
        if (p->cur != NULL) {
            const lro_page *pg = lro_future_page(p->cur);
            if (pg != NULL && p->idx < lro_page_count(pg)) {
                *op = lro_page_operation(pg, p->idx++);
                return LRO_OK;
            }
            /* Page used up: the next one, unless it was the last. */
            if (p->done) {
                return LRO_ERR_END;
            }
        } else if (p->done) {
            return LRO_ERR_END;
        }
        pthread_mutex_lock(&p->mu);
        lro_future *f = p->inflight ? lro_future_ref(p->inflight) : NULL;
        pthread_mutex_unlock(&p->mu);
        if (f == NULL) {
            int rc = lro_pager_next_page(p, NULL, NULL, NULL, &f);
            if (rc != LRO_OK) {
                return rc;
            }
        }
        int rc = lro_future_wait(f, timeout_ms);
        if (rc != LRO_OK) {
            lro_future_unref(f);
            return rc; /* the fetch stays in flight; the next step keeps waiting */
        }
        rc = lro_future_result(f);
        if (rc != LRO_OK) {
            lro_future_unref(f);
            return rc;
        }
        lro_future_unref(p->cur);
        p->cur = f;
        p->idx = 0;
    }
}

const lro_status *lro_pager_status(const lro_pager *p)
{
    return p != NULL && p->last != NULL ? lro_future_status(p->last) : NULL;
}

size_t lro_pager_unreachable_count(const lro_pager *p)
{
    return p ? p->n_unreachable : 0;
}

const char *lro_pager_unreachable(const lro_pager *p, size_t i)
{
    return p != NULL && i < p->n_unreachable ? p->unreachable[i] : NULL;
}
