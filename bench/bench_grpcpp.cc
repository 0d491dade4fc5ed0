// bench_grpcpp - the grpc++ comparison client: C++ callback API with stubs
// generated at build time by Debian's grpc_cpp_plugin (nothing committed).
//
//   bench_grpcpp --target HOST:PORT [--calls N] [--inflight K] [--warmup W]
//
// Same request, same x-goog-request-params header, same 30 s deadline, grpc
// retries off, as the floor and lro-c. Each completion (on grpc++'s callback
// threads) checks the status, parses the response (the stub does) and starts
// the next call. CALLGRIND_ZERO_STATS / DUMP_STATS_AT bracket the measured
// phase. One JSON line on stdout.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <valgrind/callgrind.h>

#include "bench_common.h"
#include "google/longrunning/operations.grpc.pb.h"

namespace {

using google::longrunning::GetOperationRequest;
using google::longrunning::Operation;
using google::longrunning::Operations;

struct Phase;

struct Slot {
    Phase *phase = nullptr;
    std::unique_ptr<grpc::ClientContext> ctx;
    Operation resp;
};

struct Phase {
    Operations::Stub *stub = nullptr;
    const GetOperationRequest *req = nullptr;
    long n = 0;
    std::atomic<long> started{0};
    std::atomic<long> done{0};
    std::atomic<long> errors{0};
    std::mutex mu;
    std::condition_variable cv;
    bool finished = false;
};

void Start(Slot *s)
{
    s->ctx.reset(new grpc::ClientContext);
    s->ctx->set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(BENCH_TIMEOUT_MS));
    s->ctx->AddMetadata(BENCH_ROUTING_KEY, BENCH_ROUTING_VALUE);
    s->resp.Clear();
    s->phase->stub->async()->GetOperation(
        s->ctx.get(), s->phase->req, &s->resp, [s](grpc::Status st) {
            Phase *p = s->phase;
            if (!st.ok() || s->resp.name().empty()) {
                p->errors++;
            }
            long d = ++p->done;
            if (p->started.fetch_add(1) < p->n) {
                Start(s);
            } else if (d == p->n) {
                std::lock_guard<std::mutex> l(p->mu);
                p->finished = true;
                p->cv.notify_one();
            }
        });
}

long RunPhase(Operations::Stub *stub, const GetOperationRequest &req, std::vector<Slot> &slots,
              long n)
{
    Phase p;
    p.stub = stub;
    p.req = &req;
    p.n = n;
    long first = n < (long)slots.size() ? n : (long)slots.size();
    p.started = first;
    for (long i = 0; i < first; i++) {
        slots[i].phase = &p;
    }
    for (long i = 0; i < first; i++) {
        Start(&slots[i]);
    }
    std::unique_lock<std::mutex> l(p.mu);
    p.cv.wait(l, [&] { return p.finished; });
    return p.errors.load();
}

} // namespace

int main(int argc, char **argv)
{
    const char *target = bench_arg(argc, argv, "--target", nullptr);
    long calls = bench_arg_long(argc, argv, "--calls", 200000);
    int inflight = (int)bench_arg_long(argc, argv, "--inflight", 256);
    long warmup = bench_arg_long(argc, argv, "--warmup", 2000);
    if (target == nullptr || calls <= 0 || inflight <= 0) {
        fprintf(stderr, "usage: bench_grpcpp --target T [--calls N] [--inflight K]\n");
        return 2;
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    auto stub = Operations::NewStub(channel);
    GetOperationRequest req;
    req.set_name(BENCH_GET_NAME);
    std::vector<Slot> slots(inflight);
    long werr = RunPhase(stub.get(), req, slots, warmup);
    CALLGRIND_ZERO_STATS;
    long sw0 = bench_ctxsw();
    int64_t cpu0 = bench_cpu_us(), t0 = bench_now_ns();
    long errors = RunPhase(stub.get(), req, slots, calls);
    int64_t t1 = bench_now_ns(), cpu1 = bench_cpu_us();
    long sw1 = bench_ctxsw();
    CALLGRIND_DUMP_STATS_AT("measured");
    bench_print_unary("grpc++-callback", calls, inflight, t1 - t0, cpu1 - cpu0, sw1 - sw0, errors + werr,
                      nullptr, 0);
    slots.clear();
    stub.reset();
    channel.reset();
    return errors + werr ? 1 : 0;
}
