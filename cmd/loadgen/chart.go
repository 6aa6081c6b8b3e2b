package main

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// palette colours the scenarios' lines, in order (Okabe and Ito's
// colour-blind safe set with a darker yellow, then grey).
var palette = []color.RGBA{
	{0x00, 0x72, 0xb2, 0xff}, {0xe6, 0x9f, 0x00, 0xff}, {0x00, 0x9e, 0x73, 0xff},
	{0xd5, 0x5e, 0x00, 0xff}, {0xcc, 0x79, 0xa7, 0xff}, {0x56, 0xb4, 0xe9, 0xff},
	{0x99, 0x66, 0x00, 0xff}, {0x00, 0x00, 0x00, 0xff}, {0x88, 0x88, 0x88, 0xff},
}

// routeLineWidth is the width of the scenarios' lines, wider than the
// axes' and the grid's so they stand out (and can be told apart in tests).
var routeLineWidth = vg.Points(1.75)

// chart draws req/s against users, both on log scales, one line per
// scenario with a dot per size; the floors' lines are dashed.
func chart(rows []row) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Throughput against store size (each request as a random signed-in user)"
	p.X.Label.Text = "users in the store"
	p.Y.Label.Text = "requests per second"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = false
	p.Add(plotter.NewGrid())

	sizes := sizesOf(rows)
	lo, hi := 0.0, 0.0
	for i, name := range scenarioNames(rows) {
		var pts plotter.XYs
		floor := false
		for _, w := range rows {
			// A log scale has no place for 0 req/s: such a point is left out.
			if w.scenario == name && w.res.perSecond() > 0 {
				pts = append(pts, plotter.XY{X: float64(w.users), Y: w.res.perSecond()})
				floor = w.floor
			}
		}
		if len(pts) == 0 {
			continue
		}
		for _, pt := range pts {
			lo, hi = minNonZero(lo, pt.Y), max(hi, pt.Y)
		}
		line, dots, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("chart %q: %w", name, err)
		}
		c := palette[i%len(palette)]
		line.Color, line.Width = c, routeLineWidth
		if floor {
			line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		dots.Color, dots.Shape, dots.Radius = c, draw.CircleGlyph{}, vg.Points(2.5)
		p.Add(line, dots)
		p.Legend.Add(name, line, dots)
	}
	if len(sizes) == 0 || hi == 0 {
		return nil, fmt.Errorf("chart: nothing to draw")
	}
	// Room around the points, and a range even when there is one size.
	p.X.Min, p.X.Max = float64(slices.Min(sizes))/2, float64(slices.Max(sizes))*2
	p.Y.Min, p.Y.Max = lo/2, hi*8 // the legend sits in the space above
	var ticks plot.ConstantTicks
	for _, n := range sizes {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: thousands(n)})
	}
	p.X.Tick.Marker = ticks
	return p, nil
}

// thousands formats n with commas: 100000 is "100,000".
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func minNonZero(a, b float64) float64 {
	if a == 0 {
		return b
	}
	return min(a, b)
}

// writeSVG draws rows as an SVG of 24×15 cm to out.
func writeSVG(out io.Writer, rows []row) error {
	p, err := chart(rows)
	if err != nil {
		return err
	}
	c := vgsvg.New(24*vg.Centimeter, 15*vg.Centimeter)
	p.Draw(draw.New(c))
	_, err = c.WriteTo(out)
	return err
}

func writeChart(path string, rows []row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeSVG(f, rows); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
