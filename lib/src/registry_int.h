/*
 * registry_int.h - private pieces of the type registry (registry.c: the
 * registry itself; registry_load.c: descriptor sets to protobuf-c
 * descriptors; registry_default.c: proto2 default values). Not ABI.
 */
#ifndef LRO_REGISTRY_INT_H
#define LRO_REGISTRY_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "json_int.h"
#include "lro/registry.h"

#define MAX_NESTING      32    /* message declared inside messages */
#define MAX_NAME         1024  /* bytes of a full name or json_name */
#define MAX_MEMBERS      65535 /* fields per message, values per enum */
#define MAX_FIELD_NUMBER 536870911
#define MAX_TYPES        1000000 /* messages + enums in one registry */
#define MAX_LOAD_MEMBERS 1000000 /* fields + enum values in one load: bounds memory */

/* Marks descriptors built here (reserved1): the JSON writer then takes the
 * field's json_name from its reserved2. Nothing else can point at it. */
LRO_HIDDEN extern const char lro_reg_dyn_tag[];

enum { K_MESSAGE = 1, K_ENUM = 2, K_FILE = 3 };

typedef struct entry {
    const char *name; /* full name without the leading '.'; files: "/" + file name */
    int kind;
    const void *p; /* ProtobufCMessageDescriptor / ProtobufCEnumDescriptor / NULL */
} entry;

typedef struct table {
    entry *v;
    size_t n, cap; /* cap: 0 or a power of two */
} table;

typedef struct load_block {
    lro_arena arena;
    struct load_block *next;
} load_block;

struct lro_registry {
    pthread_mutex_t mu;      /* refs, tab, loads, n_messages */
    pthread_mutex_t load_mu; /* one load at a time */
    int refs;
    table tab;
    load_block *loads;
    size_t n_messages, n_types;
};

/* Open-addressing name table (registry.c). The caller checks for
 * duplicates before putting. */
LRO_HIDDEN const entry *lro_reg_tab_find(const table *t, const char *name);
LRO_HIDDEN int lro_reg_tab_put(table *t, const char *name, int kind, const void *p);

/* ---- A load in progress (registry_load.c) ---------------------------------- */

typedef struct smsg {
    const Google__Protobuf__DescriptorProto *dp;
    const char *file, *pkg;
    int proto3;
    ProtobufCMessageDescriptor *d;
} smsg;

typedef struct senum {
    const Google__Protobuf__EnumDescriptorProto *ep;
    const char *file, *pkg;
    ProtobufCEnumDescriptor *d;
} senum;

typedef struct loader {
    lro_registry *r;
    const char *source;
    lro_arena *arena;
    table names; /* this load's files and types */
    smsg *msgs;
    size_t n_msgs, cap_msgs;
    senum *enums;
    size_t n_enums, cap_enums;
    size_t members; /* fields and enum values counted so far */
    int rc;
    char err[768];
} loader;

static inline int fail(loader *ld, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error: "<source>: <message>". Returns rc. */
static inline int fail(loader *ld, int rc, const char *fmt, ...)
{
    if (ld->rc == LRO_OK) {
        ld->rc = rc;
        int n = snprintf(ld->err, sizeof ld->err, "%s: ", ld->source);
        if (n < 0 || (size_t)n >= sizeof ld->err) {
            n = 0;
        }
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err + n, sizeof ld->err - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static inline int nomem(loader *ld)
{
    return fail(ld, LRO_ERR_NOMEM, "out of memory");
}

static inline void *aalloc(loader *ld, size_t n)
{
    void *p = lro_arena_alloc(ld->arena, n ? n : 1);
    if (p == NULL) {
        nomem(ld);
    } else {
        memset(p, 0, n ? n : 1);
    }
    return p;
}

static inline char *astr(loader *ld, const char *s)
{
    char *p = lro_arena_strndup(ld->arena, s, strlen(s));
    if (p == NULL) {
        nomem(ld);
    }
    return p;
}

/* "a" + "." + "b" (or "b" alone when a is empty), in the arena. */
static inline char *join(loader *ld, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 1 > MAX_NAME) {
        fail(ld, LRO_ERR_INVALID_ARG, "name '%.64s...' is longer than %d bytes", a, MAX_NAME);
        return NULL;
    }
    char *p = lro_arena_alloc(ld->arena, la + lb + 2);
    if (p == NULL) {
        nomem(ld);
        return NULL;
    }
    if (la == 0) {
        memcpy(p, b, lb + 1);
    } else {
        memcpy(p, a, la);
        p[la] = '.';
        memcpy(p + la + 1, b, lb + 1);
    }
    return p;
}


/* Is this name taken, by this load or the registry? (registry_load.c) */
LRO_HIDDEN const entry *lro_reg_lookup(loader *ld, const char *name);
/* Passes 1-3 over a decoded set into ld (registry_load.c). */
LRO_HIDDEN int lro_reg_load_set(loader *ld, const Google__Protobuf__FileDescriptorSet *set);
/* The default of proto2 field f (fp in the set), in the load's arena; NULL
 * when it has none; *bad when the text is not a value of f's type
 * (registry_default.c). */
LRO_HIDDEN const void *lro_reg_parse_default(loader *ld,
                                             const Google__Protobuf__FieldDescriptorProto *fp,
                                             const ProtobufCFieldDescriptor *f, int *bad);

#endif /* LRO_REGISTRY_INT_H */
