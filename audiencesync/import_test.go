package audiencesync_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"audiencebridge/audiencesync"
	"audiencebridge/identity"
	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/models/dbtest"
	"audiencebridge/worker"
)

// world is a database with recipients, a library and a running engine.
type world struct {
	t     *testing.T
	store *models.Store
	lib   *library.Embedded
	svc   *audiencesync.Service
	// people are the recipients, by their index in the generator.
	people []person
}

type person struct {
	id       int64
	email    string
	crmID    string
	visitors []string
}

func ecid(n int) string { return fmt.Sprintf("%038d", 1000000+n) }

// newWorld makes n recipients: every one has an e-mail address; those with
// i%3 != 0 a CRM ID; those with i%4 != 0 a visitor ID, and those with
// i%8 == 1 a second one.
func newWorld(t *testing.T, n int) *world {
	t.Helper()
	ctx := context.Background()
	store := dbtest.New(t)
	if err := worker.Migrate(ctx, store); err != nil {
		t.Fatal(err)
	}
	lib := library.NewEmbedded(store)
	svc, err := audiencesync.New(store, []byte("0123456789abcdef0123456789abcdef-test"), lib, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	svc.ChangeDelay = 100 * time.Millisecond
	engine, err := worker.NewStandard(store, svc, worker.Options{Work: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = engine.Stop(sctx)
	})
	w := &world{t: t, store: store, lib: lib, svc: svc}
	for i := range n {
		in := models.RecipientInput{Email: fmt.Sprintf("Person%d@Example.com", i)}
		if i%3 != 0 {
			in.CRMID = fmt.Sprintf("CRM%05d", i)
		}
		if i%4 != 0 {
			in.VisitorIDs = append(in.VisitorIDs, ecid(i))
		}
		if i%8 == 1 {
			in.VisitorIDs = append(in.VisitorIDs, ecid(100000+i))
		}
		r, err := store.CreateRecipient(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		w.people = append(w.people, person{id: r.ID, email: strings.ToLower(in.Email), crmID: in.CRMID, visitors: in.VisitorIDs})
	}
	return w
}

func (w *world) segment(dpid int64, idType library.IDType, members []string) library.Segment {
	w.t.Helper()
	ctx := context.Background()
	if _, err := w.lib.DataSource(ctx, dpid); err != nil {
		if _, err := w.lib.CreateDataSource(ctx, library.DataSource{ID: dpid, Name: fmt.Sprintf("DPID %d", dpid), IDType: idType}); err != nil {
			w.t.Fatal(err)
		}
	}
	seg, err := w.lib.CreateSegment(ctx, library.SegmentInput{Name: fmt.Sprintf("Audience %d", time.Now().UnixNano()), DataSourceID: dpid})
	if err != nil {
		w.t.Fatal(err)
	}
	if len(members) > 0 {
		res, err := w.lib.ReplaceMembers(ctx, seg.SID, library.Slice(members))
		if err != nil {
			w.t.Fatal(err)
		}
		if res.Rejected > 0 {
			w.t.Fatalf("the library refused %d members: %v", res.Rejected, res.Errors)
		}
	}
	return seg
}

func (w *world) dataSource(name string, idType identity.IDType, key identity.Key, hash identity.Hash, dpid int64) {
	w.t.Helper()
	_, err := w.store.CreateDataSource(context.Background(), models.SystemActor("test"), models.DataSourceInput{Label: name, InternalName: name,
		IDType: string(idType), ReconciliationKey: string(key), HashAlgorithm: string(hash), AAMDataSourceID: fmt.Sprint(dpid), IntegrationCode: "AdobeCampaignID"})
	if err != nil {
		w.t.Fatal(err)
	}
}

// waitRun waits for a run to finish and returns it.
func (w *world) waitRun(id int64) *models.Run {
	w.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r, err := w.store.RunByID(context.Background(), id)
		if err != nil {
			w.t.Fatal(err)
		}
		if r.Finished() {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Fatalf("run #%d did not finish in time", id)
	return nil
}

func (w *world) members(listID int64) []int64 {
	w.t.Helper()
	db, err := w.store.SQL()
	if err != nil {
		w.t.Fatal(err)
	}
	q := "SELECT recipient_id FROM list_members WHERE list_id = ? ORDER BY recipient_id"
	if w.store.Dialect() == models.Postgres {
		q = strings.Replace(q, "?", "$1", 1)
	}
	rows, err := db.Query(q, listID)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			w.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

type want struct {
	received, reconciled, malformed, hashMismatch, added, removed int64
	members                                                       []int64
}

func (w *world) check(r *models.Run, listID int64, x want) {
	w.t.Helper()
	if r.Status != models.RunSucceeded {
		w.t.Fatalf("run #%d is %s: %s", r.ID, r.Status, r.Error)
	}
	x.members = slices.Compact(slices.Sorted(slices.Values(x.members)))
	got := [...]int64{r.Received, r.Reconciled, r.NotRecognized, r.Malformed, r.HashMismatch, r.Added, r.Removed, r.ListSize}
	exp := [...]int64{x.received, x.reconciled, x.received - x.reconciled, x.malformed, x.hashMismatch, x.added, x.removed, int64(len(x.members))}
	if got != exp {
		w.t.Errorf("counts received, reconciled, not recognised, malformed, hash mismatch, added, removed, size:\n got %v\nwant %v", got, exp)
	}
	if m := w.members(listID); !slices.Equal(m, x.members) {
		w.t.Errorf("list members: got %d recipients, want %d", len(m), len(x.members))
	}
	l, err := w.store.ListByID(context.Background(), listID)
	if err != nil {
		w.t.Fatal(err)
	}
	if l.Size != int64(len(x.members)) {
		w.t.Errorf("list size %d, want %d", l.Size, len(x.members))
	}
}

func TestImportByVisitorIDReplacesTheListAndCountsExactly(t *testing.T) {
	w := newWorld(t, 200)
	ctx := context.Background()
	// Members: the visitor IDs of every person with i%5 != 0 (both IDs of
	// those with two), plus 30 IDs no recipient has.
	var members []string
	var x want
	for i, p := range w.people {
		if i%5 == 0 {
			continue
		}
		for _, v := range p.visitors {
			members = append(members, v)
			x.reconciled++
			x.members = append(x.members, p.id)
		}
	}
	for n := range 30 {
		members = append(members, ecid(900000+n))
	}
	x.received = int64(len(members))
	seg := w.segment(100001, library.Cookie, members)
	x.members = slices.Compact(slices.Sorted(slices.Values(x.members)))
	x.added = int64(len(x.members))
	// The built-in data source reads DPID 100001: the list finds it alone.
	builtin, err := w.store.DataSourceByInternalName(ctx, models.DefaultDataSourceName)
	if err != nil {
		t.Fatal(err)
	}
	in := builtin.Input()
	in.AAMDataSourceID = "100001"
	if _, err := w.store.UpdateDataSource(ctx, models.SystemActor("test"), models.DefaultDataSourceName, in); err != nil {
		t.Fatal(err)
	}

	l, run, err := w.svc.CreateList(ctx, models.SystemActor("test"), models.SharedAudienceInput{SegmentID: seg.SID})
	if err != nil {
		t.Fatal(err)
	}
	if l.Label != seg.Name {
		t.Errorf("label %q, want the audience's name %q", l.Label, seg.Name)
	}
	if ds, _ := w.store.DataSourceByID(ctx, *l.DataSourceID); ds.InternalName != models.DefaultDataSourceName {
		t.Errorf("data source %s, want the one matching DPID 100001", ds.InternalName)
	}
	r := w.waitRun(run.ID)
	w.check(r, l.ID, x)
	sample, err := w.store.UnrecognizedSample(ctx, r.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(sample) != 30 || sample[0].Reason != models.ReasonNoRecipient {
		t.Errorf("sample: %d identifiers (%v), want the 30 unknown ones", len(sample), sample[:min(len(sample), 2)])
	}

	// The audience changes: persons with i%5 == 0 join, those with i%7 == 0
	// leave. The change alone queues a sync.
	var next []string
	y := want{}
	before := map[int64]bool{}
	for _, id := range x.members {
		before[id] = true
	}
	after := map[int64]bool{}
	for i, p := range w.people {
		if i%7 == 0 {
			continue
		}
		for _, v := range p.visitors {
			next = append(next, v)
			y.reconciled++
			after[p.id] = true
		}
	}
	y.received = int64(len(next))
	for id := range after {
		y.members = append(y.members, id)
		if !before[id] {
			y.added++
		}
	}
	for id := range before {
		if !after[id] {
			y.removed++
		}
	}
	if _, err := w.lib.ReplaceMembers(ctx, seg.SID, library.Slice(next)); err != nil {
		t.Fatal(err)
	}
	r2 := w.waitNextRun(l.ID, r.ID)
	if r2.Trigger != models.TriggerAudienceChanged {
		t.Errorf("trigger %s, want audienceChanged", r2.Trigger)
	}
	w.check(r2, l.ID, y)
}

// waitNextRun waits for a run of the list after `after` and its end.
func (w *world) waitNextRun(listID, after int64) *models.Run {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		page, err := w.store.ListRuns(context.Background(), models.RunQuery{ListID: listID})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(page.Items) > 0 && page.Items[0].ID > after {
			return w.waitRun(page.Items[0].ID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Fatalf("no run of list #%d after #%d", listID, after)
	return nil
}

func TestImportByHashedEmailExplainsUnhashedMembers(t *testing.T) {
	w := newWorld(t, 60)
	ctx := context.Background()
	w.dataSource("hashedMail", identity.DeclaredID, identity.KeyEmail, identity.HashSHA256, 200001)
	var members []string
	var x want
	for i, p := range w.people {
		switch {
		case i%2 == 0: // hashed as the data source expects, with odd case and spaces
			members = append(members, identity.SHA256Hex("  "+strings.ToUpper(p.email)+" "))
			x.reconciled++
			x.members = append(x.members, p.id)
		case i%6 == 1: // sent in clear: a hash mismatch
			members = append(members, p.email)
			x.hashMismatch++
		}
	}
	members = append(members, identity.SHA256Hex("nobody@example.com"))
	x.received = int64(len(members))
	x.added = int64(len(x.members))
	seg := w.segment(200001, library.CrossDevice, members)
	l, run, err := w.svc.CreateList(ctx, models.SystemActor("test"), models.SharedAudienceInput{ListInput: models.ListInput{Label: "Hashed"}, SegmentID: seg.SID})
	if err != nil {
		t.Fatal(err)
	}
	w.check(w.waitRun(run.ID), l.ID, x)
}

func TestImportByCRMIDExplainsHashedMembers(t *testing.T) {
	w := newWorld(t, 60)
	ctx := context.Background()
	w.dataSource("crm", identity.DeclaredID, identity.KeyCRMID, identity.HashNone, 200002)
	var members []string
	var x want
	for i, p := range w.people {
		switch {
		case p.crmID != "" && i%2 == 0:
			members = append(members, p.crmID)
			x.reconciled++
			x.members = append(x.members, p.id)
		case p.crmID != "":
			members = append(members, identity.SHA256Hex(p.crmID)) // hashed by mistake
			x.hashMismatch++
		}
	}
	members = append(members, "CRM-UNKNOWN")
	x.received = int64(len(members))
	x.added = int64(len(x.members))
	seg := w.segment(200002, library.CrossDevice, members)
	l, run, err := w.svc.CreateList(ctx, models.SystemActor("test"), models.SharedAudienceInput{ListInput: models.ListInput{Label: "CRM"}, SegmentID: seg.SID, DataSource: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	w.check(w.waitRun(run.ID), l.ID, x)
}

func TestImportFaultsKeepTheLastGoodContent(t *testing.T) {
	w := newWorld(t, 40)
	ctx := context.Background()
	var members []string
	var x want
	for _, p := range w.people {
		for _, v := range p.visitors {
			members = append(members, v)
			x.reconciled++
			x.members = append(x.members, p.id)
		}
	}
	x.received = int64(len(members))
	x.added = int64(len(slices.Compact(slices.Sorted(slices.Values(x.members)))))
	seg := w.segment(100001, library.Cookie, members)
	l, run, err := w.svc.CreateList(ctx, models.SystemActor("test"), models.SharedAudienceInput{SegmentID: seg.SID, DataSource: models.DefaultDataSourceName})
	if err != nil {
		t.Fatal(err)
	}
	w.check(w.waitRun(run.ID), l.ID, x)
	good := w.members(l.ID)

	// Inactive audience: the run fails and says why; the list is kept.
	if _, err := w.lib.UpdateSegment(ctx, seg.SID, library.SegmentInput{Name: seg.Name, DataSourceID: seg.DataSourceID, Status: library.Inactive}); err != nil {
		t.Fatal(err)
	}
	r, err := w.svc.Sync(ctx, l.ID, models.TriggerManual, models.SystemActor("test"))
	if err != nil {
		t.Fatal(err)
	}
	failed := w.waitRun(r.ID)
	if failed.Status != models.RunFailed || !strings.Contains(failed.Error, "inactive") {
		t.Fatalf("run on an inactive audience: %s %q", failed.Status, failed.Error)
	}
	if m := w.members(l.ID); !slices.Equal(m, good) {
		t.Errorf("a failed run changed the list: %d members, had %d", len(m), len(good))
	}

	// Garbage in the library's own table: counted as malformed, the rest
	// carried. Then Retry works once the audience is active again.
	db, _ := w.store.SQL()
	q := "INSERT INTO lib_members (segment_id, member) VALUES (?, ?), (?, ?)"
	if w.store.Dialect() == models.Postgres {
		q = "INSERT INTO lib_members (segment_id, member) VALUES ($1, $2), ($3, $4)"
	}
	if _, err := db.Exec(q, seg.SID, "not-an-ecid", seg.SID, strings.Repeat("ab", 32)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.lib.UpdateSegment(ctx, seg.SID, library.SegmentInput{Name: seg.Name, DataSourceID: seg.DataSourceID, Status: library.Active}); err != nil {
		t.Fatal(err)
	}
	retry, err := w.svc.Retry(ctx, failed.ID, models.SystemActor("test"))
	if err != nil {
		t.Fatal(err)
	}
	if retry.RetryOf == nil || *retry.RetryOf != failed.ID {
		t.Errorf("the retry does not name the run it retries")
	}
	w.check(w.waitRun(retry.ID), l.ID, want{received: x.received + 2, reconciled: x.reconciled, malformed: 1, hashMismatch: 1, members: x.members})

	// The audience is deleted: the run fails, the list keeps its members.
	if err := w.lib.DeleteSegment(ctx, seg.SID); err != nil {
		t.Fatal(err)
	}
	gone := w.waitNextRun(l.ID, retry.ID)
	if gone.Status != models.RunFailed || !strings.Contains(gone.Error, "no longer exists") {
		t.Fatalf("run on a deleted audience: %s %q", gone.Status, gone.Error)
	}
	if m := w.members(l.ID); !slices.Equal(m, good) {
		t.Errorf("a failed run changed the list: %d members, had %d", len(m), len(good))
	}
}

func TestOneQueuedRunPerList(t *testing.T) {
	w := newWorld(t, 5)
	ctx := context.Background()
	seg := w.segment(100001, library.Cookie, []string{w.people[1].visitors[0]})
	l, first, err := w.svc.CreateList(ctx, models.SystemActor("test"), models.SharedAudienceInput{SegmentID: seg.SID, DataSource: models.DefaultDataSourceName})
	if err != nil {
		t.Fatal(err)
	}
	w.waitRun(first.ID)
	// Ten requests at once while nothing runs yet: one queued run answers
	// them all.
	ids := make(chan int64, 10)
	for range 10 {
		go func() {
			r, err := w.svc.Sync(ctx, l.ID, models.TriggerManual, models.SystemActor("test"))
			if err != nil {
				t.Error(err)
				ids <- 0
				return
			}
			ids <- r.ID
		}()
	}
	seen := map[int64]bool{}
	for range 10 {
		seen[<-ids] = true
	}
	for id := range seen {
		if id != 0 {
			w.waitRun(id)
		}
	}
	page, err := w.store.ListRuns(ctx, models.RunQuery{ListID: l.ID})
	if err != nil {
		t.Fatal(err)
	}
	// Each request got a queued run; a request that came after one started
	// queued the next: at most a few runs, never ten, and none overlapped.
	if page.Total < 2 || page.Total > 6 {
		t.Errorf("%d runs for one creation and ten requests", page.Total)
	}
	for _, r := range page.Items {
		if r.Status != models.RunSucceeded {
			t.Errorf("run #%d: %s %s", r.ID, r.Status, r.Error)
		}
	}
	assertNoOverlap(t, page.Items)
}

func assertNoOverlap(t *testing.T, runs []*models.Run) {
	t.Helper()
	for i, a := range runs {
		for _, b := range runs[i+1:] {
			if a.StartedAt == nil || b.StartedAt == nil || a.FinishedAt == nil || b.FinishedAt == nil {
				continue
			}
			if a.StartedAt.Before(*b.FinishedAt) && b.StartedAt.Before(*a.FinishedAt) {
				t.Errorf("runs #%d and #%d of one list overlapped", a.ID, b.ID)
			}
		}
	}
}
