#!/usr/bin/env python3
"""Where the instructions of one callgrind dump differ from another's, per
call: the functions whose cost changed most, with both costs.

    bench/cg_diff.py BASE_DUMP DUMP CALLS [--inclusive] [--top N]

e.g. after `bench/creds_bench.sh --keep`:
    bench/cg_diff.py $DIR/cg.tls $DIR/cg.tls+provider 2000 --inclusive
Inclusive costs follow call paths (ClientAuthFilter::GetCallCredsMetadata,
plugin_get_metadata, grpc_chttp2_begin_write, ...); exclusive ones (the
default) say which code runs. Functions entered before counting started
(main, the client's io thread) carry odd exclusive figures: read them
inclusively.
"""
import argparse
import re
import subprocess

LINE = re.compile(r"\s*([\d,]+) \([^)]*\)\s+(?:\*\s+)?(.*?):(.*) \[(.*)\]$")


def load(path, inclusive):
    args = ["callgrind_annotate", "--threshold=100", "--auto=no"]
    if inclusive:
        args.append("--inclusive=yes")
    out = subprocess.run(args + [path], capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            key = "%s [%s]" % (m.group(3), m.group(4).rsplit("/", 1)[-1])
            costs[key] = costs.get(key, 0) + int(m.group(1).replace(",", ""))
    return costs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("other")
    ap.add_argument("calls", type=int)
    ap.add_argument("--inclusive", action="store_true")
    ap.add_argument("--top", type=int, default=40)
    a = ap.parse_args()
    base, other = load(a.base, a.inclusive), load(a.other, a.inclusive)
    rows = sorted(((other.get(k, 0) - base.get(k, 0), k) for k in set(base) | set(other)),
                  key=lambda r: -abs(r[0]))
    print("%10s %10s %10s  per call (%s)" % ("diff", "base", "other",
                                             "inclusive" if a.inclusive else "exclusive"))
    for d, k in rows[:a.top]:
        print("%10.1f %10.1f %10.1f  %s" % (d / a.calls, base.get(k, 0) / a.calls,
                                            other.get(k, 0) / a.calls, k[:160]))


if __name__ == "__main__":
    main()
