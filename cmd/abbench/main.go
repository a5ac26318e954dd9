// Command abbench measures Audience Bridge against the database it runs on,
// in three phases (--phase import, sync, export or all, the default).
//
// The import phase writes a CSV file of --rows generated recipients,
// uploads it, imports it with importer.Run (no job engine), then uploads
// and imports the same file again (every row then exists: the update path).
// Each import is measured beside the sqlite3 shell on a copy of the
// database in the same state: .import of the file into a new table, then
// INSERT ... SELECT of the recipients and their visitor IDs from it.
//
// The sync phase fills a fresh database with set-based SQL (--rows
// recipients, 80% with a visitor ID; a segment of --members members of the
// embedded library, 70% of them a recipient's visitor ID), creates a
// shared-audience list on it and runs its importSharedAudience job with the
// real worker twice: the first sync (every reconciled recipient is added),
// then a re-sync of the unchanged audience (nothing added or removed). Each
// is measured beside a baseline in the same run: Debian's sqlite3 shell, on
// a copy of the database in the same state, loading the same identifiers
// into a new table (.import) and INSERT ... SELECT-ing their join with the
// visitor IDs into the list's members. The baseline needs the sqlite3
// command (apt-get install -y sqlite3); --baseline=false measures without.
//
// Each step's counts are checked against what the generator planned. The
// tables show times, the ratio ours/baseline, CPU time, peak memory (VmHWM,
// reset before each step; the shell's is its own) and bytes written; the
// same figures go to bench/results.json. With --phase all the sync phase
// runs in a process of its own, so the memory the import phase leaves
// behind does not count in its peak.
//
//	go run ./cmd/abbench                      # a million rows and members on SQLite
//	go run ./cmd/abbench --phase sync --members 100000 --rows 100000 --cpuprofile cpu.out
//	go run ./cmd/abbench --rows 100000 --repeat 3 --cpuprofile cpu.out
//	./.ci/with-postgres bash -c 'go run ./cmd/abbench --database "$AB_TEST_POSTGRES"'
//
// The export phase generates --rows recipients as the sync phase does and
// runs a workflow targeting all of them into a new shared audience with the
// real worker: the first export (every visitor ID is added), then a re-run
// into the now-existing audience (nothing added). The baseline is the
// sqlite3 shell, on a copy of the database in the same state, INSERT ...
// SELECT-ing the visitor IDs into a segment's members. With --phase all it
// too runs in a process of its own.
//
// With --growth 100000,1000000,5000000 it runs only the sync phase, once at
// each size (as many recipients as members), and prints how the time grows
// from one size to the next as the exponent k of time ~ size^k: 1 is
// linear, and above 1.15 the run fails.
//
// The pages phase (pagesphase.go) generates --rows recipients as the sync
// phase does, 200 regular lists (one of 70% of them), 10 shared-audience
// lists synchronised once and ~1,000 segments, starts the console as serve
// does on a localhost listener, signs --sessions operators in through the
// login form and has them ask for each page (the lists, the recipients'
// first page, a deep one through the pager, a search, the library, the
// largest list's members first and deep) for --duration: p50, p99 and
// requests/s against the 50 ms target. The load phase (loadphase.go) has
// --load-sessions browse a mix of those pages and their HTMX fragments for
// --load-duration while shared audiences change and sync one after the
// other with the real worker; any 5xx or locked database fails it. With
// --phase all both run, each in a process of its own.
//
// A PostgreSQL URL names a server: each run creates a database of its own
// there and drops it afterwards (--keep keeps the last one for EXPLAIN). The
// sync phase has no baseline on PostgreSQL.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"audiencebridge/importer"
	"audiencebridge/models"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "abbench:", err)
		os.Exit(1)
	}
}

// result is one measured step.
type result struct {
	Database  string  `json:"database"`
	Run       int     `json:"run"`
	Step      string  `json:"step"`
	Rows      int64   `json:"rows"` // CSV rows, or a sync's members
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	RowsPerS  float64 `json:"rowsPerSecond"`
	Created   int64   `json:"created"`
	Updated   int64   `json:"updated"`
	Skipped   int64   `json:"skipped"`
	Rejected  int64   `json:"rejected"`
	PeakRSSMB float64 `json:"peakRssMB"`
	AllocMB   float64 `json:"allocatedMB"` // Go heap allocated during the step
	CPUSecs   float64 `json:"cpuSeconds"`  // user and system time of the process
	WrittenMB float64 `json:"writtenMB"`   // bytes the process wrote (wchar), the database's files among them
	Check     string  `json:"check"`

	// A sync's run record, and the baseline beside it.
	Received      int64   `json:"received,omitempty"`
	Reconciled    int64   `json:"reconciled,omitempty"`
	NotRecognized int64   `json:"notRecognized,omitempty"`
	Added         int64   `json:"added,omitempty"`
	Removed       int64   `json:"removed,omitempty"`
	ListSize      int64   `json:"listSize,omitempty"`
	Baseline      float64 `json:"baselineSeconds,omitempty"`
	Ratio         float64 `json:"ratio,omitempty"` // Seconds / Baseline
	BaselineRSSMB float64 `json:"baselinePeakRssMB,omitempty"`

	// A page's latencies (the pages and load phases, pagesphase.go).
	Phase    string  `json:"phase,omitempty"`
	Path     string  `json:"path,omitempty"`
	Sessions int     `json:"sessions,omitempty"`
	Requests int64   `json:"requests,omitempty"`
	RPS      float64 `json:"requestsPerSecond,omitempty"`
	P50Ms    float64 `json:"p50Ms,omitempty"`
	P99Ms    float64 `json:"p99Ms,omitempty"`
	MaxMs    float64 `json:"maxMs,omitempty"`
	// The same without the requests that search (a substring search reads
	// every row), when some did.
	BrowseP50Ms float64 `json:"browseP50Ms,omitempty"`
	BrowseP99Ms float64 `json:"browseP99Ms,omitempty"`
	Errors5xx   int64   `json:"errors5xx,omitempty"`
	Locked      int64   `json:"databaseLocked,omitempty"`
	Syncs       int64   `json:"syncs,omitempty"`
	SyncsFailed int64   `json:"syncsFailed,omitempty"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("abbench", flag.ContinueOnError)
	phase := fs.String("phase", "all", "what to measure: import (the recipient CSV import), sync (the import sync of a shared audience), export (a workflow exporting every recipient), pages (console page latencies), load (browsing during syncs) or all")
	rows := fs.Int("rows", 1_000_000, "data rows in the generated file; recipients in the sync phase's database")
	members := fs.Int("members", 1_000_000, "members of the sync phase's segment")
	withBaseline := fs.Bool("baseline", true, "measure the sqlite3 shell beside each import, sync and export (SQLite only)")
	database := fs.String("database", "", "a postgres:// URL of a server (a database is created on it for each run), or an SQLite file that does not exist yet; default: a temporary SQLite file")
	repeat := fs.Int("repeat", 1, "how many times to run the whole measurement, each on a fresh database")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the imports to this file, and of each sync step to this name with the step inserted (cpu.sync.out)")
	growth := fs.String("growth", "", "instead of the phases, run the sync phase at each of these sizes (members and recipients, comma-separated, such as 100000,1000000,5000000) and print how its time grows")
	memProfile := fs.String("memprofile", "", "write an allocation profile to this file at the end (of the import phase, with --phase all)")
	out := fs.String("out", "bench/results.json", "where to write the results as JSON (empty: nowhere)")
	keep := fs.Bool("keep", false, "keep the database of the last run for EXPLAIN, and print its --database value (needs --database)")
	pagesOpt := pagesFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rows < 1 || *repeat < 1 || *members < 1 {
		return errors.New("--rows, --members and --repeat must be at least 1")
	}
	doImport, doSync, doExport := *phase == "import" || *phase == "all", *phase == "sync" || *phase == "all", *phase == "export" || *phase == "all"
	doPages, doLoad := *phase == "pages" || *phase == "all", *phase == "load" || *phase == "all"
	if !doImport && !doSync && !doExport && !doPages && !doLoad {
		return fmt.Errorf("--phase %q: choose import, sync, export, pages, load or all", *phase)
	}
	if *keep && *database == "" {
		return errors.New("--keep needs --database: the default database is a temporary file")
	}
	sqlite := !models.IsPostgresURL(*database)
	if (doImport || doSync || doExport) && *withBaseline && sqlite {
		if _, err := exec.LookPath("sqlite3"); err != nil {
			return errNoShell
		}
	}
	tmp, err := os.MkdirTemp("", "abbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	if *growth != "" {
		sizes, err := parseSizes(*growth)
		if err != nil {
			return err
		}
		return runGrowth(ctx, stdout, *database, sizes, syncOptions{baseline: *withBaseline, tmp: tmp, cpuProfile: *cpuProfile}, *repeat, *out)
	}
	var results []result
	if doImport {
		rs, err := importPhase(ctx, *database, tmp, *rows, *repeat, *cpuProfile, *keep, *withBaseline)
		results = append(results, rs...)
		if err != nil {
			return err
		}
	}
	if doSync {
		database := *database
		if doImport && database != "" && sqlite {
			database = strings.TrimSuffix(database, filepath.Ext(database)) + "-sync" + filepath.Ext(database)
		}
		var rs []result
		if doImport {
			// A process of its own: what the import phase freed but the C
			// allocator kept would count in the sync's peak memory.
			rs, err = syncInChild(ctx, fs, "sync", database, tmp)
		} else {
			opt := syncOptions{members: *members, baseline: *withBaseline, tmp: tmp, cpuProfile: *cpuProfile}
			rs, err = syncPhase(ctx, database, planSync(*rows, *members), opt, *repeat, *keep)
		}
		results = append(results, rs...)
		if err != nil {
			return err
		}
	}
	if doExport {
		database := *database
		if *phase == "all" && database != "" && sqlite {
			database = strings.TrimSuffix(database, filepath.Ext(database)) + "-export" + filepath.Ext(database)
		}
		var rs []result
		if *phase == "all" {
			rs, err = syncInChild(ctx, fs, "export", database, tmp)
		} else {
			opt := syncOptions{baseline: *withBaseline, tmp: tmp, cpuProfile: *cpuProfile}
			rs, err = exportPhase(ctx, database, planExport(*rows), opt, *repeat, *keep)
		}
		results = append(results, rs...)
		if err != nil {
			return err
		}
	}
	for _, p := range []struct {
		name string
		do   bool
	}{{"pages", doPages}, {"load", doLoad}} {
		if !p.do {
			continue
		}
		database := *database
		if *phase == "all" && database != "" && sqlite {
			database = strings.TrimSuffix(database, filepath.Ext(database)) + "-" + p.name + filepath.Ext(database)
		}
		var rs []result
		if *phase == "all" {
			rs, err = syncInChild(ctx, fs, p.name, database, tmp)
		} else {
			pagesOpt.tmp, pagesOpt.cpuProfile = tmp, *cpuProfile
			rs, err = pagesPhase(ctx, database, *rows, pagesOpt, *repeat, *keep, p.name == "load")
		}
		results = append(results, rs...)
		if err != nil {
			return err
		}
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}

	if err := printResults(stdout, results, *repeat); err != nil {
		return err
	}
	if *out != "" {
		if err := writeResults(*out, results); err != nil {
			return err
		}
	}
	for _, r := range results {
		if r.Check != "ok" {
			if isPage(r) {
				return fmt.Errorf("%s run %d: %s", r.Step, r.Run, r.Check)
			}
			return fmt.Errorf("%s run %d: counts differ from the generated data: %s", r.Step, r.Run, r.Check)
		}
	}
	return nil
}

// importPhase measures the recipient CSV import on fresh databases.
func importPhase(ctx context.Context, database, tmp string, rows, repeat int, cpuProfile string, keep, withBaseline bool) ([]result, error) {
	file := filepath.Join(tmp, "recipients.csv")
	start := time.Now()
	want, err := generate(file, rows, 1)
	if err != nil {
		return nil, fmt.Errorf("generate the file: %w", err)
	}
	defer os.Remove(file)
	fmt.Fprintf(os.Stderr, "abbench: generated %d rows (%d good, %d bad) in %.1fs\n", rows, want.good, want.rejected, time.Since(start).Seconds())

	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	return onFreshDatabases(ctx, database, tmp, "run", repeat, keep, func(dsn string, i int) ([]result, error) {
		return measure(ctx, dsn, file, want, i, tmp, withBaseline)
	})
}

// syncPhase measures the import sync on fresh databases.
func syncPhase(ctx context.Context, database string, want syncWant, opt syncOptions, repeat int, keep bool) ([]result, error) {
	return onFreshDatabases(ctx, database, opt.tmp, "sync", repeat, keep, func(dsn string, i int) ([]result, error) {
		return measureSync(ctx, dsn, want, opt, i)
	})
}

// onFreshDatabases runs measure repeat times, each on a new database
// (named prefix and the run's number) that is removed afterwards, but for
// the last one with keep.
func onFreshDatabases(ctx context.Context, database, tmp, prefix string, repeat int, keep bool, measure func(dsn string, run int) ([]result, error)) ([]result, error) {
	var results []result
	for i := 1; i <= repeat; i++ {
		dsn, cleanup, err := freshDatabase(ctx, database, tmp, fmt.Sprintf("%s%d", prefix, i))
		if err != nil {
			return results, err
		}
		rs, err := measure(dsn, i)
		results = append(results, rs...)
		if keep && i == repeat {
			fmt.Fprintf(os.Stderr, "abbench: kept %s\n", dsn)
			cleanup = func() error { return nil }
		}
		if cerr := cleanup(); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

// syncInChild runs the sync (or export) phase in a new process of this
// program, with the flags of this one, and reads its results back.
func syncInChild(ctx context.Context, fs *flag.FlagSet, phase, database, tmp string) ([]result, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	out := filepath.Join(tmp, phase+".json")
	args := []string{"--phase=" + phase, "--out=" + out, "--database=" + database}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "phase", "out", "database", "memprofile":
		default:
			args = append(args, "--"+f.Name+"="+f.Value.String())
		}
	})
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr // its tables are printed with this one's
	runErr := cmd.Run()
	b, err := os.ReadFile(out)
	if err != nil {
		// No results: it failed before measuring, and said why.
		return nil, fmt.Errorf("the %s phase: %w", phase, errors.Join(runErr, err))
	}
	var doc struct {
		Results []result `json:"results"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("the %s phase's results: %w", phase, err)
	}
	return doc.Results, nil // counts that differ are in the results' checks
}

func writeResults(path string, results []result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	doc := struct {
		When       time.Time `json:"when"`
		GoVersion  string    `json:"goVersion"`
		GOMAXPROCS int       `json:"gomaxprocs"`
		BatchRows  int       `json:"batchRows"`
		Results    []result  `json:"results"`
	}{time.Now().UTC(), runtime.Version(), runtime.GOMAXPROCS(0), importer.BatchRows, results}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// freshDatabase returns the --database value of an empty database for one
// run, and how to remove it.
func freshDatabase(ctx context.Context, database, tmp, name string) (string, func() error, error) {
	if models.IsPostgresURL(database) {
		b := make([]byte, 4)
		if _, err := rand.Read(b); err != nil {
			return "", nil, err
		}
		name := "abbench_" + hex.EncodeToString(b)
		if err := adminExec(ctx, database, "CREATE DATABASE "+name); err != nil {
			return "", nil, fmt.Errorf("create the database: %w", err)
		}
		u, err := url.Parse(database)
		if err != nil {
			return "", nil, err
		}
		u.Path = "/" + name
		return u.String(), func() error {
			return adminExec(context.WithoutCancel(ctx), database, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		}, nil
	}
	path := database
	if path == "" {
		path = filepath.Join(tmp, name+".db")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return "", nil, fmt.Errorf("the SQLite file %s exists: the benchmark needs a new one", path)
	}
	return path, func() error {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	}, nil
}

func adminExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// timed runs fn and measures its wall time, the Go heap it allocated and the
// process's peak resident set size while it ran.
func timed(fn func() error) (result, error) {
	debug.FreeOSMemory() // the step's peak should not carry the garbage of the one before
	resetPeakRSS()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	written := procValue("/proc/self/io", "wchar:")
	cpu := cpuTime()
	start := time.Now()
	err := fn()
	secs := time.Since(start).Seconds()
	cpu = cpuTime() - cpu
	runtime.ReadMemStats(&after)
	return result{Seconds: secs, CPUSecs: cpu.Seconds(), PeakRSSMB: float64(procValue("/proc/self/status", "VmHWM:")<<10) / (1 << 20),
		AllocMB:   float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20),
		WrittenMB: float64(procValue("/proc/self/io", "wchar:")-written) / (1 << 20)}, err
}

// resetPeakRSS starts a new peak (Linux: writing 5 to clear_refs resets
// VmHWM); elsewhere the peak is the process's.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // best effort: the peak then covers the whole process
}

// cpuTime is the user and system time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procValue reads the number after name in a /proc file such as
// /proc/self/status (VmHWM, in kB) or /proc/self/io (wchar, in bytes); 0
// when the file or the line is missing.
func procValue(path, name string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, name); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return n
		}
	}
	return 0
}
