package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"audiencebridge/audiencesync"
	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web"
	"audiencebridge/worker"
)

// console is the console and its sync worker as `audiencebridge serve`
// assembles them, on a real localhost listener.
type console struct {
	url   string
	store *models.Store
	sync  *audiencesync.Service
	lib   *library.Embedded
	log   *lockedBuffer // the server's log, JSON lines
	stop  func() error
}

// lockedBuffer is a log the server's goroutines write into.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// count is how many lines of the log contain s.
func (w *lockedBuffer) count(s string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Count(w.b.Bytes(), []byte(s))
}

// lines returns up to n lines of the log that contain s.
func (w *lockedBuffer) lines(s string, n int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for line := range strings.Lines(w.b.String()) {
		if strings.Contains(line, s) && len(out) < n {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// sessionSecret signs the benchmark console's cookies.
var sessionSecret = []byte("abbench-session-secret-0123456789abcdef")

// startConsole opens dsn and serves the console with its worker, as serve
// does (cmd/audiencebridge/serve.go), without demo data.
func startConsole(ctx context.Context, dsn string) (*console, error) {
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	store, err := models.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*console, error) {
		_ = store.Close()
		return nil, err
	}
	if _, err := store.Migrate(ctx); err != nil {
		return fail(err)
	}
	if err := worker.Migrate(ctx, store); err != nil {
		return fail(err)
	}
	embedded := library.NewEmbedded(store)
	svc, err := audiencesync.New(store, sessionSecret, embedded, log)
	if err != nil {
		return fail(err)
	}
	metrics := web.NewMetrics(store)
	svc.Observer = audiencesync.Observers{metrics, &audiencesync.Notifier{Service: svc}}
	jobs, err := worker.NewStandard(store, svc, worker.Options{Logger: log, Work: true})
	if err != nil {
		return fail(err)
	}
	e, err := web.New(web.Options{Store: store, SessionSecret: sessionSecret, Logger: log,
		SessionPolicy: models.SessionPolicy{Idle: time.Hour, MaxAge: 12 * time.Hour}, Jobs: jobs, MaxUploadBytes: web.DefaultMaxUploadBytes,
		Library: embedded, Sync: svc, Metrics: metrics})
	if err != nil {
		return fail(err)
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	if err := jobs.Start(workCtx); err != nil {
		stopWork()
		return fail(fmt.Errorf("start the sync worker: %w", err))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stopWork()
		return fail(err)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	go func() { _ = srv.Serve(ln) }()
	return &console{url: "http://" + ln.Addr().String(), store: store, sync: svc, lib: embedded, log: logs, stop: func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		err = errors.Join(err, jobs.Stop(sctx))
		stopWork()
		return errors.Join(err, store.Close())
	}}, nil
}

// benchPassword is every benchmark operator's password.
const benchPassword = "abbench-Password-2024"

// createOperators adds n administrators with both entitlements, named
// prefix1..prefixN.
func createOperators(ctx context.Context, store *models.Store, prefix string, n int) error {
	for i := 1; i <= n; i++ {
		_, err := store.CreateOperator(ctx, models.SystemActor("abbench"), models.OperatorInput{Login: fmt.Sprintf("%s%d", prefix, i), Role: string(models.RoleAdmin),
			Password: benchPassword, Entitlements: []string{string(models.AudienceLibrary), string(models.AAMAdmin)}})
		if err != nil {
			return fmt.Errorf("create operator %d: %w", i, err)
		}
	}
	return nil
}

// browser is one signed-in session: its own cookies, no redirects followed.
type browser struct {
	base string
	http *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func newBrowser(base string, transport http.RoundTripper) (*browser, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &browser{base: base, http: &http.Client{Jar: jar, Timeout: time.Minute, Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// login signs in through the form, with the CSRF token of the login page.
func (b *browser) login(ctx context.Context, login string) error {
	status, body, err := b.get(ctx, "/login", "")
	if err != nil {
		return err
	}
	m := csrfField.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		return fmt.Errorf("the login page: status %d, CSRF field found: %v", status, m != nil)
	}
	form := url.Values{"login": {login}, "password": {benchPassword}, "_csrf": {m[1]}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("sign-in as %s: status %d", login, resp.StatusCode)
	}
	status, body, err = b.get(ctx, "/", "")
	if err != nil {
		return err
	}
	if m = csrfField.FindStringSubmatch(body); status != http.StatusOK || m == nil {
		return fmt.Errorf("the home page after sign-in: status %d", status)
	}
	b.csrf = m[1]
	return nil
}

// get fetches a path; with target set it asks as HTMX does for that
// element's fragment.
func (b *browser) get(ctx context.Context, path, target string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+path, nil)
	if err != nil {
		return 0, "", err
	}
	if target != "" {
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", target)
		req.Header.Set("HX-Current-URL", b.base+path)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// signIn logs in n sessions as prefix1..prefixN.
func signIn(ctx context.Context, c *console, prefix string, n int) ([]*browser, error) {
	transport := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}
	out := make([]*browser, n)
	for i := range out {
		b, err := newBrowser(c.url, transport)
		if err != nil {
			return nil, err
		}
		if err := b.login(ctx, fmt.Sprintf("%s%d", prefix, i+1)); err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

var relLink = regexp.MustCompile(`<a [^>]*href="([^"]+)"[^>]*rel="(next|prev|last|first)"`)

// link returns the href of the pager link with rel (next, prev, last) of
// a page, unescaped, or "".
func link(body, rel string) string {
	for _, m := range relLink.FindAllStringSubmatch(body, -1) {
		if m[2] == rel {
			return strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	return ""
}

// pagesOptions are the flags of the page-latency and load phases.
type pagesOptions struct {
	sessions     int
	duration     time.Duration // per page
	loadSessions int
	loadDuration time.Duration
	tmp          string
	cpuProfile   string
}

// pagesFlags declares the flags of the page-latency and load phases.
func pagesFlags(fs *flag.FlagSet) *pagesOptions {
	o := &pagesOptions{}
	fs.IntVar(&o.sessions, "sessions", 20, "signed-in sessions of the pages phase")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long the pages phase asks for each page")
	fs.IntVar(&o.loadSessions, "load-sessions", 50, "signed-in sessions of the load phase")
	fs.DurationVar(&o.loadDuration, "load-duration", 30*time.Second, "how long the load phase lasts")
	return o
}

// Targets of the pages phase (issue 9): a list page answers in under 50 ms
// at the 99th percentile with a million recipients.
const maxPageP99Ms = 50

func isPage(r result) bool { return r.Phase == "pages" || r.Phase == "load" }

// pagesData is what the generator made for the console's pages.
type pagesData struct {
	bigList     int64 // the regular list with 70% of the recipients
	bigSize     int64
	sharedLists []int64 // shared-audience lists, synchronised once
	segments    []int64 // the segments the load phase changes and syncs
}

// Sizes of the generated console data.
const (
	pagesRegularLists = 200
	pagesSegments     = 1000
	pagesSharedLists  = 10
	pagesSegmentSize  = 20_000 // members of each shared audience's segment
)

// generatePages fills an empty database: the sync phase's recipients
// (80% with a visitor ID, 60% with a CRM ID), 200 regular lists (the first
// holding 70% of the recipients, each other one 500), ~1,000 segments in
// the library, and the segments the shared-audience lists will follow,
// each of pagesSegmentSize recipients' visitor IDs.
func generatePages(ctx context.Context, store *models.Store, rows int) (pagesData, error) {
	var data pagesData
	if _, err := generateSync(ctx, store, planSync(rows, 1)); err != nil {
		return data, err
	}
	if err := createOperators(ctx, store, "bench", 50); err != nil {
		return data, err
	}
	actor := models.SystemActor("abbench")
	for i := 1; i <= pagesRegularLists; i++ {
		l, err := store.CreateList(ctx, actor, models.ListInput{Label: fmt.Sprintf("abbench list %03d", i), Description: "generated by abbench"})
		if err != nil {
			return data, err
		}
		if i == 1 {
			data.bigList = l.ID
		}
	}
	lib := library.NewEmbedded(store)
	for i := range pagesSharedLists {
		seg, err := lib.CreateSegment(ctx, library.SegmentInput{Name: fmt.Sprintf("abbench shared %02d", i+1), DataSourceID: segmentDPID})
		if err != nil {
			return data, err
		}
		data.segments = append(data.segments, seg.SID)
	}
	db, err := store.SQL()
	if err != nil {
		return data, err
	}
	d, now := store.Dialect(), store.Now()
	stmts := []struct {
		q    string
		args []any
	}{
		{"INSERT INTO list_members (list_id, recipient_id, added_at) SELECT ?, id, ? FROM recipients WHERE id % 10 < 7", []any{data.bigList, now}},
		{"INSERT INTO list_members (list_id, recipient_id, added_at) SELECT l.id, r.id, ? FROM lists l JOIN recipients r ON r.id BETWEEN l.id * 1000 AND l.id * 1000 + 499 WHERE l.id <> ?",
			[]any{now, data.bigList}},
		{"UPDATE lists SET size = (SELECT COUNT(*) FROM list_members m WHERE m.list_id = lists.id)", nil},
		{"INSERT INTO lib_segments (name, description, data_source_id, status, source, author, size, collecting, created_at, updated_at) " +
			"SELECT 'abbench segment ' || i, 'generated by abbench', ?, 'ACTIVE', 'Audience Manager', 'abbench', i * 997, FALSE, ?, ? FROM " + series(d, pagesSegments-len(data.segments)-1),
			[]any{segmentDPID, now, now}},
	}
	for i, sid := range data.segments {
		// Recipient ids from i*segmentSize/0.8: each segment its own range.
		from := int64(i)*pagesSegmentSize*5/4 + 1
		stmts = append(stmts, struct {
			q    string
			args []any
		}{"INSERT INTO lib_members (segment_id, member) SELECT ?, visitor_id FROM recipient_visitor_ids WHERE recipient_id BETWEEN ? AND ? ORDER BY 2",
			[]any{sid, from, from + pagesSegmentSize*5/4 - 1}}, struct {
			q    string
			args []any
		}{"UPDATE lib_segments SET size = (SELECT COUNT(*) FROM lib_members WHERE segment_id = ?) WHERE sid = ?", []any{sid, sid}})
	}
	if d == models.Postgres {
		stmts = append(stmts, struct {
			q    string
			args []any
		}{"ANALYZE", nil})
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, rebind(d, s.q), s.args...); err != nil {
			return data, fmt.Errorf("generate: %w", err)
		}
	}
	if err := db.QueryRowContext(ctx, rebind(d, "SELECT size FROM lists WHERE id = ?"), data.bigList).Scan(&data.bigSize); err != nil {
		return data, err
	}
	return data, nil
}

// createSharedLists makes a shared-audience list on each generated
// segment with the running console's service, and waits for the worker to
// finish their first syncs.
func createSharedLists(ctx context.Context, c *console, data *pagesData) error {
	actor := models.SystemActor("abbench")
	var runs []int64
	for i, sid := range data.segments {
		l, run, err := c.sync.CreateList(ctx, actor, models.SharedAudienceInput{ListInput: models.ListInput{Label: fmt.Sprintf("abbench shared audience %02d", i+1)},
			SegmentID: sid, DataSource: models.DefaultDataSourceName})
		if err != nil {
			return fmt.Errorf("create a shared-audience list: %w", err)
		}
		data.sharedLists = append(data.sharedLists, l.ID)
		runs = append(runs, run.ID)
	}
	for _, id := range runs {
		if _, err := waitRun(ctx, c.store, id, 5*time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// waitRun polls a run until it has finished; a failed run is an error.
func waitRun(ctx context.Context, store *models.Store, id int64, timeout time.Duration) (*models.Run, error) {
	deadline := time.Now().Add(timeout)
	for {
		run, err := store.RunByID(ctx, id)
		if err != nil {
			return nil, err
		}
		if run.Finished() {
			if run.Status != models.RunSucceeded {
				return run, fmt.Errorf("run #%d %s: %s", id, run.Status, run.Error)
			}
			return run, nil
		}
		if time.Now().After(deadline) {
			return run, fmt.Errorf("run #%d still %s after %s", id, run.Status, timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// pageVisit is one page the sessions ask for: a path, and the element
// whose fragment an HTMX request asks for ("" for the whole page).
type pageVisit struct {
	path, target string
}

// latencies collects the answers of many sessions.
type latencies struct {
	mu        sync.Mutex
	durations []time.Duration
	browsing  []time.Duration // those of the requests that search nothing
	statuses  map[int]int
	locked    int
	failures  []string
}

func (l *latencies) add(d time.Duration, status int, body string, err error, path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.statuses == nil {
		l.statuses = map[int]int{}
	}
	if err != nil {
		if len(l.failures) < 5 {
			l.failures = append(l.failures, fmt.Sprintf("%s: %v", path, err))
		}
		l.statuses[0]++
		return
	}
	l.durations = append(l.durations, d)
	if !strings.Contains(path, "search=") {
		l.browsing = append(l.browsing, d)
	}
	l.statuses[status]++
	if strings.Contains(body, "database is locked") || strings.Contains(body, "SQLITE_BUSY") {
		l.locked++
	}
	if status != http.StatusOK && len(l.failures) < 5 {
		l.failures = append(l.failures, fmt.Sprintf("%s: status %d", path, status))
	}
}

// fill puts the figures in a result: requests, rate, percentiles, and a
// check that every answer was a 200.
func (l *latencies) fill(r *result, secs float64) {
	slices.Sort(l.durations)
	slices.Sort(l.browsing)
	quantile := func(ds []time.Duration, q float64) float64 {
		if len(ds) == 0 {
			return 0
		}
		return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))].Microseconds()) / 1000
	}
	ms := func(q float64) float64 { return quantile(l.durations, q) }
	r.Requests = int64(len(l.durations)) + int64(l.statuses[0])
	r.RPS, r.P50Ms, r.P99Ms, r.MaxMs = float64(len(l.durations))/secs, ms(0.50), ms(0.99), ms(1)
	if len(l.browsing) < len(l.durations) {
		r.BrowseP50Ms, r.BrowseP99Ms = quantile(l.browsing, 0.50), quantile(l.browsing, 0.99)
	}
	for status, n := range l.statuses {
		if status >= 500 {
			r.Errors5xx += int64(n)
		}
	}
	r.Locked += int64(l.locked)
	switch {
	case len(l.failures) > 0:
		r.Check = fmt.Sprintf("%d of %d not 200 (%s)", r.Requests-int64(l.statuses[http.StatusOK]), r.Requests, strings.Join(l.failures, "; "))
	case r.Locked > 0:
		r.Check = fmt.Sprintf("%d answers say the database is locked", r.Locked)
	default:
		r.Check = "ok"
	}
}

// hammer has every session ask for its next visit, one after the other,
// for the duration.
func hammer(ctx context.Context, sessions []*browser, d time.Duration, next func(session, i int) pageVisit) *latencies {
	lat := &latencies{}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	for s, b := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				v := next(s, i)
				start := time.Now()
				status, body, err := b.get(context.WithoutCancel(ctx), v.path, v.target)
				lat.add(time.Since(start), status, body, err, v.path)
			}
		}()
	}
	wg.Wait()
	return lat
}

// warm has each session ask for the visit once, unmeasured: connections
// open and caches filled.
func warm(ctx context.Context, sessions []*browser, v pageVisit) {
	var wg sync.WaitGroup
	for _, b := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _ = b.get(ctx, v.path, v.target) // unmeasured: the measurement checks the answers
		}()
	}
	wg.Wait()
}

// pagesPhase measures page latencies on fresh databases.
func pagesPhase(ctx context.Context, database string, rows int, opt *pagesOptions, repeat int, keep bool, load bool) ([]result, error) {
	prefix, measure := "pages", measurePages
	if load {
		prefix, measure = "load", measureLoad
	}
	return onFreshDatabases(ctx, database, opt.tmp, prefix, repeat, keep, func(dsn string, i int) ([]result, error) {
		return measure(ctx, dsn, rows, opt, i)
	})
}

// prepareConsole generates the data and starts the console on it with
// signed-in sessions.
func prepareConsole(ctx context.Context, dsn string, rows, sessions int, n int) (*console, pagesData, []*browser, error) {
	store, err := models.Open(ctx, dsn)
	if err != nil {
		return nil, pagesData{}, nil, err
	}
	if _, err := store.Migrate(ctx); err != nil {
		_ = store.Close()
		return nil, pagesData{}, nil, err
	}
	start := time.Now()
	data, err := generatePages(ctx, store, rows)
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, data, nil, err
	}
	c, err := startConsole(ctx, dsn)
	if err != nil {
		return nil, data, nil, err
	}
	if err := createSharedLists(ctx, c, &data); err != nil {
		return c, data, nil, err
	}
	fmt.Fprintf(os.Stderr, "abbench: %s run %d: generated %d recipients, %d lists (the largest %d members, %d shared audiences), %d segments in %.1fs\n",
		c.store.Dialect(), n, rows, pagesRegularLists+len(data.sharedLists), data.bigSize, len(data.sharedLists), pagesSegments, time.Since(start).Seconds())
	browsers, err := signIn(ctx, c, "bench", sessions)
	return c, data, browsers, err
}

// deepPage finds a page far into a table through its pager: the last page's
// previous one when the pager links to the last page, else the page
// numbered from the rows (OFFSET paging).
func deepPage(ctx context.Context, b *browser, first pageVisit, rows int64) (pageVisit, error) {
	status, body, err := b.get(ctx, first.path, first.target)
	if err != nil || status != http.StatusOK {
		return pageVisit{}, fmt.Errorf("%s: status %d %v", first.path, status, err)
	}
	// Follow Next twice: the links must page on.
	page := body
	for range 2 {
		next := link(page, "next")
		if next == "" {
			return pageVisit{}, fmt.Errorf("%s: no Next link", first.path)
		}
		if status, page, err = b.get(ctx, next, first.target); err != nil || status != http.StatusOK {
			return pageVisit{}, fmt.Errorf("%s: status %d %v", next, status, err)
		}
	}
	if last := link(body, "last"); last != "" {
		status, page, err := b.get(ctx, last, first.target)
		if err != nil || status != http.StatusOK {
			return pageVisit{}, fmt.Errorf("%s: status %d %v", last, status, err)
		}
		prev := link(page, "prev")
		if prev == "" {
			return pageVisit{}, fmt.Errorf("%s: no Previous link", last)
		}
		return pageVisit{prev, first.target}, nil
	}
	sep := "?"
	if strings.Contains(first.path, "?") {
		sep = "&"
	}
	return pageVisit{fmt.Sprintf("%s%spage=%d", first.path, sep, rows/models.DefaultPageSize-2), first.target}, nil
}

// measurePages asks for each page with every session for the duration.
func measurePages(ctx context.Context, dsn string, rows int, opt *pagesOptions, n int) ([]result, error) {
	c, data, browsers, err := prepareConsole(ctx, dsn, rows, opt.sessions, n)
	if c != nil {
		defer func() { _ = c.stop() }()
	}
	if err != nil {
		return nil, err
	}
	members := fmt.Sprintf("/lists/%d", data.bigList)
	steps := []struct {
		name  string
		visit pageVisit
		deep  int64 // rows of the table, to find a deep page
	}{
		{"lists", pageVisit{"/lists", ""}, 0},
		{"recipients", pageVisit{"/recipients", ""}, 0},
		{"recipients deep", pageVisit{"/recipients", ""}, int64(rows)},
		{"recipients search", pageVisit{"/recipients?search=person4242", "recipient-results"}, 0},
		{"library", pageVisit{"/library", ""}, 0},
		{"members", pageVisit{members, ""}, 0},
		{"members deep", pageVisit{members, ""}, data.bigSize},
	}
	stop, err := startProfile(opt.cpuProfile, "pages", n)
	if err != nil {
		return nil, err
	}
	defer func() { _ = stop() }()
	var out []result
	for _, step := range steps {
		visit := step.visit
		if step.deep > 0 {
			if visit, err = deepPage(ctx, browsers[0], visit, step.deep); err != nil {
				return out, fmt.Errorf("%s: %w", step.name, err)
			}
		}
		warm(ctx, browsers, visit)
		var lat *latencies
		r, err := timed(func() error {
			lat = hammer(ctx, browsers, opt.duration, func(int, int) pageVisit { return visit })
			return nil
		})
		if err != nil {
			return out, err
		}
		lat.fill(&r, r.Seconds)
		r.Database, r.Run, r.Phase, r.Step, r.Rows, r.Sessions, r.Path = string(c.store.Dialect()), n, "pages", step.name, int64(rows), len(browsers), visit.path
		out = append(out, r)
		fmt.Fprintf(os.Stderr, "abbench: %s run %d: %-17s %6d requests, %5.0f/s, p50 %.1f ms, p99 %.1f ms (%s)\n", c.store.Dialect(), n, step.name, r.Requests, r.RPS, r.P50Ms, r.P99Ms, visit.path)
	}
	return out, nil
}

// pagesTable is the table of the pages and load phases.
func pagesTable(pages []result) func(*tabwriter.Writer) {
	return func(tw *tabwriter.Writer) {
		fmt.Fprintln(tw, "database\trun\tstep\trecipients\tsessions\trequests\treq/s\tp50 ms\tp99 ms\tmax ms\t5xx\tlocked\tsyncs\tcpu s\tpeak RSS MB\ttarget\tcheck\t")
		for _, r := range pages {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%s\t%.1f\t%.0f\t%s\t%s\t\n", r.Database, r.Run, r.Step, r.Rows, r.Sessions, r.Requests, r.RPS,
				r.P50Ms, r.P99Ms, r.MaxMs, r.Errors5xx, r.Locked, orDash("%.0f", float64(r.Syncs)), r.CPUSecs, r.PeakRSSMB, pageTarget(r), r.Check)
		}
	}
}

// pageTarget says whether a page met the latency target; the load
// phase's target is no 5xx and no locked database.
func pageTarget(r result) string {
	if r.Phase == "load" {
		if r.Errors5xx > 0 || r.Locked > 0 {
			return "MISSED: 5xx or locked"
		}
		return "met"
	}
	if r.P99Ms >= maxPageP99Ms {
		return fmt.Sprintf("MISSED: p99 >= %d ms", maxPageP99Ms)
	}
	return "met"
}
