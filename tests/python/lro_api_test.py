#!/usr/bin/python3
"""The Python API of bindings/python/lro, call by call: exceptions and their
details, typed results, per-call options, policies, Wait, cancel-and-await,
partial success, limits, asyncio cancellation and timeouts, temporaries
dropped in every order, the blocking client. Against the embedded server
(lro.testing) and against an independent Operations server written here
with python3-grpcio (message classes from a FileDescriptorSet that
lro_api_test.sh builds with protoc, including example_service.proto's
types, which lro-c does not know).

Usage: lro_api_test.py DESCRIPTOR_SET (LRO_LIBRARY etc. set by the .sh)
"""
import asyncio
import gc
import itertools
import pickle
import sys
import threading
import logging
import time
import unittest
import weakref
from concurrent import futures as cf

import grpc
from google.protobuf import descriptor_pb2, message_factory, struct_pb2, wrappers_pb2

import lro
import lro._aio
import lro.testing as lt

PARENT = "projects/demo/locations/global/operations"
ERRINFO = "type.googleapis.com/google.rpc.ErrorInfo"
TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

_fds = descriptor_pb2.FileDescriptorSet()
DESCRIPTOR_SET = sys.argv.pop(1)
with open(DESCRIPTOR_SET, "rb") as _f:
    _fds.ParseFromString(_f.read())
M = message_factory.GetMessages(list(_fds.file))
PbOperation = M["google.longrunning.Operation"]
PbStatus = M["google.rpc.Status"]
PbErrorInfo = M["google.rpc.ErrorInfo"]
PbRetryInfo = M["google.rpc.RetryInfo"]
BuildMetadata = M["example.v1.BuildMetadata"]
BuildResult = M["example.v1.BuildResult"]
QuotaHint = M["example.v1.QuotaHint"]


def opname(i):
    return "%s/op-%05d" % (PARENT, i)


def url(cls):
    return "type.googleapis.com/" + cls.DESCRIPTOR.full_name


def errinfo(reason, domain="example.com", **md):
    return ERRINFO, PbErrorInfo(reason=reason, domain=domain, metadata=md).SerializeToString()


class Embedded(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.srv = lt.Server()
        self.srv.seed(PARENT, 20)

    def tearDown(self):
        self.srv.stop()

    async def asyncSetUp(self):
        self.ops = lro.Client(self.srv.target, plaintext=True, timeout=10)

    async def asyncTearDown(self):
        self.ops.close()

    async def settle(self, pred, timeout=20.0):
        end = time.monotonic() + timeout
        while not pred():
            self.assertLess(time.monotonic(), end, "condition never became true")
            await asyncio.sleep(0.01)


class ErrorsTest(Embedded):
    def test_one_class_per_code(self):
        names = ["Cancelled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
                 "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
                 "Aborted", "OutOfRange", "MethodNotImplemented", "InternalServerError",
                 "ServiceUnavailable", "DataLoss", "Unauthenticated"]
        for code, name in enumerate(names, 1):
            cls = getattr(lro, name)
            self.assertTrue(issubclass(cls, lro.LroError), name)
            self.assertIs(lro.exception_class(code), cls)
            self.assertEqual(cls.grpc_status_code, code)
        self.assertIs(lro.Unavailable, lro.ServiceUnavailable)
        self.assertIs(lro.Internal, lro.InternalServerError)
        self.assertIs(lro.Unimplemented, lro.MethodNotImplemented)
        self.assertTrue(issubclass(lro.WaitTimeout, lro.DeadlineExceeded))
        self.assertTrue(issubclass(lro.WaitTimeout, TimeoutError))
        self.assertEqual(len(set(lro.exception_class(c) for c in range(1, 17))), 16)

    async def test_not_found_with_error_info(self):
        with self.assertRaises(lro.NotFound) as cm:
            await self.ops.get(PARENT + "/nope")
        e = cm.exception
        self.assertEqual((e.code, e.code_name, e.result_name), (5, "NOT_FOUND", "LRO_ERR_RPC"))
        self.assertEqual(e.reason, "OPERATION_NOT_FOUND")
        self.assertEqual(e.error_info.domain, "lro-c.testing")
        self.assertEqual(e.metadata, {"method": "GetOperation"})
        self.assertIsNone(e.retry_delay)
        e2 = pickle.loads(pickle.dumps(e))
        self.assertIs(type(e2), lro.NotFound)
        self.assertEqual((e2.code, e2.message, e2.details), (e.code, e.message, e.details))
        self.assertEqual(e2.reason, "OPERATION_NOT_FOUND")

    async def test_retry_info_and_error_info_from_a_fault(self):
        self.srv.add_status_fault(methods=lt.GET, code=14, message="busy", retry_delay=0.25,
                                  details=[errinfo("BACKEND_BUSY", zone="z1")])
        with self.assertRaises(lro.ServiceUnavailable) as cm:
            await self.ops.get(opname(0), retry=lro.RetryPolicy(max_attempts=1))
        e = cm.exception
        self.assertEqual(e.retry_delay, 0.25)
        self.assertEqual(e.error_info, lro.ErrorInfo("BACKEND_BUSY", "example.com", {"zone": "z1"}))
        self.assertEqual([d["@type"] for d in e.details_json],
                         [ERRINFO, "type.googleapis.com/google.rpc.RetryInfo"])
        self.assertEqual(e.details_json[1]["retryDelay"], "0.250s")

    async def test_unknown_detail_types_and_the_decoder_hook(self):
        hint = QuotaHint(bucket="b-1").SerializeToString()
        self.srv.add_status_fault(methods=lt.GET, code=8, message="quota",
                                  details=[(url(QuotaHint), hint)])
        with self.assertRaises(lro.ResourceExhausted) as cm:
            await self.ops.get(opname(0))
        e = cm.exception
        # The embedded server puts its own ErrorInfo first.
        self.assertEqual(e.reason, "INJECTED_FAULT")
        self.assertEqual(e.details[1:], [lro.Any(url(QuotaHint), hint)])
        # lro-c does not know the type: the lossless JSON fallback...
        self.assertEqual(set(e.details_json[1]), {"@type", "value"})
        self.assertEqual(e.unpacked_details()[1]["@type"], url(QuotaHint))
        # ...until a registry hook decodes it.
        calls = []

        def registry(type_url, value):
            calls.append(type_url)
            cls = M.get(type_url.rsplit("/", 1)[-1])
            return cls.FromString(value) if cls else None

        lro.set_any_decoder(registry)
        try:
            self.assertEqual(e.unpacked_details()[1], QuotaHint(bucket="b-1"))
            self.assertEqual(e.unpacked_details()[0]["reason"], "INJECTED_FAULT")
        finally:
            lro._errors._any_decoders.remove(registry)
        self.assertEqual(set(calls), {url(QuotaHint)})  # never asked about known types

    async def test_refusals_before_the_call(self):
        with self.assertRaises(lro.InvalidArgument) as cm:
            self.ops.get("bad\x01name")
        self.assertEqual(cm.exception.result_name, "LRO_ERR_BAD_NAME")
        with self.assertRaises(lro.InvalidArgument) as cm:
            self.ops.get(opname(0), headers={"Upper": "x"})
        self.assertIn("header key", str(cm.exception))
        self.assertEqual(cm.exception.result_name, "LRO_ERR_BAD_HEADER")
        with self.assertRaises(lro.InvalidArgument) as cm:
            self.ops.get(opname(0), traceparent="00-nope")
        self.assertIn("traceparent", str(cm.exception))
        with self.assertRaises(lro.InvalidArgument):
            self.ops.wait_done(opname(2), policy=lro.PollPolicy(initial_delay=-1))
        with self.assertRaises(lro.InvalidArgument):
            lro.RetryPolicy(retry_codes=["NOPE"])._c()
        with self.assertRaises(lro.InvalidArgument) as cm:
            self.ops.get(opname(0), retry=lro.RetryPolicy(max_attempts=0))
        self.assertIn("max_attempts", str(cm.exception))


class ResultTest(Embedded):
    async def test_typed_and_dict_results(self):
        op = await self.ops.get(opname(0))
        self.assertEqual(op.result(wrappers_pb2.StringValue), wrappers_pb2.StringValue(
            value="result-0"))
        self.assertEqual(op.result(), {"@type": url(wrappers_pb2.StringValue),
                                       "value": "result-0"})
        with self.assertRaises(lro.InvalidArgument) as cm:
            op.result(struct_pb2.Struct)
        self.assertEqual(cm.exception.result_name, "LRO_ERR_TYPE_MISMATCH")
        op = await self.ops.get(opname(3))
        self.assertEqual(op.result(struct_pb2.Struct)["index"], 3)
        pending = await self.ops.get(opname(2))
        self.assertEqual(pending.metadata(struct_pb2.Struct)["progress"], 2)
        self.assertEqual(pending.metadata()["value"], {"progress": 2})
        with self.assertRaises(lro.FailedPrecondition) as cm:
            pending.result()
        self.assertEqual(cm.exception.result_name, "LRO_ERR_NOT_DONE")
        failed = await self.ops.get(opname(1))
        with self.assertRaises(lro.InvalidArgument) as cm:
            failed.result()
        self.assertEqual(cm.exception.reason, "SEEDED_FAILURE")
        self.assertEqual(cm.exception.result_name, "LRO_ERR_OP_FAILED")
        self.assertEqual(failed.exception().metadata, {"index": "1"})

    async def test_bytes_roundtrip_and_native_protobuf(self):
        for i in range(4):
            op = await self.ops.get(opname(i))
            b = op.to_bytes()
            self.assertEqual(lro.Operation.from_bytes(b), op)
            pb = op.to_proto(PbOperation)
            self.assertEqual(pb.name, opname(i))
            self.assertEqual(pb.SerializeToString(deterministic=True), b)
            if op.error:
                self.assertEqual(PbStatus.FromString(op.error.to_bytes()).code, 3)
                self.assertEqual(lro.Status.from_bytes(op.error.to_bytes()), op.error)
        with self.assertRaises(lro.LroError) as cm:
            lro.Operation.from_bytes(b"\x0a\x0aab")
        self.assertEqual(cm.exception.result_name, "LRO_ERR_DECODE")
        self.assertIn("google.longrunning.Operation", str(cm.exception))

    async def test_progress_gets_a_copy_that_outlives_the_callback(self):
        self.srv.put_pending("jobs/r/1", (url(wrappers_pb2.Int32Value), b"\x08\x01"))
        seen = []
        fut = self.ops.wait_done("jobs/r/1", progress=seen.append, method="poll",
                                 poll_interval=0.01)
        await self.settle(lambda: seen)
        saved = seen[0].to_bytes()
        fut.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await fut
        self.ops.close()
        # Another client (another process, in real life) resumes from bytes.
        self.srv.complete("jobs/r/1", delay=0.1, response=(url(wrappers_pb2.Int32Value), b"\x08\x07"))
        with lro.SyncClient(self.srv.target, plaintext=True) as sc:
            op = sc.wait_done(lro.Operation.from_bytes(saved).name, timeout=20, method="poll",
                              poll_interval=0.02)
        self.assertEqual(op.result(wrappers_pb2.Int32Value).value, 7)


class CallOptionsTest(Embedded):
    async def test_headers_bin_and_trace_context_on_every_attempt_and_poll(self):
        bin_value = b"\x00\x01\xffzero"
        opts = lro.CallOptions(headers=[("x-tenant", "t1"), ("x-blob-bin", bin_value)],
                               traceparent=TP, tracestate="k=v")
        await self.ops.get(opname(0), options=opts)
        r = self.srv.last_request(lt.GET, opname(0))
        self.assertEqual((r.header("x-tenant"), r.header("x-blob-bin")), (b"t1", bin_value))
        self.assertEqual((r.header("traceparent"), r.header("tracestate")),
                         (TP.encode(), b"k=v"))
        self.srv.put_pending("jobs/h/1")
        self.srv.complete("jobs/h/1", delay=0.2)
        await self.ops.wait_done("jobs/h/1", method="poll", poll_interval=0.02, options=opts)
        self.assertGreater(self.srv.call_count(lt.GET, "jobs/h/1"), 1)
        r = self.srv.last_request(lt.GET, "jobs/h/1")
        self.assertEqual((r.header("x-blob-bin"), r.header("traceparent")),
                         (bin_value, TP.encode()))
        # Client-wide headers, a mapping this time.
        async with lro.Client(self.srv.target, plaintext=True,
                              headers={"x-app": "a", "x-k-bin": b"\x00"}) as ops:
            await ops.get(opname(1))
        r = self.srv.last_request(lt.GET, opname(1))
        self.assertEqual((r.header("x-app"), r.header("x-k-bin")), (b"a", b"\x00"))

    async def test_per_call_timeout(self):
        self.srv.add_latency_fault(3, methods=lt.GET, times=1)
        with self.assertRaises(lro.DeadlineExceeded):
            await self.ops.get(opname(0), timeout=0.2)
        r = self.srv.last_request(lt.GET, opname(0))
        self.assertLessEqual(r.deadline_ms, 200)

    async def test_retry_policy_per_call_and_per_client(self):
        self.srv.add_status_fault(methods=lt.GET, times=2, code=14)
        op = await self.ops.get(opname(0), retry=lro.RetryPolicy(max_attempts=3,
                                                                 initial_backoff=0.01))
        self.assertEqual(op.name, opname(0))
        self.assertEqual(self.srv.call_count(lt.GET, opname(0)), 3)
        self.srv.add_status_fault(methods=lt.GET, times=1, code=10)
        with self.assertRaises(lro.Aborted):  # not a retried code by default
            await self.ops.get(opname(0))
        self.srv.add_status_fault(methods=lt.GET, times=1, code=10)
        op = await self.ops.get(opname(0), retry=lro.RetryPolicy(
            initial_backoff=0.01, retry_codes=[lro.Aborted, "UNAVAILABLE"]))
        self.assertEqual(op.name, opname(0))
        async with lro.Client(self.srv.target, plaintext=True,
                              retry=lro.RetryPolicy(max_attempts=1)) as ops:
            self.srv.add_status_fault(methods=lt.GET, times=1, code=14)
            with self.assertRaises(lro.ServiceUnavailable):
                await ops.get(opname(0))


class RpcTest(Embedded):
    async def test_wait_rpc(self):
        self.srv.put_pending("jobs/w/1")
        op = await self.ops.wait("jobs/w/1", server_timeout=0.2)
        self.assertFalse(op.done)
        self.assertEqual(self.srv.last_request(lt.WAIT, "jobs/w/1").wait_timeout_ms, 200)
        self.srv.complete("jobs/w/1", delay=0.1)
        op = await self.ops.wait("jobs/w/1", server_timeout=10)
        self.assertTrue(op.done)

    async def test_cancel_and_wait(self):
        op = await self.ops.cancel_and_wait(opname(2), timeout=10)
        self.assertEqual(op.error.code_name, "CANCELLED")
        with self.assertRaises(lro.Cancelled) as cm:
            op.result()
        self.assertEqual(cm.exception.result_name, "LRO_ERR_OP_CANCELLED")
        self.assertEqual(self.srv.call_count(lt.CANCEL, opname(2)), 1)
        self.srv.add_status_fault(methods=lt.CANCEL, code=12, times=1)
        with self.assertRaises(lro.MethodNotImplemented):
            await self.ops.cancel_and_wait(opname(6), timeout=10)

    async def test_return_partial_success(self):
        self.srv.set_unreachable(PARENT, ["locations/x", "locations/y"])
        with self.assertRaises(lro.ServiceUnavailable):
            await self.ops.list(PARENT).next_page()
        pager = self.ops.list(PARENT, page_size=50, return_partial_success=True)
        names = [o.name async for o in pager]
        self.assertEqual(len(names), 20)
        self.assertEqual(pager.unreachable, ["locations/x", "locations/y"])
        self.assertTrue(self.srv.last_request(lt.LIST).partial)

    async def test_receive_limit_and_lb_policy(self):
        async with lro.Client(self.srv.target, plaintext=True, max_receive_size=200,
                              lb_policy="round_robin") as ops:
            self.assertEqual((await ops.get(opname(0))).name, opname(0))
            with self.assertRaises(lro.ResourceExhausted):
                await ops.list(PARENT, page_size=20).next_page()
        with self.assertRaises(lro.InvalidArgument):
            lro.Client(self.srv.target, plaintext=True, max_receive_size=-5)

    async def test_poll_policy_fields_reach_lro_c(self):
        p = lro.PollPolicy(initial_delay=0.01, multiplier=1.0, max_delay=0.05, jitter=0,
                           timeout=20, method="poll", wait_timeout=3, transient_budget=5,
                           transient_codes=[lro.Unavailable, 4], progress_interval=0.5)._c()
        self.assertEqual((p.struct_size, p.initial_delay_ms, p.max_delay_ms, p.total_timeout_ms,
                          p.method, p.wait_timeout_ms, p.transient_budget_ms, p.transient_codes,
                          p.progress_interval_ms),
                         (88, 10, 50, 20000, 1, 3000, 5000, (1 << 14) | (1 << 4), 500))
        # Transient failures are retried within the budget...
        self.srv.put_pending("jobs/p/1")
        self.srv.complete("jobs/p/1", delay=0.3)
        self.srv.add_status_fault(methods=lt.GET, name="jobs/p/1", times=6, code=14)
        pol = lro.PollPolicy(initial_delay=0.01, max_delay=0.05, method="poll",
                             transient_budget=10)
        op = await self.ops.wait_done("jobs/p/1", policy=pol, timeout=20,
                                      retry=lro.RetryPolicy(max_attempts=1))
        self.assertTrue(op.done)
        # ...and end the await when the budget is spent.
        self.srv.put_pending("jobs/p/2")
        self.srv.add_status_fault(methods=lt.GET, name="jobs/p/2", times=-1, code=14)
        with self.assertRaises(lro.ServiceUnavailable) as cm:
            await self.ops.wait_done("jobs/p/2", timeout=20, retry=lro.RetryPolicy(max_attempts=1),
                                     policy=lro.PollPolicy(initial_delay=0.01, max_delay=0.02,
                                                           method="poll", transient_budget=0.2))
        self.assertIn("retried for", cm.exception.message)
        # A code that is not transient ends it at once.
        self.srv.clear_faults()
        self.srv.add_status_fault(methods=lt.GET, name="jobs/p/2", times=-1, code=14)
        with self.assertRaises(lro.ServiceUnavailable):
            await self.ops.wait_done("jobs/p/2", timeout=20, retry=lro.RetryPolicy(max_attempts=1),
                                     policy=lro.PollPolicy(method="poll",
                                                           transient_codes=["ABORTED"]))
        self.assertEqual(self.srv.call_count(lt.GET, "jobs/p/2") > 0, True)


class AsyncioTest(Embedded):
    async def test_task_cancel_stops_the_await_locally(self):
        self.srv.put_pending("jobs/c/1")
        task = asyncio.ensure_future(self.ops.wait_done("jobs/c/1", method="poll",
                                                        poll_interval=0.02))
        await self.settle(lambda: self.srv.call_count(lt.GET, "jobs/c/1") >= 1)
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        await self.settle(lambda: self.ops.inflight == 0 and not lro._calls)
        n = self.srv.call_count(lt.GET, "jobs/c/1")
        await asyncio.sleep(0.1)
        self.assertEqual(self.srv.call_count(lt.GET, "jobs/c/1"), n, "polling stopped")
        self.assertEqual(self.srv.call_count(lt.CANCEL), 0, "the server was not told")
        self.assertFalse((await self.ops.get("jobs/c/1")).done)

    async def test_wait_for_and_timeout_contexts(self):
        self.srv.add_latency_fault(5, methods=lt.GET, times=2)
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(self.ops.get(opname(0)), 0.1)
        if hasattr(asyncio, "timeout"):
            with self.assertRaises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await self.ops.get(opname(1))
        await self.settle(lambda: self.ops.inflight == 0 and not lro._calls)
        self.srv.clear_faults()
        self.assertEqual((await self.ops.get(opname(0))).name, opname(0))

    async def test_await_timeout_is_wait_timeout_with_last_state(self):
        self.srv.put_pending("jobs/t/1", (url(wrappers_pb2.Int32Value), b"\x08\x05"))
        with self.assertRaises(lro.DeadlineExceeded) as cm:
            await self.ops.wait_done("jobs/t/1", timeout=0.2, method="poll", poll_interval=0.02)
        e = cm.exception
        self.assertIsInstance(e, lro.WaitTimeout)
        self.assertIsInstance(e, TimeoutError)
        self.assertEqual(e.result_name, "LRO_ERR_TIMEOUT")
        self.assertEqual(e.operation.metadata(wrappers_pb2.Int32Value).value, 5)

    async def test_cancelled_by_close(self):
        self.srv.add_latency_fault(5, methods=lt.GET, times=-1)
        f = self.ops.get(opname(0))
        self.ops.close()
        with self.assertRaises(lro.Cancelled) as cm:
            await f
        self.assertEqual(cm.exception.result_name, "LRO_ERR_SHUTDOWN")


class TemporariesTest(Embedded):
    """Every temporary object of `await ops.list(P).next_page()` and
    friends, dropped in every order: no call cancels itself, nothing leaks."""

    async def test_one_liners(self):
        t = self.srv.target
        page = await lro.Client(t, plaintext=True).list(PARENT, page_size=3).next_page()
        self.assertEqual([o.name for o in page], [opname(i) for i in range(3)])
        page = await self.ops.list(PARENT, page_size=2).next_page()
        self.assertEqual(len(page), 2)
        self.assertEqual((await lro.Client(t, plaintext=True).get(opname(0))).name, opname(0))
        names = [o.name async for o in lro.Client(t, plaintext=True).list(PARENT, page_size=7)]
        self.assertEqual(len(names), 20)
        op = await lro.Client(t, plaintext=True).wait_done(opname(3), timeout=10)
        self.assertTrue(op.done)
        await self.settle(lambda: gc.collect() is not None and not lro._calls)

    async def test_every_drop_order(self):
        for order in itertools.permutations(["client", "pager", "future"]):
            with self.subTest(order=order):
                self.srv.add_latency_fault(0.05, methods=lt.LIST, times=1)
                objs = {"client": lro.Client(self.srv.target, plaintext=True)}
                objs["pager"] = objs["client"].list(PARENT, page_size=4)
                objs["future"] = objs["pager"].next_page()
                refs = {k: weakref.ref(v) for k, v in objs.items() if k != "future"}
                for what in order:
                    if what == "future":
                        page = await objs.pop("future")
                        self.assertEqual([o.name for o in page], [opname(i) for i in range(4)])
                    else:
                        del objs[what]
                    gc.collect()
                    await asyncio.sleep(0)
                del page
                await self.settle(lambda: gc.collect() is not None and not lro._calls and
                                  all(r() is None for r in refs.values()))

    async def test_dropped_future_with_everything_else_gone(self):
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: None)
        for order in itertools.permutations(["client", "pager", "future"]):
            with self.subTest(order=order):
                self.srv.add_latency_fault(0.1, methods=lt.LIST, times=1)
                objs = {"client": lro.Client(self.srv.target, plaintext=True)}
                objs["pager"] = objs["client"].list(PARENT, page_size=4)
                objs["future"] = objs["pager"].next_page()
                for what in order:
                    del objs[what]
                    gc.collect()
                await self.settle(lambda: gc.collect() is not None and not lro._calls)

    async def test_dropped_future_still_advances_a_held_pager(self):
        pager = self.ops.list(PARENT, page_size=4)
        pager.next_page()  # dropped at once
        gc.collect()
        await self.settle(lambda: pager.page_token not in ("", None) and not lro._calls)
        page = await pager.next_page()
        self.assertEqual(page.operations[0].name, opname(4))


class ObservabilityTest(Embedded):
    async def test_events_of_a_retried_get_on_the_loop(self):
        events, threads = [], set()

        def on_event(ev):
            threads.add(threading.get_ident())
            events.append(ev)
        self.srv.add_status_fault(methods=lt.GET, times=1, code=14, message="blip")
        async with lro.Client(self.srv.target, plaintext=True, events=on_event,
                              retry=lro.RetryPolicy(initial_backoff=0.01)) as ops:
            await ops.get(opname(0), traceparent=TP)
            await self.settle(lambda: any(e.kind == "CALL_FINISHED" for e in events))
        calls = [e for e in events if e.kind != "CHANNEL_STATE"]
        self.assertEqual([e.kind for e in calls],
                         ["CALL_STARTED", "ATTEMPT_STARTED", "ATTEMPT_FINISHED",
                          "RETRY_SCHEDULED", "ATTEMPT_STARTED", "ATTEMPT_FINISHED",
                          "CALL_FINISHED"])
        self.assertEqual(calls[2].code, 14)
        self.assertEqual(calls[3].retry_reason, "backoff")
        self.assertEqual((calls[5].code, calls[6].result, calls[6].attempts), (0, 0, 2))
        self.assertEqual({e.method for e in calls}, {"GetOperation"})
        self.assertEqual(calls[1].trace_id, TP[3:35])
        self.assertNotEqual(calls[1].span_id, calls[4].span_id)
        # Delivered on the event loop's thread, not lro-c's.
        self.assertEqual(threads, {threading.get_ident()})

    def test_events_of_a_sync_client_and_the_logger(self):
        records = []

        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record)
        log = logging.getLogger("lro-test")
        log.propagate = False
        log.setLevel(logging.DEBUG)
        log.addHandler(Keep())
        lro.set_logger(log, logging.DEBUG)
        try:
            events = []
            with lro.SyncClient(self.srv.target, plaintext=True, events=events.append,
                                headers={"x-api-key": "k3y-v4lue",
                                         "x-session-token": "s3cr3t-t0ken"}) as ops:
                self.assertEqual(ops.get(opname(1)).name, opname(1))
                with self.assertRaises(lro.NotFound):
                    ops.get(PARENT + "/nope")
            kinds = [e.kind for e in events if e.call_id and e.kind != "CHANNEL_STATE"]
            self.assertEqual(kinds.count("CALL_FINISHED"), 2)
            lines = [r.getMessage() for r in records]
            self.assertTrue(any("CALL_FINISHED" in m for m in lines), lines[:5])
            self.assertTrue(any(r.levelno == logging.WARNING for r in records))
            for m in lines:
                self.assertNotIn("s3cr3t-t0ken", m)
                self.assertNotIn("k3y-v4lue", m)
        finally:
            lro.set_logger(None)
        n = len(records)
        with lro.SyncClient(self.srv.target, plaintext=True) as ops:
            ops.get(opname(2))
        self.assertEqual(len(records), n)  # off again


class SyncTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = lt.Server()
        cls.srv.seed(PARENT, 20)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_calls(self):
        with lro.SyncClient(self.srv.target, plaintext=True, timeout=10) as ops:
            self.assertEqual(ops.get(opname(0)).result(wrappers_pb2.StringValue).value,
                             "result-0")
            self.assertEqual(len(list(ops.list(PARENT, page_size=3))), 20)
            page = ops.list_page(PARENT, page_size=5, filter="done=true")
            self.assertEqual(len(page), 5)
            self.assertTrue(page.next_page_token)
            with self.assertRaises(lro.NotFound):
                ops.get(PARENT + "/nope")
            self.srv.put_pending("jobs/s/1", (url(wrappers_pb2.Int32Value), b"\x08\x01"))
            self.srv.complete("jobs/s/1", delay=0.2)
            threads = []
            op = ops.wait_done("jobs/s/1", timeout=10, method="poll", poll_interval=0.02,
                               progress=lambda o: threads.append(threading.get_ident()))
            self.assertTrue(op.done)
            self.assertEqual(set(threads), {threading.get_ident()})
            self.srv.put_pending("jobs/s/2")
            with self.assertRaises(lro.WaitTimeout):
                ops.wait_done("jobs/s/2", timeout=0.1, method="poll", poll_interval=0.02)
            op = ops.cancel_and_wait("jobs/s/2", timeout=10)
            self.assertEqual(op.error.code, 1)
            self.assertFalse(ops.wait(opname(2), server_timeout=0.1).done)
        with self.assertRaises(lro.Cancelled) as cm:
            ops.get(opname(0))
        self.assertEqual(cm.exception.result_name, "LRO_ERR_SHUTDOWN")

    def test_threads_share_one_client(self):
        with lro.SyncClient(self.srv.target, plaintext=True) as ops:
            with cf.ThreadPoolExecutor(4) as ex:
                names = list(ex.map(lambda i: ops.get(opname(i % 20)).name, range(40)))
        self.assertEqual(names, [opname(i % 20) for i in range(40)])

    def test_ctrl_c_cancels_the_call_locally(self):
        import signal

        def interrupt(signum, frame):
            raise KeyboardInterrupt

        self.srv.put_pending("jobs/s/4")
        old = signal.signal(signal.SIGALRM, interrupt)
        try:
            with lro.SyncClient(self.srv.target, plaintext=True) as ops:
                signal.setitimer(signal.ITIMER_REAL, 0.2)
                with self.assertRaises(KeyboardInterrupt):
                    ops.wait_done("jobs/s/4", method="poll", poll_interval=0.02)
                end = time.monotonic() + 20
                while ops.inflight and time.monotonic() < end:
                    time.sleep(0.01)
                self.assertEqual(ops.inflight, 0)
                self.assertFalse(ops.get("jobs/s/4").done)  # the server was not told
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    def test_progress_exception_cancels_and_propagates(self):
        self.srv.put_pending("jobs/s/3", (url(wrappers_pb2.Int32Value), b"\x08\x01"))

        def boom(op):
            raise KeyError("stop")

        with lro.SyncClient(self.srv.target, plaintext=True) as ops:
            with self.assertRaises(KeyError):
                ops.wait_done("jobs/s/3", progress=boom, method="poll", poll_interval=0.02)
            self.assertEqual(lro._sync._waiters, {})


# ---- an independent server: python3-grpcio ---------------------------------
class Store:
    def __init__(self):
        self.lock = threading.Condition()
        self.ops = {}
        self.requests = []  # (method, name, metadata dict)

    def put(self, op):
        with self.lock:
            self.ops[op.name] = op
            self.lock.notify_all()


def _md(context):
    d = {}
    for k, v in context.invocation_metadata():
        d.setdefault(k, v)
    return d


class GrpcioOperations:
    GetReq = M["google.longrunning.GetOperationRequest"]
    ListReq = M["google.longrunning.ListOperationsRequest"]
    ListResp = M["google.longrunning.ListOperationsResponse"]
    CancelReq = M["google.longrunning.CancelOperationRequest"]
    DeleteReq = M["google.longrunning.DeleteOperationRequest"]
    WaitReq = M["google.longrunning.WaitOperationRequest"]
    Empty = M["google.protobuf.Empty"]

    def __init__(self, store, with_wait=True):
        self.s = store
        self.with_wait = with_wait

    def _find(self, name, context):
        op = self.s.ops.get(name)
        if op is None:
            st = PbStatus(code=5, message="no " + name)
            a = st.details.add()
            a.type_url, a.value = errinfo("GONE", "grpcio.test", name=name)
            context.set_trailing_metadata((("grpc-status-details-bin", st.SerializeToString()),))
            context.abort(grpc.StatusCode.NOT_FOUND, "no " + name)
        return op

    def get(self, req, context):
        self.s.requests.append(("get", req.name, _md(context)))
        if req.name.endswith("/denied"):
            st = PbStatus(code=7, message="denied")
            a = st.details.add()
            a.type_url, a.value = errinfo("NO_ACCESS", "grpcio.test", who="me")
            a = st.details.add()
            a.type_url = "type.googleapis.com/google.rpc.RetryInfo"
            a.value = PbRetryInfo(retry_delay={"seconds": 1, "nanos": 500000000}) \
                .SerializeToString()
            a = st.details.add()
            a.type_url, a.value = url(QuotaHint), QuotaHint(bucket="q").SerializeToString()
            context.set_trailing_metadata((("grpc-status-details-bin", st.SerializeToString()),))
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "denied")
        with self.s.lock:
            return self._find(req.name, context)

    def list(self, req, context):
        self.s.requests.append(("list", req.name, _md(context)))
        if not req.return_partial_success:
            context.abort(grpc.StatusCode.UNAVAILABLE, "eu-west unreachable")
        with self.s.lock:
            names = sorted(n for n in self.s.ops if n.startswith(req.name + "/"))
        start = int(req.page_token or 0)
        size = req.page_size or 2
        resp = self.ListResp(operations=[self.s.ops[n] for n in names[start:start + size]])
        if start + size < len(names):
            resp.next_page_token = str(start + size)
        if start == 0:
            resp.unreachable.append("locations/eu-west")
        return resp

    def cancel(self, req, context):
        self.s.requests.append(("cancel", req.name, _md(context)))
        with self.s.lock:
            op = self._find(req.name, context)
            if not op.done:
                op.done = True
                op.error.code = 1
                op.error.message = "cancelled"
                self.s.lock.notify_all()
        return self.Empty()

    def delete(self, req, context):
        self.s.requests.append(("delete", req.name, _md(context)))
        with self.s.lock:
            self._find(req.name, context)
            del self.s.ops[req.name]
        return self.Empty()

    def wait(self, req, context):
        self.s.requests.append(("wait", req.name, _md(context)))
        if not self.with_wait:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "no Wait here")
        timeout = req.timeout.seconds + req.timeout.nanos / 1e9 if req.HasField("timeout") else 5
        end = time.monotonic() + timeout
        with self.s.lock:
            while True:
                op = self._find(req.name, context)
                left = end - time.monotonic()
                if op.done or left <= 0 or not context.is_active():
                    return op
                self.s.lock.wait(min(left, 0.05))

    def handler(self):
        def uu(fn, req, resp):
            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=req.FromString,
                response_serializer=lambda m: m.SerializeToString())
        return grpc.method_handlers_generic_handler("google.longrunning.Operations", {
            "GetOperation": uu(self.get, self.GetReq, PbOperation),
            "ListOperations": uu(self.list, self.ListReq, self.ListResp),
            "CancelOperation": uu(self.cancel, self.CancelReq, self.Empty),
            "DeleteOperation": uu(self.delete, self.DeleteReq, self.Empty),
            "WaitOperation": uu(self.wait, self.WaitReq, PbOperation),
        })


def build_op(name, done=False, meta=None, result=None):
    op = PbOperation(name=name, done=done)
    if meta is not None:
        op.metadata.Pack(meta)
    if result is not None:
        op.response.Pack(result)
    return op


class GrpcioServerTest(unittest.IsolatedAsyncioTestCase):
    P = "projects/g/locations/l/operations"

    def setUp(self):
        self.store = Store()
        self.servers = []
        self.targets = []
        for with_wait in (True, False):
            srv = grpc.server(cf.ThreadPoolExecutor(8))
            srv.add_generic_rpc_handlers((GrpcioOperations(self.store, with_wait).handler(),))
            port = srv.add_insecure_port("127.0.0.1:0")
            srv.start()
            self.servers.append(srv)
            self.targets.append("127.0.0.1:%d" % port)
        for i in range(5):
            self.store.put(build_op("%s/b%d" % (self.P, i), done=i % 2 == 0,
                                    meta=BuildMetadata(percent=i * 10, stage="s%d" % i),
                                    result=BuildResult(artifact="a%d" % i, size_bytes=i)
                                    if i % 2 == 0 else None))

    def tearDown(self):
        for s in self.servers:
            s.stop(None)

    def finish_later(self, name, delay, artifact):
        def run():
            time.sleep(delay)
            with self.store.lock:
                op = self.store.ops[name]
                op.metadata.Pack(BuildMetadata(percent=100, stage="done"))
                op.response.Pack(BuildResult(artifact=artifact, size_bytes=42))
                op.done = True
                self.store.lock.notify_all()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    async def test_typed_results_of_a_real_services_types(self):
        name = self.P + "/b1"
        t = self.finish_later(name, 0.3, "final.tar")
        seen = []
        async with lro.Client(self.targets[0], plaintext=True) as ops:
            op = await ops.wait_done(name, timeout=20, method="wait",
                                     progress=lambda o: seen.append(o.metadata(BuildMetadata)))
            self.assertEqual(op.result(BuildResult), BuildResult(artifact="final.tar",
                                                                 size_bytes=42))
            self.assertEqual(op.metadata(BuildMetadata).stage, "done")
            self.assertEqual(seen[0], BuildMetadata(percent=10, stage="s1"))
            # Without the class: lro-c does not know example.v1 types -> the
            # fallback, unless a registry hook knows them.
            d = op.result()
            self.assertEqual(set(d), {"@type", "value"})
            lro.set_any_decoder(lambda u, v: M[u.rsplit("/", 1)[-1]].FromString(v)
                                if u.rsplit("/", 1)[-1] in M else None)
            try:
                self.assertEqual(op.result().artifact, "final.tar")
            finally:
                lro._errors._any_decoders.pop(0)
            # With the service's descriptor set loaded into lro-c's registry,
            # the dict view prints its fields (proto3 JSON: int64 as a string).
            with self.assertRaises(lro.LroError) as cm:
                lro.load_protoset(b"not a descriptor set")
            self.assertIn("<bytes>", str(cm.exception))
            n = lro.load_protoset(DESCRIPTOR_SET)
            self.assertGreater(n, 3)
            self.assertEqual(op.result(), {"@type": url(BuildResult),
                                           "artifact": "final.tar", "sizeBytes": "42"})
            self.assertEqual(op.metadata()["stage"], "done")
        t.join()
        self.assertIn(("wait", name), [(m, n) for m, n, _ in self.store.requests])

    async def test_headers_seen_by_grpcio(self):
        async with lro.Client(self.targets[0], plaintext=True, user_agent="tester/1",
                              headers=[("x-client", "c")]) as ops:
            await ops.get(self.P + "/b0", headers={"x-call": "1", "x-raw-bin": b"\x00\xfe"},
                          traceparent=TP, tracestate="a=b")
        _, _, md = self.store.requests[-1]
        self.assertEqual(md["x-client"], "c")
        self.assertEqual(md["x-call"], "1")
        self.assertEqual(md["x-raw-bin"], b"\x00\xfe")
        self.assertEqual((md["traceparent"], md["tracestate"]), (TP, "a=b"))
        self.assertEqual(md["x-goog-request-params"], "name=" + self.P + "/b0")
        self.assertTrue(md["user-agent"].startswith("tester/1"))

    async def test_errors_from_grpcio(self):
        async with lro.Client(self.targets[0], plaintext=True) as ops:
            with self.assertRaises(lro.PermissionDenied) as cm:
                await ops.get(self.P + "/denied")
            e = cm.exception
            self.assertEqual((e.reason, e.domain, e.metadata), ("NO_ACCESS", "grpcio.test",
                                                                {"who": "me"}))
            self.assertEqual(e.retry_delay, 1.5)
            self.assertEqual(e.details[2], lro.Any(url(QuotaHint),
                                                   QuotaHint(bucket="q").SerializeToString()))
            with self.assertRaises(lro.NotFound) as cm:
                await ops.get(self.P + "/missing")
            self.assertEqual(cm.exception.metadata, {"name": self.P + "/missing"})
            with self.assertRaises(lro.ServiceUnavailable):
                await ops.list(self.P).next_page()

    async def test_partial_success_cancel_delete_and_poll_fallback(self):
        async with lro.Client(self.targets[1], plaintext=True) as ops:  # no Wait
            pager = ops.list(self.P, return_partial_success=True)
            names = [o.name async for o in pager]
            self.assertEqual(names, ["%s/b%d" % (self.P, i) for i in range(5)])
            self.assertEqual(pager.unreachable, ["locations/eu-west"])
            t = self.finish_later(self.P + "/b3", 0.2, "x")
            op = await ops.wait_done(self.P + "/b3", timeout=20, poll_interval=0.02)  # auto
            t.join()
            self.assertEqual(op.result(BuildResult).artifact, "x")
            methods = [m for m, n, _ in self.store.requests if n == self.P + "/b3"]
            self.assertIn("wait", methods)  # tried, UNIMPLEMENTED, then polled
            self.assertIn("get", methods)
            op = await ops.cancel_and_wait(self.P + "/b1", timeout=20, poll_interval=0.02)
            self.assertEqual(op.error.code, 1)
            await ops.delete(self.P + "/b1")
            with self.assertRaises(lro.NotFound):
                await ops.get(self.P + "/b1")

    def test_blocking_client_against_grpcio(self):
        with lro.SyncClient(self.targets[0], plaintext=True) as ops:
            self.assertEqual(ops.get(self.P + "/b4").result(BuildResult).size_bytes, 4)
            page = ops.list_page(self.P, page_size=2, return_partial_success=True)
            self.assertEqual((len(page), page.next_page_token, page.unreachable),
                             (2, "2", ["locations/eu-west"]))
            t = self.finish_later(self.P + "/b1", 0.2, "sync")
            self.assertEqual(ops.wait_done(self.P + "/b1", timeout=20).result(
                BuildResult).artifact, "sync")
            t.join()


if __name__ == "__main__":
    unittest.main(verbosity=2)
