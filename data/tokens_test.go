package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/growthtrain/growthtrain/tokenizer"
)

// byteEncoder maps each byte to its value plus 10, so ids 0-9 are free for separators.
type byteEncoder struct{ calls atomic.Int64 }

func (e *byteEncoder) TryEncode(s string) ([]int64, error) {
	e.calls.Add(1)
	out := make([]int64, len(s))
	for i := range len(s) {
		out[i] = int64(s[i]) + 10
	}
	return out, nil
}

// mustTokenize is Tokenize for encoders that cannot fail.
func mustTokenize(t *testing.T, docs []Document, enc Encoder, sep int64, workers int) []int32 {
	t.Helper()
	out, err := Tokenize(docs, enc, sep, workers)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// badEncoder returns an id that does not fit int32 for texts containing "!".
type badEncoder struct{}

func (badEncoder) TryEncode(s string) ([]int64, error) {
	if strings.Contains(s, "!") {
		return []int64{1, 1 << 40}, nil
	}
	return []int64{1}, nil
}

func ids(s string) []int32 {
	out := make([]int32, len(s))
	for i := range len(s) {
		out[i] = int32(s[i]) + 10
	}
	return out
}

func cat(parts ...[]int32) []int32 { return slices.Concat(parts...) }

func TestTokenize(t *testing.T) {
	sep := []int32{2}
	tests := []struct {
		name string
		docs []Document
		want []int32
	}{
		{"no documents", nil, []int32{}},
		{"one document", []Document{{"a", "hi"}}, ids("hi")},
		{"three documents", []Document{{"a", "ab"}, {"b", "c"}, {"c", "de"}}, cat(ids("ab"), sep, ids("c"), sep, ids("de"))},
		{"empty document in the middle", []Document{{"a", "x"}, {"b", ""}, {"c", "y"}}, cat(ids("x"), sep, sep, ids("y"))},
		{"unicode bytes", []Document{{"a", "é"}}, ids("é")},
	}
	for _, tc := range tests {
		for _, workers := range []int{-1, 0, 1, 2, 3, 16} {
			t.Run(fmt.Sprintf("%s/workers=%d", tc.name, workers), func(t *testing.T) {
				got := mustTokenize(t, tc.docs, &byteEncoder{}, 2, workers)
				if !slices.Equal(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			})
		}
	}
}

func TestTokenizeWorkerIndependence(t *testing.T) {
	docs := makeDocs("w", 500)
	for i := range docs {
		docs[i].Text = strings.Repeat(docs[i].Text, i%17)
	}
	ref := mustTokenize(t, docs, &byteEncoder{}, 3, 1)
	for _, w := range []int{2, 4, 7, 64, 1000} {
		if got := mustTokenize(t, docs, &byteEncoder{}, 3, w); !slices.Equal(got, ref) {
			t.Errorf("workers=%d changes the stream", w)
		}
	}
}

func TestTokenizeRangeErrors(t *testing.T) {
	tests := []struct {
		name    string
		docs    []Document
		sep     int64
		wantMsg string
	}{
		{"id too large", []Document{{"ok.txt", "a"}, {"bad.txt", "boom!"}}, 0, "bad.txt: token id 1099511627776 at position 1"},
		{"negative separator", []Document{{"a", "a"}}, -1, "separator token -1"},
		{"separator too large", []Document{{"a", "a"}}, 1 << 31, "separator token 2147483648"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TokenizeCached(tc.docs, badEncoder{}, tc.sep, t.TempDir(), "k")
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("TokenizeCached err = %v, want %q", err, tc.wantMsg)
			}
			if _, err := Tokenize(tc.docs, badEncoder{}, tc.sep, 2); err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Tokenize err = %v, want %q", err, tc.wantMsg)
			}
		})
	}
}

var cacheDocs = []Document{{"a.txt", "alpha"}, {"b.txt", "beta"}, {"c.txt", "gamma delta"}}

func TestTokenizeCachedHitMiss(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "cache") // created on demand
	enc := &byteEncoder{}
	want := mustTokenize(t, cacheDocs, &byteEncoder{}, 1, 1)

	got, err := TokenizeCached(cacheDocs, enc, 1, dir, "tok1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || enc.calls.Load() != 3 {
		t.Fatalf("miss: got %v with %d Encode calls", got, enc.calls.Load())
	}
	wantName := fmt.Sprintf("tokens-tok1-%s-sep1.bin", CorpusHash(cacheDocs))
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != wantName {
		t.Fatalf("cache dir holds %v, want only %s", entries, wantName)
	}

	got, err = TokenizeCached(cacheDocs, enc, 1, dir, "tok1")
	if err != nil || !slices.Equal(got, want) || enc.calls.Load() != 3 {
		t.Fatalf("hit: got %v, err %v, %d Encode calls (want no new ones)", got, err, enc.calls.Load())
	}

	// Anything in the name changing is a miss with its own file.
	misses := []struct {
		name string
		docs []Document
		sep  int64
		key  string
	}{
		{"other key", cacheDocs, 1, "tok2"},
		{"other separator", cacheDocs, 0, "tok1"},
		{"other text", []Document{{"a.txt", "alpha"}, {"b.txt", "beta"}, {"c.txt", "gamma delta!"}}, 1, "tok1"},
		{"other order", []Document{cacheDocs[1], cacheDocs[0], cacheDocs[2]}, 1, "tok1"},
	}
	for i, m := range misses {
		before := enc.calls.Load()
		got, err := TokenizeCached(m.docs, enc, m.sep, dir, m.key)
		if err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if enc.calls.Load() == before {
			t.Errorf("%s: served from cache", m.name)
		}
		if !slices.Equal(got, mustTokenize(t, m.docs, &byteEncoder{}, m.sep, 1)) {
			t.Errorf("%s: wrong tokens", m.name)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != i+2 {
			t.Errorf("%s: %d cache files, want %d", m.name, len(entries), i+2)
		}
	}
}

func TestTokenizeCachedCorruptRebuilt(t *testing.T) {
	want := mustTokenize(t, cacheDocs, &byteEncoder{}, 1, 1)
	good := encodeTokenCache(want)
	flip := func(i int) []byte { b := slices.Clone(good); b[i] ^= 0x01; return b }
	tests := []struct {
		name string
		data []byte
	}{
		{"empty file", nil},
		{"truncated header", good[:20]},
		{"header only", good[:cacheHeaderSize]},
		{"truncated payload", good[:len(good)-4]},
		{"half token missing", good[:len(good)-2]},
		{"trailing bytes", append(slices.Clone(good), 0, 0, 0, 0)},
		{"bad magic", flip(0)},
		{"bad version", flip(8)},
		{"bad token size", flip(12)},
		{"count too small", flip(16)},
		{"huge count", func() []byte { b := slices.Clone(good); b[23] = 0x80; return b }()},
		{"checksum flipped", flip(30)},
		{"payload flipped", flip(cacheHeaderSize + 5)},
		{"other corpus's valid file", encodeTokenCache([]int32{1, 2, 3})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, err := cachePath(dir, "k", cacheDocs, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			enc := &byteEncoder{}
			got, err := TokenizeCached(cacheDocs, enc, 1, dir, "k")
			if tc.name == "other corpus's valid file" {
				// A valid file under this name is trusted: the name is the identity.
				if err != nil || !slices.Equal(got, []int32{1, 2, 3}) || enc.calls.Load() != 0 {
					t.Fatalf("valid file not used: %v %v", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("corrupt cache gave an error: %v", err)
			}
			if !slices.Equal(got, want) || enc.calls.Load() == 0 {
				t.Fatalf("got %v after %d Encode calls", got, enc.calls.Load())
			}
			if b, _ := os.ReadFile(path); !slices.Equal(b, good) {
				t.Error("cache file not rewritten with valid contents")
			}
			if _, err := readTokenCache(path); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestTokenCacheReadErrorsNameFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.bin")
	if err := os.WriteFile(path, []byte("GTTOKENS-short"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readTokenCache(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want it to name %s", err, path)
	}
}

func TestTokenizeCachedAtomicWrite(t *testing.T) {
	t.Run("no temporary files left", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := TokenizeCached(cacheDocs, &byteEncoder{}, 1, dir, "k"); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("temporary file %s left behind", e.Name())
			}
		}
		path, _ := cachePath(dir, "k", cacheDocs, 1)
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o644 {
			t.Errorf("cache file: %v, %v", info, err)
		}
	})
	t.Run("failed rename cleans up and reports", func(t *testing.T) {
		dir := t.TempDir()
		path, _ := cachePath(dir, "k", cacheDocs, 1)
		// A non-empty directory where the cache file should go: reading fails (a miss), and
		// the rename over it fails.
		if err := os.MkdirAll(filepath.Join(path, "blocker"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := TokenizeCached(cacheDocs, &byteEncoder{}, 1, dir, "k")
		if err == nil {
			t.Fatal("no error when the cache file cannot be written")
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("dir holds %d entries after a failed write, want only the blocker", len(entries))
		}
	})
	t.Run("cache dir is a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "f")
		writeFile(t, file, "x")
		if _, err := TokenizeCached(cacheDocs, &byteEncoder{}, 1, file, "k"); err == nil {
			t.Error("no error")
		}
	})
	t.Run("concurrent writers", func(t *testing.T) {
		dir := t.TempDir()
		want := mustTokenize(t, cacheDocs, &byteEncoder{}, 1, 1)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				got, err := TokenizeCached(cacheDocs, &byteEncoder{}, 1, dir, "k")
				if err == nil && !slices.Equal(got, want) {
					err = errors.New("wrong tokens")
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("%d files after concurrent writes, want 1", len(entries))
		}
	})
}

func TestTokenizeCachedKeyValidation(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", true},
		{"gpt2_v1.0-x", true},
		{"", false},
		{".hidden", false},
		{"a/b", false},
		{"..", false},
		{"with space", false},
		{strings.Repeat("k", 129), false},
	}
	for _, tc := range tests {
		_, err := TokenizeCached(cacheDocs, &byteEncoder{}, 1, t.TempDir(), tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("key %q: err = %v, want ok=%v", tc.key, err, tc.ok)
		}
	}
	if _, err := TokenizeCached(cacheDocs, &byteEncoder{}, 1, "", "k"); err == nil {
		t.Error("empty cache dir accepted")
	}
}

// catastrophicTokenizer writes a byte-level tokenizer.json whose Split pattern backtracks
// exponentially on a long run of digits not followed by the end of the text.
func catastrophicTokenizer(t *testing.T) *tokenizer.Tokenizer {
	t.Helper()
	// GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the others
	// take the runes from U+0100 on, in byte order.
	vocab := map[string]int{}
	next := rune(256)
	for b := range 256 {
		r := rune(b)
		if !(b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE) {
			r, next = next, next+1
		}
		vocab[string(r)] = b
	}
	j := map[string]any{
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": []string{}},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `(\d|\d\d)+$`}, "behavior": "Isolated"},
			map[string]any{"type": "ByteLevel", "use_regex": false},
		}},
		"decoder": map[string]any{"type": "ByteLevel"},
	}
	data, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTokenizeEncoderError: a document the tokenizer cannot encode (its Split regex runs out of
// time) is an error naming the document, not a panic.
func TestTokenizeEncoderError(t *testing.T) {
	tok := catastrophicTokenizer(t)
	docs := []Document{{"ok.txt", "fine text"}, {"evil.txt", strings.Repeat("1", 60) + "!"}}
	_, err := TokenizeCached(docs, tok, 0, t.TempDir(), "k")
	if !errors.Is(err, tokenizer.ErrRegexTimeout) || !strings.Contains(err.Error(), "evil.txt") {
		t.Errorf("TokenizeCached: %v, want a regex time-out naming evil.txt", err)
	}
	if _, err := Tokenize(docs, tok, 0, 2); !errors.Is(err, tokenizer.ErrRegexTimeout) || !strings.Contains(err.Error(), "evil.txt") {
		t.Errorf("Tokenize: %v, want a regex time-out naming evil.txt", err)
	}
}
