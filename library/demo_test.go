package library_test

import (
	"context"
	"testing"

	"audiencebridge/library"
	"audiencebridge/models/dbtest"
)

func TestSeedDemoOverlapsTheDemoRecipients(t *testing.T) {
	store := dbtest.New(t)
	ctx := context.Background()
	if err := store.SeedDemoData(ctx); err != nil {
		t.Fatal(err)
	}
	if err := library.SeedDemo(ctx, store); err != nil {
		t.Fatal(err)
	}
	if err := library.SeedDemo(ctx, store); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	lib := library.NewEmbedded(store)
	page, err := lib.Segments(ctx, library.Query{PageSize: 50})
	if err != nil || page.Total != 12 {
		t.Fatalf("segments = %d, %v", page.Total, err)
	}
	db, _ := store.SQL()
	want := map[string][2]int64{ // size, members a recipient has
		"Returning visitors": {7900, 6000}, "Lookalike: premium": {6100, 0}, "Loyalty members": {3000, 2700},
		"Newsletter engaged": {2000, 1600}, "Store card holders": {5, 5},
	}
	matchSQL := map[int64]string{
		library.DemoVisitorsDPID: `SELECT COUNT(DISTINCT m.member) FROM lib_members m JOIN recipient_visitor_ids v ON v.visitor_id = m.member WHERE m.segment_id = $1`,
		library.DemoCRMDPID:      `SELECT COUNT(*) FROM lib_members m JOIN recipients r ON r.crm_id = m.member WHERE m.segment_id = $1`,
	}
	for _, s := range page.List {
		w, ok := want[s.Name]
		if !ok {
			continue
		}
		if s.Size != w[0] {
			t.Errorf("%s: size %d, want %d", s.Name, s.Size, w[0])
		}
		q, ok := matchSQL[s.DataSourceID]
		if !ok {
			continue
		}
		var matched int64
		if err := db.QueryRow(q, s.SID).Scan(&matched); err != nil {
			t.Fatal(err)
		}
		if matched != w[1] {
			t.Errorf("%s: %d members match a recipient, want %d", s.Name, matched, w[1])
		}
	}
	ds, err := store.DataSourceByInternalName(ctx, "defaultDataSource")
	if err != nil || ds.AAMDataSourceID == nil || *ds.AAMDataSourceID != library.DemoVisitorsDPID {
		t.Fatalf("built-in data source not linked: %+v %v", ds, err)
	}
}
