package library_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

// batchLib is a library with two visitor-ID data sources and one of
// declared IDs.
type batchLib struct {
	lib  *library.Embedded
	proc *library.BatchProcessor
	// sid of each segment by name: A, B, E and inactive C in 1001, D in
	// 1002, X in 1003 (declared IDs).
	sid     map[string]int64
	mu      sync.Mutex
	changed []int64
}

func newBatchLib(t *testing.T) *batchLib {
	t.Helper()
	ctx := context.Background()
	b := &batchLib{lib: library.NewEmbedded(dbtest.New(t)), sid: map[string]int64{}}
	b.lib.Changed = func(_ context.Context, sid int64) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.changed = append(b.changed, sid)
	}
	b.proc = library.NewBatchProcessor(b.lib)
	for _, ds := range []library.DataSource{{ID: 1001, Name: "Visitors", IDType: library.Cookie}, {ID: 1002, Name: "Other visitors", IDType: library.Cookie},
		{ID: 1003, Name: "CRM", IDType: library.CrossDevice}} {
		if _, err := b.lib.CreateDataSource(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []struct {
		name   string
		ds     int64
		status string
	}{{"A", 1001, ""}, {"B", 1001, ""}, {"C", 1001, library.Inactive}, {"E", 1001, ""}, {"D", 1002, ""}, {"X", 1003, ""}} {
		seg, err := b.lib.CreateSegment(ctx, library.SegmentInput{Name: s.name, IntegrationCode: "ic-" + strings.ToLower(s.name), DataSourceID: s.ds, Status: s.status})
		if err != nil {
			t.Fatal(err)
		}
		b.sid[s.name] = seg.SID
	}
	return b
}

// ecid is the visitor ID numbered n.
func ecid(n int) string { return fmt.Sprintf("%038d", n) }

// file expands {A}, {B}, ... into sids and {u3} into visitor IDs.
func (b *batchLib) file(lines ...string) string {
	var pairs []string
	for name, sid := range b.sid {
		pairs = append(pairs, "{"+name+"}", fmt.Sprint(sid))
	}
	for n := 0; n < 50; n++ {
		pairs = append(pairs, fmt.Sprintf("{u%d}", n), ecid(n))
	}
	return strings.NewReplacer(pairs...).Replace(strings.Join(lines, "\n") + "\n")
}

func (b *batchLib) process(t *testing.T, name, body string) library.BatchReport {
	t.Helper()
	rep, err := b.proc.Process(context.Background(), name, strings.NewReader(body))
	if err != nil {
		t.Fatalf("process %s: %v", name, err)
	}
	if rep.Lines != rep.Applied+rep.Rejected {
		t.Errorf("lines %d != applied %d + rejected %d", rep.Lines, rep.Applied, rep.Rejected)
	}
	return rep
}

func (b *batchLib) members(t *testing.T, seg string) []string {
	t.Helper()
	var out []string
	err := b.lib.Members(context.Background(), b.sid[seg], func(batch []string) error {
		out = append(out, batch...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (b *batchLib) add(t *testing.T, seg string, members ...string) {
	t.Helper()
	if _, err := b.lib.AddMembers(context.Background(), b.sid[seg], library.Slice(members)); err != nil {
		t.Fatal(err)
	}
}

// users turns visitor numbers into IDs.
func users(ns ...int) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = ecid(n)
	}
	slices.Sort(out)
	return out
}

func wantMembers(t *testing.T, b *batchLib, seg string, want []string) {
	t.Helper()
	got := b.members(t, seg)
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("members of %s = %v, want %v", seg, got, want)
	}
	s, err := b.lib.Segment(context.Background(), b.sid[seg])
	if err != nil {
		t.Fatal(err)
	}
	if s.Size != int64(len(want)) {
		t.Errorf("size of %s = %d, want %d", seg, s.Size, len(want))
	}
}

// wantErrors checks the report's errors as "line: fragment of the reason".
func wantErrors(t *testing.T, rep library.BatchReport, want ...string) {
	t.Helper()
	if len(rep.Errors) != len(want) {
		t.Errorf("%d errors, want %d: %+v", len(rep.Errors), len(want), rep.Errors)
		return
	}
	for i, w := range want {
		line, frag, _ := strings.Cut(w, ": ")
		got := rep.Errors[i]
		if fmt.Sprint(got.Line) != line || !strings.Contains(got.Reason, frag) {
			t.Errorf("error %d = %d %q, want line %s with %q", i, got.Line, got.Reason, line, frag)
		}
	}
}

func TestParseBatchName(t *testing.T) {
	good := []struct {
		name      string
		dpid      int64
		overwrite bool
		part      int
		gz        bool
	}{
		{"ftp_dpm_1001_1700000000.sync", 1001, false, 0, false},
		{"ftp_dpm_1001_1700000000.overwrite", 1001, true, 0, false},
		{"ftp_dpm_21_0000000001.sync.gz", 21, false, 0, true},
		{"ftp_dpm_1001_1700000000.sync.1", 1001, false, 1, false},
		{"ftp_dpm_1001_1700000000.sync.1.gz", 1001, false, 1, true},
		{"ftp_dpm_1001_1700000000.overwrite.12.gz", 1001, true, 12, true},
	}
	for _, g := range good {
		n, err := library.ParseBatchName(g.name)
		if err != nil {
			t.Errorf("%s: %v", g.name, err)
			continue
		}
		if n.DPID != g.dpid || n.Overwrite != g.overwrite || n.Part != g.part || n.Gzip != g.gz || n.String() != g.name {
			t.Errorf("%s = %+v (%s)", g.name, n, n)
		}
	}
	if n, _ := library.ParseBatchName("ftp_dpm_1001_1700000000.sync.2.gz"); n.Upload() != "ftp_dpm_1001_1700000000.sync" || n.Time.Unix() != 1700000000 {
		t.Errorf("upload = %s at %v", n.Upload(), n.Time)
	}
	bad := []struct{ name, why string }{
		{"", "give the file's name"},
		{"audience.csv", "does not start with ftp_dpm_"},
		{"FTP_DPM_1001_1700000000.sync", "does not start with ftp_dpm_"},
		{"../ftp_dpm_1001_1700000000.sync", "no folders"},
		{"ftp_dpm_x_1700000000.sync", "followed by the DPID"},
		{"ftp_dpm_01001_1700000000.sync", "DPID 01001 is not a data source ID"},
		{"ftp_dpm_1001-1700000000.sync", "followed by _ and the time"},
		{"ftp_dpm_1001_170000000.sync", "10 digits"},
		{"ftp_dpm_1001_17000000000.sync", "10 digits"},
		{"ftp_dpm_1001_1700000000", "followed by .sync or .overwrite"},
		{"ftp_dpm_1001_1700000000.txt", `not ".txt"`},
		{"ftp_dpm_1001_1700000000.SYNC", `not ".SYNC"`},
		{"ftp_dpm_1001_1700000000.sync.0", "split number 0"},
		{"ftp_dpm_1001_1700000000.sync.1a", `not ".1a"`},
		{"ftp_dpm_1001_1700000000.sync.zip", `not ".zip"`},
		{"ftp_dpm_1001_1700000000.sync.gz.1", `not followed by ".1"`},
		{"ftp_dpm_1001_1700000000.sync.1.gz.gz", `not followed by ".gz"`},
	}
	for _, b := range bad {
		_, err := library.ParseBatchName(b.name)
		var fe *library.FileError
		if !errors.As(err, &fe) || fe.Field != "name" || !strings.Contains(err.Error(), b.why) || !strings.Contains(err.Error(), library.BatchNameRule) {
			t.Errorf("%q: %v, want a name error with %q and the rule", b.name, err, b.why)
		}
	}
}

func TestBatchKeyForms(t *testing.T) {
	b := newBatchLib(t)
	b.add(t, "A", ecid(4), ecid(5))
	b.add(t, "B", ecid(4))
	b.add(t, "D", ecid(8))
	body := b.file(
		"{u1}\td_sid={A}",   // 1
		"{u2}\tic=ic-b",     // 2
		"{u3}\tic-a",        // 3: a bare integration code
		"{u4}\td_unsid={A}", // 4
		"{u4}\t{B}:0",       // 5
		"{u5}\t{A}:-1",      // 6
		"",                  // 7: blank, not a row
		"{u6}\td_sid={A}, \"gender\"=\"m,f\" ,ic=ic-b\r", // 8: the pair is one key although it has a comma
		"{u7}\tgender=m",               // 9
		"{u8}\td_sid={D}",              // 10: another data source's
		"{u9}\td_sid=999999",           // 11
		"{u10}\tic=ic-c",               // 12: inactive
		"{u11}\tnope",                  // 13
		"not-an-ecid\td_sid={A}",       // 14
		"{u12} d_sid={A}",              // 15: no tab
		"{u13}\t{A}:1",                 // 16
		"{u14}\td_sid=x,,{B}:0",        // 17
		"{u15}\t",                      // 18
		"{u16}\tic=ic-a\td_sid={B}",    // 19: tabs separate keys too
		"{u17}\td_sid={A},d_unsid={A}", // 20: the last key wins
		"{u18}\t424242",                // 21: a bare number is an integration code
	)
	rep := b.process(t, "ftp_dpm_1001_1700000000.sync", body)
	if rep.Lines != 20 || rep.Applied != 10 || rep.Rejected != 10 {
		t.Errorf("report = %d lines, %d applied, %d rejected", rep.Lines, rep.Applied, rep.Rejected)
	}
	wantErrors(t, rep,
		`8: key "\"gender\"=\"m,f\"": a key-value pair ("key"="value") is not a segment membership`,
		`9: key "gender=m": a key-value pair`,
		"10: belongs to data source 1002, not to 1001",
		"11: no segment has the sid 999999",
		fmt.Sprintf("12: segment %d is inactive", b.sid["C"]),
		`13: no segment has the integration code "nope"`,
		"14: visitor ID (ECID) has only the digits 0 to 9",
		"15: this line has no tab",
		"16: <sid>:0 and <sid>:-1 remove a segment",
		`17: key "d_sid=x": d_sid= takes a segment's sid`,
		"17: an empty key",
		"18: names no segment after the tab",
		"21: to name segment 424242 by its sid, write d_sid=424242",
	)
	wantMembers(t, b, "A", users(1, 3, 6, 16))
	wantMembers(t, b, "B", users(2, 6, 16))
	wantMembers(t, b, "D", users(8))
	if !slices.Equal(b.changed[len(b.changed)-2:], []int64{b.sid["A"], b.sid["B"]}) {
		t.Errorf("changed = %v, want A and B last", b.changed)
	}
	hist, err := b.lib.Store.LibSizeHistory(context.Background(), b.sid["A"], 10)
	if err != nil || len(hist) == 0 || hist[len(hist)-1].Size != 4 {
		t.Errorf("history of A = %+v %v", hist, err)
	}
}

func TestBatchDeclaredIDs(t *testing.T) {
	b := newBatchLib(t)
	rep := b.process(t, "ftp_dpm_1003_1700000000.sync", "crm-1\tic-x\ncrm:2\tic-x\n"+ecid(1)+"\td_sid="+fmt.Sprint(b.sid["A"])+"\n")
	wantErrors(t, rep, `2: must not contain ":"`, "3: belongs to data source 1001, not to 1003")
	wantMembers(t, b, "X", []string{"crm-1"})
}

func TestBatchRowsPerUser(t *testing.T) {
	b := newBatchLib(t)
	b.proc.BatchLines = 64 // the limit holds across batches
	var sb strings.Builder
	for i := 0; i < 205; i++ {
		key := "ic-a"
		if i%2 == 1 {
			key = "ic-b"
		}
		fmt.Fprintf(&sb, "%s\t%s\n%s\tic-e\n", ecid(1), key, ecid(1000+i))
	}
	rep := b.process(t, "ftp_dpm_1001_1700000000.sync", sb.String())
	if rep.Lines != 410 || rep.Applied != 405 || rep.Rejected != 5 {
		t.Errorf("report = %d lines, %d applied, %d rejected", rep.Lines, rep.Applied, rep.Rejected)
	}
	want := make([]string, 5)
	for i := range want {
		want[i] = fmt.Sprintf("%d: at most 200 rows in an upload: this is row %d of", 401+2*i, 201+i)
	}
	wantErrors(t, rep, want...)

	// Sending the same file again counts its rows once.
	rep = b.process(t, "ftp_dpm_1001_1700000000.sync", sb.String())
	if rep.Applied != 405 || rep.Rejected != 5 {
		t.Errorf("again: %d applied, %d rejected", rep.Applied, rep.Rejected)
	}
	// A file that is not split forgets its users once done.
	if got, err := b.lib.Store.LibBatchUsers(context.Background(), "ftp_dpm_1001_1700000000.sync", users(1)); err != nil || len(got) != 0 {
		t.Errorf("recorded = %+v %v", got, err)
	}
	// Another upload starts again from zero.
	rep = b.process(t, "ftp_dpm_1001_1700000001.sync", b.file("{u1}\tic-e"))
	if rep.Applied != 1 {
		t.Errorf("another upload: %+v", rep)
	}
}

func TestBatchLongLine(t *testing.T) {
	b := newBatchLib(t)
	row := func(n, size int) string {
		s := ecid(n) + "\tic-a"
		return strings.Repeat(" ", size-len(s)) + s // white space around a visitor ID is trimmed
	}
	body := row(1, library.MaxBatchLineBytes) + "\r\n" + row(2, library.MaxBatchLineBytes+1) + "\n" + row(3, 100) + "\n" + row(4, 3*library.MaxBatchLineBytes)
	rep := b.process(t, "ftp_dpm_1001_1700000000.sync", body)
	if rep.Lines != 4 || rep.Applied != 2 || rep.Rejected != 2 {
		t.Errorf("report = %+v", rep)
	}
	wantErrors(t, rep, "2: at most 102400 bytes", "4: at most 102400 bytes")
	wantMembers(t, b, "A", users(1, 3))
}

func TestBatchOverwrite(t *testing.T) {
	b := newBatchLib(t)
	b.add(t, "A", ecid(1), ecid(2), ecid(5))
	b.add(t, "B", ecid(5))
	b.add(t, "C", ecid(1)) // inactive: still one of the data source's segments
	b.add(t, "D", ecid(1)) // another data source: stays
	b.proc.BatchLines = 2
	body := b.file(
		"{u1}\tic-b",                  // 1: u1 leaves A and C, joins B
		"{u3}\td_sid={A},d_unsid={B}", // 2: d_unsid is ignored
		"{u4}\tnope",                  // 3: no good key: u4 is not listed
		"{u1}\td_sid={E}",             // 4: a later batch adds to u1's list
		"{u5}\t{A}:0",                 // 5: u5 leaves every segment of 1001
	)
	rep := b.process(t, "ftp_dpm_1001_1700000000.overwrite", body)
	if rep.Lines != 5 || rep.Applied != 4 || rep.Rejected != 1 {
		t.Errorf("report = %+v", rep)
	}
	wantErrors(t, rep, "2: d_unsid= is ignored in an .overwrite file", `3: no segment has the integration code "nope"`)
	wantMembers(t, b, "A", users(2, 3))
	wantMembers(t, b, "B", users(1))
	wantMembers(t, b, "C", nil)
	wantMembers(t, b, "E", users(1))
	wantMembers(t, b, "D", users(1))
}

func TestBatchSplitFiles(t *testing.T) {
	b := newBatchLib(t)
	b.add(t, "E", ecid(1))
	// An .overwrite split in two: u1's list is the union of both parts, and
	// its old membership goes once.
	b.process(t, "ftp_dpm_1001_1700000000.overwrite.1", b.file("{u1}\tic-a", "{u2}\tic-a"))
	b.process(t, "ftp_dpm_1001_1700000000.overwrite.2", b.file("{u1}\tic-b", "{u3}\tic-b"))
	wantMembers(t, b, "A", users(1, 2))
	wantMembers(t, b, "B", users(1, 3))
	wantMembers(t, b, "E", nil)

	// The rows-per-user limit counts every part of an upload.
	rows := func(n int) string { return strings.Repeat(ecid(9)+"\tic-e\n", n) }
	b.process(t, "ftp_dpm_1001_1700000005.sync.1.gz", gz(t, rows(150)))
	rep := b.process(t, "ftp_dpm_1001_1700000005.sync.2.gz", gz(t, rows(60)))
	if rep.Applied != 50 || rep.Rejected != 10 || len(rep.Errors) != 10 || rep.Errors[0].Line != 51 {
		t.Errorf("part 2 = %d applied, %d rejected, errors %+v", rep.Applied, rep.Rejected, rep.Errors)
	}
	wantMembers(t, b, "E", users(9))

	// What the parts recorded stays for the next part, for a day.
	ctx, store := context.Background(), b.lib.Store
	upload := "ftp_dpm_1001_1700000005.sync"
	if got, err := store.LibBatchUsers(ctx, upload, users(9)); err != nil || got[ecid(9)].Rows != 210 {
		t.Errorf("recorded = %+v %v", got, err)
	}
	store.Now = func() time.Time { return time.Now().UTC().Add(models.LibBatchRetention + time.Hour) }
	b.process(t, "ftp_dpm_1001_1700000006.sync", b.file("{u1}\tic-a"))
	if got, err := store.LibBatchUsers(ctx, upload, users(9)); err != nil || len(got) != 0 {
		t.Errorf("after a day = %+v %v", got, err)
	}
}

func gz(t *testing.T, s string) string {
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

func TestBatchGzip(t *testing.T) {
	b := newBatchLib(t)
	var sb strings.Builder
	for i := 1; i <= 2500; i++ {
		fmt.Fprintf(&sb, "%s\tic-a\n", ecid(i))
	}
	rep := b.process(t, "ftp_dpm_1001_1700000000.sync.gz", gz(t, sb.String()))
	if rep.Lines != 2500 || rep.Applied != 2500 || len(rep.Errors) != 0 {
		t.Errorf("report = %d lines, %d applied, errors %v", rep.Lines, rep.Applied, rep.Errors)
	}
	if s, _ := b.lib.Segment(context.Background(), b.sid["A"]); s.Size != 2500 {
		t.Errorf("size = %d", s.Size)
	}
}

func TestBatchTruncatedGzip(t *testing.T) {
	b := newBatchLib(t)
	b.proc.BatchLines = 10
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	cut := 0
	for i := 1; i <= 25; i++ {
		fmt.Fprintf(zw, "%s\tic-a\n", ecid(i))
		if err := zw.Flush(); err != nil { // a flush ends each line's compressed data
			t.Fatal(err)
		}
		if i == 23 {
			cut = buf.Len()
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := b.proc.Process(context.Background(), "ftp_dpm_1001_1700000000.sync.gz", bytes.NewReader(buf.Bytes()[:cut+3]))
	var broken *library.ReadError
	if !errors.As(err, &broken) || !errors.Is(err, io.ErrUnexpectedEOF) || broken.Line != 23 {
		t.Fatalf("err = %v, want a read error after line 23", err)
	}
	// Lines 1 to 20 form two whole batches; 21 to 23 were read, not applied.
	if rep.Lines != 23 || rep.Applied != 20 || rep.Rejected != 3 {
		t.Errorf("report = %+v", rep)
	}
	wantErrors(t, rep, "21: reading stopped after line 23: the file is truncated")
	if !strings.Contains(rep.Errors[0].Reason, "lines 21 to 23 were not applied") {
		t.Errorf("reason = %q", rep.Errors[0].Reason)
	}
	want := make([]string, 20)
	for i := range want {
		want[i] = ecid(i + 1)
	}
	wantMembers(t, b, "A", want)
}

func TestBatchFileRefused(t *testing.T) {
	b := newBatchLib(t)
	ctx := context.Background()
	for name, want := range map[string]string{
		"ftp_dpm_4242_1700000000.sync":    "no data source of the library has the DPID 4242",
		"ftp_dpm_1001_1700000000.sync.gz": "not gzip data",
		"ftp_dpm_1001.sync":               library.BatchNameRule,
	} {
		_, err := b.proc.Process(ctx, name, strings.NewReader(ecid(1)+"\tic-a\n"))
		var fe *library.FileError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	wantMembers(t, b, "A", nil)
}

// generated yields n rows of two keys each without holding the file.
type generated struct {
	n, i int
	keys string
	buf  []byte
}

func (g *generated) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i < g.n {
		g.i++
		g.buf = fmt.Appendf(g.buf, "%038d\t%s\n", g.i, g.keys)
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// BenchmarkBatchSync applies a 1,000,000-row .sync file of two keys a row:
// go test ./library -run '^$' -bench BatchSync -benchtime 1x
func BenchmarkBatchSync(b *testing.B) {
	const rows = 1000000
	for b.Loop() {
		b.StopTimer()
		lib := library.NewEmbedded(dbtest.New(b))
		ctx := context.Background()
		if _, err := lib.CreateDataSource(ctx, library.DataSource{ID: 1001, Name: "Visitors", IDType: library.Cookie}); err != nil {
			b.Fatal(err)
		}
		seg, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "A", DataSourceID: 1001})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "B", IntegrationCode: "ic-b", DataSourceID: 1001}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		rep, err := library.NewBatchProcessor(lib).Process(ctx, "ftp_dpm_1001_1700000000.sync", &generated{n: rows, keys: fmt.Sprintf("d_sid=%d,ic-b", seg.SID)})
		if err != nil || rep.Applied != rows {
			b.Fatalf("%+v %v", rep.Lines, err)
		}
		b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "lines/s")
	}
}
