"""Retry and poll policies, per-call options, client options: Python values
turned into lro-c's versioned structs and setters."""
from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence, Tuple, Union

from . import _lib as _c
from ._errors import LroError, make_error

Code = Union[int, str, type]
HeaderValue = Union[str, bytes, bytearray]
Headers = Union[Mapping[str, HeaderValue], Iterable[Tuple[str, HeaderValue]]]


def _b(s, what="name") -> bytes:
    """str -> bytes for C; refuses what C would silently cut (NUL)."""
    if isinstance(s, bytes):
        b = s
    else:
        try:
            b = s.encode("utf-8", "surrogateescape")
        except (UnicodeEncodeError, AttributeError):
            raise make_error(3, "%s is not a valid UTF-8 string" % what,
                             result=_c.ERR_BAD_NAME) from None
    if b"\0" in b:
        raise make_error(3, "%s contains NUL" % what, result=_c.ERR_BAD_NAME)
    return b


def _ms(seconds: Optional[float], what: str, none: int = 0, inf: int = 0) -> int:
    """Seconds -> whole milliseconds (at least 1 for a positive value)."""
    if seconds is None:
        return none
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("%s must be a number of seconds, not %r" % (what, seconds))
    if math.isinf(seconds) and seconds > 0:
        return inf
    if math.isnan(seconds) or seconds < 0:
        raise make_error(3, "%s must be >= 0 seconds, not %r" % (what, seconds),
                         result=_c.ERR_INVALID_ARG)
    if seconds == 0:
        return 0
    return max(1, int(round(seconds * 1000)))


def code_bits(codes: Iterable[Code], what: str) -> int:
    """gRPC codes as lro-c's bit set (1 << code); each code an int, a name
    ("UNAVAILABLE", case-insensitive) or an LroError subclass."""
    bits = 0
    names = {_c.lro_code_name(i).decode(): i for i in range(17)}
    for c in codes:
        if isinstance(c, type) and getattr(c, "grpc_status_code", None) is not None:
            c = c.grpc_status_code
        elif isinstance(c, str):
            if c.upper() not in names:
                raise make_error(3, "%s: unknown status code name %r" % (what, c),
                                 result=_c.ERR_INVALID_ARG)
            c = names[c.upper()]
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= 16:
            raise make_error(3, "%s: %r is not a gRPC status code" % (what, c),
                             result=_c.ERR_INVALID_ARG)
        bits |= 1 << c
    return bits


@dataclass(frozen=True)
class RetryPolicy:
    """How a call retries (lro_retry_policy). Times in seconds.

    max_attempts: total attempts including the first (1 = no retry);
    initial_backoff, multiplier, max_backoff, jitter (0..1): the delays;
    total_timeout: all attempts and sleeps (None = unbounded);
    retry_codes: the codes retried (ints, names or exception classes).
    A server's google.rpc.RetryInfo delay replaces the computed backoff."""
    max_attempts: int = 4
    initial_backoff: float = 0.1
    multiplier: float = 2.0
    max_backoff: float = 5.0
    jitter: float = 0.2
    total_timeout: Optional[float] = None
    retry_codes: Sequence[Code] = ("UNAVAILABLE",)

    def _c(self) -> _c.RetryPolicy:
        return _c.RetryPolicy(ctypes.sizeof(_c.RetryPolicy), int(self.max_attempts),
                              _ms(self.initial_backoff, "initial_backoff"),
                              float(self.multiplier), _ms(self.max_backoff, "max_backoff"),
                              float(self.jitter), _ms(self.total_timeout, "total_timeout"),
                              code_bits(self.retry_codes, "retry_codes"), 0)


AWAIT_METHODS = {"auto": 0, "poll": 1, "wait": 2}


@dataclass(frozen=True)
class PollPolicy:
    """How an await polls (lro_poll_policy). Times in seconds.

    initial_delay, multiplier, max_delay, jitter: spacing of polls (the first
    one is immediate); timeout: the whole await (None = no limit);
    method: "auto" (WaitOperation, then GetOperation polling if the server
    lacks it), "poll" (GetOperation only) or "wait" (WaitOperation only);
    wait_timeout: server-side timeout of each WaitOperation;
    transient_budget: how long a run of transient poll failures may last
    (None = the whole timeout); transient_codes: which codes are transient
    (() = UNAVAILABLE and DEADLINE_EXCEEDED); progress_interval: with a
    progress callback, the longest a metadata change may go unreported
    (None = no limit)."""
    initial_delay: float = 0.5
    multiplier: float = 1.5
    max_delay: float = 30.0
    jitter: float = 0.2
    timeout: Optional[float] = 3600.0
    method: str = "auto"
    wait_timeout: float = 30.0
    transient_budget: Optional[float] = None
    transient_codes: Sequence[Code] = ()
    progress_interval: Optional[float] = 5.0

    def _c(self) -> _c.PollPolicy:
        if self.method not in AWAIT_METHODS:
            raise ValueError("method must be one of %s" % sorted(AWAIT_METHODS))
        return _c.PollPolicy(ctypes.sizeof(_c.PollPolicy), _ms(self.initial_delay, "initial_delay"),
                             float(self.multiplier), _ms(self.max_delay, "max_delay"),
                             float(self.jitter), _ms(self.timeout, "timeout"),
                             AWAIT_METHODS[self.method], _ms(self.wait_timeout, "wait_timeout"),
                             _ms(self.transient_budget, "transient_budget"),
                             code_bits(self.transient_codes, "transient_codes"), 0,
                             _ms(self.progress_interval, "progress_interval"))


def _header_items(headers: Optional[Headers]):
    if not headers:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    out = []
    for k, v in items:
        kb = _b(k, "header key")
        if isinstance(v, (bytes, bytearray, memoryview)):
            vb = bytes(v)  # any bytes (NUL included) for a "-bin" key
        else:
            vb = _b(v, "header value")
        out.append((kb, vb))
    return out


class CallOptions:
    """Per-call options (lro_call_options), built once and reusable:
    timeout (seconds per attempt; None = the client's default; math.inf = no
    deadline), headers (mapping or pairs; bytes values for "-bin" keys),
    retry (RetryPolicy; None = the client's), traceparent / tracestate (W3C
    trace context sent on every attempt and every poll; lro-c validates
    them). Every call method takes the same keywords."""

    __slots__ = ("_struct", "_keep", "_empty")

    def __init__(self, timeout: Optional[float] = None, headers: Optional[Headers] = None,
                 retry: Optional[RetryPolicy] = None, traceparent: Optional[str] = None,
                 tracestate: Optional[str] = None):
        hs = _header_items(headers)
        arr = (_c.Header * max(1, len(hs)))()
        keep = [arr]
        for i, (k, v) in enumerate(hs):
            vbuf = ctypes.create_string_buffer(v, len(v) + 1)
            keep += [k, vbuf]
            arr[i].key = k
            arr[i].value = ctypes.cast(vbuf, ctypes.c_void_p)
            # value_len 0 means strlen: an empty value is "" either way.
            arr[i].value_len = len(v)
        rp = None
        if retry is not None:
            if not isinstance(retry, RetryPolicy):
                raise TypeError("retry must be an lro.RetryPolicy")
            rp = retry._c()
            keep.append(rp)
        tp = _b(traceparent, "traceparent") if traceparent is not None else None
        ts = _b(tracestate, "tracestate") if tracestate is not None else None
        self._struct = _c.CallOptions(
            ctypes.sizeof(_c.CallOptions), _ms(timeout, "timeout", 0, -1),
            ctypes.cast(arr, ctypes.c_void_p) if hs else None, len(hs),
            ctypes.cast(ctypes.pointer(rp), ctypes.c_void_p) if rp is not None else None,
            ctypes.sizeof(_c.Header), None, tp, ts)
        self._keep = keep + [tp, ts]
        self._empty = timeout is None and not hs and rp is None and tp is None and ts is None

    def _ptr(self):
        return None if self._empty else ctypes.byref(self._struct)


def call_options(options: Optional[CallOptions] = None, **kw) -> CallOptions:
    """options= (a CallOptions) or the keywords, not both."""
    if options is not None:
        if any(v is not None for v in kw.values()):
            raise TypeError("pass either options= or call keywords, not both")
        if not isinstance(options, CallOptions):
            raise TypeError("options must be an lro.CallOptions")
        return options
    return CallOptions(**kw)


def _chk(rc: int) -> None:
    if rc != _c.OK:
        raise LroError._refused(rc)


def create_client(target: str, mode: int, *, plaintext: bool = False,
                  root_pem: Optional[str] = None, tls_server_name: Optional[str] = None,
                  token: Optional[str] = None, timeout: Optional[float] = 30.0,
                  headers: Optional[Headers] = None, user_agent: Optional[str] = None,
                  poll_budget: Optional[Tuple[float, int]] = None,
                  max_await_rpcs: Optional[int] = None, retry: Optional[RetryPolicy] = None,
                  max_receive_size: Optional[int] = None, lb_policy: Optional[str] = None,
                  wakeup=None, credentials=None, events_key: int = 0) -> int:
    """An lro_client* for these options (shared by Client and SyncClient).
    events_key: from lro._observe.register(), 0 = no event hook."""
    o = ctypes.c_void_p()
    _chk(_c.lro_client_options_create(ctypes.byref(o)))
    try:
        _chk(_c.lro_client_options_set_target(o, _b(target, "target")))
        _chk(_c.lro_client_options_set_mode(o, mode))
        if plaintext:
            _chk(_c.lro_client_options_set_plaintext(o))
        elif root_pem is not None:
            _chk(_c.lro_client_options_set_tls(o, _b(root_pem, "root_pem")))
        if tls_server_name is not None:
            _chk(_c.lro_client_options_set_tls_server_name(o, _b(tls_server_name, "name")))
        if token is not None:
            _chk(_c.lro_client_options_set_bearer_token(o, _b(token, "token"), 0))
        if credentials is not None:  # lro.credentials.Credentials (C takes a reference)
            _chk(_c.lib.lro_client_options_set_credentials(o, ctypes.c_void_p(credentials._ptr)))
        _chk(_c.lro_client_options_set_default_timeout_ms(o, _ms(timeout, "timeout", 0, 0)))
        for k, v in _header_items(headers):
            _chk(_c.lro_client_options_add_header_n(o, k, v, len(v)))
        if user_agent is not None:
            _chk(_c.lro_client_options_set_user_agent(o, _b(user_agent, "user_agent")))
        if poll_budget is not None:
            per_second, burst = poll_budget
            _chk(_c.lro_client_options_set_poll_budget(o, float(per_second), int(burst)))
        if max_await_rpcs is not None:
            _chk(_c.lro_client_options_set_max_await_rpcs(o, int(max_await_rpcs)))
        if retry is not None:
            rp = retry._c()
            _chk(_c.lro_client_options_set_retry(o, ctypes.byref(rp)))
        if max_receive_size is not None:
            _chk(_c.lro_client_options_set_max_receive_size(o, int(max_receive_size)))
        if lb_policy is not None:
            _chk(_c.lro_client_options_set_lb_policy(o, _b(lb_policy, "lb_policy")))
        if events_key:
            from . import _observe
            _chk(_c.lro_client_options_set_event_hook(o, _observe._HOOK,
                                                      ctypes.c_void_p(events_key)))
        ptr = ctypes.c_void_p()
        _chk(_c.lro_client_create(o, ctypes.byref(ptr)))
        return ptr.value
    finally:
        _c.lro_client_options_destroy(o)
