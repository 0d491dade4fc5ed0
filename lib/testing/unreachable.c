/* Unreachable locations per parent: lets tests (and users of the test
 * double) exercise ListOperations' return_partial_success / unreachable. */
#include <string.h>

#include "server_int.h"

static void entry_free(srv_unreachable *u)
{
    for (size_t i = 0; i < u->n; i++) {
        lro_free(u->locations[i]);
    }
    lro_free(u->locations);
    lro_free(u->parent);
    lro_free(u);
}

const srv_unreachable *srv_unreachable_find(lro_test_server *s, const char *parent)
{
    for (srv_unreachable *u = s->unreachable; u != NULL; u = u->next) {
        if (strcmp(u->parent, parent) == 0) {
            return u;
        }
    }
    return NULL;
}

void srv_unreachable_free(lro_test_server *s)
{
    for (srv_unreachable *u = s->unreachable, *next; u != NULL; u = next) {
        next = u->next;
        entry_free(u);
    }
    s->unreachable = NULL;
}

int lro_test_server_set_unreachable(lro_test_server *s, const char *parent,
                                    const char *const *locations, size_t n)
{
    if (s == NULL || lro_check_name(parent) != LRO_OK || (n > 0 && locations == NULL) ||
        n > 1000) {
        return LRO_ERR_INVALID_ARG;
    }
    srv_unreachable *nu = NULL;
    if (n > 0) {
        nu = lro_calloc(1, sizeof *nu);
        if (nu == NULL || (nu->parent = lro_strdup(parent)) == NULL ||
            (nu->locations = lro_calloc(n, sizeof *nu->locations)) == NULL) {
            if (nu != NULL) {
                entry_free(nu);
            }
            return LRO_ERR_NOMEM;
        }
        for (; nu->n < n; nu->n++) {
            if (locations[nu->n] == NULL || lro_check_name(locations[nu->n]) != LRO_OK) {
                entry_free(nu);
                return LRO_ERR_INVALID_ARG;
            }
            if ((nu->locations[nu->n] = lro_strdup(locations[nu->n])) == NULL) {
                entry_free(nu);
                return LRO_ERR_NOMEM;
            }
        }
    }
    pthread_mutex_lock(&s->mu);
    srv_unreachable **pp = &s->unreachable;
    while (*pp != NULL && strcmp((*pp)->parent, parent) != 0) {
        pp = &(*pp)->next;
    }
    srv_unreachable *old = *pp;
    if (old != NULL) {
        *pp = old->next;
    }
    if (nu != NULL) {
        nu->next = s->unreachable;
        s->unreachable = nu;
    }
    pthread_mutex_unlock(&s->mu);
    if (old != NULL) {
        entry_free(old);
    }
    return LRO_OK;
}
