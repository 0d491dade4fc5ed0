/*
 * lro/lro.h - the umbrella header of lro-c, a C client for
 * google.longrunning.Operations over gRPC. Include this one.
 *
 *   lro/common.h   version, result codes, gRPC codes, allocator
 *   lro/client.h   client, options, Get/List/Cancel/Delete/Wait
 *   lro/events.h   event hook (metrics, tracing) and log hook
 *   lro/future.h   futures and views of operations, pages, statuses
 *   lro/json.h     proto3 JSON output
 *   lro/longrunning.h  pager, await-until-done, poll budget
 *
 * Opt-in: lro/lro_pb.h (protobuf-c messages), lro/testing.h (embedded server).
 */
#ifndef LRO_LRO_H
#define LRO_LRO_H

#include "lro/common.h"
#include "lro/client.h"
#include "lro/credentials.h"
#include "lro/events.h"
#include "lro/future.h"
#include "lro/json.h"
#include "lro/longrunning.h"
#include "lro/registry.h"

#endif /* LRO_LRO_H */
