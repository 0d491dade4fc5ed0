"""lro.testing.v1.OperationsAdmin from a client nobody here wrote:
python3-grpcio (Debian) with generic unary_unary calls and message classes
that protoc --python_out made from proto/ at test time. It steers
`lroctl serve --admin` the way a test suite in any language would: put an
operation, await it through google.longrunning.Operations, complete it,
inject faults and see them, read back the recorded calls with their headers.

Usage: admin_interop_test.py LROCTL   (PYTHONPATH holds the generated *_pb2)
"""
import subprocess
import sys
import threading
import time
import unittest

import grpc
from google.longrunning import operations_pb2 as ops
from google.protobuf import any_pb2, duration_pb2, empty_pb2, struct_pb2, wrappers_pb2
from google.rpc import error_details_pb2, status_pb2
from lro.testing.v1 import admin_pb2 as adm

LROCTL = sys.argv[1]
PARENT = "projects/py/locations/here/operations"


def steady_flags():
    """Operations must move only when the test says: when `serve` can make
    pending operations finish by themselves (--complete-after), turn that
    off."""
    out = subprocess.run([LROCTL, "serve", "--help"], capture_output=True, text=True,
                         timeout=30).stdout
    return ["--complete-after", "0"] if "--complete-after" in out else []


def start_server(*flags):
    p = subprocess.Popen([LROCTL, "serve", "--seed", "0", *steady_flags(), *flags],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    target = p.stdout.readline().strip()
    assert target.startswith("127.0.0.1:"), target
    return p, target


def pack(msg):
    a = any_pb2.Any()
    a.Pack(msg)
    return a


class Rpcs:
    def __init__(self, channel):
        def uu(service, method, resp):
            return channel.unary_unary("/%s/%s" % (service, method),
                                       request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=resp.FromString)
        A = "lro.testing.v1.OperationsAdmin"
        O = "google.longrunning.Operations"
        self.put = uu(A, "PutOperation", ops.Operation)
        self.complete = uu(A, "CompleteOperation", ops.Operation)
        self.fail = uu(A, "FailOperation", ops.Operation)
        self.set_metadata = uu(A, "SetMetadata", ops.Operation)
        self.add_fault = uu(A, "AddFault", empty_pb2.Empty)
        self.clear_faults = uu(A, "ClearFaults", empty_pb2.Empty)
        self.list_calls = uu(A, "ListCalls", adm.ListCallsResponse)
        self.clear_calls = uu(A, "ClearCalls", empty_pb2.Empty)
        self.get = uu(O, "GetOperation", ops.Operation)
        self.wait = uu(O, "WaitOperation", ops.Operation)
        # Bytes that are no message at all (a field claiming 5 bytes, with 1).
        self.put_raw = channel.unary_unary("/%s/PutOperation" % A,
                                           request_serializer=lambda b: b,
                                           response_deserializer=ops.Operation.FromString)


class AdminInteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc, cls.target = start_server("--admin")
        cls.channel = grpc.insecure_channel(cls.target)
        cls.r = Rpcs(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.proc.terminate()
        assert cls.proc.wait(timeout=20) == 0
        cls.proc.stdout.close()

    def setUp(self):
        self.r.clear_faults(adm.ClearFaultsRequest(), timeout=10)

    def assertCode(self, code, fn, req, needle=None):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(req, timeout=10)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        if needle is not None:
            self.assertIn(needle, cm.exception.details())
        return cm.exception

    def put_pending(self, name, progress=None):
        op = ops.Operation(name=name)
        if progress is not None:
            op.metadata.Pack(struct_pb2.Struct(fields={
                "progress": struct_pb2.Value(number_value=progress)}))
        return self.r.put(adm.PutOperationRequest(operation=op), timeout=10)

    def wait_for_call(self, method, name):
        """Until the server has recorded such a call (bounded)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = self.r.list_calls(adm.ListCallsRequest(methods=[method], name=name), timeout=10)
            if got.total > 0:
                return got
            time.sleep(0.02)
        self.fail("no %s call for %s recorded" % (method, name))

    def test_put_await_complete(self):
        name = PARENT + "/await-1"
        put = self.put_pending(name, progress=10)
        self.assertEqual(put.name, name)
        self.assertFalse(put.done)
        meta = struct_pb2.Struct()
        self.assertTrue(put.metadata.Unpack(meta))
        self.assertEqual(meta.fields["progress"].number_value, 10)

        # Await it through the Operations service while the test completes it.
        held = self.r.wait.future(ops.WaitOperationRequest(
            name=name, timeout=duration_pb2.Duration(seconds=30)), timeout=40)
        self.wait_for_call(adm.WAIT_OPERATION, name)
        self.assertFalse(held.done())
        done = self.r.complete(adm.CompleteOperationRequest(
            name=name, response=pack(wrappers_pb2.StringValue(value="built"))), timeout=10)
        self.assertTrue(done.done)
        got = held.result(timeout=20)
        self.assertTrue(got.done)
        self.assertEqual(got.WhichOneof("result"), "response")
        sv = wrappers_pb2.StringValue()
        self.assertTrue(got.response.Unpack(sv))
        self.assertEqual(sv.value, "built")
        # Metadata survives completion, as the C API documents.
        self.assertTrue(got.metadata.Unpack(meta))
        self.assertEqual(meta.fields["progress"].number_value, 10)
        self.assertEqual(self.r.get(ops.GetOperationRequest(name=name), timeout=10), got)

        e = self.assertCode(grpc.StatusCode.FAILED_PRECONDITION, self.r.complete,
                            adm.CompleteOperationRequest(name=name), "done already")
        # The admin errors carry a google.rpc.Status trailer too.
        bin_ = dict(e.trailing_metadata()).get("grpc-status-details-bin")
        self.assertIsNotNone(bin_)
        self.assertEqual(status_pb2.Status.FromString(bin_).code, 9)

    def test_delayed_complete_and_progress(self):
        name = PARENT + "/delayed-1"
        self.put_pending(name)
        op = self.r.set_metadata(adm.SetMetadataRequest(
            name=name, metadata=pack(struct_pb2.Struct(fields={
                "progress": struct_pb2.Value(number_value=55)}))), timeout=10)
        meta = struct_pb2.Struct()
        self.assertTrue(op.metadata.Unpack(meta))
        self.assertEqual(meta.fields["progress"].number_value, 55)
        self.assertEqual(self.r.get(ops.GetOperationRequest(name=name), timeout=10).metadata,
                         op.metadata)
        later = self.r.complete(adm.CompleteOperationRequest(
            name=name, delay=duration_pb2.Duration(nanos=200 * 1000000)), timeout=10)
        self.assertFalse(later.done)  # not yet: 200 ms from now
        got = self.r.wait(ops.WaitOperationRequest(
            name=name, timeout=duration_pb2.Duration(seconds=20)), timeout=30)
        self.assertTrue(got.done)
        self.assertIsNone(got.WhichOneof("result"))
        # SetMetadata with no metadata clears it.
        cleared = self.r.set_metadata(adm.SetMetadataRequest(name=name), timeout=10)
        self.assertFalse(cleared.HasField("metadata"))

    def test_fail_with_details(self):
        name = PARENT + "/fail-1"
        self.put_pending(name)
        info = error_details_pb2.ErrorInfo(reason="QUOTA", domain="example.com",
                                           metadata={"k": "v"})
        err = status_pb2.Status(code=8, message="out of quota", details=[pack(info)])
        self.r.fail(adm.FailOperationRequest(name=name, error=err), timeout=10)
        got = self.r.get(ops.GetOperationRequest(name=name), timeout=10)
        self.assertTrue(got.done)
        self.assertEqual(got.error.code, 8)
        self.assertEqual(got.error.message, "out of quota")
        back = error_details_pb2.ErrorInfo()
        self.assertTrue(got.error.details[0].Unpack(back))
        self.assertEqual(back, info)

    def test_put_done_operation(self):
        name = PARENT + "/done-1"
        op = ops.Operation(name=name, done=True,
                           error=status_pb2.Status(code=5, message="gone"))
        self.assertEqual(self.r.put(adm.PutOperationRequest(operation=op), timeout=10), op)
        self.assertEqual(self.r.get(ops.GetOperationRequest(name=name), timeout=10), op)

    def test_fault_status_with_retry_info(self):
        name = PARENT + "/faulted-1"
        self.put_pending(name)
        self.r.add_fault(adm.AddFaultRequest(fault=adm.Fault(
            methods=[adm.GET_OPERATION], name=name, times=2, kind=adm.STATUS,
            status=status_pb2.Status(code=14, message="try later"),
            retry_delay=duration_pb2.Duration(seconds=1, nanos=500000000))), timeout=10)
        for _ in range(2):
            e = self.assertCode(grpc.StatusCode.UNAVAILABLE, self.r.get,
                                ops.GetOperationRequest(name=name), "try later")
            st = status_pb2.Status.FromString(
                dict(e.trailing_metadata())["grpc-status-details-bin"])
            ri = error_details_pb2.RetryInfo()
            self.assertTrue(any(d.Unpack(ri) for d in st.details), st)
            self.assertEqual((ri.retry_delay.seconds, ri.retry_delay.nanos), (1, 500000000))
        # Two hits used up: the third call is answered for real.
        self.assertEqual(self.r.get(ops.GetOperationRequest(name=name), timeout=10).name, name)
        # Other names were never faulted.
        self.put_pending(name + "-other")
        self.r.get(ops.GetOperationRequest(name=name + "-other"), timeout=10)

    def test_fault_forever_and_clear(self):
        name = PARENT + "/forever-1"
        self.put_pending(name)
        self.r.add_fault(adm.AddFaultRequest(fault=adm.Fault(
            methods=[adm.WAIT_OPERATION], times=-1,
            status=status_pb2.Status(code=12, message="no wait here"))), timeout=10)
        for _ in range(3):
            self.assertCode(grpc.StatusCode.UNIMPLEMENTED, self.r.wait,
                            ops.WaitOperationRequest(name=name))
        self.r.get(ops.GetOperationRequest(name=name), timeout=10)  # Get not affected
        self.r.clear_faults(adm.ClearFaultsRequest(), timeout=10)
        got = self.r.wait(ops.WaitOperationRequest(name=name, timeout=duration_pb2.Duration()),
                          timeout=10)
        self.assertEqual(got.name, name)

    def test_fault_name_suffix(self):
        self.put_pending(PARENT + "/sfx-build")
        self.put_pending(PARENT + "/sfx-test")
        try:
            self.r.add_fault(adm.AddFaultRequest(fault=adm.Fault(
                methods=[adm.GET_OPERATION], name_suffix="-build", times=-1,
                status=status_pb2.Status(code=10, message="suffix hit"))), timeout=10)
        except grpc.RpcError as e:
            # A server build without suffix matching must refuse, not fault
            # every name (lib/testing/admin.c, MERGE(serve)).
            self.assertEqual(e.code(), grpc.StatusCode.UNIMPLEMENTED)
            self.assertIn("name_suffix", e.details())
            self.skipTest("this server build has no fault name suffixes")
        self.assertCode(grpc.StatusCode.ABORTED, self.r.get,
                        ops.GetOperationRequest(name=PARENT + "/sfx-build"), "suffix hit")
        self.r.get(ops.GetOperationRequest(name=PARENT + "/sfx-test"), timeout=10)

    def test_fault_latency_and_garbage(self):
        name = PARENT + "/slow-1"
        self.put_pending(name)
        self.r.add_fault(adm.AddFaultRequest(fault=adm.Fault(
            methods=[adm.GET_OPERATION], name=name, kind=adm.LATENCY,
            latency=duration_pb2.Duration(seconds=5))), timeout=10)
        # A 5 s latency against a 300 ms deadline: the client gives up first.
        self.assertCode(grpc.StatusCode.DEADLINE_EXCEEDED,
                        lambda req, timeout: self.r.get(req, timeout=0.3),
                        ops.GetOperationRequest(name=name))
        self.r.add_fault(adm.AddFaultRequest(fault=adm.Fault(
            methods=[adm.GET_OPERATION], name=name, kind=adm.GARBAGE)), timeout=10)
        self.assertCode(grpc.StatusCode.INTERNAL, self.r.get, ops.GetOperationRequest(name=name))

    def test_list_calls_with_headers(self):
        name = PARENT + "/calls-1"
        self.put_pending(name)
        self.r.get(ops.GetOperationRequest(name=name), timeout=7,
                   metadata=(("x-py-test", "hello"), ("x-py-trace-bin", b"\x00\x01\xfe")))
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.r.get,
                        ops.GetOperationRequest(name=name + "-missing"))
        got = self.r.list_calls(adm.ListCallsRequest(name=name), timeout=10)
        self.assertEqual(got.total, 1)
        self.assertEqual(len(got.calls), 1)
        c = got.calls[0]
        self.assertEqual(c.method, adm.GET_OPERATION)
        self.assertEqual(c.name, name)
        self.assertEqual(c.code, 0)
        headers = {h.key: h for h in c.headers}
        self.assertEqual(headers["x-py-test"].value, "hello")
        self.assertEqual(headers["x-py-trace-bin"].binary_value, b"\x00\x01\xfe")
        self.assertIn("grpc-python", headers["user-agent"].value)
        self.assertTrue(c.HasField("deadline"))
        ms = c.deadline.seconds * 1000 + c.deadline.nanos // 1000000
        # The client's 7 s travel as a grpc-timeout header that grpc rounds
        # up; a lower bound proves it is this call's deadline, not a default.
        self.assertTrue(5000 < ms <= 7250, ms)
        miss = self.r.list_calls(adm.ListCallsRequest(name=name + "-missing"), timeout=10)
        self.assertEqual([x.code for x in miss.calls], [5])
        # Filters: by method, and the newest only.
        gets = self.r.list_calls(adm.ListCallsRequest(methods=[adm.GET_OPERATION]), timeout=10)
        self.assertGreaterEqual(gets.total, 2)
        self.assertTrue(all(x.method == adm.GET_OPERATION for x in gets.calls))
        last = self.r.list_calls(adm.ListCallsRequest(limit=1), timeout=10)
        self.assertEqual(len(last.calls), 1)
        self.assertEqual(last.calls[0].name, name + "-missing")
        # Admin calls themselves are never recorded.
        every = self.r.list_calls(adm.ListCallsRequest(), timeout=10)
        self.assertTrue(all(x.method != adm.METHOD_UNSPECIFIED for x in every.calls))

    def test_clear_calls_keeps_total(self):
        name = PARENT + "/clear-1"
        self.put_pending(name)
        self.r.get(ops.GetOperationRequest(name=name), timeout=10)
        before = self.r.list_calls(adm.ListCallsRequest(), timeout=10)
        self.assertGreater(len(before.calls), 0)
        self.r.clear_calls(adm.ClearCallsRequest(), timeout=10)
        after = self.r.list_calls(adm.ListCallsRequest(), timeout=10)
        self.assertEqual(len(after.calls), 0)
        self.assertEqual(after.total, before.total)

    def test_bad_requests(self):
        IA = grpc.StatusCode.INVALID_ARGUMENT
        r = self.r
        self.assertCode(IA, r.put, adm.PutOperationRequest(), "operation is required")
        self.assertCode(IA, r.put, adm.PutOperationRequest(operation=ops.Operation()),
                        "operation.name")
        self.assertCode(IA, r.put, adm.PutOperationRequest(operation=ops.Operation(
            name="a\nb")), "operation.name")
        self.assertCode(IA, r.put, adm.PutOperationRequest(operation=ops.Operation(
            name="x", done=True, error=status_pb2.Status(code=0))), "operation.error.code")
        self.assertCode(IA, r.put_raw, b"\x0a\x05x", "not decodable")
        self.assertCode(IA, r.complete, adm.CompleteOperationRequest(), "name")
        self.assertCode(grpc.StatusCode.NOT_FOUND, r.complete,
                        adm.CompleteOperationRequest(name=PARENT + "/nope"))
        self.assertCode(IA, r.complete, adm.CompleteOperationRequest(
            name="x", delay=duration_pb2.Duration(seconds=-1)), "delay")
        self.assertCode(IA, r.complete, adm.CompleteOperationRequest(
            name="x", delay=duration_pb2.Duration(seconds=2 * 86400)), "delay")
        self.assertCode(IA, r.complete, adm.CompleteOperationRequest(
            name="x", response=any_pb2.Any()), "response.type_url")
        self.assertCode(IA, r.complete, adm.CompleteOperationRequest(
            name="x", error=status_pb2.Status(code=17)), "error.code")
        self.assertCode(IA, r.fail, adm.FailOperationRequest(name="x"), "error is required")
        self.assertCode(IA, r.set_metadata, adm.SetMetadataRequest(
            name="x", metadata=any_pb2.Any()), "metadata.type_url")
        self.assertCode(IA, r.add_fault, adm.AddFaultRequest(), "fault is required")
        self.assertCode(IA, r.add_fault, adm.AddFaultRequest(fault=adm.Fault()), "fault.status")
        self.assertCode(IA, r.add_fault, adm.AddFaultRequest(fault=adm.Fault(
            methods=[9], status=status_pb2.Status(code=14))), "fault.methods[0]")
        self.assertCode(IA, r.add_fault, adm.AddFaultRequest(fault=adm.Fault(
            kind=42, status=status_pb2.Status(code=14))), "fault.kind")
        self.assertCode(IA, r.add_fault, adm.AddFaultRequest(fault=adm.Fault(
            kind=adm.LATENCY)), "fault.latency is required")
        self.assertCode(IA, r.add_fault, adm.AddFaultRequest(fault=adm.Fault(
            kind=adm.DISCONNECT, latency=duration_pb2.Duration(seconds=1))), "fault.latency")
        self.assertCode(IA, r.add_fault, adm.AddFaultRequest(fault=adm.Fault(
            kind=adm.BIG)), "fault.big_size")
        self.assertCode(IA, r.list_calls, adm.ListCallsRequest(limit=-1), "limit")
        # Nothing above was added: a Get of a seeded-free server still works.
        self.put_pending(PARENT + "/after-bad")
        self.r.get(ops.GetOperationRequest(name=PARENT + "/after-bad"), timeout=10)


class AdminOffTest(unittest.TestCase):
    def test_unimplemented_without_flag(self):
        proc, target = start_server()
        try:
            with grpc.insecure_channel(target) as ch:
                r = Rpcs(ch)
                with self.assertRaises(grpc.RpcError) as cm:
                    r.put(adm.PutOperationRequest(operation=ops.Operation(name="x")),
                          timeout=10)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
                self.assertIn("--admin", cm.exception.details())
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(timeout=20), 0)
            proc.stdout.close()


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
