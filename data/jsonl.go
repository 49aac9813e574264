package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// readJSONL returns the string field of every non-blank line of a JSON Lines file.
func readJSONL(path, field string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var out []string
	for line := 1; ; line++ {
		raw, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("data: %s: %w", path, err)
		}
		if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 {
			s, perr := jsonlField(trimmed, field)
			if perr != nil {
				return nil, fmt.Errorf("data: %s:%d: %w", path, line, perr)
			}
			out = append(out, s)
		}
		if err != nil { // io.EOF
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("data: %s: no JSON lines", path)
	}
	return out, nil
}

// jsonlField decodes one line's object and returns its string field.
func jsonlField(line []byte, field string) (string, error) {
	if !utf8.Valid(line) {
		return "", errors.New("not valid UTF-8")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return "", fmt.Errorf("not a JSON object: %w", err)
	}
	v, ok := obj[field]
	if !ok {
		return "", fmt.Errorf("no field %q (pass --data-field)", field)
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return "", fmt.Errorf("field %q is %s, not a string", field, kindOf(v))
	}
	return s, nil
}

func kindOf(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "empty"
	}
	switch v[0] {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	}
	return "a number"
}
