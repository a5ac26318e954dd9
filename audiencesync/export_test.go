package audiencesync_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"audiencebridge/identity"
	"audiencebridge/library"
	"audiencebridge/models"
)

// exportWant is what an export of the people matching keep must do,
// computed from the generator.
type exportWant struct {
	targeted, exported, complement []int64
	identifiers                    []string
}

func (w *world) expectExport(keep func(i int, p person) bool, ids func(p person) []string) exportWant {
	var x exportWant
	for i, p := range w.people {
		if !keep(i, p) {
			continue
		}
		x.targeted = append(x.targeted, p.id)
		if got := ids(p); len(got) > 0 {
			x.exported = append(x.exported, p.id)
			x.identifiers = append(x.identifiers, got...)
		} else {
			x.complement = append(x.complement, p.id)
		}
	}
	slices.Sort(x.identifiers)
	x.identifiers = slices.Compact(x.identifiers)
	return x
}

func (w *world) libMembers(sid int64) []string {
	w.t.Helper()
	var out []string
	err := w.lib.Members(context.Background(), sid, func(b []string) error { out = append(out, b...); return nil })
	if err != nil {
		w.t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func (w *world) transition(runID int64, result bool) []int64 {
	w.t.Helper()
	rs, err := w.store.TransitionRecipients(context.Background(), runID, result, 0, 100000)
	if err != nil {
		w.t.Fatal(err)
	}
	ids := make([]int64, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

func (w *world) workflow(conds models.Conditions, exp models.ExportInput) *models.Workflow {
	w.t.Helper()
	ctx := context.Background()
	wf, err := w.store.CreateWorkflow(ctx, models.SystemActor("test"), models.WorkflowInput{Label: "Export test"})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.store.SetQuery(ctx, models.SystemActor("test"), wf.ID, models.QueryInput{Conditions: conds}); err != nil {
		w.t.Fatal(err)
	}
	wf, err = w.store.SetExport(ctx, models.SystemActor("test"), wf.ID, exp)
	if err != nil {
		w.t.Fatal(err)
	}
	return wf
}

func (w *world) runWorkflow(id int64) *models.Run {
	w.t.Helper()
	r, err := w.svc.RunWorkflow(context.Background(), id, models.TriggerManual, models.SystemActor("test"))
	if err != nil {
		w.t.Fatal(err)
	}
	return w.waitRun(r.ID)
}

func (w *world) checkExport(r *models.Run, x exportWant, added int64) {
	w.t.Helper()
	if r.Status != models.RunSucceeded {
		w.t.Fatalf("run #%d: %s %s", r.ID, r.Status, r.Error)
	}
	got := [...]int64{r.Received, r.Exported, r.Complement, r.Added}
	exp := [...]int64{int64(len(x.targeted)), int64(len(x.exported)), int64(len(x.complement)), added}
	if got != exp {
		w.t.Errorf("targeted, exported, complement, added: got %v, want %v", got, exp)
	}
	if res := w.transition(r.ID, true); !slices.Equal(res, x.exported) {
		w.t.Errorf("Result transition: %d recipients, want %d", len(res), len(x.exported))
	}
	if comp := w.transition(r.ID, false); !slices.Equal(comp, x.complement) {
		w.t.Errorf("Complement transition: %d recipients, want %d", len(comp), len(x.complement))
	}
}

func TestExportToANewAudienceThenOnlyNewRecords(t *testing.T) {
	w := newWorld(t, 300)
	w.svc.ExportBatch = 64 // several batches
	ctx := context.Background()
	w.segment(100001, library.Cookie, nil) // the library data source 100001
	builtin, _ := w.store.DataSourceByInternalName(ctx, models.DefaultDataSourceName)
	in := builtin.Input()
	in.AAMDataSourceID = "100001"
	if _, err := w.store.UpdateDataSource(ctx, models.SystemActor("test"), models.DefaultDataSourceName, in); err != nil {
		t.Fatal(err)
	}
	conds := models.Conditions{{Field: "crmId", Op: "isNotEmpty"}, {Field: "email", Op: "endsWith", Value: "@EXAMPLE.com"}}
	wf := w.workflow(conds, models.ExportInput{NewSegmentName: "Known customers", DataSource: models.DefaultDataSourceName, ComplementEnabled: true})
	x := w.expectExport(func(_ int, p person) bool { return p.crmID != "" }, func(p person) []string { return p.visitors })

	// The preview says it before anything is sent.
	res, comp, err := w.svc.ExportPreview(ctx, conds, models.DefaultDataSourceName)
	if err != nil || res != int64(len(x.exported)) || comp != int64(len(x.complement)) {
		t.Fatalf("preview: %d / %d (%v), want %d / %d", res, comp, err, len(x.exported), len(x.complement))
	}

	r1 := w.runWorkflow(wf.ID)
	w.checkExport(r1, x, int64(len(x.identifiers)))
	wf, _ = w.store.WorkflowByID(ctx, wf.ID)
	if wf.SegmentID == nil || wf.SegmentName != "Known customers" || wf.NewSegmentName != "" {
		t.Fatalf("the workflow does not point at its new audience: %+v", wf)
	}
	seg, err := w.lib.Segment(ctx, *wf.SegmentID)
	if err != nil {
		t.Fatal(err)
	}
	if seg.Collecting || seg.Size != int64(len(x.identifiers)) || seg.Source != "Campaign" {
		t.Errorf("new audience: collecting %v, size %d (want %d), source %s", seg.Collecting, seg.Size, len(x.identifiers), seg.Source)
	}
	if m := w.libMembers(seg.SID); !slices.Equal(m, x.identifiers) {
		t.Errorf("audience members: %d, want %d", len(m), len(x.identifiers))
	}

	// Re-running adds no duplicate and removes nothing; a recipient that
	// gains a visitor ID is the only new record.
	if _, err := w.lib.AddMembers(ctx, seg.SID, library.Slice([]string{ecid(777777)})); err != nil { // a member from elsewhere
		t.Fatal(err)
	}
	newcomer := x.complement[0]
	rec, _ := w.store.RecipientByID(ctx, newcomer)
	if _, err := w.store.UpdateRecipient(ctx, newcomer, models.RecipientInput{Email: rec.Email, CRMID: *rec.CRMID, VisitorIDs: []string{ecid(555555)}}); err != nil {
		t.Fatal(err)
	}
	for i := range w.people {
		if w.people[i].id == newcomer {
			w.people[i].visitors = []string{ecid(555555)}
		}
	}
	y := w.expectExport(func(_ int, p person) bool { return p.crmID != "" }, func(p person) []string { return p.visitors })
	r2 := w.runWorkflow(wf.ID)
	w.checkExport(r2, y, 1)
	want := slices.Sorted(slices.Values(append(append([]string{}, y.identifiers...), ecid(777777))))
	if m := w.libMembers(seg.SID); !slices.Equal(m, want) {
		t.Errorf("after a re-run the audience has %d members, want %d", len(m), len(want))
	}

	// Either transition saves as a list.
	l, err := w.store.SaveTransitionAsList(ctx, models.SystemActor("test"), r2.ID, false, models.ListInput{Label: "Unmapped"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Size != int64(len(y.complement)) {
		t.Errorf("the Complement list has %d members, want %d", l.Size, len(y.complement))
	}
}

func TestExportHashedEmailsToAnExistingAudience(t *testing.T) {
	w := newWorld(t, 50)
	w.dataSource("hashedMail", identity.DeclaredID, identity.KeyEmail, identity.HashSHA256, 200001)
	seg := w.segment(200001, library.CrossDevice, []string{identity.SHA256Hex("someone@else.org")})
	// People whose number has a 3 in it.
	conds := models.Conditions{{Field: "email", Op: "contains", Value: "3"}}
	wf := w.workflow(conds, models.ExportInput{SegmentID: seg.SID, SegmentName: seg.Name, DataSource: "hashedMail"})
	x := w.expectExport(func(_ int, p person) bool { return strings.Contains(p.email, "3") },
		func(p person) []string { return []string{identity.SHA256Hex(p.email)} })
	r := w.runWorkflow(wf.ID)
	w.checkExport(r, x, int64(len(x.identifiers)))
	want := slices.Sorted(slices.Values(append(append([]string{}, x.identifiers...), identity.SHA256Hex("someone@else.org"))))
	if m := w.libMembers(seg.SID); !slices.Equal(m, want) {
		t.Errorf("audience: %d members, want %d", len(m), len(want))
	}
}

func TestExportFaults(t *testing.T) {
	w := newWorld(t, 20)
	ctx := context.Background()
	seg := w.segment(100001, library.Cookie, nil)
	list, err := w.store.CreateList(ctx, models.SystemActor("test"), models.ListInput{Label: "Soon gone"})
	if err != nil {
		t.Fatal(err)
	}
	wf := w.workflow(models.Conditions{{Field: "list", Op: "notInList", Value: itoa(list.ID)}},
		models.ExportInput{SegmentID: seg.SID, SegmentName: seg.Name, DataSource: models.DefaultDataSourceName})

	// Bad conditions are refused at save, naming the condition.
	for _, bad := range []models.Conditions{
		{{Field: "shoeSize", Op: "equals", Value: "42"}},
		{{Field: "email", Op: "before", Value: "2026-01-01"}},
		{{Field: "createdAt", Op: "before", Value: "yesterday"}},
		{{Field: "email", Op: "contains"}},
		{{Field: "list", Op: "inList", Value: "999"}},
	} {
		if _, err := w.store.SetQuery(ctx, models.SystemActor("test"), wf.ID, models.QueryInput{Conditions: bad}); err == nil || !strings.Contains(err.Error(), "condition 1") {
			t.Errorf("conditions %v: %v", bad, err)
		}
	}
	// A list deleted after the save fails the run with a clear reason.
	if err := w.store.DeleteList(ctx, models.SystemActor("test"), list.ID); err != nil {
		t.Fatal(err)
	}
	r := w.runWorkflow(wf.ID)
	if r.Status != models.RunFailed || !strings.Contains(r.Error, "does not exist") {
		t.Errorf("run with a deleted list: %s %q", r.Status, r.Error)
	}
	// An audience deleted in the library too, and nothing half exported.
	if _, err := w.store.SetQuery(ctx, models.SystemActor("test"), wf.ID, models.QueryInput{}); err != nil {
		t.Fatal(err)
	}
	if err := w.lib.DeleteSegment(ctx, seg.SID); err != nil {
		t.Fatal(err)
	}
	r = w.runWorkflow(wf.ID)
	if r.Status != models.RunFailed || !strings.Contains(r.Error, "no longer exists") || r.Exported != 0 {
		t.Errorf("run on a deleted audience: %s %q exported %d", r.Status, r.Error, r.Exported)
	}
	// A segment name already taken is refused at the first run.
	other := w.segment(100001, library.Cookie, nil)
	builtin, _ := w.store.DataSourceByInternalName(ctx, models.DefaultDataSourceName)
	in := builtin.Input()
	in.AAMDataSourceID = "100001"
	if _, err := w.store.UpdateDataSource(ctx, models.SystemActor("test"), models.DefaultDataSourceName, in); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.SetExport(ctx, models.SystemActor("test"), wf.ID, models.ExportInput{NewSegmentName: strings.ToUpper(other.Name), DataSource: models.DefaultDataSourceName}); err == nil ||
		!strings.Contains(err.Error(), "already exists") {
		t.Errorf("saving a taken segment name: %v", err)
	}
	// Saved anyway (as by an older version): the first run refuses it.
	if _, err := w.store.SetExport(ctx, models.SystemActor("test"), wf.ID, models.ExportInput{NewSegmentName: other.Name, DataSource: models.DefaultDataSourceName}); err != nil {
		t.Fatal(err)
	}
	r = w.runWorkflow(wf.ID)
	if r.Status != models.RunFailed || !strings.Contains(r.Error, other.Name) {
		t.Errorf("run with a taken segment name: %s %q", r.Status, r.Error)
	}
}

// TestExportResumesAfterACrash: a run whose worker died after some batches
// is taken over and ends with exact counts and no duplicate.
func TestExportResumesAfterACrash(t *testing.T) {
	w := newWorld(t, 200)
	ctx := context.Background()
	seg := w.segment(100001, library.Cookie, nil)
	wf := w.workflow(nil, models.ExportInput{SegmentID: seg.SID, SegmentName: seg.Name, DataSource: models.DefaultDataSourceName, ComplementEnabled: true})
	x := w.expectExport(func(int, person) bool { return true }, func(p person) []string { return p.visitors })

	// A "dead worker": the run is claimed and half its batches committed,
	// then nothing beats its heartbeat any more. The engine is told to wait
	// so that the take-over is the scheduler's.
	run, err := w.store.RequestWorkflowRun(ctx, wf.ID, models.TriggerManual, models.SystemActor("test"), nil,
		func(context.Context, *models.Store, *models.Run, time.Time) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.ClaimRun(ctx, run.ID); err != nil {
		t.Fatal(err)
	}
	maxID, _ := w.store.MaxRecipientID(ctx)
	if err := w.store.StartExport(ctx, run.ID, seg.SID, maxID); err != nil {
		t.Fatal(err)
	}
	plan := models.ExportPlan{RunID: run.ID, Rule: identity.Rule{IDType: identity.VisitorID, Key: identity.KeyVisitorID, Hash: identity.HashNone}}
	half := maxID / 2
	if _, err := w.store.ExportBatch(ctx, plan, seg.SID, 0, half, 0); err != nil {
		t.Fatal(err)
	}
	w.store.Now = func() time.Time { return time.Now().UTC().Add(time.Minute) } // the heartbeat is now stale
	if err := w.svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	r := w.waitRun(run.ID)
	w.checkExport(r, x, int64(len(x.identifiers)))
	if r.Attempts < 2 {
		t.Errorf("attempts %d: the run was not taken over", r.Attempts)
	}
	if m := w.libMembers(seg.SID); !slices.Equal(m, x.identifiers) {
		t.Errorf("audience: %d members, want %d", len(m), len(x.identifiers))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestScheduledWorkflow: a workflow every N hours runs when due, then plans
// its next run.
func TestScheduledWorkflow(t *testing.T) {
	w := newWorld(t, 10)
	ctx := context.Background()
	seg := w.segment(100001, library.Cookie, nil)
	wf := w.workflow(nil, models.ExportInput{SegmentID: seg.SID, SegmentName: seg.Name, DataSource: models.DefaultDataSourceName})
	wf, err := w.store.SetWorkflowSchedule(ctx, models.SystemActor("test"), wf.ID, models.WorkflowSchedule{Kind: "hours", Hours: 2})
	if err != nil {
		t.Fatal(err)
	}
	if wf.NextRunAt == nil || wf.NextRunAt.Sub(time.Now()) < 119*time.Minute {
		t.Fatalf("next run %v, want in two hours", wf.NextRunAt)
	}
	if err := w.svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if page, _ := w.store.ListRuns(ctx, models.RunQuery{WorkflowID: wf.ID}); page.Total != 0 {
		t.Fatalf("%d runs before the schedule is due", page.Total)
	}
	w.store.Now = func() time.Time { return time.Now().UTC().Add(121 * time.Minute) }
	if err := w.svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	var r *models.Run
	deadline := time.Now().Add(20 * time.Second)
	for r == nil && time.Now().Before(deadline) {
		page, _ := w.store.ListRuns(ctx, models.RunQuery{WorkflowID: wf.ID})
		if len(page.Items) > 0 {
			r = w.waitRun(page.Items[0].ID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r == nil || r.Trigger != models.TriggerSchedule || r.Status != models.RunSucceeded {
		t.Fatalf("scheduled run: %+v", r)
	}
	wf, _ = w.store.WorkflowByID(ctx, wf.ID)
	if wf.NextRunAt == nil || wf.NextRunAt.Sub(time.Now()) < 4*time.Hour {
		t.Errorf("next run after the scheduled one: %v", wf.NextRunAt)
	}
}

// TestExportInSlices: an export longer than a slice goes on in the job's
// next slices and ends with exact counts.
func TestExportInSlices(t *testing.T) {
	w := newWorld(t, 120)
	w.svc.ExportBatch = 10
	w.svc.SliceTime = time.Nanosecond // one batch a slice
	seg := w.segment(100001, library.Cookie, nil)
	wf := w.workflow(nil, models.ExportInput{SegmentID: seg.SID, SegmentName: seg.Name, DataSource: models.DefaultDataSourceName})
	x := w.expectExport(func(int, person) bool { return true }, func(p person) []string { return p.visitors })
	r := w.runWorkflow(wf.ID)
	w.checkExport(r, x, int64(len(x.identifiers)))
	if r.Attempts < 10 {
		t.Errorf("%d slices for 12 batches", r.Attempts)
	}
	if m := w.libMembers(seg.SID); !slices.Equal(m, x.identifiers) {
		t.Errorf("audience: %d members, want %d", len(m), len(x.identifiers))
	}
}
