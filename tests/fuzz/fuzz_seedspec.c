/*
 * Fuzz the seed spec loader, the row-count expression parser and the
 * generators: any input either fails cleanly or resolves; small resolved
 * specs are generated in full (to /dev/null) with every profile applied.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "stagefork/seed.h"

#define MAX_ROWS 3000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sf_seed *s;
    sf_error err;
    int64_t total = 0;
    if (sf_seed_open_mem(&s, "fuzz.yaml", (const char *)data, size, &err) < 0)
        return 0;
    for (size_t i = 0; i < sf_seed_profile_count(s); i++)
        (void)sf_seed_use_profiles(s, sf_seed_profile_name(s, i));
    (void)sf_seed_set(s, "scale=0.5");
    sf_seed_set_random(s, (uint64_t)size);
    if (sf_seed_resolve(s) == 0) {
        for (size_t i = 0; i < sf_seed_table_count(s); i++) {
            int64_t rows;
            sf_seed_table_info(s, i, NULL, &rows);
            total += rows;
        }
        if (total <= MAX_ROWS) {
            FILE *f = fopen("/dev/null", "w");
            if (f) {
                (void)sf_seed_write(s, f);
                fclose(f);
            }
        }
    }
    sf_seed_free(s);
    return 0;
}
