// Package paper holds what "Anatomical Heterogeneity in Transformer Language Models"
// (T. Wietrzykowski, arXiv 2603.19348, March 2026) reports for SmolLM2-135M: its reference
// numbers as it states them, the layers it names, and the rules by which a result of package
// analysis counts as reproducing each claim. Everything here is data or a pure function of
// analysis results; package report puts it beside our numbers (report.md's headline and the
// tables of growthtrain reproduce). Only the abstract and secondary summaries of the paper are
// available (shared/paper-notes.md); the figures below are the ones those state.
package paper

import (
	"fmt"
	"slices"
	"strings"

	"github.com/growthtrain/growthtrain/analysis"
	"github.com/growthtrain/growthtrain/model"
)

// A Figure is a number the paper reports. Text quotes it as the paper states it (and as our
// tables print it); Value is the number the verdict rules compare with, a fraction where Text is
// a percentage.
type Figure struct {
	Text  string
	Value float64
}

// NumLayers is the depth of the paper's model, SmolLM2-135M. Its layer numbers (CriticalCore,
// AntiLayers, ...) name layers of a model this deep; on another depth they name nothing.
const NumLayers = 30

// Shaped reports whether a model has SmolLM2-135M's shape (model.SmolLM2_135M: 30 layers,
// hidden 576, 9 query and 3 key-value heads, MLP 1536, vocabulary 49152), the only models the
// paper's numbers and layer ids can be compared with; otherwise it also says how c differs.
func Shaped(c model.Config) (bool, string) {
	want := model.SmolLM2_135M()
	var diff []string
	check := func(name string, got, ref int) {
		if got != ref {
			diff = append(diff, fmt.Sprintf("%s %d (SmolLM2-135M: %d)", name, got, ref))
		}
	}
	check("layers", c.NumHiddenLayers, want.NumHiddenLayers)
	check("hidden size", c.HiddenSize, want.HiddenSize)
	check("attention heads", c.NumAttentionHeads, want.NumAttentionHeads)
	check("key-value heads", c.NumKeyValueHeads, want.NumKeyValueHeads)
	check("MLP size", c.IntermediateSize, want.IntermediateSize)
	check("vocabulary", c.VocabSize, want.VocabSize)
	return len(diff) == 0, strings.Join(diff, ", ")
}

// Ablation (the layer's weights replaced by the mean of its neighbours': analysis.
// AblateNeighbourAverage) on the paper's ten sentences.
var (
	// BaselinePPL is the unablated perplexity.
	BaselinePPL = Figure{"22.60", 22.60}
	// CriticalCore are the layers whose removal is catastrophic.
	CriticalCore = []int{8, 9, 10, 11}
	// MostImportant is the worst layer to remove, at MostImportantChange in perplexity.
	MostImportant       = 11
	MostImportantChange = Figure{"+63,419%", 634.19}
	// AntiLayers are the layers whose removal lowers perplexity, each by AntiLayerChange.
	AntiLayers      = []int{14, 17}
	AntiLayerChange = Figure{"-0.6%", -0.006}
	// ImportanceRange is the span of the layers' importance, in decades ("a 10^7 range").
	ImportanceRange = Figure{"10^7", 7}
)

// Weight predictability across depth.
var (
	// R2Type is the one weight type the paper quotes an R² for, GateProjR2 (method and
	// in-sample or held-out not stated).
	R2Type     = "gate_proj"
	GateProjR2 = Figure{"0.91", 0.91}
	// DeltaCorrelation is the correlation of consecutive layer deltas, the paper's "universal
	// oscillatory delta pattern" (DeltaPattern). For independent layers it is -0.5 by
	// construction (stats.IndependentDeltaNull).
	DeltaCorrelation = Figure{"-0.50", -0.50}
	DeltaPattern     = "universal oscillatory delta pattern"
	// SubstitutedOnePPL is the perplexity with one layer replaced by its prediction; with
	// SubstitutedManyLayers or more replaced it exceeds SubstitutedManyPPL.
	SubstitutedOnePPL     = Figure{"26.22", 26.22}
	SubstitutedManyLayers = 9
	SubstitutedManyPPL    = Figure{"100,000", 1e5}
)

// Recovery after 50% noise on one layer: the slow layers take about SlowRecoverySteps fine-tuning
// steps, the fast ones FastRecoverySteps; recovery speed correlates with importance.
var (
	SlowRecovery      = []int{8, 11}
	SlowRecoverySteps = Figure{"200", 200}
	FastRecovery      = []int{14, 17}
	FastRecoverySteps = Figure{"0", 0}
)

// RecoveryLayers are the layers the paper reports a recovery for, ascending.
func RecoveryLayers() []int {
	l := append(slices.Clone(SlowRecovery), FastRecovery...)
	slices.Sort(l)
	return l
}

// RecoverySteps returns the paper's recovery steps for a layer of NumLayers, and whether it
// reports any.
func RecoverySteps(layer int) (Figure, bool) {
	switch {
	case slices.Contains(SlowRecovery, layer):
		return SlowRecoverySteps, true
	case slices.Contains(FastRecovery, layer):
		return FastRecoverySteps, true
	}
	return Figure{}, false
}

// Weight manipulation of the redundant layers: of five strategies only scaling by ScaleAlpha
// (analysis.PaperAlpha, the setting analysis.Manipulation marks) preserves quality, at
// ScaleChange in perplexity; the other four (not named) cost OtherManipulations.
var (
	ScaleAlpha         = analysis.PaperAlpha
	ScaleChange        = Figure{"+19%", 0.19}
	OtherManipulations = "millions of %"
)

// Growth training, proof of concept (12 layers, 9.57M parameters, equal steps): validation loss
// GrowthValLoss against UniformValLoss for uniform training, a LossRatio-fold improvement, for
// GrowthCostReduction fewer layer-steps than uniform training, and GrowthSpeedup faster.
var (
	GrowthValLoss       = Figure{"0.127", 0.127}
	UniformValLoss      = Figure{"0.599", 0.599}
	LossRatio           = Figure{"4.7x", 4.7}
	GrowthCostReduction = Figure{"54%", 0.54}
	GrowthSpeedup       = Figure{"13%", 0.13}
)

// LayerRange writes consecutive layers as the paper does ("L8-L11"); a single layer is "L8".
func LayerRange(layers []int) string {
	switch len(layers) {
	case 0:
		return "none"
	case 1:
		return fmt.Sprintf("L%d", layers[0])
	}
	return fmt.Sprintf("L%d-L%d", layers[0], layers[len(layers)-1])
}
