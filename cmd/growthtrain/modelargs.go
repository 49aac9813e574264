package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/model"
	"github.com/growthtrain/growthtrain/model/hub"
	"github.com/growthtrain/growthtrain/tokenizer"
	"github.com/urfave/cli/v2"
)

// Flags shared by the commands that load a model.
func modelFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Required: true,
			Usage: "an HF model directory, a .safetensors file with config.json beside it, a .gguf file, or a hub id owner/name[@revision] in the Hugging Face cache (HF_HUB_CACHE, HF_HOME)"},
		&cli.StringFlag{Name: "tokenizer", Usage: "tokenizer.json or .gguf to take the tokenizer from (default: found with the model)"},
		&cli.StringFlag{Name: "device", Value: "cpu", Usage: "cpu, cuda or cuda:N"},
		&cli.StringFlag{Name: "dtype", Value: "float32", Usage: "float32, bfloat16 or float16"},
	}
}

// loadModel loads the model and its tokenizer named by the command's flags.
func loadModel(c *cli.Context) (*model.Model, *tokenizer.Tokenizer, error) {
	return loadModelFrom(c.String("model"), c.String("tokenizer"), c.String("device"), c.String("dtype"))
}

// loadModelFrom loads a model (HF directory, .safetensors, .gguf) and its tokenizer (found with
// the model unless tokPath names one) onto a device in a dtype.
func loadModelFrom(path, tokPath, device, dtype string) (*model.Model, *tokenizer.Tokenizer, error) {
	dev, err := torch.ParseDevice(device)
	if err != nil {
		return nil, nil, err
	}
	dt, err := torch.ParseDType(dtype)
	if err != nil {
		return nil, nil, err
	}
	if !dt.IsFloating() {
		return nil, nil, fmt.Errorf("--dtype %s: weights need a floating-point type", dt)
	}
	if _, err := os.Stat(path); err != nil && hub.IsRepoID(path) {
		// owner/name[@revision]: a hub model already in the Hugging Face cache.
		cache, cerr := hub.CacheDir(os.Getenv)
		if cerr != nil {
			return nil, nil, cerr
		}
		repo, rev := hub.SplitRevision(path)
		if path, err = hub.ResolveCached(cache, repo, rev); err != nil {
			return nil, nil, err
		}
	}
	if err := checkModelPath(path); err != nil {
		return nil, nil, err
	}
	if tokPath == "" {
		tokPath = defaultTokenizerPath(path)
	}
	tok, err := loadTokenizer(tokPath)
	if err != nil {
		return nil, nil, err
	}
	m, err := model.Load(path, model.LoadOptions{Device: dev, DType: dt})
	if err != nil {
		return nil, nil, err
	}
	if tok.VocabSize() > m.Config.VocabSize {
		m.Close()
		return nil, nil, fmt.Errorf("tokenizer %s has %d tokens but the model's vocabulary is %d", tokPath, tok.VocabSize(), m.Config.VocabSize)
	}
	return m, tok, nil
}

func defaultTokenizerPath(modelPath string) string {
	if strings.HasSuffix(strings.ToLower(modelPath), ".gguf") {
		return modelPath
	}
	if st, err := os.Stat(modelPath); err == nil && st.IsDir() {
		return filepath.Join(modelPath, "tokenizer.json")
	}
	return filepath.Join(filepath.Dir(modelPath), "tokenizer.json")
}

func loadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	if strings.HasSuffix(strings.ToLower(path), ".gguf") {
		return tokenizer.LoadGGUF(path)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no tokenizer: %s (pass --tokenizer)", path)
	}
	return tokenizer.Load(path)
}

// checkModelPath says what is wrong with a model path before anything is loaded from it (the
// tokenizer is looked for beside the model, so a wrong path would otherwise be reported as a
// missing tokenizer).
func checkModelPath(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	const want = "want an HF model directory with config.json, a .safetensors file or a .gguf file"
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "config.json")); err != nil {
			return fmt.Errorf("model %s: a directory without config.json (%s)", path, want)
		}
		return nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors", ".gguf":
		return nil
	}
	return fmt.Errorf("model %s: not a model file (%s)", path, want)
}
