package optim

import (
	"math"
	"testing"
)

func TestScheduleLR(t *testing.T) {
	cases := []struct {
		name string
		s    Schedule
		step int
		want float64
	}{
		{"warmup first step", Schedule{"cosine", 1e-3, 1e-4, 10, 110}, 0, 1e-4},
		{"warmup last step", Schedule{"cosine", 1e-3, 1e-4, 10, 110}, 9, 1e-3},
		{"cosine start", Schedule{"cosine", 1e-3, 1e-4, 10, 110}, 10, 1e-3},
		{"cosine middle", Schedule{"cosine", 1e-3, 1e-4, 10, 111}, 60, 5.5e-4},
		{"cosine end", Schedule{"cosine", 1e-3, 1e-4, 10, 110}, 109, 1e-4},
		{"linear middle", Schedule{"linear", 1e-3, 0, 0, 101}, 50, 5e-4},
		{"linear end", Schedule{"linear", 1e-3, 0, 0, 101}, 100, 0},
		{"constant", Schedule{"constant", 3e-4, 0, 5, 100}, 80, 3e-4},
		{"past the end stays at min", Schedule{"cosine", 1e-3, 1e-4, 0, 10}, 50, 1e-4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := tc.s.LR(tc.step); math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("LR(%d) = %g, want %g", tc.step, got, tc.want)
			}
		})
	}
}

func TestScheduleValidate(t *testing.T) {
	bad := []Schedule{
		{"exponential", 1e-3, 0, 0, 10},
		{"cosine", 0, 0, 0, 10},
		{"cosine", 1e-3, 2e-3, 0, 10},
		{"cosine", 1e-3, 0, 11, 10},
		{"cosine", 1e-3, 0, 0, 0},
	}
	for _, s := range bad {
		if s.Validate() == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}
