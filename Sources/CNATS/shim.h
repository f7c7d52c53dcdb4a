#ifndef DAYBOOK_CNATS_SHIM_H
#define DAYBOOK_CNATS_SHIM_H
// Debian's libnats-dev (cnats 3.4). Only the DaybookSources target imports this module.
#include <nats/nats.h>
#endif
