package models_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

// walk pages through a table from its first page by Next, then back from
// its last page by Prev, and returns both in table order with the pages'
// infos.
func walk(t *testing.T, page func(models.Keyset) (models.KeysetPage[*models.Recipient], error), limit int) (forward, backward []int64, offsets []int64) {
	t.Helper()
	for k, n := (models.Keyset{Limit: limit}), 0; ; n++ {
		p, err := page(k)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 && p.Prev == "" {
			t.Fatalf("page %d has no Prev", n)
		}
		offsets = append(offsets, p.Offset)
		for _, r := range p.Items {
			forward = append(forward, r.ID)
		}
		if p.Next == "" {
			break
		}
		if n > 100 {
			t.Fatal("the pages do not end")
		}
		k = models.Keyset{After: p.Next, Limit: limit}
	}
	var pages [][]int64
	for k, n := (models.Keyset{Last: true, Limit: limit}), 0; ; n++ {
		p, err := page(k)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, r := range p.Items {
			ids = append(ids, r.ID)
		}
		pages = append(pages, ids)
		if p.Prev == "" {
			break
		}
		if n > 100 {
			t.Fatal("the pages do not end")
		}
		k = models.Keyset{Before: p.Prev, Limit: limit}
	}
	slices.Reverse(pages)
	backward = slices.Concat(pages...)
	return forward, backward, offsets
}

func TestBrowseRecipientsPagesByCursorInEverySort(t *testing.T) {
	s := dbtest.New(t)
	clock := withClock(s)
	seeds := seedRecipients(t, s, clock, 23)
	// Recipients without a CRM ID sort first ascending, last descending.
	for i := range 3 {
		r := mustCreateRecipient(t, s, models.RecipientInput{Email: fmt.Sprintf("z%d@example.com", i), FirstName: fmt.Sprintf("first9%d", i),
			LastName: fmt.Sprintf("last9%d", i)})
		seeds = append(seeds, seedRecipient{id: r.ID, email: r.Email, first: r.FirstName, last: r.LastName, modified: r.UpdatedAt})
		clock.Advance(time.Minute)
	}
	keys := map[string]func(seedRecipient) string{
		"email": func(r seedRecipient) string { return r.email }, "firstName": func(r seedRecipient) string { return r.first },
		"lastName": func(r seedRecipient) string { return r.last }, "crmId": func(r seedRecipient) string { return r.crm },
		"modified": func(r seedRecipient) string { return r.modified.Format(time.RFC3339) },
	}
	for key, value := range keys {
		for _, desc := range []bool{false, true} {
			want := slices.Clone(seeds)
			sort.SliceStable(want, func(i, j int) bool {
				a, b := value(want[i]), value(want[j])
				if a == b {
					return want[i].id < want[j].id != desc
				}
				return a < b != desc
			})
			var wantIDs []int64
			for _, r := range want {
				wantIDs = append(wantIDs, r.id)
			}
			forward, backward, offsets := walk(t, func(k models.Keyset) (models.KeysetPage[*models.Recipient], error) {
				return s.BrowseRecipients(context.Background(), models.RecipientQuery{Sort: key, Descending: desc}, k)
			}, 4)
			if !slices.Equal(forward, wantIDs) || !slices.Equal(backward, wantIDs) {
				t.Errorf("sort %s desc=%v:\n    next %v\n    prev %v\nwant %v", key, desc, forward, backward, wantIDs)
			}
			if !slices.Equal(offsets, []int64{0, 4, 8, 12, 16, 20, 24}) {
				t.Errorf("sort %s desc=%v: offsets %v", key, desc, offsets)
			}
		}
	}

	// The last page of an exact count holds what is left after full pages.
	last, err := s.BrowseRecipients(context.Background(), models.RecipientQuery{}, models.Keyset{Last: true, Limit: 4})
	if err != nil || len(last.Items) != 2 || last.Offset != 24 || last.Total != 26 || last.Estimated || last.Next != "" || last.Prev == "" {
		t.Fatalf("last page = %d items at %d of %d (estimated %v), %v", len(last.Items), last.Offset, last.Total, last.Estimated, err)
	}
	// A search counts its matches while the table is small.
	found, err := s.BrowseRecipients(context.Background(), models.RecipientQuery{Search: "first9"}, models.Keyset{Limit: 2})
	if err != nil || found.Total != 3 || !found.TotalKnown || len(found.Items) != 2 || found.Next == "" {
		t.Fatalf("search = %d of %d (known %v), %v", len(found.Items), found.Total, found.TotalKnown, err)
	}
	if _, err := s.BrowseRecipients(context.Background(), models.RecipientQuery{}, models.Keyset{After: "not a cursor"}); !errors.As(err, new(*models.ValidationError)) {
		t.Fatalf("a damaged cursor = %v", err)
	}
}

func TestBrowseRecipientsEstimatesALargeTable(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	db, err := s.SQL()
	if err != nil {
		t.Fatal(err)
	}
	n := models.ExactCountLimit + 1000
	q := fmt.Sprintf(`INSERT INTO recipients (email, created_at, updated_at) SELECT 'p' || i || '@example.com', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP
		FROM (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d) SELECT i FROM c) AS s`, n)
	if s.Dialect() == models.Postgres {
		q = fmt.Sprintf(`INSERT INTO recipients (email, created_at, updated_at) SELECT 'p' || i || '@example.com', now(), now() FROM generate_series(1, %d) AS s(i)`, n)
	}
	if _, err := db.ExecContext(ctx, q); err != nil {
		t.Fatal(err)
	}
	if s.Dialect() == models.Postgres {
		if _, err := db.ExecContext(ctx, "ANALYZE recipients"); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.BrowseRecipients(ctx, models.RecipientQuery{}, models.Keyset{})
	if err != nil || !p.Estimated || p.Total < int64(n)*9/10 || p.Total > int64(n)*11/10 || len(p.Items) != models.DefaultPageSize {
		t.Fatalf("first page: %d items, total %d (estimated %v), %v", len(p.Items), p.Total, p.Estimated, err)
	}
	// The last page is reached without counting; its position is unknown.
	last, err := s.BrowseRecipients(ctx, models.RecipientQuery{}, models.Keyset{Last: true})
	if err != nil || last.Offset != -1 || len(last.Items) != models.DefaultPageSize || last.Items[len(last.Items)-1].Email != "p9@example.com" {
		t.Fatalf("last page at %d, %d items, %v", last.Offset, len(last.Items), err)
	}
	// A search of a large table is not counted unless it fits in a page.
	many, err := s.BrowseRecipients(ctx, models.RecipientQuery{Search: "p1"}, models.Keyset{})
	if err != nil || many.TotalKnown || many.Next == "" {
		t.Fatalf("search p1: total %d known %v, %v", many.Total, many.TotalKnown, err)
	}
	few, err := s.BrowseRecipients(ctx, models.RecipientQuery{Search: "p2000@"}, models.Keyset{})
	if err != nil || !few.TotalKnown || few.Total != 1 || len(few.Items) != 1 {
		t.Fatalf("search p2000@: %d items, total %d known %v, %v", len(few.Items), few.Total, few.TotalKnown, err)
	}
}

func TestBrowseListMembersLargeAndSmallLists(t *testing.T) {
	s := dbtest.New(t)
	ctx := context.Background()
	var ids []int64
	for i := range 60 {
		r := mustCreateRecipient(t, s, models.RecipientInput{Email: fmt.Sprintf("m%02d@example.com", (i*7)%60)})
		ids = append(ids, r.ID)
	}
	// 50 of 60 recipients: read along the e-mail index; 6: from the members.
	for _, size := range []int{50, 6} {
		l := mustCreateList(t, s, models.ListInput{Label: fmt.Sprintf("Members %d", size)})
		if _, err := s.AddListMembers(ctx, tester, l.ID, ids[:size]); err != nil {
			t.Fatal(err)
		}
		l, err := s.ListByID(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		var want []int64
		for _, e := range slices.Sorted(func(yield func(string) bool) {
			for i := range size {
				if !yield(fmt.Sprintf("m%02d@example.com", (i*7)%60)) {
					return
				}
			}
		}) {
			var i int
			for i = range 60 {
				if fmt.Sprintf("m%02d@example.com", (i*7)%60) == e {
					break
				}
			}
			want = append(want, ids[i])
		}
		forward, backward, _ := walk(t, func(k models.Keyset) (models.KeysetPage[*models.Recipient], error) {
			return s.BrowseListMembers(ctx, l, "", k)
		}, 4)
		if !slices.Equal(forward, want) || !slices.Equal(backward, want) {
			t.Errorf("list of %d:\n    next %v\n    prev %v\nwant %v", size, forward, backward, want)
		}
		p, err := s.BrowseListMembers(ctx, l, "m0", models.Keyset{})
		if err != nil || !p.TotalKnown {
			t.Fatalf("search: %v", err)
		}
		for _, r := range p.Items {
			if !slices.Contains(ids[:size], r.ID) || r.Email[:2] != "m0" {
				t.Errorf("list of %d: search m0 found %s", size, r.Email)
			}
		}
	}
}
