package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/cmd/internal/runtimeenv"
	"github.com/growthtrain/growthtrain/internal/testref"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/tokenizer"
)

// cliChildEnv, set by a test in a child process it starts from this test binary, holds the
// command-line arguments (separated by \x1f) to run the CLI with, as main would: the signal
// and exit-status tests need a process of their own.
const cliChildEnv = "GROWTHTRAIN_CLI_CHILD"

// The CLI's tests run it in-process, under the runtime its main chooses.
func TestMain(m *testing.M) {
	if err := runtimeenv.Init(); err != nil {
		fmt.Fprintln(os.Stderr, "growthtrain tests:", err)
		os.Exit(1)
	}
	if args, ok := os.LookupEnv(cliChildEnv); ok {
		selfCommand = testSelfCommand // --nproc's workers are this binary as the CLI too
		os.Exit(runMain(append([]string{"growthtrain"}, strings.Split(args, "\x1f")...)))
	}
	os.Exit(m.Run())
}

// run executes the CLI in-process and returns its error.
func run(args ...string) error {
	argv = args
	return newApp().Run(append([]string{"growthtrain"}, args...))
}

// tinyModelDir writes a small random model with a trained tokenizer as an HF directory.
func tinyModelDir(t *testing.T, layers ...int) string {
	t.Helper()
	dir := t.TempDir()
	text, err := os.ReadFile(filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Train([]string{string(text)}, tokenizer.TrainOptions{VocabSize: 300, SpecialTokens: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	n := 2
	if len(layers) > 0 {
		n = layers[0]
	}
	cfg := model.Config{VocabSize: 300, HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: n, NumAttentionHeads: 2,
		NumKeyValueHeads: 1, HeadDim: 16, MaxPositionEmbeddings: 128, RMSNormEps: 1e-5, RopeTheta: 1e4, TieWordEmbeddings: true, HiddenAct: "silu"}
	gen := torch.NewGenerator(1, torch.CPU)
	defer gen.Close()
	m, err := model.New(cfg, gen)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.SaveHF(dir); err != nil {
		t.Fatal(err)
	}
	if err := tok.SaveDir(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEvalGenerateAndBadInputs(t *testing.T) {
	dir := tinyModelDir(t)
	text := filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt")
	if err := run("eval", "-m", dir, "--data", text, "--seq-len", "64", "--max-tokens", "500"); err != nil {
		t.Fatalf("eval: %v", err)
	}
	if err := run("generate", "-m", dir, "-p", "Call me", "--max-new-tokens", "5", "--temperature", "0.8"); err != nil {
		t.Fatalf("generate: %v", err)
	}

	corrupt := t.TempDir()
	for _, f := range []string{"config.json", "tokenizer.json"} {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		os.WriteFile(filepath.Join(corrupt, f), data, 0o644)
	}
	weights, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	os.WriteFile(filepath.Join(corrupt, "model.safetensors"), weights[:len(weights)/2], 0o644)

	lying := t.TempDir()
	for _, f := range []string{"model.safetensors", "tokenizer.json"} {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		os.WriteFile(filepath.Join(lying, f), data, 0o644)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	os.WriteFile(filepath.Join(lying, "config.json"), []byte(strings.Replace(string(cfg), `"num_hidden_layers": 2`, `"num_hidden_layers": 3`, 1)), 0o644)

	badTok := t.TempDir()
	for _, f := range []string{"model.safetensors", "config.json"} {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		os.WriteFile(filepath.Join(badTok, f), data, 0o644)
	}
	os.WriteFile(filepath.Join(badTok, "tokenizer.json"), []byte(`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}`), 0o644)

	notText := filepath.Join(t.TempDir(), "latin1.txt")
	os.WriteFile(notText, []byte("caf\xe9"), 0o644)

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing model", []string{"eval", "-m", "/nonexistent/model", "--data", text}, "/nonexistent/model"},
		{"truncated weights", []string{"eval", "-m", corrupt, "--data", text}, "model.safetensors"},
		{"config disagrees with weights", []string{"eval", "-m", lying, "--data", text}, "model.layers.2"},
		{"tokenizer that lies", []string{"eval", "-m", badTok, "--data", text}, "tokenizer.json"},
		{"data not UTF-8", []string{"eval", "-m", dir, "--data", notText}, "latin1.txt: not valid UTF-8 (at byte 3)"},
		{"bad device", []string{"eval", "-m", dir, "--data", text, "--device", "tpu"}, `unknown device "tpu"`},
		{"cuda without cuda", []string{"generate", "-m", dir, "-p", "x", "--device", "cuda"}, "torch"},
		{"budget with unknown key", []string{"-c", writeFile(t, "b.toml", "[run]\noutput = \"x\"\nsed = 1\n")}, `b.toml:3: unknown key "run.sed"`},
		{"no budget file", []string{"-c", "/nonexistent/budget.toml"}, "/nonexistent/budget.toml"},
		{"fetch without repo", []string{"fetch"}, "repository id"},
	}
	if torch.CUDAAvailable() {
		cases = append(cases[:6], cases[7:]...)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fetch downloads a model from a server with the HF hub's URL layout; the result evaluates.
func TestFetchFromHubLayout(t *testing.T) {
	src := tinyModelDir(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /{owner}/{name}/resolve/{revision}/{file}
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if len(parts) != 5 || parts[0] != "acme" || parts[1] != "tiny" || parts[2] != "resolve" {
			http.NotFound(w, r)
			return
		}
		data, err := os.ReadFile(filepath.Join(src, parts[4]))
		if err != nil {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			http.NotFound(w, r)
			return
		}
		sum := sha256.Sum256(data)
		w.Header().Set("X-Repo-Commit", "0123456789abcdef0123456789abcdef01234567")
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	out := t.TempDir()
	if err := run("fetch", "--endpoint", srv.URL, "-o", out, "acme/tiny"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		a, _ := os.ReadFile(filepath.Join(src, f))
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil || string(a) != string(b) {
			t.Fatalf("%s not fetched intact (%v)", f, err)
		}
	}
	text := filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt")
	if err := run("eval", "-m", out, "--data", text, "--max-tokens", "200", "--seq-len", "64"); err != nil {
		t.Fatalf("eval of the fetched model: %v", err)
	}
	if err := run("fetch", "--endpoint", srv.URL, "-o", t.TempDir(), "acme/missing"); err == nil || !strings.Contains(err.Error(), "acme/missing") {
		t.Fatalf("fetching a missing repo: %v", err)
	}
}

// analyze -> budget -> train closes the loop on a small model.
func TestAnalyzeBudgetTrain(t *testing.T) {
	dir := tinyModelDir(t, 4)
	out := t.TempDir()
	if err := run("analyze", "-m", dir, "-o", out, "--bootstrap", "200", "--recovery-steps", "10", "--recovery-layers", "0,1"); err != nil {
		t.Fatalf("analyze: %v", err)
	}
	for _, f := range []string{"analysis.json", "report.md"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	pngs, _ := filepath.Glob(filepath.Join(out, "*.png"))
	mds, _ := filepath.Glob(filepath.Join(out, "*.md"))
	csvs, _ := filepath.Glob(filepath.Join(out, "*.csv"))
	if len(pngs) < 5 || len(mds) < 6 || len(csvs) < 5 {
		t.Fatalf("outputs: %d PNG, %d Markdown, %d CSV", len(pngs), len(mds), len(csvs))
	}
	rep, _ := os.ReadFile(filepath.Join(out, "report.md"))
	for _, want := range []string{"Headline findings", "critical core", "gate_proj R²", "Spearman"} {
		if !strings.Contains(string(rep), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	budget := filepath.Join(t.TempDir(), "budget.toml")
	if err := run("budget", "--from", filepath.Join(out, "analysis.json"), "--cost", "0.6", "--steps", "6", "-o", budget); err != nil {
		t.Fatalf("budget: %v", err)
	}
	src, _ := os.ReadFile(budget)
	corpus := filepath.Join(t.TempDir(), "corpus")
	os.MkdirAll(corpus, 0o755)
	text, _ := os.ReadFile(filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt"))
	for i, part := range strings.SplitAfter(string(text), "CHAPTER") {
		os.WriteFile(filepath.Join(corpus, fmt.Sprintf("%d.txt", i)), []byte(part), 0o644)
	}
	edited := strings.Replace(string(src), `corpus = ["default"]`, fmt.Sprintf("corpus = [%q]\ncache_dir = %q", corpus, t.TempDir()), 1)
	edited = strings.Replace(edited, `output = "runs/derived"`, fmt.Sprintf("output = %q", filepath.Join(t.TempDir(), "run")), 1)
	edited = strings.Replace(edited, "seq_len = 128", "seq_len = 32", 1)
	if err := os.WriteFile(budget, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run("-c", budget); err != nil {
		t.Fatalf("training the derived budget: %v\n%s", err, edited)
	}
	if err := run("budget", "--from", filepath.Join(out, "analysis.json"), "--variant", "nonsense", "-o", budget); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Fatalf("unknown variant: %v", err)
	}
	// For a fresh model of another depth: the diagnostics of 4 layers mapped onto 6.
	deeper := filepath.Join(t.TempDir(), "deeper.toml")
	if err := run("budget", "--from", filepath.Join(out, "analysis.json"), "--layers", "6", "--cost", "0.6", "--steps", "6", "-o", deeper); err != nil {
		t.Fatalf("budget --layers 6: %v", err)
	}
	src, _ = os.ReadFile(deeper)
	if !strings.Contains(string(src), "num_hidden_layers = 6") {
		t.Fatalf("the derived budget is not for 6 layers:\n%s", src)
	}
	edited = strings.Replace(string(src), `corpus = ["default"]`, fmt.Sprintf("corpus = [%q]\ncache_dir = %q", corpus, t.TempDir()), 1)
	edited = strings.Replace(edited, `output = "runs/derived"`, fmt.Sprintf("output = %q", filepath.Join(t.TempDir(), "run6")), 1)
	edited = strings.Replace(edited, "seq_len = 128", "seq_len = 32", 1)
	if err := os.WriteFile(deeper, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run("-c", deeper); err != nil {
		t.Fatalf("training the 6-layer derived budget: %v\n%s", err, edited)
	}
}

// Every table of `make paper` in a short form: the targets cannot rot.
func TestReproduceTables(t *testing.T) {
	dir := tinyModelDir(t, 4)
	out := t.TempDir()
	for _, table := range []string{"predictability", "ablation", "recovery", "manipulation", "structure"} {
		t.Run(table, func(t *testing.T) {
			err := run("reproduce", "-m", dir, "-o", out, "--bootstrap", "100", "--recovery-steps", "10", "--recovery-layers", "0,2", table)
			if err != nil {
				t.Fatal(err)
			}
			for _, ext := range []string{"json", "md", "csv", "png"} {
				if st, err := os.Stat(filepath.Join(out, table+"."+ext)); err != nil || st.Size() == 0 {
					t.Fatalf("%s.%s: %v", table, ext, err)
				}
			}
			md, _ := os.ReadFile(filepath.Join(out, table+".md"))
			header := strings.SplitN(strings.SplitN(string(md), "\n| ", 2)[1], "\n", 2)[0]
			if table != "structure" && !strings.Contains(header, " paper ") {
				t.Fatalf("%s.md has no paper column:\n%s", table, md)
			}
		})
	}
	t.Run("growth", func(t *testing.T) {
		corpus := t.TempDir()
		text, _ := os.ReadFile(filepath.Join(testref.RepoRoot(t), "model", "testdata", "moby_dick_ch1-3.txt"))
		for i, part := range strings.SplitAfter(string(text), "CHAPTER") {
			os.WriteFile(filepath.Join(corpus, fmt.Sprintf("%d.txt", i)), []byte(part), 0o644)
		}
		budget := writeFile(t, "tiny.toml", fmt.Sprintf(`
[model]
num_hidden_layers = 3
hidden_size = 32
intermediate_size = 64
num_attention_heads = 2
max_position_embeddings = 64
[data]
corpus = [%q]
tokenizer = "train:300"
seq_len = 16
batch_size = 4
val_fraction = 0.3
cache_dir = %q
[eval]
tokens = 256
[[phase]]
layers = "1"
steps = 3
[[phase]]
layers = "all"
steps = 3
train_embeddings = true
train_head = true
`, corpus, t.TempDir()))
		if err := run("reproduce", "--budget", budget, "--seeds", "2", "-o", out, "growth"); err != nil {
			t.Fatal(err)
		}
		md, _ := os.ReadFile(filepath.Join(out, "growth.md"))
		for _, want := range []string{"4.7x", "validation loss, growth", "2 seeds"} {
			if !strings.Contains(string(md), want) {
				t.Fatalf("growth.md lacks %q:\n%s", want, md)
			}
		}
	})
	if err := run("reproduce", "nonsense"); err == nil || !strings.Contains(err.Error(), "want one of") {
		t.Fatalf("unknown table: %v", err)
	}
	if err := run("reproduce", "ablation", "-m", dir); err == nil || !strings.Contains(err.Error(), "flags go before positional arguments") {
		t.Fatalf("options after the table: %v", err)
	}
}
