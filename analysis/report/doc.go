// Package report renders diagnostics results: Markdown/CSV tables with
// number-formatting helpers, and PNG plots (gonum/plot) — per-layer bar
// charts with confidence intervals, heatmaps with a colour bar, line plots
// and labelled scatter plots. Non-finite values never panic: tables show
// them as "n/a" and plots leave gaps.
package report
