package report

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/internal/testref"
)

// allTables are every table of the fixture's report.
func allTables(rep *analysis.Report) []Table {
	var out []Table
	for _, ts := range [][]Table{AblationTables(rep.Ablation), PredictabilityTables(rep.Predictability), RecoveryTables(rep.Recovery),
		ManipulationTables(rep.Manipulation), StructureTables(rep.Structure), LensTables(rep.Lens), BlocksTables(rep.Blocks)} {
		out = append(out, ts...)
	}
	return out
}

var csvHeaderRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// A CSV reader gets numbers: every column whose values are numbers parses with ParseFloat in
// every row (an undefined value is an empty field), headers are snake_case and unique, and the
// documented headers of the main tables are there.
func TestCSVSchema(t *testing.T) {
	rep, _ := fixture(t)
	dir := t.TempDir()
	if err := Write(dir, rep); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	numericCols := map[string][]string{} // file -> numeric headers, for the Python check below
	for _, tb := range allTables(rep) {
		if names[tb.Name] {
			t.Fatalf("two tables named %q", tb.Name)
		}
		names[tb.Name] = true
		f, err := os.Open(filepath.Join(dir, tb.Name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("%s.csv: %v", tb.Name, err)
		}
		header := recs[0]
		if len(recs)-1 != len(tb.Rows) {
			t.Fatalf("%s.csv: %d rows, the table has %d", tb.Name, len(recs)-1, len(tb.Rows))
		}
		seen := map[string]bool{}
		for _, h := range header {
			if !csvHeaderRe.MatchString(h) || seen[h] {
				t.Errorf("%s.csv: header %q is not a unique snake_case name", tb.Name, h)
			}
			seen[h] = true
		}
		for j, h := range header {
			numeric := false
			for _, vals := range tb.Values {
				switch vals[j].(type) {
				case float64, int:
					numeric = true
				}
			}
			if !numeric {
				continue
			}
			numericCols[tb.Name] = append(numericCols[tb.Name], h)
			for i, rec := range recs[1:] {
				if rec[j] == "" {
					continue
				}
				if _, err := strconv.ParseFloat(rec[j], 64); err != nil {
					t.Errorf("%s.csv row %d column %s: %q is not a number", tb.Name, i+1, h, rec[j])
				}
			}
		}
	}
	want := map[string][]string{
		"ablation-skip":     {"layer", "ppl", "change_pct", "ci_low_pct", "ci_high_pct", "rank", "critical", "anti"},
		"manipulation":      {"strategy", "setting", "alpha", "paper_setting", "ppl", "change_pct", "ci_low_pct", "ci_high_pct"},
		"recovery":          {"layer", "perturbed_ppl", "change_pct", "steps", "recovered", "final_ppl", "importance_pct"},
		"lens":              {"depth", "layer", "loss_nats", "loss_ci_low_nats", "loss_ci_high_nats", "ppl", "kl_nats", "kl_ci_low_nats", "kl_ci_high_nats", "top1_agreement_frac"},
		"blocks":            {"n", "start", "end", "last_token_angle_pi", "all_tokens_angle_pi"},
		"structure-hidden":  {"layer", "angular_distance_pi", "block_influence", "relative_update", "entropy_mean_nats", "entropy_min_head_nats", "entropy_max_head_nats", "entropy_normalised_mean"},
		"predictability-r2": {"type", "elements", "nbr_in_sample_r2", "nbr_held_out_r2", "nbr_null_mean_r2", "nbr_null_q025_r2", "nbr_null_q975_r2"},
	}
	for name, cols := range want {
		var tb *Table
		for _, x := range allTables(rep) {
			if x.Name == name {
				tb = &x
			}
		}
		if tb == nil {
			t.Fatalf("no table %q", name)
		}
		if h := tb.CSVHeader(); len(h) < len(cols) || !slices.Equal(h[:len(cols)], cols) {
			t.Errorf("%s.csv header %v, want %v first", name, h, cols)
		}
	}
	// The raw value, not the formatted one: a change of +63,419% is 63419 in the CSV.
	skip := rep.Ablation.Variant(analysis.AblateSkip).Layers[0]
	raw, _ := os.ReadFile(filepath.Join(dir, "ablation-skip.csv"))
	row := strings.Split(strings.Split(string(raw), "\n")[1], ",")
	if got, _ := strconv.ParseFloat(row[2], 64); got != 100*float64(skip.Change) {
		t.Errorf("ablation-skip.csv change_pct %s, want %v", row[2], 100*float64(skip.Change))
	}

	// The same files through Python's csv module and float(), the way a pandas user's reader
	// sees them (pandas itself is not among the reference packages).
	spec, _ := json.Marshal(numericCols)
	out := testref.RunPython(t, `
import csv, json, os, sys
spec = json.loads(sys.argv[2])
n = 0
for name, cols in spec.items():
    with open(os.path.join(sys.argv[1], name + ".csv"), newline="") as f:
        for row in csv.DictReader(f):
            for c in cols:
                if row[c] != "":
                    float(row[c]); n += 1
print(n)
`, dir, string(spec))
	if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err != nil || n < 100 {
		t.Fatalf("Python read %q numbers", out)
	}
}

// analysis.json follows its documented schema: every list-typed field is a JSON array (never
// null, even when empty), every struct a JSON object; null appears only for undefined numbers
// and absent optional sections.
func TestJSONSchema(t *testing.T) {
	rep, _ := fixture(t)
	dir := t.TempDir()
	if err := rep.WriteJSON(dir); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "analysis.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	checkSchema(t, "analysis.json", reflect.TypeOf(*rep), doc)
	// Lists that are empty in this fixture are there as [].
	m := doc.(map[string]any)
	for _, v := range m["ablation"].(map[string]any)["variants"].([]any) {
		for _, key := range []string{"critical", "anti", "ranking"} {
			if _, ok := v.(map[string]any)[key].([]any); !ok {
				t.Errorf("ablation variant %s: %v", key, v.(map[string]any)[key])
			}
		}
	}
}

var floatType = reflect.TypeOf(analysis.JSONFloat(0))

// checkSchema checks the decoded JSON v against the Go type typ that wrote it.
func checkSchema(t *testing.T, path string, typ reflect.Type, v any) {
	t.Helper()
	if typ == floatType {
		if _, ok := v.(float64); !ok && v != nil {
			t.Errorf("%s: %v is not a number or null", path, v)
		}
		return
	}
	switch typ.Kind() {
	case reflect.Pointer:
		if v != nil {
			checkSchema(t, path, typ.Elem(), v)
		}
	case reflect.Slice:
		if typ.Elem().Kind() == reflect.Uint8 {
			return
		}
		arr, ok := v.([]any)
		if !ok {
			t.Errorf("%s: %v, want a JSON array", path, v)
			return
		}
		for i, x := range arr {
			checkSchema(t, path+"["+strconv.Itoa(i)+"]", typ.Elem(), x)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: %v, want a JSON object", path, v)
			return
		}
		for k, x := range obj {
			checkSchema(t, path+"."+k, typ.Elem(), x)
		}
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: %v, want a JSON object", path, v)
			return
		}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag := strings.Split(f.Tag.Get("json"), ",")
			if !f.IsExported() || tag[0] == "-" {
				continue
			}
			name := tag[0]
			if name == "" {
				name = f.Name
			}
			x, present := obj[name]
			if !present {
				if !slices.Contains(tag[1:], "omitempty") {
					t.Errorf("%s.%s missing", path, name)
				}
				continue
			}
			checkSchema(t, path+"."+name, f.Type, x)
		}
	case reflect.Float64, reflect.Float32, reflect.Int, reflect.Int64, reflect.Uint64:
		if _, ok := v.(float64); !ok {
			t.Errorf("%s: %v is not a number", path, v)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			t.Errorf("%s: %v is not a string", path, v)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			t.Errorf("%s: %v is not a boolean", path, v)
		}
	}
}
