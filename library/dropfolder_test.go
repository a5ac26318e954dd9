package library

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"audiencebridge/models/dbtest"
)

func dropLibrary(t *testing.T) (*Embedded, int64) {
	t.Helper()
	ctx := context.Background()
	lib := NewEmbedded(dbtest.New(t))
	if _, err := lib.CreateDataSource(ctx, DataSource{ID: 1001, Name: "Visitors", IDType: Cookie}); err != nil {
		t.Fatal(err)
	}
	seg, err := lib.CreateSegment(ctx, SegmentInput{Name: "A", IntegrationCode: "ic-a", DataSourceID: 1001})
	if err != nil {
		t.Fatal(err)
	}
	return lib, seg.SID
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := io.WriteString(zw, s); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// waitReport waits for a file and its report in done/ or failed/.
func waitReport(t *testing.T, dir, sub, name string) BatchReport {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, err := os.ReadFile(filepath.Join(dir, sub, name+".report.json"))
		if _, serr := os.Stat(filepath.Join(dir, sub, name)); err == nil && serr == nil {
			var rep BatchReport
			if err := json.Unmarshal(body, &rep); err != nil {
				t.Fatalf("report of %s: %v: %s", name, err, body)
			}
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach %s/", name, sub)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDropFolder(t *testing.T) {
	defer func(d time.Duration) { dropPoll = d }(dropPoll)
	dropPoll = 50 * time.Millisecond
	lib, sid := dropLibrary(t)
	dir, outside := t.TempDir(), t.TempDir()

	good := "ftp_dpm_1001_1700000001.sync.gz"
	writeFile(t, filepath.Join(dir, good), gzipped(t, fmt.Sprintf("%038d\tic-a\n%038d\tnope\n", 1, 2)))
	truncated := "ftp_dpm_1001_1700000002.sync.gz"
	whole := gzipped(t, fmt.Sprintf("%038d\tic-a\n", 3))
	writeFile(t, filepath.Join(dir, truncated), whole[:len(whole)-6])
	writeFile(t, filepath.Join(dir, "notes.txt"), "hello\n")
	// Neither dotfiles, nor uploads in progress, nor links are touched.
	ignored := []string{".ftp_dpm_1001_1700000003.sync", "ftp_dpm_1001_1700000004.sync.part", "ftp_dpm_1001_1700000005.sync"}
	writeFile(t, filepath.Join(dir, ignored[0]), fmt.Sprintf("%038d\tic-a\n", 4))
	writeFile(t, filepath.Join(dir, ignored[1]), fmt.Sprintf("%038d\tic-a\n", 5))
	writeFile(t, filepath.Join(outside, "secret.sync"), fmt.Sprintf("%038d\tic-a\n", 6))
	if err := os.Symlink(filepath.Join(outside, "secret.sync"), filepath.Join(dir, ignored[2])); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- WatchDropFolder(ctx, dir, NewBatchProcessor(lib), slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()

	rep := waitReport(t, dir, DropDone, good)
	if rep.Lines != 2 || rep.Applied != 1 || rep.Rejected != 1 || len(rep.Errors) != 1 || rep.Errors[0].Line != 2 {
		t.Errorf("report of %s = %+v", good, rep)
	}
	rep = waitReport(t, dir, DropFailed, truncated)
	if rep.Applied != 0 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0].Reason, "reading stopped") {
		t.Errorf("report of %s = %+v", truncated, rep)
	}
	rep = waitReport(t, dir, DropFailed, "notes.txt")
	if len(rep.Errors) != 1 || rep.Errors[0].Line != 0 || !strings.Contains(rep.Errors[0].Reason, BatchNameRule) {
		t.Errorf("report of notes.txt = %+v", rep)
	}
	time.Sleep(4 * dropPoll)
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for _, name := range ignored {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s was moved: %v", name, err)
		}
	}
	var members []string
	if err := lib.Members(context.Background(), sid, func(b []string) error { members = append(members, b...); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(members, []string{fmt.Sprintf("%038d", 1)}) {
		t.Errorf("members = %v", members)
	}
}

func TestDropFolderWaitsForStableSize(t *testing.T) {
	lib, _ := dropLibrary(t)
	dir := t.TempDir()
	w, err := openDropFolder(dir, NewBatchProcessor(lib), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer w.root.Close()
	name := "ftp_dpm_1001_1700000001.sync"
	path := filepath.Join(dir, name)
	writeFile(t, path, fmt.Sprintf("%038d\tic-a\n", 1))
	ctx := context.Background()
	w.poll(ctx) // first sight
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(f, "%038d\tic-a\n", 2); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	w.poll(ctx) // it grew: still being written
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a growing file was taken: %v", err)
	}
	w.poll(ctx) // unchanged since the last poll
	rep := waitReport(t, dir, DropDone, name)
	if rep.Lines != 2 || rep.Applied != 2 {
		t.Errorf("report = %+v", rep)
	}
}
