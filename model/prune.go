package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/growthtrain/growthtrain/bindings/torch"
)

// WithoutLayers returns a new model with the listed decoder layers removed and the others
// renumbered in order (layer 5 of 8 without 3 becomes layer 4), as ShortGPT's and SLEB's block
// removal do. The parameters are copies: m is unchanged. Per-layer settings (the sliding
// window's layer_types) follow their layers. Dropping every layer, a layer out of range or the
// same layer twice is an error.
func (m *Model) WithoutLayers(drop []int) (out *Model, err error) {
	L := m.Config.NumHiddenLayers
	gone := make([]bool, L)
	for _, l := range drop {
		if l < 0 || l >= L {
			return nil, fmt.Errorf("layer %d out of range [0, %d)", l, L)
		}
		if gone[l] {
			return nil, fmt.Errorf("layer %d listed twice", l)
		}
		gone[l] = true
	}
	if len(drop) >= L {
		return nil, fmt.Errorf("cannot drop all %d layers", L)
	}
	cfg := m.Config
	cfg.NumHiddenLayers = L - len(drop)
	cfg.LayerTypes = nil
	newIndex := make([]int, L)
	next := 0
	for l := 0; l < L; l++ {
		newIndex[l] = -1
		if !gone[l] {
			newIndex[l] = next
			next++
			if len(m.Config.LayerTypes) > 0 {
				cfg.LayerTypes = append(cfg.LayerTypes, m.Config.LayerTypes[l])
			}
		}
	}
	names, _ := ParamShapes(cfg)
	params := map[string]*torch.Tensor{}
	defer closeOnError(&err, params)
	defer torch.Recover(&err)
	for l := 0; l < L; l++ {
		if gone[l] {
			continue
		}
		for _, n := range m.LayerParamNames(l) {
			suffix := strings.TrimPrefix(n, LayerPrefix(l))
			params[LayerPrefix(newIndex[l])+suffix] = m.params[n].Detach().Clone()
		}
	}
	for _, n := range m.names {
		if !strings.HasPrefix(n, "model.layers.") {
			params[n] = m.params[n].Detach().Clone()
		}
	}
	for _, n := range names {
		if params[n] == nil {
			return nil, fmt.Errorf("pruned model: no parameter %s", n) // cannot happen: same architecture
		}
	}
	if len(params) != len(names) {
		return nil, fmt.Errorf("pruned model: %d parameters for %d names", len(params), len(names))
	}
	out, err = assemble(cfg, names, params)
	if err != nil {
		return nil, err
	}
	out.Compute = m.Compute
	for l := 0; l < L; l++ {
		if !gone[l] {
			out.Layers[newIndex[l]] = m.Layers[l]
		}
	}
	return out, nil
}

// ParseLayerList reads a comma-separated list of layer indices ("3,5,7"), sorted and without
// duplicates in the result.
func ParseLayerList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var l int
		if _, err := fmt.Sscanf(f, "%d", &l); err != nil || fmt.Sprint(l) != f {
			return nil, fmt.Errorf("layer list %q: %q is not a layer index", s, f)
		}
		if slices.Contains(out, l) {
			return nil, fmt.Errorf("layer list %q: layer %d listed twice", s, l)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("layer list %q names no layer", s)
	}
	slices.Sort(out)
	return out, nil
}
