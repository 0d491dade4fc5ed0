/* The allocator hook: lro-c's own allocations (not grpc's) go through here,
 * so an application can account for them or fail them on purpose (the
 * allocation-failure tests do). */
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "lro_int.h"

static void *sys_malloc(size_t n, void *ctx)
{
    (void)ctx;
    return malloc(n);
}

static void *sys_realloc(void *p, size_t n, void *ctx)
{
    (void)ctx;
    return realloc(p, n);
}

static void sys_free(void *p, void *ctx)
{
    (void)ctx;
    free(p);
}

static lro_allocator g_alloc = {sys_malloc, sys_realloc, sys_free, NULL};

void lro_set_allocator(const lro_allocator *a)
{
    if (a == NULL || a->malloc_fn == NULL || a->realloc_fn == NULL || a->free_fn == NULL) {
        g_alloc = (lro_allocator){sys_malloc, sys_realloc, sys_free, NULL};
        return;
    }
    g_alloc = *a;
}

void *lro_malloc(size_t n)
{
    return g_alloc.malloc_fn(n ? n : 1, g_alloc.ctx);
}

void *lro_calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        return NULL;
    }
    void *p = lro_malloc(n * size);
    if (p != NULL) {
        memset(p, 0, n * size);
    }
    return p;
}

void *lro_realloc(void *p, size_t n)
{
    return g_alloc.realloc_fn(p, n ? n : 1, g_alloc.ctx);
}

void lro_free(void *p)
{
    if (p != NULL) {
        g_alloc.free_fn(p, g_alloc.ctx);
    }
}

void *lro_memdup(const void *p, size_t n)
{
    void *q = lro_malloc(n);
    if (q != NULL && n > 0) {
        memcpy(q, p, n);
    }
    return q;
}

char *lro_strndup(const char *s, size_t n)
{
    char *q = lro_malloc(n + 1);
    if (q != NULL) {
        memcpy(q, s, n);
        q[n] = '\0';
    }
    return q;
}

char *lro_strdup(const char *s)
{
    return lro_strndup(s, strlen(s));
}

static void *pb_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return lro_malloc(n);
}

static void pb_free(void *ctx, void *p)
{
    (void)ctx;
    lro_free(p);
}

static ProtobufCAllocator g_pb_alloc = {pb_alloc, pb_free, NULL};

ProtobufCAllocator *lro_pb_allocator(void)
{
    return &g_pb_alloc;
}

void lro_free_list(void *const *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lro_free(p[i]);
    }
}
