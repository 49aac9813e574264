// Package report renders the results of package analysis: per diagnostic its Markdown/CSV
// tables (XxxTables) and PNG plots (XxxPlots), Write for the files beside analysis.json and
// report.md with the headline findings next to the paper's claims (package paper), and the
// paper-vs-here tables of growthtrain reproduce (PaperTable, GrowthTable). Its generic parts
// are the Table type (Markdown, CSV) and the plots (gonum/plot): per-layer bar charts with
// confidence intervals, heatmaps with a colour bar, line plots and labelled scatter plots.
// Numbers are formatted by internal/numfmt. Non-finite values never panic: tables show them as
// "n/a" and plots leave gaps.
package report
