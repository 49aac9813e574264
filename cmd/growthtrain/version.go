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
			return nil
		},
	}
}
