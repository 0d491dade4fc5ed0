"""lro: Python client for google.longrunning.Operations, on lro-c (liblro.so.1).

    import asyncio, lro

    async def main():
        async with lro.Client("127.0.0.1:50051", plaintext=True) as ops:
            op = await ops.get("projects/p/locations/l/operations/123")
            async for o in ops.list("projects/p/locations/l/operations", filter="done=false"):
                print(o.name, o.done)
            op = await ops.wait_done(op.name, timeout=60, progress=lambda o: print(o.metadata()))
            print(op.result())          # dict (proto3 JSON), or op.result(MyResponse)

    asyncio.run(main())

Scripts without asyncio: lro.SyncClient, the same calls, blocking.

Errors: every failure is an lro.LroError; the class tells the gRPC code as
google-api-core names it (lro.NotFound, lro.InvalidArgument,
lro.ServiceUnavailable alias lro.Unavailable, lro.DeadlineExceeded, ...),
with parsed details (error_info / reason / domain / metadata, retry_delay,
details_json, unpacked_details()).

How the asyncio client works: the lro-c client runs in loop mode; its file
descriptor is registered with loop.add_reader, and lro_client_process() runs
in that reader callback. lro-c calls back into Python only from there (or
from the client's destroy, which also runs on the loop thread), so every
future is resolved and every progress callback runs on the event loop's
thread. The C side finds a call through a registry keyed by an integer
passed as user_data (never a Python object pointer), so dropping a future,
cancelling it, or closing the client in any order is safe; a call in flight
keeps its client and pager alive.
"""
import os

from . import _lib as _c
from ._aio import Client, Pager, _calls

from ._errors import (EXPORTS as _EXCEPTIONS, Any, ErrorInfo, LroError, WaitTimeout, code_name,
                      exception_class, set_any_decoder)
from ._observe import Event, set_logger
from ._options import CallOptions, PollPolicy, RetryPolicy, _b
from ._sync import SyncClient
from ._types import Operation, Page, Status, encode_status, page_from_bytes, unpack

globals().update(_EXCEPTIONS)

__all__ = ["Client", "SyncClient", "Pager", "Operation", "Status", "Any", "Page", "ErrorInfo",
           "CallOptions", "RetryPolicy", "PollPolicy", "LroError", "WaitTimeout", "code_name",
           "exception_class", "set_any_decoder", "unpack", "page_from_bytes", "encode_status",
           "version", "load_protoset", "Event", "set_logger"] + sorted(_EXCEPTIONS)


_registry = None  # the registry lro.load_protoset() fills (lro_json_set_registry)


def load_protoset(source) -> int:
    """Teaches lro-c a service's own message types, from a binary
    FileDescriptorSet (`protoc --include_imports --descriptor_set_out=F`):
    a path, or the bytes. From then on every JSON/dict view (Operation.result()
    and .metadata() without a class, LroError.details_json, unpack()) prints
    them field by field instead of {"@type", "value": base64}. Sets add up;
    a type already known is kept. Process-wide (lro_json_set_registry), safe
    from any thread. Returns how many message types the registry holds.
    Raises InvalidArgument (or another LroError) with lro-c's text naming
    the file and the problem; nothing of a refused set is kept."""
    global _registry
    import ctypes
    if _registry is None:
        r = ctypes.c_void_p()
        rc = _c.lro_registry_create(ctypes.byref(r))
        if rc != 0:
            raise LroError._refused(rc)
        _registry = r
        _c.lro_json_set_registry(_registry)
    err = ctypes.c_void_p()
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        rc = _c.lro_registry_add_set(_registry, data, len(data), b"<bytes>", ctypes.byref(err))
    else:
        rc = _c.lro_registry_add_file(_registry, os.fsencode(source), ctypes.byref(err))
    if rc != 0:
        text = ctypes.string_at(err.value).decode("utf-8", "replace") if err.value else ""
        if err.value:
            _c.lro_free(err)
        e = LroError._refused(rc)
        if text:
            e.args = (text,)
            e.message = text
        raise e
    return int(_c.lro_registry_message_count(_registry))


def version() -> str:
    """The version of the loaded liblro, e.g. "1.0.0"."""
    return _c.lro_version_string().decode()
