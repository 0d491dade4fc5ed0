#!/bin/sh
# Runs every example against its own embedded server and checks the summary
# line, so the examples never rot.
set -eu
run() {
    bin=$1
    want=$2
    out=$("$bin") || { echo "FAIL: $bin exited $?"; echo "$out"; exit 1; }
    echo "$out" | tail -n 3
    echo "$out" | grep -q "$want" || { echo "FAIL: $bin: no '$want'"; exit 1; }
}
run examples/uv_await "awaited 1000 operations on one loop thread: 750 succeeded, 250 failed, 0 other"
run examples/event_list "1234 operations in 13 pages"
run examples/epoll_get "8 operations fetched"
# Observability examples: exact counts where the workload makes them exact.
out=$(examples/metrics_prometheus) || { echo "FAIL: metrics_prometheus exited $?"; exit 1; }
for want in \
    'lro_retries_total{method="GetOperation",reason="backoff"} 3' \
    'lro_retries_total{method="GetOperation",reason="retry_info"} 1' \
    'lro_attempts_total{method="GetOperation",code="UNAVAILABLE"} 4' \
    'lro_call_duration_seconds_count{method="GetOperation",code="NOT_FOUND"} 1' \
    'lro_call_duration_seconds_count{method="Await",code="OK"} 3' \
    'lro_call_duration_seconds_bucket{method="Await",code="OK",le="+Inf"} 3' \
    'lro_awaits_in_flight 0' \
    '# TYPE lro_call_duration_seconds histogram'; do
    echo "$out" | grep -qxF "$want" || { echo "FAIL: metrics_prometheus: no line '$want'"; echo "$out"; exit 1; }
done
echo "$out" | grep -q '^lro_await_polls_total{method="GetOperation",throttled="none"} [1-9]' ||
    { echo "FAIL: metrics_prometheus: no GetOperation polls after the fallback"; exit 1; }
echo "metrics_prometheus: ok"
out=$(examples/spans_otel) || { echo "FAIL: spans_otel exited $?"; exit 1; }
# Get: 2 attempt spans + 1 call span; await: 1 attempt + 1 poll call + 1 await span.
[ "$(echo "$out" | grep -c '"traceId":"0af7651916cd43dd8448eb211c80319c"')" = 6 ] ||
    { echo "FAIL: spans_otel: want 6 spans in the caller's trace"; echo "$out"; exit 1; }
# The call span and the await span hang under the caller's span.
[ "$(echo "$out" | grep -c '"parentSpanId":"b7ad6b7169203331"')" = 2 ] ||
    { echo "FAIL: spans_otel: want 2 spans under the caller's span"; echo "$out"; exit 1; }
echo "$out" | grep -q '"name":"GetOperation attempt 1".*"status":{"code":2,"message":"UNAVAILABLE"}' ||
    { echo "FAIL: spans_otel: no failed first attempt"; exit 1; }
if command -v /usr/bin/python3 >/dev/null; then
    echo "$out" | /usr/bin/python3 -c '
import json, sys
spans = [json.loads(l) for l in sys.stdin if l.strip()]
ids = {s["spanId"] for s in spans}
for s in spans:
    assert len(s["traceId"]) == 32 and len(s["spanId"]) == 16, s
    assert int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]), s
    # every parent is either another span here or the caller span
    assert s["parentSpanId"] in ids or s["parentSpanId"] == "b7ad6b7169203331", s
print("spans_otel: %d spans, valid JSON, one tree" % len(spans))
' || { echo "FAIL: spans_otel: bad JSON lines"; exit 1; }
fi
echo "examples: all ran"
