// Command abbench measures a recipient import end to end: it writes a CSV
// file of --rows generated recipients, uploads it, imports it with
// importer.Run (no job engine), then uploads and imports the same file again
// (every row then exists: the update path). It prints one table of times,
// counts (checked against what the generator wrote), CPU time, peak memory
// (VmHWM, reset before each step) and bytes written, and writes the same
// figures to bench/results.json.
//
//	go run ./cmd/abbench                      # a million rows on SQLite
//	go run ./cmd/abbench --rows 100000 --repeat 3 --cpuprofile cpu.out
//	./.ci/with-postgres bash -c 'go run ./cmd/abbench --database "$AB_TEST_POSTGRES"'
//
// A PostgreSQL URL names a server: each run creates a database of its own
// there and drops it afterwards (--keep keeps the last one for EXPLAIN).
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
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
	Rows      int64   `json:"rows"`
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
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("abbench", flag.ContinueOnError)
	rows := fs.Int("rows", 1_000_000, "data rows in the generated file")
	database := fs.String("database", "", "a postgres:// URL of a server (a database is created on it for each run), or an SQLite file that does not exist yet; default: a temporary SQLite file")
	repeat := fs.Int("repeat", 1, "how many times to run the whole measurement, each on a fresh database")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the imports to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile to this file at the end")
	out := fs.String("out", "bench/results.json", "where to write the results as JSON (empty: nowhere)")
	keep := fs.Bool("keep", false, "keep the database of the last run for EXPLAIN, and print its --database value (needs --database)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rows < 1 || *repeat < 1 {
		return errors.New("--rows and --repeat must be at least 1")
	}
	if *keep && *database == "" {
		return errors.New("--keep needs --database: the default database is a temporary file")
	}
	tmp, err := os.MkdirTemp("", "abbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	file := filepath.Join(tmp, "recipients.csv")
	start := time.Now()
	want, err := generate(file, *rows, 1)
	if err != nil {
		return fmt.Errorf("generate the file: %w", err)
	}
	fmt.Fprintf(os.Stderr, "abbench: generated %d rows (%d good, %d bad) in %.1fs\n", *rows, want.good, want.rejected, time.Since(start).Seconds())

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var results []result
	for i := 1; i <= *repeat; i++ {
		dsn, cleanup, err := freshDatabase(ctx, *database, tmp, i)
		if err != nil {
			return err
		}
		rs, err := measure(ctx, dsn, file, want, i)
		results = append(results, rs...)
		if *keep && i == *repeat {
			fmt.Fprintf(os.Stderr, "abbench: kept %s\n", dsn)
			cleanup = func() error { return nil }
		}
		if cerr := cleanup(); cerr != nil && err == nil {
			err = cerr
		}
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

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "database\trun\tstep\trows\tseconds\trows/s\tcreated\tupdated\tskipped\trejected\tcpu s\tpeak RSS MB\twritten MB\tcheck\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%.2f\t%.0f\t%d\t%d\t%d\t%d\t%.1f\t%.0f\t%.0f\t%s\t\n", r.Database, r.Run, r.Step, r.Rows, r.Seconds, r.RowsPerS,
			r.Created, r.Updated, r.Skipped, r.Rejected, r.CPUSecs, r.PeakRSSMB, r.WrittenMB, r.Check)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if *out != "" {
		if err := writeResults(*out, results); err != nil {
			return err
		}
	}
	for _, r := range results {
		if r.Check != "ok" {
			return fmt.Errorf("%s run %d: counts differ from the generated file: %s", r.Step, r.Run, r.Check)
		}
	}
	return nil
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
func freshDatabase(ctx context.Context, database, tmp string, n int) (string, func() error, error) {
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
		path = filepath.Join(tmp, fmt.Sprintf("run%d.db", n))
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

// measure uploads and imports the file twice on the database.
func measure(ctx context.Context, dsn, file string, want expected, n int) ([]result, error) {
	store, err := models.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return nil, err
	}
	var out []result
	for _, step := range []struct {
		name                      string
		created, updated, skipped int64
	}{
		{"import", int64(want.good), 0, 0},
		// The same file again: every good row names an existing recipient
		// with the same values.
		{"re-import", 0, 0, int64(want.good)},
	} {
		up, r, err := upload(ctx, store, file)
		if err != nil {
			return nil, err
		}
		r.Database, r.Run, r.Step, r.Rows = string(store.Dialect()), n, "upload", int64(want.good+want.rejected)
		r.RowsPerS = float64(r.Rows) / r.Seconds
		out = append(out, r)

		imp, r, err := importFile(ctx, store, up)
		if err != nil {
			return nil, err
		}
		r.Database, r.Run, r.Step, r.Rows = string(store.Dialect()), n, step.name, imp.RowsRead
		r.RowsPerS = float64(r.Rows) / r.Seconds
		r.Created, r.Updated, r.Skipped, r.Rejected = imp.CreatedCount, imp.UpdatedCount, imp.SkippedCount, imp.RejectedCount
		got := [5]int64{imp.RowsRead, imp.CreatedCount, imp.UpdatedCount, imp.SkippedCount, imp.RejectedCount}
		exp := [5]int64{int64(want.good + want.rejected), step.created, step.updated, step.skipped, int64(want.rejected)}
		r.Check = "ok"
		if imp.Status != models.ImportSucceeded {
			r.Check = fmt.Sprintf("import %s: %s", imp.Status, imp.Error)
		} else if got != exp {
			r.Check = fmt.Sprintf("read/created/updated/skipped/rejected %v, want %v", got, exp)
		} else if total, err := store.CountRecipients(ctx); err != nil {
			return nil, err
		} else if total != int64(want.good) {
			r.Check = fmt.Sprintf("%d recipients stored, want %d", total, want.good)
		}
		out = append(out, r)
		fmt.Fprintf(os.Stderr, "abbench: %s run %d: %s %.1fs, %s %.1fs\n", store.Dialect(), n, "upload", out[len(out)-2].Seconds, step.name, r.Seconds)
	}
	return out, nil
}

func upload(ctx context.Context, store *models.Store, file string) (*models.Upload, result, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, result{}, err
	}
	defer f.Close()
	var up *models.Upload
	r, err := timed(func() error {
		var err error
		up, err = store.CreateUpload(ctx, models.Actor{Name: "abbench"}, filepath.Base(file), f, 1<<40)
		return err
	})
	if err != nil {
		return nil, r, fmt.Errorf("upload: %w", err)
	}
	r.Bytes, r.Check = up.Size, "ok"
	return up, r, nil
}

func importFile(ctx context.Context, store *models.Store, up *models.Upload) (*models.RecipientImport, result, error) {
	head, err := store.UploadHead(ctx, up.ID, importer.SniffBytes)
	if err != nil {
		return nil, result{}, err
	}
	pv, err := importer.Sniff(head, 0)
	if err != nil {
		return nil, result{}, err
	}
	settings := models.ImportSettings{Delimiter: string(pv.Delimiter), Header: pv.Header, UpdateExisting: true}
	for _, c := range importer.AutoMap(pv.Header) {
		settings.Mapping = append(settings.Mapping, string(c))
	}
	uploadID := up.ID
	imp, err := store.CreateImport(ctx, models.Actor{Name: "abbench"},
		&models.RecipientImport{UploadID: &uploadID, FileName: up.FileName, TotalBytes: up.Size}, settings, models.ImportTarget{}, nil)
	if err != nil {
		return nil, result{}, err
	}
	r, err := timed(func() error {
		done, err := importer.Run(ctx, store, imp.ID, 0)
		if err == nil && !done {
			err = errors.New("the import did not finish")
		}
		return err
	})
	if err != nil {
		return nil, r, fmt.Errorf("import: %w", err)
	}
	r.Bytes = up.Size
	imp, err = store.ImportByID(ctx, imp.ID)
	return imp, r, err
}

// timed runs fn and measures its wall time, the Go heap it allocated and the
// process's peak resident set size while it ran.
func timed(fn func() error) (result, error) {
	runtime.GC()
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

// expected is what the generator knows the import must find.
type expected struct {
	good     int // distinct e-mails imported
	rejected int // bad e-mail or visitor ID, duplicate e-mail, CRM ID of another row
}

var (
	firstNames = []string{"Ana", "Bruno", "Chloé", "David", "Emma", "Farid", "Giulia", "Hugo", "Inès", "Jonas", "Kenji", "Léa", "Mateo", "Nora", "Oskar", "Priya"}
	lastNames  = []string{"Alves", "Bernard", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Ivanova", "Jansen", "Kowalski", "Lambert", "Moreau", "Nakamura"}
	domains    = []string{"example.com", "mail.example.org", "example.net", "corp.example.io"}
)

// generate writes a CSV file of rows data rows: 80% with a visitor ID, 60%
// with a CRM ID, about 3% rejected for a bad e-mail or visitor ID, an e-mail
// repeated from an earlier line (in another case) or a CRM ID an earlier line
// gives to another e-mail. It is deterministic for a seed.
func generate(path string, rows int, seed uint64) (expected, error) {
	f, err := os.Create(path)
	if err != nil {
		return expected{}, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var exp expected
	crms := 0 // CRM IDs C-0000001 ... given so far
	email := func(n int, mixed bool) string {
		first, last := firstNames[n%len(firstNames)], lastNames[(n/len(firstNames))%len(lastNames)]
		s := fmt.Sprintf("%s.%s.%d@%s", first, last, n, domains[n%len(domains)])
		if !mixed {
			s = strings.ToLower(s)
		}
		return s
	}
	visitorID := func() string {
		return fmt.Sprintf("%019d%019d", rng.Uint64N(1e19), rng.Uint64N(1e19))
	}
	w.WriteString("email,firstName,lastName,crmId,visitorId\n")
	for line := 2; line < rows+2; line++ {
		var cells [5]string
		first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		switch k := rng.IntN(1000); {
		case k < 10: // not an e-mail
			cells = [5]string{fmt.Sprintf("%s.%s.%d.example.com", first, last, line), first, last, "", visitorID()}
			exp.rejected++
		case k < 20: // a visitor ID that is too short
			cells = [5]string{fmt.Sprintf("short.ecid.%d@example.com", line), first, last, "", visitorID()[:20]}
			exp.rejected++
		case k < 25 && exp.good > 0: // the e-mail of an earlier line
			cells = [5]string{email(rng.IntN(exp.good), true), first, last, "", ""}
			exp.rejected++
		case k < 30 && crms > 0: // an earlier line's CRM ID for another e-mail
			cells = [5]string{fmt.Sprintf("crm.thief.%d@example.com", line), first, last, fmt.Sprintf("C-%07d", 1+rng.IntN(crms)), ""}
			exp.rejected++
		default:
			cells[0] = email(exp.good, rng.IntN(10) == 0)
			exp.good++
			cells[1], cells[2] = first, last
			switch r := rng.IntN(100); {
			case r < 5:
				cells[1] = "" // an empty cell: nothing to store
			case r < 7:
				cells[2] = `"` + last + `, Jr."` // a quoted cell with the delimiter
			}
			if rng.IntN(10) < 6 {
				crms++
				cells[3] = fmt.Sprintf("C-%07d", crms)
			}
			if rng.IntN(10) < 8 {
				cells[4] = visitorID()
			}
		}
		w.WriteString(strings.Join(cells[:], ","))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return expected{}, err
	}
	return exp, f.Close()
}
