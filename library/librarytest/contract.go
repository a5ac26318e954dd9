// Package librarytest is the contract every library.Library implementation
// passes: the embedded library and the remote client run the same suite.
package librarytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"audiencebridge/library"
	"audiencebridge/models"
)

// ECID returns the i-th test visitor ID.
func ECID(i int) string { return fmt.Sprintf("%038d", 1000+i) }

// Run runs the contract against the library that open returns (a new, empty
// one for each call).
func Run(t *testing.T, open func(t *testing.T) library.Library) {
	ctx := context.Background()
	setup := func(t *testing.T) (library.Library, library.DataSource, library.DataSource) {
		lib := open(t)
		cookies, err := lib.CreateDataSource(ctx, library.DataSource{Name: "Web visitors", IDType: library.Cookie})
		if err != nil {
			t.Fatalf("create cookie data source: %v", err)
		}
		crm, err := lib.CreateDataSource(ctx, library.DataSource{ID: 777, Name: "CRM", IDType: library.CrossDevice, IntegrationCode: "AdobeCampaignID"})
		if err != nil {
			t.Fatalf("create declared data source: %v", err)
		}
		return lib, cookies, crm
	}

	t.Run("data sources", func(t *testing.T) {
		lib, cookies, crm := setup(t)
		if cookies.ID <= 0 || crm.ID != 777 || crm.IDType != library.CrossDevice || crm.Status != library.Active {
			t.Fatalf("created %+v and %+v", cookies, crm)
		}
		all, err := lib.DataSources(ctx)
		if err != nil || len(all) != 2 {
			t.Fatalf("list = %+v, %v", all, err)
		}
		got, err := lib.DataSource(ctx, 777)
		if err != nil || got.IntegrationCode != "AdobeCampaignID" {
			t.Fatalf("get = %+v, %v", got, err)
		}
		if _, err := lib.DataSource(ctx, 424242); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown data source: %v", err)
		}
		if _, err := lib.CreateDataSource(ctx, library.DataSource{ID: 777, Name: "again", IDType: library.Cookie}); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("duplicate id: %v", err)
		}
		var v *models.ValidationError
		if _, err := lib.CreateDataSource(ctx, library.DataSource{Name: "x", IDType: "EMAIL"}); !errors.As(err, &v) || v.Field != "idType" {
			t.Fatalf("bad id type: %v", err)
		}
	})

	t.Run("segments", func(t *testing.T) {
		lib, cookies, crm := setup(t)
		a, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "Cart abandoners", Description: "Left a cart", IntegrationCode: "cart-1",
			DataSourceID: cookies.ID, Source: "Analytics", Author: "ana"})
		if err != nil {
			t.Fatal(err)
		}
		if a.SID <= 0 || a.Status != library.Active || a.Size != 0 || a.Source != "Analytics" || a.CreateTime.IsZero() {
			t.Fatalf("created %+v", a)
		}
		if _, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "Dup", IntegrationCode: "cart-1", DataSourceID: cookies.ID}); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("duplicate integration code: %v", err)
		}
		var v *models.ValidationError
		if _, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "", DataSourceID: 999}); !errors.As(err, &v) {
			t.Fatalf("invalid segment: %v", err)
		}
		names := []string{"Loyal buyers", "Newsletter", "Window shoppers"}
		for _, n := range names {
			if _, err := lib.CreateSegment(ctx, library.SegmentInput{Name: n, DataSourceID: crm.ID}); err != nil {
				t.Fatal(err)
			}
		}
		byCode, err := lib.SegmentByIntegrationCode(ctx, "cart-1")
		if err != nil || byCode.SID != a.SID {
			t.Fatalf("by code = %+v, %v", byCode, err)
		}
		if _, err := lib.SegmentByIntegrationCode(ctx, "nope"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown code: %v", err)
		}
		if _, err := lib.Segment(ctx, 987654); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown sid: %v", err)
		}
		page, err := lib.Segments(ctx, library.Query{SortBy: "name", PageSize: 2})
		if err != nil || page.Total != 4 || len(page.List) != 2 || page.List[0].Name != "Cart abandoners" || page.List[1].Name != "Loyal buyers" {
			t.Fatalf("page 0 = %+v, %v", page, err)
		}
		page, err = lib.Segments(ctx, library.Query{SortBy: "name", PageSize: 2, Page: 1})
		if err != nil || len(page.List) != 2 || page.List[1].Name != "Window shoppers" {
			t.Fatalf("page 1 = %+v, %v", page, err)
		}
		page, err = lib.Segments(ctx, library.Query{Search: "SHOP"})
		if err != nil || page.Total != 1 || page.List[0].Name != "Window shoppers" {
			t.Fatalf("search = %+v, %v", page, err)
		}
		page, err = lib.Segments(ctx, library.Query{})
		if err != nil || page.List[0].Name != "Window shoppers" {
			t.Fatalf("default order is newest first: %+v, %v", page.List, err)
		}
		upd, err := lib.UpdateSegment(ctx, a.SID, library.SegmentInput{Name: "Cart abandoners (30 days)", IntegrationCode: "cart-1",
			DataSourceID: cookies.ID, Status: library.Inactive, Source: "Analytics"})
		if err != nil || upd.Name != "Cart abandoners (30 days)" || upd.Active() {
			t.Fatalf("update = %+v, %v", upd, err)
		}
		if err := lib.DeleteSegment(ctx, a.SID); err != nil {
			t.Fatal(err)
		}
		if _, err := lib.Segment(ctx, a.SID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("deleted segment: %v", err)
		}
	})

	t.Run("members", func(t *testing.T) {
		lib, cookies, crm := setup(t)
		seg, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "Visitors", DataSourceID: cookies.ID})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := 0; i < 25000; i++ {
			ids = append(ids, ECID(i))
		}
		res, err := lib.ReplaceMembers(ctx, seg.SID, library.Slice(append(slices.Clone(ids[:20000]), "123", "not-an-ecid")))
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted != 20000 || res.Rejected != 2 || res.Size != 20000 || len(res.Errors) != 2 || res.Errors[0].Line != 20001 {
			t.Fatalf("replace = %+v", summary(res))
		}
		res, err = lib.AddMembers(ctx, seg.SID, library.Slice(ids[15000:]))
		if err != nil || res.Accepted != 10000 || res.Size != 25000 {
			t.Fatalf("add = %+v, %v", summary(res), err)
		}
		res, err = lib.RemoveMembers(ctx, seg.SID, library.Slice(ids[:5000]))
		if err != nil || res.Size != 20000 {
			t.Fatalf("remove = %+v, %v", summary(res), err)
		}
		got := members(t, lib, seg.SID)
		if !slices.Equal(got, ids[5000:]) {
			t.Fatalf("members: %d, first %v", len(got), got[:min(3, len(got))])
		}
		s, err := lib.Segment(ctx, seg.SID)
		if err != nil || s.Size != 20000 {
			t.Fatalf("size = %d, %v", s.Size, err)
		}
		res, err = lib.ReplaceMembers(ctx, seg.SID, library.Slice(ids[:3]))
		if err != nil || res.Size != 3 || !slices.Equal(members(t, lib, seg.SID), ids[:3]) {
			t.Fatalf("second replace = %+v, %v", summary(res), err)
		}
		declared, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "Customers", DataSourceID: crm.ID})
		if err != nil {
			t.Fatal(err)
		}
		res, err = lib.ReplaceMembers(ctx, declared.SID, library.Lines(strings.NewReader("C-1\nC:2\n\nC-3\n")))
		if err != nil || res.Accepted != 2 || res.Rejected != 1 || res.Errors[0].Line != 2 || !strings.Contains(res.Errors[0].Reason, ":") {
			t.Fatalf("declared = %+v, %v", summary(res), err)
		}
		if _, err := lib.AddMembers(ctx, 987654, library.Slice(ids[:1])); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown segment: %v", err)
		}
		if err := lib.Members(ctx, 987654, func([]string) error { return nil }); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("members of unknown segment: %v", err)
		}
	})
}

func summary(r library.MemberResult) string {
	return fmt.Sprintf("accepted %d rejected %d size %d errors %v", r.Accepted, r.Rejected, r.Size, r.Errors[:min(3, len(r.Errors))])
}

func members(t *testing.T, lib library.Library, sid int64) []string {
	t.Helper()
	var out []string
	err := lib.Members(context.Background(), sid, func(batch []string) error {
		if len(batch) > library.MemberBatchSize {
			t.Fatalf("batch of %d members", len(batch))
		}
		out = append(out, batch...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
