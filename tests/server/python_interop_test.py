"""The embedded Operations server against a client nobody here wrote:
python3-grpcio (Debian) with generic unary_unary calls, and message classes
built at run time from a FileDescriptorSet of proto/ (protoc
--include_imports). Proves the server speaks the real wire format.

Usage: python_interop_test.py DEMO_SERVER DESCRIPTOR_SET
"""
import subprocess
import sys

import grpc
from google.protobuf import descriptor_pb2, message_factory

PARENT = "projects/demo/locations/global/operations"

fds = descriptor_pb2.FileDescriptorSet()
with open(sys.argv[2], "rb") as f:
    fds.ParseFromString(f.read())
M = message_factory.GetMessages(list(fds.file))
Operation = M["google.longrunning.Operation"]
GetReq = M["google.longrunning.GetOperationRequest"]
ListReq = M["google.longrunning.ListOperationsRequest"]
ListResp = M["google.longrunning.ListOperationsResponse"]
CancelReq = M["google.longrunning.CancelOperationRequest"]
DeleteReq = M["google.longrunning.DeleteOperationRequest"]
WaitReq = M["google.longrunning.WaitOperationRequest"]
Empty = M["google.protobuf.Empty"]
Status = M["google.rpc.Status"]
ErrorInfo = M["google.rpc.ErrorInfo"]
BadRequest = M["google.rpc.BadRequest"]
StringValue = M["google.protobuf.StringValue"]
Struct = M["google.protobuf.Struct"]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


proc = subprocess.Popen([sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
target = proc.stdout.readline().strip()
print("server at", target, flush=True)
channel = grpc.insecure_channel(target)


def stub(method, resp):
    return channel.unary_unary(
        "/google.longrunning.Operations/" + method,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=resp.FromString,
    )


get = stub("GetOperation", Operation)
lst = stub("ListOperations", ListResp)
cancel = stub("CancelOperation", Empty)
delete = stub("DeleteOperation", Empty)
wait = stub("WaitOperation", Operation)


def code_of(fn, req, **kw):
    try:
        fn(req, timeout=10, **kw)
        return grpc.StatusCode.OK, None
    except grpc.RpcError as e:
        return e.code(), e


# Get: a success with a StringValue response, a failure with ErrorInfo.
op = get(GetReq(name=PARENT + "/op-00000"), timeout=10,
         metadata=(("x-goog-request-params", "name=" + PARENT + "/op-00000"),))
check(op.done and op.WhichOneof("result") == "response", "op-00000 done with response")
check(op.response.type_url == "type.googleapis.com/google.protobuf.StringValue", "type url")
sv = StringValue.FromString(op.response.value)
check(sv.value == "result-0", "StringValue result-0, got %r" % sv.value)

op = get(GetReq(name=PARENT + "/op-00001"), timeout=10)
check(op.done and op.WhichOneof("result") == "error" and op.error.code == 3, "op-00001 failed")
check(len(op.error.details) == 1, "one detail")
ei = ErrorInfo.FromString(op.error.details[0].value)
check(ei.reason == "SEEDED_FAILURE" and ei.metadata["index"] == "1", "ErrorInfo")

op = get(GetReq(name=PARENT + "/op-00002"), timeout=10)
check(not op.done, "op-00002 pending")
st = Struct.FromString(op.metadata.value)
check(st.fields["progress"].number_value == 2.0, "progress 2")

code, err = code_of(get, GetReq(name=PARENT + "/missing"))
check(code == grpc.StatusCode.NOT_FOUND, "missing -> NOT_FOUND, got %s" % code)
details = [v for k, v in err.trailing_metadata() if k == "grpc-status-details-bin"]
check(len(details) == 1 and Status.FromString(details[0]).code == 5, "status details trailer")
# Like Google's servers: the trailer's Status carries an ErrorInfo.
st = Status.FromString(details[0])
check(st.details[0].type_url == "type.googleapis.com/google.rpc.ErrorInfo", "ErrorInfo first")
ei = ErrorInfo.FromString(st.details[0].value)
check(ei.reason == "OPERATION_NOT_FOUND" and ei.domain == "lro-c.testing" and
      ei.metadata["method"] == "GetOperation", "ErrorInfo %r" % ei)
code, _ = code_of(get, GetReq(name=""))
check(code == grpc.StatusCode.INVALID_ARGUMENT, "empty name -> INVALID_ARGUMENT")

# List: pages of 7 over 20 operations, in order, last token empty.
names, token, pages = [], "", 0
while True:
    resp = lst(ListReq(name=PARENT, page_size=7, page_token=token), timeout=10)
    pages += 1
    names += [o.name for o in resp.operations]
    token = resp.next_page_token
    if not token:
        break
check(names == [PARENT + "/op-%05d" % i for i in range(20)], "list order: %r" % names)
check(pages == 3, "3 pages, got %d" % pages)
resp = lst(ListReq(name=PARENT, filter="done=false"), timeout=10)
check(len(resp.operations) == 5 and resp.next_page_token == "", "5 pending")
code, err = code_of(lst, ListReq(name=PARENT, page_token="not-a-token"))
check(code == grpc.StatusCode.INVALID_ARGUMENT, "bad token -> INVALID_ARGUMENT")
st = Status.FromString([v for k, v in err.trailing_metadata()
                        if k == "grpc-status-details-bin"][0])
br = BadRequest.FromString(st.details[1].value)
check(st.details[1].type_url == "type.googleapis.com/google.rpc.BadRequest" and
      br.field_violations[0].field == "page_token", "BadRequest names page_token")

# Cancel a pending one -> error code 1; Delete -> NOT_FOUND afterwards.
cancel(CancelReq(name=PARENT + "/op-00010"), timeout=10)
op = get(GetReq(name=PARENT + "/op-00010"), timeout=10)
check(op.done and op.error.code == 1, "cancelled -> code 1")
code, _ = code_of(cancel, CancelReq(name=PARENT + "/nope"))
check(code == grpc.StatusCode.NOT_FOUND, "cancel unknown -> NOT_FOUND")
delete(DeleteReq(name=PARENT + "/op-00003"), timeout=10)
code, _ = code_of(get, GetReq(name=PARENT + "/op-00003"))
check(code == grpc.StatusCode.NOT_FOUND, "deleted -> NOT_FOUND")

# Wait: op-00006 completes 300 ms after start; op-00014 stays pending.
req = WaitReq(name=PARENT + "/op-00006")
req.timeout.seconds = 5
op = wait(req, timeout=10)
check(op.done and op.response.type_url == "type.googleapis.com/google.protobuf.Empty",
      "wait -> done")
req = WaitReq(name=PARENT + "/op-00014")
req.timeout.nanos = 200 * 1000 * 1000
op = wait(req, timeout=10)
check(not op.done, "wait timeout -> not done")

# A method the server does not have.
code, _ = code_of(channel.unary_unary("/google.longrunning.Operations/Nope"), b"")
check(code == grpc.StatusCode.UNIMPLEMENTED, "unknown method -> UNIMPLEMENTED, got %s" % code)

channel.close()
out, _ = proc.communicate(input="", timeout=30)
print(out, end="")
check(proc.returncode == 0, "demo_server exit code %d" % proc.returncode)
check("calls 17\n" in out, "server counted 17 calls (unknown methods are not counted)")
check("header x-goog-request-params name=" + PARENT + "/" in out, "header recorded")

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("python_interop_test: all passed")
