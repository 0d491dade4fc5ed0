/* Descriptor sets to protobuf-c descriptors, for the type registry.
 *
 * Three passes over the decoded set, everything into the load's arena:
 *   1. collect: every message and enum gets its full name, is checked for
 *      duplicates, and gets a zeroed descriptor, so that pass 3 can point at
 *      any of them whatever the declaration order (types may refer to each
 *      other in cycles: Struct -> Value -> Struct);
 *   2. enums: values sorted by number (aliases: the first declared wins, as
 *      C++'s FindValueByNumber), ranges, name index;
 *   3. messages: a synthetic C struct layout (what protoc-c would generate),
 *      field descriptors sorted by number with their ranges and name index,
 *      references resolved, defaults parsed. */
#include <stdlib.h>

#include "registry_int.h"

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
const entry *lro_reg_lookup(loader *ld, const char *name)
{
    const entry *e = lro_reg_tab_find(&ld->names, name);
    if (e == NULL) {
        pthread_mutex_lock(&ld->r->mu);
        e = lro_reg_tab_find(&ld->r->tab, name);
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
    const entry *e = lro_reg_lookup(ld, full);
    if (e != NULL) {
        return fail(ld, LRO_ERR_INVALID_ARG,
                    "%s: '%s' is defined twice (another file of the "
                    "set or an earlier load defines it)",
                    shown(file, b1, sizeof b1), full);
    }
    if (ld->r->n_types + ld->names.n >= MAX_TYPES) {
        return fail(ld, LRO_ERR_INVALID_ARG, "more than %d types", MAX_TYPES);
    }
    return lro_reg_tab_put(&ld->names, full, kind, p) == LRO_OK ? LRO_OK : nomem(ld);
}

/* Makes room for one more element in a growing array (*v, n used, *cap);
 * LRO_OK or the loader's out-of-memory failure. */
static int room_for_one(loader *ld, void **v, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap) {
        return LRO_OK;
    }
    size_t c = *cap ? 2 * *cap : 32;
    void *p = lro_realloc(*v, c * elem);
    if (p == NULL) {
        return nomem(ld);
    }
    *v = p;
    *cap = c;
    return LRO_OK;
}

/* The start every named type shares: a valid name, a member count within
 * bounds, its full name, and a zeroed descriptor of `size` registered under
 * that name (*full set). NULL when any of it fails (ld->rc says why). */
static void *declare_type(loader *ld, const char *file, const char *scope, const char *name,
                          const char *what, size_t n_members, int kind, size_t size, char **full)
{
    char b1[96], b2[96];
    if (name == NULL || !is_ident(name)) {
        fail(ld, LRO_ERR_INVALID_ARG, "%s: %s '%s' in '%s' has an invalid name",
             shown(file, b1, sizeof b1), what, shown(name, b2, sizeof b2), scope);
        return NULL;
    }
    if (count_members(ld, n_members) != LRO_OK) {
        return NULL;
    }
    *full = join(ld, scope, name);
    void *d = aalloc(ld, size);
    if (*full == NULL || d == NULL || add_name(ld, file, *full, kind, d) != LRO_OK) {
        return NULL;
    }
    return d;
}

static int collect_enum(loader *ld, const char *file, const char *pkg, const char *scope,
                        const Google__Protobuf__EnumDescriptorProto *ep)
{
    char *full;
    ProtobufCEnumDescriptor *d = declare_type(ld, file, scope, ep ? ep->name : NULL, "enum",
                                              ep ? ep->n_value : 0, K_ENUM, sizeof *d, &full);
    if (d != NULL &&
        room_for_one(ld, (void **)&ld->enums, ld->n_enums, &ld->cap_enums, sizeof *ld->enums) ==
            LRO_OK) {
        d->name = full;
        ld->enums[ld->n_enums++] = (senum){ep, file, pkg, d};
    }
    return ld->rc;
}

static int collect_msg(loader *ld, const char *file, const char *pkg, int proto3, const char *scope,
                       const Google__Protobuf__DescriptorProto *dp, int depth)
{
    if (depth > MAX_NESTING) {
        char b1[96];
        return fail(ld, LRO_ERR_INVALID_ARG, "%s: messages nested more than %d deep (in '%s')",
                    shown(file, b1, sizeof b1), MAX_NESTING, scope);
    }
    char *full;
    ProtobufCMessageDescriptor *d = declare_type(ld, file, scope, dp ? dp->name : NULL, "message",
                                                 dp ? dp->n_field : 0, K_MESSAGE, sizeof *d, &full);
    if (d == NULL ||
        room_for_one(ld, (void **)&ld->msgs, ld->n_msgs, &ld->cap_msgs, sizeof *ld->msgs)) {
        return ld->rc;
    }
    d->name = full;
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
    if (lro_reg_lookup(ld, key) != NULL) {
        return LRO_OK; /* loaded before (shared import): skipped */
    }
    if (lro_reg_tab_put(&ld->names, key, K_FILE, NULL) != LRO_OK) {
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
    const entry *e = lro_reg_lookup(ld, tn + 1);
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
            const entry *e = fp->type_name[0] == '.' ? lro_reg_lookup(ld, fp->type_name + 1) : NULL;
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
        size_t al, sz = lro_pb_type_size(f->type, &al);
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
                f->default_value = lro_reg_parse_default(ld, fp, f, &bad);
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
    d->reserved1 = (void *)lro_reg_dyn_tag;
    return ld->rc;
}

int lro_reg_load_set(loader *ld, const Google__Protobuf__FileDescriptorSet *set)
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
