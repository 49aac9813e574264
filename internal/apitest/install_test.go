package apitest

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/growthtrain/growthtrain/bindings/torch"
	"github.com/growthtrain/growthtrain/internal/testref"
)

const modulePath = "github.com/growthtrain/growthtrain"

// installed is a copy of the library installed into a temporary prefix.
type installed struct {
	root   string // the repository
	prefix string
	pcDir  string // the directory holding growthtorch.pc
}

// work is a temporary directory shared by this package's tests: the install prefix, and a Go
// build cache of its own. The cache matters: cmd/go does not key cgo packages on pkg-config's
// output (golang/go#24544), so a shared cache could hand the example a bindings/torch compiled
// against the build tree's growthtorch.pc, as a user's fresh machine never would.
var work string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "growthtrain-apitest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	work = dir
	code := m.Run()
	// Go makes its module cache read-only; make it writable so that it can be removed.
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	installOnce sync.Once
	installErr  error
	shared      installed
)

// install runs `cmake --install build --prefix DIR` (what `make install PREFIX=DIR` does) on the
// library `make lib` built, once for all the tests of this package.
func install(t *testing.T) installed {
	t.Helper()
	root := testref.RepoRoot(t)
	installOnce.Do(func() { shared, installErr = doInstall(root) })
	if installErr != nil {
		t.Fatal(installErr)
	}
	return shared
}

func doInstall(root string) (installed, error) {
	build := filepath.Join(root, "build")
	for _, f := range []string{"libgrowthtorch.so", "cmake_install.cmake"} {
		if _, err := os.Stat(filepath.Join(build, f)); err != nil {
			return installed{}, fmt.Errorf("%s not found: build the library first (make lib)", filepath.Join(build, f))
		}
	}
	prefix := filepath.Join(work, "prefix")
	if out, err := exec.Command("cmake", "--install", build, "--prefix", prefix).CombinedOutput(); err != nil {
		return installed{}, fmt.Errorf("cmake --install %s --prefix %s: %v\n%s", build, prefix, err, out)
	}
	var pcs []string
	filepath.WalkDir(prefix, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "growthtorch.pc" {
			pcs = append(pcs, p)
		}
		return nil
	})
	if len(pcs) != 1 {
		return installed{}, fmt.Errorf("want one growthtorch.pc under %s, found %v", prefix, pcs)
	}
	in := installed{root: root, prefix: prefix, pcDir: filepath.Dir(pcs[0])}
	for v, f := range map[string]string{"libdir": "libgrowthtorch.so", "includedir": "growthtorch.h"} {
		cmd := exec.Command("pkg-config", "--variable="+v, "growthtorch")
		cmd.Env = in.userEnv()
		out, err := cmd.Output()
		if err != nil {
			return installed{}, fmt.Errorf("pkg-config --variable=%s growthtorch: %v", v, err)
		}
		dir := strings.TrimSpace(string(out))
		if !within(dir, prefix) {
			return installed{}, fmt.Errorf("pkg-config %s %q is not inside the prefix %s", v, dir, prefix)
		}
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return installed{}, fmt.Errorf("install: %v", err)
		}
	}
	return in, nil
}

// userEnv is the environment of a user of the installed library: pkg-config finds only the
// installed copy (never the build tree), and nothing else points the loader or cgo anywhere.
func (in installed) userEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "LD_LIBRARY_PATH", "LD_PRELOAD", "LD_BIND_NOW",
			"CGO_CFLAGS", "CGO_LDFLAGS", "CGO_CPPFLAGS", "GOFLAGS", "GOWORK":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PKG_CONFIG_PATH="+in.pcDir, "GOWORK=off", "CGO_ENABLED=1",
		"GOCACHE="+filepath.Join(work, "gocache"))
	return append(env, extra...)
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// copyExample copies examples/train (a module of its own) out of the repository.
func copyExample(t *testing.T, root string) string {
	t.Helper()
	src := filepath.Join(root, "examples", "train")
	dst := filepath.Join(t.TempDir(), "train")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestInstalledExample is the acceptance test: a program outside the repository links
// the installed bindings with only `make install` and `go build`. It covers both ways a user
// gets the Go module: a replace directive pointing at a checkout, and the module proxy, which
// puts the bindings' source into the read-only module cache (nothing may be built inside it).
func TestInstalledExample(t *testing.T) {
	in := install(t)

	// pkg-config describes the installed copy, with paths that follow the prefix.
	env := in.userEnv()
	abi := strings.TrimSpace(run(t, in.root, env, "pkg-config", "--variable=abiversion", "growthtorch"))
	if abi != strconv.Itoa(torch.ABIVersion) {
		t.Errorf("growthtorch.pc says ABI %q, the bindings need %d", abi, torch.ABIVersion)
	}
	flags := run(t, in.root, env, "pkg-config", "--cflags", "--libs", "growthtorch")
	if strings.Contains(flags, filepath.Join(in.root, "build")) || strings.Contains(flags, filepath.Join(in.root, "csrc")) {
		t.Errorf("installed growthtorch.pc points into the source tree: %s", flags)
	}

	t.Run("replace", func(t *testing.T) {
		dir := copyExample(t, in.root)
		run(t, dir, env, "go", "mod", "edit", "-replace", modulePath+"="+in.root)
		bin := filepath.Join(t.TempDir(), "train")
		before := snapshot(t, filepath.Join(in.root, "bindings", "torch"))
		run(t, dir, in.userEnv("GOFLAGS=-mod=mod"), "go", "build", "-o", bin, ".")
		if after := snapshot(t, filepath.Join(in.root, "bindings", "torch")); after != before {
			t.Errorf("building the example wrote into bindings/torch")
		}
		in.checkBinary(t, bin)
	})

	t.Run("proxy", func(t *testing.T) {
		tmp := t.TempDir()
		proxy := filepath.Join(tmp, "proxy")
		modcache := filepath.Join(work, "modcache") // removed by TestMain
		const version = "v0.1.0"
		writeProxy(t, in.root, proxy, version)
		dir := copyExample(t, in.root)
		goEnv := in.userEnv("GOFLAGS=-mod=mod", "GOPROXY=file://"+proxy, "GOSUMDB=off",
			"GONOSUMDB=", "GOPRIVATE=", "GOMODCACHE="+modcache)
		run(t, dir, goEnv, "go", "mod", "edit", "-dropreplace", modulePath, "-require", modulePath+"@"+version)
		bin := filepath.Join(tmp, "train")
		run(t, dir, goEnv, "go", "build", "-o", bin, ".")
		moddir := filepath.Join(modcache, modulePath+"@"+version)
		if _, err := os.Stat(filepath.Join(moddir, "bindings", "torch", "torch.go")); err != nil {
			t.Fatalf("the bindings did not come from the module cache: %v", err)
		}
		if fi, err := os.Stat(filepath.Join(moddir, "bindings", "torch")); err == nil && fi.Mode().Perm()&0o222 != 0 {
			t.Errorf("module cache directory %s is writable (%v); the test assumes Go's read-only cache", moddir, fi.Mode())
		}
		in.checkBinary(t, bin)
	})
}

// checkBinary checks that bin resolves libgrowthtorch from the prefix only and trains: run with
// no LD_LIBRARY_PATH, its loss falls.
func (in installed) checkBinary(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	needed, _ := f.DynString(elf.DT_NEEDED)
	runpath, _ := f.DynString(elf.DT_RUNPATH)
	rpath, _ := f.DynString(elf.DT_RPATH)
	f.Close()
	if !slices.Contains(needed, "libgrowthtorch.so.0") {
		t.Errorf("binary does not need libgrowthtorch.so.0: %v", needed)
	}
	search := strings.Join(append(runpath, rpath...), ":")
	if strings.Contains(search, filepath.Join(in.root, "build")) {
		t.Errorf("binary's run path %q names the build tree", search)
	}
	libdir := filepath.Join(in.pcDir, "..")
	if !slices.ContainsFunc(strings.Split(search, ":"), func(d string) bool { return filepath.Clean(d) == filepath.Clean(libdir) }) {
		t.Errorf("binary's run path %q does not name the installed library directory %s", search, libdir)
	}
	env := in.userEnv()
	ldd := run(t, filepath.Dir(bin), env, "ldd", bin)
	m := regexp.MustCompile(`libgrowthtorch\.so\.0 => (\S+)`).FindStringSubmatch(ldd)
	if m == nil || !within(m[1], in.prefix) {
		t.Errorf("ldd does not resolve libgrowthtorch inside %s:\n%s", in.prefix, ldd)
	}

	out := run(t, filepath.Dir(bin), env, bin, "-steps", "60")
	t.Logf("%s\n%s", bin, out)
	m = regexp.MustCompile(`loss ([0-9.]+) -> ([0-9.]+) over 60 steps`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no final loss line in the output:\n%s", out)
	}
	first, _ := strconv.ParseFloat(m[1], 64)
	last, _ := strconv.ParseFloat(m[2], 64)
	if !(last < first/4) {
		t.Errorf("loss did not fall enough: %v -> %v", first, last)
	}
}

// TestABIMismatch runs a program built against this header with a library reporting another
// ABI version: it must stop with exit status 2 and the explanation, not crash. A newer library
// is simulated by interposing gt_abi_version (LD_PRELOAD of a one-function library in front of
// the real one); an older one by a stand-in libgrowthtorch.so.0 that has gt_abi_version and
// nothing else, which also shows that the check runs before any other entry point is bound.
func TestABIMismatch(t *testing.T) {
	in := install(t)
	dir := copyExample(t, in.root)
	tmp := t.TempDir()
	run(t, dir, in.userEnv(), "go", "mod", "edit", "-replace", modulePath+"="+in.root)
	bin := filepath.Join(tmp, "train")
	run(t, dir, in.userEnv("GOFLAGS=-mod=mod"), "go", "build", "-o", bin, ".")

	stub := func(name, soname string, version int) string {
		c := filepath.Join(tmp, name+".c")
		so := filepath.Join(tmp, name, soname)
		os.MkdirAll(filepath.Dir(so), 0o755)
		os.WriteFile(c, fmt.Appendf(nil, "int gt_abi_version(void) { return %d; }\n", version), 0o644)
		cc := os.Getenv("CC")
		if cc == "" {
			cc = "gcc" // cgo's default
		}
		run(t, tmp, nil, cc, "-shared", "-fPIC", "-Wl,-soname,"+soname, "-o", so, c)
		return so
	}
	newer := torch.ABIVersion + 97
	older := torch.ABIVersion - 1
	cases := []struct {
		name    string
		version int
		env     []string
	}{
		{"newer", newer, in.userEnv("LD_PRELOAD=" + stub("newer", "abinewer.so", newer))},
		{"older", older, in.userEnv("LD_LIBRARY_PATH=" + filepath.Dir(stub("older", "libgrowthtorch.so.0", older)))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Env = c.env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			want := fmt.Sprintf("libgrowthtorch has C ABI version %d but these Go bindings "+
				"(github.com/growthtrain/growthtrain/bindings/torch) need version %d.", c.version, torch.ABIVersion)
			if code != 2 || !strings.Contains(stderr.String(), want) || stdout.Len() != 0 {
				t.Errorf("exit %d (%v), want 2 with %q\nstdout: %s\nstderr: %s", code, err, want, stdout.String(), stderr.String())
			}
			for _, bad := range []string{"panic", "SIGSEGV", "signal", "symbol lookup error", "terminate called"} {
				if strings.Contains(stderr.String(), bad) {
					t.Errorf("stderr mentions %q:\n%s", bad, stderr.String())
				}
			}
		})
	}
}

// writeProxy lays out a file:// Go module proxy serving the main module at version, built from
// the files a module zip of the bindings needs (go.mod and bindings/torch without tests).
func writeProxy(t *testing.T, root, proxy, version string) {
	t.Helper()
	dir := filepath.Join(proxy, modulePath, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"go.mod", "go.sum"}
	sources, _ := filepath.Glob(filepath.Join(root, "bindings", "torch", "*.go"))
	for _, s := range sources {
		if !strings.HasSuffix(s, "_test.go") {
			files = append(files, filepath.Join("bindings", "torch", filepath.Base(s)))
		}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(modulePath + "@" + version + "/" + filepath.ToSlash(f))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": fmt.Appendf(nil, `{"Version":%q,"Time":"2026-01-01T00:00:00Z"}`, version),
		version + ".mod":  gomod,
		version + ".zip":  buf.Bytes(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot lists a directory's entries with their sizes and modification times.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "%s %d %d\n", e.Name(), fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b.String()
}

// within reports whether path, with symbolic links and dot-dots resolved, lies inside dir.
func within(path, dir string) bool {
	clean := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return filepath.Clean(p)
	}
	rel, err := filepath.Rel(clean(dir), clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
