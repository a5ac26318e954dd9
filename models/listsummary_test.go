package models_test

import (
	"context"
	"testing"

	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

// TestListSummaryLoadsWhatTheTableShows: a summary page has each list's
// id, label, internal name, type, size and modification time, and its
// description (not shown in the table) is left out.
func TestListSummaryLoadsWhatTheTableShows(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	made, err := s.CreateList(ctx, models.SystemActor("test"), models.ListInput{Label: "Loyal", Description: "Bought twice"})
	if err != nil {
		t.Fatal(err)
	}
	full, err := s.ListLists(ctx, models.ListQuery{})
	if err != nil || len(full.Items) != 1 {
		t.Fatalf("full page: %+v %v", full, err)
	}
	page, err := s.ListLists(ctx, models.ListQuery{Summary: true})
	if err != nil || len(page.Items) != 1 || page.Total != 1 {
		t.Fatalf("summary page: %+v %v", page, err)
	}
	got, want := page.Items[0], full.Items[0]
	if got.ID != made.ID || got.Label != "Loyal" || got.InternalName != want.InternalName || got.Type != want.Type ||
		got.Size != want.Size || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("summary %+v, want the table's fields of %+v", got, want)
	}
	if got.Description != "" || want.Description != "Bought twice" {
		t.Errorf("description: summary %q, full %q", got.Description, want.Description)
	}
	if runs, err := s.RunSummaries(ctx, nil); err != nil || len(runs) != 0 {
		t.Errorf("no runs: %v %v", runs, err)
	}
}
