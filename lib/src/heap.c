/* The indexed min-heap behind every timer of lro-c: the client's (retry
 * backoff, poll delays, await deadlines) and the embedded server's (held
 * Waits, latency faults, scheduled completions). Each node keeps its own
 * position so that a timer cancelled early leaves in O(log n); nodes are
 * embedded in what they time, so arming a timer allocates nothing but the
 * occasional growth of the pointer array. Not thread-safe: each owner
 * guards its heap with its own lock. */
#include "lro_int.h"

static void place(lro_heap *h, size_t i, lro_heap_node *n)
{
    h->v[i] = n;
    n->index = i;
}

static void sift_up(lro_heap *h, size_t i)
{
    lro_heap_node *n = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p]->key <= n->key) {
            break;
        }
        place(h, i, h->v[p]);
        i = p;
    }
    place(h, i, n);
}

static void sift_down(lro_heap *h, size_t i)
{
    lro_heap_node *n = h->v[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int64_t best = n->key;
        if (l < h->n && h->v[l]->key < best) {
            m = l;
            best = h->v[l]->key;
        }
        if (l + 1 < h->n && h->v[l + 1]->key < best) {
            m = l + 1;
        }
        if (m == i) {
            break;
        }
        place(h, i, h->v[m]);
        i = m;
    }
    place(h, i, n);
}

int lro_heap_push(lro_heap *h, lro_heap_node *n)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        lro_heap_node **v = lro_realloc(h->v, cap * sizeof *v);
        if (v == NULL) {
            n->index = SIZE_MAX;
            return LRO_ERR_NOMEM;
        }
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n] = n;
    n->index = h->n++;
    sift_up(h, n->index);
    return LRO_OK;
}

int lro_heap_remove(lro_heap *h, lro_heap_node *n)
{
    size_t i = n->index;
    if (i == SIZE_MAX || i >= h->n || h->v[i] != n) {
        return 0;
    }
    n->index = SIZE_MAX;
    h->n--;
    if (i != h->n) {
        place(h, i, h->v[h->n]);
        sift_down(h, i);
        sift_up(h, h->v[i]->index);
    }
    return 1;
}

lro_heap_node *lro_heap_pop_due(lro_heap *h, int64_t now)
{
    if (h->n == 0 || h->v[0]->key > now) {
        return NULL;
    }
    lro_heap_node *n = h->v[0];
    lro_heap_remove(h, n);
    return n;
}

void lro_heap_free(lro_heap *h)
{
    lro_free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
