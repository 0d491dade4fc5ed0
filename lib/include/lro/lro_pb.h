/*
 * lro/lro_pb.h - opt-in: the protobuf-c messages behind lro-c's views.
 *
 * For C programs that prefer the generated structs to accessor functions.
 * Each view type IS the protobuf-c message (a cast, no copy), with the same
 * borrowed lifetime as the view (it lives as long as its future):
 *   lro_operation  == Google__Longrunning__Operation
 *   lro_page       == Google__Longrunning__ListOperationsResponse
 *   lro_status     == Google__Rpc__Status
 * The structs are read-only: never modify or free them.
 *
 * Requires C11 (protoc-c writes oneofs as anonymous unions). Needs lro-c's
 * generated headers (gen/ in the source tree, installed under
 * include/lro/pb/) and <protobuf-c/protobuf-c.h>. Including this header ties
 * your code to protobuf-c's struct layout; the rest of lro-c's API does not.
 */
#ifndef LRO_LRO_PB_H
#define LRO_LRO_PB_H

#include <protobuf-c/protobuf-c.h>

#include "lro/lro.h"
#include "google/longrunning/operations.pb-c.h"
#include "google/rpc/status.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

static inline const Google__Longrunning__Operation *lro_operation_pb(const lro_operation *op)
{
    return (const Google__Longrunning__Operation *)(const void *)op;
}

static inline const Google__Longrunning__ListOperationsResponse *lro_page_pb(const lro_page *p)
{
    return (const Google__Longrunning__ListOperationsResponse *)(const void *)p;
}

static inline const Google__Rpc__Status *lro_status_pb(const lro_status *s)
{
    return (const Google__Rpc__Status *)(const void *)s;
}

#ifdef __cplusplus
}
#endif
#endif /* LRO_LRO_PB_H */
