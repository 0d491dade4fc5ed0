"""Independent check of lro-c's JSON writer against protobuf's python
json_format (Debian python3-protobuf), run by json_check.sh.

usage: json_check.py DESCRIPTOR_SET JSON_DUMP WORKDIR [DUMP_ARGS...]
(tests/registry runs it with registry_dump, which decodes through the
run-time type registry instead of the compiled descriptors.)

Python builds the messages (fixed cases plus seeded random ones) from the
FileDescriptorSet protoc made of proto/ and the well-known types, serializes
them, json_dump (C) decodes each and prints our JSON, and the two JSON
documents must be equal once parsed, with strict types (a string "1" is not
the number 1, true is not 1). Our pretty output must also be exactly what
python's json.dumps(indent=2) makes of the same document.
"""
import base64
import json
import math
import os
import random
import struct
import subprocess
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

set_path, dump_bin, work = sys.argv[1:4]
dump_args = sys.argv[4:]

fds = descriptor_pb2.FileDescriptorSet()
with open(set_path, "rb") as f:
    fds.ParseFromString(f.read())
pool = descriptor_pool.DescriptorPool()
for fd in fds.file:
    pool.Add(fd)
factory = message_factory.MessageFactory(pool)


def cls(name):
    return factory.GetPrototype(pool.FindMessageTypeByName(name))


Operation = cls("google.longrunning.Operation")
ListOperationsResponse = cls("google.longrunning.ListOperationsResponse")
ListOperationsRequest = cls("google.longrunning.ListOperationsRequest")
WaitOperationRequest = cls("google.longrunning.WaitOperationRequest")
OperationInfo = cls("google.longrunning.OperationInfo")
Status = cls("google.rpc.Status")
ErrorInfo = cls("google.rpc.ErrorInfo")
RetryInfo = cls("google.rpc.RetryInfo")
DebugInfo = cls("google.rpc.DebugInfo")
QuotaFailure = cls("google.rpc.QuotaFailure")
PreconditionFailure = cls("google.rpc.PreconditionFailure")
BadRequest = cls("google.rpc.BadRequest")
RequestInfo = cls("google.rpc.RequestInfo")
ResourceInfo = cls("google.rpc.ResourceInfo")
Help = cls("google.rpc.Help")
LocalizedMessage = cls("google.rpc.LocalizedMessage")
Any = cls("google.protobuf.Any")
Struct = cls("google.protobuf.Struct")
Value = cls("google.protobuf.Value")
ListValue = cls("google.protobuf.ListValue")
Duration = cls("google.protobuf.Duration")
Timestamp = cls("google.protobuf.Timestamp")
Empty = cls("google.protobuf.Empty")
W = {n: cls("google.protobuf." + n) for n in (
    "DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value",
    "UInt32Value", "BoolValue", "StringValue", "BytesValue")}


def pack(m):
    a = Any()
    a.type_url = "type.googleapis.com/" + m.DESCRIPTOR.full_name
    a.value = m.SerializeToString()
    return a


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


cases = []  # (label, message)


def case(label, m):
    cases.append((label, m))


# ---- fixed cases ----------------------------------------------------------
st = Struct()
st.update({"progress": 42.5, "state": "RUNNING", "tags": [True, None, "x"],
           "nested": {"a": {"b": []}, "empty": {}}, "n": -0.001, "big": 1e300})
op = Operation(name="operations/op-1", done=True)
op.metadata.CopyFrom(pack(st))
op.response.CopyFrom(pack(W["StringValue"](value="ok")))
case("struct metadata + StringValue response", op)

ei = ErrorInfo(reason="RATE_LIMIT_EXCEEDED", domain="googleapis.com")
ei.metadata["service"] = "speech.googleapis.com"
ei.metadata["quota_limit"] = "100/min"
ri = RetryInfo()
ri.retry_delay.seconds, ri.retry_delay.nanos = 1, 500000000
qf = QuotaFailure()
v = qf.violations.add(subject="project:p", description="d", api_service="s",
                      quota_metric="m", quota_id="id", quota_value=1234567890123)
v.quota_dimensions["region"] = "us"
v.future_quota_value = 0  # member of a (synthetic) oneof: printed although 0
br = BadRequest()
fv = br.field_violations.add(field="a.b[0]", description="bad", reason="R")
fv.localized_message.locale, fv.localized_message.message = "fr-CH", "mauvais"
pf = PreconditionFailure()
pf.violations.add(type="TOS", subject="s", description="d")
hp = Help()
hp.links.add(description="docs", url="https://example.com/?a=1&b=\"2\"")
details = [ei, ri, qf, br, pf, hp, DebugInfo(stack_entries=["a", "b"], detail="x"),
           RequestInfo(request_id="r", serving_data="s"),
           ResourceInfo(resource_type="t", resource_name="n", owner="o", description="d"),
           LocalizedMessage(locale="de", message="Kontingent"), Empty()]
failed = Operation(name="operations/failed", done=True)
failed.error.code = 8
failed.error.message = "Quota exceeded"
for d in details:
    failed.error.details.append(pack(d))
case("failed operation with every error detail", failed)
case("status alone", failed.error)
for d in details:
    case("detail " + d.DESCRIPTOR.name, d)

page = ListOperationsResponse(next_page_token="tok==", unreachable=["a", "b/c"])
page.operations.append(op)
page.operations.append(failed)
page.operations.add(name="operations/plain")
case("page", page)
case("empty page", ListOperationsResponse())
case("empty operation", Operation())
op_empty_any = Operation(name="x")
op_empty_any.metadata.SetInParent()
case("operation with empty Any", op_empty_any)
op_empty_err = Operation()
op_empty_err.error.SetInParent()
case("oneof member set to empty Status", op_empty_err)
case("request", ListOperationsRequest(name="n", filter="done=true", page_size=50,
                                      page_token="t", return_partial_success=True))
wr = WaitOperationRequest(name="n")
wr.timeout.seconds = 30
case("wait request", wr)
case("operation info", OperationInfo(response_type="a.B", metadata_type="a.C"))
for req in ("GetOperationRequest", "CancelOperationRequest", "DeleteOperationRequest"):
    case("request " + req, cls("google.longrunning." + req)(name="operations/x y"))
# Nested types on their own (they also appear inside the details above).
case("QuotaFailure.Violation", qf.violations[0])
case("BadRequest.FieldViolation", br.field_violations[0])
case("PreconditionFailure.Violation", pf.violations[0])
case("Help.Link", hp.links[0])
case("escapes", Operation(name="q\"b\\s/\n\t\r\b\f\x01\x1f\x7f caf\u00e9 \u20ac \U0001F600 \u2028"))

# wrappers, in an Any and as fields of nothing else (top level)
wr_values = [("DoubleValue", [0.0, 0.1, -1.5e-300, 1e21, 123456.0, 2.0 ** 53 + 2]),
             ("FloatValue", [0.0, f32(0.1), f32(3.4028235e38), f32(1.17549435e-38), f32(1e-45),
                             f32(16777216.0), f32(-2.5)]),
             ("Int64Value", [0, -1, 2 ** 63 - 1, -2 ** 63, 9007199254740993]),
             ("UInt64Value", [0, 2 ** 64 - 1]),
             ("Int32Value", [0, -2 ** 31, 2 ** 31 - 1]),
             ("UInt32Value", [0, 2 ** 32 - 1]),
             ("BoolValue", [False, True]),
             ("StringValue", ["", "x", "\u00e9\U0001F600"]),
             ("BytesValue", [b"", b"\xfb", b"\xfb\xff", b"\xfb\xff\x00", bytes(range(256))])]
for name, vals in wr_values:
    for x in vals:
        m = W[name](value=x)
        case("wrapper %s %r" % (name, x), m)
        o = Operation(name="w")
        o.response.CopyFrom(pack(m))
        case("Any(%s %r)" % (name, x), o)

for s, n in [(0, 0), (1, 0), (1, 500000000), (0, 1000), (0, 1), (-1, -500000000), (0, -20000000),
             (315576000000, 999999999), (-315576000000, -999999999), (3600, 10000000)]:
    d = Duration(seconds=s, nanos=n)
    case("duration %d %d" % (s, n), d)
    o = Operation()
    o.metadata.CopyFrom(pack(d))
    case("Any(duration %d %d)" % (s, n), o)
for s, n in [(0, 0), (1704164645, 0), (1704164645, 10000000), (1704164645, 123456000),
             (1704164645, 1), (951782400, 0), (-1, 0), (-62135596800, 0),
             (253402300799, 999999999), (-2208988800, 500)]:
    t = Timestamp(seconds=s, nanos=n)
    case("timestamp %d %d" % (s, n), t)
    o = Operation()
    o.metadata.CopyFrom(pack(t))
    case("Any(timestamp %d %d)" % (s, n), o)

lv = ListValue()
lv.extend([1, "two", None, False, {"k": [1, 2]}, []])
for m in (lv, Value(string_value="s"), Value(null_value=0), Value(bool_value=False),
          Value(number_value=0), Struct()):
    case("value %s" % m.DESCRIPTOR.name, m)
    o = Operation()
    o.metadata.CopyFrom(pack(m))
    case("Any(%s)" % m.DESCRIPTOR.name, o)
inner = pack(W["Int64Value"](value=7))
o = Operation()
o.metadata.CopyFrom(pack(inner))  # Any in Any
case("Any(Any(Int64Value))", o)
o = Operation()
o.metadata.CopyFrom(pack(pack(pack(st))))
case("Any(Any(Any(Struct)))", o)
case("Any alone", pack(W["Int64Value"](value=7)))
case("Any alone (message)", pack(ei))
case("Any alone (empty)", Any())

# ---- random cases ----------------------------------------------------------
rnd = random.Random(20261128)
ALPHA = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "\x7f",
         "\u00e9", "\u0800", "\uffff", "\U00010000", "\U0010FFFF", "\u2028", "_"]


def rstr(n=8):
    return "".join(rnd.choice(ALPHA) for _ in range(rnd.randint(0, n)))


def rdouble():
    k = rnd.randint(0, 5)
    if k == 0:
        return float(rnd.randint(-10 ** 6, 10 ** 6))
    if k == 1:
        return rnd.random() * 10 ** rnd.randint(-320, 300)
    if k == 2:
        return struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0]
    if k == 3:
        return rnd.uniform(-1, 1)
    if k == 4:
        return f32(rnd.uniform(-1e6, 1e6))
    return rnd.choice([0.0, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 1e16, 1e-7, 5e-324, 1.7976931348623157e308])


def rvalue(depth):
    k = rnd.randint(0, 5 if depth < 4 else 3)
    if k == 0:
        return None
    if k == 1:
        x = rdouble()
        return x if math.isfinite(x) else 0.5
    if k == 2:
        return rstr()
    if k == 3:
        return rnd.random() < 0.5
    if k == 4:
        return {rstr(4): rvalue(depth + 1) for _ in range(rnd.randint(0, 4))}
    return [rvalue(depth + 1) for _ in range(rnd.randint(0, 4))]


for i in range(150):
    o = Operation(name=rstr(12), done=rnd.random() < 0.5)
    s = Struct()
    s.update({rstr(5): rvalue(0) for _ in range(rnd.randint(0, 5))})
    if rnd.random() < 0.8:
        o.metadata.CopyFrom(pack(s))
    if rnd.random() < 0.5:
        st_ = Status(code=rnd.randint(-2 ** 31, 2 ** 31 - 1), message=rstr())
        for _ in range(rnd.randint(0, 3)):
            e = ErrorInfo(reason=rstr(), domain=rstr())
            for _ in range(rnd.randint(0, 4)):
                e.metadata[rstr(4)] = rstr(6)
            r = RetryInfo()
            sec = rnd.randint(-315576000000, 315576000000)
            nan = rnd.choice([0, rnd.randint(0, 999999999), rnd.randint(0, 999) * 10 ** 6])
            r.retry_delay.seconds, r.retry_delay.nanos = sec, (nan if sec >= 0 else -nan)
            st_.details.append(pack(rnd.choice([e, r])))
        o.error.CopyFrom(st_)
    elif rnd.random() < 0.7:
        kind = rnd.choice(list(W))
        m = W[kind]()
        if kind in ("DoubleValue",):
            m.value = rdouble() if rnd.random() < 0.9 else 0.0
            if not math.isfinite(m.value):
                m.value = 1.0
        elif kind == "FloatValue":
            m.value = f32(rnd.uniform(-1e30, 1e30) * rnd.choice([1, 1e-30, 1e-10]))
        elif kind == "Int64Value":
            m.value = rnd.randint(-2 ** 63, 2 ** 63 - 1)
        elif kind == "UInt64Value":
            m.value = rnd.randint(0, 2 ** 64 - 1)
        elif kind == "Int32Value":
            m.value = rnd.randint(-2 ** 31, 2 ** 31 - 1)
        elif kind == "UInt32Value":
            m.value = rnd.randint(0, 2 ** 32 - 1)
        elif kind == "BoolValue":
            m.value = rnd.random() < 0.5
        elif kind == "StringValue":
            m.value = rstr(20)
        else:
            m.value = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 20)))
        o.response.CopyFrom(pack(m))
    case("random operation %d" % i, o)
    t = Timestamp(seconds=rnd.randint(-62135596800, 253402300799),
                  nanos=rnd.choice([0, rnd.randint(0, 999999999), rnd.randint(0, 999) * 10 ** 6]))
    case("random timestamp %d" % i, t)

# In registry mode (tests/registry) every message type of the set must be a
# case of its own (map entries aside: they are checked inside their maps).
if dump_args:
    declared = set()

    def walk(prefix, msgs):
        for d in msgs:
            if not d.options.map_entry:
                declared.add(prefix + d.name)
            walk(prefix + d.name + ".", d.nested_type)
    for fd in fds.file:
        walk(fd.package + ".", fd.message_type)
    missing = declared - {m.DESCRIPTOR.full_name for _, m in cases}
    if missing:
        print("FAIL: message types without a case: %s" % ", ".join(sorted(missing)))
        sys.exit(1)
    print("json_check: all %d message types of the set have cases" % len(declared))

# ---- run json_dump ---------------------------------------------------------
os.makedirs(work, exist_ok=True)
manifest = []
for i, (label, m) in enumerate(cases):
    p = os.path.join(work, "case%04d.bin" % i)
    with open(p, "wb") as f:
        f.write(m.SerializeToString())
    manifest.append("%s %s\n" % (m.DESCRIPTOR.full_name, p))
subprocess.run([dump_bin] + dump_args, input="".join(manifest).encode(), check=True)


def same(a, b, path="$"):
    """Strict JSON equality: returns None or a description of the first difference."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None if type(a) is type(b) and a == b else "%s: %r != %r" % (path, a, b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return None if a == b else "%s: %r != %r" % (path, a, b)
    if type(a) is not type(b):
        return "%s: type %s != %s (%r vs %r)" % (path, type(a).__name__, type(b).__name__, a, b)
    if isinstance(a, dict):
        if set(a) != set(b):
            return "%s: keys %s != %s" % (path, sorted(a), sorted(b))
        for k in a:
            d = same(a[k], b[k], path + "." + k)
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return "%s: length %d != %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = same(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    return None if a == b else "%s: %r != %r" % (path, a, b)


# The comparator must be able to fail (negative controls).
assert same({"a": "1"}, {"a": 1}) and same({"a": True}, {"a": 1}) and same([1], [1, 2])
assert same({"a": {"b": "x"}}, {"a": {"b": "y"}}) and not same({"a": 1}, {"a": 1.0})

bad = 0
identical = []
differs = []
for i, (label, m) in enumerate(cases):
    p = os.path.join(work, "case%04d.bin" % i)
    if os.path.exists(p + ".err"):
        print("FAIL %s: lro-c returned %s" % (label, open(p + ".err").read()))
        bad += 1
        continue
    with open(p + ".json", encoding="utf-8") as f:
        ours_text = f.read()
    with open(p + ".pretty.json", encoding="utf-8") as f:
        pretty_text = f.read()
    ours = json.loads(ours_text)
    theirs = json.loads(json_format.MessageToJson(m, descriptor_pool=pool))
    d = same(ours, theirs)
    if d:
        print("FAIL %s: %s\n  ours:   %s\n  python: %s" % (label, d, ours_text,
                                                         json.dumps(theirs)))
        bad += 1
        continue
    want_pretty = json.dumps(ours, indent=2, ensure_ascii=False)
    if pretty_text != want_pretty:
        print("FAIL %s: pretty output differs from json.dumps(indent=2)\n%s\n---\n%s"
              % (label, pretty_text, want_pretty))
        bad += 1
        continue
    if json.dumps(ours, separators=(",", ":"), ensure_ascii=False) != ours_text:
        print("FAIL %s: compact output is not minimal\n%s" % (label, ours_text))
        bad += 1
    # Byte for byte, where python's own layout is deterministic.
    if pretty_text == json_format.MessageToJson(m, descriptor_pool=pool, ensure_ascii=False):
        identical.append(label)
    else:
        differs.append(label)

print("not byte-identical to python's MessageToJson text (map order, 1.0 vs 1):")
for label in differs:
    print("  " + label)
print("json_check: %d cases, %d failed; %d byte-identical to python's text"
      % (len(cases), bad, len(identical)))
sys.exit(1 if bad else 0)
