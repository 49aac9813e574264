package progress

import (
	"bytes"
	"strings"
	"testing"
)

// A bar shows its unit in the count and the rate, and the time left; an invisible one writes
// nothing.
func TestBarUnits(t *testing.T) {
	for _, unit := range []string{"window", "step"} {
		var buf bytes.Buffer
		bar := NewTo(&buf, true, 10, "eval", unit)
		if err := bar.Set(4); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, want := range []string{"eval", "4/10", unit + "/s", "["} {
			if !strings.Contains(out, want) {
				t.Errorf("unit %s: %q lacks %q", unit, out, want)
			}
		}
	}
	var buf bytes.Buffer
	_ = NewTo(&buf, false, 10, "eval", "step").Set(4)
	if buf.Len() != 0 {
		t.Errorf("invisible bar wrote %q", buf.String())
	}
}
