/* The type registry (lro/registry.h): the name table, lifetimes and the
 * public API. How a descriptor set becomes protobuf-c descriptors is in
 * registry_load.c (and registry_default.c for proto2 defaults).
 *
 * A load builds everything into one arena that the registry keeps when the
 * load succeeds and frees when it fails (a load is all or nothing). Readers
 * only ever see complete loads: the shared name table is replaced under the
 * lock at the very end. */
#include <errno.h>
#include <stdlib.h>

#include "registry_int.h"

const char lro_reg_dyn_tag[] = "lro-registry";

/* ---- Name table (open addressing) -------------------------------------- */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

const entry *lro_reg_tab_find(const table *t, const char *name)
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

int lro_reg_tab_put(table *t, const char *name, int kind, const void *p)
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
            if (lro_reg_tab_put(&t, e->name, e->kind, e->p) != LRO_OK) {
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

/* The loaders' error text goes to *error (whole) and to lro_last_error()
 * (the first 255 bytes), cleared on entry like every recording function. */
static void set_error(char **error, const char *text)
{
    if (text == NULL) {
        lro_error_clear();
    } else {
        lro_fail(0, "%s", text);
    }
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
    lro_reg_load_set(&ld, set);
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
    const entry *e = lro_reg_tab_find(&m->tab, n);
    const ProtobufCMessageDescriptor *d = e && e->kind == K_MESSAGE ? e->p : NULL;
    pthread_mutex_unlock(&m->mu);
    return d;
}

const char *lro_registry_json_name(const ProtobufCMessageDescriptor *d,
                                   const ProtobufCFieldDescriptor *f)
{
    return d->reserved1 == (const void *)lro_reg_dyn_tag ? f->reserved2 : NULL;
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
        size_t al = 0, sz = lro_pb_type_size(f->type, &al);
        (void)al;
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
            *(const void **)p = f->default_value;
        } else {
            memcpy(p, f->default_value, sz);
        }
    }
}
