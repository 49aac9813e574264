// handles.cpp - tensor handles and scopes: the slab of slots behind every gt_tensor.
//
// Tensors live in slots of a slab that only ever grows; a handle names a slot and the slot's
// generation when the handle was made. Releasing a slot bumps its generation, so every stale
// handle is detected by one comparison (GT_ERR_FREED) and the slot can be reused at once.
// Slots never move (blocks are allocated once and never freed), so an operation may read a
// slot without taking the lock. This lets a scope release its tensors outright: the caller's
// copy of a handle needs no finaliser, which is what makes Go-side scopes cheap.
//
// Memory ordering (what the lock-free read in get() relies on):
//  - a block is published with a release store before any handle into it is handed out, and
//    get() loads it with acquire, so a thread holding a handle sees the block's slots built;
//  - release_locked bumps a slot's generation with a release store after moving its tensor
//    out, and get() reads the generation with acquire: a handle whose generation no longer
//    matches is refused before the slot's tensor is touched. A live handle reaches another
//    thread only through the caller's own synchronisation (a Go channel, a mutex), which orders
//    the slot's contents, written under g_slab_mu, before that thread's use.

#include "internal.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr uint32_t kBlockBits = 12;
constexpr uint32_t kBlockSize = 1u << kBlockBits;
constexpr uint32_t kMaxBlocks = 1u << 16;  // 2^28 live tensors at most
constexpr uint64_t kIndexMask = 0xffffffffull;
constexpr uint32_t kGenMask = 0x3fffffffu;  // bits 32-61; 62 and 63 are flags
constexpr uint64_t kFlags = GT_HANDLE_SCOPED | GT_HANDLE_YIELD;

struct Slot {
  at::Tensor t;
  std::atomic<uint32_t> gen{1};  // never 0, so no live handle is 0
  uint64_t scope = 0;            // id of the scope that will release it; 0 for none
};

std::mutex g_slab_mu;
std::atomic<Slot *> g_blocks[kMaxBlocks];
uint32_t g_next = 0;             // slots ever handed out (guarded by g_slab_mu)
std::vector<uint32_t> g_free;    // released slots (guarded by g_slab_mu)
std::atomic<int64_t> g_live{0};
std::atomic<uint64_t> g_scope_ids{0};

struct Scope {
  uint64_t id;
  std::vector<gt_tensor> handles;
};

// Per OS thread, like grad mode: the open scopes (the Go side pins its goroutine while a scope
// is open) and the pacing hints' state. One thread_local, so wrap() looks it up once.
struct ThreadState {
  std::vector<Scope> scopes;
  gt::PaceState pace;
};
thread_local ThreadState tl;

Slot &slot(uint32_t index) {
  return g_blocks[index >> kBlockBits].load(std::memory_order_acquire)[index & (kBlockSize - 1)];
}

uint32_t handle_gen(gt_tensor h) { return static_cast<uint32_t>(h >> 32) & kGenMask; }
uint32_t handle_index(gt_tensor h) { return static_cast<uint32_t>(h & kIndexMask); }

// Returns the slot of a live handle, or nullptr. Caller holds g_slab_mu.
Slot *live_slot_locked(gt_tensor h) {
  uint32_t i = handle_index(h);
  if (h == 0 || i >= g_next) return nullptr;
  Slot &s = slot(i);
  return s.gen.load(std::memory_order_relaxed) == handle_gen(h) ? &s : nullptr;
}

// Releases a live slot: takes its tensor out, bumps the generation, recycles the slot. The
// tensor is destroyed by the caller after unlocking (freeing storage can take a while).
at::Tensor release_locked(Slot &s, uint32_t index) {
  at::Tensor t = std::move(s.t);
  uint32_t g = (s.gen.load(std::memory_order_relaxed) + 1) & kGenMask;
  s.gen.store(g == 0 ? 1 : g, std::memory_order_release);
  s.scope = 0;
  g_free.push_back(index);
  g_live.fetch_sub(1, std::memory_order_relaxed);
  return t;
}

}  // namespace

namespace gt {

gt_tensor wrap(at::Tensor t) {
  if (!t.defined()) return 0;
  uint64_t scope = tl.scopes.empty() ? 0 : tl.scopes.back().id;
  uint32_t index;
  Slot *s;
  {
    std::lock_guard<std::mutex> lock(g_slab_mu);
    if (!g_free.empty()) {
      index = g_free.back();
      g_free.pop_back();
    } else {
      if (g_next == kMaxBlocks * kBlockSize) {
        throw std::bad_alloc();  // 2^28 live tensors: reported as out of memory
      }
      index = g_next;
      if ((index & (kBlockSize - 1)) == 0) {
        g_blocks[index >> kBlockBits].store(new Slot[kBlockSize], std::memory_order_release);
      }
      g_next++;
    }
    s = &slot(index);
    s->t = std::move(t);
    s->scope = scope;
  }
  g_live.fetch_add(1, std::memory_order_relaxed);
  gt_tensor h = (static_cast<uint64_t>(s->gen.load(std::memory_order_relaxed)) << 32) | index;
  if (scope != 0) {
    tl.scopes.back().handles.push_back(h);
    h |= GT_HANDLE_SCOPED;
  }
  if (gt::pace_due(tl.pace)) h |= GT_HANDLE_YIELD;
  return h;
}

const at::Tensor &get(gt_tensor h, const char *what) {
  h &= ~kFlags;
  if (h == 0) throw ArgumentError(std::string(what) + ": no tensor (null handle)");
  uint32_t i = handle_index(h);
  // g_next only grows and blocks are published before it: a racy read can only be too small.
  if (i >= kMaxBlocks * kBlockSize || g_blocks[i >> kBlockBits].load(std::memory_order_acquire) == nullptr) {
    throw ArgumentError(std::string(what) + ": invalid tensor handle");
  }
  Slot &s = slot(i);
  if (s.gen.load(std::memory_order_acquire) != handle_gen(h)) {
    throw FreedError(std::string(what) +
                     ": tensor was already released (closed, or freed by its scope)");
  }
  return s.t;
}

}  // namespace gt

using gt::get;
using gt::guard;

extern "C" {

int64_t gt_live_tensors(void) { return g_live.load(); }

void gt_tensor_free(gt_tensor h) {
  h &= ~kFlags;
  at::Tensor dead;
  {
    std::lock_guard<std::mutex> lock(g_slab_mu);
    Slot *s = live_slot_locked(h);
    if (s == nullptr) return;
    dead = release_locked(*s, handle_index(h));
  }
}

void gt_tensor_free_n(const gt_tensor *ts, int64_t n) {
  if (ts == nullptr || n <= 0) return;
  std::vector<at::Tensor> dead;
  dead.reserve(static_cast<size_t>(n));
  std::lock_guard<std::mutex> lock(g_slab_mu);
  for (int64_t i = 0; i < n; i++) {
    gt_tensor h = ts[i] & ~kFlags;
    if (Slot *s = live_slot_locked(h)) dead.push_back(release_locked(*s, handle_index(h)));
  }
}

uint64_t gt_scope_push(void) {
  uint64_t id = ++g_scope_ids;
  tl.scopes.push_back(Scope{id, {}});
  return id;
}

gt_error gt_scope_pop(uint64_t id) {
  return guard([&] {
    if (tl.scopes.empty()) {
      throw gt::ArgumentError("scope close: no scope is open on this thread");
    }
    if (tl.scopes.back().id != id) {
      throw gt::ArgumentError("scope close: scope " + std::to_string(id) +
                              " is not the innermost open scope on this thread (closed out of "
                              "order, or on another goroutine/thread)");
    }
    std::vector<at::Tensor> dead;
    {
      std::lock_guard<std::mutex> lock(g_slab_mu);
      for (gt_tensor h : tl.scopes.back().handles) {
        Slot *s = live_slot_locked(h);
        // Skip handles already closed, and those kept (they now belong to another scope).
        if (s != nullptr && s->scope == id) dead.push_back(release_locked(*s, handle_index(h)));
      }
    }
    tl.scopes.pop_back();
  });
}

gt_error gt_tensor_persist(gt_tensor h) {
  return guard([&] {
    h &= ~kFlags;
    std::lock_guard<std::mutex> lock(g_slab_mu);
    Slot *s = live_slot_locked(h);
    if (s == nullptr) throw gt::FreedError("persist: tensor was already released");
    s->scope = 0;  // its scope skips it on close (the scope checks ownership)
  });
}

gt_error gt_scope_keep(uint64_t id, gt_tensor h, int *unscoped) {
  return guard([&] {
    h &= ~kFlags;
    get(h, "keep");
    if (tl.scopes.empty() || tl.scopes.back().id != id) {
      throw gt::ArgumentError("keep: scope " + std::to_string(id) +
                              " is not the innermost open scope on this thread");
    }
    Scope *parent = tl.scopes.size() > 1 ? &tl.scopes[tl.scopes.size() - 2] : nullptr;
    std::lock_guard<std::mutex> lock(g_slab_mu);
    Slot *s = live_slot_locked(h);
    if (s == nullptr) throw gt::FreedError("keep: tensor was already released");
    if (s->scope == id) {  // otherwise it was not created in this scope: nothing to do
      s->scope = parent ? parent->id : 0;
      if (parent) parent->handles.push_back(h);
    }
    *unscoped = s->scope == 0 ? 1 : 0;
  });
}

}  // extern "C"
