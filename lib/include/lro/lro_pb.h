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
 * Requires C11 (protoc-c writes oneofs as anonymous unions) and
 * <protobuf-c/protobuf-c.h> (libprotobuf-c-dev). The generated headers it
 * needs are gen/google/... in the source tree; tools/install.sh installs
 * them under include/lro/pb/google/... and rewrites this header's (and
 * their) includes to "lro/pb/google/...", so `pkg-config --cflags lro` is
 * all a program needs and no google/... header of its own is shadowed
 * (protoc-c's include guards still make one translation unit use whichever
 * copy of a message header it includes first).
 * Types, field names and enum constants are what you get: liblro does not
 * export the generated functions and descriptors (google__..._unpack,
 * ..._descriptor, the ..._INIT macros that name a descriptor), so do not
 * call them; protobuf-c's generic functions (protobuf_c_message_pack, ...)
 * work on these structs through their own descriptor pointer. Including
 * this header ties your code to protobuf-c's struct layout; the rest of
 * lro-c's API does not.
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
