/* The built-in provider table; each provider lives in its own file here. */
#include <stddef.h>
#include "stagefork/provider.h"

extern const sf_provider sf_provider_postgres;
extern const sf_provider sf_provider_s3;
extern const sf_provider sf_provider_http_resource;
extern const sf_provider sf_provider_process;

const sf_provider *const sf_builtin_providers[] = {
    &sf_provider_postgres,
    &sf_provider_s3,
    &sf_provider_http_resource,
    &sf_provider_process,
    NULL};
