"""Events and logs from lro-c (lro/events.h) for Python programs.

Events: `events=` on lro.Client / lro.SyncClient takes a callable that gets
an lro.Event per thing the client does (call started, each attempt with its
status and duration, retries with their delay and why, each poll of an
await, call finished, connection state changes). lro-c delivers them on its
own threads; an asyncio Client hands each to its event loop
(call_soon_threadsafe), a SyncClient calls the callable on lro-c's thread at
once (keep it short; it must not call into the client).

Logs: lro.set_logger(logging.getLogger("lro")) routes lro-c's own log lines
(and with grpc=True grpc's, process-wide) to a logging.Logger, secrets
already redacted by lro-c.
"""
import ctypes
import logging
import threading
import weakref
from typing import Callable, Dict, NamedTuple, Optional

from . import _lib as _c


class Event(NamedTuple):
    """One lro-c event (a copy: lro-c's strings live only during its hook).
    kind: "CALL_STARTED", "ATTEMPT_STARTED", "ATTEMPT_FINISHED",
    "RETRY_SCHEDULED", "AWAIT_POLL", "CALL_FINISHED" or "CHANNEL_STATE";
    durations in seconds; fields that do not apply are 0, "" or None
    (code None when there is no status)."""
    kind: str
    call_id: int
    parent_id: int
    time: float
    method: str
    name: str
    attempt: int
    code: Optional[int]
    result: int
    retry_reason: str
    duration: float
    delay: float
    throttle: float
    request_bytes: int
    response_bytes: int
    attempts: int
    polls: int
    flags: int
    channel_state: str
    channel_index: int
    trace_id: Optional[str]
    span_id: Optional[str]
    parent_span_id: Optional[str]


# AWAIT_POLL flags (lro_event.flags).
POLL_FALLBACK, POLL_THROTTLED_BUDGET, POLL_THROTTLED_CAP = 1, 2, 4
POLL_PROGRESS, POLL_DONE, POLL_FAILED = 8, 16, 32


def _s(b) -> str:
    return b.decode("utf-8", "replace") if b else ""


def _opt(b) -> Optional[str]:
    return b.decode("ascii", "replace") if b else None


def _copy(ev) -> Event:
    e = ev.contents
    kind = e.kind
    return Event(
        kind=_s(_c.lro_event_kind_name(kind)), call_id=e.call_id, parent_id=e.parent_id,
        time=e.time_unix_ns / 1e9, method=_s(e.method), name=_s(e.name), attempt=e.attempt,
        code=None if e.code < 0 else e.code, result=e.result,
        retry_reason=_s(_c.lro_retry_reason_name(e.reason)) if kind == 4 else "",
        duration=e.duration_ns / 1e9, delay=e.delay_ns / 1e9, throttle=e.throttle_ns / 1e9,
        request_bytes=e.request_bytes, response_bytes=e.response_bytes, attempts=e.attempts,
        polls=e.polls, flags=e.flags,
        channel_state=_s(_c.lro_channel_state_name(e.channel_state)) if kind == 7 else "",
        channel_index=e.channel_index, trace_id=_opt(e.trace_id), span_id=_opt(e.span_id),
        parent_span_id=_opt(e.parent_span_id))


class _Sink:
    """Where one client's events go; held by the client object only."""
    __slots__ = ("fn", "loop", "__weakref__")

    def __init__(self, fn: Callable[[Event], None], loop=None):
        self.fn, self.loop = fn, loop

    def deliver(self, ev: Event) -> None:
        if self.loop is None:
            self.fn(ev)
        elif not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(self.fn, ev)
            except RuntimeError:  # the loop closed meanwhile
                pass


# One C trampoline for every client (it lives as long as the module, so a
# client's events can never reach a freed ctypes thunk): `data` is a key in
# this table of weak references to the clients' sinks.
_sinks: Dict[int, "weakref.ref[_Sink]"] = {}
_sinks_lock = threading.Lock()
_next_key = [1]


def _hook(ev, data) -> None:
    ref = _sinks.get(data or 0)
    sink = ref() if ref is not None else None
    if sink is None:
        return
    try:
        sink.deliver(_copy(ev))
    except Exception:  # noqa: B902 - never let a user's error unwind into C
        logging.getLogger("lro").exception("lro: exception in an events callback")


_HOOK = _c.EVENT_HOOK(_hook)


def register(fn: Callable[[Event], None], loop=None):
    """A sink for `fn` and the key to give lro-c as the hook's data; keep the
    sink as long as the client (the table holds it weakly)."""
    if not callable(fn):
        raise TypeError("events: %r is not callable" % (fn,))
    sink = _Sink(fn, loop)
    with _sinks_lock:
        key = _next_key[0]
        _next_key[0] += 1

        def gone(_ref, key=key):
            _sinks.pop(key, None)
        _sinks[key] = weakref.ref(sink, gone)
    return sink, key


# ---- logs ----------------------------------------------------------------------------

_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}
_logger: Optional[logging.Logger] = None


def _log(level, source, msg, data) -> None:
    lg = _logger
    if lg is not None:
        try:
            lg.log(_LEVELS.get(level, logging.INFO), "%s: %s", _s(source), _s(msg))
        except Exception:  # noqa: B902
            pass


_LOG = _c.LOG_HOOK(_log)


def set_logger(logger: Optional[logging.Logger], level: int = logging.DEBUG,
               grpc: bool = False) -> None:
    """Routes lro-c's log lines (process-wide) to `logger` at `level` and
    above (a logging level: DEBUG also reports every event of clients created
    afterwards, which costs a little per call); None: no lro-c log lines. grpc=True routes grpc's own lines too (process-wide in
    grpc: every grpc user of the process). Set it before creating clients.
    Lines are already redacted (tokens, API keys, private keys)."""
    global _logger
    if logger is None:
        _logger = None
        _c.lro_log_set_hook(ctypes.cast(None, _c.LOG_HOOK), None, 0)
        _c.lro_log_route_grpc(0)
        return
    max_level = 4 if level <= logging.DEBUG else 3 if level <= logging.INFO else \
        2 if level <= logging.WARNING else 1
    _logger = logger
    _c.lro_log_set_hook(_LOG, None, max_level)
    _c.lro_log_route_grpc(1 if grpc else 0)
