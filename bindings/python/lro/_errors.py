"""Exceptions: one class per gRPC status code, named as google-api-core names
them, all subclasses of LroError; parsed error details."""
from __future__ import annotations

import collections
import ctypes
import json as _json
from typing import Any as _T, Dict, List, Optional, Tuple, Type

from . import _lib as _c

Any = collections.namedtuple("Any", "type_url value")
Any.__doc__ = "A google.protobuf.Any: type_url (str) and value (the packed message's bytes)."

ErrorInfo = collections.namedtuple("ErrorInfo", "reason domain metadata")
ErrorInfo.__doc__ = ("google.rpc.ErrorInfo: reason (str), domain (str), metadata "
                     "(dict of str to str).")

_CODE_FOR_LOCAL = {
    _c.ERR_INVALID_ARG: 3, _c.ERR_BAD_NAME: 3, _c.ERR_BAD_HEADER: 3, _c.ERR_NOMEM: 8,
    _c.ERR_SHUTDOWN: 1, _c.ERR_CANCELLED: 1, _c.ERR_STATE: 9, _c.ERR_TIMEOUT: 4,
    _c.ERR_INTERNAL: 13, _c.ERR_END: 11, _c.ERR_DECODE: 13, _c.ERR_TYPE_MISMATCH: 3,
    _c.ERR_NOT_DONE: 9, _c.ERR_UNSUPPORTED: 12, _c.ERR_IO: 2,
}


def code_name(code: int) -> str:
    """"OK", "CANCELLED", ... "UNAUTHENTICATED" for a gRPC status code."""
    return _c.lro_code_name(code).decode()


def _s(b):
    return b.decode("utf-8", "surrogateescape") if b is not None else None


# A hook for details (and Any values) lro-c and python-protobuf cannot
# decode: set_any_decoder(fn) with fn(type_url, value) -> object or None.
# This is where a type registry (descriptor sets loaded at run time, see
# lroctl --protoset) plugs in.
_any_decoders: List = []


def set_any_decoder(fn) -> None:
    """Registers fn(type_url: str, value: bytes) -> object | None, asked
    (most recent first) for every Any that lro.unpack() / LroError.details
    cannot decode otherwise; None means "not mine"."""
    _any_decoders.insert(0, fn)


class LroError(Exception):
    """A call failed.

    code: the gRPC status code (int), code_name its name; message: the status
    message; details: the google.rpc.Status details (list of Any); result:
    lro-c's own result code (LRO_ERR_RPC (-7) for a server's error status,
    other values for local outcomes: LRO_ERR_SHUTDOWN (-5) when the client was
    closed, LRO_ERR_TIMEOUT for an await that ran out of time, a refusal
    before the call started...), result_name its name.

    Parsed details: error_info (ErrorInfo or None), reason / domain /
    metadata (shortcuts into it), retry_delay (seconds from a RetryInfo
    detail, or None), details_json (every detail as lro-c's proto3 JSON, a
    list of dicts: every google.rpc error detail type is expanded there;
    unknown types come as {"@type", "value": base64}).

    The class tells the code: NotFound, InvalidArgument, ServiceUnavailable
    (alias Unavailable), DeadlineExceeded, ... (see lro.exception_class).
    """

    code: int = 2
    grpc_status_code: Optional[int] = None

    def __init__(self, code: int, message: str, details=(), result: int = _c.ERR_RPC,
                 details_json: Optional[list] = None, retry_delay: Optional[float] = None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.details: List[Any] = list(details)
        self.result = result
        self._details_json = details_json
        self.retry_delay = retry_delay

    @property
    def code_name(self) -> str:
        return code_name(self.code)

    @property
    def result_name(self) -> str:
        return _c.lro_err_name(self.result).decode()

    @property
    def details_json(self) -> List[Dict[str, _T]]:
        if self._details_json is None:
            from ._types import _details_json_of
            self._details_json = _details_json_of(self.details)
        return self._details_json

    @property
    def error_info(self) -> Optional[ErrorInfo]:
        for d in self.details_json:
            if isinstance(d, dict) and d.get("@type", "").endswith("/google.rpc.ErrorInfo"):
                return ErrorInfo(d.get("reason", ""), d.get("domain", ""),
                                 dict(d.get("metadata", {})))
        return None

    @property
    def reason(self) -> Optional[str]:
        ei = self.error_info
        return ei.reason if ei else None

    @property
    def domain(self) -> Optional[str]:
        ei = self.error_info
        return ei.domain if ei else None

    @property
    def metadata(self) -> Dict[str, str]:
        ei = self.error_info
        return ei.metadata if ei else {}

    def unpacked_details(self) -> list:
        """Every detail decoded (see lro.unpack): a python-protobuf message
        when the type is known there, else a dict (lro-c's JSON), else what
        an any-decoder hook returns, else the Any itself."""
        from ._types import unpack
        return [unpack(d) for d in self.details]

    def __str__(self):
        s = "%s: %s" % (self.code_name, self.message)
        if self.result != _c.ERR_RPC:
            s += " (%s)" % self.result_name
        return s

    def __reduce__(self):
        return (_rebuild, (self.code, self.message, self.details, self.result,
                           self.retry_delay))

    @classmethod
    def _local(cls, rc: int):
        return make_error(_CODE_FOR_LOCAL.get(rc, 2), _c.lro_strerror(rc).decode(), result=rc)

    @classmethod
    def _refused(cls, rc: int):
        """rc of an lro-c function that just failed on this thread (a setter,
        client create, a call starter): lro_last_error() says what was
        wrong, e.g. "name has invalid UTF-8 at byte 3"."""
        text = _c.lro_last_error().decode("utf-8", "replace")
        return make_error(_CODE_FOR_LOCAL.get(rc, 2), text or _c.lro_strerror(rc).decode(),
                          result=rc)


def _rebuild(code, message, details, result, retry_delay):
    return make_error(code, message, details, result, retry_delay=retry_delay)


# gRPC code -> (api-core's class name, aliases)
_NAMES: Dict[int, Tuple[str, Tuple[str, ...]]] = {
    1: ("Cancelled", ()),
    2: ("Unknown", ()),
    3: ("InvalidArgument", ()),
    4: ("DeadlineExceeded", ()),
    5: ("NotFound", ()),
    6: ("AlreadyExists", ()),
    7: ("PermissionDenied", ()),
    8: ("ResourceExhausted", ()),
    9: ("FailedPrecondition", ()),
    10: ("Aborted", ()),
    11: ("OutOfRange", ()),
    12: ("MethodNotImplemented", ("Unimplemented",)),
    13: ("InternalServerError", ("Internal",)),
    14: ("ServiceUnavailable", ("Unavailable",)),
    15: ("DataLoss", ()),
    16: ("Unauthenticated", ()),
}

_CLASSES: Dict[int, Type[LroError]] = {}
EXPORTS: Dict[str, Type[LroError]] = {}
for _code, (_name, _aliases) in _NAMES.items():
    _cls = type(_name, (LroError,), {
        "__doc__": "gRPC status %s (%d)." % (_c.lro_code_name(_code).decode(), _code),
        "__module__": "lro", "grpc_status_code": _code})
    _CLASSES[_code] = _cls
    EXPORTS[_name] = _cls
    for _a in _aliases:
        EXPORTS[_a] = _cls


class WaitTimeout(EXPORTS["DeadlineExceeded"], TimeoutError):  # type: ignore[misc]
    """An await gave up after its timeout; .operation is the last state
    seen (None if no poll succeeded)."""
    __module__ = "lro"

    def __init__(self, code: int, message: str, details=(), result: int = _c.ERR_TIMEOUT,
                 operation=None, **kw):
        super().__init__(code, message, details, result, **kw)
        self.operation = operation


def exception_class(code: int) -> Type[LroError]:
    """The LroError subclass for a gRPC status code (LroError for codes
    outside 1..16)."""
    return _CLASSES.get(code, LroError)


def make_error(code: int, message: str, details=(), result: int = _c.ERR_RPC, *,
               cls: Optional[type] = None, **kw) -> LroError:
    return (cls or exception_class(code))(code, message, details, result, **kw)


def _any_at(url, val, n):
    return Any(_s(url.value), ctypes.string_at(val.value, n.value) if n.value else b"")


def status_details(sp) -> List[Any]:
    out = []
    url, val, n = ctypes.c_char_p(), ctypes.c_void_p(), ctypes.c_size_t()
    for i in range(_c.lro_status_detail_count(sp)):
        if _c.lro_status_detail(sp, i, ctypes.byref(url), ctypes.byref(val),
                                ctypes.byref(n)) == _c.OK:
            out.append(_any_at(url, val, n))
    return out


def status_retry_delay(sp) -> Optional[float]:
    ms, present = ctypes.c_int64(), ctypes.c_int()
    if _c.lro_status_retry_delay_ms(sp, ctypes.byref(ms), ctypes.byref(present)) != _c.OK:
        return None
    return ms.value / 1000.0 if present.value else None


def status_json(sp) -> dict:
    out, n = ctypes.c_void_p(), ctypes.c_size_t()
    if _c.lro_status_to_json(sp, 0, ctypes.byref(out), ctypes.byref(n)) != _c.OK:
        return {}
    try:
        return _json.loads(ctypes.string_at(out.value, n.value).decode("utf-8", "replace"))
    finally:
        _c.lro_free(out)


def error_from_status(sp, rc: int = _c.ERR_RPC, cls=None, **kw) -> LroError:
    """An LroError subclass from a borrowed lro_status*, copied out."""
    js = status_json(sp)
    return make_error(_c.lro_status_code(sp), _s(_c.lro_status_message(sp)), status_details(sp),
                      rc, cls=cls, details_json=list(js.get("details", [])),
                      retry_delay=status_retry_delay(sp), **kw)
