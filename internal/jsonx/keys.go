package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// CheckDuplicateKeys reports a key written twice in the JSON object raw, and in the objects
// under the top-level keys named in nested (encoding/json keeps the last value silently). A
// nested key that is absent or not an object is not checked; raw must be one JSON object.
func CheckDuplicateKeys(raw []byte, nested ...string) error {
	return checkKeys(raw, nested, true)
}

func checkKeys(raw []byte, nested []string, top bool) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("bad JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if top {
			return errors.New("bad JSON: not an object")
		}
		return nil // a nested value that is not an object has no keys to repeat
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("bad JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("bad JSON: expected a key, found %v", tok)
		}
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("bad JSON: %w", err)
		}
		if top && slices.Contains(nested, key) {
			if err := checkKeys(v, nil, false); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	return nil
}
