package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Targets of the sync phase (issue 9) and the export phase (issue 6): a
// sync or an export takes at most twice the shell's time, an import three
// times, in less than 300 MB.
const (
	maxSyncRatio   = 2.0
	maxImportRatio = 3.0
	maxPeakRSSMB   = 300
)

func isSync(r result) bool { return r.Step == "sync" || r.Step == "re-sync" }

func isImport(r result) bool { return r.Step == "import" || r.Step == "re-import" }

// printResults writes a table per phase, then, when there were several
// runs, the medians of each step.
func printResults(stdout io.Writer, results []result, runs int) error {
	var imports, syncs, exports, pages []result
	for _, r := range results {
		switch {
		case isPage(r):
			pages = append(pages, r)
		case isSync(r):
			syncs = append(syncs, r)
		case isExport(r):
			exports = append(exports, r)
		default:
			imports = append(imports, r)
		}
	}
	var tables []func(*tabwriter.Writer)
	if len(imports) > 0 {
		tables = append(tables, func(tw *tabwriter.Writer) {
			fmt.Fprintln(tw, "database\trun\tstep\trows\tseconds\trows/s\tsqlite3 s\tratio\tcreated\tupdated\tskipped\trejected\tcpu s\tpeak RSS MB\twritten MB\ttarget\tcheck\t")
			for _, r := range imports {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%.2f\t%.0f\t%s\t%s\t%d\t%d\t%d\t%d\t%.1f\t%.0f\t%.0f\t%s\t%s\t\n", r.Database, r.Run, r.Step, r.Rows, r.Seconds, r.RowsPerS,
					orDash("%.2f", r.Baseline), orDash("%.2f", r.Ratio), r.Created, r.Updated, r.Skipped, r.Rejected, r.CPUSecs, r.PeakRSSMB, r.WrittenMB, target(r), r.Check)
			}
		})
	}
	if len(syncs) > 0 {
		tables = append(tables, func(tw *tabwriter.Writer) {
			fmt.Fprintln(tw, "database\trun\tstep\tmembers\tseconds\tmembers/s\tsqlite3 s\tratio\treceived\treconciled\tadded\tremoved\tsize\tcpu s\tpeak RSS MB\tsqlite3 RSS MB\ttarget\tcheck\t")
			for _, r := range syncs {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%.2f\t%.0f\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.0f\t%s\t%s\t%s\t\n", r.Database, r.Run, r.Step, r.Rows, r.Seconds, r.RowsPerS,
					orDash("%.2f", r.Baseline), orDash("%.2f", r.Ratio), r.Received, r.Reconciled, r.Added, r.Removed, r.ListSize, r.CPUSecs, r.PeakRSSMB,
					orDash("%.0f", r.BaselineRSSMB), target(r), r.Check)
			}
		})
	}
	if len(exports) > 0 {
		tables = append(tables, func(tw *tabwriter.Writer) {
			fmt.Fprintln(tw, "database\trun\tstep\trecipients\tseconds\trecipients/s\tsqlite3 s\tratio\ttargeted\texported\tcomplement\tadded\tsize\tcpu s\tpeak RSS MB\tsqlite3 RSS MB\ttarget\tcheck\t")
			for _, r := range exports {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%.2f\t%.0f\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.0f\t%s\t%s\t%s\t\n", r.Database, r.Run, r.Step, r.Rows, r.Seconds, r.RowsPerS,
					orDash("%.2f", r.Baseline), orDash("%.2f", r.Ratio), r.Received, r.Reconciled, r.NotRecognized, r.Added, r.ListSize, r.CPUSecs, r.PeakRSSMB,
					orDash("%.0f", r.BaselineRSSMB), target(r), r.Check)
			}
		})
	}
	if len(pages) > 0 {
		tables = append(tables, pagesTable(pages))
	}
	if meds := medians(slices.DeleteFunc(slices.Clone(results), isPage)); runs > 1 && len(meds) > 0 {
		tables = append(tables, func(tw *tabwriter.Writer) {
			fmt.Fprintln(tw, "database\tstep\truns\tmedian s\trows/s\tsqlite3 s\tratio\tmax peak RSS MB\ttarget\t")
			for _, m := range meds {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.0f\t%s\t%s\t%.0f\t%s\t\n", m.Database, m.Step, m.runs, m.Seconds, m.RowsPerS,
					orDash("%.2f", m.Baseline), orDash("%.2f", m.Ratio), m.PeakRSSMB, target(m.result))
			}
		})
	}
	for i, table := range tables {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		table(tw)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func orDash(format string, v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// median is a step's figures over its runs: median times and ratio (the
// median of the runs' ratios), the highest peak.
type median struct {
	result
	runs int
}

// medians summarises each step over the runs, in their order.
func medians(results []result) []median {
	var out []median
	for _, r := range results {
		i := slices.IndexFunc(out, func(m median) bool { return m.Database == r.Database && m.Step == r.Step })
		if i < 0 {
			out = append(out, median{result: result{Database: r.Database, Step: r.Step}})
			i = len(out) - 1
		}
		out[i].runs++
		out[i].PeakRSSMB = max(out[i].PeakRSSMB, r.PeakRSSMB)
	}
	for i := range out {
		m := &out[i]
		var secs, rate, base, ratio []float64
		for _, r := range results {
			if r.Database == m.Database && r.Step == m.Step {
				secs, rate, base, ratio = append(secs, r.Seconds), append(rate, r.RowsPerS), append(base, r.Baseline), append(ratio, r.Ratio)
			}
		}
		m.Seconds, m.RowsPerS, m.Baseline, m.Ratio = mid(secs), mid(rate), mid(base), mid(ratio)
	}
	return out
}

// mid is the median of xs.
func mid(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// target says whether a step met the targets: a ratio for the imports,
// syncs and exports, the peak memory for every step.
func target(r result) string {
	ratio := maxSyncRatio
	switch {
	case isImport(r):
		ratio = maxImportRatio
	case !isSync(r) && !isExport(r):
		ratio = 0
	}
	var missed []string
	if ratio > 0 && r.Baseline > 0 && r.Ratio > ratio {
		missed = append(missed, fmt.Sprintf("ratio > %.0f", ratio))
	}
	if r.PeakRSSMB >= maxPeakRSSMB {
		missed = append(missed, fmt.Sprintf("RSS >= %d MB", maxPeakRSSMB))
	}
	if len(missed) == 0 {
		return "met"
	}
	return "MISSED: " + strings.Join(missed, ", ")
}
