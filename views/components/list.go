// Package components holds the building blocks shared by pages: the list
// toolbar, sortable headers, the pager, empty states and form fields.
package components

import (
	"net/url"
	"strconv"

	"audiencebridge/models"
)

// ListURL builds links to one list page that keep its current search, filters
// and sort while changing one of them.
type ListURL struct {
	Path  string
	Query url.Values
}

// With returns the URL with key set to value (and back to the first page
// unless the key is the page itself).
func (u ListURL) With(key, value string) string {
	q := url.Values{}
	for k, v := range u.Query {
		q[k] = append([]string(nil), v...)
	}
	if key != "page" {
		q.Del("page")
	}
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	if len(q) == 0 {
		return u.Path
	}
	return u.Path + "?" + q.Encode()
}

// Get returns the current value of a parameter.
func (u ListURL) Get(key string) string { return u.Query.Get(key) }

// SortHeader is a column header that sorts the list when clicked.
type SortHeader struct {
	Label string
	Key   string
	Class string
}

// SortState is the aria-sort value of a column: ascending, descending or none.
func (u ListURL) SortState(key string) string {
	if u.Get("sort") != key {
		return "none"
	}
	if u.Get("desc") == "1" {
		return "descending"
	}
	return "ascending"
}

// SortHref is the link that sorts by key, flipping the direction when the
// list is already sorted by it.
func (u ListURL) SortHref(key string) string {
	q := ListURL{Path: u.Path, Query: url.Values{}}
	for k, v := range u.Query {
		q.Query[k] = v
	}
	q.Query.Set("sort", key)
	if u.Get("sort") == key && u.Get("desc") != "1" {
		return q.With("desc", "1")
	}
	return q.With("desc", "")
}

// Pager is the paging bar under a table.
type Pager struct {
	From, To, Total int64
	Page, Pages     int
	PrevHref        string
	NextHref        string
	Target          string // the element HTMX refreshes, e.g. "#operator-results"
}

// PagerFor builds the pager of a page of results.
func PagerFor[T any](p models.Page[T], u ListURL, target string) Pager {
	pg := Pager{From: p.From(), To: p.To(), Total: p.Total, Page: p.Page + 1, Pages: p.PageCount(), Target: target}
	if p.HasPrev() {
		pg.PrevHref = u.With("page", strconv.Itoa(p.Page-1))
	}
	if p.HasNext() {
		pg.NextHref = u.With("page", strconv.Itoa(p.Page+1))
	}
	return pg
}

// Option is one choice of a select.
type Option struct {
	Value string
	Label string
}
