package data

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

// parquetShards lists the .parquet files directly inside dir, sorted by name (the HF datasets
// layout: <split>-00000-of-00002.parquet, ...).
func parquetShards(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".parquet") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}

// readParquet returns the string column of every row of a Parquet file, or of every shard of
// a directory in name order.
func readParquet(path, column string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		if files, err = parquetShards(path); err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("data: %s: directory holds no .parquet files", path)
		}
	}
	var out []string
	for _, f := range files {
		recs, err := readParquetFile(f, column)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

func readParquetFile(path, column string) (out []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("data: %s: not a Parquet file: %w", path, err)
	}
	leaf, ok := pf.Schema().Lookup(strings.Split(column, ".")...)
	if !ok {
		var names []string
		for _, c := range pf.Schema().Columns() {
			names = append(names, strings.Join(c, "."))
		}
		return nil, fmt.Errorf("data: %s: no column %q (columns: %s; pass --data-field)", path, column, strings.Join(names, ", "))
	}
	if leaf.MaxRepetitionLevel > 0 {
		return nil, fmt.Errorf("data: %s: column %q is a list, not one string per row", path, column)
	}
	if k := leaf.Node.Type().Kind(); k != parquet.ByteArray {
		return nil, fmt.Errorf("data: %s: column %q holds %v values, not strings", path, column, k)
	}
	row := 0
	buf := make([]parquet.Value, 256)
	for _, rg := range pf.RowGroups() {
		pages := rg.ColumnChunks()[leaf.ColumnIndex].Pages()
		err := func() error {
			defer pages.Close()
			for {
				page, err := pages.ReadPage()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				vr := page.Values()
				for {
					n, err := vr.ReadValues(buf)
					for _, v := range buf[:n] {
						if v.IsNull() {
							parquet.Release(page)
							return fmt.Errorf("row %d: column %q is null", row, column)
						}
						b := v.ByteArray()
						if !utf8.Valid(b) {
							parquet.Release(page)
							return fmt.Errorf("row %d: column %q is not valid UTF-8", row, column)
						}
						out = append(out, string(b))
						row++
					}
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						parquet.Release(page)
						return err
					}
				}
				parquet.Release(page)
			}
		}()
		if err != nil {
			return nil, fmt.Errorf("data: %s: %w", path, err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("data: %s: no rows", path)
	}
	return out, nil
}
