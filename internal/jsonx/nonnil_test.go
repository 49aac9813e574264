package jsonx

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

type inner struct {
	List []int          `json:"list"`
	Opt  []int          `json:"opt,omitempty"`
	M    map[string]int `json:"m"`
	F    Float          `json:"f"`
}

type outer struct {
	A      []string  `json:"a"`
	In     inner     `json:"in"`
	P      *inner    `json:"p"`
	Nilp   *inner    `json:"nilp"`
	Rows   [][]Float `json:"rows"`
	Any    any       `json:"any"`
	Bytes  []byte    `json:"bytes"`
	When   time.Time `json:"when"`
	hidden []int
}

func TestNonNil(t *testing.T) {
	v := outer{P: &inner{List: []int{1}}, Rows: [][]Float{nil, {Float(math.NaN()), 2}}, Any: inner{}, When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), hidden: []int{1}}
	raw, err := json.Marshal(NonNil(v))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":[],"in":{"list":[],"m":{},"f":0},"p":{"list":[1],"m":{},"f":0},"nilp":null,"rows":[[],[null,2]],"any":{"list":[],"m":{},"f":0},"bytes":null,"when":"2026-01-02T03:04:05Z"}`
	if string(raw) != want {
		t.Fatalf("got  %s\nwant %s", raw, want)
	}
	if v.A != nil || v.P.M != nil {
		t.Fatal("NonNil changed its argument")
	}
	if NonNil(nil) != nil {
		t.Fatal("NonNil(nil)")
	}
}
