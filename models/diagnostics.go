package models

import (
	"context"
	"fmt"
	"time"
)

// The queries of Administration › Diagnostics: each check of the page is
// one query here, so the page stays fast however many runs there are.

// Href is the console page of a run: the list's run page for an import,
// the workflow for an export.
func (r *Run) Href() string {
	switch {
	case r.ListID != nil:
		return fmt.Sprintf("/lists/%d/runs/%d", *r.ListID, r.ID)
	case r.WorkflowID != nil:
		return fmt.Sprintf("/workflows/%d", *r.WorkflowID)
	}
	return ""
}

// FailedRun is a failed run with the label of what it synchronised.
type FailedRun struct {
	Run
	ListLabel     string
	WorkflowLabel string
}

// Subject names the run's list or workflow.
func (f *FailedRun) Subject() string {
	switch {
	case f.ListID != nil:
		return "List " + f.ListLabel
	case f.WorkflowID != nil:
		return "Workflow " + f.WorkflowLabel
	}
	return fmt.Sprintf("Run #%d", f.ID)
}

// FailedRunsSince counts the runs that failed since a time and returns the
// last of them (at most limit), newest first.
func (s *Store) FailedRunsSince(ctx context.Context, since time.Time, limit int) (int64, []*FailedRun, error) {
	var n int64
	if err := s.q(ctx).Model(&Run{}).Where("status = ? AND finished_at >= ?", RunFailed, since).Count(&n).Error; err != nil {
		return 0, nil, fmt.Errorf("count failed runs: %w", err)
	}
	var out []*FailedRun
	err := s.q(ctx).Raw(`SELECT r.*, COALESCE(l.label, '') AS list_label, COALESCE(w.label, '') AS workflow_label
		FROM sync_runs r
		LEFT JOIN lists l ON l.id = r.list_id
		LEFT JOIN workflows w ON w.id = r.workflow_id
		WHERE r.status = ? AND r.finished_at >= ?
		ORDER BY r.finished_at DESC, r.id DESC LIMIT ?`, RunFailed, since, limit).Scan(&out).Error
	if err != nil {
		return 0, nil, fmt.Errorf("list failed runs: %w", err)
	}
	return n, out, nil
}

// MatchDropPoints is how many points a list's match rate may lose from one
// run to the next before it counts as a sharp drop.
const MatchDropPoints = 20

// MatchRateDropped reports whether the match rate fell sharply from prev to
// last: by more than MatchDropPoints points, or to 0 from anything above.
func MatchRateDropped(prev, last *Run) bool {
	if prev == nil || last == nil {
		return false
	}
	p, l := prev.MatchRate()*100, last.MatchRate()*100
	return p-l > MatchDropPoints || (l == 0 && p > 0)
}

// MatchRateDrop is a list whose last succeeded run matched far fewer
// members than the one before.
type MatchRateDrop struct {
	ListID    int64
	ListLabel string
	OwnerID   *int64
	// Previous and Last hold the id, counts and end of the two runs.
	Previous, Last *Run
}

// Href is the page of the last run.
func (d *MatchRateDrop) Href() string { return d.Last.Href() }

// MatchRateDrops returns the shared-audience lists whose match rate fell
// sharply between their last two succeeded runs, by list.
func (s *Store) MatchRateDrops(ctx context.Context) ([]*MatchRateDrop, error) {
	var rows []struct {
		ListID         int64
		ListLabel      string
		OwnerID        *int64
		LastID         int64
		LastReceived   int64
		LastReconciled int64
		LastFinishedAt *time.Time
		PrevID         int64
		PrevReceived   int64
		PrevReconciled int64
		PrevFinishedAt *time.Time
	}
	// Two indexed look-ups per list (sync_runs_list) rather than a window
	// over every run ever made.
	err := s.q(ctx).Raw(`SELECT l.id AS list_id, l.label AS list_label, l.created_by AS owner_id,
			cur.id AS last_id, cur.received AS last_received, cur.reconciled AS last_reconciled, cur.finished_at AS last_finished_at,
			prev.id AS prev_id, prev.received AS prev_received, prev.reconciled AS prev_reconciled, prev.finished_at AS prev_finished_at
		FROM lists l
		JOIN sync_runs cur ON cur.id = (SELECT r.id FROM sync_runs r WHERE r.list_id = l.id AND r.status = ? ORDER BY r.id DESC LIMIT 1)
		JOIN sync_runs prev ON prev.id = (SELECT r.id FROM sync_runs r WHERE r.list_id = l.id AND r.status = ? ORDER BY r.id DESC LIMIT 1 OFFSET 1)
		WHERE l.type = ?
		ORDER BY l.label, l.id`, RunSucceeded, RunSucceeded, SharedAudienceList).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("compare the match rates of lists: %w", err)
	}
	var out []*MatchRateDrop
	for _, r := range rows {
		listID := r.ListID
		prev := &Run{ID: r.PrevID, Kind: ImportRun, ListID: &listID, Status: RunSucceeded, Received: r.PrevReceived, Reconciled: r.PrevReconciled, FinishedAt: r.PrevFinishedAt}
		last := &Run{ID: r.LastID, Kind: ImportRun, ListID: &listID, Status: RunSucceeded, Received: r.LastReceived, Reconciled: r.LastReconciled, FinishedAt: r.LastFinishedAt}
		if MatchRateDropped(prev, last) {
			out = append(out, &MatchRateDrop{ListID: r.ListID, ListLabel: r.ListLabel, OwnerID: r.OwnerID, Previous: prev, Last: last})
		}
	}
	return out, nil
}

// PreviousSucceededRun returns the succeeded run of a list before a run,
// or ErrNotFound for its first.
func (s *Store) PreviousSucceededRun(ctx context.Context, listID, before int64) (*Run, error) {
	var r Run
	err := s.q(ctx).Where("list_id = ? AND status = ? AND id < ?", listID, RunSucceeded, before).Order("id DESC").First(&r).Error
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("succeeded run of list #%d before run #%d", listID, before))
	}
	return &r, nil
}

// MaxDiagnosedDataSources bounds the data sources the diagnostics page
// matches with the library.
const MaxDiagnosedDataSources = 500

// DataSourcesForDiagnostics returns the AMC data sources by label, for
// matching with the library's.
func (s *Store) DataSourcesForDiagnostics(ctx context.Context) ([]*DataSource, error) {
	var out []*DataSource
	if err := s.q(ctx).Order("label").Order("id").Limit(MaxDiagnosedDataSources).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list data sources: %w", err)
	}
	return out, nil
}
