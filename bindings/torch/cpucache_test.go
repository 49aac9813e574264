package torch_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

func TestCPUCache(t *testing.T) {
	st := torch.CPUCache()
	if !st.Installed || st.Limit <= 0 {
		t.Fatalf("CPU cache not installed by Init (TestMain): %+v", st)
	}
	torch.EmptyCPUCache()
	const n = 300_000 // 1.2 MB of float32, well above the 64 KiB threshold
	a := torch.Full([]int64{n}, 1)
	before := torch.CPUCache()
	a.Close()
	afterFree := torch.CPUCache()
	if afterFree.Idle < before.Idle+n*4 || afterFree.Live > before.Live-n*4 {
		t.Fatalf("freed block not kept: before %+v, after %+v", before, afterFree)
	}
	b := torch.Full([]int64{n}, 2)
	afterReuse := torch.CPUCache()
	if afterReuse.Hits != afterFree.Hits+1 || afterReuse.Idle >= afterFree.Idle {
		t.Fatalf("same-size allocation not served from the cache: %+v then %+v", afterFree, afterReuse)
	}
	chkVals(t, "reused block", b.Sum(false).Float64s(), []float64{2 * n}, 0, 0)
	b.Close()
	if released := torch.EmptyCPUCache(); released < n*4 || torch.CPUCache().Idle != 0 {
		t.Fatalf("EmptyCPUCache released %d bytes, idle now %d", released, torch.CPUCache().Idle)
	}

	// Limit 0: nothing is kept; the old limit comes back.
	torch.SetCPUCacheLimit(0)
	c := torch.Full([]int64{n}, 3)
	c.Close()
	if st := torch.CPUCache(); st.Idle != 0 || st.Limit != 0 {
		t.Fatalf("with limit 0 the cache kept %d bytes (limit %d)", st.Idle, st.Limit)
	}
	torch.SetCPUCacheLimit(st.Limit)

	// A limit below the idle bytes evicts down to it.
	var ts []*torch.Tensor
	for i := 0; i < 4; i++ {
		ts = append(ts, torch.Full([]int64{n + int64(i)*100_000}, 1))
	}
	torch.Close(ts...)
	torch.SetCPUCacheLimit(2 * n * 4)
	if got := torch.CPUCache().Idle; got > 2*n*4 {
		t.Fatalf("idle %d bytes over the limit %d", got, 2*n*4)
	}
	torch.SetCPUCacheLimit(st.Limit)

	// An allocation that fails gives the idle blocks back, retries, and reports out of memory.
	torch.Full([]int64{n}, 1).Close()
	if torch.CPUCache().Idle == 0 {
		t.Fatal("no idle block to give back")
	}
	err := torch.Try(func() { torch.Empty([]int64{1 << 40, 1 << 20}) })
	if !errors.Is(err, torch.ErrOutOfMemory) {
		t.Fatalf("huge allocation: %v, want ErrOutOfMemory", err)
	}
	if idle := torch.CPUCache().Idle; idle != 0 {
		t.Fatalf("after a failed allocation %d idle bytes are still cached", idle)
	}
}

// Several goroutines (so several OS threads) allocating and freeing cached sizes at once: every
// block comes back with the values just written, and the live bytes return to where they were.
func TestCPUCacheConcurrentUse(t *testing.T) {
	before := torch.CPUCache()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			err := torch.Try(func() {
				for i := 0; i < 150; i++ {
					n := int64(20_000 + 7_000*((g+i)%5)) // five sizes shared by all goroutines
					v := float64(g*10 + i%10)            // sums stay exact in float32
					x := torch.Full([]int64{n}, v)
					got := x.Sum(false).Item()
					x.Close()
					if got != v*float64(n) {
						errs <- fmt.Errorf("goroutine %d step %d: sum %v, want %v", g, i, got, v*float64(n))
						return
					}
				}
			})
			if err != nil {
				errs <- err
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	after := torch.CPUCache()
	if after.Live != before.Live || after.Hits <= before.Hits {
		t.Fatalf("live bytes %d -> %d, hits %d -> %d", before.Live, after.Live, before.Hits, after.Hits)
	}
}
