// Package runtimeenv is where growthtrain's commands read the environment variables that
// choose the torch runtime. The library and the bindings read none: a program that links them
// gets libtorch's defaults unless it calls torch.Init. The commands call Init first thing, with
// everything on unless a variable says otherwise:
//
//	GROWTHTORCH_PACE=0          no periodic yield between tensor operations
//	GROWTHTORCH_FUSED=0         the composite ATen formulas instead of the fused CPU kernels
//	GROWTHTORCH_CPU_CACHE_MB=N  the CPU caching allocator keeps at most N MiB idle
//	                            (0: it is not installed, libtorch's allocator stays)
//
// GROWTHTORCH_PACE and GROWTHTORCH_FUSED take 0 or 1; unset or empty means 1. An unset or
// empty GROWTHTORCH_CPU_CACHE_MB means torch.DefaultCPUCacheLimit() (an eighth of physical
// memory, at most 2 GiB). Any other value is an error naming the variable.
package runtimeenv

import (
	"fmt"
	"os"
	"strconv"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// The variables, as documented in docs/cli.md.
const (
	Pace       = "GROWTHTORCH_PACE"
	Fused      = "GROWTHTORCH_FUSED"
	CPUCacheMB = "GROWTHTORCH_CPU_CACHE_MB"
)

// Runtime returns the runtime the commands use, as the process environment adjusts it.
func Runtime() (torch.Runtime, error) { return Parse(os.Getenv) }

// Parse is Runtime with the environment read through getenv.
func Parse(getenv func(string) string) (torch.Runtime, error) {
	rt := torch.Runtime{CPUCache: true}
	var err error
	if rt.Pace, err = onOff(getenv, Pace); err != nil {
		return torch.Runtime{}, err
	}
	if rt.FusedKernels, err = onOff(getenv, Fused); err != nil {
		return torch.Runtime{}, err
	}
	switch v := getenv(CPUCacheMB); v {
	case "":
		rt.CPUCacheLimit = torch.DefaultCPUCacheLimit()
	default:
		mb, perr := strconv.ParseUint(v, 10, 64)
		if perr != nil || mb > uint64(1<<63-1)>>20 {
			return torch.Runtime{}, fmt.Errorf("%s=%q: want a whole number of MiB (0: no CPU cache)", CPUCacheMB, v)
		}
		rt.CPUCache, rt.CPUCacheLimit = mb > 0, int64(mb)<<20
	}
	return rt, nil
}

// Init applies Runtime() with torch.Init. Commands call it at the start of main.
func Init() error {
	rt, err := Runtime()
	if err != nil {
		return err
	}
	return torch.Init(rt)
}

func onOff(getenv func(string) string, name string) (bool, error) {
	switch v := getenv(name); v {
	case "", "1":
		return true, nil
	case "0":
		return false, nil
	default:
		return false, fmt.Errorf("%s=%q: want 0 (off) or 1 (on)", name, v)
	}
}
