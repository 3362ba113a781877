/* The built-in provider table; each provider lives in its own file here. */
#include <stddef.h>
#include "stagefork/provider.h"

const sf_provider *const sf_builtin_providers[] = {
    NULL};
