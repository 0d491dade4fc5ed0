"""The blocking client for scripts: lro-c in thread mode; each call blocks
the calling thread (interruptible with Ctrl-C, which cancels the call
locally) and progress callbacks run on the calling thread."""
from __future__ import annotations

import ctypes
import itertools
import queue
import threading
import weakref
from typing import Callable, Dict, Iterator, Optional, Tuple

from . import _lib as _c
from . import _observe
from ._aio import conv_await, conv_empty, conv_operation, conv_page, list_args, poll_policy
from ._errors import LroError
from ._options import (CallOptions, Headers, PollPolicy, RetryPolicy, _b, _ms, call_options,
                       create_client)
from ._types import Operation, Page, _operation

# ud -> queue of ("progress", Operation) / ("done", None): the I/O thread
# only copies and enqueues; the calling thread runs user code.
_waiters: Dict[int, "queue.SimpleQueue"] = {}
_ids = itertools.count(1)


def _done(fp, ud):
    try:
        q = _waiters.get(ud)
        if q is not None:
            q.put(("done", None))
    except BaseException:  # noqa: B902 (never unwind into C)
        pass


def _progress(opp, ud):
    try:
        q = _waiters.get(ud)
        if q is not None:
            q.put(("progress", _operation(opp)))
    except BaseException:  # noqa: B902
        pass


_DONE = _c.DONE_CB(_done)
_PROGRESS = _c.PROGRESS_CB(_progress)
_NO_PROGRESS = _c.PROGRESS_CB()


class SyncClient:
    """A blocking google.longrunning.Operations client for scripts and
    threads (no event loop). Same constructor options and per-call keywords
    as lro.Client (without loop=); calls block and return their result.
    Thread-safe: several threads may call one client at once. Ctrl-C during a
    call cancels it locally and raises KeyboardInterrupt.

        with lro.SyncClient("127.0.0.1:50051", plaintext=True) as ops:
            op = ops.wait_done("operations/123", timeout=600)
            print(op.result())
    """

    def __init__(self, target: str, *, plaintext: bool = False, root_pem: Optional[str] = None,
                 tls_server_name: Optional[str] = None, token: Optional[str] = None,
                 timeout: Optional[float] = 30.0, headers: Optional[Headers] = None,
                 user_agent: Optional[str] = None,
                 poll_budget: Optional[Tuple[float, int]] = None,
                 max_await_rpcs: Optional[int] = None, retry: Optional[RetryPolicy] = None,
                 max_receive_size: Optional[int] = None, lb_policy: Optional[str] = None,
                 credentials=None, events=None):
        # events: an lro.Event per thing the client does, called on lro-c's
        # own threads (keep it short; it must not call this client).
        self._events_sink, key = _observe.register(events) if events else (None, 0)
        self._ptr = create_client(target, _c.MODE_THREAD, plaintext=plaintext,
                                  root_pem=root_pem, tls_server_name=tls_server_name,
                                  token=token, timeout=timeout, headers=headers,
                                  user_agent=user_agent, poll_budget=poll_budget,
                                  max_await_rpcs=max_await_rpcs, retry=retry,
                                  max_receive_size=max_receive_size, lb_policy=lb_policy,
                                  credentials=credentials, events_key=key)
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _c.lro_client_destroy, self._ptr)

    def close(self) -> None:
        """Calls in flight on other threads end with lro.Cancelled (result
        LRO_ERR_SHUTDOWN). Idempotent."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    @property
    def inflight(self) -> int:
        """Calls started and not completed yet (diagnostics)."""
        return _c.lro_client_inflight(self._ptr) if self._finalizer.alive else 0

    def __enter__(self) -> "SyncClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self, conv, starter, progress=None):
        if not self._finalizer.alive:
            raise LroError._local(_c.ERR_SHUTDOWN)
        ud = next(_ids)
        q: queue.SimpleQueue = queue.SimpleQueue()
        _waiters[ud] = q
        out = ctypes.c_void_p()
        try:
            rc = starter(self._ptr, ud, ctypes.byref(out))
            if rc != _c.OK:
                raise LroError._refused(rc)
            fp = out.value
            try:
                while True:
                    try:
                        # A bounded get keeps Ctrl-C responsive.
                        kind, op = q.get(timeout=0.25)
                    except queue.Empty:
                        continue
                    except BaseException:
                        _c.lro_future_cancel(fp)
                        raise
                    if kind == "done":
                        break
                    if progress is not None:
                        try:
                            progress(op)
                        except BaseException:
                            _c.lro_future_cancel(fp)
                            raise
                rc = _c.lro_future_result(fp)
                if rc == _c.ERR_CANCELLED:
                    raise LroError._local(rc)
                return conv(fp, rc)
            finally:
                _c.lro_future_unref(fp)
        finally:
            _waiters.pop(ud, None)

    # ---- the calls ----
    def get(self, name: str, *, options: Optional[CallOptions] = None, **call) -> Operation:
        n, o = _b(name), call_options(options, **call)
        return self._run(conv_operation, lambda c, ud, out: _c.lro_get(
            c, n, o._ptr(), _DONE, ud, None, out))

    def cancel(self, name: str, *, options: Optional[CallOptions] = None, **call) -> None:
        n, o = _b(name), call_options(options, **call)
        return self._run(conv_empty, lambda c, ud, out: _c.lro_cancel(
            c, n, o._ptr(), _DONE, ud, None, out))

    def delete(self, name: str, *, options: Optional[CallOptions] = None, **call) -> None:
        n, o = _b(name), call_options(options, **call)
        return self._run(conv_empty, lambda c, ud, out: _c.lro_delete(
            c, n, o._ptr(), _DONE, ud, None, out))

    def wait(self, name: str, server_timeout: Optional[float] = None, *,
             options: Optional[CallOptions] = None, **call) -> Operation:
        n, o = _b(name), call_options(options, **call)
        st = _ms(server_timeout, "server_timeout")
        return self._run(conv_operation, lambda c, ud, out: _c.lro_wait(
            c, n, st, o._ptr(), _DONE, ud, None, out))

    def _await(self, fn, name, timeout, progress, policy, method, poll_interval,
               max_poll_interval, progress_interval, rpc_timeout, options, call):
        if rpc_timeout is not None:
            call["timeout"] = rpc_timeout
        pol = poll_policy(policy, timeout, method, poll_interval, max_poll_interval,
                          progress_interval)._c()
        n, o = _b(name), call_options(options, **call)
        pcb = _PROGRESS if progress is not None else _NO_PROGRESS
        return self._run(conv_await, lambda c, ud, out: fn(
            c, n, ctypes.byref(pol), o._ptr(), pcb, _DONE, ud, None, out), progress)

    def wait_done(self, name: str, timeout: Optional[float] = None,
                  progress: Optional[Callable[[Operation], None]] = None, *,
                  policy: Optional[PollPolicy] = None, method: Optional[str] = None,
                  poll_interval: Optional[float] = None,
                  max_poll_interval: Optional[float] = None,
                  progress_interval: Optional[float] = None, rpc_timeout: Optional[float] = None,
                  options: Optional[CallOptions] = None, **call) -> Operation:
        """As lro.Client.wait_done; progress runs on the calling thread."""
        return self._await(_c.lro_await, name, timeout, progress, policy, method, poll_interval,
                           max_poll_interval, progress_interval, rpc_timeout, options, call)

    def cancel_and_wait(self, name: str, timeout: Optional[float] = None,
                        progress: Optional[Callable[[Operation], None]] = None, *,
                        policy: Optional[PollPolicy] = None, method: Optional[str] = None,
                        poll_interval: Optional[float] = None,
                        max_poll_interval: Optional[float] = None,
                        progress_interval: Optional[float] = None,
                        rpc_timeout: Optional[float] = None,
                        options: Optional[CallOptions] = None, **call) -> Operation:
        return self._await(_c.lro_cancel_and_await, name, timeout, progress, policy, method,
                           poll_interval, max_poll_interval, progress_interval, rpc_timeout,
                           options, call)

    def list_page(self, parent: str, *, filter: Optional[str] = None, page_size: int = 0,
                  page_token: Optional[str] = None, return_partial_success: bool = False,
                  options: Optional[CallOptions] = None, **call) -> Page:
        """One ListOperations RPC -> Page (next_page_token resumes)."""
        args = list_args(filter, page_size, page_token, return_partial_success)
        p, o = _b(parent, "parent"), call_options(options, **call)
        return self._run(conv_page, lambda c, ud, out: _c.lro_list(
            c, p, ctypes.byref(args), o._ptr(), _DONE, ud, None, out))

    def list_pages(self, parent: str, *, filter: Optional[str] = None, page_size: int = 0,
                   page_token: Optional[str] = None, return_partial_success: bool = False,
                   options: Optional[CallOptions] = None, **call) -> Iterator[Page]:
        """Every page, fetched as the iteration goes."""
        o = call_options(options, **call)
        token = page_token
        while True:
            page = self.list_page(parent, filter=filter, page_size=page_size, page_token=token,
                                  return_partial_success=return_partial_success, options=o)
            yield page
            if not page.next_page_token:
                return
            token = page.next_page_token

    def list(self, parent: str, **kw) -> Iterator[Operation]:
        """Every operation under parent (list_pages' keywords)."""
        for page in self.list_pages(parent, **kw):
            yield from page.operations
