"""The embedded google.longrunning.Operations server (lro/testing.h) for tests.

A real gRPC server on loopback, running on its own C threads (it needs no
event loop and holds no GIL while serving):

    with lro.testing.Server() as srv:
        srv.seed("projects/demo/locations/global/operations", 20)
        srv.put_pending("ops/build-1", metadata=Any(url, b"..."))
        srv.complete("ops/build-1", delay=0.5)
        async with lro.Client(srv.target, plaintext=True) as ops: ...
"""
import ctypes
import weakref

from . import _lib as _c
from . import LroError, _b
from ._types import _field, _varint, encode_status  # noqa: F401 (re-exported)

# The server is liblro_testing, not liblro: loaded here, on first import.
_c.load_testing()

LIST, GET, DELETE, CANCEL, WAIT, ALL = 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F


def _chk(rc):
    if rc != _c.OK:
        raise LroError._refused(rc)


def _ms(seconds):
    return int(round(seconds * 1000))


class Server:
    """Server(listen="127.0.0.1:0", wait_cap=None); .target is what to give a
    client. stop() (or leaving the with block, or collection) stops it."""

    def __init__(self, listen=None, wait_cap=None):
        o = _c.TestServerOptions(ctypes.sizeof(_c.TestServerOptions),
                                 _b(listen, "listen") if listen else None, 0,
                                 _ms(wait_cap) if wait_cap else 0, 0)
        p = ctypes.c_void_p()
        _chk(_c.lro_test_server_start(ctypes.byref(o), ctypes.byref(p)))
        self._p = p.value
        self.target = _c.lro_test_server_target(self._p).decode()
        self._finalizer = weakref.finalize(self, _c.lro_test_server_stop, self._p)

    def stop(self):
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def seed(self, parent, n):
        _chk(_c.lro_test_server_seed(self._p, _b(parent), n))

    def put_pending(self, name, metadata=None):
        url, val = metadata if metadata else (None, None)
        _chk(_c.lro_test_server_put_pending(self._p, _b(name), url and url.encode(), val,
                                            len(val or b"")))

    def set_metadata(self, name, metadata):
        url, val = metadata
        _chk(_c.lro_test_server_set_metadata(self._p, _b(name), url.encode(), val, len(val)))

    def complete(self, name, delay=0.0, response=None):
        url, val = response if response else (None, None)
        _chk(_c.lro_test_server_complete(self._p, _b(name), _ms(delay), url and url.encode(), val,
                                         len(val or b"")))

    def fail(self, name, code, message, delay=0.0, details=()):
        st = encode_status(code, message, details) if details else None
        _chk(_c.lro_test_server_fail(self._p, _b(name), _ms(delay), code, message.encode(), st,
                                     len(st or b"")))

    def add_status_fault(self, methods=ALL, name=None, times=1, code=14, message="injected",
                         details=(), retry_delay=None):
        """The next `times` matching calls are answered with this status;
        details go to grpc-status-details-bin (retry_delay adds RetryInfo)."""
        st = encode_status(code, message, details) if details else None
        buf = ctypes.create_string_buffer(st, len(st)) if st else None
        f = _c.TestFault(ctypes.sizeof(_c.TestFault), methods, _b(name) if name else None, times,
                         0, code, message.encode(), ctypes.cast(buf, ctypes.c_void_p) if buf else
                         None, len(st or b""), -1 if retry_delay is None else _ms(retry_delay), 0,
                         None, 0, 0)
        _chk(_c.lro_test_server_add_fault(self._p, ctypes.byref(f)))

    def add_latency_fault(self, latency, methods=ALL, name=None, times=1):
        f = _c.TestFault(ctypes.sizeof(_c.TestFault), methods, _b(name) if name else None, times,
                         1, 0, None, None, 0, -1, _ms(latency), None, 0, 0)
        _chk(_c.lro_test_server_add_fault(self._p, ctypes.byref(f)))

    def clear_faults(self):
        _c.lro_test_server_clear_faults(self._p)

    def call_count(self, methods=0, name=None):
        return _c.lro_test_server_call_count(self._p, methods, _b(name) if name else None)

    def set_unreachable(self, parent, locations):
        """ListOperations of exactly `parent` reports these locations as
        unreachable (with return_partial_success; UNAVAILABLE without)."""
        locs = [_b(x, "location") for x in locations]
        arr = (ctypes.c_char_p * max(1, len(locs)))(*locs)
        _chk(_c.lro_test_server_set_unreachable(self._p, _b(parent), arr, len(locs)))

    def last_request(self, methods=ALL, name=None):
        """The newest recorded call matching methods/name (a Request), or None."""
        r = _c.lro_test_server_last_record(self._p, methods, _b(name) if name else None)
        return Request(r) if r else None

    def clear_requests(self):
        _c.lro_test_server_clear_records(self._p)

    def count(self):
        return _c.lro_test_server_count(self._p)


class Request:
    """One call the server recorded: method (LIST, GET...), name, filter,
    page_size, page_token, partial (return_partial_success), wait_timeout_ms,
    deadline_ms, code (the status it answered, -1 while held), and
    header(key) -> bytes or None (every request header, "-bin" ones decoded)."""

    def __init__(self, ptr):
        self._p = ptr
        self._finalizer = weakref.finalize(self, _c.lro_test_record_free, ptr)
        self.method = _c.lro_test_record_method(ptr)
        self.name = _c.lro_test_record_name(ptr).decode()
        self.filter = _c.lro_test_record_filter(ptr).decode()
        self.page_size = _c.lro_test_record_page_size(ptr)
        self.page_token = _c.lro_test_record_page_token(ptr).decode()
        self.partial = bool(_c.lro_test_record_partial(ptr))
        self.wait_timeout_ms = _c.lro_test_record_wait_timeout_ms(ptr)
        self.deadline_ms = _c.lro_test_record_deadline_ms(ptr)
        self.code = _c.lro_test_record_code(ptr)

    def header(self, key):
        n = ctypes.c_size_t()
        v = _c.lro_test_record_header_n(self._p, key.encode(), ctypes.byref(n))
        return ctypes.string_at(v, n.value) if v else None
