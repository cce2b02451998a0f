package main

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// plotLatency draws, for every cross-process transport, the one-way
// latency at each percentile (x: percentile on a "nines" scale, so the tail
// gets room; y: latency, log scale).
func plotLatency(r *Results, path string) error {
	p := plot.New()
	p.Title.Text = "One-way latency between two processes, 64 B (round trip / 2)"
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ns)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Scale = ninesScale{}
	p.X.Tick.Marker = ninesTicks{}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	for i, x := range r.Xproc {
		n := len(x.oneWay)
		if n == 0 {
			continue
		}
		var pts plotter.XYs
		for k := 0; k < 400; k++ {
			// Percentiles spread evenly on the nines scale, up to the
			// largest one the sample count resolves.
			q := 1 - math.Pow(10, -4*float64(k)/399)
			if q > 1-1/float64(n) {
				break
			}
			pts = append(pts, plotter.XY{X: q, Y: max(quantile(x.oneWay, q), 1)})
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		if x.Blocking {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(l)
		p.Legend.Add(x.Name, l)
	}
	p.Legend.TextStyle.Color = color.Black
	// Two decades of headroom on top: the legend sits there, top left,
	// where no line goes (every line starts low at p0).
	p.Y.Max *= 100
	return p.Save(9*vg.Inch, 5.5*vg.Inch, path)
}

// ninesScale maps a percentile q in [0, 1) to -log10(1-q): 0.9 → 1,
// 0.99 → 2, 0.999 → 3.
type ninesScale struct{}

func (ninesScale) Normalize(min, max, x float64) float64 {
	f := func(q float64) float64 { return -math.Log10(1 - math.Min(q, 0.99999)) }
	lo, hi := f(min), f(max)
	return (f(x) - lo) / (hi - lo)
}

type ninesTicks struct{}

func (ninesTicks) Ticks(min, max float64) []plot.Tick {
	var t []plot.Tick
	for _, q := range []struct {
		v     float64
		label string
	}{{0, "p0"}, {0.5, "p50"}, {0.9, "p90"}, {0.99, "p99"}, {0.999, "p99.9"}, {0.9999, "p99.99"}} {
		if q.v >= min && q.v <= max {
			t = append(t, plot.Tick{Value: q.v, Label: q.label})
		}
	}
	return t
}
