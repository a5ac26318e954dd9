package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

// The data of the two-worker test: recipients 1..workersRecipients, visitor
// IDs as in the kill test; list k (0..workersLists-1) follows a segment of
// the visitor IDs of recipients workersRange(k) plus 100+10k identifiers no
// recipient has. The ranges overlap, so lists share recipients.
const (
	workersRecipients = 60_000
	workersLists      = 50
)

func workersRange(k int) (lo, hi int64) {
	lo = int64(k)*1000 + 1
	return lo, lo + 2000 + int64(k)*100 - 1
}

func workersUnknown(k int) int64 { return 100 + 10*int64(k) }

// TestTwoWorkersSyncFiftyListsOncePerRequest runs a console without a
// worker and two worker processes on one PostgreSQL database, creates 50
// shared-audience lists at once over the API and asks for a sync of each,
// then checks that every run succeeded, that each request's run ran exactly
// once, that no two runs of a list overlapped, that both workers worked,
// and that every list holds exactly its audience's recipients.
func TestTwoWorkersSyncFiftyListsOncePerRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three processes")
	}
	if os.Getenv(dbtest.EnvPostgres) == "" {
		t.Skip("several processes share one PostgreSQL database: set " + dbtest.EnvPostgres + " (./.ci/with-postgres)")
	}
	ctx := context.Background()
	bin := faultBuild(t)
	dsn := dbtest.DSN(t)
	crashCLI(t, bin, "migrate", "--database", dsn)
	store, q := faultOpen(ctx, t, dsn)

	setupStart := time.Now()
	sids := workersSeed(ctx, t, store, q)
	t.Logf("seeded %d recipients and %d segments in %v", workersRecipients, len(sids), time.Since(setupStart).Round(time.Millisecond))
	token := faultToken(t, bin, dsn)

	console := startFaultProcess(t, bin, "console", "serve", "--no-worker", "--database", dsn)
	workers := []*crashServer{
		startFaultProcess(t, bin, "worker A", "worker", "--database", dsn),
		startFaultProcess(t, bin, "worker B", "worker", "--database", dsn),
	}

	// All the lists at once, then all the syncs at once.
	start := time.Now()
	listIDs := make([]int64, workersLists)
	requests := make([][]int64, workersLists) // the runId of each request of list k
	var mu sync.Mutex
	create := func(k int) error {
		var created struct {
			ID    int64 `json:"id"`
			RunID int64 `json:"runId"`
		}
		if err := faultCall(console, token, http.MethodPost, "/api/v1/lists",
			fmt.Sprintf(`{"label":"Worker test %02d","sharedAudienceId":%d,"dataSource":"defaultDataSource"}`, k, sids[k]), http.StatusCreated, &created); err != nil {
			return err
		}
		mu.Lock()
		listIDs[k], requests[k] = created.ID, []int64{created.RunID}
		mu.Unlock()
		return nil
	}
	// Lists created at once must each get a name of their own; those
	// refused are created again one at a time, so the syncs are still
	// tested.
	var refused []string
	for k, err := range faultParallel(workersLists, create) {
		if err == nil {
			continue
		}
		refused = append(refused, err.Error())
		if err := create(k); err != nil {
			t.Fatalf("list %d, created again alone: %v", k, err)
		}
	}
	if len(refused) > 0 {
		var logged []string
		for _, e := range faultLogEntries(t, console) {
			if e.Msg == "request failed" && len(logged) < 3 {
				logged = append(logged, e.Error)
			}
		}
		t.Errorf("%d of %d lists created at once were refused (created again one at a time); the first refusal: %s; the console logged: %q",
			len(refused), workersLists, refused[0], logged)
	}
	createdIn := time.Since(start)
	syncList := func(k int) error {
		var queued struct {
			RunID int64 `json:"runId"`
		}
		if err := faultCall(console, token, http.MethodPost, fmt.Sprintf("/api/v1/lists/%d/sync", listIDs[k]), "", http.StatusAccepted, &queued); err != nil {
			return err
		}
		mu.Lock()
		requests[k] = append(requests[k], queued.RunID)
		mu.Unlock()
		return nil
	}
	// A sync of each list at once, most answered with the first run still
	// queued; then another once the first run has started, which queues a
	// run that must wait for it.
	faultParallelOK(t, workersLists, syncList)
	syncedIn := time.Since(start) - createdIn
	faultParallelOK(t, workersLists, func(k int) error {
		for deadline := time.Now().Add(60 * time.Second); ; {
			var r struct {
				Status models.RunStatus `json:"status"`
			}
			if err := faultCall(console, token, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d", requests[k][0]), "", http.StatusOK, &r); err != nil {
				return err
			}
			if r.Status != models.RunQueued {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("list %d: run #%d still queued after a minute", k, requests[k][0])
			}
			time.Sleep(20 * time.Millisecond)
		}
		return syncList(k)
	})
	t.Logf("created %d lists in %v, asked for a sync of each in %v, and again as each first run started, the last %v after the first request",
		workersLists, createdIn.Round(time.Millisecond), syncedIn.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	// Wait until no run is queued or running.
	deadline := time.Now().Add(crashWithin(t, 75*time.Second))
	for {
		left := q.count(ctx, "SELECT COUNT(*) FROM sync_runs WHERE status IN (?, ?)", string(models.RunQueued), string(models.RunRunning))
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runs are still queued or running %v after the requests:\n%s\n%s\n%s\n%s", left, time.Since(start).Round(time.Second),
				workersRunTable(ctx, q), console.logs(), workers[0].logs(), workers[1].logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	allDone := time.Since(start)

	runs := workersRuns(ctx, q)
	var total, succeeded int
	answeredQueued := 0
	for k, listID := range listIDs {
		lo, hi := workersRange(k)
		exp := crashExpected(lo, hi)
		mine := runs[listID]
		distinct := map[int64]bool{}
		for _, id := range requests[k] {
			distinct[id] = true
		}
		if len(distinct) < len(requests[k]) {
			answeredQueued++
		}
		if len(mine) != len(distinct) {
			t.Errorf("list %d (#%d) has %d runs for %d requests answered with runs %v", k, listID, len(mine), len(requests[k]), requests[k])
		}
		byID := map[int64]workersRun{}
		for i, r := range mine {
			total++
			byID[r.ID] = r
			if r.Status == models.RunSucceeded {
				succeeded++
			} else {
				t.Errorf("list %d run #%d ended %s: %s", k, r.ID, r.Status, r.Error)
			}
			if r.StartedAt == nil || r.FinishedAt == nil {
				t.Errorf("list %d run #%d has no start or end time", k, r.ID)
				continue
			}
			if i > 0 && mine[i-1].FinishedAt != nil && r.StartedAt.Before(*mine[i-1].FinishedAt) {
				t.Errorf("list %d: run #%d started at %s, before run #%d finished at %s", k, r.ID,
					r.StartedAt.Format(time.StampMicro), mine[i-1].ID, mine[i-1].FinishedAt.Format(time.StampMicro))
			}
			if r.Attempts != 1 {
				t.Errorf("list %d run #%d took %d attempts, want 1 (no fault)", k, r.ID, r.Attempts)
			}
			// The first run fills the list, a second one finds it up to date.
			want := crashCounts{Received: int64(len(exp)) + workersUnknown(k), Reconciled: int64(len(exp)), NotRecognized: workersUnknown(k)}
			if i == 0 {
				want.Added = int64(len(exp))
			}
			if got := (crashCounts{Received: r.Received, Reconciled: r.Reconciled, NotRecognized: r.NotRecognized, Added: r.Added, Removed: r.Removed}); got != want {
				t.Errorf("list %d run #%d counts = %+v, want %+v", k, r.ID, got, want)
			}
		}
		for _, id := range requests[k] {
			if r, ok := byID[id]; !ok || r.Status != models.RunSucceeded {
				t.Errorf("list %d: the request answered with run #%d did not end in a succeeded run of the list (%+v)", k, id, r)
			}
		}
		crashCheckMembers(t, q, listID, exp, fmt.Sprintf("list %d:", k))
		if size := q.listSize(ctx, listID); size != int64(len(exp)) {
			t.Errorf("list %d has size %d, want %d", k, size, len(exp))
		}
	}

	// Who ran what, from the workers' logs: every run once, and never by
	// the console. A worker logs a run's success just after committing it,
	// so the last lines may still be on their way through the pipe.
	var ran map[int64][]string
	var perWorker map[string]int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ran, perWorker = map[int64][]string{}, map[string]int{}
		for _, w := range workers {
			for _, e := range faultLogEntries(t, w) {
				if e.Msg == "import sync succeeded" {
					ran[e.Run] = append(ran[e.Run], w.name)
					perWorker[w.name]++
				}
			}
		}
		logged := 0
		for _, mine := range runs {
			for _, r := range mine {
				if len(ran[r.ID]) > 0 {
					logged++
				}
			}
		}
		if logged == total || time.Now().After(deadline) {
			break
		}
	}
	for _, w := range workers {
		select {
		case <-w.done:
			t.Errorf("the %s process exited during the test\n%s", w.name, w.logs())
		default:
		}
	}
	for _, e := range faultLogEntries(t, console) {
		if strings.HasPrefix(e.Msg, "import sync") {
			t.Errorf("the console without a worker ran a job: %+v", e)
		}
	}
	for _, mine := range runs {
		for _, r := range mine {
			if len(ran[r.ID]) != 1 {
				t.Errorf("run #%d succeeded %d times in the workers' logs (%v), want once", r.ID, len(ran[r.ID]), ran[r.ID])
			}
		}
	}
	for _, w := range workers {
		if perWorker[w.name] == 0 {
			t.Errorf("the %s process ran no run of the %d", w.name, total)
		}
	}
	t.Logf("%d runs (%d succeeded) for %d requests; %d lists had a sync request answered with a run still queued; all ended %v after the first request",
		total, succeeded, 3*workersLists, answeredQueued, allDone.Round(time.Millisecond))
	t.Logf("runs per worker: %v", perWorker)
	t.Logf("the longest runs: %s", workersLongest(runs, 3))

	for _, p := range append(workers, console) {
		p.stop()
	}
}

// workersSeed fills the database with the recipients and the 50 segments
// and returns their sids.
func workersSeed(ctx context.Context, t *testing.T, store *models.Store, q crashSQL) []int64 {
	t.Helper()
	now := time.Now().UTC()
	q.exec(ctx, "INSERT INTO recipients (id, email, created_at, updated_at) "+
		q.series(1, workersRecipients, "i, 'r' || i || '@example.com', "+q.timeParam()+", "+q.timeParam(), ""), now, now)
	q.exec(ctx, fmt.Sprintf("SELECT setval(pg_get_serial_sequence('recipients', 'id'), %d)", workersRecipients))
	q.exec(ctx, "INSERT INTO recipient_visitor_ids (recipient_id, visitor_id, first_seen_at) "+
		q.series(1, workersRecipients, "i, "+q.padded("1", "i")+", "+q.timeParam(), "i % 5 <> 0"), now)
	lib := library.NewEmbedded(store)
	if _, err := lib.CreateDataSource(ctx, library.DataSource{ID: 100001, Name: "Worker test visitors", IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}
	sids := make([]int64, workersLists)
	for k := range sids {
		seg, err := lib.CreateSegment(ctx, library.SegmentInput{Name: fmt.Sprintf("Worker test audience %02d", k), DataSourceID: 100001})
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := workersRange(k)
		q.fillSegment(ctx, seg.SID, lo, hi, workersUnknown(k))
		sids[k] = seg.SID
	}
	return sids
}

// workersRun is a run's row.
type workersRun struct {
	models.Run
	listID int64
}

// workersRuns returns every run of a list, by list, in the order they
// started.
func workersRuns(ctx context.Context, q crashSQL) map[int64][]workersRun {
	q.t.Helper()
	rows, err := q.db.QueryContext(ctx, "SELECT id, COALESCE(list_id, 0), status, started_at, finished_at, attempts, error, received, reconciled, not_recognized, added, removed "+
		"FROM sync_runs ORDER BY list_id, started_at, id")
	if err != nil {
		q.t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64][]workersRun{}
	for rows.Next() {
		var r workersRun
		if err := rows.Scan(&r.ID, &r.listID, &r.Status, &r.StartedAt, &r.FinishedAt, &r.Attempts, &r.Error, &r.Received, &r.Reconciled,
			&r.NotRecognized, &r.Added, &r.Removed); err != nil {
			q.t.Fatal(err)
		}
		out[r.listID] = append(out[r.listID], r)
	}
	if err := rows.Err(); err != nil {
		q.t.Fatal(err)
	}
	return out
}

// workersRunTable shows every run, for a failure message.
func workersRunTable(ctx context.Context, q crashSQL) string {
	var b strings.Builder
	for list, runs := range workersRuns(ctx, q) {
		for _, r := range runs {
			fmt.Fprintf(&b, "list #%d run #%d: %s, attempts %d, started %v, finished %v, error %q\n", list, r.ID, r.Status, r.Attempts, r.StartedAt, r.FinishedAt, r.Error)
		}
	}
	return b.String()
}

// workersLongest names the n runs that took longest.
func workersLongest(runs map[int64][]workersRun, n int) string {
	var all []workersRun
	for _, mine := range runs {
		all = append(all, mine...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Duration(time.Now()) > all[j].Duration(time.Now()) })
	var parts []string
	for _, r := range all[:min(n, len(all))] {
		parts = append(parts, fmt.Sprintf("#%d %v", r.ID, r.Duration(time.Now()).Round(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

// startFaultProcess starts a serve or worker process of the binary with
// JSON logs on a free port, and waits until its /healthz answers 200.
func startFaultProcess(t *testing.T, bin, name string, args ...string) *crashServer {
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
	args = append(args, "--addr", addr, "--log-format", "json", "--session-secret", strings.Repeat("kill-test-secret-", 3))
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = os.Environ()
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = s.cmd.Wait() // the exit status of a killed process is expected
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
			t.Logf("%s's output:\n%s", s.name, s.out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, err := faultProbe(s.url + "/healthz")
		if err == nil && status == http.StatusOK {
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("the %s process exited: %s", name, s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %s process did not answer /healthz: %d %v\n%s", name, status, err, s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// faultProbe GETs a probe and returns its status.
func faultProbe(url string) (int, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// faultCall sends an API request; unlike crashAPI.do it returns its error,
// so goroutines can use it.
func faultCall(srv *crashServer, token, method, path, body string, wantStatus int, out any) error {
	req, err := http.NewRequest(method, srv.url+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	client := http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != wantStatus {
		return fmt.Errorf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, wantStatus, strings.TrimSpace(string(raw)))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: %w: %s", method, path, err, raw)
	}
	return nil
}

// faultParallelOK runs fn(0..n-1) ten at a time and fails the test with
// the first error.
func faultParallelOK(t *testing.T, n int, fn func(k int) error) {
	t.Helper()
	for _, err := range faultParallel(n, fn) {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// faultParallel runs fn(0..n-1) ten at a time and returns their errors.
func faultParallel(n int, fn func(k int) error) []error {
	errs := make([]error, n)
	sem := make(chan struct{}, 10)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[k] = fn(k)
		}()
	}
	wg.Wait()
	return errs
}

// faultLogEntry is a line of a process's JSON log.
type faultLogEntry struct {
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	Msg   string    `json:"msg"`
	Run   int64     `json:"run"`
	Error string    `json:"error"`
}

// faultLogEntries parses the JSON lines of a process's output, skipping
// the others (the banner, GORM's slow-query notes).
func faultLogEntries(t *testing.T, s *crashServer) []faultLogEntry {
	t.Helper()
	var out []faultLogEntry
	sc := bufio.NewScanner(strings.NewReader(s.out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var e faultLogEntry
		if err := json.Unmarshal(line, &e); err == nil {
			out = append(out, e)
		}
	}
	return out
}
