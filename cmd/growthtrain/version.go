package main

import (
	"fmt"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/urfave/cli/v2"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the versions of growthtrain, its C library and libtorch, and the devices",
		Action: func(c *cli.Context) error {
			fmt.Printf("growthtrain %s\n", version)
			fmt.Printf("libgrowthtorch ABI %d (bindings need %d)\n", torch.LibraryABIVersion(), torch.ABIVersion)
			fmt.Printf("libtorch %s, CUDA kernels linked: %v\n", torch.TorchVersion(), torch.CUDACompiled())
			fmt.Printf("CUDA available: %v, devices: %d, CPU threads: %d\n", torch.CUDAAvailable(), torch.CUDADeviceCount(), torch.NumThreads())
			fused := "off"
			switch isa := torch.FusedKernelISA(); {
			case !torch.FusedKernels():
			case isa == "none":
				fused = "off (no AVX2 or AVX-512 here: ATen's kernels run)"
			default:
				fused = "on, " + isa
			}
			cache := "off (libtorch's allocator)"
			if st := torch.CPUCache(); st.Installed {
				cache = fmt.Sprintf("up to %d MiB idle", st.Limit>>20)
			}
			pace := "off"
			if torch.CurrentRuntime().Pace {
				pace = "on"
			}
			fmt.Printf("CPU fused kernels: %s; CPU caching allocator: %s; pacing: %s\n", fused, cache, pace)
			return nil
		},
	}
}
