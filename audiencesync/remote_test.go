package audiencesync_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// TestImportFromARemoteLibrary points the importSharedAudience account at
// another console's /aam/v1 API: the list syncs from it, follows a change
// found by polling, and a library that is down fails the run with its
// reason after the retries, keeping the list, until Retry works again.
func TestImportFromARemoteLibrary(t *testing.T) {
	w := newWorld(t, 120)
	ctx := context.Background()
	w.svc.PollEvery = time.Millisecond
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
	membersOf := func(keep func(i int) bool) ([]string, want) {
		var ids []string
		var x want
		for i, p := range w.people {
			if !keep(i) {
				continue
			}
			for _, v := range p.visitors {
				ids = append(ids, v)
				x.reconciled++
				x.members = append(x.members, p.id)
			}
		}
		x.received = int64(len(ids))
		return ids, x
	}
	first, x := membersOf(func(i int) bool { return i%3 == 0 })
	if _, err := remote.Library.ReplaceMembers(ctx, seg.SID, library.Slice(first)); err != nil {
		t.Fatal(err)
	}
	x.added = int64(len(slices.Compact(slices.Sorted(slices.Values(x.members)))))

	point := func(baseURL string) {
		t.Helper()
		if _, err := w.store.UpdateExternalAccount(ctx, models.SystemActor("test"), w.svc.Libraries.Secrets, models.ImportAccount,
			models.ExternalAccountInput{Mode: "remote", BaseURL: baseURL, Token: token}); err != nil {
			t.Fatal(err)
		}
	}
	point(remote.URL)
	l, run, err := w.svc.CreateList(ctx, models.SystemActor("test"), models.SharedAudienceInput{SegmentID: seg.SID, DataSource: models.DefaultDataSourceName})
	if err != nil {
		t.Fatal(err)
	}
	if l.SegmentName != "Remote buyers" {
		t.Errorf("segment name %q", l.SegmentName)
	}
	r1 := w.waitRun(run.ID)
	w.check(r1, l.ID, x)

	// A change in the remote library is found by the scheduler's poll.
	time.Sleep(5 * time.Millisecond) // the remote's update time has millisecond precision
	second, y := membersOf(func(i int) bool { return i%2 == 0 })
	if _, err := remote.Library.ReplaceMembers(ctx, seg.SID, library.Slice(second)); err != nil {
		t.Fatal(err)
	}
	before := map[int64]bool{}
	for _, id := range x.members {
		before[id] = true
	}
	after := map[int64]bool{}
	for _, id := range y.members {
		after[id] = true
	}
	for id := range after {
		if !before[id] {
			y.added++
		}
	}
	for id := range before {
		if !after[id] {
			y.removed++
		}
	}
	if err := w.svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	r2 := w.waitNextRun(l.ID, r1.ID)
	if r2.Trigger != models.TriggerAudienceChanged {
		t.Errorf("trigger %s, want audienceChanged", r2.Trigger)
	}
	w.check(r2, l.ID, y)
	kept := w.members(l.ID)

	// The library goes away: retried, then failed with the reason.
	point("http://127.0.0.1:1")
	r3, err := w.svc.Sync(ctx, l.ID, models.TriggerManual, models.SystemActor("test"))
	if err != nil {
		t.Fatal(err)
	}
	failed := w.waitRun(r3.ID)
	if failed.Status != models.RunFailed || !strings.Contains(failed.Error, "tried 4 times") || !strings.Contains(failed.Error, "could not reach the remote library") {
		t.Fatalf("run with the library down: %s %q", failed.Status, failed.Error)
	}
	if failed.Attempts < 2 {
		t.Errorf("the run was tried %d times", failed.Attempts)
	}
	if m := w.members(l.ID); !slices.Equal(m, kept) {
		t.Errorf("a failed run changed the list")
	}
	point(remote.URL)
	retry, err := w.svc.Retry(ctx, failed.ID, models.SystemActor("test"))
	if err != nil {
		t.Fatal(err)
	}
	w.check(w.waitRun(retry.ID), l.ID, want{received: y.received, reconciled: y.reconciled, members: y.members})
}

// TestScheduledSync: a list whose next sync is due is synchronised by the
// scheduler, which then plans the next one.
func TestScheduledSync(t *testing.T) {
	w := newWorld(t, 10)
	ctx := context.Background()
	seg := w.segment(100001, library.Cookie, []string{w.people[1].visitors[0], w.people[2].visitors[0]})
	every := 15
	l, first, err := w.svc.CreateList(ctx, models.SystemActor("test"), models.SharedAudienceInput{SegmentID: seg.SID,
		DataSource: models.DefaultDataSourceName, SyncEveryMinutes: &every})
	if err != nil {
		t.Fatal(err)
	}
	w.waitRun(first.ID)
	l, _ = w.store.ListByID(ctx, l.ID)
	if l.NextSyncAt == nil || l.NextSyncAt.Sub(time.Now()) < 14*time.Minute {
		t.Fatalf("next sync %v, want in 15 minutes", l.NextSyncAt)
	}
	// Nothing is due yet: a tick queues nothing.
	if err := w.svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if page, _ := w.store.ListRuns(ctx, models.RunQuery{ListID: l.ID}); page.Total != 1 {
		t.Fatalf("%d runs before the schedule is due", page.Total)
	}
	w.store.Now = func() time.Time { return time.Now().UTC().Add(16 * time.Minute) }
	if err := w.svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	r := w.waitNextRun(l.ID, first.ID)
	if r.Trigger != models.TriggerSchedule || r.Status != models.RunSucceeded {
		t.Errorf("scheduled run: %s %s %s", r.Trigger, r.Status, r.Error)
	}
	l, _ = w.store.ListByID(ctx, l.ID)
	if l.NextSyncAt == nil || l.NextSyncAt.Sub(time.Now()) < 30*time.Minute {
		t.Errorf("next sync after the scheduled run: %v", l.NextSyncAt)
	}
}
