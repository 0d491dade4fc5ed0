#!/usr/bin/python3
"""Compares the wire contract of two FileDescriptorSets.

usage: compare_descriptors.py OURS.pb UPSTREAM.pb FILE [FILE ...]

For every FILE (a path such as google/rpc/status.proto) present in both sets:
every message (nested ones included) and service must exist on both sides,
and per message every field's name, number, type, label and type name and
its real-oneof membership must be equal; per service every method's input
and output type and streaming flags. A proto3 `optional` field upstream is
accepted as equal to a one-member oneof here (the same bytes on the wire).
Exits 1 listing every difference, 0 when the contracts match.
"""
import sys

from google.protobuf import descriptor_pb2

F = descriptor_pb2.FieldDescriptorProto


def load(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    return {fd.name: fd for fd in fds.file}


def walk_messages(prefix, messages, out):
    for m in messages:
        full = prefix + "." + m.name
        out[full] = m
        walk_messages(full, m.nested_type, out)


def field_shape(msg, field):
    """What matters on the wire for one field, as a comparable tuple."""
    oneof = None
    if field.HasField("oneof_index"):
        decl = msg.oneof_decl[field.oneof_index]
        members = [f.name for f in msg.field
                   if f.HasField("oneof_index") and f.oneof_index == field.oneof_index]
        # A synthetic oneof (proto3 optional) and a hand-written one-member
        # oneof have identical encodings and presence: both are "alone".
        oneof = "(alone)" if len(members) == 1 else decl.name
    return (field.number, F.Type.Name(field.type), F.Label.Name(field.label),
            field.type_name, oneof)


def compare(ours, theirs, files):
    problems = []
    for name in files:
        if name not in theirs:
            problems.append(f"{name}: not in the upstream set")
            continue
        if name not in ours:
            problems.append(f"{name}: not in our set")
            continue
        a, b = ours[name], theirs[name]
        if a.package != b.package:
            problems.append(f"{name}: package {a.package!r} vs upstream {b.package!r}")
        ma, mb = {}, {}
        walk_messages("." + a.package, a.message_type, ma)
        walk_messages("." + b.package, b.message_type, mb)
        for m in sorted(set(ma) | set(mb)):
            if m not in ma:
                problems.append(f"{name}: message {m} missing here")
                continue
            if m not in mb:
                problems.append(f"{name}: message {m} does not exist upstream")
                continue
            fa = {f.name: field_shape(ma[m], f) for f in ma[m].field}
            fb = {f.name: field_shape(mb[m], f) for f in mb[m].field}
            for fname in sorted(set(fa) | set(fb)):
                if fname not in fa:
                    problems.append(f"{m}.{fname}: missing here (upstream {fb[fname]})")
                elif fname not in fb:
                    problems.append(f"{m}.{fname}: does not exist upstream")
                elif fa[fname] != fb[fname]:
                    problems.append(f"{m}.{fname}: (number, type, label, type_name, oneof) "
                                    f"{fa[fname]} vs upstream {fb[fname]}")
            ea = sorted((e.name, [(v.name, v.number) for v in e.value]) for e in ma[m].enum_type)
            eb = sorted((e.name, [(v.name, v.number) for v in e.value]) for e in mb[m].enum_type)
            if ea != eb:
                problems.append(f"{m}: nested enums differ: {ea} vs upstream {eb}")
        ea = sorted((e.name, [(v.name, v.number) for v in e.value]) for e in a.enum_type)
        eb = sorted((e.name, [(v.name, v.number) for v in e.value]) for e in b.enum_type)
        if ea != eb:
            problems.append(f"{name}: enums differ: {ea} vs upstream {eb}")
        sa = {s.name: s for s in a.service}
        sb = {s.name: s for s in b.service}
        for s in sorted(set(sa) | set(sb)):
            if s not in sa or s not in sb:
                problems.append(f"{name}: service {s} only {'upstream' if s in sb else 'here'}")
                continue
            ra = {x.name: (x.input_type, x.output_type, x.client_streaming, x.server_streaming)
                  for x in sa[s].method}
            rb = {x.name: (x.input_type, x.output_type, x.client_streaming, x.server_streaming)
                  for x in sb[s].method}
            for r in sorted(set(ra) | set(rb)):
                if ra.get(r) != rb.get(r):
                    problems.append(f"{s}.{r}: (input, output, client_streaming, "
                                    f"server_streaming) {ra.get(r)} vs upstream {rb.get(r)}")
    return problems


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    ours, theirs = load(sys.argv[1]), load(sys.argv[2])
    problems = compare(ours, theirs, sys.argv[3:])
    for p in problems:
        print("DIFF", p)
    if problems:
        print(f"{len(problems)} wire-contract difference(s)")
        return 1
    print(f"wire contract identical for {len(sys.argv) - 3} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
