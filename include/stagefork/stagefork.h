#ifndef STAGEFORK_H
#define STAGEFORK_H
/* libstagefork: umbrella header. */

#include "stagefork/error.h"
#include "stagefork/buf.h"
#include "stagefork/util.h"
#include "stagefork/yaml.h"
#include "stagefork/config.h"
#include "stagefork/names.h"
#include "stagefork/guard.h"
#include "stagefork/provider.h"
#include "stagefork/template.h"
#include "stagefork/state.h"
#include "stagefork/env.h"
#include "stagefork/reap.h"
#include "stagefork/gc.h"
#include "stagefork/mask.h"
#include "stagefork/seed.h"
#include "stagefork/snapshot.h"
#include "stagefork/refresh.h"

#endif
