package runtimeenv

import (
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

func TestParse(t *testing.T) {
	def := torch.DefaultCPUCacheLimit()
	all := torch.Runtime{Pace: true, FusedKernels: true, CPUCache: true, CPUCacheLimit: def}
	cases := []struct {
		name    string
		env     map[string]string
		want    torch.Runtime
		wantErr string // a substring of the error; "" for none
	}{
		{"unset: everything on", nil, all, ""},
		{"empty values count as unset", map[string]string{Pace: "", Fused: "", CPUCacheMB: ""}, all, ""},
		{"explicit 1", map[string]string{Pace: "1", Fused: "1"}, all, ""},
		{"pace off", map[string]string{Pace: "0"}, torch.Runtime{FusedKernels: true, CPUCache: true, CPUCacheLimit: def}, ""},
		{"fused off", map[string]string{Fused: "0"}, torch.Runtime{Pace: true, CPUCache: true, CPUCacheLimit: def}, ""},
		{"cache limit in MiB", map[string]string{CPUCacheMB: "512"}, torch.Runtime{Pace: true, FusedKernels: true, CPUCache: true, CPUCacheLimit: 512 << 20}, ""},
		{"cache 0: not installed", map[string]string{CPUCacheMB: "0"}, torch.Runtime{Pace: true, FusedKernels: true}, ""},
		{"all off", map[string]string{Pace: "0", Fused: "0", CPUCacheMB: "0"}, torch.Runtime{}, ""},
		{"pace: not 0 or 1", map[string]string{Pace: "off"}, torch.Runtime{}, `GROWTHTORCH_PACE="off"`},
		{"fused: not 0 or 1", map[string]string{Fused: "true"}, torch.Runtime{}, `GROWTHTORCH_FUSED="true"`},
		{"cache: not a number", map[string]string{CPUCacheMB: "2G"}, torch.Runtime{}, `GROWTHTORCH_CPU_CACHE_MB="2G"`},
		{"cache: negative", map[string]string{CPUCacheMB: "-1"}, torch.Runtime{}, `GROWTHTORCH_CPU_CACHE_MB="-1"`},
		{"cache: too large for bytes", map[string]string{CPUCacheMB: "9000000000000"}, torch.Runtime{}, `GROWTHTORCH_CPU_CACHE_MB="9000000000000"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(func(k string) string { return c.env[k] })
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Parse = %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

// Runtime reads the process environment.
func TestRuntimeReadsEnvironment(t *testing.T) {
	t.Setenv(Pace, "0")
	t.Setenv(Fused, "1")
	t.Setenv(CPUCacheMB, "64")
	got, err := Runtime()
	want := torch.Runtime{FusedKernels: true, CPUCache: true, CPUCacheLimit: 64 << 20}
	if err != nil || got != want {
		t.Fatalf("Runtime() = %+v, %v; want %+v", got, err, want)
	}
}
