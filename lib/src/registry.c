/* The type registry (lro/registry.h): protobuf-c descriptors built at run
 * time from binary FileDescriptorSets.
 *
 * A load runs in three passes over the decoded set, all into one arena that
 * the registry keeps when the load succeeds (and frees when it fails, so a
 * load is all or nothing):
 *   1. collect: every message and enum gets its full name, is checked for
 *      duplicates, and gets a zeroed descriptor, so that pass 3 can point at
 *      any of them whatever the declaration order (types may refer to each
 *      other in cycles: Struct -> Value -> Struct);
 *   2. enums: values sorted by number (aliases: the first declared wins, as
 *      C++'s FindValueByNumber), ranges, name index;
 *   3. messages: a synthetic C struct layout (what protoc-c would generate),
 *      field descriptors sorted by number with their ranges and name index,
 *      references resolved, defaults parsed.
 * Readers only ever see complete loads: the shared name table is updated
 * under the lock at the very end. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
static const char k_dyn_tag[] = "lro-registry";

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

/* ---- Name table (open addressing) -------------------------------------- */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

static const entry *tab_find(const table *t, const char *name)
{
    if (t->cap == 0) {
        return NULL;
    }
    for (size_t i = hash_name(name) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (t->v[i].name == NULL) {
            return NULL;
        }
        if (strcmp(t->v[i].name, name) == 0) {
            return &t->v[i];
        }
    }
}

static int tab_put(table *t, const char *name, int kind, const void *p)
{
    if (2 * (t->n + 1) > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        entry *v = lro_calloc(cap, sizeof *v);
        if (v == NULL) {
            return LRO_ERR_NOMEM;
        }
        for (size_t i = 0; i < t->cap; i++) {
            if (t->v[i].name != NULL) {
                size_t j = hash_name(t->v[i].name) & (cap - 1);
                while (v[j].name != NULL) {
                    j = (j + 1) & (cap - 1);
                }
                v[j] = t->v[i];
            }
        }
        lro_free(t->v);
        t->v = v;
        t->cap = cap;
    }
    size_t i = hash_name(name) & (t->cap - 1);
    while (t->v[i].name != NULL) {
        i = (i + 1) & (t->cap - 1);
    }
    t->v[i].name = name;
    t->v[i].kind = kind;
    t->v[i].p = p;
    t->n++;
    return LRO_OK;
}

/* ---- The loader's state -------------------------------------------------- */

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

static int fail(loader *ld, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records the first error: "<source>: <message>". Returns rc. */
static int fail(loader *ld, int rc, const char *fmt, ...)
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

static int nomem(loader *ld)
{
    return fail(ld, LRO_ERR_NOMEM, "out of memory");
}

static void *aalloc(loader *ld, size_t n)
{
    void *p = lro_arena_alloc(ld->arena, n ? n : 1);
    if (p == NULL) {
        nomem(ld);
    } else {
        memset(p, 0, n ? n : 1);
    }
    return p;
}

static char *astr(loader *ld, const char *s)
{
    char *p = lro_arena_strndup(ld->arena, s, strlen(s));
    if (p == NULL) {
        nomem(ld);
    }
    return p;
}

/* "a" + "." + "b" (or "b" alone when a is empty), in the arena. */
static char *join(loader *ld, const char *a, const char *b)
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

/* [A-Za-z_][A-Za-z0-9_]*, as protoc requires of every name. */
static int is_ident(const char *s)
{
    if (s == NULL || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) {
        return 0;
    }
    size_t n = 0;
    for (; *s; s++, n++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_')) {
            return 0;
        }
    }
    return n <= MAX_NAME;
}

/* Identifiers separated by single dots; empty is fine (no package). */
static int is_package(const char *s)
{
    if (s == NULL || *s == '\0') {
        return 1;
    }
    if (strlen(s) > MAX_NAME) {
        return 0;
    }
    char buf[MAX_NAME + 1];
    strcpy(buf, s);
    for (char *save = NULL, *tok = buf;; tok = NULL) {
        char *part = strtok_r(tok, ".", &save);
        if (part == NULL) {
            break;
        }
        if (!is_ident(part)) {
            return 0;
        }
    }
    return s[0] != '.' && s[strlen(s) - 1] != '.' && strstr(s, "..") == NULL;
}

/* A printable rendering of an untrusted name for error messages. */
static const char *shown(const char *s, char *buf, size_t cap)
{
    size_t o = 0;
    if (s == NULL) {
        return "(none)";
    }
    for (; *s && o + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f) {
            buf[o++] = (char)c;
        } else {
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
        }
    }
    if (*s) {
        snprintf(buf + o, cap - o, "...");
    } else {
        buf[o] = '\0';
    }
    return buf;
}

/* Is this name taken, by this load or the registry? Returns the entry. */
static const entry *lookup(loader *ld, const char *name)
{
    const entry *e = tab_find(&ld->names, name);
    if (e == NULL) {
        pthread_mutex_lock(&ld->r->mu);
        e = tab_find(&ld->r->tab, name);
        pthread_mutex_unlock(&ld->r->mu);
    }
    return e;
}

/* ---- Pass 1: collect ------------------------------------------------------ */

/* Counts n more fields or enum values against MAX_LOAD_MEMBERS, before
 * anything is built for them. */
static int count_members(loader *ld, size_t n)
{
    ld->members += n;
    if (ld->members > MAX_LOAD_MEMBERS) {
        return fail(ld, LRO_ERR_INVALID_ARG, "more than %d fields and enum values in one set",
                    MAX_LOAD_MEMBERS);
    }
    return LRO_OK;
}

static int add_name(loader *ld, const char *file, const char *full, int kind, const void *p)
{
    char b1[96];
    const entry *e = lookup(ld, full);
    if (e != NULL) {
        return fail(ld, LRO_ERR_INVALID_ARG,
                    "%s: '%s' is defined twice (another file of the "
                    "set or an earlier load defines it)",
                    shown(file, b1, sizeof b1), full);
    }
    if (ld->r->n_types + ld->names.n >= MAX_TYPES) {
        return fail(ld, LRO_ERR_INVALID_ARG, "more than %d types", MAX_TYPES);
    }
    return tab_put(&ld->names, full, kind, p) == LRO_OK ? LRO_OK : nomem(ld);
}

static int collect_enum(loader *ld, const char *file, const char *pkg, const char *scope,
                        const Google__Protobuf__EnumDescriptorProto *ep)
{
    char b1[96], b2[96];
    if (ep == NULL || !is_ident(ep->name)) {
        return fail(ld, LRO_ERR_INVALID_ARG, "%s: enum '%s' in '%s' has an invalid name",
                    shown(file, b1, sizeof b1), shown(ep ? ep->name : NULL, b2, sizeof b2), scope);
    }
    if (count_members(ld, ep->n_value) != LRO_OK) {
        return ld->rc;
    }
    char *full = join(ld, scope, ep->name);
    ProtobufCEnumDescriptor *d = aalloc(ld, sizeof *d);
    if (full == NULL || d == NULL || add_name(ld, file, full, K_ENUM, d) != LRO_OK) {
        return ld->rc;
    }
    d->name = full;
    if (ld->n_enums == ld->cap_enums) {
        size_t cap = ld->cap_enums ? 2 * ld->cap_enums : 32;
        senum *v = lro_realloc(ld->enums, cap * sizeof *v);
        if (v == NULL) {
            return nomem(ld);
        }
        ld->enums = v;
        ld->cap_enums = cap;
    }
    ld->enums[ld->n_enums++] = (senum){ep, file, pkg, d};
    return LRO_OK;
}

static int collect_msg(loader *ld, const char *file, const char *pkg, int proto3, const char *scope,
                       const Google__Protobuf__DescriptorProto *dp, int depth)
{
    char b1[96], b2[96];
    if (dp == NULL || !is_ident(dp->name)) {
        return fail(ld, LRO_ERR_INVALID_ARG, "%s: message '%s' in '%s' has an invalid name",
                    shown(file, b1, sizeof b1), shown(dp ? dp->name : NULL, b2, sizeof b2), scope);
    }
    if (depth > MAX_NESTING) {
        return fail(ld, LRO_ERR_INVALID_ARG, "%s: messages nested more than %d deep (in '%s')",
                    shown(file, b1, sizeof b1), MAX_NESTING, scope);
    }
    if (count_members(ld, dp->n_field) != LRO_OK) {
        return ld->rc;
    }
    char *full = join(ld, scope, dp->name);
    ProtobufCMessageDescriptor *d = aalloc(ld, sizeof *d);
    if (full == NULL || d == NULL || add_name(ld, file, full, K_MESSAGE, d) != LRO_OK) {
        return ld->rc;
    }
    d->name = full;
    if (ld->n_msgs == ld->cap_msgs) {
        size_t cap = ld->cap_msgs ? 2 * ld->cap_msgs : 64;
        smsg *v = lro_realloc(ld->msgs, cap * sizeof *v);
        if (v == NULL) {
            return nomem(ld);
        }
        ld->msgs = v;
        ld->cap_msgs = cap;
    }
    ld->msgs[ld->n_msgs++] = (smsg){dp, file, pkg, proto3, d};
    for (size_t i = 0; i < dp->n_nested_type && ld->rc == LRO_OK; i++) {
        collect_msg(ld, file, pkg, proto3, full, dp->nested_type[i], depth + 1);
    }
    for (size_t i = 0; i < dp->n_enum_type && ld->rc == LRO_OK; i++) {
        collect_enum(ld, file, pkg, full, dp->enum_type[i]);
    }
    return ld->rc;
}

static int collect_file(loader *ld, const Google__Protobuf__FileDescriptorProto *fp)
{
    char b1[96], b2[96];
    if (fp == NULL || fp->name == NULL || fp->name[0] == '\0' || strlen(fp->name) > MAX_NAME) {
        return fail(ld, LRO_ERR_INVALID_ARG, "a file has no name (or one over %d bytes)", MAX_NAME);
    }
    const char *file = fp->name;
    char *key = lro_arena_alloc(ld->arena, strlen(file) + 2);
    if (key == NULL) {
        return nomem(ld);
    }
    key[0] = '/';
    strcpy(key + 1, file);
    if (lookup(ld, key) != NULL) {
        return LRO_OK; /* loaded before (shared import): skipped */
    }
    if (tab_put(&ld->names, key, K_FILE, NULL) != LRO_OK) {
        return nomem(ld);
    }
    int proto3 = 0;
    if (fp->syntax != NULL && strcmp(fp->syntax, "proto3") == 0) {
        proto3 = 1;
    } else if (fp->syntax != NULL && strcmp(fp->syntax, "editions") == 0) {
        return fail(ld, LRO_ERR_UNSUPPORTED, "%s: editions syntax is not supported",
                    shown(file, b1, sizeof b1));
    } else if (fp->syntax != NULL && fp->syntax[0] != '\0' && strcmp(fp->syntax, "proto2") != 0) {
        return fail(ld, LRO_ERR_INVALID_ARG, "%s: unknown syntax '%s'", shown(file, b1, sizeof b1),
                    shown(fp->syntax, b2, sizeof b2));
    }
    if (!is_package(fp->package)) {
        return fail(ld, LRO_ERR_INVALID_ARG, "%s: invalid package name '%s'",
                    shown(file, b1, sizeof b1), shown(fp->package, b2, sizeof b2));
    }
    const char *pkg = astr(ld, fp->package ? fp->package : "");
    if (pkg == NULL) {
        return ld->rc;
    }
    for (size_t i = 0; i < fp->n_message_type && ld->rc == LRO_OK; i++) {
        collect_msg(ld, file, pkg, proto3, pkg, fp->message_type[i], 1);
    }
    for (size_t i = 0; i < fp->n_enum_type && ld->rc == LRO_OK; i++) {
        collect_enum(ld, file, pkg, pkg, fp->enum_type[i]);
    }
    return ld->rc;
}

/* ---- Pass 2: enums --------------------------------------------------------- */

typedef struct {
    int number;
    unsigned order; /* declaration index */
    const char *name;
} ev;

static int ev_by_number(const void *a, const void *b)
{
    const ev *x = a, *y = b;
    if (x->number != y->number) {
        return x->number < y->number ? -1 : 1;
    }
    return x->order < y->order ? -1 : x->order > y->order;
}

static int vi_by_name(const void *a, const void *b)
{
    return strcmp(((const ProtobufCEnumValueIndex *)a)->name,
                  ((const ProtobufCEnumValueIndex *)b)->name);
}

/* Ranges of consecutive numbers over a sorted array, plus the sentinel
 * {0, n} that protobuf-c's lookup reads as the end of the last range. */
static ProtobufCIntRange *ranges(loader *ld, const int *nums, unsigned n, unsigned *n_ranges)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        if (i == 0 || (int64_t)nums[i] != (int64_t)nums[i - 1] + 1) {
            k++;
        }
    }
    ProtobufCIntRange *r = aalloc(ld, (k + 1) * sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    k = 0;
    for (unsigned i = 0; i < n; i++) {
        if (i == 0 || (int64_t)nums[i] != (int64_t)nums[i - 1] + 1) {
            r[k].start_value = nums[i];
            r[k].orig_index = i;
            k++;
        }
    }
    r[k].start_value = 0;
    r[k].orig_index = n;
    *n_ranges = k;
    return r;
}

static const char *short_of(const char *full)
{
    const char *dot = strrchr(full, '.');
    return dot ? dot + 1 : full;
}

static int build_enum(loader *ld, senum *se)
{
    char b1[96], b2[96];
    const Google__Protobuf__EnumDescriptorProto *ep = se->ep;
    ProtobufCEnumDescriptor *d = se->d;
    if (ep->n_value > MAX_MEMBERS) {
        return fail(ld, LRO_ERR_INVALID_ARG, "%s: enum %s has more than %d values",
                    shown(se->file, b1, sizeof b1), d->name, MAX_MEMBERS);
    }
    unsigned n = (unsigned)ep->n_value;
    ev *v = lro_malloc((n ? n : 1) * sizeof *v);
    if (v == NULL) {
        return nomem(ld);
    }
    for (unsigned i = 0; i < n; i++) {
        const Google__Protobuf__EnumValueDescriptorProto *vp = ep->value[i];
        if (vp == NULL || !is_ident(vp->name) || !vp->has_number) {
            lro_free(v);
            return fail(ld, LRO_ERR_INVALID_ARG,
                        "%s: enum %s: value '%s' has an invalid name "
                        "or no number",
                        shown(se->file, b1, sizeof b1), d->name,
                        shown(vp ? vp->name : NULL, b2, sizeof b2));
        }
        v[i] = (ev){vp->number, i, vp->name};
    }
    qsort(v, n, sizeof *v, ev_by_number);
    ProtobufCEnumValue *vals = aalloc(ld, (n ? n : 1) * sizeof *vals);
    ProtobufCEnumValueIndex *by_name = aalloc(ld, (n ? n : 1) * sizeof *by_name);
    int *nums = lro_malloc((n ? n : 1) * sizeof *nums);
    if (vals == NULL || by_name == NULL || nums == NULL) {
        lro_free(v);
        lro_free(nums);
        return ld->rc ? ld->rc : nomem(ld);
    }
    unsigned k = 0;
    for (unsigned i = 0; i < n && ld->rc == LRO_OK; i++) {
        char *name = astr(ld, v[i].name);
        if (name == NULL) {
            break;
        }
        if (k == 0 || vals[k - 1].value != v[i].number) {
            vals[k] = (ProtobufCEnumValue){name, name, v[i].number};
            nums[k] = v[i].number;
            k++;
        }
        by_name[i] = (ProtobufCEnumValueIndex){name, k - 1};
    }
    lro_free(v);
    if (ld->rc != LRO_OK) {
        lro_free(nums);
        return ld->rc;
    }
    qsort(by_name, n, sizeof *by_name, vi_by_name);
    for (unsigned i = 1; i < n; i++) {
        if (strcmp(by_name[i].name, by_name[i - 1].name) == 0) {
            lro_free(nums);
            return fail(ld, LRO_ERR_INVALID_ARG, "%s: enum %s: value name '%s' used twice",
                        shown(se->file, b1, sizeof b1), d->name, by_name[i].name);
        }
    }
    d->value_ranges = ranges(ld, nums, k, &d->n_value_ranges);
    lro_free(nums);
    d->magic = PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC;
    d->short_name = short_of(d->name);
    d->c_name = d->name;
    d->package_name = se->pkg;
    d->n_values = k;
    /* proto2: a field of this enum without an explicit default starts at
     * the first value declared (protobuf-c has no slot for it but this). */
    int32_t *first = aalloc(ld, sizeof *first);
    if (first != NULL && n > 0) {
        *first = ep->value[0]->number;
    }
    d->reserved1 = first;
    d->values = vals;
    d->n_value_names = n;
    d->values_by_name = by_name;
    return ld->rc;
}

/* ---- Pass 3: messages ------------------------------------------------------- */

static size_t type_size(ProtobufCType t, size_t *align)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM: /* protoc-c forces enums to int size */
        *align = _Alignof(int32_t);
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *align = _Alignof(int64_t);
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        *align = _Alignof(double);
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        *align = _Alignof(protobuf_c_boolean);
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        *align = _Alignof(void *);
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        *align = _Alignof(ProtobufCBinaryData);
        return sizeof(ProtobufCBinaryData);
    }
    *align = 1;
    return 0;
}

static size_t align_up(size_t off, size_t a)
{
    return (off + a - 1) / a * a;
}

/* descriptor.proto's FieldDescriptorProto.Type -> protobuf-c's type; -1 for
 * groups and unknown values. */
static int pc_type(int t)
{
    switch (t) {
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_DOUBLE:
        return PROTOBUF_C_TYPE_DOUBLE;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FLOAT:
        return PROTOBUF_C_TYPE_FLOAT;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT64:
        return PROTOBUF_C_TYPE_INT64;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT64:
        return PROTOBUF_C_TYPE_UINT64;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT32:
        return PROTOBUF_C_TYPE_INT32;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED64:
        return PROTOBUF_C_TYPE_FIXED64;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED32:
        return PROTOBUF_C_TYPE_FIXED32;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BOOL:
        return PROTOBUF_C_TYPE_BOOL;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING:
        return PROTOBUF_C_TYPE_STRING;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE:
        return PROTOBUF_C_TYPE_MESSAGE;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES:
        return PROTOBUF_C_TYPE_BYTES;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT32:
        return PROTOBUF_C_TYPE_UINT32;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM:
        return PROTOBUF_C_TYPE_ENUM;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED32:
        return PROTOBUF_C_TYPE_SFIXED32;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED64:
        return PROTOBUF_C_TYPE_SFIXED64;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT32:
        return PROTOBUF_C_TYPE_SINT32;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT64:
        return PROTOBUF_C_TYPE_SINT64;
    default:
        return -1;
    }
}

static int packable(ProtobufCType t)
{
    return t != PROTOBUF_C_TYPE_STRING && t != PROTOBUF_C_TYPE_BYTES &&
           t != PROTOBUF_C_TYPE_MESSAGE;
}

/* protoc's json_name rule: drop '_', upper-case the character after it. */
static char *lower_camel(loader *ld, const char *name)
{
    char *out = lro_arena_alloc(ld->arena, strlen(name) + 1);
    if (out == NULL) {
        nomem(ld);
        return NULL;
    }
    size_t o = 0;
    int up = 0;
    for (const char *c = name; *c; c++) {
        if (*c == '_') {
            up = 1;
        } else {
            out[o++] = up && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
            up = 0;
        }
    }
    out[o] = '\0';
    return out;
}

/* C escapes of a bytes default (protoc writes \NNN octal, \xHH, \n ...). */
static int unescape(loader *ld, const char *s, ProtobufCBinaryData *out)
{
    uint8_t *p = lro_arena_alloc(ld->arena, strlen(s) + 1);
    size_t n = 0;
    if (p == NULL) {
        return nomem(ld);
    }
    while (*s) {
        if (*s != '\\') {
            p[n++] = (uint8_t)*s++;
            continue;
        }
        s++;
        static const char from[] = "abfnrtv\\'\"?", to[] = "\a\b\f\n\r\t\v\\'\"?";
        const char *k = *s ? strchr(from, *s) : NULL;
        if (k != NULL) {
            p[n++] = (uint8_t)to[k - from];
            s++;
        } else if (*s >= '0' && *s <= '7') {
            unsigned v = 0;
            for (int i = 0; i < 3 && *s >= '0' && *s <= '7'; i++) {
                v = v * 8 + (unsigned)(*s++ - '0');
            }
            p[n++] = (uint8_t)v;
        } else if (*s == 'x' && isxdigit((unsigned char)s[1])) {
            unsigned v = 0;
            s++;
            for (int i = 0; i < 2 && isxdigit((unsigned char)*s); i++, s++) {
                v = v * 16 + (unsigned)(*s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10);
            }
            p[n++] = (uint8_t)v;
        } else {
            return -1;
        }
    }
    out->len = n;
    out->data = p;
    return 0;
}

/* strtod in the "C" locale whatever the application's LC_NUMERIC says
 * (protoc writes "1.5" even where the decimal mark is a comma). */
static locale_t g_c_locale;
static pthread_once_t g_c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
    g_c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static double c_strtod(const char *s, char **end)
{
    pthread_once(&g_c_locale_once, make_c_locale);
    return g_c_locale != (locale_t)0 ? strtod_l(s, end, g_c_locale) : strtod(s, end);
}

/* The default value of a proto2 field from its text in the set; NULL (no
 * error) when it has none. */
static const void *parse_default(loader *ld, const Google__Protobuf__FieldDescriptorProto *fp,
                                 const ProtobufCFieldDescriptor *f, int *bad)
{
    const char *s = fp->default_value;
    char *end = NULL;
    *bad = 0;
    if (s == NULL) {
        if (f->type == PROTOBUF_C_TYPE_ENUM && f->descriptor != NULL) {
            /* proto2: an enum field defaults to the enum's first value. */
            return ((const ProtobufCEnumDescriptor *)f->descriptor)->reserved1;
        }
        return NULL;
    }
    errno = 0;
    if (isspace((unsigned char)s[0]) && f->type != PROTOBUF_C_TYPE_STRING &&
        f->type != PROTOBUF_C_TYPE_BYTES) {
        *bad = 1; /* strto* would skip it; protoc never writes it */
        return NULL;
    }
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        return astr(ld, s);
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = aalloc(ld, sizeof *b);
        if (b != NULL && unescape(ld, s, b) != 0) {
            *bad = ld->rc == LRO_OK;
        }
        return b;
    }
    case PROTOBUF_C_TYPE_BOOL: {
        protobuf_c_boolean *b = aalloc(ld, sizeof *b);
        *bad = strcmp(s, "true") != 0 && strcmp(s, "false") != 0;
        if (b != NULL) {
            *b = strcmp(s, "true") == 0;
        }
        return b;
    }
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double v;
        if (strcmp(s, "inf") == 0) {
            v = INFINITY;
        } else if (strcmp(s, "-inf") == 0) {
            v = -INFINITY;
        } else if (strcmp(s, "nan") == 0) {
            v = NAN;
        } else {
            v = c_strtod(s, &end);
            *bad = end == s || *end != '\0';
        }
        if (f->type == PROTOBUF_C_TYPE_FLOAT) {
            float *p = aalloc(ld, sizeof *p);
            if (p != NULL) {
                *p = (float)v;
            }
            return p;
        }
        double *p = aalloc(ld, sizeof *p);
        if (p != NULL) {
            *p = v;
        }
        return p;
    }
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *val =
            f->descriptor ? protobuf_c_enum_descriptor_get_value_by_name(f->descriptor, s) : NULL;
        int32_t *p = aalloc(ld, sizeof *p);
        *bad = val == NULL;
        if (p != NULL && val != NULL) {
            *p = val->value;
        }
        return p;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        *bad = 1;
        return NULL;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        unsigned long long v = strtoull(s, &end, 10);
        int is32 = f->type == PROTOBUF_C_TYPE_UINT32 || f->type == PROTOBUF_C_TYPE_FIXED32;
        *bad = end == s || *end != '\0' || errno != 0 || s[0] == '-' || (is32 && v > UINT32_MAX);
        void *p = aalloc(ld, 8);
        if (p != NULL && is32) {
            *(uint32_t *)p = (uint32_t)v;
        } else if (p != NULL) {
            *(uint64_t *)p = (uint64_t)v;
        }
        return p;
    }
    default: { /* signed integers */
        long long v = strtoll(s, &end, 10);
        int is32 = f->type == PROTOBUF_C_TYPE_INT32 || f->type == PROTOBUF_C_TYPE_SINT32 ||
                   f->type == PROTOBUF_C_TYPE_SFIXED32;
        *bad = end == s || *end != '\0' || errno != 0 || (is32 && (v < INT32_MIN || v > INT32_MAX));
        void *p = aalloc(ld, 8);
        if (p != NULL && is32) {
            *(int32_t *)p = (int32_t)v;
        } else if (p != NULL) {
            *(int64_t *)p = (int64_t)v;
        }
        return p;
    }
    }
}

static int fd_by_id(const void *a, const void *b)
{
    const ProtobufCFieldDescriptor *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static int idx_by_name(const void *a, const void *b, void *ctx)
{
    const ProtobufCFieldDescriptor *fs = ctx;
    return strcmp(fs[*(const unsigned *)a].name, fs[*(const unsigned *)b].name);
}

/* Resolves ".pkg.Type" for field f (kind K_MESSAGE or K_ENUM). */
static const void *resolve(loader *ld, const smsg *sm, const char *fname, const char *tn, int kind)
{
    char b1[96], b2[96], b3[96];
    if (tn == NULL || tn[0] != '.') {
        fail(ld, LRO_ERR_INVALID_ARG,
             "%s: message %s: field '%s': type name '%s' is not "
             "fully qualified",
             shown(sm->file, b1, sizeof b1), sm->d->name, shown(fname, b2, sizeof b2),
             shown(tn, b3, sizeof b3));
        return NULL;
    }
    const entry *e = lookup(ld, tn + 1);
    if (e == NULL || e->kind != kind) {
        fail(ld, LRO_ERR_INVALID_ARG, "%s: message %s: field '%s': %s '%s' is not defined%s",
             shown(sm->file, b1, sizeof b1), sm->d->name, shown(fname, b2, sizeof b2),
             kind == K_MESSAGE ? "message type" : "enum type", shown(tn, b3, sizeof b3),
             e == NULL ? " (build the set with protoc --include_imports)" : "");
        return NULL;
    }
    return e->p;
}

static int build_msg(loader *ld, smsg *sm)
{
    char b1[96], b2[96];
    const Google__Protobuf__DescriptorProto *dp = sm->dp;
    ProtobufCMessageDescriptor *d = sm->d;
    const char *file = shown(sm->file, b1, sizeof b1);
    if (dp->n_field > MAX_MEMBERS) {
        return fail(ld, LRO_ERR_INVALID_ARG, "%s: message %s has more than %d fields", file,
                    d->name, MAX_MEMBERS);
    }
    size_t nf = dp->n_field;
    ProtobufCFieldDescriptor *fs = aalloc(ld, (nf ? nf : 1) * sizeof *fs);
    if (fs == NULL) {
        return ld->rc;
    }
    size_t noneof = dp->n_oneof_decl;
    if (noneof > MAX_MEMBERS) {
        return fail(ld, LRO_ERR_INVALID_ARG, "%s: message %s has more than %d oneofs", file,
                    d->name, MAX_MEMBERS);
    }
    /* Per oneof: the largest member's size and alignment. */
    size_t *usize = lro_calloc(2 * (noneof ? noneof : 1), sizeof *usize);
    if (usize == NULL) {
        return nomem(ld);
    }
    size_t *ualign = usize + (noneof ? noneof : 1);
    size_t off = sizeof(ProtobufCMessage);
    unsigned n = 0; /* fields kept (groups are left out) */
    for (size_t i = 0; i < nf && ld->rc == LRO_OK; i++) {
        const Google__Protobuf__FieldDescriptorProto *fp = dp->field[i];
        if (fp == NULL || !is_ident(fp->name)) {
            fail(ld, LRO_ERR_INVALID_ARG, "%s: message %s: field '%s' has an invalid name", file,
                 d->name, shown(fp ? fp->name : NULL, b2, sizeof b2));
            break;
        }
        const char *fname = shown(fp->name, b2, sizeof b2);
        if (!fp->has_number || fp->number < 1 || fp->number > MAX_FIELD_NUMBER) {
            fail(ld, LRO_ERR_INVALID_ARG,
                 "%s: message %s: field '%s' has number %d (not in "
                 "1..%d)",
                 file, d->name, fname, fp->has_number ? fp->number : 0, MAX_FIELD_NUMBER);
            break;
        }
        if (fp->has_type &&
            fp->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP) {
            continue; /* protobuf-c cannot decode groups: left out (see registry.h) */
        }
        int t = fp->has_type ? pc_type(fp->type) : -1;
        if (!fp->has_type && fp->type_name != NULL) {
            /* Allowed by descriptor.proto: the kind comes from the name. */
            const entry *e = fp->type_name[0] == '.' ? lookup(ld, fp->type_name + 1) : NULL;
            t = e == NULL              ? -1
                : e->kind == K_MESSAGE ? PROTOBUF_C_TYPE_MESSAGE
                : e->kind == K_ENUM    ? (int)PROTOBUF_C_TYPE_ENUM
                                       : -1;
        }
        if (t < 0) {
            fail(ld, LRO_ERR_INVALID_ARG, "%s: message %s: field '%s' (%d) has no valid type", file,
                 d->name, fname, fp->number);
            break;
        }
        ProtobufCFieldDescriptor *f = &fs[n];
        f->name = astr(ld, fp->name);
        f->id = (uint32_t)fp->number;
        f->type = (ProtobufCType)t;
        int label = fp->has_label ? fp->label
                                  : GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL;
        int repeated = label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
        int required = label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED;
        if (!repeated && !required &&
            label != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL) {
            fail(ld, LRO_ERR_INVALID_ARG, "%s: message %s: field '%s' has label %d", file, d->name,
                 fname, label);
            break;
        }
        if (t == PROTOBUF_C_TYPE_MESSAGE || t == PROTOBUF_C_TYPE_ENUM) {
            f->descriptor = resolve(ld, sm, fp->name, fp->type_name,
                                    t == PROTOBUF_C_TYPE_MESSAGE ? K_MESSAGE : K_ENUM);
            if (f->descriptor == NULL) {
                break;
            }
        }
        /* json_name travels in reserved2 (protobuf-c has no place for it). */
        if (fp->json_name != NULL && strlen(fp->json_name) > MAX_NAME) {
            fail(ld, LRO_ERR_INVALID_ARG,
                 "%s: message %s: field '%s': json_name longer than %d "
                 "bytes",
                 file, d->name, fname, MAX_NAME);
            break;
        }
        f->reserved2 = fp->json_name != NULL && fp->json_name[0] != '\0'
                           ? astr(ld, fp->json_name)
                           : lower_camel(ld, fp->name);
        if (fp->options != NULL && fp->options->has_deprecated && fp->options->deprecated) {
            f->flags |= PROTOBUF_C_FIELD_FLAG_DEPRECATED;
        }
        size_t al, sz = type_size(f->type, &al);
        if (fp->has_oneof_index) {
            if (fp->oneof_index < 0 || (size_t)fp->oneof_index >= noneof || repeated || required) {
                fail(ld, LRO_ERR_INVALID_ARG,
                     "%s: message %s: field '%s': bad oneof (index %d of "
                     "%zu, or a repeated/required member)",
                     file, d->name, fname, fp->oneof_index, noneof);
                break;
            }
            /* proto3 optional fields sit in a synthetic oneof of their own:
             * a oneof's case word gives them presence, as it does here. */
            f->label = sm->proto3 ? PROTOBUF_C_LABEL_NONE : PROTOBUF_C_LABEL_OPTIONAL;
            f->flags |= PROTOBUF_C_FIELD_FLAG_ONEOF;
            size_t o = (size_t)fp->oneof_index;
            usize[o] = sz > usize[o] ? sz : usize[o];
            ualign[o] = al > ualign[o] ? al : ualign[o];
            f->offset = (unsigned)o; /* placed below */
        } else if (repeated) {
            f->label = PROTOBUF_C_LABEL_REPEATED;
            off = align_up(off, _Alignof(size_t));
            f->quantifier_offset = (unsigned)off;
            off += sizeof(size_t);
            off = align_up(off, _Alignof(void *));
            f->offset = (unsigned)off;
            off += sizeof(void *);
            if (packable(f->type) &&
                (fp->options != NULL && fp->options->has_packed ? fp->options->packed
                                                                : sm->proto3)) {
                f->flags |= PROTOBUF_C_FIELD_FLAG_PACKED;
            }
        } else {
            int bad = 0;
            if (sm->proto3) {
                f->label = PROTOBUF_C_LABEL_NONE;
                if (f->type == PROTOBUF_C_TYPE_STRING) {
                    f->default_value = &protobuf_c_empty_string;
                }
            } else {
                f->label = required ? PROTOBUF_C_LABEL_REQUIRED : PROTOBUF_C_LABEL_OPTIONAL;
                if (!required && f->type != PROTOBUF_C_TYPE_STRING &&
                    f->type != PROTOBUF_C_TYPE_MESSAGE) {
                    off = align_up(off, _Alignof(protobuf_c_boolean));
                    f->quantifier_offset = (unsigned)off;
                    off += sizeof(protobuf_c_boolean);
                }
                f->default_value = parse_default(ld, fp, f, &bad);
            }
            if (bad) {
                fail(ld, LRO_ERR_INVALID_ARG,
                     "%s: message %s: field '%s': invalid default "
                     "value '%s'",
                     file, d->name, fname, shown(fp->default_value, b2, sizeof b2));
                break;
            }
            off = align_up(off, al);
            f->offset = (unsigned)off;
            off += sz;
        }
        n++;
    }
    /* Each oneof: its case word, then a union of its members. */
    for (size_t o = 0; o < noneof && ld->rc == LRO_OK; o++) {
        if (usize[o] == 0) {
            continue; /* no members (or only groups) */
        }
        off = align_up(off, _Alignof(uint32_t));
        size_t case_off = off;
        off += sizeof(uint32_t);
        off = align_up(off, ualign[o]);
        for (unsigned i = 0; i < n; i++) {
            if ((fs[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && fs[i].quantifier_offset == 0 &&
                fs[i].offset == o) {
                fs[i].quantifier_offset = (unsigned)case_off;
                fs[i].offset = (unsigned)off;
            }
        }
        off += usize[o];
    }
    lro_free(usize);
    if (ld->rc != LRO_OK) {
        return ld->rc;
    }
    qsort(fs, n, sizeof *fs, fd_by_id);
    unsigned *by_name = aalloc(ld, (n ? n : 1) * sizeof *by_name);
    int *nums = lro_malloc((n ? n : 1) * sizeof *nums);
    if (by_name == NULL || nums == NULL) {
        lro_free(nums);
        return ld->rc ? ld->rc : nomem(ld);
    }
    for (unsigned i = 0; i < n; i++) {
        by_name[i] = i;
        nums[i] = (int)fs[i].id;
        if (i > 0 && fs[i].id == fs[i - 1].id) {
            lro_free(nums);
            return fail(ld, LRO_ERR_INVALID_ARG, "%s: message %s: field number %u used twice", file,
                        d->name, fs[i].id);
        }
    }
    qsort_r(by_name, n, sizeof *by_name, idx_by_name, fs);
    for (unsigned i = 1; i < n; i++) {
        if (strcmp(fs[by_name[i]].name, fs[by_name[i - 1]].name) == 0) {
            lro_free(nums);
            return fail(ld, LRO_ERR_INVALID_ARG, "%s: message %s: field name '%s' used twice", file,
                        d->name, fs[by_name[i]].name);
        }
    }
    d->field_ranges = ranges(ld, nums, n, &d->n_field_ranges);
    lro_free(nums);
    const char *dot = strrchr(d->name, '.');
    d->magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC;
    d->short_name = dot ? dot + 1 : d->name;
    d->c_name = d->name;
    d->package_name = sm->pkg;
    d->sizeof_message = align_up(off, _Alignof(void *) > 8 ? _Alignof(void *) : 8);
    d->n_fields = n;
    d->fields = fs;
    d->fields_sorted_by_name = by_name;
    d->message_init = NULL; /* protobuf-c's unpack then initialises generically */
    d->reserved1 = (void *)k_dyn_tag;
    return ld->rc;
}

static int load_set(loader *ld, const Google__Protobuf__FileDescriptorSet *set)
{
    for (size_t i = 0; i < set->n_file && ld->rc == LRO_OK; i++) {
        collect_file(ld, set->file[i]);
    }
    for (size_t i = 0; i < ld->n_enums && ld->rc == LRO_OK; i++) {
        build_enum(ld, &ld->enums[i]);
    }
    for (size_t i = 0; i < ld->n_msgs && ld->rc == LRO_OK; i++) {
        build_msg(ld, &ld->msgs[i]);
    }
    return ld->rc;
}

/* The registry's table plus this load's names, built aside so that a
 * failure (out of memory) leaves the registry as it was. Under r->mu. */
static int publish(loader *ld)
{
    lro_registry *r = ld->r;
    table t = {0};
    size_t nm = 0, nt = 0;
    for (int pass = 0; pass < 2; pass++) {
        const table *src = pass == 0 ? &r->tab : &ld->names;
        for (size_t i = 0; i < src->cap; i++) {
            const entry *e = &src->v[i];
            if (e->name == NULL) {
                continue;
            }
            if (tab_put(&t, e->name, e->kind, e->p) != LRO_OK) {
                lro_free(t.v);
                return nomem(ld);
            }
            nm += pass == 1 && e->kind == K_MESSAGE;
            nt += pass == 1 && e->kind != K_FILE;
        }
    }
    lro_free(r->tab.v);
    r->tab = t;
    r->n_messages += nm;
    r->n_types += nt;
    return LRO_OK;
}

/* ---- Public API ------------------------------------------------------------ */

static void set_error(char **error, const char *text)
{
    if (error != NULL) {
        *error = text ? lro_strdup(text) : NULL;
    }
}

int lro_registry_create(lro_registry **out)
{
    if (out == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    lro_registry *r = lro_calloc(1, sizeof *r);
    if (r == NULL) {
        return LRO_ERR_NOMEM;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->load_mu, NULL);
    r->refs = 1;
    *out = r;
    return LRO_OK;
}

void lro_registry_ref_(lro_registry *r)
{
    pthread_mutex_lock(&r->mu);
    r->refs++;
    pthread_mutex_unlock(&r->mu);
}

void lro_registry_unref_(lro_registry *r)
{
    if (r == NULL) {
        return;
    }
    pthread_mutex_lock(&r->mu);
    int last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (!last) {
        return;
    }
    for (load_block *b = r->loads, *next; b != NULL; b = next) {
        next = b->next;
        lro_arena_free(&b->arena);
        lro_free(b);
    }
    lro_free(r->tab.v);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->load_mu);
    lro_free(r);
}

void lro_registry_destroy(lro_registry *r)
{
    lro_registry_unref_(r);
}

int lro_registry_add_set(lro_registry *r, const void *data, size_t len, const char *source,
                         char **error)
{
    set_error(error, NULL);
    if (r == NULL || (data == NULL && len > 0)) {
        set_error(error, "lro_registry_add_set: NULL registry or data");
        return LRO_ERR_INVALID_ARG;
    }
    loader ld = {0};
    ld.r = r;
    ld.source = source ? source : "descriptor set";
    if (len > LRO_REGISTRY_MAX_SET_BYTES) {
        fail(&ld, LRO_ERR_INVALID_ARG, "%zu bytes, more than the %u a descriptor set may have", len,
             LRO_REGISTRY_MAX_SET_BYTES);
        set_error(error, ld.err);
        return ld.rc;
    }
    if (lro_pb_check_depth(&google__protobuf__file_descriptor_set__descriptor, data, len,
                           LRO_JSON_MAX_DEPTH) != 0) {
        fail(&ld, LRO_ERR_DECODE, "not a FileDescriptorSet: messages nested more than %d deep",
             LRO_JSON_MAX_DEPTH);
        set_error(error, ld.err);
        return ld.rc;
    }
    int oom = 0;
    Google__Protobuf__FileDescriptorSet *set =
        (Google__Protobuf__FileDescriptorSet *)lro_json_unpack(
            &google__protobuf__file_descriptor_set__descriptor, data, len, &oom);
    if (set == NULL) {
        if (oom) {
            nomem(&ld);
        } else {
            fail(&ld, LRO_ERR_DECODE,
                 "%zu bytes do not decode as a google.protobuf."
                 "FileDescriptorSet (write it with protoc --descriptor_set_out)",
                 len);
        }
        set_error(error, ld.err);
        return ld.rc;
    }
    load_block *blk = lro_calloc(1, sizeof *blk);
    if (blk == NULL) {
        lro_json_free_message(&set->base);
        set_error(error, "out of memory");
        return LRO_ERR_NOMEM;
    }
    lro_arena_init(&blk->arena, NULL, 0);
    ld.arena = &blk->arena;
    pthread_mutex_lock(&r->load_mu);
    load_set(&ld, set);
    if (ld.rc == LRO_OK) {
        /* Publish: every name of this load at once. */
        pthread_mutex_lock(&r->mu);
        if (publish(&ld) == LRO_OK) {
            blk->next = r->loads;
            r->loads = blk;
            blk = NULL;
        }
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_unlock(&r->load_mu);
    if (blk != NULL) {
        lro_arena_free(&blk->arena);
        lro_free(blk);
    }
    lro_free(ld.names.v);
    lro_free(ld.msgs);
    lro_free(ld.enums);
    lro_json_free_message(&set->base);
    if (ld.rc != LRO_OK) {
        set_error(error, ld.err);
    }
    return ld.rc;
}

int lro_registry_add_file(lro_registry *r, const char *path, char **error)
{
    char msg[600];
    set_error(error, NULL);
    if (r == NULL || path == NULL) {
        set_error(error, "lro_registry_add_file: NULL registry or path");
        return LRO_ERR_INVALID_ARG;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(msg, sizeof msg, "%s: %s", path, strerror(errno));
        set_error(error, msg);
        return LRO_ERR_IO;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = lro_malloc(cap);
    int rc = LRO_OK;
    while (buf != NULL) {
        size_t k = fread(buf + len, 1, cap - len, f);
        len += k;
        if (k == 0) {
            break;
        }
        if (len > LRO_REGISTRY_MAX_SET_BYTES) {
            snprintf(msg, sizeof msg,
                     "%s: larger than %u bytes, the most a descriptor set may "
                     "have",
                     path, LRO_REGISTRY_MAX_SET_BYTES);
            rc = LRO_ERR_INVALID_ARG;
            break;
        }
        if (len == cap) {
            uint8_t *nb = lro_realloc(buf, cap * 2);
            if (nb == NULL) {
                lro_free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (rc == LRO_OK && buf == NULL) {
        snprintf(msg, sizeof msg, "%s: out of memory", path);
        rc = LRO_ERR_NOMEM;
    } else if (rc == LRO_OK && ferror(f)) {
        snprintf(msg, sizeof msg, "%s: read error: %s", path, strerror(errno));
        rc = LRO_ERR_IO;
    }
    fclose(f);
    if (rc == LRO_OK) {
        rc = lro_registry_add_set(r, buf, len, path, error);
    } else {
        set_error(error, msg);
    }
    lro_free(buf);
    return rc;
}

size_t lro_registry_message_count(const lro_registry *r)
{
    if (r == NULL) {
        return 0;
    }
    lro_registry *m = (lro_registry *)r;
    pthread_mutex_lock(&m->mu);
    size_t n = m->n_messages;
    pthread_mutex_unlock(&m->mu);
    return n;
}

const ProtobufCMessageDescriptor *lro_registry_find(const lro_registry *r, const char *name)
{
    if (r == NULL || name == NULL) {
        return NULL;
    }
    const char *slash = strrchr(name, '/');
    const char *n = slash ? slash + 1 : name;
    lro_registry *m = (lro_registry *)r;
    pthread_mutex_lock(&m->mu);
    const entry *e = tab_find(&m->tab, n);
    const ProtobufCMessageDescriptor *d = e && e->kind == K_MESSAGE ? e->p : NULL;
    pthread_mutex_unlock(&m->mu);
    return d;
}

const char *lro_registry_json_name(const ProtobufCMessageDescriptor *d,
                                   const ProtobufCFieldDescriptor *f)
{
    return d->reserved1 == (const void *)k_dyn_tag ? f->reserved2 : NULL;
}

void lro_registry_init_message(const ProtobufCMessageDescriptor *d, ProtobufCMessage *m)
{
    if (d->message_init != NULL) {
        d->message_init(m);
        return;
    }
    /* What protobuf-c's unpack does for a descriptor without message_init. */
    memset(m, 0, d->sizeof_message);
    m->descriptor = d;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->default_value == NULL || f->label == PROTOBUF_C_LABEL_REPEATED ||
            (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
            continue;
        }
        void *p = (char *)m + f->offset;
        size_t al = 0, sz = type_size(f->type, &al);
        (void)al;
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
            *(const void **)p = f->default_value;
        } else {
            memcpy(p, f->default_value, sz);
        }
    }
}
