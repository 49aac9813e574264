// distributed/c10d.cpp - process groups over libtorch's c10d: the TCPStore rendezvous, the Gloo
// (CPU) and NCCL (CUDA) backends, and the bucketed collectives data-parallel training uses.
//
// The c10d headers are heavy and the backends' headers need their libraries' headers (gloo's
// from libgloo-dev, NCCL's and CUDA's on a GPU host), so this file is a translation unit of its
// own. USE_C10D_GLOO and USE_C10D_NCCL (set by CMake when those headers were found) decide
// which backends are compiled in; the entry points exist in every build and name what is
// missing when asked for it.
//
// What a failure looks like. libtorch's ProcessGroupGloo runs each collective on a worker
// thread and hands its exception to Work::wait, which rethrows it here: a c10::DistError from
// the store, or gloo's own exceptions (a std::runtime_error: "Connection closed by peer",
// "Timed out waiting ... for recv operation"). Every such exception, and any exception thrown
// while waiting, becomes GT_ERR_DIST and marks the group failed: gloo's context is then in an
// unknown state (a half-done ring), so nothing more is sent through it, and it is not torn down
// either (its destructor waits for work that may never finish); the process's exit ends it.

#include "internal.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros_like.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <utility>
#include <vector>

using gt::ArgumentError;
using gt::CommError;
using gt::get;
using gt::guard;
using gt::wrap;

struct gt_pg_s {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  int backend_code = GT_DIST_GLOO;
  int rank = 0;
  int size = 1;
  std::chrono::milliseconds timeout{0};
  // The first communication failure; once set, the group is not used again.
  std::string failed;
};

namespace {

constexpr int64_t kDefaultBucketBytes = 25 << 20;  // as DDP's bucket_cap_mb

const char *backend_name(int b) { return b == GT_DIST_NCCL ? "NCCL" : "Gloo"; }

bool compiled(int backend) {
  switch (backend) {
#ifdef USE_C10D_GLOO
    case GT_DIST_GLOO: return true;
#endif
#ifdef USE_C10D_NCCL
    case GT_DIST_NCCL: return true;
#endif
    default: return false;
  }
}

bool loopback(const std::string &host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string where(const gt_pg_s *pg, const char *what) {
  return std::string(what) + " (rank " + std::to_string(pg->rank) + " of " +
         std::to_string(pg->size) + ", " + backend_name(pg->backend_code) + ")";
}

// The message of the exception being handled, without libtorch's C++ backtrace.
std::string current_message() {
  try {
    throw;
  } catch (const c10::Error &e) {
    return e.what_without_backtrace();
  } catch (const std::exception &e) {
    return e.what();
  } catch (...) {
    return "unknown C++ exception";
  }
}

void check_usable(const gt_pg_s *pg) {
  if (pg == nullptr) throw ArgumentError("process group is NULL");
  if (!pg->failed.empty()) {
    throw CommError("the process group failed earlier and cannot be used again: " + pg->failed);
  }
}

// Waits for works in order. Any failure marks the group failed and is rethrown as a
// communication error naming the operation.
void wait_all(gt_pg_s *pg, std::vector<c10::intrusive_ptr<c10d::Work>> &works, const char *what) {
  for (auto &w : works) {
    try {
      w->wait();
    } catch (...) {
      pg->failed = where(pg, what) + ": " + current_message();
      throw CommError(pg->failed);
    }
  }
}

// Runs f, which starts collectives; a failure to start one (the backend refusing the call)
// keeps libtorch's classification unless it is a communication error, which marks the group
// failed.
template <class F>
auto starting(gt_pg_s *pg, const char *what, F &&f) -> decltype(f()) {
  try {
    return f();
  } catch (const ArgumentError &) {
    throw;
  } catch (const c10::DistError &) {
    pg->failed = where(pg, what) + ": " + current_message();
    throw CommError(pg->failed);
  } catch (const c10::Error &) {
    throw;
  } catch (const std::bad_alloc &) {
    throw;
  } catch (...) {
    pg->failed = where(pg, what) + ": " + current_message();
    throw CommError(pg->failed);
  }
}

// A bucket: consecutive tensors of one dtype and device, reduced as one buffer. A bucket of a
// single contiguous tensor is that tensor itself (no copy in, none out).
struct Bucket {
  std::vector<at::Tensor> ts;
  at::Tensor flat;
  bool direct = false;
};

std::vector<Bucket> make_buckets(const std::vector<at::Tensor> &ts, int64_t cap) {
  if (cap <= 0) cap = kDefaultBucketBytes;
  std::vector<Bucket> out;
  int64_t filled = 0;
  for (const auto &t : ts) {
    const int64_t nb = t.numel() * static_cast<int64_t>(t.element_size());
    if (nb == 0) continue;  // nothing to send; every rank skips it alike (same shapes)
    bool joins = !out.empty() && out.back().ts.back().scalar_type() == t.scalar_type() &&
                 out.back().ts.back().device() == t.device() && filled + nb <= cap;
    if (!joins) {
      out.emplace_back();
      filled = 0;
    }
    out.back().ts.push_back(t);
    filled += nb;
  }
  for (auto &b : out) {
    if (b.ts.size() == 1 && b.ts[0].is_contiguous()) {
      b.flat = b.ts[0];
      b.direct = true;
      continue;
    }
    std::vector<at::Tensor> rows;
    rows.reserve(b.ts.size());
    for (const auto &t : b.ts) rows.push_back(t.reshape({-1}));
    b.flat = at::cat(rows);
  }
  return out;
}

void copy_back(Bucket &b) {
  if (b.direct) return;
  int64_t off = 0;
  for (auto &t : b.ts) {
    const int64_t n = t.numel();
    t.copy_(b.flat.narrow(0, off, n).view(t.sizes()));
    off += n;
  }
}

int64_t payload(const std::vector<at::Tensor> &ts) {
  int64_t n = 0;
  for (const auto &t : ts) n += t.numel() * static_cast<int64_t>(t.element_size());
  return n;
}

void allreduce(gt_pg_s *pg, std::vector<at::Tensor> ts, bool average, int64_t bucket_bytes,
               int64_t *bytes) {
  check_usable(pg);
  c10::NoGradGuard no_grad;
  if (average) {
    for (const auto &t : ts) {
      if (!at::isFloatingType(t.scalar_type())) {
        throw ArgumentError(std::string("all-reduce: averaging a ") +
                            c10::toString(t.scalar_type()) + " tensor");
      }
    }
  }
  auto buckets = make_buckets(ts, bucket_bytes);
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  starting(pg, "all-reduce", [&] {
    for (auto &b : buckets) {
      std::vector<at::Tensor> one{b.flat};
      c10d::AllreduceOptions o;
      o.reduceOp = c10d::ReduceOp::SUM;  // Gloo has no AVG: divide below
      works.push_back(pg->backend->allreduce(one, o));
    }
  });
  wait_all(pg, works, "all-reduce");
  for (auto &b : buckets) {
    if (average && pg->size > 1) b.flat.div_(static_cast<double>(pg->size));
    copy_back(b);
  }
  if (bytes) *bytes = payload(ts);
}

}  // namespace

extern "C" {

int gt_dist_available(int backend) { return compiled(backend) ? 1 : 0; }

gt_error gt_pg_new(const gt_pg_options *opts, gt_pg *out) {
  return guard([&] {
    if (opts == nullptr || out == nullptr) throw ArgumentError("gt_pg_new: NULL argument");
    if (opts->size <= 0 || opts->size > static_cast<int64_t>(sizeof(gt_pg_options))) {
      throw ArgumentError("gt_pg_new: options size " + std::to_string(opts->size) +
                          " (this library knows " + std::to_string(sizeof(gt_pg_options)) + ")");
    }
    gt_pg_options o{};
    std::memcpy(&o, opts, static_cast<size_t>(opts->size));
    if (o.backend != GT_DIST_GLOO && o.backend != GT_DIST_NCCL) {
      throw ArgumentError("gt_pg_new: unknown backend code " + std::to_string(o.backend));
    }
    if (!compiled(o.backend)) {
      throw ArgumentError(std::string("libgrowthtorch was built without c10d ") +
                          backend_name(o.backend) + " support" +
                          (o.backend == GT_DIST_GLOO
                               ? " (gloo's headers were not found: install libgloo-dev, e.g. "
                                 "`make gloo`, then rebuild with `make lib`)"
                               : " (it is compiled only where CUDA and NCCL headers exist, "
                                 "with -DUSE_C10D_NCCL: see docs/distributed.md)"));
    }
    if (o.world_size < 1 || o.rank < 0 || o.rank >= o.world_size) {
      throw ArgumentError("gt_pg_new: rank " + std::to_string(o.rank) + " of world size " +
                          std::to_string(o.world_size));
    }
    if (o.master_addr == nullptr || o.master_addr[0] == '\0') {
      throw ArgumentError("gt_pg_new: no master address");
    }
    if (o.master_port < 1 || o.master_port > 65535) {
      throw ArgumentError("gt_pg_new: master port " + std::to_string(o.master_port));
    }
    if (o.timeout_ms <= 0) throw ArgumentError("gt_pg_new: the timeout must be positive");
    if (o.threads < 0) throw ArgumentError("gt_pg_new: negative thread count");

    auto pg = std::make_unique<gt_pg_s>();
    pg->backend_code = o.backend;
    pg->rank = o.rank;
    pg->size = o.world_size;
    pg->timeout = std::chrono::milliseconds(o.timeout_ms);
    const std::string master(o.master_addr);
    try {
      c10d::TCPStoreOptions so;
      so.port = static_cast<std::uint16_t>(o.master_port);
      so.isServer = o.rank == 0 && o.agent_store == 0;
      if (o.agent_store == 0) {
        // Every rank counts itself in; rank 0 returns only once all have.
        so.numWorkers = static_cast<std::size_t>(o.world_size);
        so.waitWorkers = true;
      } else {
        so.waitWorkers = false;  // the agent's store: Gloo's rendezvous waits for the ranks
      }
      so.multiTenant = true;  // another store of this process may share the port
      so.timeout = pg->timeout;
      pg->store = c10::make_intrusive<c10d::TCPStore>(master, so);
    } catch (...) {
      throw CommError(where(pg.get(), "rendezvous") + " at " + master + ":" +
                      std::to_string(o.master_port) + " within " + std::to_string(o.timeout_ms) +
                      " ms: " + current_message());
    }
    try {
      if (o.backend == GT_DIST_GLOO) {
#ifdef USE_C10D_GLOO
        auto go = c10d::ProcessGroupGloo::Options::create(pg->timeout);
        const std::string iface = o.gloo_iface ? o.gloo_iface : "";
        const std::string host = o.gloo_host ? o.gloo_host : "";
        if (!iface.empty()) {
          go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
        } else if (!host.empty()) {
          go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
        } else if (loopback(master)) {
          go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
        } else {
          go->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
        }
        if (o.threads > 0) go->threads = o.threads;
        pg->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(pg->store, o.rank,
                                                                   o.world_size, go);
#endif
      } else {
#ifdef USE_C10D_NCCL
        // Failures must come back from wait() as exceptions, never end the process: blocking
        // waits (wait() returns only when the collective finished, and throws on a timeout),
        // asynchronous error handling that aborts the communicators but not the process
        // (CleanUpOnly), and no heartbeat monitor (which would kill a process whose watchdog
        // looks stuck). ProcessGroupNCCL reads these in its constructor. Not run in this
        // repository's CI (no GPU there): docs/distributed.md.
        setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 1);
        setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "2", 1);
        setenv("TORCH_NCCL_ENABLE_MONITORING", "0", 1);
        setenv("TORCH_NCCL_DUMP_ON_TIMEOUT", "0", 1);
        const at::Device dev = gt::device(GT_CUDA, o.device_index);
        c10::cuda::set_device(dev.index());
        auto no = c10d::ProcessGroupNCCL::Options::create();
        no->timeout = pg->timeout;
        auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(pg->store, o.rank, o.world_size,
                                                                no);
        nccl->setBoundDeviceId(dev);
        nccl->eagerConnectSingleDevice(dev);
        pg->backend = nccl;
#endif
      }
    } catch (const ArgumentError &) {
      throw;
    } catch (...) {
      throw CommError(where(pg.get(), "joining the process group") + ": " + current_message());
    }
    *out = pg.release();
  });
}

void gt_pg_free(gt_pg pg) {
  if (pg == nullptr) return;
  if (!pg->failed.empty()) {
    // Deliberately not destroyed (see the top of this file): the backend's destructor would
    // wait for work that a dead peer never completes.
    (void)pg->backend.release();
    (void)pg->store.release();
    delete pg;
    return;
  }
  try {
    pg->backend.reset();
    pg->store.reset();
  } catch (...) {
  }
  delete pg;
}

gt_error gt_pg_allreduce(gt_pg pg, const gt_tensor *ts, int64_t n, int average,
                         int64_t bucket_bytes, int64_t *bytes) {
  return guard([&] {
    allreduce(pg, gt::tensors(ts, n, "all-reduce"), average != 0, bucket_bytes, bytes);
  });
}

gt_error gt_pg_allreduce_grads(gt_pg pg, const gt_tensor *params, int64_t n, int average,
                               int64_t bucket_bytes, int64_t *bytes) {
  return guard([&] {
    check_usable(pg);
    c10::NoGradGuard no_grad;
    std::vector<at::Tensor> grads;
    for (auto &p : gt::tensors(params, n, "all-reduce parameter")) {
      if (!p.mutable_grad().defined()) p.mutable_grad() = at::zeros_like(p);
      grads.push_back(p.mutable_grad());
    }
    allreduce(pg, std::move(grads), average != 0, bucket_bytes, bytes);
  });
}

gt_error gt_pg_broadcast(gt_pg pg, const gt_tensor *ts, int64_t n, int root,
                         int64_t bucket_bytes, int64_t *bytes) {
  return guard([&] {
    check_usable(pg);
    if (root < 0 || root >= pg->size) {
      throw ArgumentError("broadcast: root " + std::to_string(root) + " of world size " +
                          std::to_string(pg->size));
    }
    c10::NoGradGuard no_grad;
    auto list = gt::tensors(ts, n, "broadcast");
    auto buckets = make_buckets(list, bucket_bytes);
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    starting(pg, "broadcast", [&] {
      for (auto &b : buckets) {
        std::vector<at::Tensor> one{b.flat};
        c10d::BroadcastOptions o;
        o.rootRank = root;
        works.push_back(pg->backend->broadcast(one, o));
      }
    });
    wait_all(pg, works, "broadcast");
    if (pg->rank != root) {
      for (auto &b : buckets) copy_back(b);
    }
    if (bytes) *bytes = payload(list);
  });
}

gt_error gt_pg_allgather(gt_pg pg, gt_tensor t, gt_tensor *out) {
  return guard([&] {
    check_usable(pg);
    if (out == nullptr) throw ArgumentError("all-gather: NULL output");
    c10::NoGradGuard no_grad;
    std::vector<at::Tensor> in{get(t, "all-gather").contiguous()};
    std::vector<std::vector<at::Tensor>> outs(1);
    for (int i = 0; i < pg->size; i++) outs[0].push_back(at::empty_like(in[0]));
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    starting(pg, "all-gather", [&] { works.push_back(pg->backend->allgather(outs, in)); });
    wait_all(pg, works, "all-gather");
    *out = wrap(at::stack(outs[0]));
  });
}

gt_error gt_pg_barrier(gt_pg pg) {
  return guard([&] {
    check_usable(pg);
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    starting(pg, "barrier", [&] { works.push_back(pg->backend->barrier()); });
    wait_all(pg, works, "barrier");
  });
}

}  // extern "C"
