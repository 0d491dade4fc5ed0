/* lroctl --protoset FILE (repeatable): loads binary FileDescriptorSets
 * (protoc --include_imports --descriptor_set_out=FILE) into one type
 * registry and makes it the process-wide one, so every JSON lroctl prints
 * (get, list, wait, the text table's progress) expands the service's own
 * metadata and response types instead of {"@type", "value": base64}. */
#include <stdlib.h>
#include <string.h>

#include "lro/registry.h"
#include "lroctl.h"

static lro_registry *g_protosets;

static void drop_protosets(void)
{
    lro_json_set_registry(NULL);
    lro_registry_destroy(g_protosets);
    g_protosets = NULL;
}

/* Loads one file. A file that cannot be used ends lroctl at once with
 * EXIT_LOCAL and the loader's own message (which file, what is wrong). */
static void load_protoset(const char *path)
{
    if (g_protosets == NULL) {
        if (lro_registry_create(&g_protosets) != LRO_OK) {
            die_msg("--protoset: out of memory");
            exit(EXIT_LOCAL);
        }
        atexit(drop_protosets);
        lro_json_set_registry(g_protosets);
    }
    char *err = NULL;
    int rc = lro_registry_add_file(g_protosets, path, &err);
    if (rc != LRO_OK) {
        die_msg("--protoset: %s", err ? err : lro_strerror(rc));
        lro_free(err);
        exit(EXIT_LOCAL);
    }
}

int parse_protoset_flag(int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strncmp(a, "--protoset=", 11) == 0) {
        load_protoset(a + 11);
        return 1;
    }
    if (strcmp(a, "--protoset") != 0) {
        return 0;
    }
    if (*i + 1 >= argc || argv[*i + 1][0] == '\0') {
        die_msg("--protoset needs a file (protoc --include_imports --descriptor_set_out=FILE)");
        return -1;
    }
    load_protoset(argv[++*i]);
    return 1;
}
