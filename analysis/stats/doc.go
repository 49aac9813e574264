// Package stats holds the statistics used by the growthtrain diagnostics:
// ridge regression (single- and multi-output, streamed over very long
// feature columns, and element-wise across layers) on one solver and one
// pseudo-inverse, polynomial depth features and their hat matrix, R² and
// leave-one-out R², the cross-layer Gram matrix that gives every fit across
// layers and its shuffled-layer-order nulls from one pass over the weights,
// Pearson/Spearman/Kendall correlations with p-values, layer-delta
// correlations with null models, percentile bootstrap confidence intervals
// (including a jointly resampled perplexity-change CI) and matrix metrics
// (norms, stable and effective rank, cosine similarity).
//
// Everything works on float64 slices or gonum matrices. Functions that use
// randomness take an explicit seed and are deterministic for a given seed
// (math/rand/v2 PCG source).
package stats
