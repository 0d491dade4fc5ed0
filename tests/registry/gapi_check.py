"""Real Google APIs through lro-c's run-time type registry, checked against
python's json_format (Debian python3-protobuf).

usage: gapi_check.py REGISTRY_DUMP WORKDIR SET...

The descriptor sets are built at test time by protoc from the npm
google-proto-files protos (gapi_check.sh). For EVERY message type of every
set, python fills a few messages with seeded random values (scalars of every
type, enums, strings, bytes, repeated and map fields, oneofs, proto3
optionals, nested messages, the well-known types, Any), serializes them,
registry_dump decodes each with the registry's run-time descriptor and
prints it, and the JSON must equal json_format's once parsed, with strict
types. Then the operation payloads that matter to users (Dialogflow v2
KnowledgeOperationMetadata, ExportAgentResponse, BatchUpdateIntentsResponse;
Speech v1 LongRunningRecognizeMetadata/Response) are wrapped in a
google.longrunning.Operation as metadata and response, decoded with lro-c's
compiled Operation and printed with the process-wide registry (what lroctl
--protoset does): every Any must be expanded, never the base64 fallback.
"""
import json
import math
import os
import random
import struct
import subprocess
import sys

from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, json_format
from google.protobuf import message_factory

dump_bin, work = sys.argv[1:3]
set_paths = sys.argv[3:]

pool = descriptor_pool.DescriptorPool()
seen = set()
for p in set_paths:
    fds = descriptor_pb2.FileDescriptorSet()
    with open(p, "rb") as f:
        fds.ParseFromString(f.read())
    for fd in fds.file:
        if fd.name not in seen:
            seen.add(fd.name)
            pool.Add(fd)
factory = message_factory.MessageFactory(pool)


def cls(name):
    return factory.GetPrototype(pool.FindMessageTypeByName(name))


FD = descriptor.FieldDescriptor
rnd = random.Random(20261129)
ALPHA = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x7f", "\u00e9", "\u0800",
         "\uffff", "\U00010000", "\u2028", "_"]


def rstr(n=8):
    return "".join(rnd.choice(ALPHA) for _ in range(rnd.randint(0, n)))


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def rdouble():
    k = rnd.randint(0, 3)
    if k == 0:
        return float(rnd.randint(-10 ** 6, 10 ** 6))
    if k == 1:
        return rnd.random() * 10 ** rnd.randint(-300, 300)
    if k == 2:
        return rnd.uniform(-1, 1)
    return rnd.choice([0.0, 0.1, 1 / 3, 1e16, 1e-7, 5e-324, 1.7976931348623157e308])


def scalar(f):
    t = f.type
    if t in (FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32):
        return rnd.choice([0, 1, -1, rnd.randint(-2 ** 31, 2 ** 31 - 1)])
    if t in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
        return rnd.choice([0, 1, rnd.randint(0, 2 ** 32 - 1)])
    if t in (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64):
        return rnd.choice([0, -1, rnd.randint(-2 ** 63, 2 ** 63 - 1)])
    if t in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
        return rnd.choice([0, rnd.randint(0, 2 ** 64 - 1)])
    if t == FD.TYPE_DOUBLE:
        return rdouble()
    if t == FD.TYPE_FLOAT:
        return f32(rnd.uniform(-1e6, 1e6) * rnd.choice([1, 1e-20, 1e20]))
    if t == FD.TYPE_BOOL:
        return rnd.random() < 0.5
    if t == FD.TYPE_STRING:
        return rstr()
    if t == FD.TYPE_BYTES:
        return bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 12)))
    if t == FD.TYPE_ENUM:
        vals = [v.number for v in f.enum_type.values]
        if rnd.random() < 0.1 and f.enum_type.file.syntax == "proto3":
            return 12345  # open enum: an unknown number prints as a number
        return rnd.choice(vals)
    raise AssertionError(t)


# Types whose python JSON form needs values in range; filled by hand.
def fill_wkt(m, depth):
    n = m.DESCRIPTOR.full_name
    if n in ("google.protobuf.Timestamp",):
        m.seconds = rnd.randint(-62135596800, 253402300799)
        m.nanos = rnd.choice([0, rnd.randint(0, 999999999), rnd.randint(0, 999) * 10 ** 6])
        return True
    if n == "google.protobuf.Duration":
        s = rnd.randint(-315576000000, 315576000000)
        ns = rnd.choice([0, rnd.randint(0, 999999999)])
        m.seconds, m.nanos = s, (ns if s >= 0 else -ns)
        return True
    if n == "google.protobuf.FieldMask":
        for _ in range(rnd.randint(0, 3)):
            m.paths.append(".".join(rnd.choice(["a", "display_name", "x_y_z", "b2"])
                                    for _ in range(rnd.randint(1, 3))))
        return True
    if n in ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"):
        def rv(d):
            k = rnd.randint(0, 5 if d < 2 else 3)
            if k == 4:
                return {rstr(3): rv(d + 1) for _ in range(rnd.randint(0, 3))}
            if k == 5:
                return [rv(d + 1) for _ in range(rnd.randint(0, 3))]
            return [None, rdouble(), rstr(), rnd.random() < 0.5][k]
        if n == "google.protobuf.Struct":
            m.update({rstr(4): rv(0) for _ in range(rnd.randint(0, 3))})
        elif n == "google.protobuf.ListValue":
            m.extend([rv(1) for _ in range(rnd.randint(0, 3))])
        else:
            json_format.ParseDict(rv(0), m)
        return True
    if n == "google.protobuf.Any":
        if rnd.random() < 0.7:
            inner = cls(rnd.choice(PAYLOADS))()
            fill(inner, depth + 1)
            m.Pack(inner)
        return True
    return False


def fill(m, depth=0):
    if m.DESCRIPTOR.full_name.startswith("google.protobuf.") and fill_wkt(m, depth):
        return m
    for f in m.DESCRIPTOR.fields:
        if f.type == FD.TYPE_GROUP:
            continue  # protobuf-c cannot decode groups (registry.h)
        if f.label != FD.LABEL_REQUIRED and rnd.random() < (0.35 if depth < 2 else 0.1):
            continue
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            kf, vf = f.message_type.fields_by_name["key"], f.message_type.fields_by_name["value"]
            mp = getattr(m, f.name)
            for _ in range(rnd.randint(0, 3)):
                k = scalar(kf)
                if vf.message_type is not None:
                    if depth < 3:
                        fill(mp[k], depth + 1)
                else:
                    mp[k] = scalar(vf)
            continue
        if f.label == FD.LABEL_REPEATED:
            rep = getattr(m, f.name)
            for _ in range(rnd.randint(0, 3)):
                if f.message_type is not None:
                    if depth < 3:
                        fill(rep.add(), depth + 1)
                else:
                    rep.append(scalar(f))
            continue
        if f.message_type is not None:
            if depth < 3:
                fill(getattr(m, f.name), depth + 1)
                getattr(m, f.name).SetInParent()
            continue
        setattr(m, f.name, scalar(f))
    return m


PAYLOADS = [
    "google.cloud.dialogflow.v2.KnowledgeOperationMetadata",
    "google.cloud.dialogflow.v2.ExportAgentResponse",
    "google.cloud.dialogflow.v2.BatchUpdateIntentsResponse",
    "google.cloud.speech.v1.LongRunningRecognizeMetadata",
    "google.cloud.speech.v1.LongRunningRecognizeResponse",
]

def known(name):
    try:
        pool.FindMessageTypeByName(name)
        return True
    except KeyError:
        return False


PAYLOADS = [p for p in PAYLOADS if known(p)]
cases = []  # (label, type passed to registry_dump, message)
all_types = []
for p in set_paths:
    fds = descriptor_pb2.FileDescriptorSet()
    with open(p, "rb") as f:
        fds.ParseFromString(f.read())

    def walk(prefix, msgs):
        for d in msgs:
            full = prefix + d.name
            if not d.options.map_entry:
                all_types.append(full)
            walk(full + ".", d.nested_type)
    for fd in fds.file:
        walk(fd.package + "." if fd.package else "", fd.message_type)
all_types = sorted(set(all_types))
if not PAYLOADS:  # other sets (tests/registry/testdata): Any carries their own types
    PAYLOADS = [t for t in all_types if not t.startswith("google.protobuf.")][:8]
for name in all_types:
    for i in range(3 if name not in PAYLOADS else 20):
        m = fill(cls(name)())
        cases.append(("%s #%d" % (name, i), name, m))
    cases.append(("%s empty" % name, name, cls(name)()))

Operation = cls("google.longrunning.Operation") if known("google.longrunning.Operation") else None
for i in range(40 if Operation else 0):
    op = Operation(name="projects/p/locations/global/operations/%d" % i, done=i % 2 == 0)
    meta = fill(cls(PAYLOADS[i % len(PAYLOADS)])())
    op.metadata.Pack(meta)
    if i % 4 == 0:
        op.response.Pack(fill(cls(PAYLOADS[(i + 1) % len(PAYLOADS)])()))
    elif i % 4 == 2:
        op.error.code = 3
        op.error.message = "bad"
        op.error.details.add().Pack(fill(cls(PAYLOADS[(i + 2) % len(PAYLOADS)])()))
    cases.append(("operation %d" % i, "@op", op))

os.makedirs(work, exist_ok=True)
manifest = []
# proto2 types with required fields: python refuses to serialize an
# incomplete one (and protobuf-c to decode it); such random cases are dropped.
n_before = len(cases)
cases = [c for c in cases if c[2].IsInitialized()]
print("gapi_check: %d incomplete proto2 cases dropped" % (n_before - len(cases)))
for i, (label, t, m) in enumerate(cases):
    p = os.path.join(work, "c%05d.bin" % i)
    with open(p, "wb") as f:
        f.write(m.SerializeToString())
    manifest.append("%s %s\n" % (t, p))
r = subprocess.run([dump_bin] + set_paths, input="".join(manifest).encode())
if r.returncode != 0:
    print("registry_dump exited with %d" % r.returncode)


def same(a, b, path="$"):
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


assert same({"a": "1"}, {"a": 1}) and same({"a": {"b": "x"}}, {"a": {"b": "y"}})

bad = 0
payload_any = 0
for i, (label, t, m) in enumerate(cases):
    p = os.path.join(work, "c%05d.bin" % i)
    if os.path.exists(p + ".err"):
        print("FAIL %s: lro-c: %s" % (label, open(p + ".err").read()))
        bad += 1
        continue
    if not os.path.exists(p + ".json"):
        print("FAIL %s: no output" % label)
        bad += 1
        continue
    with open(p + ".json", encoding="utf-8") as f:
        ours_text = f.read()
    ours = json.loads(ours_text)
    theirs = json.loads(json_format.MessageToJson(m, descriptor_pool=pool))
    d = same(ours, theirs)
    if d:
        print("FAIL %s: %s\n  ours:   %s\n  python: %s" % (label, d, ours_text[:2000],
                                                         json.dumps(theirs)[:2000]))
        bad += 1
        continue
    with open(p + ".pretty.json", encoding="utf-8") as f:
        if f.read() != json.dumps(ours, indent=2, ensure_ascii=False):
            print("FAIL %s: pretty output differs from json.dumps(indent=2)" % label)
            bad += 1
            continue
    if t == "@op":
        # The payloads are expanded: "@type" next to real fields, no base64.
        for key in ("metadata", "response"):
            if key in ours:
                if set(ours[key]) == {"@type", "value"}:
                    print("FAIL %s: %s printed as the base64 fallback" % (label, key))
                    bad += 1
                payload_any += 1

print("gapi_check: %d message types, %d cases (%d operations, %d payloads expanded), %d failed"
      % (len(all_types), len(cases), sum(1 for c in cases if c[1] == "@op"), payload_any, bad))
sys.exit(1 if bad or r.returncode != 0 else 0)
