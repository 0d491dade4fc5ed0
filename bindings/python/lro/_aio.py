"""The asyncio client: lro-c in loop mode, its fd on the event loop."""
from __future__ import annotations

import asyncio
import collections
import ctypes
import itertools
import threading
import weakref
from typing import (AsyncIterator, Awaitable, Callable, Dict, Optional, Tuple, Union)

from . import _lib as _c
from . import _observe
from ._errors import LroError, WaitTimeout, error_from_status
from ._options import (CallOptions, Headers, PollPolicy, RetryPolicy, _b, call_options,
                       create_client)
from ._types import Operation, Page, _operation, _page

Progress = Callable[[Operation], Union[None, Awaitable[None]]]


# ---- converting a finished C future (shared with the blocking client) -------
def _error_of(fp, rc, cls=None, **kw) -> LroError:
    sp = _c.lro_future_status(fp)
    if not sp:
        return LroError._local(rc)
    return error_from_status(sp, rc, cls=cls, **kw)


def conv_operation(fp, rc):
    if rc != _c.OK:
        raise _error_of(fp, rc)
    return _operation(_c.lro_future_operation(fp))


def conv_empty(fp, rc):
    if rc != _c.OK:
        raise _error_of(fp, rc)
    return None


def conv_page(fp, rc):
    if rc != _c.OK:
        raise _error_of(fp, rc)
    return _page(_c.lro_future_page(fp))


def conv_await(fp, rc):
    if rc in (_c.OK, _c.ERR_OP_FAILED, _c.ERR_OP_CANCELLED):
        return _operation(_c.lro_future_operation(fp))
    if rc == _c.ERR_TIMEOUT:
        opp = _c.lro_future_operation(fp)
        raise _error_of(fp, rc, cls=WaitTimeout, operation=_operation(opp) if opp else None)
    raise _error_of(fp, rc)


# ---- the registry and the two trampolines ---------------------------------------
# lro-c gets an integer id as user_data; the registry maps it to a WEAK
# reference to the call's entry, which holds the asyncio future, how to
# convert the result, the loop, our reference to the C future (for local
# cancel), and `keep`: the Python objects the call needs (its client, its
# pager, its options). The asyncio future holds the entry (through its done
# callback) until it is settled, so:
#  - while anyone holds the future (an awaiting coroutine), the client and
#    pager of the call stay alive: a temporary pager or client
#    (`await ops.list(p).next_page()`) can never be finalized, and so never
#    cancel or shut down its own call;
#  - when the future is dropped, the entry goes with it; the call continues
#    (its completion is ignored) unless its client went too (then the client
#    was closed and the call ended with LRO_ERR_SHUTDOWN).


class _Call:
    __slots__ = ("fut", "conv", "loop", "thread", "progress", "cfut", "finished", "keep",
                 "__weakref__")

    def __init__(self, fut, conv, loop, thread, progress=None, keep=()):
        self.fut, self.conv, self.loop, self.thread = fut, conv, loop, thread
        self.progress = progress
        self.cfut = None
        self.finished = False
        self.keep = keep

    def __del__(self):
        # Dropped before completion: release our C reference (no lock: an
        # entry being deleted is held by nobody, _on_complete included).
        cfut, self.cfut = self.cfut, None
        if cfut is not None:
            _c.lro_future_unref(cfut)


_calls: Dict[int, "weakref.ReferenceType[_Call]"] = {}
_ids = itertools.count(1)
_lock = threading.Lock()  # entry.cfut / entry.finished hand-over


def _deliver(entry, fn, *args):
    """Runs fn(*args) on entry's loop thread: right here when this is it,
    else through call_soon_threadsafe (dropped when that loop is closed)."""
    if threading.get_ident() == entry.thread:
        fn(*args)
    else:
        try:
            entry.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass


def _settle(fut, ok, value):
    if fut.done():
        return
    try:
        if ok is None:
            fut.cancel()
        elif ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)
    except RuntimeError:  # its loop is closed: nobody can await it any more
        pass


def _on_complete(fp, ud):
    """Called by lro-c (inside lro_client_process or lro_client_destroy) once
    per call. Copies what it needs while the views are valid, then resolves
    the asyncio future."""
    ref = _calls.pop(ud, None)
    entry = ref() if ref is not None else None
    if entry is None:
        return
    with _lock:
        entry.finished = True
        cfut, entry.cfut = entry.cfut, None
    rc = _c.lro_future_result(fp)
    if rc == _c.ERR_CANCELLED:
        ok, value = None, None  # local cancel: asyncio cancellation
    else:
        try:
            ok, value = True, entry.conv(fp, rc)
        except BaseException as e:  # noqa: B902 (an LroError, or a bug: deliver it)
            ok, value = False, e
    if cfut is not None:
        _c.lro_future_unref(cfut)
    _deliver(entry, _settle, entry.fut, ok, value)
    # entry (and keep) go when the asyncio future's done callbacks have run:
    # a loop turn later, never inside lro_client_process, so a temporary
    # client or pager is not finalized inside lro-c's callback.


def _on_progress(opp, ud):
    ref = _calls.get(ud)
    entry = ref() if ref is not None else None
    if entry is None or entry.progress is None:
        return
    op = _operation(opp)
    # Never user code inside lro_client_process: the callback is scheduled.
    _deliver(entry, entry.loop.call_soon, _run_progress, entry.loop, entry.progress, op)


def _run_progress(loop, cb, op):
    try:
        r = cb(op)
        if asyncio.iscoroutine(r):
            loop.create_task(r)
    except Exception as e:  # noqa: B902 (reported like any loop callback error)
        loop.call_exception_handler({"message": "lro: exception in progress callback",
                                     "exception": e})


def _trampoline(fp, ud):
    try:
        _on_complete(fp, ud)
    except BaseException:  # noqa: B902 (never unwind into C)
        pass


def _progress_trampoline(opp, ud):
    try:
        _on_progress(opp, ud)
    except BaseException:  # noqa: B902
        pass


# Alive for the module's lifetime: lro-c holds these function pointers.
_DONE = _c.DONE_CB(_trampoline)
_PROGRESS = _c.PROGRESS_CB(_progress_trampoline)
_NO_PROGRESS = _c.PROGRESS_CB()


def _on_py_done(entry, fut):
    """asyncio future done: if it was cancelled by its user (task.cancel(),
    asyncio.wait_for's timeout), cancel our call locally (the C completion
    still comes, and is ignored)."""
    if not fut.cancelled():
        return
    with _lock:
        cfut = entry.cfut if not entry.finished else None
        if cfut is not None:
            _c.lro_future_ref(cfut)
    if cfut is not None:
        _c.lro_future_cancel(cfut)
        _c.lro_future_unref(cfut)


class _Core:
    """The C client and its fd registration. Held by Client and by the loop's
    reader callback; closed by Client.close() or when the Client is collected."""

    def __init__(self, ptr, loop):
        self.ptr = ptr
        self.loop = loop
        self.thread = threading.get_ident()
        self.fd = _c.lro_client_fd(ptr)
        self.closed = False
        self.processing = False
        self.close_pending = False
        loop.add_reader(self.fd, self._readable)

    def _readable(self):
        if self.closed:
            return
        self.processing = True
        try:
            _c.lro_client_process(self.ptr, 256)
        finally:
            self.processing = False
        if self.close_pending:
            self._close_here()

    def start(self, conv, starter, progress=None, keep=()):
        """Starts one call: starter(ud, out) calls the C function."""
        if self.closed:
            raise LroError._local(_c.ERR_SHUTDOWN)
        fut = self.loop.create_future()
        ud = next(_ids)
        entry = _Call(fut, conv, self.loop, self.thread, progress, keep)
        out = ctypes.c_void_p()
        _calls[ud] = weakref.ref(entry)
        try:
            rc = starter(ud, ctypes.byref(out))
        except BaseException:
            _calls.pop(ud, None)
            raise
        if rc != _c.OK:
            _calls.pop(ud, None)
            raise LroError._refused(rc)
        with _lock:
            if entry.finished:
                late = out.value
            else:
                entry.cfut, late = out.value, None
        if late:
            _c.lro_future_unref(late)
        fut.add_done_callback(lambda f, e=entry: _on_py_done(e, f))
        return fut

    def close(self):
        """From any thread; the work happens on the loop's thread."""
        if self.closed:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop or threading.get_ident() == self.thread or \
                not self.loop.is_running():
            if self.processing:  # e.g. collected during lro_client_process
                self.close_pending = True
            else:
                self._close_here()
            return
        try:
            self.loop.call_soon_threadsafe(self.close)
        except RuntimeError:
            self._close_here()

    def _close_here(self):
        if self.closed:
            return
        self.closed = True
        try:
            self.loop.remove_reader(self.fd)
        except Exception:  # noqa: B902 (loop already closed)
            pass
        ptr, self.ptr = self.ptr, None
        # Completes every call in flight with LRO_ERR_SHUTDOWN, right here.
        _c.lro_client_destroy(ptr)


def poll_policy(policy: Optional[PollPolicy], timeout, method, poll_interval, max_poll_interval,
                progress_interval=None) -> PollPolicy:
    """A PollPolicy from policy= with the shorthand keywords laid over it."""
    import dataclasses
    p = policy if policy is not None else PollPolicy(timeout=None)
    if not isinstance(p, PollPolicy):
        raise TypeError("policy must be an lro.PollPolicy")
    over = {}
    if timeout is not None or policy is None:
        over["timeout"] = timeout
    if method is not None:
        over["method"] = method
    if poll_interval is not None:
        over["initial_delay"] = poll_interval
    if max_poll_interval is not None:
        over["max_delay"] = max_poll_interval
    if progress_interval is not None:
        over["progress_interval"] = progress_interval
    return dataclasses.replace(p, **over)


class Client:
    """A google.longrunning.Operations client bound to an asyncio loop.

    target: "host:port", "dns:///host:port", "unix:/path"... TLS with the
    system roots unless plaintext=True (or root_pem, PEM text); tls_server_name
    overrides the name checked. token: bearer token sent on every call
    (refused over plaintext). timeout: default per-RPC deadline in seconds
    (None: none). headers: sent on every call (mapping or (key, value) pairs;
    a bytes value for a "-bin" key may hold any bytes). user_agent: prefix of
    the user-agent. retry: the client's RetryPolicy. poll_budget: (polls per
    second, burst) shared by every await of this client. max_await_rpcs: how
    many await RPCs may be in flight at once (the rest queue; 0 = no cap).
    max_receive_size: largest response in bytes (default 4 MiB).
    lb_policy: gRPC load-balancing policy ("round_robin", "pick_first").
    credentials: an lro.credentials.Credentials (access tokens, token
    providers written in Python, google-auth credentials, Google key files,
    API keys, client certificates). loop: the event loop (default: the running loop, so create the client
    inside a coroutine).

    Every call takes per-call keywords: timeout (seconds per attempt),
    headers, retry (RetryPolicy), traceparent, tracestate, or options= (a
    reusable CallOptions). Calls return awaitables (asyncio futures):
    cancelling one (task.cancel(), asyncio.wait_for) abandons the RPC or the
    await locally; the server is not told (that is cancel()).

    Use a client from its loop's thread (asyncio futures are not
    thread-safe); it may be closed from any thread. A call in flight keeps
    its client alive; close() (or `async with`) ends the calls still in
    flight with lro.Cancelled (result LRO_ERR_SHUTDOWN).
    """

    def __init__(self, target: str, *, plaintext: bool = False, root_pem: Optional[str] = None,
                 tls_server_name: Optional[str] = None, token: Optional[str] = None,
                 timeout: Optional[float] = 30.0, headers: Optional[Headers] = None,
                 user_agent: Optional[str] = None, loop: Optional[asyncio.AbstractEventLoop] = None,
                 poll_budget: Optional[Tuple[float, int]] = None,
                 max_await_rpcs: Optional[int] = None, retry: Optional[RetryPolicy] = None,
                 max_receive_size: Optional[int] = None, lb_policy: Optional[str] = None,
                 credentials=None, events=None):
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        loop = loop if loop is not None else running
        if loop is None:
            raise RuntimeError("lro.Client: no running event loop (create it in a coroutine, "
                               "or pass loop=; for scripts there is lro.SyncClient)")
        if loop.is_running() and loop is not running:
            raise RuntimeError("lro.Client: create the client on its loop's thread")
        # events: an lro.Event per thing the client does, handed to this
        # loop (lro-c reports them on its own threads).
        self._events_sink, key = _observe.register(events, loop) if events else (None, 0)
        ptr = create_client(target, _c.MODE_LOOP, plaintext=plaintext, root_pem=root_pem,
                            tls_server_name=tls_server_name, token=token, timeout=timeout,
                            headers=headers, user_agent=user_agent, poll_budget=poll_budget,
                            max_await_rpcs=max_await_rpcs, retry=retry,
                            max_receive_size=max_receive_size, lb_policy=lb_policy,
                            credentials=credentials, events_key=key)
        self._core = _Core(ptr, loop)
        # Not a method of self: the finalizer must not keep the client alive.
        self._finalizer = weakref.finalize(self, _Core.close, self._core)

    # ---- lifetime ----
    def close(self) -> None:
        """Closes the client: calls in flight end with lro.Cancelled (result
        LRO_ERR_SHUTDOWN); later calls raise it. Idempotent."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._core.closed

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()

    @property
    def inflight(self) -> int:
        """Calls started and not completed yet (diagnostics)."""
        return 0 if self._core.closed else _c.lro_client_inflight(self._core.ptr)

    @property
    def awaits_queued(self) -> int:
        """wait_done() calls waiting for an RPC slot (see max_await_rpcs)."""
        return 0 if self._core.closed else _c.lro_client_awaits_queued(self._core.ptr)

    def _start(self, conv, starter, progress=None, keep=()):
        return self._core.start(conv, starter, progress, (self,) + tuple(keep))

    # ---- the calls ----
    def get(self, name: str, *, options: Optional[CallOptions] = None, **call) -> Awaitable[Operation]:
        """GetOperation -> Operation."""
        n, o = _b(name), call_options(options, **call)
        core = self._core
        return self._start(conv_operation, lambda ud, out: _c.lro_get(
            core.ptr, n, o._ptr(), _DONE, ud, None, out), keep=(o,))

    def cancel(self, name: str, *, options: Optional[CallOptions] = None, **call) -> Awaitable[None]:
        """CancelOperation: asks the SERVER to cancel the operation -> None."""
        n, o = _b(name), call_options(options, **call)
        core = self._core
        return self._start(conv_empty, lambda ud, out: _c.lro_cancel(
            core.ptr, n, o._ptr(), _DONE, ud, None, out), keep=(o,))

    def delete(self, name: str, *, options: Optional[CallOptions] = None, **call) -> Awaitable[None]:
        """DeleteOperation -> None."""
        n, o = _b(name), call_options(options, **call)
        core = self._core
        return self._start(conv_empty, lambda ud, out: _c.lro_delete(
            core.ptr, n, o._ptr(), _DONE, ud, None, out), keep=(o,))

    def wait(self, name: str, server_timeout: Optional[float] = None, *,
             options: Optional[CallOptions] = None, **call) -> Awaitable[Operation]:
        """One WaitOperation RPC: the server holds it until the operation is
        done or server_timeout passes (None: the server's default), then
        answers with the operation as it is (done or not)."""
        from ._options import _ms
        n, o = _b(name), call_options(options, **call)
        st = _ms(server_timeout, "server_timeout")
        core = self._core
        return self._start(conv_operation, lambda ud, out: _c.lro_wait(
            core.ptr, n, st, o._ptr(), _DONE, ud, None, out), keep=(o,))

    def _await(self, fn, name, timeout, progress, policy, method, poll_interval,
               max_poll_interval, progress_interval, options, call):
        pol = poll_policy(policy, timeout, method, poll_interval, max_poll_interval,
                          progress_interval)._c()
        n, o = _b(name), call_options(options, **call)
        core = self._core
        pcb = _PROGRESS if progress is not None else _NO_PROGRESS
        return self._start(conv_await, lambda ud, out: fn(
            core.ptr, n, ctypes.byref(pol), o._ptr(), pcb, _DONE, ud, None, out), progress,
            keep=(o,))

    def wait_done(self, name: str, timeout: Optional[float] = None,
                  progress: Optional[Progress] = None, *, policy: Optional[PollPolicy] = None,
                  method: Optional[str] = None, poll_interval: Optional[float] = None,
                  max_poll_interval: Optional[float] = None,
                  progress_interval: Optional[float] = None, rpc_timeout: Optional[float] = None,
                  options: Optional[CallOptions] = None, **call) -> Awaitable[Operation]:
        """Awaits the operation until it is done -> the final Operation (an
        operation that failed or was cancelled remotely is returned, not
        raised: check .error, or call .result() which raises it).

        timeout: seconds for the whole await (None: no limit); then
        lro.WaitTimeout (a DeadlineExceeded and a TimeoutError) with
        .operation, the last state seen. progress(op): called on the loop
        with the first state and whenever the metadata changed (may be a
        coroutine function). policy: a PollPolicy; method ("auto", "poll",
        "wait"), poll_interval, max_poll_interval and progress_interval
        override its fields. rpc_timeout (or timeout in options=): deadline
        of each poll RPC. A poll that fails for good raises its LroError."""
        if rpc_timeout is not None:
            call["timeout"] = rpc_timeout
        return self._await(_c.lro_await, name, timeout, progress, policy, method, poll_interval,
                           max_poll_interval, progress_interval, options, call)

    def cancel_and_wait(self, name: str, timeout: Optional[float] = None,
                        progress: Optional[Progress] = None, *,
                        policy: Optional[PollPolicy] = None, method: Optional[str] = None,
                        poll_interval: Optional[float] = None,
                        max_poll_interval: Optional[float] = None,
                        progress_interval: Optional[float] = None,
                        rpc_timeout: Optional[float] = None,
                        options: Optional[CallOptions] = None,
                        **call) -> Awaitable[Operation]:
        """CancelOperation, then await the final state (as wait_done). A
        failed CancelOperation (e.g. MethodNotImplemented) is raised."""
        if rpc_timeout is not None:
            call["timeout"] = rpc_timeout
        return self._await(_c.lro_cancel_and_await, name, timeout, progress, policy, method,
                           poll_interval, max_poll_interval, progress_interval, options, call)

    def list(self, parent: str, *, filter: Optional[str] = None, page_size: int = 0,
             page_token: Optional[str] = None, return_partial_success: bool = False,
             options: Optional[CallOptions] = None, **call) -> "Pager":
        """ListOperations, all pages: `async for op in ops.list(parent)`.
        filter: the server's filter string; page_size 0: the server's default;
        page_token: resume a listing (Pager.page_token);
        return_partial_success: let the server answer with what it could
        reach (Pager.unreachable / Page.unreachable name the rest)."""
        return Pager(self, parent, filter, page_size, page_token, return_partial_success,
                     call_options(options, **call))


def list_args(filter, page_size, page_token, return_partial_success):
    f = _b(filter, "filter") if filter else None
    t = _b(page_token, "page_token") if page_token else None
    return _c.ListArgs(ctypes.sizeof(_c.ListArgs), f, int(page_size), t,
                       1 if return_partial_success else 0, 0)


class Pager:
    """Async iterator over every operation under a parent, fetching pages as
    needed (one ListOperations at a time). `async for op in pager`, or
    `await pager.next_page()` / `async for page in pager.pages()`.
    page_token: what resumes the listing later ("" before the first page,
    None after the last). A fetch in flight keeps its pager (and client)
    alive; close() frees it (cancelling a fetch in flight locally)."""

    def __init__(self, client: Client, parent: str, filter, page_size, page_token,
                 return_partial_success, opts: CallOptions):
        self._client = client
        core = client._core
        if core.closed:
            raise LroError._local(_c.ERR_SHUTDOWN)
        args = list_args(filter, page_size, page_token, return_partial_success)
        ptr = ctypes.c_void_p()
        rc = _c.lro_pager_create(core.ptr, _b(parent, "parent"), ctypes.byref(args), opts._ptr(),
                                 ctypes.byref(ptr))
        if rc != _c.OK:
            raise LroError._refused(rc)
        self._ptr = ptr.value
        self._finalizer = weakref.finalize(self, _c.lro_pager_destroy, ptr.value)
        self._buf: collections.deque = collections.deque()

    def next_page(self) -> Awaitable[Page]:
        """The next Page. Raises OutOfRange (result LRO_ERR_END) after the
        last page, FailedPrecondition (LRO_ERR_STATE) while a fetch is in
        flight or after close()."""
        if not self._finalizer.alive:
            raise LroError._local(_c.ERR_STATE)
        ptr = self._ptr
        return self._client._start(conv_page, lambda ud, out: _c.lro_pager_next_page(
            ptr, _DONE, ud, None, out), keep=(self,))

    @property
    def done(self) -> bool:
        return bool(_c.lro_pager_done(self._ptr)) if self._finalizer.alive else True

    @property
    def page_token(self) -> Optional[str]:
        if not self._finalizer.alive:
            return None
        t = _c.lro_pager_page_token(self._ptr)
        return t.decode("utf-8", "surrogateescape") if t is not None else None

    @property
    def unreachable(self):
        """Unreachable locations reported so far, across pages."""
        if not self._finalizer.alive:
            return []
        return [_c.lro_pager_unreachable(self._ptr, i).decode("utf-8", "surrogateescape")
                for i in range(_c.lro_pager_unreachable_count(self._ptr))]

    def __aiter__(self) -> "Pager":
        return self

    async def __anext__(self) -> Operation:
        while not self._buf:
            if self.done:
                raise StopAsyncIteration
            page = await self.next_page()
            self._buf.extend(page.operations)
        return self._buf.popleft()

    async def pages(self) -> AsyncIterator[Page]:
        while not self.done:
            yield await self.next_page()

    def close(self) -> None:
        self._finalizer()
