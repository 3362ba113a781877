/* Fuzz the YAML tree loader and the config validator on the same input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "stagefork/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sf_yaml_doc *doc;
    sf_error err;
    if (sf_yaml_load_mem(&doc, "fuzz.yaml", (const char *)data, size, &err) == 0) {
        const sf_node *r = sf_yaml_root(doc);
        (void)sf_node_path(r, "a.b.0.c");
        sf_yaml_free(doc);
    }
    return 0;
}
