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

// ResetPeakMemory restarts PeakAllocated tracking on CUDA device d.
func ResetPeakMemory(d Device) {
	if d.Type != DeviceCUDA {
		fail("ResetPeakMemory", "device %v is not a CUDA device", d)
	}
	check(C.gt_cuda_reset_peak(C.int(d.Index)), "ResetPeakMemory")
}

// EmptyCache returns the CUDA allocator's unused cached memory to the driver.
func EmptyCache() { check(C.gt_cuda_empty_cache(), "EmptyCache") }
