// caching_allocator.cpp - a caching allocator for CPU tensors, installed by gt_runtime_init.
//
// Why: libtorch's default CPU allocator hands every request to malloc. A transformer's forward
// pass allocates and frees the same few large buffers (activations of 1-3 MB, logits of 100 MB
// for a 512-token window of a 49k vocabulary) over and over. glibc serves requests above its
// mmap threshold (at most 32 MB) with a fresh mmap, and trims the heap top back to the kernel
// as soon as more than twice that threshold is free, so the same memory is faulted in and
// zeroed by the kernel again on every pass. Measured on SmolLM2-135M on a 2-core VM: 2.5 million
// page faults for 12 forward passes and a forward 30-40% slower than with the memory kept.
//
// This allocator keeps freed blocks of 64 KiB and more in per-size bins (sizes rounded up to a
// sixteenth of their power of two, so at most 6.25% is wasted) and hands them out again. Idle
// blocks are bounded by a limit (default: an eighth of physical memory, at most 2 GiB); when a
// free would exceed it, the least recently used bins are returned to the system first. When an
// allocation fails, the idle blocks are released and the allocation is tried once more, so the
// cache never turns into an out-of-memory error the default allocator would not have raised.
//
// Nothing is installed when the library loads: a program that links it and never asks for the
// cache keeps libtorch's allocator. gt_runtime_init installs it (install_caching_allocator), at
// start-up or later: tensors allocated before keep working, because every c10::DataPtr carries
// its own deleter (libtorch's DefaultCPUAllocator hands out its ReportAndDelete, which stays
// valid), and a storage that grows later asks the allocator it recorded when it was made. So the
// cache never sees, and never frees, a block it did not hand out. gt_cpu_cache_set_limit changes
// the limit at run time (0 empties and bypasses the cache).

#include "kernels/cpu/caching_allocator.h"

#include "growthtorch.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace {

constexpr size_t kMinCached = size_t(64) << 10;     // smaller requests go straight to malloc
constexpr size_t kDefaultMax = size_t(2) << 30;     // default limit: min(this, RAM / 8)

// The bin a request of n bytes (n >= kMinCached) is served from.
size_t bin_size(size_t n) {
  size_t pow2 = size_t(1) << (63 - __builtin_clzll(n));
  size_t step = std::max<size_t>(4096, pow2 / 16);
  return (n + step - 1) / step * step;
}

class CachingCPUAllocator final : public c10::Allocator {
 public:
  explicit CachingCPUAllocator(size_t limit) : limit_(limit) {}

  c10::DataPtr allocate(size_t n) override {
    if (n < kMinCached) return uncached(n);
    size_t size = bin_size(n);
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (limit_ == 0) {
        lock.unlock();
        return uncached(n);
      }
      auto it = bins_.find(size);
      if (it != bins_.end() && !it->second.idle.empty()) {
        void *p = it->second.idle.back();
        it->second.idle.pop_back();
        it->second.last_use = ++tick_;
        idle_bytes_ -= size;
        live_bytes_ += size;
        peak_live_ = std::max(peak_live_, live_bytes_);
        ++hits_;
        live_.emplace(p, size);
        return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
      }
      ++misses_;
    }
    void *p = nullptr;
    try {
      p = c10::alloc_cpu(size);
    } catch (const c10::Error &) {
      if (empty() == 0) throw;
      p = c10::alloc_cpu(size);  // once more, with the idle blocks given back
    }
    std::lock_guard<std::mutex> lock(mu_);
    bins_[size].last_use = ++tick_;
    live_.emplace(p, size);
    live_bytes_ += size;
    peak_live_ = std::max(peak_live_, live_bytes_);
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }

  // A block that bypasses the bins (its free finds it untracked and hands it to the system).
  static c10::DataPtr uncached(size_t n) {
    void *p = c10::alloc_cpu(n);
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void copy_data(void *dest, const void *src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

  // Returns p to its bin, or to the system when it was not a cached block or does not fit.
  void free(void *p) {
    std::vector<void *> evicted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Untracked: a small block, or one allocated while the limit was 0.
      if (auto it = live_.find(p); it != live_.end()) {
        size_t size = it->second;
        live_.erase(it);
        live_bytes_ -= size;
        if (size <= limit_) {
          evict_locked(limit_ - size, evicted);
          bins_[size].idle.push_back(p);
          idle_bytes_ += size;
          p = nullptr;
        }
      }
    }
    if (p != nullptr) c10::free_cpu(p);
    for (void *q : evicted) c10::free_cpu(q);
  }

  // Gives every idle block back to the system; returns the bytes released.
  size_t empty() {
    std::vector<void *> evicted;
    size_t released;
    {
      std::lock_guard<std::mutex> lock(mu_);
      released = idle_bytes_;
      evict_locked(0, evicted);
    }
    for (void *q : evicted) c10::free_cpu(q);
    return released;
  }

  void set_limit(size_t limit) {
    std::vector<void *> evicted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      limit_ = limit;
      evict_locked(limit, evicted);
    }
    for (void *q : evicted) c10::free_cpu(q);
  }

  void stats(int64_t *out) {
    std::lock_guard<std::mutex> lock(mu_);
    out[0] = static_cast<int64_t>(limit_);
    out[1] = static_cast<int64_t>(idle_bytes_);
    out[2] = static_cast<int64_t>(live_bytes_);
    out[3] = static_cast<int64_t>(hits_);
    out[4] = static_cast<int64_t>(misses_);
  }

  // The most live bytes since install or the last reset; reset starts over from the live bytes.
  size_t peak_live(bool reset) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t peak = peak_live_;
    if (reset) peak_live_ = live_bytes_;
    return peak;
  }

  static void release(void *p);

 private:
  struct Bin {
    std::vector<void *> idle;
    uint64_t last_use = 0;
  };

  // Moves idle blocks into out, least recently used bins first, until at most keep bytes stay.
  void evict_locked(size_t keep, std::vector<void *> &out) {
    while (idle_bytes_ > keep) {
      Bin *oldest = nullptr;
      size_t oldest_size = 0;
      for (auto &[size, bin] : bins_) {
        if (!bin.idle.empty() && (oldest == nullptr || bin.last_use < oldest->last_use)) {
          oldest = &bin;
          oldest_size = size;
        }
      }
      if (oldest == nullptr) break;
      while (!oldest->idle.empty() && idle_bytes_ > keep) {
        out.push_back(oldest->idle.back());
        oldest->idle.pop_back();
        idle_bytes_ -= oldest_size;
      }
    }
  }

  std::mutex mu_;
  size_t limit_;
  std::unordered_map<void *, size_t> live_;  // cached-size blocks in use -> bin size
  std::unordered_map<size_t, Bin> bins_;
  size_t idle_bytes_ = 0, live_bytes_ = 0, peak_live_ = 0;
  uint64_t hits_ = 0, misses_ = 0, tick_ = 0;
};

// Set once by install_caching_allocator and never destroyed: tensors may be freed by static
// destructors after this file's would run. A block reaches release() only after the allocator
// handed it out, so release() sees the pointer published (the allocation happened after it).
std::atomic<CachingCPUAllocator *> g_alloc{nullptr};

void CachingCPUAllocator::release(void *p) {
  if (p != nullptr) g_alloc.load(std::memory_order_acquire)->free(p);
}

// The cache while it serves libtorch's CPU tensors; nullptr before install (or if another
// allocator of higher priority replaced it since).
CachingCPUAllocator *active() {
  CachingCPUAllocator *a = g_alloc.load(std::memory_order_acquire);
  return a != nullptr && c10::GetCPUAllocator() == a ? a : nullptr;
}

}  // namespace

namespace gt::cpu {

size_t default_cache_limit() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  size_t ram = pages > 0 && page > 0 ? size_t(pages) * size_t(page) : 0;
  return ram == 0 ? kDefaultMax : std::min(kDefaultMax, ram / 8);
}

void install_caching_allocator(size_t limit) {
  if (g_alloc.load(std::memory_order_acquire) != nullptr) {
    throw std::logic_error("CPU caching allocator: already installed");
  }
  auto *a = new CachingCPUAllocator(limit);
  g_alloc.store(a, std::memory_order_release);
  // Priority 1 outranks the default allocator libc10 registered (priority 0) at its load.
  c10::SetCPUAllocator(a, /*priority=*/1);
  if (c10::GetCPUAllocator() != a) {
    throw std::runtime_error(
        "CPU caching allocator: libtorch kept another CPU allocator of higher priority");
  }
}

}  // namespace gt::cpu

extern "C" {

int64_t gt_cpu_cache_default_limit(void) {
  return static_cast<int64_t>(gt::cpu::default_cache_limit());
}

int gt_cpu_cache_stats(int64_t *out5) {
  CachingCPUAllocator *a = active();
  if (a == nullptr) {
    std::fill(out5, out5 + 5, 0);
    return 0;
  }
  a->stats(out5);
  return 1;
}

int64_t gt_cpu_cache_peak_live(int reset) {
  CachingCPUAllocator *a = active();
  return a != nullptr ? static_cast<int64_t>(a->peak_live(reset != 0)) : 0;
}

int64_t gt_cpu_cache_empty(void) {
  CachingCPUAllocator *a = g_alloc.load(std::memory_order_acquire);
  return a != nullptr ? static_cast<int64_t>(a->empty()) : 0;
}

void gt_cpu_cache_set_limit(int64_t bytes) {
  CachingCPUAllocator *a = g_alloc.load(std::memory_order_acquire);
  if (a != nullptr) a->set_limit(bytes < 0 ? 0 : static_cast<size_t>(bytes));
}

}  // extern "C"
