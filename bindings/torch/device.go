package torch

/*
#include "growthtorch.h"
*/
import "C"

// CUDAAvailable reports whether a CUDA device can be used: the library was linked with
// libtorch's CUDA kernels and a driver and at least one device are present.
func CUDAAvailable() bool { return C.gt_cuda_is_available() != 0 }

// CUDADeviceCount returns the number of CUDA devices (0 without CUDA).
func CUDADeviceCount() int { return int(C.gt_cuda_device_count()) }

// Synchronize waits for all work queued on the device to finish (a no-op on the CPU).
func Synchronize(d Device) {
	if d.Type != DeviceCUDA {
		return
	}
	check(C.gt_cuda_synchronize(C.int(d.Index)), "Synchronize")
}

// MemoryStats are the caching allocator's figures for one CUDA device, in bytes.
type MemoryStats struct {
	Allocated     int64 // held by live tensors now
	PeakAllocated int64 // the maximum of Allocated since start or ResetPeakMemory
	Reserved      int64 // held by the allocator (Allocated plus its cache)
}

// CUDAMemory returns the allocator statistics of CUDA device d.
func CUDAMemory(d Device) MemoryStats {
	if d.Type != DeviceCUDA {
		fail("CUDAMemory", "device %v is not a CUDA device", d)
	}
	var a, p, r C.int64_t
	check(C.gt_cuda_memory(C.int(d.Index), &a, &p, &r), "CUDAMemory")
	return MemoryStats{Allocated: int64(a), PeakAllocated: int64(p), Reserved: int64(r)}
}

// CUDAMemoryInfo returns the free and total memory of CUDA device d in bytes, as the driver
// reports them (what the caching allocator holds in reserve counts as taken: EmptyCache first
// to count it free).
func CUDAMemoryInfo(d Device) (free, total int64) {
	if d.Type != DeviceCUDA {
		fail("CUDAMemoryInfo", "device %v is not a CUDA device", d)
	}
	var f, t C.int64_t
	check(C.gt_cuda_mem_info(C.int(d.Index), &f, &t), "CUDAMemoryInfo")
	return int64(f), int64(t)
}

// ResetPeakMemory restarts PeakAllocated tracking on CUDA device d.
func ResetPeakMemory(d Device) {
	if d.Type != DeviceCUDA {
		fail("ResetPeakMemory", "device %v is not a CUDA device", d)
	}
	check(C.gt_cuda_reset_peak(C.int(d.Index)), "ResetPeakMemory")
}

// EmptyCache returns the CUDA allocator's unused cached memory to the driver.
func EmptyCache() { check(C.gt_cuda_empty_cache(), "EmptyCache") }

// CPUCacheStats describes the caching allocator that serves CPU tensors of 64 KiB and more once
// Init installed it (Runtime.CPUCache): freed blocks stay in per-size bins, up to Limit idle
// bytes, so a loop that allocates the same shapes again (a training step, an evaluation window)
// reuses memory instead of having the kernel fault it in and zero it anew. Installed is false
// (and every figure 0) while libtorch's own allocator serves CPU tensors: before Init, or after
// an Init without CPUCache.
type CPUCacheStats struct {
	Installed    bool
	Limit        int64 // most idle bytes kept
	Idle         int64 // bytes in the bins, held for reuse
	Live         int64 // bytes of cached-size blocks held by tensors now
	Hits, Misses int64 // requests served from a bin, and from the system
}

// CPUCache returns the CPU caching allocator's figures.
func CPUCache() CPUCacheStats {
	var v [5]C.int64_t
	ok := C.gt_cpu_cache_stats(&v[0]) != 0
	return CPUCacheStats{Installed: ok, Limit: int64(v[0]), Idle: int64(v[1]), Live: int64(v[2]),
		Hits: int64(v[3]), Misses: int64(v[4])}
}

// CPUCachePeak returns the most bytes of cached-size blocks (64 KiB and more) that tensors
// held at once since the cache was installed or the last ResetCPUCachePeak: on the CPU, the
// peak memory of the tensors that matter (activations, gradients, optimizer state), as
// CUDAMemory's PeakAllocated is on a GPU. 0 when the cache is not installed.
func CPUCachePeak() int64 { return int64(C.gt_cpu_cache_peak_live(0)) }

// ResetCPUCachePeak starts CPUCachePeak over from the bytes live now.
func ResetCPUCachePeak() { C.gt_cpu_cache_peak_live(1) }

// EmptyCPUCache returns every idle CPU block to the system and reports how many bytes that was
// (0 when the cache is not installed).
func EmptyCPUCache() int64 { return int64(C.gt_cpu_cache_empty()) }

// SetCPUCacheLimit sets the most idle bytes the CPU cache keeps, releasing what is over it;
// 0 turns caching off from now on. Init sets the first limit (Runtime.CPUCacheLimit, by default
// DefaultCPUCacheLimit()). Without the cache installed it does nothing.
func SetCPUCacheLimit(bytes int64) { C.gt_cpu_cache_set_limit(C.int64_t(bytes)) }
