"""What comes back from lro-c, copied into Python objects: Operation, Status,
Page; unpacking an Any into a python-protobuf message or a dict."""
from __future__ import annotations

import base64
import ctypes
import json as _json
from typing import Any as _T, Dict, List, Optional, Type, TypeVar, Union

from . import _lib as _c
from ._errors import (Any, LroError, _any_at, _any_decoders, _s, error_from_status, make_error,
                      status_details)

M = TypeVar("M")

# Well-known types whose proto3 JSON inside an Any is {"@type", "value"}: such
# a pair is their real form, not lro-c's fallback for an unknown type.
_WKT_VALUE_FORM = {"google.protobuf." + n for n in (
    "Duration", "Timestamp", "Struct", "Value", "ListValue", "Any", "FieldMask",
    "DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value", "UInt32Value",
    "BoolValue", "StringValue", "BytesValue")}


def _full_name(type_url: str) -> str:
    return type_url.rsplit("/", 1)[-1]


# ---- protobuf wire helpers (a Status around one Any, for lro-c's JSON) -------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def encode_status(code: int, message: str = "", details=()) -> bytes:
    """A serialized google.rpc.Status; details: (type_url, bytes) pairs."""
    out = b""
    if code:
        out += _varint(1 << 3) + _varint(code)
    if message:
        out += _field(2, message.encode())
    for url, value in details:
        out += _field(3, _field(1, url.encode()) + (_field(2, value) if value else b""))
    return out


def _take(out: ctypes.c_void_p, n: ctypes.c_size_t) -> bytes:
    try:
        return ctypes.string_at(out.value, n.value) if n.value else b""
    finally:
        _c.lro_free(out)


def _to_json(fn, ptr) -> str:
    out, n = ctypes.c_void_p(), ctypes.c_size_t()
    rc = fn(ptr, 0, ctypes.byref(out), ctypes.byref(n))
    if rc != _c.OK:
        raise LroError._local(rc)
    return _take(out, n).decode("utf-8", "replace")


def _serialized(fn, ptr) -> bytes:
    out, n = ctypes.c_void_p(), ctypes.c_size_t()
    rc = fn(ptr, ctypes.byref(out), ctypes.byref(n))
    if rc != _c.OK:
        raise LroError._refused(rc)
    return _take(out, n)


class _Owned:
    """An owned lro-c view parsed from bytes (lro_*_parse), destroyed on exit."""

    def __init__(self, parse, destroy, data: bytes):
        self.destroy = destroy
        p = ctypes.c_void_p()
        rc = parse(data, len(data), ctypes.byref(p))
        if rc != _c.OK:
            raise LroError._refused(rc)
        self.ptr = p.value

    def __enter__(self):
        return self.ptr

    def __exit__(self, *exc):
        self.destroy(self.ptr)


def _any_json(a: Any) -> Dict[str, _T]:
    """lro-c's proto3 JSON of one Any (through a Status around it)."""
    with _Owned(_c.lro_status_parse, _c.lro_status_destroy,
                encode_status(0, "", [tuple(a)])) as sp:
        return _json.loads(_to_json(_c.lro_status_to_json, sp))["details"][0]


def _details_json_of(details) -> List[Dict[str, _T]]:
    if not details:
        return []
    with _Owned(_c.lro_status_parse, _c.lro_status_destroy,
                encode_status(0, "", [tuple(d) for d in details])) as sp:
        return list(_json.loads(_to_json(_c.lro_status_to_json, sp)).get("details", []))


def _is_fallback(a: Any, js: Dict[str, _T]) -> bool:
    return (set(js) == {"@type", "value"} and isinstance(js["value"], str) and
            _full_name(a.type_url) not in _WKT_VALUE_FORM)


def unpack(a: Optional[Any], cls: Optional[Type[M]] = None) -> Union[M, Dict[str, _T], _T, None]:
    """Decodes an Any.

    unpack(a, MessageClass): a python-protobuf message (MessageClass.FromString);
    the type URL must name MessageClass (InvalidArgument, result
    LRO_ERR_TYPE_MISMATCH, otherwise).
    unpack(a): a dict, lro-c's proto3 JSON of it ({"@type": url, fields...},
    or {"@type", "value"} for well-known types with a special form); for a
    type lro-c does not know, what a hook set with lro.set_any_decoder()
    returns, else the JSON fallback {"@type": url, "value": base64}.
    None gives None."""
    if a is None:
        return None
    if cls is not None:
        want = getattr(getattr(cls, "DESCRIPTOR", None), "full_name", None)
        if want is None:
            raise TypeError("unpack: %r is not a protobuf message class" % (cls,))
        if _full_name(a.type_url) != want:
            raise make_error(3, "Any holds %s, not %s" % (a.type_url, want),
                             result=_c.ERR_TYPE_MISMATCH)
        try:
            return cls.FromString(a.value)  # type: ignore[attr-defined]
        except Exception as e:  # noqa: B902 (protobuf's DecodeError)
            raise make_error(13, "%s does not decode: %s" % (want, e),
                             result=_c.ERR_DECODE) from None
    js = _any_json(a)
    if _is_fallback(a, js):
        for fn in _any_decoders:
            r = fn(a.type_url, a.value)
            if r is not None:
                return r
    return js


class Status:
    """A google.rpc.Status (an operation's error): code, message, details
    (list of Any). exception() gives the matching LroError subclass."""
    __slots__ = ("code", "message", "details", "_bytes")

    def __init__(self, code: int, message: str, details: List[Any], _bytes: bytes = b""):
        self.code, self.message, self.details = code, message, details
        self._bytes = _bytes

    @property
    def code_name(self) -> str:
        return _c.lro_code_name(self.code).decode()

    def exception(self) -> LroError:
        # result as lro_await reports the same outcome: a remote cancel is
        # LRO_ERR_OP_CANCELLED, any other error LRO_ERR_OP_FAILED.
        rc = _c.ERR_OP_CANCELLED if self.code == 1 else _c.ERR_OP_FAILED
        with _Owned(_c.lro_status_parse, _c.lro_status_destroy, self.to_bytes()) as sp:
            return error_from_status(sp, rc)

    def to_bytes(self) -> bytes:
        """The serialized google.rpc.Status."""
        return self._bytes or encode_status(self.code, self.message, self.details)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Status":
        with _Owned(_c.lro_status_parse, _c.lro_status_destroy, bytes(data)) as sp:
            return _status(sp)

    def __eq__(self, other):
        return isinstance(other, Status) and self.to_bytes() == other.to_bytes()

    def __repr__(self):
        return "Status(%s, %r, %d details)" % (self.code_name, self.message, len(self.details))


class Operation:
    """A google.longrunning.Operation, copied out of lro-c.

    name (str), done (bool), error (Status or None), metadata_any and
    response_any (Any or None: the raw packed messages).
    metadata(cls=None) / result(cls=None): the metadata / response unpacked
    (see lro.unpack): into a python-protobuf message of class cls, or a dict
    (proto3 JSON) without one. result() raises the operation's error as an
    LroError subclass, and FailedPrecondition (result LRO_ERR_NOT_DONE) while
    it is not done. to_bytes() / Operation.from_bytes(): the serialized
    Operation, e.g. to save it and resume awaiting it later by name.
    json() gives its proto3 JSON as Python objects (lro-c's JSON writer)."""
    __slots__ = ("name", "done", "metadata_any", "response_any", "error", "_bytes")

    name: str
    done: bool
    metadata_any: Optional[Any]
    response_any: Optional[Any]
    error: Optional[Status]

    def metadata(self, cls: Optional[Type[M]] = None):
        return unpack(self.metadata_any, cls)

    def result(self, cls: Optional[Type[M]] = None):
        if self.error is not None:
            raise self.error.exception()
        if not self.done:
            raise make_error(9, "operation %s is not done" % self.name,
                             result=_c.ERR_NOT_DONE)
        return unpack(self.response_any, cls)

    def exception(self) -> Optional[LroError]:
        """The operation's error as an exception (None when it has none)."""
        return self.error.exception() if self.error is not None else None

    def to_bytes(self) -> bytes:
        return self._bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> "Operation":
        """Parses a serialized google.longrunning.Operation (InvalidArgument /
        InternalServerError with result LRO_ERR_DECODE when it is not one)."""
        with _Owned(_c.lro_operation_parse, _c.lro_operation_destroy, bytes(data)) as p:
            return _operation(p)

    def to_proto(self, cls: Type[M]) -> M:
        """This operation as an instance of your google.longrunning
        Operation class (e.g. googleapis-common-protos' operations_pb2)."""
        return cls.FromString(self._bytes)  # type: ignore[attr-defined]

    def to_json(self) -> str:
        with _Owned(_c.lro_operation_parse, _c.lro_operation_destroy, self._bytes) as p:
            return _to_json(_c.lro_operation_to_json, p)

    def json(self) -> Dict[str, _T]:
        return _json.loads(self.to_json())

    def __eq__(self, other):
        return isinstance(other, Operation) and self._bytes == other._bytes

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self):
        state = "error=%r" % (self.error,) if self.error else ("done" if self.done else "pending")
        return "Operation(%r, %s)" % (self.name, state)


class Page:
    """One ListOperations page: operations, next_page_token ("" on the last
    page), unreachable locations (with return_partial_success)."""
    __slots__ = ("operations", "next_page_token", "unreachable")

    def __init__(self, operations: List[Operation], next_page_token: str,
                 unreachable: List[str]):
        self.operations, self.next_page_token, self.unreachable = (operations, next_page_token,
                                                                   unreachable)

    def __iter__(self):
        return iter(self.operations)

    def __len__(self):
        return len(self.operations)

    def __repr__(self):
        return "Page(%d operations, next_page_token=%r)" % (len(self.operations),
                                                             self.next_page_token)


# ---- copying out of lro-c's borrowed views ------------------------------------
def _any(getter, opp) -> Optional[Any]:
    url, val, n = ctypes.c_char_p(), ctypes.c_void_p(), ctypes.c_size_t()
    present = ctypes.c_int()
    if getter(opp, ctypes.byref(url), ctypes.byref(val), ctypes.byref(n),
              ctypes.byref(present)) != _c.OK or not present.value:
        return None
    return _any_at(url, val, n)


def _status(sp) -> Status:
    return Status(_c.lro_status_code(sp), _s(_c.lro_status_message(sp)), status_details(sp),
                  _serialized(_c.lro_status_serialize, sp))


def _operation(opp) -> Operation:
    op = Operation()
    op.name = _s(_c.lro_operation_name(opp))
    op.done = bool(_c.lro_operation_done(opp))
    op.metadata_any = _any(_c.lro_operation_metadata, opp)
    op.response_any = _any(_c.lro_operation_response, opp)
    ep = _c.lro_operation_error(opp)
    op.error = _status(ep) if ep else None
    op._bytes = _serialized(_c.lro_operation_serialize, opp)
    return op


def _page(pg) -> Page:
    ops = [_operation(_c.lro_page_operation(pg, i)) for i in range(_c.lro_page_count(pg))]
    unreachable = [_s(_c.lro_page_unreachable(pg, i))
                   for i in range(_c.lro_page_unreachable_count(pg))]
    return Page(ops, _s(_c.lro_page_next_token(pg)), unreachable)


def page_from_bytes(data: bytes) -> Page:
    """A serialized ListOperationsResponse as a Page."""
    with _Owned(_c.lro_page_parse, _c.lro_page_destroy, bytes(data)) as p:
        return _page(p)


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()
