#!/usr/bin/env python3
"""Writes the hand-made seeds of tests/fuzz/corpus/<target>/ (named by what
they are). The other files there (hex names) are inputs found by longer runs,
merged with `<target> -merge=1 corpus/<target> <grown corpus>`.

A tiny protobuf encoder, no dependencies: valid messages of every shape the
client meets (done/pending/failed operations, Struct metadata, details with
RetryInfo/ErrorInfo, pages with tokens and unreachable entries) plus the
classic broken ones (truncation, bad wire types, endless varints)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wt):
    return varint(field << 3 | wt)


def ld(field, data):
    if isinstance(data, str):
        data = data.encode()
    return key(field, 2) + varint(len(data)) + data


def vi(field, n):
    return key(field, 0) + varint(n)


def any_(url, value):
    return ld(1, "type.googleapis.com/" + url) + ld(2, value)


string_value = lambda s: ld(1, s)
# Struct {"progress": 42}: fields map entry (1) of key (1) and Value (2) whose
# number_value (2) is a double (wire type 1).
struct_progress = ld(1, ld(1, "progress") + ld(2, key(2, 1) + struct.pack("<d", 42.0)))
duration = lambda s, n=0: vi(1, s) + (vi(2, n) if n else b"")
retry_info = ld(1, duration(1, 500000000))
error_info = ld(1, "QUOTA") + ld(2, "example.com") + ld(3, ld(1, "k") + ld(2, "v"))
status = lambda code, msg, *details: vi(1, code) + ld(2, msg) + b"".join(ld(3, d) for d in details)

op_done = ld(1, "projects/p/operations/op-1") + vi(3, 1) + ld(5, any_("google.protobuf.StringValue", string_value("result")))
op_pending = ld(1, "projects/p/operations/op-2") + ld(2, any_("google.protobuf.Struct", struct_progress))
op_failed = ld(1, "projects/p/operations/op-3") + vi(3, 1) + ld(4, status(3, "bad", any_("google.rpc.ErrorInfo", error_info)))
op_unicode = ld(1, "projects/p/operations/\u00e9\u4e2d\U0001f600") + vi(3, 1)

broken = {
    "truncated": b"\x0a\x64abc",
    "bad_wire_type": b"\x0a\x01x\x0f\x00",
    "any_as_varint": b"\x0a\x01x\x28\x01",
    "endless_varint": b"\x18" + b"\xff" * 11,
    "group": b"\x0b\x0c",
    "huge_len": b"\x0a\xff\xff\xff\xff\x0f",
    "empty": b"",
}

corpora = {
    "fuzz_operation": dict(done=op_done, pending=op_pending, failed=op_failed, unicode=op_unicode, **broken),
    "fuzz_list": dict(
        page=ld(1, op_done) + ld(1, op_pending) + ld(1, op_failed) + ld(2, "AQAAAAAAAAAAAAAAAAAAAAAA"),
        unreachable=ld(1, op_done) + ld(3, "projects/p/locations/x") + ld(3, "projects/q"),
        **broken),
    "fuzz_status_details": {
        "retry_info": bytes([14, 4]) + b"slow" + status(14, "slow", any_("google.rpc.RetryInfo", retry_info)),
        "error_info": bytes([3, 3]) + b"bad" + status(3, "bad", any_("google.rpc.ErrorInfo", error_info)),
        "no_details": bytes([5, 9]) + b"not found",
        "bad_details": bytes([9, 2]) + b"no" + b"\x1a\x64garbage",
        "negative_retry": bytes([14, 0]) + status(14, "", any_("google.rpc.RetryInfo", ld(1, vi(1, (1 << 64) - 5)))),
        "huge_retry": bytes([14, 0]) + status(14, "", any_("google.rpc.RetryInfo", ld(1, vi(1, 1 << 62) + vi(2, 999999999)))),
    },
    "fuzz_names": {
        "plain": b"projects/p/locations/us-central1/operations/op-1",
        "escapes": b"projects/p q/op?x=1&y=%2F",
        "utf8": "projects/\u00e9\u4e2d/\U0001f600".encode(),
        "overlong": b"projects/\xc0\xaf",
        "surrogate": b"projects/\xed\xa0\x80",
        "control": b"projects/p\r\nx-evil: 1",
        "header": b"x-trace-id\x00abc-123",
        "header_bin": b"x-blob-bin\x00\x01\x02\x03",
        "header_upper": b"X-Trace\x00v",
        "header_crlf": b"x-a\x00v\r\nx-b: c",
        "reserved": b"grpc-timeout\x001S",
        "long": b"a" * 4097,
    },
    "fuzz_pagetoken": {
        "valid_like": b"AQAAAAAAAAAAAAAAAAAAAAAAAAAA\x00projects/p/operations\x00",
        "bad_char": b"AQAAAAAAAAAAAAAAAAAAAAAAAA*A\x00projects/p\x00done=true",
        "short": b"AQ\x00p\x00",
        "empty": b"\x00\x00",
    },
    "fuzz_json": {
        "op_done": b"\x00" + op_done,
        "op_pending_pretty": b"\x80" + op_pending,
        "op_failed": b"\x00" + op_failed,
        "page": b"\x01" + ld(1, op_done) + ld(2, "tok"),
        "status": b"\x02" + status(14, "x", any_("google.rpc.RetryInfo", retry_info)),
        "struct": b"\x03" + struct_progress,
        "any_nested": b"\x07" + any_("google.protobuf.Any", any_("google.protobuf.StringValue", string_value("\u00e9"))),
        "string_bad_utf8": b"\x1b" + ld(1, b"\xff\xfe"),
    },
}


def main():
    for target, seeds in corpora.items():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    print("seeds written:", sum(len(s) for s in corpora.values()))


if __name__ == "__main__":
    main()
