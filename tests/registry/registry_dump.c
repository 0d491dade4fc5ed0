/* registry_dump SET... : loads the descriptor sets into an lro_registry,
 * then reads lines on stdin:
 *   "TYPE PATH"  decodes PATH with the REGISTRY's descriptor of TYPE (built
 *                at run time) and prints it; when lro-c also has TYPE
 *                compiled in, the compiled decode must give the same JSON
 *                and both must re-encode to the same bytes;
 *   "@op PATH"   decodes PATH as google.longrunning.Operation with the
 *                compiled descriptor and prints it with lro_operation_to_json()
 *                after lro_json_set_registry() (the process-wide path lroctl
 *                uses), and with lro_operation_to_json_reg(): both must agree.
 * Writes PATH.json (compact), PATH.pretty.json, or PATH.err (what failed),
 * the interface tests/json/json_check.py reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/longrunning/operations.pb-c.h"
#include "json_int.h"
#include "lro/registry.h"

static lro_registry *g_reg;

static int write_file(const char *path, const char *suffix, const char *text, size_t len)
{
    char name[4096];
    snprintf(name, sizeof name, "%s%s", path, suffix);
    FILE *f = fopen(name, "wb");
    if (f == NULL || fwrite(text, 1, len, f) != len) {
        perror(name);
        if (f) {
            fclose(f);
        }
        return -1;
    }
    return fclose(f);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return NULL;
    }
    size_t cap = 1 << 16, n;
    uint8_t *buf = malloc(cap);
    *len = 0;
    while (buf && (n = fread(buf + *len, 1, cap - *len, f)) > 0) {
        *len += n;
        if (*len == cap) {
            buf = realloc(buf, cap *= 2);
        }
    }
    fclose(f);
    return buf;
}

static int err_file(const char *path, const char *what)
{
    return write_file(path, ".err", what, strlen(what));
}

/* Compiled and dynamic decodes of the same bytes: same JSON, same re-encoding. */
static const char *cross_check(const ProtobufCMessageDescriptor *dyn,
                               const ProtobufCMessageDescriptor *comp, const uint8_t *buf,
                               size_t len)
{
    static char why[256];
    ProtobufCMessage *a = protobuf_c_message_unpack(dyn, NULL, len, buf);
    ProtobufCMessage *b = protobuf_c_message_unpack(comp, NULL, len, buf);
    const char *res = NULL;
    char *ja = NULL, *jb = NULL;
    if (a == NULL || b == NULL) {
        res = "only one of the dynamic and compiled descriptors decodes the bytes";
    } else if (lro_message_to_json_reg(a, g_reg, 0, &ja, NULL) != LRO_OK ||
               lro_message_to_json_reg(b, g_reg, 0, &jb, NULL) != LRO_OK || strcmp(ja, jb) != 0) {
        snprintf(why, sizeof why, "dynamic and compiled JSON differ: %.100s | %.100s",
                 ja ? ja : "?", jb ? jb : "?");
        res = why;
    } else {
        size_t na = protobuf_c_message_get_packed_size(a);
        size_t nb = protobuf_c_message_get_packed_size(b);
        uint8_t *pa = malloc(na + 1), *pb = malloc(nb + 1);
        if (na != nb || protobuf_c_message_pack(a, pa) != na ||
            protobuf_c_message_pack(b, pb) != nb || memcmp(pa, pb, na) != 0) {
            snprintf(why, sizeof why, "re-encodings differ (%zu vs %zu bytes)", na, nb);
            res = why;
        }
        free(pa);
        free(pb);
    }
    lro_free(ja);
    lro_free(jb);
    if (a) {
        protobuf_c_message_free_unpacked(a, NULL);
    }
    if (b) {
        protobuf_c_message_free_unpacked(b, NULL);
    }
    return res;
}

static int one(const char *type, const char *path)
{
    size_t len = 0;
    uint8_t *buf = slurp(path, &len);
    if (buf == NULL) {
        return -1;
    }
    int rc = 0;
    if (strcmp(type, "@op") == 0) {
        ProtobufCMessage *m =
            protobuf_c_message_unpack(&google__longrunning__operation__descriptor, NULL, len, buf);
        if (m == NULL) {
            rc = err_file(path, "Operation does not decode");
        }
        for (unsigned flags = 0; m != NULL && flags <= LRO_JSON_PRETTY && rc == 0;
             flags += LRO_JSON_PRETTY) {
            char *out = NULL, *out2 = NULL;
            size_t olen = 0;
            int r = lro_operation_to_json((const lro_operation *)m, flags, &out, &olen);
            int r2 = lro_operation_to_json_reg((const lro_operation *)m, g_reg, flags, &out2, NULL);
            if (r != LRO_OK || r2 != LRO_OK) {
                rc = err_file(path, lro_err_name(r != LRO_OK ? r : r2));
            } else if (strcmp(out, out2) != 0) {
                rc = err_file(path, "process-wide and explicit registry JSON differ");
            } else {
                rc = write_file(path, flags ? ".pretty.json" : ".json", out, olen);
            }
            lro_free(out);
            lro_free(out2);
        }
        if (m) {
            protobuf_c_message_free_unpacked(m, NULL);
        }
        free(buf);
        return rc;
    }
    const ProtobufCMessageDescriptor *d = lro_registry_find(g_reg, type);
    if (d == NULL) {
        fprintf(stderr, "registry_dump: %s is not in the registry\n", type);
        free(buf);
        return -1;
    }
    const ProtobufCMessageDescriptor *comp = lro_json_find_type(type);
    const char *bad = comp ? cross_check(d, comp, buf, len) : NULL;
    if (bad != NULL) {
        rc = err_file(path, bad);
    }
    for (unsigned flags = 0; flags <= LRO_JSON_PRETTY && rc == 0 && bad == NULL;
         flags += LRO_JSON_PRETTY) {
        char *out = NULL;
        size_t olen = 0;
        int r = lro_json_from_bytes_reg(d, g_reg, buf, len, flags, &out, &olen);
        if (r != LRO_OK) {
            rc = err_file(path, lro_err_name(r));
            break;
        }
        rc = write_file(path, flags ? ".pretty.json" : ".json", out, olen);
        lro_free(out);
    }
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    if (lro_registry_create(&g_reg) != LRO_OK) {
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        char *err = NULL;
        int r = lro_registry_add_file(g_reg, argv[i], &err);
        if (r != LRO_OK) {
            fprintf(stderr, "registry_dump: %s (%s)\n", err ? err : "?", lro_err_name(r));
            lro_free(err);
            return 1;
        }
    }
    fprintf(stderr, "registry_dump: %zu message types loaded\n", lro_registry_message_count(g_reg));
    lro_json_set_registry(g_reg);
    char line[8192];
    int status = 0;
    while (status == 0 && fgets(line, sizeof line, stdin) != NULL) {
        char *sp = strchr(line, ' ');
        char *nl = strchr(line, '\n');
        if (sp == NULL || nl == NULL) {
            fprintf(stderr, "registry_dump: bad line\n");
            status = 2;
            break;
        }
        *sp = *nl = '\0';
        if (one(line, sp + 1) != 0) {
            status = 1;
        }
    }
    lro_json_set_registry(NULL);
    lro_registry_destroy(g_reg);
    return status;
}
