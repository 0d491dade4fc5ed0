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
from . import _lib as _c
from ._aio import Client, Pager, _calls
from ._errors import (EXPORTS as _EXCEPTIONS, Any, ErrorInfo, LroError, WaitTimeout, code_name,
                      exception_class, set_any_decoder)
from ._options import CallOptions, PollPolicy, RetryPolicy, _b
from ._sync import SyncClient
from ._types import Operation, Page, Status, encode_status, page_from_bytes, unpack

globals().update(_EXCEPTIONS)

__all__ = ["Client", "SyncClient", "Pager", "Operation", "Status", "Any", "Page", "ErrorInfo",
           "CallOptions", "RetryPolicy", "PollPolicy", "LroError", "WaitTimeout", "code_name",
           "exception_class", "set_any_decoder", "unpack", "page_from_bytes", "encode_status",
           "version"] + sorted(_EXCEPTIONS)


def version() -> str:
    """The version of the loaded liblro, e.g. "1.0.0"."""
    return _c.lro_version_string().decode()
