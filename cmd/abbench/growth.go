package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// maxGrowthExponent is how fast a sync may grow with its size: time ~
// size^k with k at most this, linear with some slack for the B-trees'
// logarithm and the page cache a bigger database no longer fits in.
const maxGrowthExponent = 1.15

// parseSizes reads --growth: sizes separated by commas, in increasing order.
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(f, "_", "")))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--growth: %q is not a size (a positive number of members)", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("--growth: sizes must increase, %d comes after %d", n, out[len(out)-1])
		}
		out = append(out, n)
	}
	return out, nil
}

// growthPhase runs the sync phase at each size (as many recipients as
// members), one fresh database each.
func growthPhase(ctx context.Context, database string, sizes []int, opt syncOptions, repeat int) ([]result, error) {
	var out []result
	for _, n := range sizes {
		opt.members = n
		rs, err := syncPhase(ctx, database, planSync(n, n), opt, repeat, false)
		out = append(out, rs...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// runGrowth measures the sync at each size, prints the sync table and the
// growth table, and fails when a step grew faster than maxGrowthExponent.
func runGrowth(ctx context.Context, stdout io.Writer, database string, sizes []int, opt syncOptions, repeat int, out string) error {
	results, err := growthPhase(ctx, database, sizes, opt, repeat)
	if perr := printResults(stdout, results, 1); perr != nil {
		return perr
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	linear, err := printGrowth(stdout, results)
	if err != nil {
		return err
	}
	if out != "" {
		if err := writeResults(out, results); err != nil {
			return err
		}
	}
	for _, r := range results {
		if r.Check != "ok" {
			return fmt.Errorf("%s of %d members: counts differ from the generated data: %s", r.Step, r.Rows, r.Check)
		}
	}
	if !linear {
		return fmt.Errorf("a sync grew faster than size^%.2f", maxGrowthExponent)
	}
	return nil
}

// printGrowth writes how each sync step's median time grows from one size
// to the next, as the exponent k of time ~ size^k (1 is linear), and says
// whether every step stayed within maxGrowthExponent.
func printGrowth(w io.Writer, results []result) (bool, error) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "database\tstep\tmembers\truns\tmedian s\tmembers/s\tsize ×\ttime ×\texponent\ttarget\t")
	linear := true
	for _, step := range []string{"sync", "re-sync"} {
		var prevSize, prevSecs float64
		gs := growthMedians(results, step)
		for _, g := range gs {
			row := fmt.Sprintf("%s\t%s\t%d\t%d\t%.2f\t%.0f\t", g.database, step, g.size, g.runs, g.seconds, float64(g.size)/g.seconds)
			size := float64(g.size)
			if prevSize == 0 {
				row += "-\t-\t-\t-\t"
			} else {
				k := math.Log(g.seconds/prevSecs) / math.Log(size/prevSize)
				row += fmt.Sprintf("%.1f\t%.1f\t%.2f\t-\t", size/prevSize, g.seconds/prevSecs, k)
			}
			fmt.Fprintln(tw, row)
			prevSize, prevSecs = size, g.seconds
		}
		if len(gs) < 2 {
			continue
		}
		// The verdict is the fit over every size: a step between two
		// sizes, the smaller of which takes a fraction of a second, moves
		// with the noise of the machine.
		k := growthExponent(gs)
		verdict := "met"
		if k > maxGrowthExponent {
			verdict, linear = fmt.Sprintf("MISSED: > %.2f", maxGrowthExponent), false
		}
		first, last := gs[0], gs[len(gs)-1]
		fmt.Fprintf(tw, "%s\t%s\tall sizes\t\t\t\t%.0f\t%.0f\t%.2f\t%s\t\n", first.database, step,
			float64(last.size)/float64(first.size), last.seconds/first.seconds, k, verdict)
	}
	return linear, tw.Flush()
}

// growthExponent is the slope of log(time) against log(size), by least
// squares: k in time ~ size^k.
func growthExponent(gs []growthMedian) float64 {
	var sx, sy, sxx, sxy float64
	for _, g := range gs {
		x, y := math.Log(float64(g.size)), math.Log(g.seconds)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	n := float64(len(gs))
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

type growthMedian struct {
	database string
	size     int64
	runs     int
	seconds  float64
}

// growthMedians is a step's median time at each size, in the order the
// sizes ran.
func growthMedians(results []result, step string) []growthMedian {
	var out []growthMedian
	secs := map[int64][]float64{}
	for _, r := range results {
		if r.Step != step {
			continue
		}
		if _, seen := secs[r.Rows]; !seen {
			out = append(out, growthMedian{database: r.Database, size: r.Rows})
		}
		secs[r.Rows] = append(secs[r.Rows], r.Seconds)
	}
	for i := range out {
		out[i].runs, out[i].seconds = len(secs[out[i].size]), mid(secs[out[i].size])
	}
	return out
}
