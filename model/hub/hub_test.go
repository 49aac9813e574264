package hub

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testRepo   = "HuggingFaceTB/SmolLM2-135M"
	testCommit = "93efa2f097d58c2a74874c7e644dbc9b0cee75a2"
)

type fakeFile struct {
	data []byte
	lfs  bool // served through a redirect to /cdn/<sha256>
}

// cdnHook may take over the nth (1-based) GET of a CDN object; it returns false to let the
// normal handler serve it.
type cdnHook func(n int, w http.ResponseWriter, r *http.Request, data []byte) bool

// fakeHub emulates the hub's resolve endpoint and its CDN.
type fakeHub struct {
	t       *testing.T
	hub     *httptest.Server
	cdn     *httptest.Server // the same server as hub unless separateCDN
	files   map[string]fakeFile
	token   string            // when set, the repo is private and wants this bearer token
	serve   map[string][]byte // CDN bytes that differ from the announced file (by file name)
	hook    cdnHook
	noRange bool // CDN ignores Range and answers 200

	mu        sync.Mutex
	log       []string // "METHOD path" of every request
	ranges    []string // Range header of every CDN GET ("" when none)
	hubAuth   []string // Authorization header of every hub request
	cdnAuth   []string // Authorization header of every CDN request
	cdnGets   map[string]int
	resolveRv []string // revision of every resolve request
}

func sha256Of(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func gitBlobSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func newFakeHub(t *testing.T, files map[string]fakeFile, separateCDN bool) *fakeHub {
	t.Helper()
	h := &fakeHub{t: t, files: files, serve: map[string][]byte{}, cdnGets: map[string]int{}}
	// The CDN lives under /cdn/ on the hub's server, or alone on a server of its own.
	cdnMux := http.NewServeMux()
	cdnMux.HandleFunc("/cdn/{sha}/{file...}", h.cdnHandler)
	hubMux := http.NewServeMux()
	hubMux.HandleFunc("/{owner}/{name}/resolve/{rev}/{file...}", h.resolve)
	h.hub = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !separateCDN && strings.HasPrefix(r.URL.Path, "/cdn/") {
			cdnMux.ServeHTTP(w, r)
			return
		}
		hubMux.ServeHTTP(w, r)
	}))
	t.Cleanup(h.hub.Close)
	h.cdn = h.hub
	if separateCDN {
		h.cdn = httptest.NewServer(cdnMux)
		t.Cleanup(h.cdn.Close)
	}
	return h
}

func (h *fakeHub) record(r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log = append(h.log, r.Method+" "+r.URL.Path)
}

func (h *fakeHub) resolve(w http.ResponseWriter, r *http.Request) {
	h.record(r)
	h.mu.Lock()
	h.hubAuth = append(h.hubAuth, r.Header.Get("Authorization"))
	h.resolveRv = append(h.resolveRv, r.PathValue("rev"))
	h.mu.Unlock()
	if r.PathValue("owner")+"/"+r.PathValue("name") != testRepo {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		http.Error(w, "repo not found", http.StatusNotFound)
		return
	}
	if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("X-Error-Message", "Invalid username or password.")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if rev := r.PathValue("rev"); rev != "main" && rev != testCommit {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		http.Error(w, "revision not found", http.StatusNotFound)
		return
	}
	name := r.PathValue("file")
	f, ok := h.files[name]
	w.Header().Set("X-Repo-Commit", testCommit)
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		http.Error(w, "entry not found", http.StatusNotFound)
		return
	}
	if f.lfs {
		sum := sha256Of(f.data)
		w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
		w.Header().Set("X-Linked-Size", fmt.Sprint(len(f.data)))
		w.Header().Set("ETag", `W/"`+gitBlobSHA1([]byte("pointer "+sum))+`"`)
		w.Header().Set("Location", h.cdn.URL+"/cdn/"+sum+"/"+name)
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+gitBlobSHA1(f.data)+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}

func (h *fakeHub) cdnHandler(w http.ResponseWriter, r *http.Request) {
	h.record(r)
	name := r.PathValue("file")
	h.mu.Lock()
	h.cdnAuth = append(h.cdnAuth, r.Header.Get("Authorization"))
	var n int
	if r.Method == http.MethodGet {
		h.ranges = append(h.ranges, r.Header.Get("Range"))
		h.cdnGets[name]++
		n = h.cdnGets[name]
	}
	hook, noRange := h.hook, h.noRange
	data, ok := h.serve[name]
	h.mu.Unlock()
	f, exists := h.files[name]
	if !exists || sha256Of(f.data) != r.PathValue("sha") {
		http.NotFound(w, r)
		return
	}
	if !ok {
		data = f.data
	}
	if hook != nil && r.Method == http.MethodGet && hook(n, w, r, data) {
		return
	}
	if noRange {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func (h *fakeHub) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log, h.ranges, h.hubAuth, h.cdnAuth, h.resolveRv = nil, nil, nil, nil, nil
	h.cdnGets = map[string]int{}
}

func (h *fakeHub) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, l := range h.log {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func (h *fakeHub) client(t *testing.T) *Client {
	return &Client{Endpoint: h.hub.URL, RetryDelay: time.Millisecond, Progress: io.Discard}
}

// standardFiles is a small model repo: the weights are LFS, the rest plain git files.
func standardFiles() map[string]fakeFile {
	return map[string]fakeFile{
		"config.json":           {data: []byte(`{"model_type":"llama","hidden_size":64}`)},
		"model.safetensors":     {data: randomBytes(200_000, 1), lfs: true},
		"tokenizer.json":        {data: bytes.Repeat([]byte(`{"vocab":"abc"}`), 2000)},
		"tokenizer_config.json": {data: []byte(`{"bos_token":"<s>"}`)},
	}
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: content differs (%d bytes, want %d)", path, len(got), len(want))
	}
}

func noPartFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if strings.HasSuffix(p, PartSuffix) {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

func TestFetchDefaults(t *testing.T) {
	files := standardFiles()
	h := newFakeHub(t, files, false)
	c := h.client(t)
	dir := t.TempDir()
	var notes []string
	c.Logf = func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }
	paths, err := c.Fetch(context.Background(), testRepo, "", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
	if len(paths) != len(want) {
		t.Fatalf("paths %v, want %v", paths, want)
	}
	for i, name := range want {
		if paths[i] != filepath.Join(dir, name) {
			t.Errorf("path %d = %s, want %s", i, paths[i], filepath.Join(dir, name))
		}
		checkFile(t, paths[i], files[name].data)
	}
	noPartFiles(t, dir)
	for _, missing := range []string{"generation_config.json", "special_tokens_map.json"} {
		if _, err := os.Stat(filepath.Join(dir, missing)); err == nil {
			t.Errorf("%s should not exist", missing)
		}
		if !slices.ContainsFunc(notes, func(s string) bool { return strings.Contains(s, missing) }) {
			t.Errorf("no note about the missing optional %s in %q", missing, notes)
		}
	}
	// The first request resolves "main"; the others use the commit it reported.
	if h.resolveRv[0] != "main" {
		t.Errorf("first revision %q", h.resolveRv[0])
	}
	for _, rv := range h.resolveRv[1:] {
		if rv != testCommit {
			t.Fatalf("revision not pinned to the commit: %v", h.resolveRv)
		}
	}
	if n := h.cdnGets["model.safetensors"]; n != 1 {
		t.Errorf("%d CDN GETs of the weights, want 1", n)
	}
}

func TestStat(t *testing.T) {
	files := standardFiles()
	h := newFakeHub(t, files, true)
	c := h.client(t)
	info, err := c.Stat(context.Background(), testRepo, "main", "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	data := files["model.safetensors"].data
	if info.SHA256 != sha256Of(data) || info.ETag != info.SHA256 || info.Size != int64(len(data)) || info.Commit != testCommit {
		t.Errorf("LFS info %+v", info)
	}
	info, err = c.Stat(context.Background(), testRepo, "main", "config.json")
	if err != nil {
		t.Fatal(err)
	}
	data = files["config.json"].data
	if info.SHA256 != "" || info.ETag != gitBlobSHA1(data) || info.Size != int64(len(data)) || info.Commit != testCommit {
		t.Errorf("git file info %+v", info)
	}
	if h.count("HEAD /cdn/") != 0 || h.count("GET") != 0 {
		t.Errorf("Stat went further than the resolve HEAD: %v", h.log)
	}
}

func TestResumeAfterDroppedConnection(t *testing.T) {
	files := standardFiles()
	h := newFakeHub(t, files, false)
	half := len(files["model.safetensors"].data) / 2
	h.hook = func(n int, w http.ResponseWriter, r *http.Request, data []byte) bool {
		if n != 1 {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:half])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	c := h.client(t)
	dir := t.TempDir()
	p, err := c.Download(context.Background(), testRepo, "main", "model.safetensors", dir)
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, files["model.safetensors"].data)
	noPartFiles(t, dir)
	if len(h.ranges) != 2 || h.ranges[0] != "" {
		t.Fatalf("CDN Range headers %q, want none then one", h.ranges)
	}
	var from int
	if _, err := fmt.Sscanf(h.ranges[1], "bytes=%d-", &from); err != nil || from <= 0 || from > half {
		t.Errorf("second request Range %q, want bytes=N- with 0 < N <= %d", h.ranges[1], half)
	}

	// Every answer breaks off after 40 kB, yet each try saves data: with 2 tries per
	// outage the download still completes, in 5 resumed pieces.
	h.reset()
	h.hook = func(n int, w http.ResponseWriter, r *http.Request, data []byte) bool {
		var from int
		fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &from)
		rest := data[from:]
		if len(rest) <= 40_000 {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(rest)))
		if from > 0 {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(data)-1, len(data)))
			w.WriteHeader(http.StatusPartialContent)
		}
		w.Write(rest[:40_000])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	c.Tries = 2
	dir = t.TempDir()
	p, err = c.Download(context.Background(), testRepo, "main", "model.safetensors", dir)
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, files["model.safetensors"].data)
	if len(h.ranges) < 5 {
		t.Errorf("%d GETs, want at least 5", len(h.ranges))
	}
}

func TestRestartWhenRangeIgnored(t *testing.T) {
	files := standardFiles()
	h := newFakeHub(t, files, false)
	h.noRange = true
	dir := t.TempDir()
	// A leftover .part whose bytes are not the file's: the 200 answer must replace them.
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"+PartSuffix), bytes.Repeat([]byte{'x'}, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := h.client(t).Download(context.Background(), testRepo, "main", "model.safetensors", dir)
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, files["model.safetensors"].data)
	if len(h.ranges) != 1 || h.ranges[0] != "bytes=5000-" {
		t.Errorf("Range headers %q, want [bytes=5000-]", h.ranges)
	}
	noPartFiles(t, dir)
}

func TestStaleResumedPartStartsOver(t *testing.T) {
	files := standardFiles()
	h := newFakeHub(t, files, false)
	dir := t.TempDir()
	// A .part from another version of the file: resumed with a 206, it fails the SHA-256,
	// and the download starts over once.
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"+PartSuffix), bytes.Repeat([]byte{'x'}, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := h.client(t).Download(context.Background(), testRepo, "main", "model.safetensors", dir)
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, files["model.safetensors"].data)
	if !slices.Equal(h.ranges, []string{"bytes=5000-", ""}) {
		t.Errorf("Range headers %q, want [bytes=5000- none]", h.ranges)
	}
}

func TestChecksumMismatch(t *testing.T) {
	files := standardFiles()
	h := newFakeHub(t, files, false)
	bad := bytes.Clone(files["model.safetensors"].data)
	bad[1234] ^= 0xff
	h.serve["model.safetensors"] = bad
	dir := t.TempDir()
	_, err := h.client(t).Download(context.Background(), testRepo, "main", "model.safetensors", dir)
	var ce *ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *ChecksumError", err)
	}
	for _, s := range []string{"model.safetensors", sha256Of(files["model.safetensors"].data), sha256Of(bad)} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	for _, name := range []string{"model.safetensors", "model.safetensors" + PartSuffix} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after a checksum mismatch", name)
		}
	}
	if n := h.cdnGets["model.safetensors"]; n != 1 {
		t.Errorf("%d GETs, want 1 (a fresh download is not retried)", n)
	}
}

func TestSizeMismatchOnGitFile(t *testing.T) {
	files := standardFiles()
	h := newFakeHub(t, files, false)
	// The hub announces 100 bytes, the body has 16: a size mismatch, not worth a retry.
	gets := 0
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets++
		}
		w.Header().Set("ETag", `"`+gitBlobSHA1([]byte("x"))+`"`)
		w.Header().Set("X-Linked-Size", "100")
		w.Header().Set("X-Repo-Commit", testCommit)
		if r.Method == http.MethodGet {
			w.Write([]byte("only a few bytes"))
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := h.client(t)
	c.Endpoint = srv.URL
	dir := t.TempDir()
	_, err := c.Download(context.Background(), testRepo, "main", "config.json", dir)
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Kind != "size" || !strings.Contains(err.Error(), "config.json") ||
		!strings.Contains(err.Error(), "expected 100 bytes, got 16 bytes") {
		t.Fatalf("err = %v, want a size mismatch naming config.json", err)
	}
	if gets != 1 {
		t.Errorf("%d GETs, want 1", gets)
	}
	noPartFiles(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		t.Error("config.json written despite the size mismatch")
	}
}

func TestSkipUpToDate(t *testing.T) {
	files := standardFiles()
	h := newFakeHub(t, files, false)
	c := h.client(t)
	dir := t.TempDir()
	if _, err := c.Fetch(context.Background(), testRepo, "main", dir, nil); err != nil {
		t.Fatal(err)
	}
	h.reset()
	if _, err := c.Fetch(context.Background(), testRepo, "main", dir, nil); err != nil {
		t.Fatal(err)
	}
	if n := h.count("GET"); n != 0 {
		t.Errorf("%d GETs for files already present: %v", n, h.log)
	}

	// A damaged weights file (same size) is downloaded again; a git file of the right size
	// is trusted (its sha1 ETag cannot be checked).
	w := filepath.Join(dir, "model.safetensors")
	damaged := bytes.Clone(files["model.safetensors"].data)
	damaged[0] ^= 1
	os.WriteFile(w, damaged, 0o644)
	cfg := filepath.Join(dir, "config.json")
	sameSize := bytes.Repeat([]byte{' '}, len(files["config.json"].data))
	os.WriteFile(cfg, sameSize, 0o644)
	h.reset()
	if _, err := c.Fetch(context.Background(), testRepo, "main", dir, nil); err != nil {
		t.Fatal(err)
	}
	checkFile(t, w, files["model.safetensors"].data)
	checkFile(t, cfg, sameSize)
	if n := h.count("GET"); n != 2 { // resolve + CDN for the weights only
		t.Errorf("%d GETs, want 2: %v", n, h.log)
	}
}

func TestNotFound(t *testing.T) {
	h := newFakeHub(t, standardFiles(), false)
	c := h.client(t)
	ctx := context.Background()
	dir := t.TempDir()

	_, err := c.Fetch(ctx, testRepo, "main", dir, []string{"config.json", "nope.json"})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nope.json not found in repo "+testRepo+" at revision main") {
		t.Errorf("required file: %v", err)
	}
	// Only what was asked for and found was written.
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Error(err)
	}

	paths, err := c.FetchFiles(ctx, testRepo, "main", dir, []string{"config.json"}, []string{"nope.json"})
	if err != nil || len(paths) != 1 {
		t.Errorf("optional file: %v %v", paths, err)
	}

	_, err = c.Download(ctx, "someone/missing", "main", "config.json", dir)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "repo someone/missing not found") {
		t.Errorf("missing repo: %v", err)
	}
	_, err = c.Download(ctx, testRepo, "v9", "config.json", dir)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "revision v9 not found") {
		t.Errorf("missing revision: %v", err)
	}
	// An optional file does not hide a missing revision.
	_, err = c.FetchFiles(ctx, testRepo, "v9", dir, nil, []string{"config.json"})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("optional file at a missing revision: %v", err)
	}
	// No model.safetensors and no index.
	delete(h.files, "model.safetensors")
	_, err = c.Fetch(ctx, testRepo, "main", dir, nil)
	if err == nil || !strings.Contains(err.Error(), "model.safetensors not found") || !strings.Contains(err.Error(), "model.safetensors.index.json") {
		t.Errorf("no weights: %v", err)
	}
}

func TestTokens(t *testing.T) {
	files := standardFiles()
	h := newFakeHub(t, files, true)
	h.token = "hf_secret"
	ctx := context.Background()

	c := h.client(t)
	_, err := c.Download(ctx, testRepo, "main", "config.json", t.TempDir())
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "needs a token (HF_TOKEN)") ||
		!strings.Contains(err.Error(), "config.json") || !strings.Contains(err.Error(), "401") {
		t.Errorf("no token: %v", err)
	}

	c.Token = "wrong"
	_, err = c.Download(ctx, testRepo, "main", "config.json", t.TempDir())
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("wrong token: %v", err)
	}

	// The hub gets the token, the CDN (another host) does not; the environment is not read.
	t.Setenv("HF_TOKEN", "hf_from_environment")
	h.reset()
	c = h.client(t)
	c.Token = "hf_secret"
	dir := t.TempDir()
	if _, err := c.Fetch(ctx, testRepo, "main", dir, nil); err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(dir, "model.safetensors"), files["model.safetensors"].data)
	for _, a := range h.hubAuth {
		if a != "Bearer hf_secret" {
			t.Errorf("hub got Authorization %q", a)
		}
	}
	if len(h.cdnAuth) == 0 {
		t.Fatal("the CDN was not used")
	}
	for _, a := range h.cdnAuth {
		if a != "" {
			t.Errorf("CDN got Authorization %q", a)
		}
	}
}

func TestSharded(t *testing.T) {
	files := standardFiles()
	delete(files, "model.safetensors")
	s1, s2 := randomBytes(70_000, 2), randomBytes(50_000, 3)
	index, _ := json.Marshal(map[string]any{
		"metadata":   map[string]any{"total_size": 120_000},
		"weight_map": map[string]string{"a": "model-00002-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"},
	})
	files["model.safetensors.index.json"] = fakeFile{data: index}
	files["model-00001-of-00002.safetensors"] = fakeFile{data: s1, lfs: true}
	files["model-00002-of-00002.safetensors"] = fakeFile{data: s2, lfs: true}
	h := newFakeHub(t, files, false)
	dir := t.TempDir()
	paths, err := h.client(t).Fetch(context.Background(), testRepo, "main", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
		checkFile(t, p, files[filepath.Base(p)].data)
	}
	want := []string{"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
		"model-00002-of-00002.safetensors", "tokenizer.json", "tokenizer_config.json"}
	if !slices.Equal(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}
}

func TestBadIndex(t *testing.T) {
	files := standardFiles()
	delete(files, "model.safetensors")
	files["model.safetensors.index.json"] = fakeFile{data: []byte(`{"weight_map":{"a":"../evil.safetensors"}}`)}
	h := newFakeHub(t, files, false)
	_, err := h.client(t).Fetch(context.Background(), testRepo, "main", t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "bad file name") {
		t.Errorf("err = %v", err)
	}
}

func TestCancelKeepsPart(t *testing.T) {
	files := standardFiles()
	data := files["model.safetensors"].data
	half := len(data) / 2
	h := newFakeHub(t, files, false)
	sent := make(chan struct{})
	h.hook = func(n int, w http.ResponseWriter, r *http.Request, data []byte) bool {
		if n != 1 {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:half])
		w.(http.Flusher).Flush()
		close(sent)
		<-r.Context().Done() // stall until the client gives up
		return true
	}
	c := h.client(t)
	dir := t.TempDir()
	part := filepath.Join(dir, "model.safetensors"+PartSuffix)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Download(ctx, testRepo, "main", "model.safetensors", dir)
		done <- err
	}()
	<-sent
	for deadline := time.Now().Add(5 * time.Second); ; {
		if st, err := os.Stat(part); err == nil && st.Size() == int64(half) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first half never reached the .part file")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "model.safetensors") {
		t.Fatalf("err = %v, want context.Canceled naming the file", err)
	}
	if st, err := os.Stat(part); err != nil || st.Size() != int64(half) {
		t.Fatalf(".part after cancel: %v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("final file exists after cancel")
	}
	if n := h.cdnGets["model.safetensors"]; n != 1 {
		t.Errorf("%d GETs, a cancelled download must not retry", n)
	}

	p, err := c.Download(context.Background(), testRepo, "main", "model.safetensors", dir)
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, data)
	if got := h.ranges[len(h.ranges)-1]; got != fmt.Sprintf("bytes=%d-", half) {
		t.Errorf("resume Range %q", got)
	}
}

func TestRetriesOn5xx(t *testing.T) {
	files := standardFiles()
	h := newFakeHub(t, files, false)
	h.hook = func(n int, w http.ResponseWriter, r *http.Request, data []byte) bool {
		if n <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	c := h.client(t)
	p, err := c.Download(context.Background(), testRepo, "main", "model.safetensors", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, files["model.safetensors"].data)

	h.reset()
	h.hook = func(n int, w http.ResponseWriter, r *http.Request, data []byte) bool {
		http.Error(w, "down", http.StatusBadGateway)
		return true
	}
	dir := t.TempDir()
	_, err = c.Download(context.Background(), testRepo, "main", "model.safetensors", dir)
	if err == nil || !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("err = %v", err)
	}
	if n := h.cdnGets["model.safetensors"]; n != 3 {
		t.Errorf("%d tries, want 3", n)
	}
}

func TestStallIsRetried(t *testing.T) {
	files := standardFiles()
	h := newFakeHub(t, files, false)
	h.hook = func(n int, w http.ResponseWriter, r *http.Request, data []byte) bool {
		if n != 1 {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:1000])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return true
	}
	c := h.client(t)
	c.StallTimeout = 100 * time.Millisecond
	p, err := c.Download(context.Background(), testRepo, "main", "model.safetensors", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, files["model.safetensors"].data)
	if len(h.ranges) != 2 || h.ranges[1] != "bytes=1000-" {
		t.Errorf("Range headers %q", h.ranges)
	}
}

func TestProgressAndEndpointSlash(t *testing.T) {
	h := newFakeHub(t, standardFiles(), false)
	c := h.client(t)
	c.Endpoint = h.hub.URL + "/" // a trailing slash is fine
	var buf bytes.Buffer
	c.Progress, c.ShowProgress = &buf, true
	if _, err := c.Download(context.Background(), testRepo, "", "model.safetensors", t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "model.safetensors") {
		t.Errorf("progress output %q does not show the file", buf.String())
	}
	buf.Reset()
	c.ShowProgress = false
	if _, err := c.Download(context.Background(), testRepo, "", "tokenizer.json", t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("hidden progress wrote %q", buf.String())
	}
}

func TestURLsAndNames(t *testing.T) {
	c := &Client{Endpoint: "https://hub.example/"}
	got := c.ResolveURL("org/model", "refs/pr/1", "onnx/model q.onnx")
	if want := "https://hub.example/org/model/resolve/refs%2Fpr%2F1/onnx/model%20q.onnx"; got != want {
		t.Errorf("ResolveURL = %s, want %s", got, want)
	}
	t.Setenv("HF_ENDPOINT", "https://ignored.example") // the package reads no environment
	if got := (&Client{}).ResolveURL("gpt2", "", "config.json"); got != DefaultEndpoint+"/gpt2/resolve/main/config.json" {
		t.Errorf("default ResolveURL = %s", got)
	}
	for _, bad := range []string{"", "/etc/passwd", "../x", "a/../../x", "a\\b", "./a", "a//b"} {
		if checkFilename(bad) == nil {
			t.Errorf("file name %q accepted", bad)
		}
	}
	for _, bad := range []string{"", "a/b/c", "../x", "a/", "a b/c"} {
		if checkRepo(bad) == nil {
			t.Errorf("repo %q accepted", bad)
		}
	}
	for in, want := range map[string]string{`"abc"`: "abc", `W/"abc"`: "abc", "abc": "abc"} {
		if got := normalizeETag(in); got != want {
			t.Errorf("normalizeETag(%s) = %s", in, got)
		}
	}
	if s, n, ok := parseContentRange("bytes 100-199/200"); !ok || s != 100 || n != 200 {
		t.Errorf("parseContentRange = %d %d %v", s, n, ok)
	}
	if s, n, ok := parseContentRange("bytes 7-9/*"); !ok || s != 7 || n != -1 {
		t.Errorf("parseContentRange = %d %d %v", s, n, ok)
	}
	if _, _, ok := parseContentRange("bytes */200"); ok {
		t.Error("parseContentRange accepted an unsatisfied range")
	}
}
