package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Token cache file format (all integers little-endian):
//
//	offset  size  field
//	0       8     magic "GTTOKENS"
//	8       4     version (1)
//	12      4     bytes per token (4)
//	16      8     token count n
//	24      32    sha256 of the payload
//	56      4n    payload: the tokens as int32
const (
	cacheMagic      = "GTTOKENS"
	cacheVersion    = 1
	cacheHeaderSize = 56
)

// maxKeyLen bounds the tokenizer key so cache file names stay well under file-system limits.
const maxKeyLen = 128

// TokenizeCached is Tokenize (with GOMAXPROCS workers) backed by an on-disk cache in cacheDir,
// which is created if needed. key identifies the tokenizer (for example the hex sha256 of its
// tokenizer.json) and may hold only ASCII letters, digits, '.', '_' and '-', at most 128 of them,
// not starting with '.'. The cache file is named
//
//	tokens-<key>-<CorpusHash(docs)>-sep<sep>.bin
//
// so a different tokenizer, corpus (names, texts or order) or separator uses a different file.
// A cache file is used only when its header (magic, version, token size, count) matches its size
// and the payload checksum verifies; a missing, truncated or corrupt file is silently rebuilt and
// replaced. Files are written atomically: a temporary file in cacheDir is written, fsynced and
// renamed over the final name, so readers never see a partial file and concurrent writers are
// harmless (the last rename wins; both wrote the same tokens).
//
// It returns an error for an invalid key, a token id outside int32, or when the cache file
// cannot be written.
func TokenizeCached(docs []Document, enc Encoder, sep int64, cacheDir, key string) ([]int32, error) {
	path, err := cachePath(cacheDir, key, docs, sep)
	if err != nil {
		return nil, err
	}
	if toks, err := readTokenCache(path); err == nil {
		return toks, nil
	}
	toks, err := tokenize(docs, enc, sep, 0)
	if err != nil {
		return nil, err
	}
	if err := writeTokenCache(path, toks); err != nil {
		return nil, err
	}
	return toks, nil
}

// cachePath returns the cache file for the given tokenizer key, corpus and separator.
func cachePath(cacheDir, key string, docs []Document, sep int64) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if cacheDir == "" {
		return "", errors.New("data: TokenizeCached: empty cache directory")
	}
	name := fmt.Sprintf("tokens-%s-%s-sep%d.bin", key, CorpusHash(docs), sep)
	return filepath.Join(cacheDir, name), nil
}

func checkKey(key string) error {
	if key == "" || len(key) > maxKeyLen || key[0] == '.' {
		return fmt.Errorf("data: TokenizeCached: invalid tokenizer key %q (want 1 to %d characters, not starting with '.')", key, maxKeyLen)
	}
	for _, c := range []byte(key) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("data: TokenizeCached: invalid tokenizer key %q: character %q not allowed (use letters, digits, '.', '_', '-')", key, c)
		}
	}
	return nil
}

// readTokenCache reads and validates a cache file, returning an error that names the file and
// the problem when it is missing or invalid.
func readTokenCache(path string) ([]int32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < cacheHeaderSize {
		return nil, fmt.Errorf("data: %s: truncated header (%d bytes)", path, len(b))
	}
	if string(b[:8]) != cacheMagic {
		return nil, fmt.Errorf("data: %s: bad magic", path)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != cacheVersion {
		return nil, fmt.Errorf("data: %s: unsupported version %d", path, v)
	}
	if w := binary.LittleEndian.Uint32(b[12:]); w != 4 {
		return nil, fmt.Errorf("data: %s: unsupported token size %d", path, w)
	}
	n := binary.LittleEndian.Uint64(b[16:])
	payload := b[cacheHeaderSize:]
	if n > uint64(len(payload))/4 || uint64(len(payload)) != 4*n {
		return nil, fmt.Errorf("data: %s: header says %d tokens but %d payload bytes follow", path, n, len(payload))
	}
	sum := sha256.Sum256(payload)
	if !bytes.Equal(sum[:], b[24:56]) {
		return nil, fmt.Errorf("data: %s: checksum mismatch", path)
	}
	toks := make([]int32, n)
	for i := range toks {
		toks[i] = int32(binary.LittleEndian.Uint32(payload[4*i:]))
	}
	return toks, nil
}

// encodeTokenCache returns the cache file bytes for toks.
func encodeTokenCache(toks []int32) []byte {
	b := make([]byte, cacheHeaderSize+4*len(toks))
	copy(b, cacheMagic)
	binary.LittleEndian.PutUint32(b[8:], cacheVersion)
	binary.LittleEndian.PutUint32(b[12:], 4)
	binary.LittleEndian.PutUint64(b[16:], uint64(len(toks)))
	payload := b[cacheHeaderSize:]
	for i, t := range toks {
		binary.LittleEndian.PutUint32(payload[4*i:], uint32(t))
	}
	sum := sha256.Sum256(payload)
	copy(b[24:56], sum[:])
	return b
}

// writeTokenCache writes toks to path atomically: temporary file, fsync, rename, then a
// best-effort fsync of the directory.
func writeTokenCache(path string, toks []int32) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data: token cache: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("data: token cache: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(encodeTokenCache(toks)); err != nil {
		return fmt.Errorf("data: token cache: writing %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("data: token cache: syncing %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("data: token cache: closing %s: %w", tmp, err)
	}
	if err = os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("data: token cache: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("data: token cache: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // best effort: makes the rename durable on file systems that need it
		d.Close()
	}
	return nil
}
