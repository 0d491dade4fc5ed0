/* Reads "TYPE PATH" lines on stdin; decodes each file as the named message
 * type with lro_json_from_bytes() and writes PATH.json (compact) and
 * PATH.pretty.json, or PATH.err holding the error name. For json_check.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_int.h"
#include "lro/json.h"

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

static int one(const char *type, const char *path)
{
    const ProtobufCMessageDescriptor *d = lro_json_find_type(type);
    if (d == NULL) {
        fprintf(stderr, "json_dump: unknown type %s\n", type);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            buf = realloc(buf, cap *= 2);
        }
    }
    fclose(f);
    if (buf == NULL) {
        return -1;
    }
    int rc = 0;
    for (unsigned flags = 0; flags <= LRO_JSON_PRETTY && rc == 0; flags += LRO_JSON_PRETTY) {
        char *out = NULL;
        size_t olen = 0;
        int r = lro_json_from_bytes(d, buf, len, flags, &out, &olen);
        if (r != LRO_OK) {
            const char *e = lro_err_name(r);
            rc = write_file(path, ".err", e, strlen(e));
            break;
        }
        rc = write_file(path, flags ? ".pretty.json" : ".json", out, olen);
        lro_free(out);
    }
    free(buf);
    return rc;
}

int main(void)
{
    char line[8192];
    while (fgets(line, sizeof line, stdin) != NULL) {
        char *sp = strchr(line, ' ');
        char *nl = strchr(line, '\n');
        if (sp == NULL || nl == NULL) {
            fprintf(stderr, "json_dump: bad line\n");
            return 2;
        }
        *sp = *nl = '\0';
        if (one(line, sp + 1) != 0) {
            return 1;
        }
    }
    return 0;
}
