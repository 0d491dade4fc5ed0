"""ctypes declarations of liblro.so.1 (the C API of lro/*.h).

Only this module knows C types. The library is found, in order:
  1. inside the installed package (lro/_libs/liblro.so.1, what the wheel
     carries, with the libraries a Debian 12 system with libgrpc29 lacks,
     i.e. libprotobuf-c.so.1, preloaded from there first);
  2. $LRO_LIBRARY (a path; an error if it cannot be loaded);
  3. the dynamic loader's own search ("liblro.so.1": LD_LIBRARY_PATH,
     ld.so.cache), next to this package when it sits inside an install
     prefix (PREFIX/lib/...), and in /usr/local/lib and /usr/lib.

The embedded server (lro/testing.h) is a library of its own,
liblro_testing.so.1; only lro.testing loads it (load_testing()), found the
same way: the package's _libs, $LRO_TESTING_LIBRARY, then the directory
liblro was loaded from, then the loader's search and the places above.
"""
import ctypes
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_int, c_int32, c_int64,
                    c_size_t, c_uint, c_uint32, c_uint64, c_void_p)

SONAME = "liblro.so.1"
ABI_MAJOR = 1
# What the wheel carries (tools/wheel / bindings/python/setup.py puts it there).
PACKAGE_LIBS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_libs")
# Libraries liblro needs that Debian's libgrpc29 does not pull in: loaded
# from _libs (RTLD_GLOBAL) before liblro, so that its NEEDED entries resolve
# to them by SONAME.
BUNDLED_DEPS = ("libprotobuf-c.so.1",)


def _candidates(soname=SONAME):
    here = os.path.dirname(os.path.abspath(__file__))
    d = here
    for _ in range(6):
        d = os.path.dirname(d)
        yield os.path.join(d, "lib", soname)
    yield os.path.join("/usr/local/lib", soname)
    yield os.path.join("/usr/lib", soname)


def _bundled(soname):
    p = os.path.join(PACKAGE_LIBS, soname)
    return p if os.path.exists(p) else None


def _load():
    p = _bundled(SONAME)
    if p:
        for dep in BUNDLED_DEPS:
            d = _bundled(dep)
            if d:
                ctypes.CDLL(d, mode=ctypes.RTLD_GLOBAL)
        return ctypes.CDLL(p)
    path = os.environ.get("LRO_LIBRARY")
    if path:
        return ctypes.CDLL(path)
    try:
        return ctypes.CDLL(SONAME)
    except OSError:
        pass
    for p in _candidates():
        if os.path.exists(p):
            return ctypes.CDLL(p)
    raise OSError("lro: cannot find %s; set LRO_LIBRARY to its path, install the lro wheel, "
                  "or install lro-c (tools/install.sh)" % SONAME)


lib = _load()

# ---- result codes (lro/common.h), pinned values ------------------------------
OK = 0
ERR_INVALID_ARG = -1
ERR_NOMEM = -2
ERR_BAD_NAME = -3
ERR_BAD_HEADER = -4
ERR_SHUTDOWN = -5
ERR_CANCELLED = -6
ERR_RPC = -7
ERR_DECODE = -8
ERR_NOT_DONE = -9
ERR_TIMEOUT = -10
ERR_OP_FAILED = -11
ERR_OP_CANCELLED = -12
ERR_TYPE_MISMATCH = -13
ERR_STATE = -14
ERR_INTERNAL = -15
ERR_UNSUPPORTED = -16
ERR_END = -17
ERR_IO = -18

MODE_THREAD = 0
MODE_LOOP = 1
AWAIT_METHODS = {"auto": 0, "poll": 1, "wait": 2}

# ---- callback shapes -------------------------------------------------------------
# void (*lro_done_cb)(lro_future *f, void *user_data)
DONE_CB = CFUNCTYPE(None, c_void_p, c_void_p)
# void (*lro_progress_cb)(const lro_operation *op, void *user_data)
PROGRESS_CB = CFUNCTYPE(None, c_void_p, c_void_p)


class Event(Structure):
    """struct lro_event (lro/events.h), 152 bytes on LP64."""
    _fields_ = [("struct_size", c_uint32), ("kind", c_int32), ("call_id", c_uint64),
                ("parent_id", c_uint64), ("time_unix_ns", c_int64), ("method", c_char_p),
                ("name", c_char_p), ("attempt", c_int32), ("code", c_int32), ("result", c_int32),
                ("reason", c_int32), ("duration_ns", c_int64), ("delay_ns", c_int64),
                ("throttle_ns", c_int64), ("request_bytes", c_uint64),
                ("response_bytes", c_uint64), ("attempts", c_int32), ("polls", c_int32),
                ("flags", c_int32), ("channel_state", c_int32), ("channel_index", c_int32),
                ("reserved0", c_int32), ("trace_id", c_char_p), ("span_id", c_char_p),
                ("parent_span_id", c_char_p)]


# void (*lro_event_hook)(const lro_event *ev, void *data)
EVENT_HOOK = CFUNCTYPE(None, POINTER(Event), c_void_p)
# void (*lro_log_hook)(lro_log_level level, const char *source, const char *msg, void *data)
LOG_HOOK = CFUNCTYPE(None, c_int32, c_char_p, c_char_p, c_void_p)


class Header(Structure):
    _fields_ = [("key", c_char_p), ("value", c_void_p), ("value_len", c_size_t)]


class CallOptions(Structure):
    _fields_ = [("struct_size", c_uint32), ("timeout_ms", c_int64), ("headers", c_void_p),
                ("header_count", c_size_t), ("retry", c_void_p), ("header_size", c_size_t),
                ("credentials", c_void_p), ("traceparent", c_char_p), ("tracestate", c_char_p)]


class ListArgs(Structure):
    _fields_ = [("struct_size", c_uint32), ("filter", c_char_p), ("page_size", c_int32),
                ("page_token", c_char_p), ("return_partial_success", c_int32),
                ("reserved0", c_uint32)]


class RetryPolicy(Structure):
    _fields_ = [("struct_size", c_uint32), ("max_attempts", c_int),
                ("initial_backoff_ms", c_int64), ("multiplier", c_double),
                ("max_backoff_ms", c_int64), ("jitter", c_double), ("total_timeout_ms", c_int64),
                ("retry_codes", c_uint32), ("reserved0", c_uint32)]


class PollPolicy(Structure):
    _fields_ = [("struct_size", c_uint32), ("initial_delay_ms", c_int64), ("multiplier", c_double),
                ("max_delay_ms", c_int64), ("jitter", c_double), ("total_timeout_ms", c_int64),
                ("method", c_int32), ("wait_timeout_ms", c_int64),
                ("transient_budget_ms", c_int64), ("transient_codes", c_uint32),
                ("reserved0", c_uint32), ("progress_interval_ms", c_int64)]


# The sizes of lro-c 1.0's structs on LP64 (lro/client.h, lro/longrunning.h):
# a layout that drifted from the C headers fails at import, not at a call.
if ctypes.sizeof(c_void_p) == 8:
    for _t, _n in ((CallOptions, 72), (PollPolicy, 88), (RetryPolicy, 56), (ListArgs, 40),
                   (Header, 24), (Event, 152)):
        if ctypes.sizeof(_t) != _n:
            raise ImportError("lro: ctypes %s is %d bytes, lro-c 1.0 has %d" %
                              (_t.__name__, ctypes.sizeof(_t), _n))


class TestServerOptions(Structure):
    _fields_ = [("struct_size", c_uint32), ("listen", c_char_p), ("threads", c_int),
                ("wait_cap_ms", c_int64), ("record_limit", c_int64)]


class TestFault(Structure):
    _fields_ = [("struct_size", c_uint32), ("methods", c_uint), ("name", c_char_p),
                ("times", c_int), ("kind", c_int), ("code", c_int), ("message", c_char_p),
                ("details_status", c_void_p), ("details_len", c_size_t),
                ("retry_delay_ms", c_int64), ("latency_ms", c_int64), ("garbage", c_void_p),
                ("garbage_len", c_size_t), ("big_size", c_size_t)]


def _fn(name, restype, *argtypes, dll=None):
    f = getattr(dll or lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    globals()[name] = f


P = c_void_p
PP = POINTER(c_void_p)
CALL = POINTER(CallOptions)

_fn("lro_version", c_int)
_fn("lro_version_string", c_char_p)
_fn("lro_strerror", c_char_p, c_int)
_fn("lro_err_name", c_char_p, c_int)
_fn("lro_last_error", c_char_p)
_fn("lro_code_name", c_char_p, c_int)
_fn("lro_free", None, P)

_fn("lro_client_options_create", c_int, PP)
_fn("lro_client_options_destroy", None, P)
_fn("lro_client_options_set_target", c_int, P, c_char_p)
_fn("lro_client_options_set_plaintext", c_int, P)
_fn("lro_client_options_set_tls", c_int, P, c_char_p)
_fn("lro_client_options_set_tls_server_name", c_int, P, c_char_p)
_fn("lro_client_options_set_bearer_token", c_int, P, c_char_p, c_int)
_fn("lro_client_options_set_default_timeout_ms", c_int, P, c_int64)
_fn("lro_client_options_add_header", c_int, P, c_char_p, c_char_p)
_fn("lro_client_options_add_header_n", c_int, P, c_char_p, c_char_p, c_size_t)
_fn("lro_client_options_set_user_agent", c_int, P, c_char_p)
_fn("lro_client_options_set_mode", c_int, P, c_int32)
_fn("lro_client_options_set_poll_budget", c_int, P, ctypes.c_double, c_int)
_fn("lro_client_options_set_max_await_rpcs", c_int, P, c_int)
_fn("lro_client_options_set_retry", c_int, P, POINTER(RetryPolicy))
_fn("lro_client_options_set_max_receive_size", c_int, P, c_int64)
_fn("lro_client_options_set_lb_policy", c_int, P, c_char_p)
_fn("lro_client_awaits_queued", c_size_t, P)
_fn("lro_client_create", c_int, P, PP)
_fn("lro_client_destroy", None, P)
_fn("lro_client_fd", c_int, P)
_fn("lro_client_process", c_int, P, c_int)
_fn("lro_client_inflight", c_size_t, P)

_fn("lro_get", c_int, P, c_char_p, CALL, DONE_CB, P, P, PP)
_fn("lro_cancel", c_int, P, c_char_p, CALL, DONE_CB, P, P, PP)
_fn("lro_delete", c_int, P, c_char_p, CALL, DONE_CB, P, P, PP)
_fn("lro_wait", c_int, P, c_char_p, c_int64, CALL, DONE_CB, P, P, PP)
_fn("lro_list", c_int, P, c_char_p, POINTER(ListArgs), CALL, DONE_CB, P, P, PP)
_fn("lro_await", c_int, P, c_char_p, POINTER(PollPolicy), CALL, PROGRESS_CB, DONE_CB, P, P, PP)
_fn("lro_cancel_and_await", c_int, P, c_char_p, POINTER(PollPolicy), CALL, PROGRESS_CB, DONE_CB,
    P, P, PP)

_fn("lro_future_ref", P, P)
_fn("lro_future_unref", None, P)
_fn("lro_future_cancel", c_int, P)
_fn("lro_future_result", c_int, P)
_fn("lro_future_status", P, P)
_fn("lro_future_operation", P, P)
_fn("lro_future_page", P, P)
_fn("lro_future_is_done", c_int, P)
_fn("lro_future_wait", c_int, P, c_int64)
_fn("lro_future_attempts", c_int, P)
_fn("lro_future_polls", c_int, P)

_fn("lro_operation_name", c_char_p, P)
_fn("lro_operation_done", c_int, P)
_fn("lro_operation_metadata", c_int, P, POINTER(c_char_p), PP, POINTER(c_size_t), POINTER(c_int))
_fn("lro_operation_response", c_int, P, POINTER(c_char_p), PP, POINTER(c_size_t), POINTER(c_int))
_fn("lro_operation_error", P, P)
_fn("lro_operation_to_json", c_int, P, c_uint, PP, POINTER(c_size_t))

_fn("lro_status_code", c_int, P)
_fn("lro_status_message", c_char_p, P)
_fn("lro_status_detail_count", c_size_t, P)
_fn("lro_status_detail", c_int, P, c_size_t, POINTER(c_char_p), PP, POINTER(c_size_t))
_fn("lro_status_retry_delay_ms", c_int, P, POINTER(c_int64), POINTER(c_int))
_fn("lro_status_to_json", c_int, P, c_uint, PP, POINTER(c_size_t))
_fn("lro_page_to_json", c_int, P, c_uint, PP, POINTER(c_size_t))

# Events and logs (lro/events.h).
_fn("lro_client_options_set_event_hook", c_int, P, EVENT_HOOK, P)
_fn("lro_event_kind_name", c_char_p, c_int32)
_fn("lro_channel_state_name", c_char_p, c_int32)
_fn("lro_retry_reason_name", c_char_p, c_int32)
_fn("lro_log_set_hook", c_int, LOG_HOOK, P, c_int32)
_fn("lro_log_route_grpc", c_int, c_int)

# Type registry from FileDescriptorSets (lro/registry.h).
_fn("lro_registry_create", c_int, PP)
_fn("lro_registry_destroy", None, P)
_fn("lro_registry_add_set", c_int, P, c_char_p, c_size_t, c_char_p, PP)
_fn("lro_registry_add_file", c_int, P, c_char_p, PP)
_fn("lro_registry_message_count", c_size_t, P)
_fn("lro_json_set_registry", c_int, P)

# Serialized bytes and owned views (lro/future.h, "Serialized bytes").
_fn("lro_operation_serialize", c_int, P, PP, POINTER(c_size_t))
_fn("lro_page_serialize", c_int, P, PP, POINTER(c_size_t))
_fn("lro_status_serialize", c_int, P, PP, POINTER(c_size_t))
_fn("lro_operation_parse", c_int, c_char_p, c_size_t, PP)
_fn("lro_page_parse", c_int, c_char_p, c_size_t, PP)
_fn("lro_status_parse", c_int, c_char_p, c_size_t, PP)
_fn("lro_operation_destroy", None, P)
_fn("lro_page_destroy", None, P)
_fn("lro_status_destroy", None, P)

_fn("lro_page_count", c_size_t, P)
_fn("lro_page_operation", P, P, c_size_t)
_fn("lro_page_next_token", c_char_p, P)
_fn("lro_page_unreachable_count", c_size_t, P)
_fn("lro_page_unreachable", c_char_p, P, c_size_t)

_fn("lro_pager_create", c_int, P, c_char_p, POINTER(ListArgs), CALL, PP)
_fn("lro_pager_destroy", None, P)
_fn("lro_pager_next_page", c_int, P, DONE_CB, P, P, PP)
_fn("lro_pager_page_token", c_char_p, P)
_fn("lro_pager_done", c_int, P)
_fn("lro_pager_unreachable_count", c_size_t, P)
_fn("lro_pager_unreachable", c_char_p, P, c_size_t)

# ---- the embedded server (lro/testing.h): liblro_testing, used by lro.testing --
# Its major version is liblro's (tools/dist/mkdist.sh checks the pair).
TESTING_SONAME = "liblro_testing.so.%d" % ABI_MAJOR
testing = None


def _load_testing():
    p = _bundled(TESTING_SONAME)
    if p and os.path.dirname(lib._name) == PACKAGE_LIBS:
        return ctypes.CDLL(p)
    path = os.environ.get("LRO_TESTING_LIBRARY")
    if path:
        return ctypes.CDLL(path)
    # Beside the liblro this process uses: the pair installed together.
    if os.path.dirname(lib._name):
        p = os.path.join(os.path.dirname(lib._name), TESTING_SONAME)
        if os.path.exists(p):
            return ctypes.CDLL(p)
    try:
        return ctypes.CDLL(TESTING_SONAME)
    except OSError:
        pass
    for p in _candidates(TESTING_SONAME):
        if os.path.exists(p):
            return ctypes.CDLL(p)
    raise OSError("lro.testing: cannot find %s; set LRO_TESTING_LIBRARY to its path or install "
                  "lro-c (tools/install.sh)" % TESTING_SONAME)


def load_testing():
    """Loads liblro_testing once and declares its lro_test_* functions in
    this module. Programs that never import lro.testing never load it."""
    global testing
    if testing is not None:
        return testing
    t = _load_testing()
    _fn("lro_test_server_start", c_int, POINTER(TestServerOptions), PP, dll=t)
    _fn("lro_test_server_target", c_char_p, P, dll=t)
    _fn("lro_test_server_stop", None, P, dll=t)
    _fn("lro_test_server_put_pending", c_int, P, c_char_p, c_char_p, c_char_p, c_size_t, dll=t)
    _fn("lro_test_server_set_metadata", c_int, P, c_char_p, c_char_p, c_char_p, c_size_t, dll=t)
    _fn("lro_test_server_complete", c_int, P, c_char_p, c_int64, c_char_p, c_char_p, c_size_t,
        dll=t)
    _fn("lro_test_server_fail", c_int, P, c_char_p, c_int64, c_int, c_char_p, c_char_p, c_size_t,
        dll=t)
    _fn("lro_test_server_seed", c_int, P, c_char_p, c_int, dll=t)
    _fn("lro_test_server_count", c_size_t, P, dll=t)
    _fn("lro_test_server_add_fault", c_int, P, POINTER(TestFault), dll=t)
    _fn("lro_test_server_clear_faults", None, P, dll=t)
    _fn("lro_test_server_call_count", c_uint64, P, c_uint, c_char_p, dll=t)
    _fn("lro_test_server_set_unreachable", c_int, P, c_char_p, POINTER(c_char_p), c_size_t,
        dll=t)
    _fn("lro_test_server_last_record", P, P, c_uint, c_char_p, dll=t)
    _fn("lro_test_server_clear_records", None, P, dll=t)
    _fn("lro_test_record_free", None, P, dll=t)
    _fn("lro_test_record_method", c_uint, P, dll=t)
    _fn("lro_test_record_name", c_char_p, P, dll=t)
    _fn("lro_test_record_filter", c_char_p, P, dll=t)
    _fn("lro_test_record_page_size", c_int32, P, dll=t)
    _fn("lro_test_record_page_token", c_char_p, P, dll=t)
    _fn("lro_test_record_partial", c_int, P, dll=t)
    _fn("lro_test_record_wait_timeout_ms", c_int64, P, dll=t)
    _fn("lro_test_record_deadline_ms", c_int64, P, dll=t)
    _fn("lro_test_record_header_n", c_void_p, P, c_char_p, POINTER(c_size_t), dll=t)
    _fn("lro_test_record_code", c_int, P, dll=t)
    testing = t
    return t

if lib.lro_version() // 10000 != ABI_MAJOR:
    raise ImportError("lro: %s is version %s; this binding needs major version %d" %
                      (SONAME, lib.lro_version_string().decode(), ABI_MAJOR))
