// Package plotstyle is the one style of data series in growthtrain's figures (the diagnostics'
// report and the sweep's curves): a colour, a dash pattern and a marker per series, distinct in
// colour and in greyscale.
package plotstyle

import (
	"image/color"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// colors are Okabe and Ito's colours, reordered so that neighbours differ in lightness too,
// with their yellow (unreadable as a thin line on white) replaced by Tol's wine.
var colors = []color.NRGBA{
	{0, 114, 178, 255},   // blue
	{213, 94, 0, 255},    // vermillion
	{0, 158, 115, 255},   // bluish green
	{204, 121, 167, 255}, // reddish purple
	{0, 0, 0, 255},       // black
	{230, 159, 0, 255},   // orange
	{86, 180, 233, 255},  // sky blue
	{136, 34, 85, 255},   // wine (Tol), for Okabe-Ito's yellow, which vanishes on white
}

var dashes = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(3)},
	{vg.Points(1.5), vg.Points(2.5)},
	{vg.Points(7), vg.Points(2.5), vg.Points(1.5), vg.Points(2.5)},
	{vg.Points(11), vg.Points(3.5)},
}

var glyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{},
	draw.RingGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.PlusGlyph{}}

// Color, Dashes and Glyph give series i its style; the three cycle with different periods, so
// two series never share all three. Color is opaque and non-premultiplied: set A for a
// translucent fill (a confidence band) of the same hue.
func Color(i int) color.NRGBA { return colors[i%len(colors)] }

// Dashes is series i's dash pattern (nil: solid).
func Dashes(i int) []vg.Length { return dashes[i%len(dashes)] }

// Glyph is series i's marker. It shifts by one every full round of colours: glyphs and colours
// both have eight, so series 8 would otherwise repeat series 0's colour and marker.
func Glyph(i int) draw.GlyphDrawer { return glyphs[(i+i/len(colors))%len(glyphs)] }
