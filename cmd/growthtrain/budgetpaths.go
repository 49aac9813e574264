package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/growthtrain/growthtrain/trainer"
)

// pathKeyLine matches the budget keys whose values are paths relative to the budget file
// (trainer.Budget.Resolve): [model] config and init, [data] corpus, tokenizer and cache_dir,
// [checkpoint] dir.
var (
	pathKeyLine = regexp.MustCompile(`^\s*(config|init|corpus|tokenizer|cache_dir|dir)\s*=`)
	quoted      = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
)

// rebaseTemplatePaths rewrites the relative paths in head, the part of the template budget t
// (loaded from templatePath) that budget -o copies, so that they name the same files from
// outPath's folder. Values that are not paths (scratch, auto, train:N, default) are kept.
func rebaseTemplatePaths(head string, t *trainer.Budget, templatePath, outPath string) string {
	paths := map[string]bool{}
	add := func(v string) {
		if v != "" && !filepath.IsAbs(v) {
			paths[v] = true
		}
	}
	add(t.Model.Config)
	if t.Model.Init != "scratch" {
		add(t.Model.Init)
	}
	if tk := t.Data.Tokenizer; tk != "auto" && !strings.HasPrefix(tk, "train:") {
		add(tk)
	}
	add(t.Data.CacheDir)
	add(t.Checkpoint.Dir)
	for _, c := range t.Data.Corpus {
		if c != "default" {
			add(c)
		}
	}
	if len(paths) == 0 {
		return head
	}
	from, err1 := filepath.Abs(filepath.Dir(templatePath))
	to, err2 := filepath.Abs(filepath.Dir(outPath))
	if err1 != nil || err2 != nil || from == to {
		return head
	}
	lines := strings.SplitAfter(head, "\n")
	for i, line := range lines {
		code, comment := line, ""
		if j := strings.Index(line, "#"); j >= 0 { // budget paths hold no '#'; comments are kept
			code, comment = line[:j], line[j:]
		}
		if !pathKeyLine.MatchString(code) {
			continue
		}
		code = quoted.ReplaceAllStringFunc(code, func(q string) string {
			v, err := strconv.Unquote(q)
			if err != nil || !paths[v] {
				return q
			}
			abs := filepath.Join(from, v)
			rel, err := filepath.Rel(to, abs)
			if err != nil {
				rel = abs
			}
			return strconv.Quote(filepath.ToSlash(rel))
		})
		lines[i] = code + comment
	}
	return strings.Join(lines, "")
}
