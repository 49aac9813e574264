package analysis

import (
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
)

func TestBatchForMemory(t *testing.T) {
	const gb = int64(1) << 30
	for _, tc := range []struct {
		name            string
		free, perWindow int64
		windows, want   int
	}{
		{"half of the free memory", 100 * gb, 2 * gb, 1000, 25},
		{"capped by the windows", 100 * gb, 2 * gb, 10, 10},
		{"capped at MaxAutoBatch", 1000 * gb, 1 << 20, 100000, MaxAutoBatch},
		{"not even one fits: one", gb, 4 * gb, 100, 1},
		{"nothing known: one", 0, 0, 100, 1},
	} {
		if got := BatchForMemory(tc.free, tc.perWindow, tc.windows); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// The estimate for SmolLM2-135M's shape at 2048 tokens in float32: its parts add up as the
// comment in WindowBytes says, and bfloat16 halves only the hidden states and temporaries.
func TestWindowBytes(t *testing.T) {
	c := model.Config{VocabSize: 49152, HiddenSize: 576, IntermediateSize: 1536, NumHiddenLayers: 30, NumAttentionHeads: 9}
	const T = 2048
	hidden, temps, logits, attn := int64(31*576*4*T), int64(16*1536*4*T), int64(4*49152*4*T), int64(2*9*T*T*4)
	if got, want := WindowBytes(c, torch.Float32, T), hidden+temps+logits+attn; got != want {
		t.Fatalf("float32: %d, want %d", got, want)
	}
	if got, want := WindowBytes(c, torch.BFloat16, T), hidden/2+temps/2+logits+attn; got != want {
		t.Fatalf("bfloat16: %d, want %d", got, want)
	}
	// About 2.3 GB: 28 windows in half of an H200's ~130 GB free.
	if b := BatchForMemory(130e9, WindowBytes(c, torch.Float32, T), 1000); b < 20 || b > 40 {
		t.Fatalf("H200-sized batch %d", b)
	}
}

// On the CPU the automatic batch is the default, or the number of windows when fewer.
func TestAutoBatchOnTheCPU(t *testing.T) {
	m := tinyModel(t, 1)
	for _, tc := range []struct{ windows, want int }{{100, DefaultBatch}, {3, 3}} {
		if got, why := AutoBatch(m, 16, tc.windows); got != tc.want || why == "" {
			t.Errorf("%d windows: batch %d (%q), want %d", tc.windows, got, why, tc.want)
		}
	}
}
