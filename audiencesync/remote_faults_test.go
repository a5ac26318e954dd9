package audiencesync_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"audiencebridge/audiencesync"
	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// faultUnknown is how many members of the remote audience match no
// recipient: with them the members take three pages.
const faultUnknown = 25_000

// faultyRemote is an /aam/v1 API in front of a real console's library that
// lets the first pass member-page requests of a fault through, then answers
// the next fail of them (all when fail < 0) with the fault.
type faultyRemote struct {
	mu    sync.Mutex
	fault string // "", "500", "429" or "slow"
	pass  int
	fail  int
	log   []string // what each member-page request got, for the report
	start time.Time
}

func (f *faultyRemote) set(fault string, pass, fail int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault, f.pass, f.fail, f.log, f.start = fault, pass, fail, nil, time.Now()
}

// next says what the next member-page request gets, and notes it.
func (f *faultyRemote) next() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	got := ""
	switch {
	case f.fault == "":
	case f.pass > 0:
		f.pass--
	case f.fail != 0:
		f.fail--
		got = f.fault
	}
	f.log = append(f.log, fmt.Sprintf("%.1fs %s", time.Since(f.start).Seconds(), cmpOrOK(got)))
	return got
}

func cmpOrOK(s string) string {
	if s == "" {
		return "ok"
	}
	return s
}

func (f *faultyRemote) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

// handler passes everything through to the real library, but for the
// member pages it was told to fault.
func (f *faultyRemote) handler(real string, transport http.RoundTripper) http.Handler {
	target, err := url.Parse(real)
	if err != nil {
		panic(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = transport
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/aam/v1/segments/") || !strings.HasSuffix(r.URL.Path, "/members") {
			proxy.ServeHTTP(w, r)
			return
		}
		switch f.next() {
		case "500":
			http.Error(w, `{"error":"the library's database is restarting"}`, http.StatusInternalServerError)
		case "429":
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":"rate limit exceeded: slow down"}`)
		case "slow":
			select { // past the client's timeout
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			http.Error(w, `{"error":"too late"}`, http.StatusGatewayTimeout)
		default:
			proxy.ServeHTTP(w, r)
		}
	})
}

// TestRemoteLibraryFaults syncs a list from a remote library whose member
// pages (a) fail with 500 for a while: the client's retries, then the
// run's, get through and the counts are exact; (b) always answer 429 with
// Retry-After: the run fails after its retries, saying the library limited
// it; (c) answer later than the client's timeout: the run fails saying so.
// After (b) and (c) the list holds its last good content.
func TestRemoteLibraryFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out retries, Retry-After and timeouts")
	}
	// The remote client's timeout is not configurable through an external
	// account (library.Resolver uses DefaultRemoteTimeout, 15s, and 3
	// retries: a run that times out would take 4 minutes to fail), so the
	// transport it clones is made to give up on an answer after a second.
	const timeout = time.Second
	saved := http.DefaultTransport
	short := saved.(*http.Transport).Clone()
	short.ResponseHeaderTimeout = timeout
	http.DefaultTransport = short
	t.Cleanup(func() { http.DefaultTransport = saved })

	w := newWorld(t, 120)
	ctx := context.Background()
	w.svc.RetryBackoff = []time.Duration{50 * time.Millisecond}

	remote := webtest.Start(t)
	op := remote.Operator(t, "publisher", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	token := remote.Token(t, op)
	if _, err := remote.Library.CreateDataSource(ctx, library.DataSource{ID: 100001, Name: "Visitors", IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}
	seg, err := remote.Library.CreateSegment(ctx, library.SegmentInput{Name: "Remote buyers", DataSourceID: 100001})
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	var x want
	for i, p := range w.people {
		if i%2 != 0 {
			continue
		}
		members = append(members, p.visitors...)
		x.reconciled += int64(len(p.visitors))
		if len(p.visitors) > 0 {
			x.members = append(x.members, p.id)
		}
	}
	for j := range faultUnknown {
		members = append(members, ecid(500000+j))
	}
	x.received, x.added = int64(len(members)), int64(len(x.members))
	if _, err := remote.Library.ReplaceMembers(ctx, seg.SID, library.Slice(members)); err != nil {
		t.Fatal(err)
	}

	faults := &faultyRemote{}
	fake := httptest.NewServer(faults.handler(remote.URL, saved.(*http.Transport).Clone()))
	t.Cleanup(fake.Close)
	if _, err := w.store.UpdateExternalAccount(ctx, models.SystemActor("test"), w.svc.Libraries.Secrets, models.ImportAccount,
		models.ExternalAccountInput{Mode: "remote", BaseURL: fake.URL, Token: token}); err != nil {
		t.Fatal(err)
	}

	// (a) After the first page, 500 on more requests in a row than the
	// client retries: the first attempt fails, the second gets through.
	failing := library.DefaultRemoteRetries + 2
	faults.set("500", 1, failing)
	began := time.Now()
	l, run, err := w.svc.CreateList(ctx, models.SystemActor("test"), models.SharedAudienceInput{SegmentID: seg.SID, DataSource: models.DefaultDataSourceName})
	if err != nil {
		t.Fatal(err)
	}
	r := w.waitRun(run.ID)
	t.Logf("(a) 500 on %d member-page requests: run #%d %s after %v, %d attempts, error %q; the member pages got: %v",
		failing, r.ID, r.Status, time.Since(began).Round(time.Millisecond), r.Attempts, r.Error, faults.requests())
	w.check(r, l.ID, x)
	if r.Attempts != 2 {
		t.Errorf("(a) run #%d took %d attempts, want 2: the client absorbs %d failures in a row, the run's retry the rest", r.ID, r.Attempts, library.DefaultRemoteRetries)
	}
	kept := w.members(l.ID)

	cases := []struct {
		name, fault string
		wantError   []string
		// minTook is the least a failed run can take: the waits the fault
		// imposes on each attempt of the run.
		minTook time.Duration
	}{
		{"(b) always 429 with Retry-After: 1", "429", []string{"429 Too Many Requests", "rate limit exceeded", "tried 4 times"},
			audiencesync.ImportAttempts * library.DefaultRemoteRetries * time.Second},
		{"(c) slower than the client's timeout", "slow", []string{"did not answer", "/members", "tried 4 times"},
			audiencesync.ImportAttempts * (library.DefaultRemoteRetries + 1) * timeout},
	}
	for _, tc := range cases {
		faults.set(tc.fault, 1, -1)
		began := time.Now()
		queued, err := w.svc.Sync(ctx, l.ID, models.TriggerManual, models.SystemActor("test"))
		if err != nil {
			t.Fatal(err)
		}
		r := w.waitRun(queued.ID)
		took := time.Since(began)
		reqs := faults.requests()
		t.Logf("%s: run #%d %s after %v, %d attempts, %d member-page requests (%v … %v), error %q", tc.name, r.ID, r.Status, took.Round(time.Millisecond),
			r.Attempts, len(reqs), reqs[:min(len(reqs), 6)], reqs[max(len(reqs)-2, 0):], r.Error)
		if r.Status != models.RunFailed {
			t.Errorf("%s: run #%d ended %s, want failed", tc.name, r.ID, r.Status)
		}
		for _, s := range tc.wantError {
			if !strings.Contains(r.Error, s) {
				t.Errorf("%s: the run's error lacks %q: %q", tc.name, s, r.Error)
			}
		}
		if r.Attempts != audiencesync.ImportAttempts {
			t.Errorf("%s: run #%d took %d attempts, want %d", tc.name, r.ID, r.Attempts, audiencesync.ImportAttempts)
		}
		if took < tc.minTook {
			t.Errorf("%s: the run failed after %v, sooner than the %v its retries must wait", tc.name, took.Round(time.Millisecond), tc.minTook)
		}
		if got := w.members(l.ID); !slices.Equal(got, kept) {
			t.Errorf("%s: the failed run changed the list: %d members, had %d", tc.name, len(got), len(kept))
		}
		if ll, err := w.store.ListByID(ctx, l.ID); err != nil || ll.Size != int64(len(kept)) {
			t.Errorf("%s: the list's size is %v (%v), want %d", tc.name, ll, err, len(kept))
		}
	}

	// The library answers again: a retry brings the list up to date.
	faults.set("", 0, 0)
	failed, err := w.store.ListRuns(ctx, models.RunQuery{ListID: l.ID})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := w.svc.Retry(ctx, failed.Items[0].ID, models.SystemActor("test"))
	if err != nil {
		t.Fatal(err)
	}
	w.check(w.waitRun(retry.ID), l.ID, want{received: x.received, reconciled: x.reconciled, members: x.members})
}
