"""lro: asyncio client for google.longrunning.Operations, on lro-c (liblro.so.1).

    import asyncio, lro

    async def main():
        async with lro.Client("127.0.0.1:50051", plaintext=True) as ops:
            op = await ops.get("projects/p/locations/l/operations/123")
            async for o in ops.list("projects/p/locations/l/operations", filter="done=false"):
                print(o.name, o.done)
            op = await ops.wait_done(op.name, timeout=60, progress=lambda o: print(o.metadata))

    asyncio.run(main())

How it works: the lro-c client runs in loop mode; its file descriptor is
registered with loop.add_reader, and lro_client_process() runs in that reader
callback. lro-c calls back into Python only from there (or from the client's
destroy, which also runs on the loop thread), so every future is resolved and
every progress callback runs on the event loop's thread.

Lifetime: calls return asyncio futures that hold what they need; the C side
finds them through a registry keyed by an integer passed as user_data (never a
Python object pointer), so dropping a future, cancelling it, or dropping the
client in any order is safe. Closing the client (close(), `async with`, or
the client being garbage collected) ends the calls still in flight with
LroError (result LRO_ERR_SHUTDOWN, code CANCELLED).
"""
import asyncio
import collections
import ctypes
import itertools
import json as _json
import threading
import weakref

from . import _lib as _c

__all__ = ["Client", "Operation", "Status", "Any", "Page", "Pager", "LroError", "WaitTimeout",
           "code_name", "version"]

Any = collections.namedtuple("Any", "type_url value")
Any.__doc__ = "A google.protobuf.Any: type_url (str) and value (the packed message's bytes)."

_CODE_FOR_LOCAL = {
    _c.ERR_INVALID_ARG: 3, _c.ERR_BAD_NAME: 3, _c.ERR_BAD_HEADER: 3, _c.ERR_NOMEM: 8,
    _c.ERR_SHUTDOWN: 1, _c.ERR_CANCELLED: 1, _c.ERR_STATE: 9, _c.ERR_TIMEOUT: 4,
    _c.ERR_INTERNAL: 13, _c.ERR_END: 11,
}


def version():
    """The version of the loaded liblro, e.g. "1.0.0"."""
    return _c.lro_version_string().decode()


def code_name(code):
    """"OK", "CANCELLED", ... "UNAUTHENTICATED" for a gRPC status code."""
    return _c.lro_code_name(code).decode()


def _s(b):
    return b.decode("utf-8", "surrogateescape") if b is not None else None


def _b(s, what="name"):
    """str -> bytes for C; refuses what C would silently cut (NUL)."""
    if isinstance(s, bytes):
        b = s
    else:
        try:
            b = s.encode("utf-8", "surrogateescape")
        except (UnicodeEncodeError, AttributeError):
            raise LroError(3, "%s is not a valid UTF-8 string" % what, result=_c.ERR_BAD_NAME)
    if b"\0" in b:
        raise LroError(3, "%s contains NUL" % what, result=_c.ERR_BAD_NAME)
    return b


class LroError(Exception):
    """A call failed. code: the gRPC status code (int); code_name: its name;
    message: the status message; details: list of Any (type_url, bytes), the
    google.rpc.Status details from the server; result: lro-c's own result code
    (LRO_ERR_RPC for a server's error status; other values for local outcomes,
    e.g. LRO_ERR_SHUTDOWN (-5) when the client was closed, or a call refused
    before it started); result_name: its name."""

    def __init__(self, code, message, details=(), result=_c.ERR_RPC):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.details = list(details)
        self.result = result

    @property
    def code_name(self):
        return code_name(self.code)

    @property
    def result_name(self):
        return _c.lro_err_name(self.result).decode()

    def __str__(self):
        s = "%s: %s" % (self.code_name, self.message)
        if self.result != _c.ERR_RPC:
            s += " (%s)" % self.result_name
        return s

    @classmethod
    def _local(cls, rc):
        return cls(_CODE_FOR_LOCAL.get(rc, 2), _c.lro_strerror(rc).decode(), result=rc)

    @classmethod
    def _refused(cls, rc):
        """rc of an lro-c function that just failed on this thread (a setter,
        client create, a call starter): lro_last_error() says what was
        wrong, e.g. "name has invalid UTF-8 at byte 3"."""
        text = _c.lro_last_error().decode("utf-8", "replace")
        return cls(_CODE_FOR_LOCAL.get(rc, 2), text or _c.lro_strerror(rc).decode(), result=rc)


class WaitTimeout(LroError, TimeoutError):
    """wait_done() gave up after its timeout; .operation is the last state
    seen (None if no poll succeeded)."""

    def __init__(self, code, message, details=(), result=_c.ERR_TIMEOUT, operation=None):
        super().__init__(code, message, details, result)
        self.operation = operation


class Status:
    """A google.rpc.Status (an operation's error)."""
    __slots__ = ("code", "message", "details")

    def __init__(self, code, message, details):
        self.code, self.message, self.details = code, message, details

    @property
    def code_name(self):
        return code_name(self.code)

    def __repr__(self):
        return "Status(%s, %r, %d details)" % (self.code_name, self.message, len(self.details))


class Operation:
    """A google.longrunning.Operation, copied out of lro-c: name (str), done
    (bool), metadata and response (Any or None), error (Status or None).
    json() gives its proto3 JSON as Python objects (lro-c's JSON writer)."""
    __slots__ = ("name", "done", "metadata", "response", "error", "_json")

    def json(self):
        return _json.loads(self._json)

    def to_json(self):
        return self._json

    def __repr__(self):
        state = "error=%r" % (self.error,) if self.error else ("done" if self.done else "pending")
        return "Operation(%r, %s)" % (self.name, state)


class Page:
    """One ListOperations page: operations, next_page_token ("" on the last
    page), unreachable locations."""
    __slots__ = ("operations", "next_page_token", "unreachable")

    def __init__(self, operations, next_page_token, unreachable):
        self.operations, self.next_page_token, self.unreachable = (operations, next_page_token,
                                                                   unreachable)


# ---- copying out of lro-c's borrowed views ------------------------------------


def _any(getter, opp):
    url, val, n = ctypes.c_char_p(), ctypes.c_void_p(), ctypes.c_size_t()
    present = ctypes.c_int()
    if getter(opp, ctypes.byref(url), ctypes.byref(val), ctypes.byref(n),
              ctypes.byref(present)) != _c.OK or not present.value:
        return None
    return Any(_s(url.value), ctypes.string_at(val.value, n.value) if n.value else b"")


def _status_details(sp):
    out = []
    url, val, n = ctypes.c_char_p(), ctypes.c_void_p(), ctypes.c_size_t()
    for i in range(_c.lro_status_detail_count(sp)):
        if _c.lro_status_detail(sp, i, ctypes.byref(url), ctypes.byref(val),
                                ctypes.byref(n)) == _c.OK:
            out.append(Any(_s(url.value), ctypes.string_at(val.value, n.value) if n.value else b""))
    return out


def _status(sp):
    return Status(_c.lro_status_code(sp), _s(_c.lro_status_message(sp)), _status_details(sp))


def _operation(opp):
    op = Operation()
    op.name = _s(_c.lro_operation_name(opp))
    op.done = bool(_c.lro_operation_done(opp))
    op.metadata = _any(_c.lro_operation_metadata, opp)
    op.response = _any(_c.lro_operation_response, opp)
    ep = _c.lro_operation_error(opp)
    op.error = _status(ep) if ep else None
    out, n = ctypes.c_void_p(), ctypes.c_size_t()
    if _c.lro_operation_to_json(opp, 0, ctypes.byref(out), ctypes.byref(n)) == _c.OK:
        op._json = ctypes.string_at(out.value, n.value).decode("utf-8", "replace")
        _c.lro_free(out)
    else:
        op._json = "null"
    return op


def _error_of(fp, rc, cls=LroError, **kw):
    sp = _c.lro_future_status(fp)
    if not sp:
        return cls._local(rc) if cls is LroError else cls(2, "unknown", (), rc, **kw)
    return cls(_c.lro_status_code(sp), _s(_c.lro_status_message(sp)), _status_details(sp), rc, **kw)


def _conv_operation(fp, rc):
    if rc != _c.OK:
        raise _error_of(fp, rc)
    return _operation(_c.lro_future_operation(fp))


def _conv_empty(fp, rc):
    if rc != _c.OK:
        raise _error_of(fp, rc)
    return None


def _conv_page(fp, rc):
    if rc != _c.OK:
        raise _error_of(fp, rc)
    pg = _c.lro_future_page(fp)
    ops = [_operation(_c.lro_page_operation(pg, i)) for i in range(_c.lro_page_count(pg))]
    unreachable = [_s(_c.lro_page_unreachable(pg, i))
                   for i in range(_c.lro_page_unreachable_count(pg))]
    return Page(ops, _s(_c.lro_page_next_token(pg)), unreachable)


def _conv_await(fp, rc):
    if rc in (_c.OK, _c.ERR_OP_FAILED, _c.ERR_OP_CANCELLED):
        return _operation(_c.lro_future_operation(fp))
    if rc == _c.ERR_TIMEOUT:
        opp = _c.lro_future_operation(fp)
        raise _error_of(fp, rc, WaitTimeout, operation=_operation(opp) if opp else None)
    raise _error_of(fp, rc)


# ---- the registry and the two trampolines ---------------------------------------
# lro-c gets an integer id as user_data; the entry holds the asyncio future,
# how to convert the result, the loop, and our reference to the C future (for
# local cancel). A completion whose entry is gone is ignored.


class _Call:
    __slots__ = ("fut", "conv", "loop", "thread", "progress", "cfut", "finished")

    def __init__(self, fut, conv, loop, thread, progress=None):
        self.fut, self.conv, self.loop, self.thread = fut, conv, loop, thread
        self.progress = progress
        self.cfut = None
        self.finished = False


_calls = {}
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
    entry = _calls.pop(ud, None)
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


def _on_progress(opp, ud):
    entry = _calls.get(ud)
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


def _on_py_done(entry, fut):
    """asyncio future done: if it was cancelled by its user, cancel our call
    locally (the C completion still comes, and is ignored)."""
    if not fut.cancelled():
        return
    with _lock:
        cfut = entry.cfut if not entry.finished else None
        if cfut is not None:
            _c.lro_future_ref(cfut)
    if cfut is not None:
        _c.lro_future_cancel(cfut)
        _c.lro_future_unref(cfut)


def _call_options(timeout):
    if timeout is None:
        return None
    o = _c.CallOptions(ctypes.sizeof(_c.CallOptions), max(1, int(timeout * 1000)), None, 0, None,
                       ctypes.sizeof(_c.Header))
    return ctypes.byref(o)


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

    def start(self, conv, starter, progress=None):
        """Starts one call: starter(ud, out) calls the C function."""
        if self.closed:
            raise LroError._local(_c.ERR_SHUTDOWN)
        fut = self.loop.create_future()
        ud = next(_ids)
        entry = _Call(fut, conv, self.loop, self.thread, progress)
        out = ctypes.c_void_p()
        _calls[ud] = entry
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


class Client:
    """A google.longrunning.Operations client bound to an asyncio loop.

    Client(target, *, plaintext=False, root_pem=None, tls_server_name=None,
           token=None, timeout=30.0, headers=(), user_agent=None, loop=None,
           poll_budget=None, max_await_rpcs=None)

    target: "host:port", "dns:///host:port", "unix:/path"... TLS with the
    system roots unless plaintext=True (or root_pem, PEM text). token: bearer
    token sent on every call (refused over plaintext). timeout: default
    per-RPC deadline in seconds (None: none). headers: (key, value) pairs sent
    on every call (a bytes value for a "-bin" key may hold any bytes). loop: the event loop (default: the running loop, so create
    the client inside a coroutine). poll_budget: (polls per second, burst)
    shared by every wait_done() of this client. max_await_rpcs: how many of
    their RPCs may be in flight at once (the rest queue; 0 = no cap; default
    1024, see lro_client_options_set_max_await_rpcs). credentials:
    lro.credentials.Credentials (tokens, token providers in Python,
    google-auth, API keys, client certificates; see lro.credentials).

    Use a client from its loop's thread (asyncio futures are not thread-safe);
    it may be closed or dropped from any thread.
    """

    def __init__(self, target, *, plaintext=False, root_pem=None, tls_server_name=None,
                 token=None, timeout=30.0, headers=(), user_agent=None, loop=None,
                 poll_budget=None, max_await_rpcs=None, credentials=None):
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        loop = loop if loop is not None else running
        if loop is None:
            raise RuntimeError("lro.Client: no running event loop (create it in a coroutine, "
                               "or pass loop=)")
        if loop.is_running() and loop is not running:
            raise RuntimeError("lro.Client: create the client on its loop's thread")
        o = ctypes.c_void_p()
        rc = _c.lro_client_options_create(ctypes.byref(o))
        if rc != _c.OK:
            raise LroError._refused(rc)
        try:
            def chk(rc):
                if rc != _c.OK:
                    raise LroError._refused(rc)

            chk(_c.lro_client_options_set_target(o, _b(target, "target")))
            chk(_c.lro_client_options_set_mode(o, _c.MODE_LOOP))
            if plaintext:
                chk(_c.lro_client_options_set_plaintext(o))
            elif root_pem is not None:
                chk(_c.lro_client_options_set_tls(o, _b(root_pem, "root_pem")))
            if tls_server_name is not None:
                chk(_c.lro_client_options_set_tls_server_name(o, _b(tls_server_name, "name")))
            if token is not None:
                chk(_c.lro_client_options_set_bearer_token(o, _b(token, "token"), 0))
            if credentials is not None:  # lro.credentials.Credentials (referenced by C)
                chk(_c.lib.lro_client_options_set_credentials(o, ctypes.c_void_p(credentials._ptr)))
            chk(_c.lro_client_options_set_default_timeout_ms(
                o, 0 if timeout is None else max(1, int(timeout * 1000))))
            for k, v in headers:
                if isinstance(v, (bytes, bytearray)):
                    # Any bytes (NUL included) for a "-bin" key; lro-c
                    # refuses them for other keys, with the reason.
                    v = bytes(v)
                    chk(_c.lro_client_options_add_header_n(o, _b(k, "header"), v, len(v)))
                else:
                    chk(_c.lro_client_options_add_header(o, _b(k, "header"), _b(v, "header")))
            if user_agent is not None:
                chk(_c.lro_client_options_set_user_agent(o, _b(user_agent, "user_agent")))
            if poll_budget is not None:
                per_second, burst = poll_budget
                chk(_c.lro_client_options_set_poll_budget(o, float(per_second), int(burst)))
            if max_await_rpcs is not None:
                chk(_c.lro_client_options_set_max_await_rpcs(o, int(max_await_rpcs)))
            ptr = ctypes.c_void_p()
            chk(_c.lro_client_create(o, ctypes.byref(ptr)))
        finally:
            _c.lro_client_options_destroy(o)
        self._core = _Core(ptr.value, loop)
        # Not a method of self: the finalizer must not keep the client alive.
        self._finalizer = weakref.finalize(self, _Core.close, self._core)

    # ---- lifetime ----
    def close(self):
        """Closes the client: calls in flight end with LroError (result
        LRO_ERR_SHUTDOWN); later calls raise it. Idempotent."""
        self._finalizer()

    @property
    def closed(self):
        return self._core.closed

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()

    @property
    def inflight(self):
        """Calls started and not completed yet (diagnostics)."""
        return 0 if self._core.closed else _c.lro_client_inflight(self._core.ptr)

    @property
    def awaits_queued(self):
        """wait_done() calls waiting for an RPC slot (see max_await_rpcs)."""
        return 0 if self._core.closed else _c.lro_client_awaits_queued(self._core.ptr)

    # ---- the calls ----
    def get(self, name, *, timeout=None):
        """GetOperation -> asyncio future of an Operation."""
        n, o = _b(name), _call_options(timeout)
        core = self._core
        return core.start(_conv_operation,
                          lambda ud, out: _c.lro_get(core.ptr, n, o, _DONE, ud, None, out))

    def cancel(self, name, *, timeout=None):
        """CancelOperation (asks the server to cancel) -> future of None."""
        n, o = _b(name), _call_options(timeout)
        core = self._core
        return core.start(_conv_empty,
                          lambda ud, out: _c.lro_cancel(core.ptr, n, o, _DONE, ud, None, out))

    def delete(self, name, *, timeout=None):
        """DeleteOperation -> future of None."""
        n, o = _b(name), _call_options(timeout)
        core = self._core
        return core.start(_conv_empty,
                          lambda ud, out: _c.lro_delete(core.ptr, n, o, _DONE, ud, None, out))

    def wait_done(self, name, timeout=None, progress=None, *, method="auto", poll_interval=0.5,
                  max_poll_interval=30.0, rpc_timeout=None):
        """Awaits the operation until it is done -> future of the final
        Operation (check .error: an operation that failed or was cancelled
        remotely is returned, not raised). timeout: seconds for the whole wait
        (None: no limit); then WaitTimeout (a TimeoutError) with .operation.
        progress(op): called on the loop whenever the metadata changed (may be
        a coroutine function). method: "auto" (WaitOperation, polling with
        GetOperation if the server lacks it), "poll" or "wait"; poll_interval
        grows x1.5 per poll up to max_poll_interval. A failed RPC raises
        LroError."""
        if method not in _c.AWAIT_METHODS:
            raise ValueError("method must be one of %s" % sorted(_c.AWAIT_METHODS))
        pol = _c.PollPolicy(ctypes.sizeof(_c.PollPolicy), max(1, int(poll_interval * 1000)), 1.5,
                            max(1, int(max_poll_interval * 1000)), 0.2,
                            0 if timeout is None else max(1, int(timeout * 1000)),
                            _c.AWAIT_METHODS[method], 30000)
        n, o = _b(name), _call_options(rpc_timeout)
        core = self._core
        pcb = _PROGRESS if progress is not None else _c.PROGRESS_CB()
        return core.start(
            _conv_await,
            lambda ud, out: _c.lro_await(core.ptr, n, ctypes.byref(pol), o, pcb, _DONE, ud, None,
                                         out),
            progress)

    def list(self, parent, *, filter=None, page_size=0, page_token=None, timeout=None):
        """ListOperations, all pages: `async for op in ops.list(parent)`.
        filter: the server's filter string; page_size 0: the server's default;
        page_token: resume a listing (Pager.page_token). See Pager."""
        return Pager(self, parent, filter, page_size, page_token, timeout)


class Pager:
    """Async iterator over every operation under a parent, fetching pages as
    needed (one ListOperations at a time). `async for op in pager`, or
    `await pager.next_page()` / `async for page in pager.pages()`.
    page_token: what resumes the listing later ("" before the first page,
    None after the last). close() (or dropping it) frees it."""

    def __init__(self, client, parent, filter, page_size, page_token, timeout):
        self._client = client  # the C pager outlives a closed client safely; keep ours usable
        core = client._core
        if core.closed:
            raise LroError._local(_c.ERR_SHUTDOWN)
        f = _b(filter, "filter") if filter else None
        t = _b(page_token, "page_token") if page_token else None
        args = _c.ListArgs(ctypes.sizeof(_c.ListArgs), f, int(page_size), t, 0)
        ptr = ctypes.c_void_p()
        rc = _c.lro_pager_create(core.ptr, _b(parent, "parent"), ctypes.byref(args),
                                 _call_options(timeout), ctypes.byref(ptr))
        if rc != _c.OK:
            raise LroError._refused(rc)
        self._ptr = ptr.value
        self._finalizer = weakref.finalize(self, _c.lro_pager_destroy, ptr.value)
        self._buf = collections.deque()

    def next_page(self):
        """Future of the next Page. Raises LroError (result LRO_ERR_END)
        after the last page, LRO_ERR_STATE while a fetch is in flight."""
        if not self._finalizer.alive:
            raise LroError._local(_c.ERR_STATE)
        core, ptr = self._client._core, self._ptr
        return core.start(_conv_page,
                          lambda ud, out: _c.lro_pager_next_page(ptr, _DONE, ud, None, out))

    @property
    def done(self):
        return bool(_c.lro_pager_done(self._ptr)) if self._finalizer.alive else True

    @property
    def page_token(self):
        if not self._finalizer.alive:
            return None
        return _s(_c.lro_pager_page_token(self._ptr))

    def __aiter__(self):
        return self

    async def __anext__(self):
        while not self._buf:
            if self.done:
                raise StopAsyncIteration
            page = await self.next_page()
            self._buf.extend(page.operations)
        return self._buf.popleft()

    async def pages(self):
        while not self.done:
            yield await self.next_page()

    def close(self):
        self._finalizer()
