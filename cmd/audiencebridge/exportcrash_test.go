package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

// The data of the export kill test: recipients 1..exportRecipients, of
// whom 1..exportTargeted have an address at example.com (the workflow's
// target) and the rest one at other.org; as in the import kill test,
// recipient i has the visitor ID 1<i on 37 digits> unless i is a multiple
// of 5.
const (
	exportRecipients = 220_000
	exportTargeted   = 200_000
	exportDPID       = 100001
)

// TestKill9MidExportResumesAndCountsOnce kills the server with SIGKILL while
// a workflow exports 200,000 targeted recipients into a new audience, after
// at least one batch committed, restarts it, and checks that the same run is
// taken over and completes: the audience holds exactly the exported visitor
// IDs and the run's counts are exact, the batches done before the kill not
// counted twice.
func TestKill9MidExportResumesAndCountsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and exports 200,000 recipients")
	}
	ctx := context.Background()
	bin := faultBuild(t)
	dsn := dbtest.DSN(t)
	crashCLI(t, bin, "migrate", "--database", dsn)
	store, q := faultOpen(ctx, t, dsn)

	setupStart := time.Now()
	exportSeed(ctx, t, store, q)
	t.Logf("%s: seeded %d recipients (%d targeted) in %v", store.Dialect(), exportRecipients, exportTargeted, time.Since(setupStart).Round(time.Millisecond))
	want := crashExpected(1, exportTargeted)
	wantExported, wantComplement := int64(len(want)), int64(exportTargeted-len(want))

	token := faultToken(t, bin, dsn)
	api := crashAPI{t: t, token: token}
	srv := startCrashServer(t, bin, dsn, "first")

	var wf struct {
		ID int64 `json:"id"`
	}
	api.do(srv, http.MethodPost, "/api/v1/workflows", `{"label":"Export kill test","query":{"conditions":[{"field":"email","op":"endsWith","value":"@example.com"}]},`+
		`"updateSharedAudience":{"newSegmentName":"Export kill audience"},"dataSource":"defaultDataSource","complementEnabled":true}`, http.StatusCreated, &wf)
	var queued struct {
		RunID int64 `json:"runId"`
	}
	api.do(srv, http.MethodPost, fmt.Sprintf("/api/v1/workflows/%d/run", wf.ID), "", http.StatusAccepted, &queued)
	runID := queued.RunID

	// Kill it as soon as a batch is committed and the run goes on.
	requested := time.Now()
	var seen struct {
		Status models.RunStatus `json:"status"`
		Error  *string          `json:"error"`
		Counts struct {
			Exported int64 `json:"exported"`
		} `json:"counts"`
	}
	for deadline := time.Now().Add(crashWithin(t, 60*time.Second)); ; {
		api.do(srv, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d", runID), "", http.StatusOK, &seen)
		if seen.Status == models.RunSucceeded || seen.Status == models.RunFailed {
			t.Fatalf("run #%d ended %s (%v) before it could be killed (it must be killed mid-run: make the data bigger)\n%s",
				runID, seen.Status, seen.Error, srv.logs())
		}
		if seen.Status == models.RunRunning && seen.Counts.Exported > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run #%d committed no batch in time: %+v\n%s", runID, seen, srv.logs())
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.kill()
	killedAt := time.Now()

	// What the dead server committed: whole batches, each with its counts,
	// its members and its resume point together.
	r := exportRunRow(ctx, q, runID)
	t.Logf("killed the server %v after the request, when the API showed exported=%d; the run then: %s, resume after %d, exported %d, complement %d, attempts %d, %d members in audience %d",
		killedAt.Sub(requested).Round(time.Millisecond), seen.Counts.Exported, r.Status, r.ResumeAfter, r.Exported, r.Complement, r.Attempts,
		q.count(ctx, "SELECT COUNT(*) FROM lib_members WHERE segment_id = ?", r.sid), r.sid)
	if r.Status != models.RunRunning {
		t.Fatalf("right after the kill run #%d is %s, want running: the kill did not land mid-run\n%s", runID, r.Status, srv.logs())
	}
	if r.ResumeAfter <= 0 || r.ResumeAfter >= exportRecipients || r.ResumeAfter%models.ExportBatchSize != 0 {
		t.Errorf("right after the kill the run resumes after %d: want a whole number of batches of %d, not all of them", r.ResumeAfter, models.ExportBatchSize)
	}
	doneSoFar := int64(len(crashExpected(1, min(r.ResumeAfter, exportTargeted))))
	if r.Exported != doneSoFar || r.Added != doneSoFar || r.Received != min(r.ResumeAfter, exportTargeted) {
		t.Errorf("right after the kill the run counts exported %d, added %d, targeted %d; its %d committed batches hold %d exported of %d targeted",
			r.Exported, r.Added, r.Received, r.ResumeAfter/models.ExportBatchSize, doneSoFar, min(r.ResumeAfter, exportTargeted))
	}
	if n := q.count(ctx, "SELECT COUNT(*) FROM lib_members WHERE segment_id = ?", r.sid); n != doneSoFar {
		t.Errorf("right after the kill the audience has %d members, want the %d of the committed batches", n, doneSoFar)
	}

	srv2 := startCrashServer(t, bin, dsn, "second")
	restartedAt := time.Now()
	final := api.waitRun(srv2, runID, crashWithin(t, 90*time.Second), nil)
	succeededAt := time.Now()
	if final.Status != models.RunSucceeded {
		t.Fatalf("after the restart run #%d ended %s (error %v), want succeeded\n%s", runID, final.Status, final.Error, srv2.logs())
	}
	t.Logf("%s: kill -> restart %v, restart -> succeeded %v, kill -> succeeded %v (RunStaleAfter %v, scheduler every 10s)",
		store.Dialect(), restartedAt.Sub(killedAt).Round(time.Millisecond), succeededAt.Sub(restartedAt).Round(time.Millisecond),
		succeededAt.Sub(killedAt).Round(time.Millisecond), models.RunStaleAfter)

	r = exportRunRow(ctx, q, runID)
	got := [...]int64{r.Received, r.Exported, r.Complement, r.Added, r.ListSize}
	exp := [...]int64{exportTargeted, wantExported, wantComplement, wantExported, wantExported}
	if got != exp {
		t.Errorf("run #%d counts targeted, exported, complement, added, audience size = %v, want %v", runID, got, exp)
	}
	if r.Attempts < 2 {
		t.Errorf("run #%d has %d attempts, want at least 2 (the killed one and the take-over)", runID, r.Attempts)
	}
	var sid int64
	if err := q.db.QueryRowContext(ctx, q.rebind("SELECT COALESCE(segment_id, 0) FROM workflows WHERE id = ?"), wf.ID).Scan(&sid); err != nil {
		t.Fatal(err)
	}
	if sid != r.sid {
		t.Errorf("the workflow points at audience %d, its run exported into %d", sid, r.sid)
	}
	if n := q.count(ctx, "SELECT COUNT(*) FROM lib_segments WHERE integration_code LIKE ?", "AB_%"); n != 1 {
		t.Errorf("the library has %d audiences made by workflows, want 1 (the take-over must find the one it made)", n)
	}
	exportCheckMembers(ctx, t, q, sid, want)
	if size := q.count(ctx, "SELECT size FROM lib_segments WHERE sid = ?", sid); size != wantExported {
		t.Errorf("the audience's size is %d, want %d", size, wantExported)
	}
	// The transitions hold each targeted recipient once: Result exactly
	// the exported ones, Complement the others.
	inResult, err := store.TransitionIDs(ctx, runID, true, 0, exportTargeted+1)
	if err != nil {
		t.Fatal(err)
	}
	outResult, err := store.TransitionIDs(ctx, runID, false, 0, exportTargeted+1)
	if err != nil {
		t.Fatal(err)
	}
	var wantOut []int64
	for i, j := int64(1), 0; i <= exportTargeted; i++ {
		if j < len(want) && want[j] == i {
			j++
			continue
		}
		wantOut = append(wantOut, i)
	}
	if !slices.Equal(inResult, want) || !slices.Equal(outResult, wantOut) {
		t.Errorf("the run's transitions hold %d in Result and %d in Complement, want %d and %d (or other recipients)", len(inResult), len(outResult), len(want), len(wantOut))
	}
	t.Logf("run #%d: %d attempts, targeted %d, exported %d, complement %d, added %d; audience %d has %d members",
		runID, r.Attempts, r.Received, r.Exported, r.Complement, r.Added, sid, wantExported)
	t.Logf("the second server's log of the export:\n%s", faultLogLines(srv2, "export", "taking it over"))
	srv2.stop()
}

// faultLogLines is the lines of a server's output that contain one of the
// words.
func faultLogLines(s *crashServer, words ...string) string {
	var out []string
	for _, line := range strings.Split(s.out.String(), "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// exportSeed fills the database with the recipients and the library data
// source a new audience of the default AMC data source goes into.
func exportSeed(ctx context.Context, t *testing.T, store *models.Store, q crashSQL) {
	t.Helper()
	now := time.Now().UTC()
	q.exec(ctx, "INSERT INTO recipients (id, email, created_at, updated_at) "+
		q.series(1, exportRecipients, fmt.Sprintf("i, 'r' || i || CASE WHEN i <= %d THEN '@example.com' ELSE '@other.org' END, %s, %s",
			exportTargeted, q.timeParam(), q.timeParam()), ""), now, now)
	if q.dialect == models.Postgres {
		q.exec(ctx, fmt.Sprintf("SELECT setval(pg_get_serial_sequence('recipients', 'id'), %d)", exportRecipients))
	}
	q.exec(ctx, "INSERT INTO recipient_visitor_ids (recipient_id, visitor_id, first_seen_at) "+
		q.series(1, exportRecipients, "i, "+q.padded("1", "i")+", "+q.timeParam(), "i % 5 <> 0"), now)

	lib := library.NewEmbedded(store)
	if _, err := lib.CreateDataSource(ctx, library.DataSource{ID: exportDPID, Name: "Export kill test visitors", IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}
	ds, err := store.DataSourceByInternalName(ctx, models.DefaultDataSourceName)
	if err != nil {
		t.Fatal(err)
	}
	in := ds.Input()
	in.AAMDataSourceID = fmt.Sprint(exportDPID)
	if _, err := store.UpdateDataSource(ctx, models.SystemActor("test"), models.DefaultDataSourceName, in); err != nil {
		t.Fatal(err)
	}
}

// exportRun is the part of an export run's row the test checks.
type exportRun struct {
	models.Run
	sid int64
}

func exportRunRow(ctx context.Context, q crashSQL, id int64) exportRun {
	q.t.Helper()
	var r exportRun
	err := q.db.QueryRowContext(ctx, q.rebind("SELECT status, attempts, resume_after, received, exported, complement, added, list_size, COALESCE(segment_id, 0) FROM sync_runs WHERE id = ?"), id).
		Scan(&r.Status, &r.Attempts, &r.ResumeAfter, &r.Received, &r.Exported, &r.Complement, &r.Added, &r.ListSize, &r.sid)
	if err != nil {
		q.t.Fatal(err)
	}
	return r
}

// exportCheckMembers checks that an audience's members are exactly the
// visitor IDs of the recipients want.
func exportCheckMembers(ctx context.Context, t *testing.T, q crashSQL, sid int64, want []int64) {
	t.Helper()
	rows, err := q.db.QueryContext(ctx, q.rebind("SELECT member FROM lib_members WHERE segment_id = ? ORDER BY member"), sid)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	wantSet := make(map[string]bool, len(want))
	for _, id := range want {
		wantSet[fmt.Sprintf("1%037d", id)] = true
	}
	var n int
	var extra []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			t.Fatal(err)
		}
		n++
		if !wantSet[m] {
			extra = append(extra, m)
		}
		delete(wantSet, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(extra) > 0 || len(wantSet) > 0 {
		t.Errorf("audience %d has %d members, want %d: %d unexpected (first %v), %d missing", sid, n, len(want), len(extra), extra[:min(len(extra), 3)], len(wantSet))
	}
}

// faultBuild builds the binary into the test's temporary folder.
func faultBuild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "audiencebridge")
	if out, err := exec.Command("go", "build", "-o", bin, "audiencebridge/cmd/audiencebridge").CombinedOutput(); err != nil {
		t.Fatalf("build the binary: %v\n%s", err, out)
	}
	return bin
}

// faultOpen opens the test's own connection to the database.
func faultOpen(ctx context.Context, t *testing.T, dsn string) (*models.Store, crashSQL) {
	t.Helper()
	store, err := models.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	db, err := store.SQL()
	if err != nil {
		t.Fatal(err)
	}
	return store, crashSQL{t: t, db: db, dialect: store.Dialect()}
}

// faultToken creates an administrator with both entitlements and returns
// an API token of theirs.
func faultToken(t *testing.T, bin, dsn string) string {
	t.Helper()
	crashCLI(t, bin, "user", "create", "--database", dsn, "--login", "faults", "--password", "long enough password",
		"--role", "admin", "--entitlement", "audience-library", "--entitlement", "aam-admin")
	lines := strings.Split(strings.TrimSpace(crashCLI(t, bin, "token", "create", "--database", dsn, "--login", "faults", "--name", "fault tests")), "\n")
	return lines[len(lines)-1]
}
