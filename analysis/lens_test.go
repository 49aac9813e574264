package analysis

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/testref"
)

// lensRefScript computes the logit lens and the block angular distances with transformers'
// output_hidden_states, one window at a time (no padding). HF's hidden_states[d] is the input of
// layer d for d < L, but hidden_states[L] is after the final norm: the last layer's raw residual
// output is taken with a forward hook instead. argv: model dir, windows JSON.
const lensRefScript = `
import json, math, sys, torch
from transformers import AutoModelForCausalLM
m = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32).eval()
wins = json.load(open(sys.argv[2]))
L = m.config.num_hidden_layers
raw = {}
def hook(mod, args, out):
    raw["last"] = out[0] if isinstance(out, tuple) else out
m.model.layers[-1].register_forward_hook(hook)
res = {"nll": [[0.0]*len(wins) for _ in range(L+1)], "kl": [[0.0]*len(wins) for _ in range(L+1)],
       "top1": [[0.0]*len(wins) for _ in range(L+1)],
       "all": [[0.0]*(L+1) for _ in range(L+1)], "last": [[0.0]*(L+1) for _ in range(L+1)], "positions": 0}
with torch.no_grad():
    for w, ids in enumerate(wins):
        x = torch.tensor([ids])
        out = m(x, output_hidden_states=True)
        hs = list(out.hidden_states[:L]) + [raw["last"]]
        assert torch.allclose(m.model.norm(hs[L]), out.hidden_states[L], atol=1e-5)
        T = len(ids)
        res["positions"] += T
        tgt = x[0, 1:]
        logp_final = torch.log_softmax(out.logits[0, :-1].double(), -1)
        top_final = out.logits[0, :-1].argmax(-1)
        for d in range(L+1):
            logits = out.logits[0, :-1] if d == L else m.lm_head(m.model.norm(hs[d]))[0, :-1]
            logp = torch.log_softmax(logits.double(), -1)
            res["nll"][d][w] = -logp.gather(1, tgt[:, None]).sum().item()
            res["kl"][d][w] = (logp_final.exp() * (logp_final - logp)).sum().item()
            res["top1"][d][w] = (logits.argmax(-1) == top_final).double().sum().item()
        u = [h[0].double() / h[0].double().norm(dim=-1, keepdim=True) for h in hs]
        for a in range(L+1):
            for b in range(a+1, L+1):
                ang = torch.arccos((u[a] * u[b]).sum(-1).clamp(-1, 1)) / math.pi
                res["all"][a][b] += ang.sum().item()
                res["last"][a][b] += ang[-1].item()
print(json.dumps(res))
`

// The lens and the block distances agree with transformers' hidden states, and the last depth
// of the lens is the evaluator's own baseline.
func TestLensAndBlocksMatchTransformers(t *testing.T) {
	m := tinyModel(t, 23)
	defer m.Close()
	// A final norm gain that is not all ones, so the lens must apply it.
	var gainErr error
	gainErr = torch.Try(func() {
		g := torch.NewGenerator(5, torch.CPU)
		defer g.Close()
		w := torch.Rand([]int64{32}, torch.WithGenerator(g)).AddScalar(0.5)
		if err := m.SetParam("model.norm.weight", w); err != nil {
			panic(err)
		}
	})
	if gainErr != nil {
		t.Fatal(gainErr)
	}
	dir := t.TempDir()
	if err := m.SaveHF(dir); err != nil {
		t.Fatal(err)
	}
	wins := windowsFor(7, 12, 9)
	raw, _ := json.Marshal(wins)
	winFile := filepath.Join(dir, "windows.json")
	if err := os.WriteFile(winFile, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	var ref struct {
		NLL, KL, Top1, All, Last [][]float64
		Positions                int
	}
	if err := json.Unmarshal(testref.RunPython(t, lensRefScript, dir, winFile), &ref); err != nil {
		t.Fatal(err)
	}

	e := &Evaluator{M: m, Windows: wins, Batch: 3} // batches of 3: padding inside a batch
	lens, err := Lens(e, LensOptions{Bootstrap: 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := Blocks(e, BlocksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tokens := 0
	for _, w := range wins {
		tokens += len(w) - 1
	}
	L := m.Config.NumHiddenLayers
	if len(lens.Depths) != L+1 || lens.Tokens != tokens || blocks.Tokens != ref.Positions {
		t.Fatalf("%d depths, %d tokens, %d positions", len(lens.Depths), lens.Tokens, blocks.Tokens)
	}
	sum := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s
	}
	close := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
			t.Errorf("%s: got %.9g, transformers %.9g", what, got, want)
		}
	}
	for d, ld := range lens.Depths {
		if ld.Depth != d || ld.Layer != d-1 {
			t.Fatalf("depth %d labelled %d / layer %d", d, ld.Depth, ld.Layer)
		}
		close("loss at depth "+strconv.Itoa(d), float64(ld.Loss), sum(ref.NLL[d])/float64(tokens), 2e-5)
		close("KL at depth "+strconv.Itoa(d), float64(ld.KL), sum(ref.KL[d])/float64(tokens), 2e-5)
		close("top-1 at depth "+strconv.Itoa(d), float64(ld.Top1), sum(ref.Top1[d])/float64(tokens), 1e-12)
		if !(ld.LossCILo <= ld.Loss && ld.Loss <= ld.LossCIHi) || !(ld.KLCILo <= ld.KL && ld.KL <= ld.KLCIHi) {
			t.Errorf("depth %d: intervals do not hold the estimate: %+v", d, ld)
		}
	}
	// The last depth is the model's own output: the baseline's loss, no divergence, full agreement.
	base, err := e.NLL()
	if err != nil {
		t.Fatal(err)
	}
	final := lens.Depths[L]
	if math.Abs(float64(final.Loss)-sum(base)/float64(tokens)) > 1e-12 || final.KL != 0 || final.Top1 != 1 {
		t.Fatalf("last depth %+v, baseline loss %v", final, sum(base)/float64(tokens))
	}
	if lens.Depths[0].KL <= lens.Depths[L-1].KL {
		t.Errorf("the embeddings are no farther from the output than layer %d: %v vs %v", L-2, lens.Depths[0].KL, lens.Depths[L-1].KL)
	}

	for n := 1; n <= L; n++ {
		if len(blocks.LastToken[n-1]) != L-n+1 || len(blocks.AllTokens[n-1]) != L-n+1 {
			t.Fatalf("n=%d: %d / %d starts", n, len(blocks.LastToken[n-1]), len(blocks.AllTokens[n-1]))
		}
		best := blocks.Best[n-1]
		for l := 0; l+n <= L; l++ {
			close("last-token distance of block "+strconv.Itoa(l)+"+"+strconv.Itoa(n), float64(blocks.LastToken[n-1][l]), ref.Last[l][l+n]/float64(len(wins)), 1e-6)
			close("all-token distance of block "+strconv.Itoa(l)+"+"+strconv.Itoa(n), float64(blocks.AllTokens[n-1][l]), ref.All[l][l+n]/float64(ref.Positions), 1e-6)
			if blocks.LastToken[n-1][l] < best.LastToken || blocks.AllTokens[n-1][l] < best.AllTokensMin {
				t.Errorf("n=%d: best %+v is not the minimum (start %d)", n, best, l)
			}
		}
	}
	// n = 1 is the structure diagnostic's per-layer angular distance.
	st, err := Structure(e, StructureOptions{SkipEntropy: true})
	if err != nil {
		t.Fatal(err)
	}
	for l, h := range st.Hidden {
		close("n=1 vs structure at layer "+strconv.Itoa(l), float64(blocks.AllTokens[0][l]), float64(h.AngularDistance), 1e-7)
	}
}

// angular is arccos(c)/π to within A&S 4.4.46's error (2e-8 rad, plus rounding) over the whole range, ±1 and 0 included.
func TestAngularPolynomial(t *testing.T) {
	var xs []float64
	for i := -1000; i <= 1000; i++ {
		xs = append(xs, float64(i)/1000)
	}
	xs = append(xs, 1.5, -1.5, 1e-12, -1e-12) // outside [-1, 1]: clamped
	var got []float64
	if err := torch.Try(func() {
		torch.WithScope(func(s *torch.Scope) { got = angular(torch.FromSlice(xs)).Float64s() })
	}); err != nil {
		t.Fatal(err)
	}
	for i, x := range xs {
		want := math.Acos(math.Max(-1, math.Min(1, x))) / math.Pi
		if math.Abs(got[i]-want) > 2.5e-8/math.Pi {
			t.Fatalf("angular(%v) = %.12f, want %.12f", x, got[i], want)
		}
	}
}
