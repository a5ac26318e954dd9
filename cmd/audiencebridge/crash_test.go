package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

// The data of the kill test, chosen so every expectation is arithmetic:
// recipient i (1..crashRecipients) has the visitor ID 1<i on 37 digits>
// unless i is a multiple of 5; the unknown identifier j is 2<j on 37 digits>.
// Set A is the visitor IDs of recipients 1..200,000 plus 90,000 unknown
// ones, set B those of 50,001..250,000 plus 60,000 unknown ones.
const (
	crashRecipients = 250_000
	crashALo        = 1
	crashAHi        = 200_000
	crashAUnknown   = 90_000
	crashBLo        = 50_001
	crashBHi        = 250_000
	crashBUnknown   = 60_000
)

// crashHasVisitorID says whether recipient i has a visitor ID (80% do).
func crashHasVisitorID(i int64) bool { return i%5 != 0 }

// crashExpected is the recipients a member set reconciles to: those of
// lo..hi that have a visitor ID, in id order.
func crashExpected(lo, hi int64) []int64 {
	var out []int64
	for i := lo; i <= hi; i++ {
		if crashHasVisitorID(i) {
			out = append(out, i)
		}
	}
	return out
}

// TestKill9MidSyncRetriesAndNeverHalfReplaces kills the server with SIGKILL
// while an import sync runs, restarts it on the same database, and checks
// that the same run is taken over and completes, and that the list held
// its old members exactly until the new ones replaced them.
func TestKill9MidSyncRetriesAndNeverHalfReplaces(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and syncs 250,000 members twice")
	}
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "audiencebridge")
	build := exec.Command("go", "build", "-o", bin, "audiencebridge/cmd/audiencebridge")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the binary: %v\n%s", err, out)
	}
	dsn := dbtest.DSN(t)
	crashCLI(t, bin, "migrate", "--database", dsn)

	store, err := models.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	db, err := store.SQL()
	if err != nil {
		t.Fatal(err)
	}
	q := crashSQL{t: t, db: db, dialect: store.Dialect()}

	setupStart := time.Now()
	sid := crashSeed(ctx, t, store, q)
	t.Logf("%s: seeded %d recipients and segment %d with set A in %v", store.Dialect(), crashRecipients, sid, time.Since(setupStart).Round(time.Millisecond))

	expA, expB := crashExpected(crashALo, crashAHi), crashExpected(crashBLo, crashBHi)
	added := int64(len(crashExpected(crashAHi+1, crashBHi)))   // in B, not in A
	removed := int64(len(crashExpected(crashALo, crashBLo-1))) // in A, not in B

	crashCLI(t, bin, "user", "create", "--database", dsn, "--login", "crash", "--password", "long enough password",
		"--role", "admin", "--entitlement", "audience-library", "--entitlement", "aam-admin")
	lines := strings.Split(strings.TrimSpace(crashCLI(t, bin, "token", "create", "--database", dsn, "--login", "crash", "--name", "crash test")), "\n")
	token := lines[len(lines)-1]

	srv := startCrashServer(t, bin, dsn, "first")
	api := crashAPI{t: t, token: token}

	// The first sync, on set A.
	var created struct {
		ID    int64 `json:"id"`
		RunID int64 `json:"runId"`
	}
	api.do(srv, http.MethodPost, "/api/v1/lists", fmt.Sprintf(`{"label":"Kill test","sharedAudienceId":%d,"dataSource":"defaultDataSource"}`, sid),
		http.StatusCreated, &created)
	first := api.waitRun(srv, created.RunID, crashWithin(t, 60*time.Second), nil)
	if first.Status != models.RunSucceeded {
		t.Fatalf("the first run ended %s: %+v\n%s", first.Status, first, srv.logs())
	}
	firstTook := first.FinishedAt.Sub(*first.StartedAt)
	t.Logf("first run #%d on set A took %v", first.ID, firstTook.Round(time.Millisecond))
	crashCheckCounts(t, first.Counts, crashCounts{Received: int64(len(expA)) + crashAUnknown, Reconciled: int64(len(expA)),
		NotRecognized: crashAUnknown, Added: int64(len(expA)), Removed: 0})
	crashCheckMembers(t, q, created.ID, expA, "after the first run")

	// The audience changes to set B behind the library's back (its API would
	// queue a sync itself), then a sync is asked for and killed mid-run.
	q.replaceMembers(ctx, sid)
	var queued struct {
		RunID int64 `json:"runId"`
	}
	api.do(srv, http.MethodPost, fmt.Sprintf("/api/v1/lists/%d/sync", created.ID), "", http.StatusAccepted, &queued)
	runID := queued.RunID
	var seenRunning time.Time
	for deadline := time.Now().Add(crashWithin(t, 30*time.Second)); ; {
		r := api.run(srv, runID)
		if r.Status == models.RunSucceeded || r.Status == models.RunFailed {
			t.Fatalf("run #%d ended %s before it could be killed (it must be killed mid-run: make the data bigger)\n%s", runID, r.Status, srv.logs())
		}
		if r.Status == models.RunRunning && (r.Progress.Done > 0 || (r.Progress.Phase != "" && r.Progress.Phase != "Starting")) {
			seenRunning = time.Now()
			t.Logf("run #%d is running: phase %q, %d of %d", runID, r.Progress.Phase, r.Progress.Done, r.Progress.Total)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run #%d never started: %+v\n%s", runID, r, srv.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A third of the first run's time in, the members are being staged.
	time.Sleep(min(firstTook/3, time.Second) - time.Since(seenRunning))
	srv.kill()
	killedAt := time.Now()

	r := q.run(ctx, runID)
	t.Logf("killed the server %v after seeing the run start; the run then: %s, phase %q, %d of %d, attempts %d",
		killedAt.Sub(seenRunning).Round(time.Millisecond), r.Status, r.Phase, r.ProgressDone, r.ProgressTotal, r.Attempts)
	if r.Status != models.RunRunning {
		t.Fatalf("right after the kill run #%d is %s, want running: the kill did not land mid-run\n%s", runID, r.Status, srv.logs())
	}
	crashCheckMembers(t, q, created.ID, expA, "right after the kill")
	if size := q.listSize(ctx, created.ID); size != int64(len(expA)) {
		t.Errorf("right after the kill the list's size is %d, want %d", size, len(expA))
	}

	// The second server takes the run over; until it commits, the list is
	// set A exactly, then set B exactly.
	srv2 := startCrashServer(t, bin, dsn, "second")
	restartedAt := time.Now()
	fpA, fpB := crashFingerprintOf(expA), crashFingerprintOf(expB)
	final := api.waitRun(srv2, runID, crashWithin(t, 120*time.Second), func() {
		if fp := q.fingerprint(ctx, created.ID); fp != fpA && fp != fpB {
			t.Errorf("while the run was taken over the list held %+v: neither set A %+v nor set B %+v", fp, fpA, fpB)
		}
	})
	succeededAt := time.Now()
	if final.Status != models.RunSucceeded {
		t.Fatalf("after the restart run #%d ended %s (error %v), want succeeded\nsecond server:\n%s", runID, final.Status, final.Error, srv2.logs())
	}
	t.Logf("%s: kill -> restart %v, restart -> succeeded %v, kill -> succeeded %v (RunStaleAfter %v, scheduler every 10s)",
		store.Dialect(), restartedAt.Sub(killedAt).Round(time.Millisecond), succeededAt.Sub(restartedAt).Round(time.Millisecond),
		succeededAt.Sub(killedAt).Round(time.Millisecond), models.RunStaleAfter)

	crashCheckMembers(t, q, created.ID, expB, "after the run was taken over")
	if size := q.listSize(ctx, created.ID); size != int64(len(expB)) {
		t.Errorf("the list's size is %d, want %d", size, len(expB))
	}
	crashCheckCounts(t, final.Counts, crashCounts{Received: int64(len(expB)) + crashBUnknown, Reconciled: int64(len(expB)),
		NotRecognized: crashBUnknown, Added: added, Removed: removed})
	r = q.run(ctx, runID)
	if r.Attempts < 2 {
		t.Errorf("run #%d has %d attempts, want at least 2 (the killed one and the take-over)", runID, r.Attempts)
	}
	if n := q.count(ctx, "SELECT COUNT(*) FROM sync_runs WHERE list_id = ? AND status = ?", created.ID, string(models.RunRunning)); n != 0 {
		t.Errorf("%d runs of the list are still running", n)
	}
	t.Logf("run #%d: %d attempts, counts %+v", runID, r.Attempts, final.Counts)
	srv2.stop()
}

// crashSeed fills the database with the recipients, the library data source
// and the segment holding set A, in set-based SQL, and returns the sid.
func crashSeed(ctx context.Context, t *testing.T, store *models.Store, q crashSQL) int64 {
	t.Helper()
	now := time.Now().UTC()
	q.exec(ctx, "INSERT INTO recipients (id, email, created_at, updated_at) "+
		q.series(1, crashRecipients, "i, 'r' || i || '@example.com', "+q.timeParam()+", "+q.timeParam(), ""), now, now)
	if q.dialect == models.Postgres {
		q.exec(ctx, fmt.Sprintf("SELECT setval(pg_get_serial_sequence('recipients', 'id'), %d)", crashRecipients))
	}
	q.exec(ctx, "INSERT INTO recipient_visitor_ids (recipient_id, visitor_id, first_seen_at) "+
		q.series(1, crashRecipients, "i, "+q.padded("1", "i")+", "+q.timeParam(), "i % 5 <> 0"), now)

	lib := library.NewEmbedded(store)
	if _, err := lib.CreateDataSource(ctx, library.DataSource{ID: 100001, Name: "Kill test visitors", IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}
	seg, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "Kill test audience", DataSourceID: 100001})
	if err != nil {
		t.Fatal(err)
	}
	q.fillSegment(ctx, seg.SID, crashALo, crashAHi, crashAUnknown)
	return seg.SID
}

// crashSQL runs the test's own SQL on either database.
type crashSQL struct {
	t       *testing.T
	db      *sql.DB
	dialect models.Dialect
}

// rebind turns ? placeholders into PostgreSQL's $n.
func (q crashSQL) rebind(s string) string {
	if q.dialect != models.Postgres {
		return s
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (q crashSQL) timeParam() string {
	if q.dialect == models.Postgres {
		return "CAST(? AS TIMESTAMPTZ)"
	}
	return "?"
}

// series is a SELECT of cols over i from lo to hi, filtered by where.
func (q crashSQL) series(lo, hi int64, cols, where string) string {
	var s string
	if q.dialect == models.Postgres {
		s = fmt.Sprintf("SELECT %s FROM generate_series(%d, %d) AS n(i)", cols, lo, hi)
	} else {
		s = fmt.Sprintf("WITH RECURSIVE n(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM n WHERE i < %d) SELECT %s FROM n", lo, hi, cols)
	}
	if where != "" {
		s += " WHERE " + where
	}
	return s
}

// padded is prefix followed by the integer expr on 37 digits: 38 in all,
// the shape of a visitor ID.
func (q crashSQL) padded(prefix, expr string) string {
	if q.dialect == models.Postgres {
		return fmt.Sprintf("'%s' || lpad(CAST(%s AS TEXT), 37, '0')", prefix, expr)
	}
	return fmt.Sprintf("printf('%s%%037d', %s)", prefix, expr)
}

func (q crashSQL) exec(ctx context.Context, s string, args ...any) {
	q.t.Helper()
	if _, err := q.db.ExecContext(ctx, q.rebind(s), args...); err != nil {
		q.t.Fatalf("%s: %v", s, err)
	}
}

func (q crashSQL) count(ctx context.Context, s string, args ...any) int64 {
	q.t.Helper()
	var n int64
	if err := q.db.QueryRowContext(ctx, q.rebind(s), args...).Scan(&n); err != nil {
		q.t.Fatalf("%s: %v", s, err)
	}
	return n
}

// fillSegment makes the segment's members the visitor IDs of recipients
// lo..hi and unknown unknown identifiers, in one transaction, with its size
// and update time set as the library would.
func (q crashSQL) fillSegment(ctx context.Context, sid, lo, hi, unknown int64) {
	q.t.Helper()
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		q.t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	now := time.Now().UTC()
	for _, s := range []string{
		fmt.Sprintf("DELETE FROM lib_members WHERE segment_id = %d", sid),
		fmt.Sprintf("INSERT INTO lib_members (segment_id, member) %s", q.series(lo, hi, fmt.Sprintf("%d, %s", sid, q.padded("1", "i")), "i % 5 <> 0")),
		fmt.Sprintf("INSERT INTO lib_members (segment_id, member) %s", q.series(1, unknown, fmt.Sprintf("%d, %s", sid, q.padded("2", "i")), "")),
	} {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			q.t.Fatalf("%s: %v", s, err)
		}
	}
	var size int64
	if err := tx.QueryRowContext(ctx, q.rebind("SELECT COUNT(*) FROM lib_members WHERE segment_id = ?"), sid).Scan(&size); err != nil {
		q.t.Fatal(err)
	}
	if want := int64(len(crashExpected(lo, hi))) + unknown; size != want {
		q.t.Fatalf("segment %d has %d members, want %d", sid, size, want)
	}
	if _, err := tx.ExecContext(ctx, q.rebind("UPDATE lib_segments SET size = ?, updated_at = "+q.timeParam()+" WHERE sid = ?"), size, now, sid); err != nil {
		q.t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		q.t.Fatal(err)
	}
}

// replaceMembers makes set B the segment's members.
func (q crashSQL) replaceMembers(ctx context.Context, sid int64) {
	q.t.Helper()
	q.fillSegment(ctx, sid, crashBLo, crashBHi, crashBUnknown)
}

func (q crashSQL) members(ctx context.Context, listID int64) []int64 {
	q.t.Helper()
	rows, err := q.db.QueryContext(ctx, q.rebind("SELECT recipient_id FROM list_members WHERE list_id = ? ORDER BY recipient_id"), listID)
	if err != nil {
		q.t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			q.t.Fatal(err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		q.t.Fatal(err)
	}
	return out
}

func (q crashSQL) listSize(ctx context.Context, listID int64) int64 {
	q.t.Helper()
	return q.count(ctx, "SELECT size FROM lists WHERE id = ?", listID)
}

// crashFingerprint summarises a set of recipient ids; a mix of two sets
// would not have the fingerprint of either.
type crashFingerprint struct{ N, Sum, Min, Max int64 }

func crashFingerprintOf(ids []int64) crashFingerprint {
	fp := crashFingerprint{N: int64(len(ids))}
	for i, id := range ids {
		fp.Sum += id
		if i == 0 || id < fp.Min {
			fp.Min = id
		}
		fp.Max = max(fp.Max, id)
	}
	return fp
}

func (q crashSQL) fingerprint(ctx context.Context, listID int64) crashFingerprint {
	q.t.Helper()
	var fp crashFingerprint
	err := q.db.QueryRowContext(ctx, q.rebind("SELECT COUNT(*), COALESCE(SUM(recipient_id), 0), COALESCE(MIN(recipient_id), 0), COALESCE(MAX(recipient_id), 0) FROM list_members WHERE list_id = ?"),
		listID).Scan(&fp.N, &fp.Sum, &fp.Min, &fp.Max)
	if err != nil {
		q.t.Fatal(err)
	}
	return fp
}

func (q crashSQL) run(ctx context.Context, id int64) *models.Run {
	q.t.Helper()
	var r models.Run
	err := q.db.QueryRowContext(ctx, q.rebind("SELECT status, phase, progress_done, progress_total, attempts FROM sync_runs WHERE id = ?"), id).
		Scan(&r.Status, &r.Phase, &r.ProgressDone, &r.ProgressTotal, &r.Attempts)
	if err != nil {
		q.t.Fatal(err)
	}
	return &r
}

func crashCheckMembers(t *testing.T, q crashSQL, listID int64, want []int64, when string) {
	t.Helper()
	got := q.members(context.Background(), listID)
	if len(got) == len(want) {
		same := true
		for i := range got {
			if got[i] != want[i] {
				same = false
				break
			}
		}
		if same {
			return
		}
	}
	wantSet := make(map[int64]bool, len(want))
	for _, id := range want {
		wantSet[id] = true
	}
	var extra []int64
	for _, id := range got {
		if !wantSet[id] {
			extra = append(extra, id)
		}
		delete(wantSet, id)
	}
	t.Errorf("%s the list has %d members, want %d: %d unexpected (first %v), %d missing", when, len(got), len(want),
		len(extra), extra[:min(len(extra), 5)], len(wantSet))
}

type crashCounts struct {
	Received      int64 `json:"received"`
	Reconciled    int64 `json:"reconciled"`
	NotRecognized int64 `json:"notRecognized"`
	Added         int64 `json:"added"`
	Removed       int64 `json:"removed"`
}

func crashCheckCounts(t *testing.T, got, want crashCounts) {
	t.Helper()
	if got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
}

// crashRun is a run as GET /api/v1/runs/{id} shows it.
type crashRun struct {
	ID       int64            `json:"id"`
	Status   models.RunStatus `json:"status"`
	Error    *string          `json:"error"`
	Counts   crashCounts      `json:"counts"`
	Progress struct {
		Phase string `json:"phase"`
		Done  int64  `json:"done"`
		Total int64  `json:"total"`
	} `json:"progress"`
	StartedAt  *time.Time `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt"`
}

type crashAPI struct {
	t     *testing.T
	token string
}

func (a crashAPI) do(srv *crashServer, method, path, body string, wantStatus int, out any) {
	a.t.Helper()
	req, err := http.NewRequest(method, srv.url+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v\n%s", method, path, err, srv.logs())
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		a.t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, wantStatus, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		a.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
	}
}

func (a crashAPI) run(srv *crashServer, id int64) crashRun {
	a.t.Helper()
	var r crashRun
	a.do(srv, http.MethodGet, "/api/v1/runs/"+strconv.FormatInt(id, 10), "", http.StatusOK, &r)
	return r
}

// waitRun polls a run until it ends or wait passes, calling each (when not
// nil) between polls.
func (a crashAPI) waitRun(srv *crashServer, id int64, wait time.Duration, each func()) crashRun {
	a.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		r := a.run(srv, id)
		if r.Status == models.RunSucceeded || r.Status == models.RunFailed || r.Status == models.RunCancelled {
			return r
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("run #%d still %s (phase %q, %d of %d) after %v\nserver logs:\n%s", id, r.Status, r.Progress.Phase,
				r.Progress.Done, r.Progress.Total, wait, srv.logs())
		}
		if each != nil {
			each()
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// crashWithin is d, or less when the test's deadline comes sooner.
func crashWithin(t *testing.T, d time.Duration) time.Duration {
	if deadline, ok := t.Deadline(); ok {
		if left := time.Until(deadline) - 10*time.Second; left < d {
			if left <= 0 {
				t.Fatalf("the test's deadline is too close to wait for the sync")
			}
			return left
		}
	}
	return d
}

// crashCLI runs a command of the built binary and returns its output.
func crashCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("audiencebridge %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// crashServer is a running audiencebridge serve process.
type crashServer struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	url  string
	done chan struct{}
}

func startCrashServer(t *testing.T, bin, dsn, name string) *crashServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	s := &crashServer{t: t, name: name, out: &syncBuffer{}, url: "http://" + addr, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "--addr", addr, "--database", dsn, "--log-format", "text",
		"--session-secret", strings.Repeat("kill-test-secret-", 3))
	s.cmd.Env = os.Environ()
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = s.cmd.Wait() // the exit status of a killed server is expected
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("%s server's output:\n%s", s.name, s.out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("the %s server exited: %s", name, s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %s server did not answer /healthz: %v\n%s", name, err, s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *crashServer) logs() string { return s.name + " server:\n" + s.out.String() }

// kill ends the server with SIGKILL and waits until it is gone.
func (s *crashServer) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		s.t.Fatalf("kill -9 the %s server: %v", s.name, err)
	}
	<-s.done
}

// stop asks the server to shut down with SIGTERM, as an operator would.
func (s *crashServer) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM the %s server: %v", s.name, err)
	}
	select {
	case <-s.done:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			s.t.Errorf("the %s server exited with status %d after SIGTERM\n%s", s.name, code, s.out.String())
		}
	case <-time.After(30 * time.Second):
		s.t.Errorf("the %s server did not stop within 30s of SIGTERM\n%s", s.name, s.out.String())
	}
}
