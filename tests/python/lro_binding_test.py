#!/usr/bin/python3
"""Tests of the asyncio binding (bindings/python/lro) against the embedded
server: in-process (lro.testing, over liblro_testing.so.1's lro_test_* API)
and `lroctl serve` in another process.

Run by tests/python/lro_binding_test.sh with LRO_LIBRARY, LRO_TESTING_LIBRARY
and PYTHONPATH set.
"""
import asyncio
import gc
import os
import subprocess
import threading
import time
import unittest
import weakref

import lro
import lro._aio
import lro.testing as lt

PARENT = "projects/demo/locations/global/operations"
INT32 = "type.googleapis.com/google.protobuf.Int32Value"
ERRINFO = "type.googleapis.com/google.rpc.ErrorInfo"
RETRYINFO = "type.googleapis.com/google.rpc.RetryInfo"


def opname(i):
    return "%s/op-%05d" % (PARENT, i)


def int32(n):
    return (INT32, lt._varint(1 << 3) + lt._varint(n))


class Base(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.srv = lt.Server()
        self.srv.seed(PARENT, 20)

    def tearDown(self):
        self.srv.stop()

    async def asyncSetUp(self):
        self.ops = lro.Client(self.srv.target, plaintext=True, timeout=10)
        self.loop_thread = threading.get_ident()

    async def asyncTearDown(self):
        self.ops.close()

    async def settle(self, pred, timeout=10.0):
        end = time.monotonic() + timeout
        while not pred():
            self.assertLess(time.monotonic(), end, "condition never became true")
            await asyncio.sleep(0.01)


class CallsTest(Base):
    async def test_get_succeeded(self):
        op = await self.ops.get(opname(0))
        self.assertEqual(op.name, opname(0))
        self.assertTrue(op.done)
        self.assertIsNone(op.error)
        self.assertEqual(op.response_any.type_url, "type.googleapis.com/google.protobuf.StringValue")
        self.assertEqual(op.response_any.value, b"\n\x08result-0")
        self.assertEqual(op.json()["response"]["value"], "result-0")

    async def test_get_failed_operation_error(self):
        op = await self.ops.get(opname(1))
        self.assertTrue(op.done)
        self.assertEqual(op.error.code, 3)
        self.assertEqual(op.error.code_name, "INVALID_ARGUMENT")
        self.assertEqual(op.error.message, "seeded failure 1")
        self.assertEqual([d.type_url for d in op.error.details], [ERRINFO])
        self.assertIn(b"SEEDED_FAILURE", op.error.details[0].value)

    async def test_get_pending_metadata(self):
        op = await self.ops.get(opname(2))
        self.assertFalse(op.done)
        self.assertIsNone(op.response_any)
        self.assertEqual(op.metadata_any.type_url, "type.googleapis.com/google.protobuf.Struct")
        self.assertEqual(op.json()["metadata"]["value"], {"progress": 2})

    async def test_not_found_raises_with_code(self):
        with self.assertRaises(lro.LroError) as cm:
            await self.ops.get(PARENT + "/nope")
        e = cm.exception
        self.assertEqual(e.code, 5)
        self.assertEqual(e.code_name, "NOT_FOUND")
        self.assertTrue(e.message)
        self.assertIsInstance(e.details, list)
        self.assertEqual(e.result, -7)
        self.assertEqual(e.result_name, "LRO_ERR_RPC")
        self.assertIn("NOT_FOUND", str(e))

    async def test_error_details_from_trailer(self):
        info = lt._field(1, b"QUOTA") + lt._field(2, b"example.com")
        self.srv.add_status_fault(methods=lt.GET, name=opname(0), code=7, message="denied here",
                                  details=[(ERRINFO, info)], retry_delay=0.25)
        with self.assertRaises(lro.LroError) as cm:
            await self.ops.get(opname(0))
        e = cm.exception
        self.assertEqual((e.code, e.code_name, e.message), (7, "PERMISSION_DENIED", "denied here"))
        urls = [d.type_url for d in e.details]
        self.assertIn(ERRINFO, urls)
        self.assertIn(RETRYINFO, urls)
        self.assertEqual(dict(e.details)[ERRINFO], info)
        # the fault hit once: the next call succeeds
        self.assertTrue((await self.ops.get(opname(0))).done)

    async def test_bad_names_refused_before_starting(self):
        for bad in ["", "a\0b", "x" * 5000, "\ud800"]:
            with self.assertRaises(lro.LroError) as cm:
                self.ops.get(bad)
            self.assertEqual(cm.exception.code, 3, bad[:10])
            self.assertLess(cm.exception.result, 0)
        self.assertEqual(self.ops.inflight, 0)

    async def test_refusals_carry_lro_last_error_text(self):
        # lro-c's own refusals say what was wrong (lro_last_error), not just
        # "invalid argument".
        with self.assertRaises(lro.LroError) as cm:
            self.ops.get("ops/" + "x" * 5000)
        self.assertIn("name is longer than 4096 bytes", str(cm.exception))
        with self.assertRaises(lro.LroError) as cm:
            lro.Client(self.srv.target, plaintext=True, headers=[("Bad", "1")])
        self.assertIn("keys are lowercase", cm.exception.message)
        with self.assertRaises(lro.LroError) as cm:
            lro.Client(self.srv.target, plaintext=True, headers=[("grpc-x", "1")])
        self.assertIn("header key 'grpc-x' is reserved", cm.exception.message)
        secret = "py-s3cret-t0ken"
        with self.assertRaises(lro.LroError) as cm:
            lro.Client(self.srv.target, plaintext=True, token=secret)
        self.assertEqual(cm.exception.message,
                         "bearer token over plaintext: set allow_plaintext or use TLS")
        self.assertNotIn(secret, str(cm.exception))
        # A bytes value with NUL for a "-bin" key is fine; for a text key it
        # is refused with the reason.
        c = lro.Client(self.srv.target, plaintext=True, headers=[("x-blob-bin", b"a\0b")])
        try:
            self.assertTrue((await c.get(opname(0))).done)
        finally:
            c.close()
        with self.assertRaises(lro.LroError) as cm:
            lro.Client(self.srv.target, plaintext=True, headers=[("x-text", b"a\0b")])
        self.assertIn("header 'x-text' value has byte 0x00 at 1", cm.exception.message)

    async def test_cancel_then_delete(self):
        self.srv.put_pending("jobs/a/1", int32(5))
        self.assertIsNone(await self.ops.cancel("jobs/a/1"))
        op = await self.ops.get("jobs/a/1")
        self.assertTrue(op.done)
        self.assertEqual(op.error.code, 1)
        self.assertIsNone(await self.ops.delete("jobs/a/1"))
        with self.assertRaises(lro.LroError) as cm:
            await self.ops.delete("jobs/a/1")
        self.assertEqual(cm.exception.code_name, "NOT_FOUND")
        with self.assertRaises(lro.LroError) as cm:
            await self.ops.cancel(PARENT + "/nope")
        self.assertEqual(cm.exception.code, 5)

    async def test_list_all_filter_pages_resume(self):
        names = [op.name async for op in self.ops.list(PARENT, page_size=3)]
        self.assertEqual(names, [opname(i) for i in range(20)])
        pending = [op.name async for op in self.ops.list(PARENT, filter="done=false")]
        self.assertEqual(pending, [opname(i) for i in range(20) if i % 4 == 2])
        pager = self.ops.list(PARENT, page_size=7)
        sizes = [len(p.operations) async for p in pager.pages()]
        self.assertEqual(sizes, [7, 7, 6])
        self.assertIsNone(pager.page_token)
        # resume from a token saved after the first page
        p1 = self.ops.list(PARENT, page_size=5)
        first = await p1.next_page()
        token = p1.page_token
        self.assertEqual(token, first.next_page_token)
        p1.close()
        rest = [op.name async for op in self.ops.list(PARENT, page_size=5, page_token=token)]
        self.assertEqual(rest, [opname(i) for i in range(5, 20)])

    async def test_list_error(self):
        with self.assertRaises(lro.LroError) as cm:
            async for _ in self.ops.list(PARENT, filter="no such filter"):
                pass
        self.assertEqual(cm.exception.code_name, "INVALID_ARGUMENT")

    async def test_many_concurrent_gets(self):
        futs = [self.ops.get(opname(i % 20)) for i in range(1000)]
        ops = await asyncio.gather(*futs)
        self.assertEqual([o.name for o in ops], [opname(i % 20) for i in range(1000)])
        self.assertEqual(self.ops.inflight, 0)
        self.assertGreaterEqual(self.srv.call_count(lt.GET), 1000)


class WaitTest(Base):
    async def test_progress_then_done_all_on_loop_thread(self):
        self.srv.put_pending("jobs/w/1", int32(0))
        seen, threads = [], set()

        def progress(op):
            threads.add(threading.get_ident())
            seen.append(op.metadata_any.value)

        async def driver():
            for i in range(1, 6):
                await asyncio.sleep(0.03)
                self.srv.set_metadata("jobs/w/1", int32(i))
            # complete only once the last progress was seen (the poll that
            # sees "done" reports no progress)
            await self.settle(lambda: seen and seen[-1] == int32(5)[1])
            self.srv.complete("jobs/w/1", response=int32(42))

        t = asyncio.ensure_future(driver())
        fut = self.ops.wait_done("jobs/w/1", timeout=20, progress=progress, method="poll",
                                 poll_interval=0.01, max_poll_interval=0.02)
        fut.add_done_callback(lambda f: threads.add(threading.get_ident()))
        op = await fut
        await t
        self.assertTrue(op.done)
        self.assertEqual(op.response_any, int32(42))
        self.assertEqual(threads, {self.loop_thread})
        # never the same metadata twice, in order, first and last seen
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(seen[0], int32(0)[1])
        self.assertEqual(seen[-1], int32(5)[1])
        self.assertEqual(seen, sorted(seen))

    async def test_wait_operation_method_and_async_progress(self):
        self.srv.put_pending("jobs/w/2", int32(1))
        self.srv.complete("jobs/w/2", delay=0.2, response=int32(7))
        got = []

        async def progress(op):
            got.append(op.metadata_any)

        op = await self.ops.wait_done("jobs/w/2", timeout=20, progress=progress)
        self.assertEqual(op.response_any, int32(7))
        self.assertGreaterEqual(self.srv.call_count(lt.WAIT, "jobs/w/2"), 1)

    async def test_failed_operation_is_returned(self):
        self.srv.put_pending("jobs/w/3")
        self.srv.fail("jobs/w/3", 9, "precondition", delay=0.1,
                      details=[(ERRINFO, lt._field(1, b"WHY"))])
        op = await self.ops.wait_done("jobs/w/3", timeout=20)
        self.assertTrue(op.done)
        self.assertEqual((op.error.code, op.error.message), (9, "precondition"))
        self.assertEqual(op.error.details[0].type_url, ERRINFO)

    async def test_timeout_keeps_last_state(self):
        self.srv.put_pending("jobs/w/4", int32(3))
        with self.assertRaises(lro.WaitTimeout) as cm:
            await self.ops.wait_done("jobs/w/4", timeout=1.0, method="poll", poll_interval=0.05)
        e = cm.exception
        self.assertIsInstance(e, TimeoutError)
        self.assertIsInstance(e, lro.LroError)
        self.assertEqual(e.code_name, "DEADLINE_EXCEEDED")
        self.assertEqual(e.operation.name, "jobs/w/4")
        self.assertEqual(e.operation.metadata_any, int32(3))

    async def test_many_waits_through_two_rpc_slots(self):
        ops = lro.Client(self.srv.target, plaintext=True, timeout=10, max_await_rpcs=2,
                         poll_budget=(1000, 10))
        try:
            names = ["jobs/cap/%d" % i for i in range(8)]
            for n in names:
                self.srv.put_pending(n)
            tasks = [asyncio.ensure_future(ops.wait_done(n, timeout=30, method="wait"))
                     for n in names]
            await self.settle(lambda: ops.awaits_queued == 6)
            self.assertLessEqual(ops.inflight, 2)
            for i, n in enumerate(names):
                self.srv.complete(n, response=int32(i))
            done = await asyncio.gather(*tasks)
            self.assertEqual([op.response_any for op in done], [int32(i) for i in range(8)])
            self.assertEqual(sum(self.srv.call_count(lt.WAIT, n) for n in names), 8)
        finally:
            ops.close()
        with self.assertRaises(lro.LroError):
            lro.Client(self.srv.target, plaintext=True, max_await_rpcs=-1)

    async def test_unknown_operation_raises(self):
        with self.assertRaises(lro.LroError) as cm:
            await self.ops.wait_done(PARENT + "/nope", timeout=10)
        self.assertEqual(cm.exception.code, 5)

    async def test_asyncio_cancel_cancels_locally(self):
        self.srv.put_pending("jobs/w/5")
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(self.ops.wait_done("jobs/w/5"), 0.2)
        # the local cancel ends the C call; its completion finds the entry
        await self.settle(lambda: self.ops.inflight == 0 and not lro._calls)

    async def test_progress_callback_error_is_reported_not_raised(self):
        self.srv.put_pending("jobs/w/6", int32(1))
        self.srv.complete("jobs/w/6", delay=0.1)
        reported = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: reported.append(ctx))

        def bad(op):
            raise RuntimeError("boom")

        op = await self.ops.wait_done("jobs/w/6", timeout=10, progress=bad, method="poll",
                                      poll_interval=0.01)
        self.assertTrue(op.done)
        self.assertTrue(any(isinstance(c.get("exception"), RuntimeError) for c in reported))


class ThreadsTest(Base):
    async def test_every_completion_on_loop_thread(self):
        threads = []
        orig = lro._aio._on_complete

        def spy(fp, ud):
            threads.append(threading.get_ident())
            return orig(fp, ud)

        lro._aio._on_complete = spy
        try:
            self.srv.add_latency_fault(0.05, methods=lt.GET, times=50)
            futs = [self.ops.get(opname(i % 20)) for i in range(200)]
            futs.append(self.ops.delete(PARENT + "/nope"))
            futs += [self.ops.get(PARENT + "/nope") for _ in range(10)]
            res = await asyncio.gather(*futs, return_exceptions=True)
            self.assertEqual(sum(isinstance(r, lro.LroError) for r in res), 11)
            names = [o.name async for o in self.ops.list(PARENT, page_size=4)]
            self.assertEqual(len(names), 20)
            # close with calls in flight: their completions run in close()
            self.srv.add_latency_fault(5, methods=lt.GET, times=-1)
            pend = [self.ops.get(opname(0)) for _ in range(20)]
            await asyncio.sleep(0.05)
            self.ops.close()
            res = await asyncio.gather(*pend, return_exceptions=True)
            self.assertTrue(all(isinstance(r, lro.LroError) and r.result == -5 for r in res))
        finally:
            lro._aio._on_complete = orig
        self.assertEqual(len(threads), 211 + 5 + 20)
        self.assertEqual(set(threads), {self.loop_thread})


class LifetimeTest(Base):
    async def test_close_with_pending_then_calls_refused(self):
        self.srv.add_latency_fault(5, methods=lt.GET, times=-1)
        futs = [self.ops.get(opname(i)) for i in range(10)]
        self.ops.close()
        for f in futs:
            with self.assertRaises(lro.LroError) as cm:
                await f
            self.assertEqual(cm.exception.result_name, "LRO_ERR_SHUTDOWN")
        with self.assertRaises(lro.LroError) as cm:
            self.ops.get(opname(0))
        self.assertEqual(cm.exception.result, -5)
        self.ops.close()  # idempotent
        self.assertEqual(lro._calls, {})

    async def test_pending_calls_keep_their_client(self):
        # A temporary client (`await lro.Client(t).get(n)`) must not be
        # finalized (and its calls shut down) while its calls are in flight;
        # it goes once they completed.
        self.srv.add_latency_fault(0.3, methods=lt.GET, times=-1)
        ops = lro.Client(self.srv.target, plaintext=True)
        futs = [ops.get(opname(i)) for i in range(10)]
        w = weakref.ref(ops)
        del ops
        gc.collect()
        self.assertIsNotNone(w(), "a call in flight keeps its client")
        res = await asyncio.gather(*futs)
        self.assertEqual([op.name for op in res], [opname(i) for i in range(10)])
        del res, futs
        await self.settle(lambda: gc.collect() is not None and w() is None)
        self.assertEqual(lro._calls, {})
        self.assertEqual((await lro.Client(self.srv.target, plaintext=True).get(opname(0))).name,
                         opname(0))

    async def test_futures_dropped_before_completion(self):
        self.srv.add_latency_fault(0.2, methods=lt.GET, times=30)
        for i in range(30):
            self.ops.get(opname(i % 20))  # dropped at once
        gc.collect()
        # The C side drops a call from inflight when it completes; the
        # binding forgets it (lro._calls) only when the loop's reader runs
        # lro_client_process, a loop turn or more later. Wait (bounded) for
        # that, the condition asserted on, not only for inflight.
        await self.settle(lambda: self.ops.inflight == 0 and not lro._calls)
        gc.collect()
        self.assertEqual(lro._calls, {})
        self.assertEqual((await self.ops.get(opname(0))).name, opname(0))

    async def test_drop_futures_and_client_then_collect(self):
        # Nobody retrieves the dropped futures' SHUTDOWN errors: keep
        # asyncio's "never retrieved" reports out of the test output.
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: None)
        self.srv.add_latency_fault(0.3, methods=lt.ALL, times=-1)
        ops = lro.Client(self.srv.target, plaintext=True)
        ops.get(opname(0))
        ops.wait_done(opname(2), progress=lambda op: None)
        pager = ops.list(PARENT)
        pager.next_page()
        del ops, pager
        gc.collect()

        def forgotten():
            gc.collect()
            return not lro._calls

        # A fixed sleep raced a loaded machine: wait (bounded) for every
        # dropped call to be forgotten.
        await self.settle(forgotten)
        self.assertEqual(lro._calls, {})

    async def test_pager_dropped_mid_fetch(self):
        # The fetch keeps its pager: dropping the pager does not cancel it.
        self.srv.add_latency_fault(0.2, methods=lt.LIST, times=-1)
        pager = self.ops.list(PARENT, page_size=2)
        fut = pager.next_page()
        w = weakref.ref(pager)
        del pager
        gc.collect()
        page = await fut
        self.assertEqual([o.name for o in page.operations], [opname(0), opname(1)])
        del fut
        await self.settle(lambda: gc.collect() is not None and w() is None)
        pager = self.ops.list(PARENT, page_size=2)
        fut = pager.next_page()
        pager.close()  # an explicit close does cancel the fetch, locally
        with self.assertRaises(asyncio.CancelledError):
            await fut

    async def test_client_closed_on_another_thread(self):
        self.srv.add_latency_fault(5, methods=lt.GET, times=-1)
        ops = lro.Client(self.srv.target, plaintext=True)
        futs = [ops.get(opname(i)) for i in range(5)]
        t = threading.Thread(target=ops.close)
        t.start()
        t.join()
        res = await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True), 10)
        self.assertTrue(all(isinstance(r, lro.Cancelled) and r.result == -5 for r in res), res)

    async def test_future_cancel_after_client_closed(self):
        self.srv.add_latency_fault(5, methods=lt.GET, times=-1)
        f = self.ops.get(opname(0))
        self.ops.close()
        f.cancel()  # already done (SHUTDOWN): nothing to do, nothing breaks
        with self.assertRaises(lro.LroError):
            await f


class LoopEndsFirstTest(unittest.TestCase):
    def test_client_needs_its_loop_thread(self):
        with self.assertRaises(RuntimeError):
            lro.Client("127.0.0.1:1", plaintext=True)  # no running loop here
        loop = asyncio.new_event_loop()
        t = threading.Thread(target=loop.run_forever)
        t.start()
        try:
            with self.assertRaises(RuntimeError):  # running, on another thread
                lro.Client("127.0.0.1:1", plaintext=True, loop=loop)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            t.join()
            loop.close()

    def test_loop_closed_before_client(self):
        with lt.Server() as srv:
            srv.seed(PARENT, 4)
            srv.add_latency_fault(5, methods=lt.GET, times=-1)
            holder = {}

            async def main():
                holder["ops"] = lro.Client(srv.target, plaintext=True)
                holder["fut"] = holder["ops"].get(opname(0))
                self.assertEqual((await asyncio.sleep(0.05, "x")), "x")

            asyncio.run(main())  # the loop is closed with the call in flight
            holder.clear()  # the client goes now, on a closed loop
            gc.collect()
            self.assertEqual(lro._calls, {})


class LibrariesTest(unittest.TestCase):
    """`import lro` loads liblro only; lro.testing adds liblro_testing."""

    PROBE = (
        "import sys\n"
        "def libs():\n"
        "    with open('/proc/self/maps') as f:\n"
        "        return sorted({l.split()[-1].rsplit('/', 1)[-1] for l in f\n"
        "                       if 'liblro' in l})\n"
        "import lro\n"
        "print(' '.join(libs()))\n"
        "import lro.testing\n"
        "print(' '.join(libs()))\n"
        "with lro.testing.Server() as s:\n"
        "    s.seed('p/q', 3)\n"
        "    print(s.count())\n")

    def test_testing_library_loaded_only_by_lro_testing(self):
        out = subprocess.run(["/usr/bin/python3", "-c", self.PROBE], check=True,
                             stdout=subprocess.PIPE, timeout=60).stdout.decode().split("\n")
        self.assertEqual(out[0], "liblro.so.1")
        self.assertEqual(out[1], "liblro.so.1 liblro_testing.so.1")
        self.assertEqual(out[2], "3")

    def test_testing_library_found_beside_liblro(self):
        # The install layout: both in one directory, only liblro named.
        import shutil
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            for var in ("LRO_LIBRARY", "LRO_TESTING_LIBRARY"):
                shutil.copy(os.environ[var], d)
            env = dict(os.environ, LRO_LIBRARY=os.path.join(d, "liblro.so.1"))
            del env["LRO_TESTING_LIBRARY"]
            probe = self.PROBE.replace("l.split()[-1].rsplit('/', 1)[-1]", "l.split()[-1]")
            out = subprocess.run(["/usr/bin/python3", "-c", probe], env=env, check=True,
                                 stdout=subprocess.PIPE, timeout=60).stdout.decode().split("\n")
            self.assertEqual(out[1], "%s/liblro.so.1 %s/liblro_testing.so.1" % (d, d))
            self.assertEqual(out[2], "3")

    def test_testing_library_must_exist(self):
        env = dict(os.environ, LRO_TESTING_LIBRARY="/nonexistent/liblro_testing.so.1")
        p = subprocess.run(["/usr/bin/python3", "-c", "import lro\nimport lro.testing"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"liblro_testing.so.1", p.stderr)


class LroctlServeTest(unittest.IsolatedAsyncioTestCase):
    """The same binding against `lroctl serve` in another process."""

    @classmethod
    def setUpClass(cls):
        cls.p = subprocess.Popen([os.environ["LROCTL"], "serve", "--seed", "20"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        cls.target = cls.p.stdout.readline().strip()

    @classmethod
    def tearDownClass(cls):
        cls.p.terminate()
        assert cls.p.wait(timeout=20) == 0
        cls.p.stdout.close()

    async def test_get_list_cancel_delete_wait(self):
        async with lro.Client(self.target, plaintext=True) as ops:
            self.assertEqual((await ops.get(opname(0))).response_any.value, b"\n\x08result-0")
            names = [o.name async for o in ops.list(PARENT, filter="done=true")]
            self.assertEqual(names, [opname(i) for i in range(20) if i % 4 != 2])
            self.assertEqual((await ops.wait_done(opname(3), timeout=10)).name, opname(3))
            await ops.cancel(opname(6))
            op = await ops.wait_done(opname(6), timeout=10)
            self.assertEqual(op.error.code_name, "CANCELLED")
            await ops.delete(opname(6))
            with self.assertRaises(lro.LroError) as cm:
                await ops.get(opname(6))
            self.assertEqual(cm.exception.code, 5)
        self.assertTrue(ops.closed)


if __name__ == "__main__":
    unittest.main(verbosity=2)
